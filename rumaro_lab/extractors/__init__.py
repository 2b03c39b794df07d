"""Feature extractors: the registry, dependency order, and what can run here.

Adding an extractor is one module in this package and one line in `REGISTRY`. Entries are
"module:Class" strings, so listing extractors never imports a heavy model library.
`resolve_order(["emotion"])` gives ``['faces', 'emotion']``: requirements run first.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping

import pandas as pd

from ..errors import ExtractorDeclarationError, RumaroError
from .base import Availability, Extractor, Features

__all__ = [
    "REGISTRY",
    "DEFAULT_EXTRACTORS",
    "Availability",
    "Extractor",
    "Features",
    "extractor_class",
    "registered_classes",
    "make_extractor",
    "resolve_order",
    "list_extractors",
]

REGISTRY: dict[str, str] = {
    # local (embedded default)
    "image": "rumaro_lab.extractors.image_stats:ImageStats",
    "faces": "rumaro_lab.extractors.faces:Faces",
    "emotion": "rumaro_lab.extractors.emotion:Emotion",
    "pose": "rumaro_lab.extractors.pose:Pose",
    "people": "rumaro_lab.extractors.people:People",
    "objects": "rumaro_lab.extractors.objects:Objects",
    "photo_type": "rumaro_lab.extractors.photo_type:PhotoType",
    "apparel": "rumaro_lab.extractors.apparel:Apparel",
    "racy": "rumaro_lab.extractors.racy:Racy",
    "activity": "rumaro_lab.extractors.activity:Activity",
    "text": "rumaro_lab.extractors.text:Text",
    # local, optional (off by default)
    "nudenet": "rumaro_lab.extractors.nudenet_parts:NudeNetParts",
    "age_gender": "rumaro_lab.extractors.age_gender:AgeGender",
    # cloud (off by default: images leave the machine)
    "azure_vision": "rumaro_lab.extractors.azure_vision:AzureVision",
    "azure_face": "rumaro_lab.extractors.azure_face:AzureFace",
    "deepfashion": "rumaro_lab.extractors.deepfashion:DeepFashion",
}

#: What `rumaro extract` runs when no --extractors are given.
DEFAULT_EXTRACTORS: tuple[str, ...] = (
    "image",
    "text",
    "faces",
    "emotion",
    "pose",
    "people",
    "objects",
    "photo_type",
    "apparel",
    "racy",
    "activity",
)


def extractor_class(name: str) -> type[Extractor]:
    """The class registered under `name` (imports its module)."""
    try:
        target = REGISTRY[name]
    except KeyError:
        raise RumaroError(
            f"unknown extractor {name!r}", hint=f"known: {', '.join(sorted(REGISTRY))}"
        ) from None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise RumaroError(
            f"extractor {name!r} cannot be imported: {exc}",
            hint="install the project with `make install` (cloud ones need `pip install .[cloud]`)",
        ) from exc
    cls = getattr(module, class_name)
    if getattr(cls, "name", None) != name:  # the key is the column prefix: they must agree
        raise ExtractorDeclarationError(
            f"REGISTRY[{name!r}] points at {target} whose name is {getattr(cls, 'name', None)!r}",
            hint="make the registry key and the class's `name` the same")
    return cls


def registered_classes(names: Iterable[str] | None = None) -> list[type[Extractor]]:
    """The classes of the registered extractors that can be imported here (cloud ones need
    their extra), in registry order."""
    classes = []
    for name in names if names is not None else REGISTRY:
        try:
            classes.append(extractor_class(name))
        except ExtractorDeclarationError:
            raise
        except RumaroError:
            continue
    return classes


_registered_class = extractor_class


def make_extractor(name: str, settings=None, **config) -> Extractor:
    """An instance of the named extractor with the given config."""
    return extractor_class(name)(settings=settings, **config)


def _availability(name: str, settings=None) -> Availability:
    try:
        return extractor_class(name).availability(settings)
    except RumaroError as exc:
        return Availability(False, exc.message)


def resolve_order(
    names: Iterable[str],
    available: Callable[[str], bool] | None = None,
    settings=None,
    classes: Mapping[str, type[Extractor]] | None = None,
) -> list[str]:
    """`names` plus everything they require, in dependency order (requirements first).

    Optional requirements are added only when `available(name)` says they can run.
    `classes` maps names to extractor classes that are not (or not to be taken from) the
    registry, e.g. an extractor defined in a notebook; their requirements may be registered ones.
    """
    extra = dict(classes or {})

    def extractor_class(name: str) -> type[Extractor]:
        return extra[name] if name in extra else _registered_class(name)

    if available is None:

        def available(n: str) -> bool:
            if n in extra:
                return extra[n].availability(settings).ok
            return _availability(n, settings).ok

    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in visiting:
            raise RumaroError(f"extractor dependency cycle: {' -> '.join((*chain, name))}")
        visiting.add(name)
        cls = extractor_class(name)
        for dep in cls.requires:
            visit(dep, (*chain, name))
        for dep in cls.optional_requires:
            if dep in order or available(dep):
                visit(dep, (*chain, name))
        visiting.discard(name)
        order.append(name)

    for name in names:
        visit(name, ())
    return order


def list_extractors(settings=None) -> pd.DataFrame:
    """One row per registered extractor: version, local/cloud, default, can it run here, why."""
    rows = []
    for name in REGISTRY:
        availability = _availability(name, settings)
        try:
            cls = extractor_class(name)
            info = {
                "version": cls.version,
                "local": cls.local,
                "requires": ", ".join(cls.requires),
                "n_features": len(cls.features),
                "description": cls.description,
            }
        except RumaroError:
            info = {"version": None, "local": None, "requires": "", "n_features": None,
                    "description": ""}
        rows.append(
            {
                "name": name,
                **info,
                "default": name in DEFAULT_EXTRACTORS,
                "available": availability.ok,
                "reason": availability.reason,
            }
        )
    return pd.DataFrame(rows).astype(
        {"local": "boolean", "n_features": "Int64", "default": "boolean", "available": "boolean"}
    )
