"""The extraction runner on real photos (tests/data/interfaces_cc0) with the small extractors of
runner_extractors.py: order and dependencies, failures, cache re-use, sidecars, parallel and
Dask runs, crash safety, and the `rumaro extract` command."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from runner_extractors import (
    AboveMean,
    CaptionLength,
    FakeCloud,
    Fragile,
    FragileChild,
    FragileReader,
    MeanColour,
    ReaderCloud,
    Slow,
    count_lines,
    setups_per_process,
    threads,
)

from rumaro_lab.cli import main
from rumaro_lab.errors import RumaroError
from rumaro_lab.extractors import (
    DEFAULT_EXTRACTORS,
    REGISTRY,
    list_extractors,
    resolve_order,
)
from rumaro_lab.extractors.cache import FeatureCache
from rumaro_lab.extractors.runner import (
    KEY_COLUMNS,
    extract_account,
    extract_images,
    extract_posts,
    plan_extractors,
)
from rumaro_lab.posts.schema import write_posts

ACCOUNT = "tiny"
TESTS = Path(__file__).resolve().parent


def make_account(settings, test_data, n_posts=6, truncated=True, sidecar=True, captions=None):
    """A posts table of real photos: post 1 is a 2-image sidecar, the last one a truncated jpg."""
    raw = settings.raw_dir(ACCOUNT)
    raw.mkdir(parents=True, exist_ok=True)
    sources = sorted((test_data / "interfaces_cc0").glob("*.jpg"))
    rows = []
    k = 0
    for i in range(n_posts):
        n_media = 2 if (sidecar and i == 1) else 1
        media = []
        for _ in range(n_media):
            target = raw / f"p{i:03d}_{len(media)}.jpg"
            shutil.copyfile(sources[k], target)
            k += 1
            media.append(target.relative_to(settings.data_dir).as_posix())
        rows.append({"account": ACCOUNT, "post_id": f"{i}", "likes": 10 * i, "comments": i,
                     "media_type": "sidecar" if n_media > 1 else "image", "media": media,
                     "accessibility_caption": (captions or {}).get(i)})
    if truncated:
        bad = settings.data_dir / rows[-1]["media"][0]
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 3])
    write_posts(pd.DataFrame(rows), settings.posts_path(ACCOUNT))
    return rows


def rgb(settings, label):
    return np.asarray(Image.open(settings.data_dir / label).convert("RGB"), dtype=np.float64)


def other_cache(settings, tmp_path, name):
    return settings.model_copy(update={"cache_dir": tmp_path / name})


# -- plan ----------------------------------------------------------------------------------
def test_plan_puts_requirements_first_and_passes_their_outputs(settings, test_data):
    assert plan_extractors([AboveMean, MeanColour]).names == ("mean_colour", "above_mean")
    path = sorted((test_data / "interfaces_cc0").glob("*.jpg"))[0]
    df = extract_images([path], settings, extractors=[AboveMean, MeanColour], workers=1)
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    assert df.loc[0, "mean_colour.mean"] == pytest.approx(pixels.mean())
    expected_share = (pixels.mean(axis=2) > pixels.mean()).mean()
    assert df.loc[0, "above_mean.share"] == pytest.approx(expected_share)
    assert df.loc[0, "status"] == "ok" and pd.isna(df.loc[0, "error"])


def test_resolve_order_with_own_classes_and_cycles():
    assert resolve_order(["above_mean"], classes={"above_mean": AboveMean,
                                                  "mean_colour": MeanColour}) == ["mean_colour", "above_mean"]

    class A(MeanColour):
        name, requires = "a", ("b",)

    class B(MeanColour):
        name, requires = "b", ("a",)

    with pytest.raises(RumaroError, match="cycle"):
        resolve_order(["a"], classes={"a": A, "b": B})
    with pytest.raises(RumaroError, match="unknown extractor 'no_such'"):
        plan_extractors(["no_such"])


def test_default_plan_holds_whatever_extractors_exist_here(settings):
    listing = list_extractors(settings)
    assert set(listing["name"]) == set(REGISTRY)
    assert listing["available"].dtype == "boolean"
    available = set(listing.loc[listing["available"].fillna(False), "name"])
    try:
        plan = plan_extractors(None, settings)
    except RumaroError as exc:  # nothing runnable here: every default must be unavailable
        assert not (set(DEFAULT_EXTRACTORS) & available), exc
        return
    assert set(plan.names) <= available
    for i, step in enumerate(plan.steps):
        assert set(step.deps) <= set(plan.names[:i])
    for name in DEFAULT_EXTRACTORS:
        assert name in plan.names or name in plan.skipped


# -- failures ------------------------------------------------------------------------------
def test_truncated_image_and_failing_extractor_become_rows(settings, test_data):
    rows = make_account(settings, test_data)
    bad_name = Path(rows[2]["media"][0]).name
    (settings.data_dir / rows[3]["media"][0]).unlink()  # a missing file
    extractors = [MeanColour(), Fragile(fail_on=bad_name), FragileChild]
    summary = extract_account(ACCOUNT, settings, extractors=extractors, workers=1)
    df = pd.read_parquet(summary.path)

    assert list(df.columns[: len(KEY_COLUMNS)]) == list(KEY_COLUMNS)
    assert df["post_id"].tolist() == [str(i) for i in range(6)]
    assert str(df["mean_colour.mean"].dtype) == "Float64"
    assert str(df["mean_colour.width"].dtype) == "Int64"
    assert str(df["mean_colour.reddish"].dtype) == "boolean"
    assert str(df["mean_colour.top_channel"].dtype) == "string"

    truncated = df.iloc[5]
    assert truncated["status"] == "error"
    assert truncated["error"].startswith(f"load: cannot read image {rows[5]['media'][0]}")
    assert truncated[["mean_colour.mean", "fragile.green_share"]].isna().all()

    missing = df.iloc[3]
    assert missing["status"] == "error" and pd.isna(missing["image_sha256"])
    assert missing["error"] == f"load: cannot read image {rows[3]['media'][0]}: file not found"

    failing = df.iloc[2]
    assert failing["status"] == "partial"
    assert failing["error"] == (
        f"fragile: ValueError: cannot handle {bad_name}; "
        "fragile_child: skipped: needs fragile, which failed"
    )
    assert failing["mean_colour.mean"] == pytest.approx(rgb(settings, rows[2]["media"][0]).mean())

    ok = df.drop(index=[2, 3, 5])
    assert (ok["status"] == "ok").all() and ok["error"].isna().all()
    assert ok["fragile_child.double"].to_numpy(dtype=float) == pytest.approx(
        2 * ok["fragile.green_share"].to_numpy(dtype=float))
    assert (summary.n_posts, summary.n_images, summary.n_failed, summary.n_ok) == (6, 6, 3, 3)
    assert summary.failures == {"fragile": 1, "fragile_child": 1, "load": 2}
    assert "3 with failures" in str(summary)
    assert summary.post_status == {"ok": 3, "partial": 1, "error": 2}


def test_a_failed_optional_dependency_is_absent_and_that_result_is_not_cached(
        settings, test_data, tmp_path):
    """An extractor that only *uses* another (optional_requires) still runs when that one
    fails on an image, as in a run without it; its result there goes into the table but not
    into the cache (whose key says the dependency was there), so the next run computes it."""
    rows = make_account(settings, test_data, truncated=False)
    bad_name = Path(rows[1]["media"][0]).name
    calls = tmp_path / "calls"
    calls.mkdir()
    # reader_cloud runs in a later stage (cloud) on fragile_reader's output: not cached either
    extractors = [Fragile(fail_on=bad_name, calls_dir=str(calls)),
                  FragileReader(calls_dir=str(calls)), FragileChild, ReaderCloud(calls_dir=str(calls))]
    df = pd.read_parquet(extract_account(ACCOUNT, settings, extractors=extractors, workers=1).path)
    failing = df.iloc[1]
    assert failing["status"] == "partial"
    assert failing["error"] == (f"fragile: ValueError: cannot handle {bad_name}; "
                                "fragile_child: skipped: needs fragile, which failed")
    assert failing["fragile_reader.saw_fragile"] == False  # noqa: E712 (pandas' NA-aware bool)
    assert df.drop(index=1)["fragile_reader.saw_fragile"].all()
    with FeatureCache(settings.cache_dir / "features.sqlite") as cache:
        stored = cache.entries()
    assert (stored["extractor"] == "fragile_reader").sum() == len(df) - 1
    assert (stored["extractor"] == "reader_cloud").sum() == len(df) - 1
    assert failing["reader_cloud.saw_fragile"] == False  # noqa: E712
    assert count_lines(calls, "fragile_reader") == count_lines(calls, "reader_cloud") == len(df)
    extract_account(ACCOUNT, settings, extractors=extractors, workers=1)
    # only the uncached ones again
    assert count_lines(calls, "fragile_reader") == count_lines(calls, "reader_cloud") == len(df) + 1


# -- cache re-use --------------------------------------------------------------------------
def test_cached_rerun_calls_no_extractor_and_gives_the_same_table(settings, test_data, tmp_path):
    make_account(settings, test_data, truncated=False)
    calls = tmp_path / "calls"
    calls.mkdir()
    extractors = [MeanColour(calls_dir=str(calls)), AboveMean(calls_dir=str(calls))]
    first = extract_account(ACCOUNT, settings, extractors=extractors, workers=1)
    table1 = pd.read_parquet(first.path)
    assert count_lines(calls, "mean_colour") == 6 and count_lines(calls, "above_mean") == 6
    assert (first.computed, first.cache_hits) == (12, 0)

    second = extract_account(ACCOUNT, settings, extractors=extractors, workers=2)
    assert count_lines(calls, "mean_colour") == 6 and count_lines(calls, "above_mean") == 6
    assert (second.computed, second.cache_hits) == (0, 12)
    assert second.decode_seconds == 0  # nothing decoded when everything is cached
    pd.testing.assert_frame_equal(pd.read_parquet(second.path), table1)

    # A new option of the dependency recomputes it and its dependant, nothing else.
    extractors = [MeanColour(calls_dir=str(calls), scale=0.5), AboveMean(calls_dir=str(calls))]
    third = extract_account(ACCOUNT, settings, extractors=extractors, workers=1)
    assert (third.computed, third.cache_hits) == (12, 0)
    table3 = pd.read_parquet(third.path)
    assert table3["mean_colour.mean"].to_numpy(float) == pytest.approx(
        0.5 * table1["mean_colour.mean"].to_numpy(float))


def test_post_fields_are_part_of_the_key(settings, test_data, tmp_path):
    rows = make_account(settings, test_data, n_posts=3, truncated=False, sidecar=False,
                        captions={0: "a person smiling"})
    # The same photo in two posts with different captions: two results.
    rows.append({**rows[0], "post_id": "3", "accessibility_caption": "two words"})
    write_posts(pd.DataFrame(rows), settings.posts_path(ACCOUNT))
    df = pd.read_parquet(extract_account(ACCOUNT, settings, extractors=[CaptionLength],
                                         workers=1).path)
    assert df["caption_length.n_chars"].tolist() == [16, pd.NA, pd.NA, 9]
    assert df.loc[0, "image_sha256"] == df.loc[3, "image_sha256"]


# -- sidecars ------------------------------------------------------------------------------
def test_sidecar_cover_mean_and_max(settings, test_data):
    rows = make_account(settings, test_data, truncated=False)
    cover, second = rows[1]["media"]
    means = [rgb(settings, cover).mean(), rgb(settings, second).mean()]
    tables = {agg: extract_posts(pd.read_parquet(settings.posts_path(ACCOUNT)), settings,
                                 extractors=[MeanColour], workers=1, aggregate=agg)
              for agg in ("cover", "mean", "max")}
    for agg, expected in {"cover": means[0], "mean": np.mean(means), "max": max(means)}.items():
        row = tables[agg].iloc[1]
        assert row["mean_colour.mean"] == pytest.approx(expected), agg
        assert row["image"] == cover and row["n_images"] == 2 and row["status"] == "ok"
        # categorical and boolean features always come from the cover
        assert row["mean_colour.top_channel"] == tables["cover"].iloc[1]["mean_colour.top_channel"]
    assert str(tables["mean"]["mean_colour.width"].dtype) == "Float64"
    assert str(tables["max"]["mean_colour.width"].dtype) == "Int64"
    # single-image posts are the same whatever the aggregate
    single = tables["cover"].drop(index=1)
    pd.testing.assert_frame_equal(tables["max"].drop(index=1), single)


def test_broken_sidecar_image_makes_the_post_partial(settings, test_data):
    rows = make_account(settings, test_data, truncated=False)
    second = settings.data_dir / rows[1]["media"][1]
    second.write_bytes(b"not a jpeg")
    df = extract_posts(pd.read_parquet(settings.posts_path(ACCOUNT)), settings,
                       extractors=[MeanColour], workers=1, aggregate="mean")
    assert df.loc[1, "status"] == "partial"
    assert rows[1]["media"][1] in df.loc[1, "error"]
    assert df.loc[1, "mean_colour.mean"] == pytest.approx(rgb(settings, rows[1]["media"][0]).mean())


# -- parallel ------------------------------------------------------------------------------
def test_two_workers_give_the_same_table_and_load_models_once(settings, test_data, tmp_path):
    make_account(settings, test_data, n_posts=10)
    calls = tmp_path / "calls"
    calls.mkdir()
    extractors = [MeanColour(calls_dir=str(calls)), AboveMean(calls_dir=str(calls))]
    one = extract_account(ACCOUNT, settings, extractors=extractors, workers=1)
    table1 = pd.read_parquet(one.path)
    assert setups_per_process(calls, "mean_colour") == [1]
    shutil.rmtree(calls)
    calls.mkdir()

    two = extract_account(ACCOUNT, other_cache(settings, tmp_path, "c2"),
                          extractors=extractors, workers=2)
    pd.testing.assert_frame_equal(pd.read_parquet(two.path), table1)
    assert two.computed == one.computed == 2 * 9  # 10 covers, one truncated
    per_process = setups_per_process(calls, "mean_colour")
    assert per_process and all(n == 1 for n in per_process)  # once per worker, not per image
    assert os.getpid() not in {int(p.name.rsplit(".", 1)[1]) for p in calls.glob("*.call.*")}


def test_dask_local_cluster_gives_the_same_table(settings, test_data, tmp_path):
    distributed = pytest.importorskip("distributed")  # installed by `make install`
    make_account(settings, test_data)
    posts = pd.read_parquet(settings.posts_path(ACCOUNT))
    local = extract_posts(posts, settings, extractors=[MeanColour, AboveMean, Fragile], workers=1)
    calls = tmp_path / "calls"
    calls.mkdir()
    extractors = [MeanColour(calls_dir=str(calls)), AboveMean, Fragile]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        on_dask = extract_posts(posts, other_cache(settings, tmp_path, "dask"),
                                extractors=extractors, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(on_dask, local)
    ran_in = threads(calls, "mean_colour")
    assert ran_in and all("Dask-Default-Threads" in name for name in ran_in), ran_in
    assert (on_dask["status"] == "ok").sum() == 5


def test_cloud_extractors_get_the_cost_guard_and_run_in_this_process(settings, test_data):
    make_account(settings, test_data, n_posts=4, truncated=False)
    summary = extract_account(ACCOUNT, settings, extractors=[FakeCloud, MeanColour], workers=2,
                             max_calls=3)
    df = pd.read_parquet(summary.path)
    assert df["fake_cloud.max_calls"].tolist() == [3] * 4
    assert set(df["fake_cloud.pid"]) == {os.getpid()}  # one place counts every call
    assert settings.max_calls is None  # the caller's settings are not modified


def test_credentials_never_reach_the_cache(settings, test_data):
    secret = "sk-do-not-store-8f3a9c"
    settings = settings.model_copy(update={"azure_vision_key": secret})
    make_account(settings, test_data, n_posts=2, truncated=False)
    extract_account(ACCOUNT, settings, extractors=[MeanColour, FakeCloud], workers=1)
    blobs = b"".join(p.read_bytes() for p in settings.cache_dir.iterdir())
    assert blobs and secret.encode() not in blobs


# -- crash safety --------------------------------------------------------------------------
CRASH_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from runner_extractors import MeanColour, Slow
from rumaro_lab.extractors.runner import extract_account
from rumaro_lab.settings import Settings
s = Settings(_env_file=None, data_dir={data!r}, cache_dir={cache!r}, workers=1)
extract_account("tiny", s, extractors=[MeanColour, Slow(seconds=0.15)], workers=1)
"""


