"""No orphans: a SIGKILLed `rumaro extract` takes its workers, forkserver and resource tracker with
it, and the next run finishes the job with the same features as a run never interrupted."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest
from hostile import alive_in_group, rumaro_process, same_date_table
from runner_extractors import Slow

from rumaro_lab import lifeline
from rumaro_lab.extractors.runner import extract_account
from rumaro_lab.posts.importing import import_path

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
SLOW = {"slow": "runner_extractors:Slow"}


def _cached(db) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=10) as conn, contextlib.suppress(sqlite3.OperationalError):
        return conn.execute("SELECT COUNT(*) FROM features").fetchone()[0]
    return 0


def test_sigkill_of_rumaro_extract_leaves_no_process_and_the_rerun_matches(settings, tmp_path):
    import_path(same_date_table(tmp_path / "export", 40), settings, account="killed")
    args = ["--data-dir", str(settings.data_dir), "--cache-dir", str(settings.cache_dir),
            "extract", "killed", "--extractors", "slow", "--workers", "2"]
    proc = rumaro_process(args, SLOW, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = settings.cache_dir / "features.sqlite"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and _cached(db) < 4:
        time.sleep(0.05)
    helpers = alive_in_group(proc.pid)
    assert proc.poll() is None and 4 <= _cached(db) < 40, "the run was not killed mid-way"
    assert len(helpers) >= 4, helpers  # the run, its forkserver, resource tracker and workers

    os.kill(proc.pid, signal.SIGKILL)  # the run only, as the OOM killer would
    proc.wait()
    time.sleep(5)
    survivors = alive_in_group(proc.pid)
    if survivors:  # don't leave them running after the failure
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert survivors == [], "processes outlived the killed run"
    assert not settings.features_path("killed").exists()

    rerun = rumaro_process(args, SLOW, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()
    resumed = pd.read_parquet(settings.features_path("killed"))
    fresh = settings.model_copy(update={"cache_dir": tmp_path / "fresh"})
    uninterrupted = pd.read_parquet(
        extract_account("killed", fresh, extractors=[Slow(seconds=0)], workers=1).path)
    pd.testing.assert_frame_equal(resumed, uninterrupted)
    assert (resumed["status"] == "ok").all()


WATCHED = """
import sys, time
from rumaro_lab import lifeline
{setup}
lifeline.die_with_parent({pid})
print("watching", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polling"])
def test_a_helper_ends_when_the_process_it_works_for_ends(pidfd):
    """`die_with_parent` on a process that is not the helper's parent (as with the forkserver)."""
    boss = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    setup = "" if pidfd else "import os; del os.pidfd_open"
    script = WATCHED.format(setup=setup, pid=boss.pid)
    helper = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE)
    try:
        assert helper.stdout.readline() == b"watching\n"
        boss.kill()
        boss.wait()
        assert helper.wait(timeout=5) == lifeline.EXIT_PARENT_GONE
    finally:
        for proc in (boss, helper):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_the_parent_death_signal_kills_a_child_of_a_killed_process():
    """The kernel's PR_SET_PDEATHSIG: a child whose parent is SIGKILLed dies too (no GIL needed)."""
    script = textwrap.dedent("""
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c",
            "from rumaro_lab import lifeline; import time; lifeline.set_parent_death_signal(); "
            "print('ready', flush=True); time.sleep(60)"], stdout=subprocess.PIPE)
        child.stdout.readline()
        print(child.pid, flush=True)
        import time; time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True)
    child_pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and alive_in_group(parent.pid):
        time.sleep(0.05)
    assert not [p for p, _ in alive_in_group(parent.pid) if p == child_pid]
