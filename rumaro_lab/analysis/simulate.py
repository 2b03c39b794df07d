"""Simulated accounts with planted effects: for validation tests and the benchmark.

Likes follow the model the analysis fits (NB2 with a log link): ``log mu = log(base) +
trend * t_years + sum(log(rate ratio) * feature)``, ``var = mu + alpha mu^2``. Continuous
features are standard normal (a rate ratio is per unit = per SD of the population), binary
features are True with probability `prevalence`, and ``photo_type.label`` takes the levels of
`levels` (reference ``scenery``). Comments are NB around `comments_per_like` x likes.

>>> posts, features = simulate_account(50, {"sim.x1": 1.5}, seed=1)
>>> len(posts), list(features.columns[-3:])
(50, ['sim.x1', 'sim.flag1', 'photo_type.label'])
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..posts.schema import coerce_posts

LEVELS = ("scenery", "portrait", "full_body", "group", "other")


def nb2_draw(rng: np.random.Generator, mu: np.ndarray, alpha: float) -> np.ndarray:
    """Negative binomial (NB2) counts with mean `mu` and variance ``mu + alpha mu^2``."""
    if alpha <= 0:
        return rng.poisson(mu)
    size = 1.0 / alpha
    return rng.negative_binomial(size, size / (size + mu))


def simulate_account(
    n_posts: int = 200,
    rate_ratios: Mapping[str, float] | None = None,
    *,
    n_continuous: int = 1,
    n_binary: int = 1,
    categorical: bool = True,
    levels: tuple[str, ...] = LEVELS[:3],
    prevalence: float = 0.3,
    alpha: float = 0.3,
    base_likes: float = 300.0,
    trend_per_year: float = 0.3,
    comments_per_like: float = 0.03,
    followers: int | None = 10_000,
    hidden_likes: int = 0,
    account: str = "sim",
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(posts table, features table) of one simulated account, following the contracts.

    `rate_ratios` maps ``sim.xK`` / ``sim.flagK`` / ``photo_type.label=LEVEL`` to the true rate
    ratio (1 when absent). `hidden_likes` posts get a null like count.
    """
    rng = np.random.default_rng(seed)
    rate_ratios = dict(rate_ratios or {})
    start = pd.Timestamp("2022-01-01", tz="UTC")
    seconds = np.sort(rng.uniform(0, 2 * 365.25 * 86400, n_posts))
    taken = start + pd.to_timedelta(seconds, unit="s")
    t_years = seconds / (365.25 * 86400)
    features = pd.DataFrame({"account": account, "post_id": [f"p{i}" for i in range(n_posts)]})
    features["image"] = [f"raw/{account}/p{i}.jpg" for i in range(n_posts)]
    features["status"] = "ok"
    log_mu = np.log(base_likes) + trend_per_year * t_years
    for k in range(1, n_continuous + 1):
        x = rng.standard_normal(n_posts)
        features[f"sim.x{k}"] = pd.array(x, dtype="Float64")
        log_mu += np.log(rate_ratios.get(f"sim.x{k}", 1.0)) * x
    for k in range(1, n_binary + 1):
        flag = rng.random(n_posts) < prevalence
        features[f"sim.flag{k}"] = pd.array(flag, dtype="boolean")
        log_mu += np.log(rate_ratios.get(f"sim.flag{k}", 1.0)) * flag
    if categorical:
        label = rng.choice(np.array(levels), size=n_posts)
        features["photo_type.label"] = pd.array(label, dtype="string")
        log_mu += np.log([rate_ratios.get(f"photo_type.label={v}", 1.0) for v in label])
    likes = nb2_draw(rng, np.exp(log_mu), alpha).astype("float")
    comments = nb2_draw(rng, comments_per_like * likes + 0.5, 0.5)
    if hidden_likes:
        likes[rng.choice(n_posts, size=hidden_likes, replace=False)] = np.nan
    captions = [" ".join(["word"] * int(k)) for k in rng.integers(0, 40, n_posts)]
    posts = pd.DataFrame({
        "account": account,
        "post_id": features["post_id"],
        "shortcode": features["post_id"],
        "taken_at": taken,
        "likes": pd.array(likes, dtype="Float64").round().astype("Int64"),
        "comments": pd.array(comments, dtype="Int64"),
        "caption": captions,
        "hashtags": [[f"tag{j}" for j in range(int(k))] for k in rng.integers(0, 6, n_posts)],
        "media_type": rng.choice(np.array(["image", "sidecar"]), size=n_posts, p=[0.8, 0.2]),
        "media": [[p] for p in features["image"]],
        "followers": followers,
        "source": "table",
    })
    return coerce_posts(posts), features