def test_kill_9_mid_run_then_rerun_gives_identical_results(settings, test_data, tmp_path):
    make_account(settings, test_data, n_posts=14, truncated=False, sidecar=False)
    script = CRASH_SCRIPT.format(tests=str(TESTS), data=str(settings.data_dir),
                                 cache=str(settings.cache_dir))
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)])
    db = settings.cache_dir / "features.sqlite"
    deadline = time.monotonic() + 60
    n = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            # the file exists a moment before its table does
            with sqlite3.connect(db, timeout=10) as conn, contextlib.suppress(sqlite3.OperationalError):
                n = conn.execute("SELECT COUNT(*) FROM features WHERE extractor='slow'").fetchone()[0]
            if n >= 3:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 3 <= n < 14, "the run was not killed mid-way"
    assert not settings.features_path(ACCOUNT).exists()

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with FeatureCache(db) as cache:
        stored = cache.entries()
    assert stored["features"].map(len).gt(2).all()
    n_slow_cached = int((stored["extractor"] == "slow").sum())
    # each image's results are one transaction: both extractors or neither
    assert int((stored["extractor"] == "mean_colour").sum()) == n_slow_cached
    resumed = extract_account(ACCOUNT, settings, extractors=[MeanColour, Slow(seconds=0.15)],
                              workers=1)
    assert resumed.cache_hits == 2 * n_slow_cached
    assert resumed.computed == 2 * (14 - n_slow_cached)
    fresh = extract_account(ACCOUNT, other_cache(settings, tmp_path, "fresh"),
                            extractors=[MeanColour, Slow(seconds=0.0)], workers=1)
    a = pd.read_parquet(resumed.path)
    b = pd.read_parquet(fresh.path)
    pd.testing.assert_frame_equal(a, b)


