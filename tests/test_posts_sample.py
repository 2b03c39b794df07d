"""The bundled sample account (data/sample): layout, licenses, special posts, known answer."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from PIL import Image

from rumaro_lab.posts.importing import import_sample, sample_dir
from rumaro_lab.posts.schema import read_posts

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((SAMPLE / "truth.json").read_text())


@pytest.fixture()
def imported(settings):
    summary = import_sample(settings)
    return summary, read_posts(summary.path)


def test_sample_is_found_beside_the_package():
    assert sample_dir().resolve() == SAMPLE.resolve()  # data/sample links to the package data


def test_import_sample_reads_every_post_with_its_true_numbers(imported, truth):
    summary, posts = imported
    assert summary.account == "sample" and summary.n_skipped == 0
    assert summary.n_posts == len(truth["posts"]) >= 50
    assert (posts["source"] == "sample").all()
    by_code = posts.set_index("shortcode")
    for post in truth["posts"]:
        row = by_code.loc[post["shortcode"]]
        assert row["taken_at"] == pd.Timestamp(post["taken_at"])
        assert row["comments"] == post["comments"]
        if post["likes_shown"] is None:
            assert pd.isna(row["likes"])
        else:
            assert row["likes"] == post["likes"]
        assert row["media_type"] == post["media_type"]
        assert [Path(m).name for m in row["media"]] == post["files"]
    assert (posts["followers"] == truth["parameters"]["followers_at_fetch"]).all()


def test_special_posts(imported, truth):
    _, posts = imported
    by_code = posts.set_index("shortcode")
    specials = truth["specials"]
    assert pd.isna(by_code.loc[specials["hidden_likes"], "likes"])
    assert posts["likes"].isna().sum() == 1
    assert bool(by_code.loc[specials["pinned"], "is_pinned"]) and posts["is_pinned"].sum() == 1
    assert by_code.loc[specials["video"], "media_type"] == "video"
    assert pd.notna(by_code.loc[specials["video"], "views"])
    sidecar = by_code.loc[specials["sidecar"]]
    assert sidecar["media_type"] == "sidecar" and len(sidecar["media"]) == 2


def test_all_photo_types_over_two_years(truth, imported):
    _, posts = imported
    counts = truth["counts"]
    assert set(counts) == {"portrait", "full_body", "group", "scenery", "other"}
    assert counts["portrait"] >= 15 and counts["scenery"] >= 10 and min(counts.values()) >= 8
    span = posts["taken_at"].max() - posts["taken_at"].min()
    assert span.days > 650
    assert posts["hashtags"].map(len).sum() > 0


def test_every_image_has_a_redistributable_license_entry():
    text = (SAMPLE / "LICENSES.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| 20")}
    images = sorted(p.name for p in (SAMPLE / "sample").glob("*.jpg"))
    assert images and sorted(rows) == images
    for name, row in rows.items():
        assert re.search(r"CC0|Public domain|CC BY 2\.0", row), name
        assert not re.search(r"\bNC\b|NonCommercial|NoDerivs|BY-NC|BY-ND", row), name
    assert "Attribution (CC BY 2.0)" in text and "6795644157" in text


def test_size_and_resolution_limits():
    files = [p for p in SAMPLE.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 8_000_000
    for path in (SAMPLE / "sample").glob("*.jpg"):
        with Image.open(path) as img:
            assert img.format == "JPEG" and max(img.size) <= 1080


def test_readme_says_engagement_is_simulated_and_matches_truth(truth):
    readme = (SAMPLE / "README.md").read_text()
    assert "SIMULATED" in readme
    for label, log_rr in truth["parameters"]["photo_type"].items():
        if label != "scenery":
            assert f"**{math.exp(log_rr):.2g}**" in readme, label


def test_the_known_answer_is_recoverable(truth):
    """A negative-binomial GLM on the true labels recovers the simulated photo-type effects."""
    df = pd.DataFrame(truth["posts"]).dropna(subset=["likes_shown"])
    df["smile"] = df["smiling"].fillna(False).astype(int)
    df[["weekend", "evening"]] = df[["weekend", "evening"]].astype(int)
    alpha = truth["parameters"]["likes_alpha"]
    fit = smf.glm('likes ~ t_years + C(label, Treatment("scenery")) + smile + weekend + evening', df,
                  family=sm.families.NegativeBinomial(alpha=alpha)).fit()
    ci = fit.conf_int()
    for label in ("portrait", "group", "full_body"):
        term = f'C(label, Treatment("scenery"))[T.{label}]'
        true = truth["parameters"]["photo_type"][label]
        assert ci.loc[term, 0] < true < ci.loc[term, 1], label
        assert ci.loc[term, 0] > 0, f"{label} effect not distinguishable from scenery"
    # the photo-type signal is strong enough that the pooled effect of a face is clearly > 1
    has_face = df.groupby("has_face")["likes"].mean()
    assert has_face[True] / has_face[False] > 1.8


def test_build_script_is_deterministic_and_reproduces_the_committed_truth(shared_data, tmp_path, truth,
                                                                           monkeypatch):
    spec = importlib.util.spec_from_file_location("build_sample", REPO / "tools" / "build_sample.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "build_sample", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    rebuilt = module.build(shared_data, truth["seed"], tmp_path / "sample")
    assert json.loads(json.dumps(rebuilt)) == truth
    assert sorted(p.name for p in (tmp_path / "sample" / "sample").iterdir()) == sorted(
        p.name for p in (SAMPLE / "sample").iterdir())
