"""Extractor options from the command line (`rumaro extract --option NAME.OPTION=VALUE`)."""

from __future__ import annotations

import pandas as pd
import pytest

from rumaro_lab.cli import main
from rumaro_lab.errors import RumaroError
from rumaro_lab.extractors import DEFAULT_EXTRACTORS
from rumaro_lab.extractors.options import options_table, parse_options, with_options


def test_values_are_read_as_json_and_text_options_stay_text():
    options = parse_options([
        "text.recognize=true", "text.long_side=256", "pose.backend=movenet",
        'photo_type.rules={"closeup_min": 0.8}', "azure_vision.api=4.0", "objects.min_score=null",
    ])
    assert options == {
        "text": {"recognize": True, "long_side": 256},
        "pose": {"backend": "movenet"},
        "photo_type": {"rules": {"closeup_min": 0.8}},
        "azure_vision": {"api": "4.0"},  # its default is text: "4.0", not the number 4.0
        "objects": {"min_score": None},
    }


@pytest.mark.parametrize(("item", "message"), [
    ("textrecognize", "is not NAME.OPTION=VALUE"),
    ("text.recognize", "is not NAME.OPTION=VALUE"),
    ("nosuch.x=1", "unknown extractor 'nosuch'"),
    ("text.recognise=true", "has no option 'recognise'"),
])
def test_a_bad_option_is_refused_naming_it(item, message):
    with pytest.raises(RumaroError, match=message) as info:
        parse_options([item])
    assert repr(item) in info.value.message and info.value.hint


def test_named_extractors_are_configured_in_place_and_missing_ones_added():
    specs = with_options(None, parse_options(["pose.backend=movenet", "age_gender.max_faces=2"]))
    names = [s if isinstance(s, str) else s.name for s in specs]
    assert names == [*DEFAULT_EXTRACTORS, "age_gender"]
    pose = specs[names.index("pose")]
    assert pose.config["backend"] == "movenet"
    assert specs[-1].config["max_faces"] == 2
    assert all(isinstance(s, str) for s in specs if s not in (pose, specs[-1]))
    # a configured instance keeps its own options; the new ones go on top
    from rumaro_lab.extractors import make_extractor

    mine = make_extractor("text", long_side=256)
    (text,) = with_options([mine], parse_options(["text.recognize=true"]))
    assert text.config["long_side"] == 256 and text.config["recognize"] is True
    assert mine.config["recognize"] is False  # the caller's instance is not changed


def test_options_table_lists_defaults_and_choices():
    table = options_table(["pose", "text"]).set_index(["extractor", "option"])
    assert table.loc[("pose", "backend"), "default"] == '"mediapipe"'
    assert table.loc[("pose", "backend"), "choices"] == '"mediapipe", "movenet"'
    assert table.loc[("text", "long_side"), "default"] == "320"


def test_extract_with_an_option_runs_it_and_keeps_its_results_apart(tmp_path, capsys):
    """From the command line, as a user: word recognition (opt-in) on the bundled sample."""
    from rumaro_lab.extractors.cache import FeatureCache
    from rumaro_lab.posts.importing import sample_dir
    from rumaro_lab.settings import Settings

    settings = Settings(_env_file=None, data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    common = ["--data-dir", str(settings.data_dir), "--cache-dir", str(settings.cache_dir)]
    assert main([*common, "import", str(sample_dir() / "sample")]) == 0
    run = [*common, "extract", "sample", "--extractors", "text", "--workers", "1", "--no-progress"]

    assert main(run) == 0
    plain = pd.read_parquet(settings.features_path("sample"))
    assert plain["text.words"].isna().all()  # not asked for: unknown, not empty
    assert main([*run, "--option", "text.recognize=true"]) == 0
    read = pd.read_parquet(settings.features_path("sample"))
    assert read["status"].eq("ok").all() and len(read) == 61
    # the sample's photos hold no text: recognition ran and read nothing ("", 0), not unknown
    assert read["text.words"].eq("").all() and read["text.word_count"].eq(0).all()
    with FeatureCache.for_settings(settings) as cache:
        entries = cache.entries()
    text = entries[entries["extractor"] == "text"]
    assert text["config_hash"].nunique() == 2  # both kept, neither served for the other
    capsys.readouterr()
    assert main([*run, "--option", "text.recognize=true"]) == 0  # the same options again
    assert "61 results from the cache, 0 computed" in capsys.readouterr().out

    assert main([*run, "-o", "text.recognise=true"]) == 1
    assert "has no option 'recognise'" in capsys.readouterr().err