# -- command line --------------------------------------------------------------------------
def test_rumaro_extract_writes_features(settings, test_data, monkeypatch, capsys):
    make_account(settings, test_data, n_posts=3)
    monkeypatch.setitem(REGISTRY, "mean_colour", "runner_extractors:MeanColour")
    base = ["--data-dir", str(settings.data_dir), "--cache-dir", str(settings.cache_dir)]
    code = main([*base, "extract", ACCOUNT, "--extractors", "mean_colour", "--workers", "1"])
    assert code == 0
    df = pd.read_parquet(settings.features_path(ACCOUNT))
    assert df["status"].tolist() == ["ok", "ok", "error"]
    assert "3 posts" in capsys.readouterr().out

    assert main([*base, "cache", "stats"]) == 0
    stats_text = capsys.readouterr().out
    assert "mean_colour" in stats_text
    assert main([*base, "cache", "clear", "--extractor", "mean_colour", "--yes"]) == 0
    assert "removed 2 entries" in capsys.readouterr().out  # the truncated one has none


def test_rumaro_extract_without_posts_is_a_one_line_error(settings, capsys):
    code = main(["--data-dir", str(settings.data_dir), "--cache-dir", str(settings.cache_dir),
                 "extract", "nobody_here", "--workers", "1"])
    assert code == 1
    err = capsys.readouterr().err
    assert "no posts table at" in err and "Traceback" not in err
    assert err.strip().splitlines()[0].startswith("error:")


