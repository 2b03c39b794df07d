"""Feature declarations: what every ``EXTRACTOR.FEATURE`` column is, declared once, by its extractor.

Each extractor declares its features with the small constructors below (`continuous`, `binary`,
`count`, `category`, `text`) and its structured outputs (boxes, keypoints, masks) with
`artifact`. Everything downstream reads these declarations instead of naming features:

- the analysis takes the features whose role is ``primary`` (the headline family, corrected
  together) or ``exploratory`` and whose kind can enter a model; a category's ``reference`` is its
  baseline level; ``diagnostic`` features (confidences, rule names) and ``text`` are never tested;
- figures order category levels as declared;
- privacy finds face boxes through the artifact kind ``face_boxes``;
- the docs' feature tables are `schema_table()`.

Artifacts are kept beside the features table (``artifacts.parquet``), never as columns of
``features.parquet``: they are for the extractors that depend on them and for figures.

>>> f = category(("a", "b"), reference="a", meaning="an example")
>>> f.kind, f.dtype, f.levels, f.reference, f.role
('category', 'string', ('a', 'b'), 'a', 'exploratory')
>>> continuous("share of the frame", unit="fraction", role="primary").analysable
True
>>> text("free text").analysable
False
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from ..errors import ExtractorDeclarationError, ExtractorOutputError

if TYPE_CHECKING:
    from .base import Extractor

Kind = Literal["continuous", "binary", "count", "category", "text"]
Role = Literal["primary", "exploratory", "diagnostic"]

KINDS: tuple[str, ...] = ("continuous", "binary", "count", "category", "text")
ROLES: tuple[str, ...] = ("primary", "exploratory", "diagnostic")
#: kind -> pandas nullable dtype of its column in features.parquet
DTYPES: dict[str, str] = {
    "continuous": "Float64",
    "binary": "boolean",
    "count": "Int64",
    "category": "string",
    "text": "string",
}
#: what an artifact holds (privacy looks for ``face_boxes``)
ARTIFACT_KINDS: tuple[str, ...] = ("face_boxes", "boxes", "keypoints", "mask", "detections",
                                   "palette", "json")
#: at most this many features may be ``primary`` over the default extractors (one BH family)
MAX_PRIMARY = 12


@dataclass(frozen=True)
class Feature:
    """One declared feature: its kind, role, unit and one-line meaning."""

    kind: Kind
    meaning: str
    unit: str = ""
    role: Role = "exploratory"
    levels: tuple[str, ...] = ()
    reference: str | None = None
    #: (count or binary column, label): where that column is 0/False, a null value here means
    #: "absent" (no face to score), shown as `label`; elsewhere null means unknown
    absent: tuple[str, str] | None = None
    #: the one feature that says in a word what a photo is (figures caption photos with it)
    summary: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ExtractorDeclarationError(f"unknown feature kind {self.kind!r}",
                                            hint=f"use one of {KINDS}")
        if self.role not in ROLES:
            raise ExtractorDeclarationError(f"unknown feature role {self.role!r}",
                                            hint=f"use one of {ROLES}")
        if self.kind == "category":
            if not self.levels:
                raise ExtractorDeclarationError("a category feature needs its levels")
            if self.reference is not None and self.reference not in self.levels:
                raise ExtractorDeclarationError(
                    f"reference {self.reference!r} is not one of the levels {self.levels}")
        if not self.meaning:
            raise ExtractorDeclarationError("every feature needs a one-line meaning")

    @property
    def dtype(self) -> str:
        return DTYPES[self.kind]

    @property
    def analysable(self) -> bool:
        """Can it enter a test or a model (not free text, not a diagnostic)?"""
        return self.kind != "text" and self.role != "diagnostic"

    def coerce(self, value: Any, label: str) -> Any:
        """`value` as this kind's Python type; None (unknown) stays None."""
        if value is None:
            return None
        try:
            if self.kind == "continuous":
                value = float(value)
                return None if math.isnan(value) else value
            if self.kind == "count":
                if isinstance(value, float) and math.isnan(value):
                    return None
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError("not a whole number")
                return int(value)
            if self.kind == "binary":
                return bool(value)
            value = str(value)
        except (TypeError, ValueError) as exc:
            raise ExtractorOutputError(f"{label}: cannot be read as {self.kind}: {value!r}") from exc
        if self.kind == "category" and value not in self.levels:
            raise ExtractorOutputError(
                f"{label}: {value!r} is not a declared level", hint=f"levels: {self.levels}")
        return value


@dataclass(frozen=True)
class Artifact:
    """A structured, JSON-able output (boxes, keypoints, a mask) kept beside the table."""

    kind: str
    meaning: str

    def __post_init__(self) -> None:
        if self.kind not in ARTIFACT_KINDS:
            raise ExtractorDeclarationError(f"unknown artifact kind {self.kind!r}",
                                            hint=f"use one of {ARTIFACT_KINDS}")


def continuous(meaning: str, unit: str = "", role: Role = "exploratory",
               absent: tuple[str, str] | None = None) -> Feature:
    """A real number (a share, a score, an angle)."""
    return Feature("continuous", meaning, unit, role, absent=absent)


