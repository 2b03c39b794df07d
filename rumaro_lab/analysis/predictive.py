"""Out-of-sample check: do the visual features predict engagement beyond the controls?

In-sample associations flatter a model with many features. Two checks, both *within account*:

- ``time`` (every analysis): each account's posts are ordered in time and cut into
  ``folds + 1`` consecutive blocks; fold k fits on blocks 0..k-1 of every account and predicts
  block k (an expanding window: the model never sees the future). With several accounts the
  model has one intercept per account, learned from that account's earlier posts.
- ``leave-one-account-out`` (3 or more accounts): fit on every other account, predict the one
  left out: do the features carry over to an account the model has never seen? Outcomes and
  columns are centred within each account first, so only within-account differences count.

Two models are compared on the same folds: ``controls`` alone (time trend, hour, weekday, media
type, caption, hashtags) and ``controls+features``. Both are ridge regressions of
``log1p(outcome)`` (minus log exposure for ``*_rate`` / ``*_relative`` outcomes) on
standardised columns, with the penalty chosen on the training posts by generalised
cross-validation. An unknown feature value is replaced by the mean of that feature over the
fold's *training* posts, plus a ``[missing]`` indicator: no test post informs the imputation.

The score is the **within-account** Spearman correlation between predicted and actual outcome
over the held-out posts (both centred within each account, so that predicting which account is
bigger earns nothing). The ``gain`` row is the difference (features minus controls) with a
permutation p-value: the feature block is shuffled *within each account* (keeping the features'
relations to each other and the account's mix of posts, breaking their link to the outcome)
`permutations` times, and p = (1 + #(shuffled gain >= observed gain)) / (1 + permutations).

>>> from rumaro_lab.analysis.simulate import simulate_account
>>> from rumaro_lab.analysis.dataset import prepare_dataset
>>> df = prepare_dataset(*simulate_account(300, {"sim.x1": 2.0}, seed=4))
>>> table = predictive_check(df, features=["sim.x1", "sim.flag1"], permutations=49)
>>> gain = table[(table["fold"] == "all") & (table["model"] == "gain")].iloc[0]
>>> bool(gain["spearman"] > 0.2), bool(gain["p_value"] <= 0.05)
(True, True)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import AnalysisError
from .dataset import feature_columns
from .design import build_design, resolve_outcome
from .fdr import bh_qvalues
from .glm import one_blas_thread
from .outcomes import DEFAULT_CONTROLS

log = logging.getLogger(__name__)

PREDICTIVE_COLUMNS = ["check", "fold", "model", "n_train", "n_test", "spearman", "p_value",
                      "q_value", "note"]
#: ridge penalties tried, relative to the number of training posts
PENALTIES = np.logspace(-3, 3, 25)
MIN_POSTS = 30
#: leave-one-account-out needs this many accounts
MIN_ACCOUNTS_LOAO = 3


def _ridge_from_moments(n, s1, gram, xy, y_sum, yy):
    """Ridge coefficients from a training set's sums (GCV-chosen penalty); -> (mean, sd, beta, y_mean).

    Working from sums (X'X, X'y, ...) instead of the rows lets nested training sets (the
    expanding window), left-out accounts and permutations reuse one pass over the posts.
    """
    mean = s1 / n
    cov = gram / n - np.outer(mean, mean)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    keep = sd > 1e-12 * np.maximum(1.0, np.abs(mean))
    y_mean = y_sum / n
    beta = np.zeros(len(s1))
    if not keep.any():
        return mean, np.where(keep, sd, 1.0), beta, y_mean
    scale = sd[keep]
    ztz = n * cov[np.ix_(keep, keep)] / np.outer(scale, scale)
    zty = (xy[keep] - n * mean[keep] * y_mean) / scale
    yc2 = yy - n * y_mean**2
    eigen, vectors = np.linalg.eigh(ztz)
    eigen = np.clip(eigen, 0, None)
    positive = eigen > 1e-10 * max(eigen.max(), 1e-300)
    projected = vectors.T @ zty  # = s * (U'y) in SVD terms
    uty2 = np.where(positive, projected**2 / np.where(positive, eigen, 1.0), 0.0)
    outside = max(float(yc2 - uty2.sum()), 0.0)  # the part of y no penalty can fit
    lambdas = PENALTIES * n
    shrink = np.where(positive, eigen / (eigen + lambdas[:, None]), 0.0)
    rss = outside + (((1 - shrink) ** 2) * uty2).sum(axis=1)
    gcv = n * rss / np.maximum(n - shrink.sum(axis=1), 1e-9) ** 2
    best = lambdas[int(np.argmin(gcv))]
    beta[keep] = vectors @ (projected / (eigen + best)) / scale
    return mean, np.where(keep, sd, 1.0), beta, y_mean


def ridge_predict(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray) -> np.ndarray:
    """Ridge regression with the penalty chosen by generalised cross-validation (GCV).

    Columns are standardised on the training rows (constant ones drop out); the intercept is
    not penalised.
    """
    moments = _moments(X_train, y_train)
    mean, _, beta, y_mean = _ridge_from_moments(*moments)
    return y_mean + (X_test - mean) @ beta


def _moments(X: np.ndarray, y: np.ndarray) -> list:
    return [len(y), X.sum(axis=0), X.T @ X, X.T @ y, float(y.sum()), float(y @ y)]


def _imputation(moments: list, pairs: list[tuple[int, int]], k: int) -> np.ndarray:
    """T such that ``X @ T`` replaces each unknown (stored as 0) by the training mean of the
    known values; the means come from the training moments (raw column sums) only."""
    T = np.eye(k)
    n, s1 = moments[0], moments[1]
    for value, flag in pairs:
        known = n - s1[flag]
        T[flag, value] = s1[value] / known if known > 0 else 0.0
    return T


def _fit(moments: list, T: np.ndarray, centred: list | None = None):
    """Ridge on the imputed columns; `centred` moments (within-account) replace the raw ones."""
    n, s1, gram, xy, y_sum, yy = centred if centred is not None else moments
    return _ridge_from_moments(n, T.T @ s1, T.T @ gram @ T, T.T @ xy, y_sum, yy)


def _within_spearman(prediction: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    """Spearman of prediction vs outcome after centring both within each account."""
    if len(y) < 3:
        return float("nan")
    centred = []
    for values in (prediction, y):
        means = pd.Series(values).groupby(groups).transform("mean").to_numpy()
        centred.append(values - means)
    a, b = centred
    if np.ptp(a) < 1e-12 or np.ptp(b) < 1e-12:
        return float("nan")
    return float(stats.spearmanr(a, b)[0])


def time_blocks(groups: np.ndarray, order: np.ndarray, folds: int) -> list[np.ndarray]:
    """`folds + 1` blocks of row positions: block k holds the k-th time slice of every account."""
    parts: list[list[np.ndarray]] = [[] for _ in range(folds + 1)]
    ordered_groups = groups[order]
    for g in np.unique(groups):
        rows = order[ordered_groups == g]
        for k, chunk in enumerate(np.array_split(rows, folds + 1)):
            parts[k].append(chunk)
    return [np.concatenate(p) if p else np.array([], dtype=int) for p in parts]


def _time_oos(X, y, blocks, pairs) -> np.ndarray:
    """Out-of-sample predictions of every block but the first (expanding window)."""
    predictions = np.full(len(y), np.nan)
    k = X.shape[1]
    total = [0, np.zeros(k), np.zeros((k, k)), np.zeros(k), 0.0, 0.0]
    for fold in range(1, len(blocks)):
        rows = blocks[fold - 1]
        total = [a + b for a, b in zip(total, _moments(X[rows], y[rows]), strict=True)]
        test = blocks[fold]
        if total[0] < 2 or len(test) == 0:
            continue
        T = _imputation(total, pairs, k)
        mean, _, beta, y_mean = _fit(total, T)
        predictions[test] = y_mean + (X[test] @ T - mean) @ beta
    return predictions


def _loao(X, y, groups, pairs) -> np.ndarray:
    """Leave-one-account-out predictions, on within-account centred moments."""
    k = X.shape[1]
    raw, centred = {}, {}
    for g in np.unique(groups):
        rows = groups == g
        Xg, yg = X[rows], y[rows]
        raw[g] = _moments(Xg, yg)
        Xc, yc = Xg - Xg.mean(axis=0), yg - yg.mean()
        centred[g] = [len(yg), np.zeros(k), Xc.T @ Xc, Xc.T @ yc, 0.0, float(yc @ yc)]
    total_raw = [sum(v[i] for v in raw.values()) for i in range(6)]
    total_centred = [sum(v[i] for v in centred.values()) for i in range(6)]
    predictions = np.full(len(y), np.nan)
    for g in raw:
        train_raw = [a - b for a, b in zip(total_raw, raw[g], strict=True)]
        train_centred = [a - b for a, b in zip(total_centred, centred[g], strict=True)]
        if train_raw[0] < 2:
            continue
        T = _imputation(train_raw, pairs, k)
        _, _, beta, _ = _fit(train_raw, T, train_centred)
        rows = groups == g
        predictions[rows] = (X[rows] @ T) @ beta
    return predictions


def _permute_within(rng: np.random.Generator, groups: np.ndarray, members: list[np.ndarray]) -> np.ndarray:
    index = np.arange(len(groups))
    for rows in members:
        index[rows] = rows[rng.permutation(len(rows))]
    return index


@one_blas_thread
def predictive_check(
    df: pd.DataFrame,
    outcome: str = "likes",
    features: Sequence[str] | None = None,
    controls: Sequence[str] = DEFAULT_CONTROLS,
    folds: int = 5,
    permutations: int = 199,
    seed: int = 0,
    min_posts: int = MIN_POSTS,
) -> pd.DataFrame:
    """Tidy table: per check, per fold and overall (``fold == "all"``) the within-account
    Spearman of each model, and the gain with its permutation p.

    ``table.attrs["summary"]`` holds one sentence for a reader. Raises `AnalysisError` when
    there are fewer than `min_posts` usable posts or no usable feature.
    """
    features = list(feature_columns(df) if features is None else features)
    spec = resolve_outcome(df, outcome)
    several = "account" in df and df["account"].nunique() > 1
    design = build_design(df, spec, features, controls, per_sd=False, impute=True,
                          count_model=False, account_effects=several,
                          groups="account" if "account" in df else None)
    n = design.n
    if n < min_posts:
        raise AnalysisError(f"only {n} post(s) usable for a predictive check of {outcome} "
                            f"(at least {min_posts} needed)", hint="fetch more posts")
    feature_cols = design.columns("feature")
    if not feature_cols:
        raise AnalysisError("no usable feature for the predictive check",
                            hint="run `rumaro extract` with more extractors")
    control_cols = [j for j, t in enumerate(design.terms) if t.role != "feature"]
    X = np.hstack([design.X[:, control_cols], design.X[:, feature_cols]])
    terms = [design.terms[j] for j in control_cols + feature_cols]
    position = {t.name: j for j, t in enumerate(terms)}
    pairs = [(position[t.source], j) for j, t in enumerate(terms)
             if t.name.endswith("[missing]") and t.source in position]
    n_controls = len(control_cols)  # controls are never imputed: their pairs are features'
    y = np.log1p(np.clip(design.y, 0, None)) - (design.offset if design.offset is not None else 0.0)
    groups = design.groups if design.groups is not None else np.zeros(n, dtype=int)
    taken = pd.to_datetime(df.loc[design.index, "taken_at"], utc=True) if "taken_at" in df else None
    order = (np.argsort(taken.to_numpy(), kind="stable") if taken is not None else np.arange(n))
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    blocks = time_blocks(groups, order, folds)
    fixed_effects = {j for j, t in enumerate(terms) if t.source == "account"}

    def leave_one_out(Z: np.ndarray, p: list[tuple[int, int]]) -> np.ndarray:
        # an account never seen has no intercept: within-account centring replaces them
        cols = [j for j in range(Z.shape[1]) if j not in fixed_effects]
        remap = {c: i for i, c in enumerate(cols)}
        return _loao(Z[:, cols], y, groups, [(remap[v], remap[f]) for v, f in p])

    checks = [("time", lambda Z, p: _time_oos(Z, y, blocks, p))]
    n_accounts = len(members)
    if n_accounts >= MIN_ACCOUNTS_LOAO:
        checks.append(("leave-one-account-out", leave_one_out))
    rng = np.random.default_rng(seed)
    rows, summaries, notes = [], [], list(design.notes)
    for name, run in checks:
        base = run(X[:, :n_controls], [])
        full = run(X, pairs)
        held = np.isfinite(base) & np.isfinite(full)
        score_base = _within_spearman(base[held], y[held], groups[held])
        score_full = _within_spearman(full[held], y[held], groups[held])
        gain = score_full - score_base
        exceed = 0
        for _ in range(permutations):
            shuffled = X.copy()
            shuffled[:, n_controls:] = X[_permute_within(rng, groups, members), n_controls:]
            permuted = run(shuffled, pairs)
            exceed += (_within_spearman(permuted[held], y[held], groups[held]) - score_base) >= gain
        p = (1 + exceed) / (1 + permutations) if permutations and np.isfinite(gain) else np.nan
        if name == "time":
            for k in range(1, len(blocks)):
                test = blocks[k][np.isfinite(full[blocks[k]])]
                n_train = sum(len(b) for b in blocks[:k])
                for model, prediction in (("controls", base), ("controls+features", full)):
                    rows.append({"check": name, "fold": str(k), "model": model, "n_train": n_train,
                                 "n_test": len(test),
                                 "spearman": _within_spearman(prediction[test], y[test], groups[test])})
        strength = ("the features add clear out-of-sample signal" if p < 0.05 and gain > 0.05 else
                    "the features add little out-of-sample signal" if p < 0.05 else
                    "no evidence that the features predict beyond the controls")
        what = ("later posts of the same accounts" if name == "time" else
                f"each of {n_accounts} accounts left out in turn")
        summaries.append(f"Predicting {what}: within-account Spearman {score_full:.2f} with features vs "
                         f"{score_base:.2f} with controls alone (gain {gain:+.2f}, permutation p = "
                         f"{p:.3f}, {int(held.sum())} held-out posts): {strength}.")
        total = {"check": name, "fold": "all", "n_train": np.nan, "n_test": int(held.sum())}
        rows.append({**total, "model": "controls", "spearman": score_base})
        rows.append({**total, "model": "controls+features", "spearman": score_full})
        rows.append({**total, "model": "gain", "spearman": gain, "p_value": p, "note": strength})
    if 0 < permutations < 99:
        notes.append(f"only {permutations} permutations: p can't be below {1 / (permutations + 1):.2f}")
    if notes:
        for row in rows:
            if row["model"] == "gain":
                row["note"] = "; ".join([row["note"], *notes])
    table = pd.DataFrame(rows).reindex(columns=PREDICTIVE_COLUMNS)
    table["q_value"] = bh_qvalues(pd.to_numeric(table["p_value"], errors="coerce").to_numpy(dtype=float))
    for column in ("n_train", "n_test"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("Int64")
    for column in ("spearman", "p_value", "q_value"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("Float64")
    for column in ("check", "fold", "model", "note"):
        table[column] = table[column].astype("string")
    table.attrs["summary"] = " ".join(summaries)
    log.info("predictive check of %s: %s", outcome, table.attrs["summary"])
    return table
