"""Every registered extractor keeps the contract (`check_extractor`), and nothing outside
`rumaro_lab/extractors/` names a feature: adding one is one module plus one registry line."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from rumaro_lab.errors import ExtractorDeclarationError
from rumaro_lab.extractors import REGISTRY, extractor_class
from rumaro_lab.extractors.base import Extractor
from rumaro_lab.extractors.checks import check_extractor, failures
from rumaro_lab.extractors.schema import MAX_PRIMARY, continuous, schema_table
from rumaro_lab.images import load_image
from rumaro_lab.posts.importing import sample_dir

PACKAGE = Path(__file__).resolve().parents[1] / "rumaro_lab"
SAMPLE = sample_dir() / "sample"
TRUTH = json.loads((sample_dir() / "truth.json").read_text())


def _sample_photos(*labels: str) -> list:
    """One bundled photo (CC0 / public domain) of each photo-type label asked for."""
    photos = []
    for label in labels:
        post = next(p for p in TRUTH["posts"] if p["label"] == label)
        path = sorted(SAMPLE.glob(f"{post['base']}*.jpg"))[0]
        photos.append(load_image(path, source=f"sample:{label}"))
    return photos


@pytest.fixture(scope="module")
def photos():
    return _sample_photos("portrait", "full_body", "scenery")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registered_extractor_keeps_the_contract(name, photos, settings):
    cls = extractor_class(name)
    checks = check_extractor(cls, settings, images=photos)
    assert all(c.ok for c in checks), failures(checks)
    ran = {c.name for c in checks if not c.skipped}
    assert {"declarations", "options", "pickle"} <= ran
    if cls.availability(settings).ok:
        assert "outputs" in ran  # it really ran on the photos


def test_every_default_extractor_runs_here(settings):
    from rumaro_lab.extractors import DEFAULT_EXTRACTORS

    blocked = {n: extractor_class(n).availability(settings).reason for n in DEFAULT_EXTRACTORS
               if not extractor_class(n).availability(settings).ok}
    assert not blocked  # `make test` builds the models first


def test_a_broken_extractor_fails_its_checks():
    class Sloppy(Extractor):
        name, version = "sloppy", "1"
        features = {"value": continuous("a value")}

        def extract(self, image, deps, post):
            return {"value": float(image.rgb.mean()), "extra": 1}  # undeclared

    checks = {c.name: c for c in check_extractor(Sloppy)}
    assert not checks["outputs"].ok and "undeclared" in checks["outputs"].detail


def test_declarations_are_checked_when_the_class_is_defined():
    with pytest.raises(ExtractorDeclarationError, match="declare features"):
        class Old(Extractor):  # the old style: a type name instead of a declaration
            name, version = "old", "1"
            features = {"value": "float"}

            def extract(self, image, deps, post):
                return {}


def test_unknown_options_are_refused_even_without_options():
    class Plain(Extractor):
        name, version = "plain", "1"
        features = {"value": continuous("a value")}

        def extract(self, image, deps, post):
            return {}

    with pytest.raises(ExtractorDeclarationError, match="no option"):
        Plain(treshold=3)


def test_the_primary_family_is_small_and_interpretable():
    table = schema_table()
    default = table[table["extractor"].isin(
        [extractor_class(n).name for n in __import__("rumaro_lab.extractors").extractors.DEFAULT_EXTRACTORS])]
    primary = default[default["role"] == "primary"]
    assert 0 < len(primary) <= MAX_PRIMARY
    assert set(primary["kind"]) <= {"binary", "category", "continuous", "count"}


def _string_constants(path: Path) -> set[str]:
    return {node.value for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_no_module_outside_the_extractors_names_a_feature():
    declared = set(schema_table()["column"])
    # the simulation writes a features table under the real contract's names on purpose, so that
    # the analysis tests exercise the declared references
    exempt = {PACKAGE / "analysis" / "simulate.py"}
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        if "extractors" in path.relative_to(PACKAGE).parts or path in exempt:
            continue
        found = {s for s in _string_constants(path) for column in declared if column in s}
        if found:
            offenders[str(path.relative_to(PACKAGE))] = sorted(found)[:3]
    assert not offenders


def test_the_docs_feature_tables_are_the_declarations():
    from rumaro_lab.extractors.schema import schema_markdown

    committed = (PACKAGE.parent / "docs" / "features.md").read_text()
    assert committed == schema_markdown(), (
        "docs/features.md is stale: run `rumaro extractors --features --markdown > docs/features.md`")
