from pathlib import Path

import pytest

from rumaro_lab.errors import InvalidAccountName
from rumaro_lab.logs import RedactSecrets
from rumaro_lab.settings import Settings, load_settings


def test_precedence_argument_over_env_over_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("RUMARO_DATA_DIR=from_dotenv\nRUMARO_WORKERS=3\n")
    assert Settings().data_dir == Path("from_dotenv")
    assert Settings().workers == 3
    monkeypatch.setenv("RUMARO_DATA_DIR", "from_env")
    assert Settings().data_dir == Path("from_env")
    assert load_settings(data_dir=Path("from_cli"), workers=None).data_dir == Path("from_cli")
    assert load_settings(data_dir=None).data_dir == Path("from_env")


def test_secrets_do_not_print(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUMARO_AZURE_VISION_KEY", "abcdef0123456789secret")
    s = Settings()
    assert "abcdef0123456789secret" not in repr(s)
    assert "abcdef0123456789secret" not in str(s.model_dump())
    assert s.secrets() == ["abcdef0123456789secret"]


def test_log_filter_redacts_secret():
    import logging

    record = logging.LogRecord("rumaro_lab", logging.INFO, __file__, 1, "key=%s", ("topsecret99",), None)
    RedactSecrets(["topsecret99"]).filter(record)
    assert record.getMessage() == "key=***"


def test_paths_follow_layout_and_validate(tmp_path):
    s = Settings(_env_file=None, data_dir=tmp_path)
    assert s.posts_path("NatGeo") == tmp_path / "interim" / "natgeo" / "posts.parquet"
    assert s.features_path("natgeo") == tmp_path / "processed" / "natgeo" / "features.parquet"
    with pytest.raises(InvalidAccountName):
        s.raw_dir("../../etc")