def binary(meaning: str, role: Role = "exploratory") -> Feature:
    """True / False (None when unknown)."""
    return Feature("binary", meaning, "", role)


def count(meaning: str, unit: str = "", role: Role = "exploratory") -> Feature:
    """A whole number of things (faces, people, boxes)."""
    return Feature("count", meaning, unit, role)


def category(levels: Iterable[str], meaning: str, reference: str | None = None,
             role: Role = "exploratory", absent: tuple[str, str] | None = None,
             summary: bool = False) -> Feature:
    """One of fixed `levels`; `reference` is the baseline level of models (default: the first)."""
    levels = tuple(levels)
    return Feature("category", meaning, "", role, levels,
                   reference if reference is not None else (levels[0] if levels else None),
                   absent, summary)


def text(meaning: str) -> Feature:
    """Free text or a list rendered as text: shown and kept, never tested."""
    return Feature("text", meaning, "", "diagnostic")


def artifact(kind: str, meaning: str) -> Artifact:
    return Artifact(kind, meaning)


def largest_box(thing: str, share: str = "largest_area_share") -> dict[str, Feature]:
    """Size (`share` of the frame) and centre of the largest detected `thing` (face, person)."""
    return {
        share: continuous(f"share of the frame covered by the largest {thing}",
                          unit="fraction of image area"),
        "largest_cx": continuous(f"horizontal centre of the largest {thing}", unit="0..1 of width",
                                 role="diagnostic"),
        "largest_cy": continuous(f"vertical centre of the largest {thing}", unit="0..1 of height",
                                 role="diagnostic"),
    }


def restated(source: str, features: Mapping[str, Feature], names: Iterable[str],
             condition: str) -> dict[str, Feature]:
    """Copies of another extractor's `features` under the same names, as diagnostics: they
    restate it (under `condition`), so they must not be tested a second time."""
    return {name: replace(features[name], role="diagnostic",
                          meaning=f"{source}.{name} {condition} (restates {source})")
            for name in names}


def validate_declarations(cls: type[Extractor]) -> None:
    """Raise `ExtractorDeclarationError` when an extractor's declarations are not usable."""
    features = getattr(cls, "features", None)
    if not isinstance(features, Mapping) or not features:
        raise ExtractorDeclarationError(f"extractor {cls.__name__} declares no features")
    for key, value in features.items():
        if not isinstance(value, Feature):
            raise ExtractorDeclarationError(
                f"{cls.name}.{key}: declare features with schema.continuous/binary/count/"
                f"category/text, not {value!r}")
        if "." in key or not key:
            raise ExtractorDeclarationError(f"{cls.name}.{key}: feature names have no dots")
    for key, value in getattr(cls, "artifacts", {}).items():
        if not isinstance(value, Artifact):
            raise ExtractorDeclarationError(f"{cls.name}.{key}: declare artifacts with schema.artifact")
        if key in features:
            raise ExtractorDeclarationError(f"{cls.name}.{key}: both a feature and an artifact")


# -- reading declarations for the columns of a table ----------------------------------------
@dataclass(frozen=True)
class ColumnInfo:
    """A features-table column with its declaration (inferred when no extractor declares it)."""

    column: str
    extractor: str
    feature: str
    spec: Feature
    declared: bool = True


@dataclass
class FeatureSchema:
    """Declarations of the ``EXTRACTOR.FEATURE`` columns of a table, in table order.

    Built from the registered extractors (or the classes given). A dotted column of an extractor
    that is not registered (one defined in a notebook) is described from its dtype, with role
    ``exploratory`` and ``declared=False``; a column a registered extractor no longer declares
    (an older file) is left out.
    """

    columns: dict[str, ColumnInfo] = field(default_factory=dict)
    artifacts: dict[str, Artifact] = field(default_factory=dict)

    def __contains__(self, column: str) -> bool:
        return column in self.columns

    def __getitem__(self, column: str) -> Feature:
        return self.columns[column].spec

    def names(self, roles: Iterable[str] = ROLES, analysable: bool | None = None) -> list[str]:
        roles = set(roles)
        return [c for c, info in self.columns.items() if info.spec.role in roles
                and (analysable is None or info.spec.analysable == analysable)]

    def primary(self) -> list[str]:
        return self.names(("primary",), analysable=True)

    def exploratory(self) -> list[str]:
        return self.names(("exploratory",), analysable=True)

    def references(self) -> dict[str, str]:
        return {c: i.spec.reference for c, i in self.columns.items()
                if i.spec.kind == "category" and i.spec.reference is not None}

    def levels(self, column: str) -> tuple[str, ...]:
        info = self.columns.get(column)
        return info.spec.levels if info is not None else ()

    def summary(self) -> str | None:
        """The column that says in a word what each photo is (None when absent)."""
        return next((c for c, i in self.columns.items() if i.spec.summary), None)

    def artifact_columns(self, kind: str) -> list[str]:
        return [c for c, a in self.artifacts.items() if a.kind == kind]

    def of_kind(self, *kinds: str, roles: Iterable[str] = ROLES) -> list[str]:
        return [c for c in self.names(roles) if self.columns[c].spec.kind in kinds]


