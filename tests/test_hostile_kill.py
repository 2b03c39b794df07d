"""Kill and resume: `rumaro import` and `rumaro report` are SIGKILLed mid-way; the re-run completes,
and no half-written posts.parquet, features.parquet, CSV or HTML is ever visible under its name
(every write goes through `rumaro_lab.fileio`: a hidden temp file, then a rename)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from hostile import (
    WRITTEN,
    Watcher,
    alive,
    alive_in_group,
    children,
    killed_write,
    rumaro_process,
    same_date_table,
    write_version,
)

from rumaro_lab.check import check_data
from rumaro_lab.fileio import stale_temp_files
from rumaro_lab.posts.importing import import_path
from rumaro_lab.posts.schema import read_posts

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups, /proc")


def _kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while alive_in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _global(settings) -> list[str]:
    return ["--data-dir", str(settings.data_dir), "--cache-dir", str(settings.cache_dir),
            "--reports-dir", str(settings.reports_dir), "--models-dir", str(settings.models_dir)]


def test_import_killed_mid_way_leaves_the_old_table_and_the_rerun_completes(settings, tmp_path):
    old = import_path(same_date_table(tmp_path / "old", 10), settings, account="bulk")
    table = same_date_table(tmp_path / "new", 1500)
    raw = settings.raw_dir("bulk")
    with Watcher(settings.data_dir) as watcher:
        proc = rumaro_process([*_global(settings), "import", str(table), "--account", "bulk"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and len(os.listdir(raw)) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "the import ended before it could be killed"
        _kill_group(proc)
        assert len(read_posts(old.path)) == 10  # the previous table, whole
        rerun = rumaro_process([*_global(settings), "import", str(table), "--account", "bulk"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()
    assert "bulk: 1500 posts imported" in out.decode()
    assert watcher.broken == [] and watcher.reads > 10
    posts = read_posts(settings.posts_path("bulk"))
    assert len(posts) == 1500 and len({m[0] for m in posts["media"]}) == 1500
    assert stale_temp_files(raw) == [] and check_data(settings, "bulk").ok


@pytest.mark.slow
def test_report_killed_mid_way_shows_no_half_file_and_the_rerun_completes(settings, tmp_path):
    from rumaro_lab.extractors.runner import extract_account
    from rumaro_lab.posts.importing import import_sample

    import_sample(settings)
    extract_account("sample", settings, extractors=["image"], workers=1)
    report_dir = settings.report_dir("sample")
    tables = report_dir / "tables"
    with Watcher(report_dir, settings.processed_dir("sample")) as watcher:
        proc = rumaro_process([*_global(settings), "report", "sample"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline and not (
                tables.is_dir() and len(list(tables.glob("*.csv"))) >= 2):
            time.sleep(0.02)
        assert proc.poll() is None, "the report ended before it could be killed"
        kernels = children(proc.pid)  # a kernel runs in a session of its own
        _kill_group(proc)
        deadline = time.monotonic() + 10
        while alive(kernels) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert kernels and not alive(kernels), "the report's kernel outlived it"
        assert not (report_dir / "report.html").exists()
        rerun = rumaro_process([*_global(settings), "report", "sample"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err.decode()[-2000:]
    assert watcher.broken == [] and watcher.reads > 10
    html = (report_dir / "report.html").read_text()
    assert html.rstrip().endswith("</html>")
    for csv in tables.glob("*.csv"):
        pd.read_csv(csv)
    leftovers = [p for folder in (report_dir, tables, report_dir / "figures") for p in stale_temp_files(folder)]
    assert leftovers == []


@pytest.mark.parametrize("name", WRITTEN)
def test_a_write_killed_half_way_leaves_the_previous_file_whole(settings, tmp_path, name):
    raw_copy = name == "image.jpg"
    target = (settings.raw_dir("acct") if raw_copy else tmp_path / "out") / name
    sources = [tmp_path / "v0.jpg", tmp_path / "v1.jpg"]
    for i, source in enumerate(sources):
        source.write_bytes(bytes([i]) * 40_000)
    write_version(name, target, 1, sources)
    before = target.read_bytes()
    assert killed_write(name, target, 2, sources) == -signal.SIGKILL
    assert target.read_bytes() == before  # the old file, whole, under its name
    left = stale_temp_files(target.parent)
    assert len(left) == 1 and left[0].name.startswith(f".{target.stem}.")
    assert any(str(left[0]) in p.item for p in check_data(settings, "acct").problems) or not raw_copy
    # the next write removes what the killed one left (raw copies: the next import of the account)
    if raw_copy:
        import_path(same_date_table(tmp_path / "next", 1), settings, account="acct")
    else:
        write_version(name, target, 2, sources)
        assert target.read_bytes() != before
    assert stale_temp_files(target.parent) == []
