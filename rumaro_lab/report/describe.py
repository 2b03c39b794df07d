"""Result tables in words: the sentences a report shows under each table and figure.

Every function takes a table of `rumaro_lab.analysis.analyze` (as a DataFrame, or read back from
its CSV) and returns Markdown. They never fail on a table the data could not support (a
``not computed:`` row, an empty table): they say so instead.

>>> import pandas as pd
>>> print(describe_model(pd.DataFrame([{"note": "not computed: only 3 post(s)"}])))
This model could not be fitted with these posts. not computed: only 3 post(s)
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from ..analysis.estimands import QUESTIONS

#: the question a user asks, and which estimate answers it
USER_QUESTION = "does X help this account"


def _fmt(value: object, digits: int = 2) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if pd.isna(number) else f"{number:.{digits}f}"


def _column(table: pd.DataFrame, name: str) -> pd.Series:
    return table[name] if name in table else pd.Series(pd.NA, index=table.index, dtype="object")


def _numbers(table: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(_column(table, name), errors="coerce")


def _note(table: pd.DataFrame | None) -> str:
    if table is None or "note" not in table:
        return ""
    notes = table["note"].dropna().astype(str)
    return notes.iloc[0] if len(notes) else ""


def _feature_rows(table: pd.DataFrame, features: Iterable[str] | None = None,
                  estimand: str | None = "within") -> pd.DataFrame:
    rows = table[_column(table, "term").notna()]
    if "role" in rows:
        rows = rows[rows["role"].astype(str) == "feature"]
    else:
        rows = rows[~rows["term"].astype(str).str.lower().isin(["intercept", "const"])]
    if estimand is not None and "estimand" in rows and (rows["estimand"].astype(str) == estimand).any():
        rows = rows[rows["estimand"].astype(str) == estimand]
    if features is not None:
        prefixes = tuple(features)
        rows = rows[rows["term"].astype(str).map(lambda t: t.startswith(prefixes))]
    return rows


def _empty(table: pd.DataFrame | None) -> bool:
    return table is None or table.empty or "term" not in table or table["term"].isna().all()


def _line(r: pd.Series) -> str:
    cluster = r.get("cluster")
    together = (f"; one cluster with `{cluster}` (correlated above 0.9: one finding)"
                if isinstance(cluster, str) and cluster != r.get("feature") else "")
    rr = pd.to_numeric(pd.Series([r.get("rate_ratio")]), errors="coerce").iloc[0]
    if pd.notna(rr):
        unit = str(r["scale"]) if pd.notna(r.get("scale")) else "per unit"
        return (f"- `{r['term']}`: rate ratio {_fmt(rr)} ({(float(rr) - 1) * 100:+.0f}%, {unit}; 95% CI "
                f"{_fmt(r.get('ci_low'))} to {_fmt(r.get('ci_high'))}, q = {_fmt(r.get('q_value'), 3)}{together})")
    return (f"- `{r['term']}`: estimate {_fmt(r.get('estimate'))} (95% CI {_fmt(r.get('ci_low'))} to "
            f"{_fmt(r.get('ci_high'))}, q = {_fmt(r.get('q_value'), 3)}{together})")


def _clusters(rows: pd.DataFrame) -> int:
    """How many distinct findings: features of one cluster count once."""
    key = _column(rows, "cluster").fillna(_column(rows, "feature")).fillna(_column(rows, "term"))
    return int(key.astype(str).nunique())


def describe_model(table: pd.DataFrame, q_threshold: float = 0.05,
                   features: Iterable[str] | None = None, estimand: str | None = "within") -> str:
    """Markdown: which feature terms stand out at q < `q_threshold`, the primary family first.

    Only rows of `estimand` (default ``within``: the question a user asks) are read.
    """
    if _empty(table):
        return f"This model could not be fitted with these posts. {_note(table)}".strip()
    rows = _feature_rows(table, features, estimand)
    if _numbers(rows, "estimate").isna().all():
        return f"This model could not be fitted with these posts: {_note(rows) or _note(table)}".strip()
    q = _numbers(rows, "q_value")
    hits = rows[q < q_threshold]
    name = str(table["model"].dropna().iloc[0]) if "model" in table and table["model"].notna().any() else "model"
    n = _numbers(table, "n").dropna()
    which = f" ({rows['estimand'].iloc[0]})" if "estimand" in rows and len(rows) else ""
    head = (f"**{name}**{which} model on {int(n.iloc[0]) if len(n) else 'the'} posts, "
            f"{len(rows)} feature terms: ")
    if hits.empty:
        return head + (f"none stands out at q < {q_threshold:g} after correcting for multiple "
                       "tests. With few posts that is the expected answer, not a proof of no effect.")
    family = _column(hits, "family").astype(str)
    parts = []
    if (_column(rows, "family").astype(str) == "primary").any() and not (family == "primary").any():
        parts.append(f"Headline (the primary family, corrected together): none stands out at "
                     f"q < {q_threshold:g}.")
    for label, members in (("Headline (the primary family, corrected together)", hits[family == "primary"]),
                           ("Exploratory (corrected in their own family; hypotheses, not findings)",
                            hits[family != "primary"])):
        if members.empty:
            continue
        ordered = members.assign(_q=_numbers(members, "q_value")).sort_values("_q")
        lines = [_line(r) for _, r in ordered.head(10).iterrows()]
        more = f"\n- (and {len(members) - 10} more)" if len(members) > 10 else ""
        parts.append(f"{label}: {len(members)} term(s), {_clusters(members)} finding(s) (the levels of "
                     "one category, and features correlated above 0.9, count once)\n\n"
                     + "\n".join(lines) + more)
    return head + f"{len(hits)} stand out at q < {q_threshold:g}.\n\n" + "\n\n".join(parts)


def joint_model_missing(table: pd.DataFrame) -> str | None:
    """Why a joint model table holds no joint fit (Markdown), or ``None`` when it does.

    The analysis falls back to one feature at a time (model name ``*_each``) when there are too
    many terms for the posts, and writes a one-row table with a note when nothing could be fitted.
    """
    if table is not None and "estimand" in table and (table["estimand"].astype(str) == "within").any():
        table = table[table["estimand"].astype(str) == "within"]
    notes = table["note"].dropna().astype(str) if table is not None and "note" in table else pd.Series(dtype=str)
    if _empty(table):
        return "The joint model was not fitted: " + (notes.iloc[0] if len(notes) else "no usable posts.")
    if "model" in table and table["model"].astype(str).str.endswith("_each").all():
        reason = notes.iloc[0].split(";")[0] if len(notes) else "too many terms for the posts"
        return f"The joint model was not fitted ({reason}); the one-feature-at-a-time model above is the answer."
    return None


def significant_features(table: pd.DataFrame, q_threshold: float = 0.05) -> int:
    """How many findings (clusters of feature terms) of the within rows have q < `q_threshold`."""
    if _empty(table):
        return 0
    rows = _feature_rows(table)
    return _clusters(rows[_numbers(rows, "q_value") < q_threshold])


def describe_correlations(table: pd.DataFrame, q_threshold: float = 0.05, top: int = 5,
                          method: str = "spearman") -> str:
    """Markdown: the strongest correlations and how many survive the q-value threshold."""
    if table is None or table.empty or "estimate" not in table:
        return "No correlations could be computed."
    if "method" in table and (table["method"] == method).any():
        table = table[table["method"] == method]
    computed = table[_numbers(table, "estimate").notna()]
    if computed.empty:
        return f"No correlations could be computed: {_note(table) or 'no usable pairs'}."
    table = computed
    est, q = _numbers(table, "estimate"), _numbers(table, "q_value")
    ranked = table.assign(_abs=est.abs()).sort_values("_abs", ascending=False).head(top)
    lines = [f"- `{r['feature']}` vs {r['outcome']}: {_fmt(r['estimate'])} (q = {_fmt(r.get('q_value'), 3)})"
             for _, r in ranked.iterrows()]
    return (f"{int((q < q_threshold).sum())} of {len(table)} feature-outcome pairs ({method}) have "
            f"q < {q_threshold:g}. The strongest associations:\n\n" + "\n".join(lines))


def describe_estimands(tables: dict[str, pd.DataFrame], q_threshold: float = 0.05) -> str:
    """Markdown: which question each number answers, and which one answers "does X help this
    account?", with the features whose pooled and within answers part."""
    estimands: set[str] = set()
    for name, table in tables.items():
        if name.startswith("model_") and "estimand" in table:
            estimands |= set(table["estimand"].dropna().astype(str))
    lines = [f"**Which number answers \"{USER_QUESTION}?\"** The `within` estimates: "
             f"{QUESTIONS['within']} They compare each account's posts only with its own other "
             "posts, so the account's size, audience and niche can't pose as a feature's effect."]
    if estimands <= {"within"}:
        lines.append("This report has one account, so every model row is a `within` estimate.")
        return "\n\n".join(lines)
    lines.append(f"- `pooled`: {QUESTIONS['pooled']} Published estimates (faces and likes, say) are "
                 "of this kind; they mostly compare accounts, not posts.")
    lines.append(f"- `between` (rows `FEATURE (between minus within)`): {QUESTIONS['between']} "
                 "A rate ratio far from 1 with a small q says the pooled number is driven by "
                 "differences between accounts.")
    each = next((t for n, t in tables.items() if n.endswith("_each")), None)
    if each is not None and "role" in each:
        contrast = each[(_column(each, "role").astype(str) == "contrast")
                        & (_numbers(each, "q_value") < q_threshold)]
        if len(contrast):
            names = ", ".join(f"`{f}`" for f in contrast["feature"].astype(str).unique()[:8])
            lines.append(f"Between and within differ (q < {q_threshold:g}) for {names}: for these, "
                         "read the within rows.")
        else:
            lines.append("No feature's between-minus-within contrast stands out at "
                         f"q < {q_threshold:g}.")
    return "\n\n".join(lines[:1]) + "\n\n" + "\n".join(lines[1:3]) + "\n\n" + "\n\n".join(lines[3:])


