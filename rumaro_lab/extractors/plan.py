"""The plan of a run: which extractors, in which order, with which options.

`plan_extractors` turns names, classes or configured instances into a `Plan`: requirements
first (`rumaro_lab.extractors.resolve_order`), optional requirements only when they can run,
and the default set minus what can't run here (with the reason). The runner executes a plan;
the backends ship it to worker processes once.

>>> from rumaro_lab.extractors.base import Extractor, continuous
>>> class Mean(Extractor):
...     name, version = "mean", "1"
...     features = {"value": continuous("mean pixel value")}
...     def extract(self, image, deps, post):
...         return {"value": float(image.rgb.mean())}
>>> plan_extractors([Mean]).names
('mean',)
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import RumaroError
from . import DEFAULT_EXTRACTORS, Availability, Extractor, resolve_order
from . import extractor_class as registered_class
from .base import stable_hash

log = logging.getLogger(__name__)

ExtractorSpec = str | type[Extractor] | Extractor


@dataclass(frozen=True)
class Step:
    """One extractor of a run: its class, options and the dependencies it is given."""

    name: str
    cls: type[Extractor]
    config: Mapping[str, Any]
    requires: tuple[str, ...]
    uses: tuple[str, ...]  # optional requirements present in this run
    prototype: Extractor | None = None  # an instance the caller configured, if any

    def instance(self, settings) -> Extractor:
        """A fresh instance for a run with these settings (a copy of the caller's, if given)."""
        if self.prototype is None:
            return self.cls(settings=settings, **self.config)
        return with_settings(self.prototype, settings)

    @property
    def deps(self) -> tuple[str, ...]:
        return (*self.requires, *self.uses)

    @property
    def local(self) -> bool:
        return bool(self.cls.local)


@dataclass(frozen=True)
class Plan:
    """The extractors of a run in dependency order, and those left out (with the reason)."""

    steps: tuple[Step, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    def token(self) -> str:
        """Identity of the plan's code and options (to reuse loaded models across tasks)."""
        return stable_hash(
            [(s.name, s.cls.__module__, s.cls.__qualname__, s.cls.version, dict(s.config))
             for s in self.steps]
        )

    def columns(self) -> dict[str, str]:
        """``EXTRACTOR.FEATURE`` -> pandas dtype for every step."""
        out: dict[str, str] = {}
        for s in self.steps:
            out.update(s.cls.columns())
        return out

    def artifact_columns(self) -> list[str]:
        """``EXTRACTOR.ARTIFACT`` for every step that declares artifacts."""
        return [f"{s.name}.{key}" for s in self.steps for key in s.cls.artifacts]


def plan_extractors(
    extractors: Iterable[ExtractorSpec] | None = None, settings=None
) -> Plan:
    """Resolve names, classes or configured instances into a `Plan` (requirements first).

    With ``extractors=None`` the default local set runs, minus the extractors that can't run
    here (a warning says why). Extractors asked for by name that can't run are an error.
    """
    explicit = extractors is not None
    specs = list(extractors) if explicit else list(DEFAULT_EXTRACTORS)
    classes: dict[str, type[Extractor]] = {}
    configs: dict[str, dict[str, Any]] = {}
    prototypes: dict[str, Extractor] = {}
    names: list[str] = []
    for spec in specs:
        if isinstance(spec, str):
            name = spec.strip()
            if not name:
                continue
        elif isinstance(spec, Extractor):
            name = spec.name
            classes[name], configs[name] = type(spec), dict(spec.config)
            prototypes[name] = spec
        elif isinstance(spec, type) and issubclass(spec, Extractor):
            name = spec.name
            classes[name] = spec
        else:
            raise RumaroError(
                f"not an extractor: {spec!r}",
                hint="give extractor names, Extractor subclasses or instances",
            )
        if name not in names:
            names.append(name)
    if not names:
        raise RumaroError("no extractors to run", hint="see `rumaro extractors`")

    availability: dict[str, Availability] = {}

    def check(name: str) -> Availability:
        if name not in availability:
            try:
                cls = classes.get(name) or registered_class(name)
                availability[name] = cls.availability(settings)
            except RumaroError as exc:
                availability[name] = Availability(False, exc.message)
        return availability[name]

    order: list[str] = []
    skipped: dict[str, str] = {}
    for name in names:
        try:
            wanted = resolve_order(
                [name], available=lambda n: check(n).ok, settings=settings, classes=classes
            )
        except RumaroError as exc:
            if explicit:
                raise
            skipped[name] = exc.message
            continue
        blocked = [n for n in wanted if not check(n).ok]
        if blocked:
            reason = f"{blocked[0]} can't run here: {check(blocked[0]).reason or 'unavailable'}"
            if explicit:
                raise RumaroError(
                    f"extractor {name!r} can't run: {reason}",
                    hint="see `rumaro extractors` for what each one needs",
                )
            skipped[name] = reason
            continue
        order.extend(n for n in wanted if n not in order)
    for name, reason in skipped.items():
        log.warning("skipping extractor %s: %s", name, reason)
    if not order:
        raise RumaroError(
            "none of the extractors can run here: "
            + "; ".join(f"{n}: {r}" for n, r in skipped.items()),
            hint="run `make models` and see `rumaro extractors`",
        )

    steps = []
    for name in order:
        cls = classes.get(name) or registered_class(name)
        uses = tuple(d for d in cls.optional_requires if d in order)
        steps.append(Step(name, cls, configs.get(name, {}), tuple(cls.requires), uses,
                          prototypes.get(name)))
    return Plan(tuple(steps), skipped)


class ConfigHasher:
    """Config hash per (step, post): options, optional deps present, post fields, upstream keys.

    A dependency's identity is part of its dependants' keys, so a new ``faces`` version also
    recomputes ``emotion``. Hashes that don't depend on the post are computed once.
    """

    def __init__(self, plan: Plan, instances: Mapping[str, Extractor]):
        self.plan = plan
        self.instances = instances
        self.by_post: dict[str, bool] = {}
        for s in plan.steps:
            self.by_post[s.name] = bool(s.cls.post_fields) or any(
                self.by_post[d] for d in s.deps
            )
        self._fixed: dict[str, str] = {}

    def __call__(self, name: str, post: Mapping[str, Any]) -> str:
        if not self.by_post[name] and name in self._fixed:
            return self._fixed[name]
        step = self.plan.step(name)
        own = self.instances[name].cache_config_hash(present_optional=step.uses, post=post)
        value = own
        if step.deps:
            value = stable_hash(
                {"own": own,
                 "deps": {d: [str(self.plan.step(d).cls.version), self(d, post)]
                          for d in step.deps}}
            )
        if not self.by_post[name]:
            self._fixed[name] = value
        return value


def with_settings(inst: Extractor, settings) -> Extractor:
    """A copy of `inst` that uses `settings` (its loaded models, if any, are not copied deeply)."""
    inst = copy.copy(inst)
    inst.settings = settings
    return inst