def simulate_accounts(
    n_accounts: int = 15,
    posts_per_account: int | tuple[int, int] = 40,
    within_rate_ratio: float = 1.0,
    *,
    confounding: float = 1.0,
    account_sd: float = 0.4,
    serial_sd: float = 0.3,
    serial_rho: float = 0.6,
    alpha: float = 0.2,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(posts, features) of several accounts where bigger accounts post ``sim.flag1`` more.

    Account a has ``followers`` log-uniform in 1k..1M (z_a: its standardised log size). Its share
    of posts with the flag rises with size, ``expit(-0.5 + 1.2 z_a)``, and with `confounding` its
    likes per follower too, ``exp(confounding * 0.5 * z_a + N(0, account_sd))``: so posts with
    the flag get more likes per follower *across* accounts while, *within* each account, the
    flag multiplies likes by `within_rate_ratio` (the truth of the within estimand). Posts of an
    account share an AR(1) log-normal shock (`serial_sd`, `serial_rho`) on top of NB2 noise,
    so their errors are correlated, as on a real account (a good week, a bad week).
    """
    rng = np.random.default_rng(seed)
    log_size = rng.uniform(np.log(1e3), np.log(1e6), n_accounts)
    z = (log_size - log_size.mean()) / max(log_size.std(), 1e-9)
    all_posts, all_features = [], []
    for a in range(n_accounts):
        n = (posts_per_account if isinstance(posts_per_account, int)
             else int(rng.integers(posts_per_account[0], posts_per_account[1] + 1)))
        account = f"acct{a:02d}"
        followers = int(np.exp(log_size[a]))
        flag = rng.random(n) < 1 / (1 + np.exp(0.5 - 1.2 * z[a]))
        shock = np.zeros(n)
        innovation = rng.normal(0, serial_sd * np.sqrt(1 - serial_rho**2), n)
        shock[0] = rng.normal(0, serial_sd)
        for i in range(1, n):
            shock[i] = serial_rho * shock[i - 1] + innovation[i]
        rate = 0.03 * np.exp(confounding * 0.5 * z[a] + rng.normal(0, account_sd))
        mu = followers * rate * np.exp(np.log(within_rate_ratio) * flag + shock)
        likes = nb2_draw(rng, mu, alpha)
        start = pd.Timestamp("2023-01-01", tz="UTC")
        taken = start + pd.to_timedelta(np.sort(rng.uniform(0, 365 * 86400, n)), unit="s")
        ids = [f"{account}-{i}" for i in range(n)]
        all_features.append(pd.DataFrame({"account": account, "post_id": ids, "status": "ok",
                                           "sim.flag1": pd.array(flag, dtype="boolean")}))
        all_posts.append(pd.DataFrame({
            "account": account, "post_id": ids, "shortcode": ids, "taken_at": taken,
            "likes": pd.array(likes, dtype="Int64"),
            "comments": pd.array(nb2_draw(rng, 0.02 * likes + 0.5, 0.5), dtype="Int64"),
            "caption": "", "hashtags": [[] for _ in range(n)], "media_type": "image",
            "media": [[f"raw/{account}/{i}.jpg"] for i in ids], "followers": followers,
            "source": "table"}))
    return coerce_posts(pd.concat(all_posts, ignore_index=True)), pd.concat(all_features, ignore_index=True)
