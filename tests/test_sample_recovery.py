"""End to end on the bundled sample: import -> real extractors -> NB2 model recovers the planted effects.

The sample's likes are simulated (data/sample/README.md) with known photo-type rate ratios in
data/sample/truth.json. If the import, the extractors' photo-type labels, or the model broke,
the estimated rate ratios would stop covering the truth.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rumaro_lab.analysis import fit_model, load_dataset
from rumaro_lab.extractors.runner import extract_account
from rumaro_lab.posts.importing import import_sample

TRUTH = json.loads((Path(__file__).resolve().parents[1] / "rumaro_lab/sample/truth.json").read_text())


@pytest.fixture(scope="module")
def sample_dataset(tmp_path_factory):
    from rumaro_lab.settings import Settings

    root = tmp_path_factory.mktemp("sample")
    settings = Settings(
        _env_file=None, data_dir=root / "data", reports_dir=root / "reports",
        cache_dir=root / "cache", workers=2,
    )
    import_sample(settings)
    summary = extract_account("sample", settings, progress=False)
    assert summary.n_failed == 0
    return load_dataset(["sample"], settings)


def test_extracted_photo_type_agrees_with_true_labels(sample_dataset):
    truth = {str(p["post_id"]): p["label"] for p in TRUTH["posts"]}
    df = sample_dataset.assign(true=sample_dataset["post_id"].map(truth))
    agree = (df["photo_type.label"] == df["true"]).mean()
    assert agree >= 0.75, df[["post_id", "photo_type.label", "true"]]


@pytest.mark.parametrize("label", ["portrait", "group", "full_body"])
def test_negbin_recovers_planted_photo_type_effects(sample_dataset, label):
    table = fit_model(sample_dataset, "likes", ["photo_type.label"], kind="negbin")
    row = table[table["term"].str.startswith(f"photo_type.label[{label} ")]
    assert len(row) == 1, table[["term", "rate_ratio"]]
    row = row.iloc[0]
    true_rr = TRUTH["rate_ratios"][label]
    assert row["ci_low"] <= true_rr <= row["ci_high"], row
    # the effect is found, not only covered: with 8 full-body posts of 61 and the small-sample
    # NB2 errors (Pearson-scaled, t; see analysis.fitters) full body (true 1.6) is only "likely"
    if label == "full_body":
        assert row["rate_ratio"] > 1.3 and row["p_value"] < 0.1, row
    else:
        assert row["ci_low"] > 1.0, row
