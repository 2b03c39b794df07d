"""Figures (rumaro_lab.figures) and face blurring (rumaro_lab.privacy) on real CC0 photos."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from rumaro_lab import figures, privacy
from rumaro_lab.errors import ModelMissingError
from rumaro_lab.images import load_image

PHOTO_TYPES = ["portrait", "portrait", "scenery", "group", "full_body", "other", None, "portrait"]


@pytest.fixture(scope="module")
def dataset(test_data: Path, tmp_path_factory) -> tuple[pd.DataFrame, Path]:
    """A dataset as load_dataset returns it: 8 posts over real CC0 portraits, with face boxes."""
    data_dir = tmp_path_factory.mktemp("data")
    raw = data_dir / "raw" / "synthetic"
    raw.mkdir(parents=True)
    rows = []
    for i, photo_type in enumerate(PHOTO_TYPES):
        src = test_data / "interfaces_cc0" / f"{i + 1:03d}.jpg"
        shutil.copy(src, raw / src.name)
        has_face = photo_type != "scenery"
        rows.append({
            "account": "synthetic",
            "post_id": str(i),
            "taken_at": pd.Timestamp("2022-01-01", tz="UTC") + pd.Timedelta(days=10 * i),
            "likes": [120, 340, 90, 1500, 800, 60, 400, None][i],
            "comments": [3, 10, 1, 40, 22, 0, 9, 5][i],
            "image": f"raw/synthetic/{src.name}",
            "faces.count": 1 if has_face else 0,
            "faces.boxes": [[0.3, 0.2, 0.4, 0.45, 0.9]] if has_face else [],
            "emotion.dominant": ["happiness", "neutral", None, "happiness", "surprise", "neutral", None, "happiness"][i],
            "photo_type.label": photo_type,
            "racy.nsfw_score": [0.01, 0.2, 0.05, 0.4, 0.1, 0.02, 0.3, 0.15][i],
        })
    df = pd.DataFrame(rows).astype({"likes": "Int64", "comments": "Int64", "faces.count": "Int64",
                                     "photo_type.label": "string", "emotion.dominant": "string",
                                     "racy.nsfw_score": "Float64"})
    return df, data_dir


def _model_table(ci_scale: str = "ratio") -> pd.DataFrame:
    est = np.array([4.0, 0.4, -0.2, 0.05])
    low, high = est - 0.15, est + 0.15
    if ci_scale == "ratio":
        low, high = np.exp(low), np.exp(high)
    return pd.DataFrame({
        "model": "negbin", "outcome": "likes",
        "term": ["Intercept", "emotion.happiness", "faces.count", "hour_sin"],
        "estimate": est, "rate_ratio": np.exp(est), "ci_low": low, "ci_high": high,
        "p_value": [0.0, 0.001, 0.03, 0.5], "q_value": [0.0, 0.004, 0.2, 0.5], "n": 40, "note": None,
    })


def test_category_figures_count_posts_per_category(dataset):
    df, _ = dataset
    fig = figures.feature_figure(df, "photo_type.label", "likes")
    ax_n, ax_y = fig.axes[:2]
    labels = [t.get_text() for t in ax_n.get_yticklabels()]
    assert labels == ["portrait", "full_body", "group", "scenery", "other"]  # the house order
    widths = [p.get_width() for p in ax_n.patches]
    assert widths == [3, 1, 1, 1, 1]
    assert "1 unknown" in fig._suptitle.get_text()  # the post with no photo type is counted, not shown
    assert ax_y.get_xscale() == "log"


def test_emotion_figure_puts_faceless_posts_apart(dataset):
    df, _ = dataset
    fig = figures.feature_figure(df, "emotion.dominant", "likes")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["happiness", "neutral", "surprise", "no face"]
    # post 6 has a face but no known emotion: unknown, not "no face"
    assert "1 unknown" in fig._suptitle.get_text()


def test_racy_figure_draws_points_and_a_lowess_curve(dataset):
    df, _ = dataset
    fig = figures.smoother_figure(df, ["racy.nsfw_score", "racy.skin_share"], "likes")
    assert len(fig.axes) == 1  # racy.skin_share is not in this dataset: only the score panel
    ax = fig.axes[0]
    curve = [line for line in ax.get_lines() if line.get_label() == "LOWESS"]
    assert len(curve) == 1
    xs = curve[0].get_xdata()
    assert np.all(np.diff(xs) >= 0) and len(xs) == 7  # one point per post with known likes
    assert ax.get_yscale() == "log"


def test_forest_plot_shows_rate_ratios_on_a_log_axis_without_the_intercept():
    fig = figures.forest_plot(_model_table(), terms=["emotion.", "faces."])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["faces: count", "emotion: happiness"]  # sorted by effect; controls left out
    points = ax.collections[-1].get_offsets()
    assert np.allclose(sorted(points[:, 0]), sorted(np.exp([0.4, -0.2])))
    assert any(np.allclose(line.get_xdata(), [1, 1]) for line in ax.get_lines())  # no-effect line


def test_forest_plot_exponentiates_cis_given_on_the_coefficient_scale():
    fig = figures.forest_plot(_model_table(ci_scale="log"), terms=["emotion."])
    segments = fig.axes[0].collections[0].get_segments()
    (x0, _), (x1, _) = segments[0]
    assert x0 == pytest.approx(np.exp(0.25)) and x1 == pytest.approx(np.exp(0.55))


def test_forest_plot_of_a_linear_model_is_on_a_linear_axis_around_zero():
    table = _model_table().assign(rate_ratio=pd.NA, ci_low=lambda t: t.estimate - 0.1,
                                  ci_high=lambda t: t.estimate + 0.1)
    ax = figures.forest_plot(table).axes[0]
    assert ax.get_xscale() == "linear"
    assert any(np.allclose(line.get_xdata(), [0, 0]) for line in ax.get_lines())


def test_forest_plot_with_groups_draws_each_account():
    both = pd.concat([_model_table().assign(account="a"), _model_table().assign(account="b")])
    ax = figures.forest_plot(both, hue="account").axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_correlation_heatmap_marks_only_small_q_values():
    corr = pd.DataFrame({
        "feature": ["faces.count", "faces.count", "image.brightness", "image.brightness", "racy.nsfw_score", "racy.nsfw_score"],
        "outcome": ["likes", "comments"] * 3,
        "method": "spearman",
        "estimate": [0.5, 0.3, -0.2, -0.45, 0.05, 0.01],
        "q_value": [0.01, 0.2, 0.5, 0.04, 0.9, 0.95],
    })
    fig = figures.correlation_heatmap(corr, max_features=2)
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["-0.20", "-0.45*", "0.30", "0.50*"]  # racy dropped: the weakest feature


def test_engagement_over_time_draws_the_rolling_baseline(dataset):
    df, _ = dataset
    fig = figures.engagement_over_time(df, "likes", window=3)
    line = next(ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("baseline"))
    expected = pd.to_numeric(df.sort_values("taken_at")["likes"]).astype(float).rolling(
        3, center=True, min_periods=1).median()
    assert np.allclose(line.get_ydata(), expected.to_numpy())


def test_engagement_over_time_prefers_the_datasets_baseline(dataset):
    df, _ = dataset
    fig = figures.engagement_over_time(df.assign(likes_baseline=500.0), "likes")
    line = next(ln for ln in fig.axes[0].get_lines() if ln.get_label() == "baseline")
    assert np.allclose(line.get_ydata(), 500.0)


def test_posts_grid_blurs_faces_by_default(dataset):
    df, data_dir = dataset
    blurred = figures.posts_grid(df, "likes", n=2, data_dir=data_dir)
    plain = figures.posts_grid(df, "likes", n=2, data_dir=data_dir, blur=False)
    titles = [ax.get_title() for ax in blurred.axes]
    assert titles[:2] == ["1,500 likes\ngroup", "800 likes\nfull_body"]  # the most liked first
    assert titles[2:] == ["60 likes\nother", "90 likes\nscenery"]
    top_blurred = blurred.axes[0].get_images()[0].get_array()
    top_plain = plain.axes[0].get_images()[0].get_array()
    h, w = top_plain.shape[:2]
    face = (slice(int(0.25 * h), int(0.6 * h)), slice(int(0.35 * w), int(0.65 * w)))
    assert np.abs(top_blurred[face].astype(int) - top_plain[face].astype(int)).mean() > 8
    assert np.array_equal(top_blurred[-10:], top_plain[-10:])  # below the face: untouched
    # the scenery post has no face ("[]"): shown as it is even with blur on
    assert np.array_equal(blurred.axes[3].get_images()[0].get_array(), plain.axes[3].get_images()[0].get_array())


def test_unknown_faces_are_detected_and_blurred(test_data, settings):
    image = load_image(test_data / "interfaces_cc0" / "001.jpg")
    blurrer = privacy.FaceBlurrer(settings)
    boxes = blurrer.boxes(image, boxes=None)  # unknown: the real faces extractor runs
    assert boxes and 0.05 < boxes[0].w < 0.9
    out = blurrer(image, boxes=None)
    b = boxes[0]
    h, w = image.height, image.width
    face = (slice(int(b.y * h), int((b.y + b.h) * h)), slice(int(b.x * w), int((b.x + b.w) * w)))
    assert out[face].std() < image.rgb[face].std() * 0.6


def test_blurring_fails_closed_when_no_detector_can_run(test_data, monkeypatch):
    def no_model(*args, **kwargs):
        raise ModelMissingError("faces model missing")

    monkeypatch.setattr("rumaro_lab.extractors.make_extractor", no_model)
    image = load_image(test_data / "interfaces_cc0" / "002.jpg")
    out = privacy.FaceBlurrer()(image, boxes=None)
    # the whole photo is blurred: every quarter loses most of its detail
    for rows in (slice(0, 250), slice(250, 500)):
        for cols in (slice(0, 250), slice(250, 500)):
            detail_in = np.abs(np.diff(image.rgb[rows, cols].astype(int), axis=1)).mean()
            detail_out = np.abs(np.diff(out[rows, cols].astype(int), axis=1)).mean()
            assert detail_out < detail_in / 3


def test_parse_boxes_keeps_unknown_apart_from_no_face():
    assert privacy.parse_boxes("[]") == []
    assert privacy.parse_boxes(None) is None and privacy.parse_boxes(pd.NA) is None
    assert privacy.parse_boxes("{broken") is None
    assert privacy.parse_boxes("[[0.1, 0.2, 0.3, 0.4, 0.9]]") == [privacy.Box(0.1, 0.2, 0.3, 0.4, 0.9)]


def test_save_figure_writes_png_at_300_dpi_svg_and_pdf(tmp_path, dataset):
    df, _ = dataset
    paths = figures.save_figure(figures.feature_figure(df, "photo_type.label"), tmp_path / "figs",
                                "photo_type")
    assert set(paths) == {"png", "svg", "pdf"}
    with Image.open(paths["png"]) as png:
        assert png.info["dpi"][0] == pytest.approx(300, abs=0.5)
        assert png.width > 2000  # a 10-inch figure at 300 dpi
    assert ET.parse(paths["svg"]).getroot().tag.endswith("svg")
    assert paths["pdf"].read_bytes().startswith(b"%PDF")
    assert not list((tmp_path / "figs").glob(".*"))  # no temporary files left behind
    with pytest.raises(ValueError):
        figures.save_figure(Figure(), tmp_path, "../escape")


def test_house_style_does_not_leak_into_global_rcparams(dataset):
    df, _ = dataset
    before = dict(mpl.rcParams)
    fig = figures.feature_figure(df, "emotion.dominant")
    assert fig.axes[0].spines["top"].get_visible() is False  # the house style was applied...
    after = dict(mpl.rcParams)
    assert {k for k in before if before[k] != after[k] and k != "backend"} == set()  # ...and undone


def test_forest_plot_keeps_feature_terms_and_the_clearest_ones():
    table = pd.DataFrame({
        "term": ["Intercept", "t_years", "alpha"] + [f"f.x{i}" for i in range(6)],
        "role": ["intercept", "control", "dispersion"] + ["feature"] * 6,
        "estimate": [1.0, 0.3, 0.5, 0.1, 0.2, -0.3, 0.05, 0.4, -0.1],
        "q_value": [0.0, 0.0, 0.0, 0.5, 0.01, 0.02, 0.9, 0.03, 0.7],
    })
    table["rate_ratio"] = np.exp(table["estimate"])
    table["ci_low"], table["ci_high"] = table["rate_ratio"] * 0.9, table["rate_ratio"] * 1.1
    ax = figures.forest_plot(table, max_terms=3).axes[0]
    shown = {t.get_text() for t in ax.get_yticklabels()}
    assert shown == {"f: x1", "f: x2", "f: x4"}  # the three smallest q-values, features only
