"""The extractor contract: one decoded image (+ its dependencies' outputs) -> a flat dict.

An extractor is a small class that declares what it computes (`rumaro_lab.extractors.schema`)::

    class Brightness(Extractor):
        name = "brightness"            # column prefix: brightness.mean
        version = "1"                  # bump whenever the output for the same input changes
        features = {"mean": continuous("mean luma", unit="0..255")}
        default_config = {"gamma": 1.0}  # everything that changes the output, and nothing else

        def extract(self, image, deps, post):
            return {"mean": float(image.rgb.mean()) ** self.config["gamma"]}

and one line in `rumaro_lab.extractors.REGISTRY`. Structured outputs (boxes, keypoints, masks)
are declared in ``artifacts`` and returned in the same dict; they reach dependants through
``deps`` and are written beside the table, never into it.

Single use is one call: ``Brightness()(image)`` prepares the extractor (loads its models once),
runs it and checks the output against the declarations. The runner
(`rumaro_lab.extractors.runner`) does the same for many images, in dependency order, cached.
Unknown is ``None``, never 0: "no face" is ``faces.count == 0`` but ``emotion.happiness is None``.

Cache keys are (image sha256, name, version, `cache_config_hash`). The hash covers `config`, the
optional dependencies present in the run, the post fields the extractor reads (`post_fields`) and
the recorded sha256 of each model of the models/ registry it reads (`registry_models`: a rebuilt or
re-registered model with other weights does not reuse answers cached under the old one), and
never credentials (those come from `Settings` and are not part of ``config``). Options that
are not declared in ``default_config`` are refused, so a typo can't silently change a cache key.

>>> from rumaro_lab.images import LoadedImage
>>> import numpy as np
>>> class Mean(Extractor):
...     name, version = "mean", "1"
...     features = {"value": continuous("mean pixel value", unit="0..255")}
...     default_config = {"scale": 1}
...     def extract(self, image, deps, post):
...         return {"value": float(image.rgb.mean()) * self.config["scale"]}
>>> Mean()(LoadedImage(rgb=np.full((2, 2, 3), 10, np.uint8), sha256="x", source="grey"))
{'value': 10.0}
>>> Mean().cache_config_hash() == Mean().cache_config_hash() != Mean(scale=2).cache_config_hash()
True
>>> Mean(sacle=2)
Traceback (most recent call last):
...
rumaro_lab.errors.ExtractorDeclarationError: extractor 'mean' has no option(s) ['sacle'] (its options are ['scale'])
"""

from __future__ import annotations

import hashlib
import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ExtractorDeclarationError, ExtractorOutputError
from .schema import Artifact, Feature, continuous, validate_declarations

if TYPE_CHECKING:
    from ..images import LoadedImage
    from ..settings import Settings

__all__ = ["Availability", "Extractor", "Features", "continuous", "stable_hash"]

FeatureValue = Any
Features = dict[str, FeatureValue]


@dataclass(frozen=True)
class Availability:
    """Whether an extractor can run on this machine, and if not, what to do."""

    ok: bool
    reason: str = ""


