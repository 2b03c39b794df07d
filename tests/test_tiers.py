"""The two test tiers: tests/data is licensed file by file and stays small; a test that uses
`shared_data` is marked, skipped with one summary line when ../shared/data is absent, and an
error when RUMARO_REQUIRE_SHARED=1 (what CI sets)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
ALLOWED = ("CC0", "public domain", "CC BY", "MIT", "Apache")


def test_every_file_in_tests_data_has_a_license_line_and_the_folder_stays_small():
    table = (DATA / "LICENSES.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([^`]+)` \|(.*)$", table, re.M)}
    files = sorted(p.relative_to(DATA).as_posix() for p in DATA.rglob("*")
                   if p.is_file() and p.name != "LICENSES.md")
    assert files and sorted(rows) == files
    for name, row in rows.items():
        if not name.startswith("licenses/"):
            assert any(lic in row for lic in ALLOWED), name
        if "CC BY" in row and "CC BY 4.0" not in row:  # CC BY images need their credit
            assert "Flickr photo" in row or "attribution" in row.lower(), name
    assert sum((DATA / f).stat().st_size for f in files) < 8_000_000


MINI_SUITE = '''
def test_tier1(test_data):
    assert (test_data / "LICENSES.md").is_file()


def test_tier2_directly(shared_data):
    assert shared_data.is_dir()
'''

MINI_FIXTURE = '''
import pytest


@pytest.fixture()
def indirect(shared_data):
    return shared_data


def test_tier2_through_another_fixture(indirect):
    assert indirect.is_dir()
'''


def _run_mini_suite(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """A small suite with this conftest, run in a fresh interpreter (the conftest reads the
    environment when it is imported)."""
    suite = tmp_path / "suite"
    (suite / "tests").mkdir(parents=True)
    shutil.copy(TESTS / "conftest.py", suite / "tests" / "conftest.py")
    (suite / "tests" / "data").symlink_to(DATA)
    (suite / "tests" / "test_a.py").write_text(textwrap.dedent(MINI_SUITE))
    (suite / "tests" / "test_b.py").write_text(textwrap.dedent(MINI_FIXTURE))
    (suite / "pytest.ini").write_text(
        "[pytest]\naddopts = -ra --strict-markers\nmarkers =\n    shared_data: tier 2\n")
    clean = {k: v for k, v in os.environ.items()
             if k not in ("RUMARO_SHARED_DIR", "RUMARO_REQUIRE_SHARED")}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests"],
                          cwd=suite, env={**clean, **env}, capture_output=True, text=True,
                          timeout=120)


def test_missing_shared_data_skips_tier_2_with_one_summary_line(tmp_path):
    run = _run_mini_suite(tmp_path, RUMARO_SHARED_DIR=str(tmp_path / "nowhere"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed, 2 skipped" in run.stdout
    line = ("2 tests need ../shared/data, which is not here: "
            "set RUMARO_SHARED_DIR=/path/to/shared to run them")
    assert run.stdout.count(line) == 1
    skipped = [x for x in run.stdout.splitlines() if x.startswith("SKIPPED")]
    assert len(skipped) == 1 and skipped[0].startswith("SKIPPED [2] tests/conftest.py")


def test_missing_shared_data_is_an_error_when_required(tmp_path):
    run = _run_mini_suite(tmp_path, RUMARO_SHARED_DIR=str(tmp_path / "nowhere"),
                          RUMARO_REQUIRE_SHARED="1")
    assert run.returncode != 0
    assert "1 passed, 2 errors" in run.stdout
    assert "the shared test data is missing" in run.stdout


def test_present_shared_data_runs_both_tiers_and_marks_tier_2(tmp_path):
    shared = tmp_path / "shared"
    (shared / "data").mkdir(parents=True)
    run = _run_mini_suite(tmp_path, RUMARO_SHARED_DIR=str(shared))
    assert run.returncode == 0 and "3 passed" in run.stdout, run.stdout + run.stderr
    only_tier_2 = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests", "-m", "shared_data"],
        cwd=tmp_path / "suite", env={**os.environ, "RUMARO_SHARED_DIR": str(shared)},
        capture_output=True, text=True, timeout=120)
    assert "2 passed, 1 deselected" in only_tier_2.stdout, only_tier_2.stdout
