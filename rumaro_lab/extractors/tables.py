"""The tables a run writes: one typed row per image or post, features only; artifacts beside.

``features.parquet`` starts with `KEY_COLUMNS` (account, post_id, the image used and its sha256,
status, error), then one ``EXTRACTOR.FEATURE`` column per declared feature with its declared
dtype. Structured outputs (boxes, keypoints, masks) go to ``artifacts.parquet`` beside it: one row
per post, one JSON column per declared artifact (`read_artifacts` parses them back).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ImageLoadError
from ..fileio import write_parquet
from ..images import file_sha256
from .cache import CacheKey
from .plan import Plan, Step

#: The first columns of features.parquet, before the ``EXTRACTOR.FEATURE`` ones.
KEY_COLUMNS: dict[str, str] = {
    "account": "string",
    "post_id": "string",
    "image": "string",
    "image_sha256": "string",
    "n_images": "Int64",
    "status": "string",
    "error": "string",
}
#: How a sidecar's images become one row.
AGGREGATES = ("cover", "mean", "max")
#: Prefix of the error of an image that could not be read (no extractor ran on it).
LOAD_ERROR = "load"
#: The key columns artifacts.parquet shares with features.parquet.
ARTIFACT_KEYS = ("account", "post_id", "image", "image_sha256")


# -- work units, jobs and results -----------------------------------------------------------
@dataclass
class Unit:
    """One image of one post (or one image given directly)."""

    label: str  # data-dir-relative path, as in the posts table
    path: Path
    post: dict[str, Any]
    sha256: str | None = None
    load_error: str | None = None
    group: Group | None = None


@dataclass
class Group:
    """Units with identical cache keys (same bytes, same options): computed once."""

    label: str
    path: Path
    sha256: str
    post: dict[str, Any]
    config_hashes: dict[str, str]
    known: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    #: outputs in `known` computed without a failed optional requirement (never cached)
    uncached: set[str] = field(default_factory=set)
    load_error: str | None = None
    stages_left: int = 0

    def key(self, step: Step) -> CacheKey:
        return CacheKey(self.sha256, step.name, str(step.cls.version), self.config_hashes[step.name])


def hash_files(units: Sequence[Unit]) -> None:
    """sha256 of every image (threads: hashlib releases the GIL on large buffers)."""
    by_path: dict[Path, list[Unit]] = {}
    for unit in units:
        by_path.setdefault(unit.path, []).append(unit)

    def one(path: Path) -> tuple[str | None, str | None]:
        try:
            return file_sha256(path), None
        except FileNotFoundError:
            return None, "file not found"
        except IsADirectoryError:
            return None, "is a directory"
        except OSError as exc:
            return None, f"cannot read ({exc.strerror or exc})"

    with ThreadPoolExecutor(max_workers=4) as pool:
        for path, (sha, error) in zip(by_path, pool.map(one, by_path), strict=True):
            for unit in by_path[path]:
                unit.sha256 = sha
                if error:
                    unit.load_error = str(ImageLoadError.for_path(unit.label, error))


def unit_errors(unit: Unit, plan: Plan) -> list[str]:
    if unit.load_error:
        return [f"{LOAD_ERROR}: {unit.load_error}"]
    group = unit.group
    assert group is not None
    if group.load_error:
        return [f"{LOAD_ERROR}: {group.load_error}"]
    return [f"{n}: {group.errors[n]}" for n in plan.names if n in group.errors]


def unit_status(unit: Unit, plan: Plan) -> str:
    if unit.load_error or unit.group is None or unit.group.load_error:
        return "error"
    known = [n for n in plan.names if n in unit.group.known]
    if len(known) == len(plan.names):
        return "ok"
    return "partial" if known else "error"


def _feature_columns(units: Sequence[Unit], plan: Plan) -> dict[str, pd.api.extensions.ExtensionArray]:
    columns = {}
    for step in plan.steps:
        values = [
            (u.group.known.get(step.name) if u.group is not None else None) or {} for u in units
        ]
        for feature, spec in step.cls.features.items():
            columns[f"{step.name}.{feature}"] = pd.array(
                [v.get(feature) for v in values], dtype=spec.dtype
            )
    return columns


def image_table(units: Sequence[Unit], plan: Plan) -> pd.DataFrame:
    errors = ["; ".join(unit_errors(u, plan)) or None for u in units]
    df = pd.DataFrame(
        {
            "image": pd.array([u.label for u in units], dtype="string"),
            "image_sha256": pd.array([u.sha256 for u in units], dtype="string"),
            "status": pd.array([unit_status(u, plan) for u in units], dtype="string"),
            "error": pd.array(errors, dtype="string"),
            **_feature_columns(units, plan),
        }
    )
    return df


def post_table(
    posts: pd.DataFrame,
    image_df: pd.DataFrame,
    post_units: list[list[int]],
    n_images: list[int],
    plan: Plan,
    aggregate: str,
) -> pd.DataFrame:
    columns = plan.columns()
    n = len(posts)
    has_image = [bool(ids) for ids in post_units]
    cover_idx = [ids[0] if ids else -1 for ids in post_units]
    # Posts without an image get an all-null row: take the cover rows, then blank them.
    padded = pd.concat([image_df, image_df.iloc[:0].reindex([len(image_df)])], ignore_index=True)
    rows = padded.iloc[[i if i >= 0 else len(image_df) for i in cover_idx]].reset_index(drop=True)

    status = rows["status"].astype("object").tolist()
    errors = rows["error"].astype("object").tolist()
    for p in range(n):
        if not has_image[p]:
            status[p], errors[p] = "error", f"{LOAD_ERROR}: the post has no image"

    if aggregate != "cover" and len(image_df):
        numeric = [c for c, t in columns.items() if t in ("Float64", "Int64")]
        owner = pd.Series(
            [p for p, ids in enumerate(post_units) for _ in ids], index=range(len(image_df))
        )
        if numeric:
            agg = image_df[numeric].groupby(owner.values).agg(aggregate)
            agg = agg.reindex(range(n))
            for c in numeric:
                target = "Float64" if aggregate == "mean" else columns[c]
                rows[c] = agg[c].astype(target).values
        for p, ids in enumerate(post_units):
            if len(ids) < 2:
                continue
            states = image_df["status"].iloc[ids].tolist()
            parts = [
                f"{e} [{image_df['image'].iat[i]}]"
                for i in ids
                if (e := image_df["error"].iat[i]) is not pd.NA and e is not None
            ]
            errors[p] = "; ".join(parts) or None
            if all(s == "ok" for s in states):
                status[p] = "ok"
            elif all(s == "error" for s in states):
                status[p] = "error"
            else:
                status[p] = "partial"

    out = pd.DataFrame(
        {
            "account": pd.array(posts["account"].astype("object"), dtype="string"),
            "post_id": pd.array(posts["post_id"].astype("object"), dtype="string"),
            "image": rows["image"].values,
            "image_sha256": rows["image_sha256"].values,
            "n_images": pd.array(n_images, dtype="Int64"),
            "status": pd.array(status, dtype="string"),
            "error": pd.array(errors, dtype="string"),
        }
    )
    features = rows[list(columns)].reset_index(drop=True)
    return pd.concat([out, features], axis=1)


def write_features(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a features table atomically (temp file + rename): never half a file."""
    return write_parquet(table, path)


