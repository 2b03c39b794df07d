"""Shared fixtures: real third-party data from ../shared/data and isolated settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rumaro_lab.settings import Settings

REPO = Path(__file__).resolve().parents[1]
#: ../shared beside the clone (CI) or RUMARO_SHARED_DIR
SHARED = Path(os.environ.get("RUMARO_SHARED_DIR", REPO.parent / "shared"))
SHARED_DATA = SHARED / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real test data sets. Missing is an error, not a skip: CI always has them."""
    if not SHARED_DATA.is_dir():
        raise RuntimeError(f"the shared test data is missing: expected {SHARED_DATA}")
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
