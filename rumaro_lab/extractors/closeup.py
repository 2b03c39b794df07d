"""Close-up or view: is a photo without people a close-up of a thing (an object, an animal, a
plant, food) or a view (landscape, city, landmark, sky, underwater)?

No scene classifier runs offline here (../shared/MODELS.md), so this is a *linear probe*: a
ridge logistic regression on the 1280 image features of nsfwjs's MobileNetV2 (layer
``flatten_1``, what nsfwjs's own classifier reads; ``make models`` exports it as the model's
second output). `racy` runs that network anyway, so the probe costs one dot product.

- **Where it is computed:** `rumaro_lab.extractors.racy.Racy` (feature ``racy.closeup``), with
  `CloseupProbe.probability`; `photo_type` reads it to tell ``other`` from ``scenery``.
- **Its weights:** ``closeup_probe.json`` beside this file, written by
  ``benchmarks/train_closeup_probe.py`` (`fit_probe`) from the photos of
  ``benchmarks/labels/closeup_train.csv``: 131 photos labelled by eye, none of them in
  benchmarks/data/feed_eval: 101 public-domain / CC0 / CC BY photos of Debian's GCompris data
  (views: monuments, windmills, dams, underwater; close-ups: animals, fish, tools, tableware,
  balls, drums) and 30 views cut from CC0 panoramas of the npm package @pmndrs/assets.
  Measured in docs/extractors.md (photo_type): AUC 0.92 on feed_eval's 70 scenery/other photos.
- **Features as the probe sees them:** square roots of the (non-negative) features, each
  standardised with the training set's mean and standard deviation.

>>> probe = CloseupProbe.load()
>>> probe.coef.shape
(1280,)
>>> 0.0 <= probe.probability(np.zeros(1280, dtype=np.float32)) <= 1.0
True
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..fileio import write_json

PROBE_FILE = Path(__file__).with_name("closeup_probe.json")
#: the nsfwjs output that holds the image features (``make models``: extra output ``flatten_1``)
FEATURES_OUTPUT = 1


def probe_sha256() -> str:
    """sha256 of the probe's weights file: part of `racy`'s cache key (`Racy.cache_config_hash`)."""
    return _file_sha256(PROBE_FILE)


@functools.lru_cache(maxsize=4)
def _file_sha256(path: Path) -> str:
    from ..images import file_sha256

    return file_sha256(Path(path))


def _transform(features: np.ndarray) -> np.ndarray:
    # the features are averages of ReLU6 maps (>= 0, skewed): the square root evens them out
    return np.sqrt(np.maximum(np.asarray(features, dtype=np.float64), 0.0))


@dataclass(frozen=True)
class CloseupProbe:
    """A logistic regression on standardised square-rooted image features."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> CloseupProbe:
        """The stored probe (``closeup_probe.json``), or the one at `path`."""
        data = json.loads(Path(path or PROBE_FILE).read_text(encoding="utf-8"))
        return cls(np.asarray(data["mean"]), np.asarray(data["scale"]), np.asarray(data["coef"]),
                   float(data["intercept"]), data.get("meta", {}))

    def save(self, path: Path) -> Path:
        write_json(Path(path), {
            "meta": self.meta, "intercept": round(self.intercept, 8),
            "mean": np.round(self.mean, 8).tolist(), "scale": np.round(self.scale, 8).tolist(),
            "coef": np.round(self.coef, 8).tolist(),
        })
        return Path(path)

    def probability(self, features: np.ndarray) -> float:
        """Probability that the photo is a close-up (0..1), from one image's 1280 features."""
        z = (_transform(features).ravel() - self.mean) / self.scale
        return float(1.0 / (1.0 + np.exp(-(z @ self.coef + self.intercept))))


def fit_probe(features: np.ndarray, closeup: np.ndarray, alpha: float,
              meta: dict[str, Any] | None = None) -> CloseupProbe:
    """Fit the probe: ridge logistic regression (statsmodels GLM, L2 penalty `alpha` on the mean
    log-likelihood, the intercept not penalised) of `closeup` (1/0) on the features (n x 1280).
    The two classes weigh the same whatever their counts (a feed has about as many views as
    close-ups), so 0.5 is the even-odds threshold.

    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 20)
    >>> X = rng.random((40, 8)) + y[:, None] * 0.5
    >>> probe = fit_probe(X, y, alpha=0.1)
    >>> probe.probability(X[-1]) > 0.5 > probe.probability(X[0])
    True
    """
    import statsmodels.api as sm

    t = _transform(features)
    mean, scale = t.mean(axis=0), t.std(axis=0)
    scale[scale == 0] = 1.0  # a feature constant on the training set says nothing
    design = np.column_stack([np.ones(len(t)), (t - mean) / scale])
    penalty = np.full(design.shape[1], float(alpha))
    penalty[0] = 0.0
    y = np.asarray(closeup, dtype=float)
    weights = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))
    model = sm.GLM(y, design, family=sm.families.Binomial(), freq_weights=weights)
    params = np.asarray(model.fit_regularized(alpha=penalty, L1_wt=0.0).params)
    return CloseupProbe(mean, scale, params[1:], float(params[0]), dict(meta or {}, alpha=alpha))
