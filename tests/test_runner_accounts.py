"""Many accounts, one run (`extract_accounts`, `rumaro extract A B C`): the workers load their
models once for all the accounts (counted, not timed), and each account gets its own tables."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from runner_extractors import AboveMean, MeanColour, count_lines, setups_per_process

from rumaro_lab.cli import main
from rumaro_lab.extractors.runner import extract_account, extract_accounts
from rumaro_lab.posts.schema import write_posts

ACCOUNTS = ("alpha", "beta", "gamma")


def make_accounts(settings, shared_data, n_posts=4):
    """Three accounts of `n_posts` distinct CC0 portraits each (real JPEGs)."""
    sources = iter(sorted((shared_data / "interfaces_cc0").glob("*.jpg")))
    for account in ACCOUNTS:
        raw = settings.raw_dir(account)
        raw.mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(n_posts):
            target = raw / f"{i:03d}.jpg"
            shutil.copyfile(next(sources), target)
            rows.append({"account": account, "post_id": f"{account}-{i}", "likes": i,
                         "comments": 0, "media_type": "image",
                         "media": [target.relative_to(settings.data_dir).as_posix()]})
        write_posts(pd.DataFrame(rows), settings.posts_path(account))


def test_models_load_once_per_worker_for_all_accounts(settings, shared_data, tmp_path):
    make_accounts(settings, shared_data)
    calls = tmp_path / "calls"
    calls.mkdir()
    extractors = [MeanColour(calls_dir=str(calls)), AboveMean(calls_dir=str(calls))]
    summaries = extract_accounts(ACCOUNTS, settings, extractors=extractors, workers=2)

    # one pool for the three accounts: every worker process set each extractor up exactly once
    per_process = setups_per_process(calls, "mean_colour")
    assert 1 <= len(per_process) <= 2 and all(n == 1 for n in per_process)
    assert count_lines(calls, "mean_colour") == 12  # every image computed once
    # ... whereas one run per account starts a pool (and loads the models) every time
    shutil.rmtree(calls)
    calls.mkdir()
    settings2 = settings.model_copy(update={"cache_dir": tmp_path / "cache2"})
    for account in ACCOUNTS:
        extract_account(account, settings2, extractors=extractors, workers=2)
    assert sum(setups_per_process(calls, "mean_colour")) >= len(ACCOUNTS)

    assert [s.account for s in summaries] == list(ACCOUNTS)
    for summary in summaries:
        table = pd.read_parquet(summary.path)
        assert list(table["account"].unique()) == [summary.account]
        assert list(table["post_id"]) == [f"{summary.account}-{i}" for i in range(4)]
        assert (table["status"] == "ok").all() and summary.n_images == 4
        assert summary.run_accounts == 3 and "one run of 3 accounts" in str(summary)
        assert summary.worker_cpu_seconds > 0  # the workers report their CPU time
        assert settings.artifacts_path(summary.account).is_file()


def test_one_run_gives_the_same_tables_as_separate_runs(settings, shared_data, tmp_path):
    make_accounts(settings, shared_data, n_posts=2)
    together = extract_accounts(ACCOUNTS, settings, extractors=[MeanColour], workers=1)
    first = {s.account: pd.read_parquet(s.path) for s in together}
    separate = settings.model_copy(update={"cache_dir": tmp_path / "other"})
    for account in ACCOUNTS:
        alone = pd.read_parquet(extract_account(account, separate, extractors=[MeanColour],
                                                workers=1).path)
        pd.testing.assert_frame_equal(alone, first[account])


def test_dask_run_of_several_accounts_sets_up_once(settings, shared_data, tmp_path):
    distributed = pytest.importorskip("distributed")  # installed by `make install`
    make_accounts(settings, shared_data, n_posts=2)
    calls = tmp_path / "calls"
    calls.mkdir()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        summaries = extract_accounts(ACCOUNTS, settings, extractors=[MeanColour(calls_dir=str(calls))],
                                     scheduler=cluster.scheduler_address)
    assert setups_per_process(calls, "mean_colour") == [1]
    assert sum(s.n_ok for s in summaries) == 6


def test_rumaro_extract_takes_several_accounts(settings, shared_data, monkeypatch, capsys):
    make_accounts(settings, shared_data, n_posts=1)
    monkeypatch.setattr("rumaro_lab.extractors.DEFAULT_EXTRACTORS", ("image",))
    code = main(["--data-dir", str(settings.data_dir), "--cache-dir", str(settings.cache_dir),
                 "extract", *ACCOUNTS, "--extractors", "image", "--workers", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert all(f"{a}: 1 posts" in out for a in ACCOUNTS)
    assert all(settings.features_path(a).is_file() for a in ACCOUNTS)