def test_rumaro_extractors_lists_availability(capsys):
    assert main(["extractors"]) == 0
    text = capsys.readouterr().out
    for name in REGISTRY:
        assert name in text
    assert "available" in text


def test_rumaro_extractors_reads_well_at_80_columns(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["extractors"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    # the notes column wraps into a few lines per extractor, not one word per line
    assert len(lines) <= 4 * len(REGISTRY)


def test_progress_bar_shows_rate_cache_hits_and_failures(settings, test_data, capsys, tmp_path):
    paths = sorted((test_data / "interfaces_cc0").glob("*.jpg"))[:3]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(paths[0].read_bytes()[:5000])
    extract_images([*paths, broken], settings, extractors=[MeanColour], workers=1, progress=True)
    first = capsys.readouterr().err
    assert "4/4" in first and "img/s" in first and "cached=0" in first and "failed=1" in first
    extract_images(paths, settings, extractors=[MeanColour], workers=1, progress=True)
    second = capsys.readouterr().err
    assert "3/3" in second and "cached=3" in second and "failed=0" in second


PRELOAD_SCRIPT = """
import sys
from rumaro_lab.extractors.base import Extractor
from rumaro_lab.extractors.runner import extract_images
from rumaro_lab.extractors.schema import binary
from rumaro_lab.settings import Settings


class Runtimes(Extractor):
    name, version = "runtimes", "1"
    local = {local}
    features = {{"preloaded": binary("onnxruntime and mediapipe imported before any model")}}

    def extract(self, image, deps, post):
        return {{"preloaded": all(m in sys.modules for m in ("onnxruntime", "mediapipe"))}}


if __name__ == "__main__":
    settings = Settings(_env_file=None, cache_dir={cache!r}, workers=2)
    table = extract_images({images!r}, settings, extractors=[Runtimes], workers=2, progress=False)
    print(sorted(set(table["runtimes.preloaded"].tolist())))
"""


@pytest.mark.parametrize("local", [True, False])
def test_pool_workers_of_a_local_plan_start_with_the_model_runtimes_imported(
        local, test_data, tmp_path):
    """The forkserver imports onnxruntime/mediapipe once for all workers (~0.5 s CPU each saved)
    when a local extractor runs, and not for a cloud-only plan. A fresh process: the forkserver
    of this one may have started already."""
    images = [str(p) for p in sorted((test_data / "interfaces_cc0").glob("*.jpg"))[:4]]
    script = tmp_path / "preload.py"
    script.write_text(PRELOAD_SCRIPT.format(local=local, cache=str(tmp_path / "cache"),
                                            images=images))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    assert out.strip().splitlines()[-1] == str([local])
