"""Shared fixtures: the test data of both tiers, and isolated settings.

Tier 1 needs only this repository: data/sample, folders built by fixtures, and tests/data
(redistributable real files, each listed in tests/data/LICENSES.md): fixture `test_data`.
Tier 2 needs ../shared/data (data that may not be redistributed): fixture `shared_data`. Every
test that uses it, directly or through another fixture, gets the marker `shared_data`. Without
the folder those tests are skipped and the run ends with one line that says how to enable them;
with RUMARO_REQUIRE_SHARED=1 (CI sets it) a missing folder is an error instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rumaro_lab.settings import Settings

REPO = Path(__file__).resolve().parents[1]
#: tier 1: redistributable real files committed with the tests
TEST_DATA = Path(__file__).resolve().parent / "data"
#: tier 2: ../shared beside the clone (CI) or RUMARO_SHARED_DIR
SHARED = Path(os.environ.get("RUMARO_SHARED_DIR", REPO.parent / "shared"))
SHARED_DATA = SHARED / "data"
#: set by .ci/run: a missing ../shared/data fails the tier-2 tests instead of skipping them
REQUIRE_SHARED = os.environ.get("RUMARO_REQUIRE_SHARED", "").strip() not in ("", "0")
MARKER = "shared_data"
MISSING = f"tier 2: needs ../shared/data, which is not here (looked in {SHARED_DATA})"


def pytest_collection_modifyitems(config, items):
    """Mark every test that uses `shared_data` (directly or through another fixture) as tier 2."""
    for item in items:
        if MARKER in getattr(item, "fixturenames", ()):
            item.add_marker(MARKER)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Report every tier-2 skip at one place, so `-ra` folds them into one line (not one per test)."""
    report = yield
    if (report.skipped and MARKER in item.keywords and isinstance(report.longrepr, tuple)
            and str(report.longrepr[2]).endswith(MISSING)):
        report.longrepr = (__file__, None, report.longrepr[2])
    return report


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One line for all the tier-2 tests that could not run, instead of one line per test."""
    if SHARED_DATA.is_dir():
        return
    reports = [r for key in ("skipped", "error") for r in terminalreporter.stats.get(key, [])
               if r.when == "setup" and MARKER in getattr(r, "keywords", {})]
    if not reports:
        return
    n = len(reports)
    tests = "test needs" if n == 1 else "tests need"
    if REQUIRE_SHARED:
        terminalreporter.write_line(
            f"{n} {tests} ../shared/data, which is not here (looked in {SHARED_DATA}), and "
            "RUMARO_REQUIRE_SHARED=1 makes that an error: set RUMARO_SHARED_DIR=/path/to/shared",
            red=True, bold=True)
    else:
        terminalreporter.write_line(
            f"{n} {tests} ../shared/data, which is not here: "
            "set RUMARO_SHARED_DIR=/path/to/shared to run them", yellow=True, bold=True)


@pytest.fixture(scope="session")
def test_data() -> Path:
    """tests/data: small redistributable real files (tier 1; licenses in tests/data/LICENSES.md)."""
    return TEST_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, the real data sets that may not be redistributed (tier 2).

    Missing: the test is skipped, or fails when RUMARO_REQUIRE_SHARED=1 (CI always has them).
    """
    if not SHARED_DATA.is_dir():
        if REQUIRE_SHARED:
            pytest.fail(f"the shared test data is missing: expected {SHARED_DATA} "
                        "(RUMARO_REQUIRE_SHARED=1; set RUMARO_SHARED_DIR=/path/to/shared)",
                        pytrace=False)
        pytest.skip(MISSING)
    return SHARED_DATA


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    """Settings whose every folder is inside tmp_path (no .env, no user environment)."""
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        reports_dir=tmp_path / "reports",
        cache_dir=tmp_path / "cache",
        models_dir=REPO / "models",
        workers=1,
    )
