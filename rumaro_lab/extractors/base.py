"""The extractor contract: one decoded image (+ its dependencies' outputs) -> a flat dict.

An extractor is a small class::

    class Brightness(Extractor):
        name = "brightness"            # column prefix: brightness.mean
        version = "1"                  # bump whenever the output for the same input changes
        features = {"mean": "float"}   # feature -> "float" | "int" | "bool" | "str"
        default_config = {"gamma": 1.0}  # everything that changes the output, and nothing else

        def extract(self, image, deps, post):
            return {"mean": float(image.rgb.mean()) ** self.config["gamma"]}

and one line in `rumaro_lab.extractors.REGISTRY`. The runner (`rumaro_lab.extractors.runner`)
calls `setup()` once per worker process (load models there, never in ``__init__``), then
`extract_with_raw` for each image in dependency order. Unknown is ``None``, never 0: "no face"
is ``faces.count == 0`` but ``emotion.happiness is None``.

Cache keys are (image sha256, name, version, `cache_config_hash`). The hash covers `config`, the
optional dependencies present in the run and the post fields the extractor reads (`post_fields`),
and never credentials (those come from `Settings` and are not part of ``config``).

>>> class Mean(Extractor):
...     name, version, features = "mean", "1", {"value": "float"}
...     def extract(self, image, deps, post):
...         return {"value": float(image.rgb.mean())}
>>> m = Mean()
>>> m.cache_config_hash() == Mean().cache_config_hash() != Mean(scale=2).cache_config_hash()
True
"""

from __future__ import annotations

import hashlib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ExtractorOutputError, RumaroError

if TYPE_CHECKING:
    from ..images import LoadedImage
    from ..settings import Settings

FeatureValue = float | int | bool | str | None
Features = dict[str, FeatureValue]

#: Contract type names -> pandas nullable dtypes used in features.parquet.
PANDAS_DTYPES: dict[str, str] = {
    "float": "Float64",
    "int": "Int64",
    "bool": "boolean",
    "str": "string",
}


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
    #: feature name -> contract type ("float", "int", "bool", "str")
    features: ClassVar[dict[str, str]]
    #: one line for `rumaro extractors`
    description: ClassVar[str] = ""
    #: extractors whose outputs `extract` needs (run first, passed in ``deps``)
    requires: ClassVar[tuple[str, ...]] = ()
    #: extractors used when they are part of the run and available, ignored otherwise
    optional_requires: ClassVar[tuple[str, ...]] = ()
    #: posts-table columns the output depends on (e.g. accessibility_caption)
    post_fields: ClassVar[tuple[str, ...]] = ()
    #: False for cloud services: images leave the machine, so never on by default
    local: ClassVar[bool] = True
    #: options that change the output, with their defaults
    default_config: ClassVar[dict[str, Any]] = {}

    def __init__(self, settings: Settings | None = None, **config: Any):
        unknown = set(config) - set(self.default_config) if self.default_config else set()
        if unknown:
            raise RumaroError(
                f"extractor {self.name!r} has no option(s) {sorted(unknown)}",
                hint=f"its options are {sorted(self.default_config)}",
            )
        self.config: dict[str, Any] = {**self.default_config, **config}
        self.settings = settings
        self._ready = False

    # -- identity ---------------------------------------------------------------------------
    def cache_config_hash(
        self, present_optional: tuple[str, ...] = (), post: Mapping[str, Any] | None = None
    ) -> str:
        """Hash of everything besides the image that determines the output."""
        used_post = {f: (post or {}).get(f) for f in self.post_fields}
        return stable_hash(
            {"config": self.config, "uses": sorted(present_optional), "post": used_post}
        )

    @classmethod
    def columns(cls) -> dict[str, str]:
        """``EXTRACTOR.FEATURE`` -> pandas dtype, in declaration order."""
        return {f"{cls.name}.{k}": PANDAS_DTYPES[v] for k, v in cls.features.items()}

    # -- life cycle -------------------------------------------------------------------------
    @classmethod
    def availability(cls, settings: Settings | None = None) -> Availability:
        """Can it run here? Override to check packages, model files or keys."""
        return Availability(True)

    def setup(self) -> None:  # noqa: B027 - optional hook, empty by design
        """Load models. Called once per worker process before the first image."""

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
        """Features of one image. ``deps[name]`` holds each required extractor's output."""

    def extract_with_raw(
        self,
        image: LoadedImage,
        deps: Mapping[str, Features],
        post: Mapping[str, Any],
    ) -> tuple[Features, Any]:
        """Features plus a JSON-able raw response to cache (cloud extractors override)."""
        return self.extract(image, deps, post), None

    # -- contract check ---------------------------------------------------------------------
    def check_output(self, values: Mapping[str, Any]) -> Features:
        """Return exactly the declared features, typed; missing ones are None (unknown)."""
        extra = set(values) - set(self.features)
        if extra:
            raise ExtractorOutputError(
                f"extractor {self.name!r} returned undeclared feature(s) {sorted(extra)}"
            )
        out: Features = {}
        for key, kind in self.features.items():
            out[key] = _coerce(values.get(key), kind, f"{self.name}.{key}")
        return out


def _coerce(value: Any, kind: str, label: str) -> FeatureValue:
    if value is None:
        return None
    try:
        if kind == "float":
            value = float(value)
            return None if math.isnan(value) else value
        if kind == "int":
            if isinstance(value, float) and math.isnan(value):
                return None
            return int(value)
        if kind == "bool":
            return bool(value)
        if kind == "str":
            return str(value)
    except (TypeError, ValueError) as exc:
        raise ExtractorOutputError(f"{label}: cannot be read as {kind}: {value!r}") from exc
    raise ExtractorOutputError(f"{label}: unknown feature type {kind!r}")
