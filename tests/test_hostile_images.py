"""Hostile images, made in code: each bad one is reported by file with a reason, every other one
imports and extracts (oriented RGB, whatever the format or mode)."""

from __future__ import annotations

import pandas as pd
import pytest
from hostile import BAD_IMAGES, GOOD_IMAGES, write_images
from runner_extractors import MeanColour

from rumaro_lab.extractors.runner import extract_account, extract_images
from rumaro_lab.images import load_image
from rumaro_lab.posts.importing import import_path
from rumaro_lab.posts.schema import read_posts


@pytest.fixture()
def hostile_table(tmp_path):
    """A table of one post per hostile image (good and bad), each on its own date."""
    write_images(tmp_path / "images", {**GOOD_IMAGES, **BAD_IMAGES})
    names = [*GOOD_IMAGES, *BAD_IMAGES]
    table = tmp_path / "posts.csv"
    pd.DataFrame({
        "post_id": names,
        "taken_at": [f"2024-01-{i + 1:02d}T12:00:00Z" for i in range(len(names))],
        "media": [f"images/{n}" for n in names],
    }).to_csv(table, index=False)
    return table


def test_bad_images_are_named_with_a_reason_and_the_rest_imports(settings, hostile_table):
    summary = import_path(hostile_table, settings, account="hostile")
    reasons = dict(summary.skipped)
    assert summary.n_posts == len(GOOD_IMAGES)
    for name, (_, fragment) in BAD_IMAGES.items():
        label = next(label for label in reasons if f"({name})" in label)
        assert name in reasons[label] and fragment in reasons[label], (name, reasons[label])
    posts = read_posts(summary.path)
    assert sorted(posts["post_id"]) == sorted(GOOD_IMAGES)


def test_every_good_image_extracts_with_its_displayed_shape(settings, hostile_table):
    import_path(hostile_table, settings, account="hostile")
    summary = extract_account("hostile", settings, extractors=["image", MeanColour], workers=1)
    features = pd.read_parquet(summary.path).set_index("post_id")
    assert (features["status"] == "ok").all(), features[["status", "error"]]
    for name, (_, (height, width)) in GOOD_IMAGES.items():
        assert features.loc[name, "mean_colour.width"] == width, name
        assert features.loc[name, "image.height"] == height, name
    # transparent pixels are shown on white, as Instagram shows them
    assert features.loc["palette_transparent.png", "mean_colour.r"] == pytest.approx(127.5, abs=1)


def test_bad_images_that_reach_the_extractor_become_error_rows_and_the_run_goes_on(settings, tmp_path):
    """Files damaged after import (or given directly) fail alone, named, with the reason."""
    paths = write_images(tmp_path / "all", {**GOOD_IMAGES, **BAD_IMAGES})
    table = extract_images(list(paths.values()), settings, extractors=[MeanColour], workers=1)
    by_name = {p.name: row for p, row in zip(paths.values(), table.itertuples(), strict=True)}
    for name in GOOD_IMAGES:
        assert by_name[name].status == "ok", name
    for name, (_, fragment) in BAD_IMAGES.items():
        row = by_name[name]
        assert row.status == "error" and name in row.error and fragment in row.error, row.error


@pytest.mark.parametrize("name", sorted(GOOD_IMAGES))
def test_good_image_decodes_to_oriented_rgb(name):
    data, shape = GOOD_IMAGES[name]
    image = load_image(data, source=name)
    assert image.rgb.shape == (*shape, 3) and image.rgb.dtype.name == "uint8"