def _declared(classes: Iterable[type[Extractor]]) -> tuple[dict[str, tuple[str, str, Feature]],
                                                           dict[str, Artifact]]:
    features: dict[str, tuple[str, str, Feature]] = {}
    artifacts: dict[str, Artifact] = {}
    for cls in classes:
        for key, spec in cls.features.items():
            features[f"{cls.name}.{key}"] = (cls.name, key, spec)
        for key, spec in getattr(cls, "artifacts", {}).items():
            artifacts[f"{cls.name}.{key}"] = spec
    return features, artifacts


def _inferred(column: str, values: pd.Series | None) -> Feature:
    meaning = "not declared by any registered extractor (described from its values)"
    if values is None:
        return Feature("continuous", meaning)
    if pd.api.types.is_bool_dtype(values):
        return Feature("binary", meaning)
    if pd.api.types.is_integer_dtype(values):
        return Feature("count", meaning)
    if pd.api.types.is_numeric_dtype(values):
        return Feature("continuous", meaning)
    levels = tuple(sorted(values.dropna().astype(str).unique()))
    if 0 < len(levels) <= 12:
        return Feature("category", meaning, levels=levels)  # reference: the most frequent level
    return Feature("text", meaning, role="diagnostic")


def feature_schema(
    columns: Iterable[str] | pd.DataFrame,
    classes: Iterable[type[Extractor]] | None = None,
) -> FeatureSchema:
    """The declarations of the dotted columns in `columns` (a DataFrame or column names).

    >>> s = feature_schema(["account", "faces.count", "photo_type.label"])
    >>> list(s.columns), s["photo_type.label"].kind
    (['faces.count', 'photo_type.label'], 'category')
    """
    frame = columns if isinstance(columns, pd.DataFrame) else None
    names = list(frame.columns) if frame is not None else list(columns)
    if classes is None:
        from . import registered_classes

        classes = registered_classes()
    classes = list(classes)
    declared, artifacts = _declared(classes)
    known_extractors = {cls.name for cls in classes}
    schema = FeatureSchema(artifacts=dict(artifacts))
    for column in names:
        if not isinstance(column, str) or "." not in column or column in artifacts:
            continue
        if column not in declared and column.partition(".")[0] in known_extractors:
            continue  # a column its extractor no longer declares (an older file): not a feature
        if column in declared:
            extractor, feature, spec = declared[column]
            schema.columns[column] = ColumnInfo(column, extractor, feature, spec)
        else:
            extractor, _, feature = column.partition(".")
            spec = _inferred(column, frame[column] if frame is not None else None)
            schema.columns[column] = ColumnInfo(column, extractor, feature, spec, declared=False)
    return schema


def schema_table(classes: Iterable[type[Extractor]] | None = None) -> pd.DataFrame:
    """One row per declared feature and artifact: the docs' feature tables.

    >>> t = schema_table()
    >>> list(t.columns)
    ['column', 'extractor', 'what', 'kind', 'role', 'unit', 'levels', 'reference', 'meaning']
    """
    if classes is None:
        from . import registered_classes

        classes = registered_classes()
    rows = []
    for cls in classes:
        for key, spec in cls.features.items():
            rows.append({"column": f"{cls.name}.{key}", "extractor": cls.name, "what": "feature",
                         "kind": spec.kind, "role": spec.role, "unit": spec.unit,
                         "levels": ", ".join(spec.levels), "reference": spec.reference or "",
                         "meaning": spec.meaning})
        for key, art in getattr(cls, "artifacts", {}).items():
            rows.append({"column": f"{cls.name}.{key}", "extractor": cls.name, "what": "artifact",
                         "kind": art.kind, "role": "", "unit": "", "levels": "",
                         "reference": "", "meaning": art.meaning})
    return pd.DataFrame(rows)


def schema_markdown(classes: Iterable[type[Extractor]] | None = None) -> str:
    """docs/features.md: one Markdown table per extractor, generated from the declarations."""
    table = schema_table(classes)
    parts = ["# Features\n",
             "Generated from the extractors' declarations by `rumaro extractors --features "
             "--markdown` (a test keeps this file in sync). Roles: **primary** features form the "
             "headline family (tested together, corrected together), **exploratory** ones their "
             "own family, **diagnostic** ones are never tested. Artifacts go to "
             "`artifacts.parquet`, not to the features table.\n"]
    for extractor, rows in table.groupby("extractor", sort=False):
        parts.append(f"\n## `{extractor}`\n\n| column | kind | role | unit | meaning |\n"
                     "|---|---|---|---|---|")
        for r in rows.itertuples():
            kind = r.kind if r.what == "feature" else f"artifact: {r.kind}"
            extra = f" Levels: {r.levels} (reference {r.reference})." if r.levels else ""
            meaning = f"{r.meaning}{extra}".replace("|", "\\|")
            parts.append(f"| `{r.column}` | {kind} | {r.role} | {r.unit} | {meaning} |")
    return "\n".join(parts) + "\n"