def artifact_table(units: Sequence[Unit], plan: Plan) -> pd.DataFrame:
    """image, image_sha256 and one JSON text column per declared artifact, one row per image."""
    data: dict[str, Any] = {
        "image": pd.array([u.label for u in units], dtype="string"),
        "image_sha256": pd.array([u.sha256 for u in units], dtype="string"),
    }
    for step in plan.steps:
        for key in step.cls.artifacts:
            values = []
            for u in units:
                known = u.group.known.get(step.name) if u.group is not None else None
                value = None if known is None else known.get(key)
                values.append(None if value is None else json.dumps(value, separators=(",", ":")))
            data[f"{step.name}.{key}"] = pd.array(values, dtype="string")
    return pd.DataFrame(data)


def post_artifacts(posts: pd.DataFrame, image_artifacts: pd.DataFrame,
                   post_units: list[list[int]]) -> pd.DataFrame:
    """The cover image's artifacts of each post (the images figures show)."""
    cover = [ids[0] if ids else None for ids in post_units]
    blank = image_artifacts.iloc[:0].reindex([0])
    rows = [image_artifacts.iloc[[i]] if i is not None else blank for i in cover]
    body = (pd.concat(rows, ignore_index=True) if rows
            else image_artifacts.iloc[:0]).reset_index(drop=True)
    keys = pd.DataFrame({
        "account": pd.array(posts["account"].astype("object"), dtype="string"),
        "post_id": pd.array(posts["post_id"].astype("object"), dtype="string"),
    })
    return pd.concat([keys, body], axis=1)


def read_artifacts(path: str | Path) -> pd.DataFrame:
    """artifacts.parquet with its JSON columns parsed back into Python lists and dicts."""
    table = pd.read_parquet(path)
    for column in table.columns:
        if column not in ARTIFACT_KEYS:
            table[column] = [None if v is None or v is pd.NA else json.loads(v)
                             for v in table[column].astype("object")]
    return table
