"""Settings: where data, reports, cache and models live, how many workers, and credentials.

Precedence, highest first: explicit arguments (the CLI's options), environment variables
``RUMARO_*``, a ``.env`` file in the working directory, then the defaults below. Credentials are
`SecretStr`: they print as ``**********`` and are never part of a path, a cache key, a notebook
parameter or a log line.

>>> s = Settings(data_dir="/tmp/d", reports_dir="/tmp/r")
>>> s.features_path("natgeo").as_posix()
'/tmp/d/processed/natgeo/features.parquet'
>>> s.azure_vision_key is None
True
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .accounts import validate_account


def _default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def checkout_root() -> Path | None:
    """The repository folder when this package runs from a checkout (an editable install)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "setup.cfg").is_file() and (root / "rumaro_lab").is_dir() else None


def default_models_dir() -> Path:
    """``models/`` of the checkout; else a per-user folder ($XDG_DATA_HOME/rumaro/models, by
    default ~/.local/share/rumaro/models), so an installed package builds its models once."""
    root = checkout_root()
    if root is not None:
        return root / "models"
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "rumaro" / "models"


class Settings(BaseSettings):
    """All configuration of a run. Construct once and pass it along (no global state)."""

    model_config = SettingsConfigDict(
        env_prefix="RUMARO_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Field(Path("data"), description="root of raw/, interim/, processed/")
    reports_dir: Path = Field(Path("reports"), description="where reports/ACCOUNT/ are written")
    cache_dir: Path = Field(Path(".cache/rumaro"), description="feature cache (SQLite)")
    models_dir: Path = Field(default_factory=default_models_dir,
                             description="built ONNX models and their manifest")
    log_file: Path | None = Field(None, description="the run log (default: cache_dir/rumaro.log)")
    workers: int = Field(default_factory=_default_workers, ge=1, description="local worker processes")
    scheduler: str | None = Field(None, description="Dask scheduler address; local processes when unset")
    max_calls: int | None = Field(None, ge=0, description="cost guard: calls per cloud service per run")

    # Cloud credentials: environment or .env only.
    azure_vision_endpoint: str | None = None
    azure_vision_key: SecretStr | None = None
    azure_face_endpoint: str | None = None
    azure_face_key: SecretStr | None = None
    algorithmia_endpoint: str | None = None
    algorithmia_key: SecretStr | None = None

    # Instagram: only a session file (instaloader's), never a password.
    instagram_user: str | None = None
    instagram_session_file: Path | None = None

    @field_validator("data_dir", "reports_dir", "cache_dir", "models_dir", "log_file", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def log_path(self) -> Path:
        """Where the CLI writes its debug log and native libraries' console output."""
        return self.log_file or self.cache_dir / "rumaro.log"

    # -- the layout of DESIGN.md: each stage its own folder ---------------------------------
    def raw_dir(self, account: str) -> Path:
        return self.data_dir / "raw" / validate_account(account)

    def interim_dir(self, account: str) -> Path:
        return self.data_dir / "interim" / validate_account(account)

    def processed_dir(self, account: str) -> Path:
        return self.data_dir / "processed" / validate_account(account)

    def posts_path(self, account: str) -> Path:
        return self.interim_dir(account) / "posts.parquet"

    def features_path(self, account: str) -> Path:
        return self.processed_dir(account) / "features.parquet"

    def artifacts_path(self, account: str) -> Path:
        """Boxes, keypoints and masks of the posts' images, beside features.parquet."""
        return self.processed_dir(account) / "artifacts.parquet"

    def report_dir(self, account: str) -> Path:
        return self.reports_dir / validate_account(account)

    def secrets(self) -> list[str]:
        """The credential values in force, so logs can redact them."""
        values = [self.azure_vision_key, self.azure_face_key, self.algorithmia_key]
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]


def load_settings(**overrides: object) -> Settings:
    """Settings with the given overrides; ``None`` values mean "not given" and are dropped."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