def stable_hash(obj: Any) -> str:
    """sha256 of a canonical JSON rendering (sorted keys): stable across processes and runs.

    Python's ``hash()`` is salted per process, so it must never key a persistent cache.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Extractor(ABC):
    """Base class of every feature extractor (local or cloud)."""

    #: short name, the prefix of its columns (``faces`` -> ``faces.count``)
    name: ClassVar[str]
    #: bump when the output for the same image and config changes
    version: ClassVar[str]
    #: feature name -> declaration (`rumaro_lab.extractors.schema`)
    features: ClassVar[dict[str, Feature]]
    #: structured outputs kept beside the table (boxes, keypoints, masks)
    artifacts: ClassVar[dict[str, Artifact]] = {}
    #: one line for `rumaro extractors` (default: the class docstring's first paragraph)
    description: ClassVar[str] = ""
    #: extractors whose outputs `extract` needs (run first, passed in ``deps``)
    requires: ClassVar[tuple[str, ...]] = ()
    #: extractors used when they are part of the run and available, ignored otherwise; one
    #: that fails on an image is absent from ``deps`` there (and that result is not cached)
    optional_requires: ClassVar[tuple[str, ...]] = ()
    #: posts-table columns the output depends on (e.g. accessibility_caption)
    post_fields: ClassVar[tuple[str, ...]] = ()
    #: False for cloud services: images leave the machine, so never on by default
    local: ClassVar[bool] = True
    #: options that change the output, with their defaults
    default_config: ClassVar[dict[str, Any]] = {}
    #: options whose value must be one of a few (checked when the extractor is made)
    option_choices: ClassVar[dict[str, tuple[Any, ...]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "description" not in vars(cls) and cls.__doc__:
            cls.description = " ".join(cls.__doc__.strip().split("\n\n")[0].split()).rstrip(".")
        # Declarations are checked when the class is defined, not on the first image.
        if not inspect.isabstract(cls) and "features" in vars(cls):
            validate_declarations(cls)

    def __init__(self, settings: Settings | None = None, **config: Any):
        unknown = set(config) - set(self.default_config)
        if unknown:
            hint = (f"its options are {sorted(self.default_config)}" if self.default_config
                    else "it has no options")
            raise ExtractorDeclarationError(
                f"extractor {self.name!r} has no option(s) {sorted(unknown)}", hint=hint)
        self.config: dict[str, Any] = {**self.default_config, **config}
        for option, allowed in self.option_choices.items():
            if self.config.get(option) not in allowed:
                raise ExtractorDeclarationError(
                    f"{self.name}: unknown {option} {self.config.get(option)!r}",
                    hint=f"use one of {', '.join(map(repr, allowed))}")
        self.settings = settings
        self._ready = False

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.config.items() if self.default_config.get(k) != v}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    # -- identity ---------------------------------------------------------------------------
    def cache_config_hash(
        self, present_optional: tuple[str, ...] = (), post: Mapping[str, Any] | None = None
    ) -> str:
        """Hash of everything besides the image that determines the output."""
        used_post = {f: (post or {}).get(f) for f in self.post_fields}
        key = {"config": self.config, "uses": sorted(present_optional), "post": used_post}
        models = self.registry_models()
        if models:  # only then: the keys of extractors without registry models stay as they were
            from ..modelstore.registry import recorded_sha256
            from ..settings import Settings

            settings = self.settings or Settings()
            key["models"] = {name: recorded_sha256(name, settings) for name in models}
        return stable_hash(key)

    def registry_models(self) -> tuple[str, ...]:
        """Names of the models/ registry models (built by ``make models`` or registered with
        `register_user_model`) this configuration reads. Their recorded sha256 is part of the
        cache key. Models shipped inside a pinned wheel are checked against a sha256 in the code
        instead, and change only with it (and its version)."""
        return ()

    @classmethod
    def columns(cls) -> dict[str, str]:
        """``EXTRACTOR.FEATURE`` -> pandas dtype, in declaration order."""
        return {f"{cls.name}.{k}": spec.dtype for k, spec in cls.features.items()}

    # -- life cycle -------------------------------------------------------------------------
    @classmethod
    def availability(cls, settings: Settings | None = None) -> Availability:
        """Can it run here? Override to check packages, model files or keys."""
        return Availability(True)

    def setup(self) -> None:  # noqa: B027 - optional hook, empty by design
        """Load models. Called once per process, before the first image (`ensure_ready`)."""

    def ensure_ready(self) -> None:
        if not self._ready:
            self.setup()
            self._ready = True

    @abstractmethod
    def extract(
        self,
        image: LoadedImage,
        deps: Mapping[str, Features],
        post: Mapping[str, Any],
    ) -> Features:
        """Features (and artifacts) of one image. ``deps[name]`` holds each requirement's output."""

    def extract_with_raw(
        self,
        image: LoadedImage,
        deps: Mapping[str, Features],
        post: Mapping[str, Any],
    ) -> tuple[Features, Any]:
        """Features plus a JSON-able raw response to cache (cloud extractors override)."""
        self.ensure_ready()
        return self.extract(image, deps, post), None

    def __call__(
        self,
        image: LoadedImage,
        deps: Mapping[str, Features] | None = None,
        post: Mapping[str, Any] | None = None,
    ) -> Features:
        """Checked output for one image: prepares itself on first use (models load once)."""
        missing = [d for d in self.requires if d not in (deps or {})]
        if missing:
            raise ExtractorDeclarationError(
                f"extractor {self.name!r} needs the output of {missing} in deps",
                hint="run those extractors first (or use rumaro_lab.extractors.extract_images)")
        values, _ = self.extract_with_raw(image, dict(deps or {}), dict(post or {}))
        return self.check_output(values)

    # -- contract check ---------------------------------------------------------------------
    def check_output(self, values: Mapping[str, Any]) -> Features:
        """Exactly the declared features (typed; missing ones are None) and artifacts."""
        extra = set(values) - set(self.features) - set(self.artifacts)
        if extra:
            raise ExtractorOutputError(
                f"extractor {self.name!r} returned undeclared feature(s) {sorted(extra)}",
                hint="declare them in `features` (or `artifacts`)")
        out: Features = {}
        for key, spec in self.features.items():
            out[key] = spec.coerce(values.get(key), f"{self.name}.{key}")
        for key in self.artifacts:
            value = values.get(key)
            if value is not None:
                try:
                    json.dumps(value)
                except (TypeError, ValueError) as exc:
                    raise ExtractorOutputError(
                        f"{self.name}.{key}: an artifact must be JSON-able ({exc})") from exc
            out[key] = value
        return out