def describe_meta(meta: pd.DataFrame, q_threshold: float = 0.05) -> str:
    """Markdown: the random-effects summary of the accounts' own estimates, and its spread."""
    if meta is None or meta.empty or "estimate" not in meta or _numbers(meta, "estimate").isna().all():
        return f"No meta-analysis across accounts: {_note(meta) or 'too few accounts with an estimate'}."
    rows = meta[_numbers(meta, "estimate").notna()]
    q = _numbers(rows, "q_value")
    lines = []
    for _, r in rows.assign(_q=q).sort_values("_q").head(10).iterrows():
        rr = r.get("rate_ratio")
        value = f"rate ratio {_fmt(rr)}" if pd.notna(pd.to_numeric(pd.Series([rr]), errors="coerce").iloc[0]) \
            else f"estimate {_fmt(r.get('estimate'))}"
        lines.append(f"- `{r['term']}`: {value} over {int(float(r['accounts']))} accounts (95% CI "
                     f"{_fmt(r.get('ci_low'))} to {_fmt(r.get('ci_high'))}, q = {_fmt(r.get('q_value'), 3)}; "
                     f"I\u00b2 = {_fmt(float(r['i2']) * 100 if pd.notna(r.get('i2')) else None, 0)}%)")
    hits = int((q < q_threshold).sum())
    return (f"Random-effects summary of each account's own (`within`) estimate: {hits} of {len(rows)} "
            f"terms have q < {q_threshold:g}. I\u00b2 is the share of the spread between accounts that "
            "is real rather than noise: a high I\u00b2 means the feature works differently from one "
            "account to another, and the average says little about any one of them.\n\n" + "\n".join(lines))


def findings_per_account(tables: dict[str, pd.DataFrame], q_threshold: float = 0.05) -> dict[str, int]:
    """account -> findings (clusters) with q < `q_threshold` in that account's own estimates.

    Several accounts: BH within each account (and family) of ``account_estimates``; one account:
    the within rows of the one-at-a-time model.
    """
    from ..analysis.fdr import bh_qvalues

    table = tables.get("account_estimates")
    if table is None or _empty(table) or "account" not in table:
        summary = tables.get("dataset_summary")
        each = next((t for n, t in tables.items() if n.endswith("_each")), None)
        if summary is None or "account" not in summary or len(summary) != 1:
            return {}
        return {str(summary["account"].iloc[0]): significant_features(each) if each is not None else 0}
    counts: dict[str, int] = {}
    for (account, _), rows in table.groupby([table["account"].astype(str),
                                             _column(table, "family").astype(str)], sort=False):
        q = bh_qvalues(_numbers(rows, "p_value").to_numpy(dtype=float))
        counts[account] = counts.get(account, 0) + _clusters(rows[q < q_threshold])
    return counts
