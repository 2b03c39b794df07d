"""`check_extractor`: does an extractor keep the contract? (in the spirit of scikit-learn's
``check_estimator``).

It checks, without knowing anything about the extractor's model:

- declarations: a name, a version, features declared with `rumaro_lab.extractors.schema`, the
  registry key equal to the class's name, artifacts not clashing with features;
- options: an unknown option is refused (a typo must not silently change a cache key), the cache
  key depends on the options and is stable across instances;
- single use: ``extractor(image, deps)`` works on a fresh instance (it prepares itself), returns
  exactly the declared features with their declared types and levels, and the same image gives
  the same answer twice;
- unknown stays unknown: a tiny or blank image gives a valid output (None, never a crash);
- workers: an instance survives pickling (the runner ships it to worker processes).

Dependencies (``requires``) are computed by running the registered dependencies first. Checks
needing a model that is not built or a cloud key are skipped with the reason when the extractor
says it can't run here (`Extractor.availability`); declarations are checked regardless.

>>> from rumaro_lab.extractors.base import Extractor
>>> from rumaro_lab.extractors.schema import continuous
>>> class Mean(Extractor):
...     name, version = "mean", "1"
...     features = {"value": continuous("mean pixel value", unit="0..255")}
...     def extract(self, image, deps, post):
...         return {"value": float(image.rgb.mean())}
>>> [c.name for c in check_extractor(Mean) if not c.ok]
[]
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..errors import ExtractorDeclarationError
from ..images import LoadedImage
from .base import Extractor
from .schema import validate_declarations


@dataclass(frozen=True)
class Check:
    """One check of `check_extractor`: its name, whether it passed, and why not."""

    name: str
    ok: bool
    detail: str = ""
    skipped: bool = False


def _synthetic_images() -> dict[str, LoadedImage]:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    xs, ys = np.meshgrid(np.linspace(0, 255, 320), np.linspace(0, 255, 240))
    gradient = np.dstack([xs, ys, np.full((240, 320), 128.0)]).astype(np.uint8)
    return {
        "noise": LoadedImage(rgb=noise, sha256="check-noise", source="check:noise"),
        "gradient": LoadedImage(rgb=gradient, sha256="check-gradient", source="check:gradient"),
        "tiny": LoadedImage(rgb=np.full((8, 8, 3), 200, np.uint8), sha256="check-tiny",
                            source="check:tiny"),
        "blank": LoadedImage(rgb=np.zeros((64, 64, 3), np.uint8), sha256="check-blank",
                             source="check:blank"),
    }


def _registered_name(cls: type[Extractor]) -> str | None:
    from . import REGISTRY

    target = f"{cls.__module__}:{cls.__qualname__}"
    return next((key for key, value in REGISTRY.items() if value == target), None)


def _deps_for(cls: type[Extractor], image: LoadedImage, settings, cache: dict) -> dict:
    """Outputs of `cls`'s required extractors (registered ones) on `image`."""
    from . import make_extractor, resolve_order

    outputs: dict = {}
    for name in resolve_order(cls.requires, settings=settings)[:]:
        key = (name, image.sha256)
        if key not in cache:
            if name not in cache.setdefault("_instances", {}):
                cache["_instances"][name] = make_extractor(name, settings)
            dep = cache["_instances"][name]
            cache[key] = dep(image, {d: outputs[d] for d in dep.requires if d in outputs})
        outputs[name] = cache[key]
    return {d: outputs[d] for d in cls.requires}


def check_extractor(
    cls: type[Extractor],
    settings=None,
    images: Iterable[LoadedImage] | None = None,
) -> list[Check]:
    """Run every check on `cls`; returns one `Check` per check (see the module's docstring).

    `images` adds real photos to the synthetic ones. A test asserts ``all(c.ok for c in ...)``.
    """
    results: list[Check] = []

    def check(name: str, run: Callable[[], None]) -> None:
        try:
            run()
        except _Skip as skip:
            results.append(Check(name, True, str(skip), skipped=True))
        except AssertionError as exc:
            results.append(Check(name, False, str(exc)))
        except Exception as exc:  # a crash is a failed check, named
            results.append(Check(name, False, f"{type(exc).__name__}: {exc}"))
        else:
            results.append(Check(name, True))

    def declarations() -> None:
        assert getattr(cls, "name", None), "no name"
        assert getattr(cls, "version", None), "no version"
        validate_declarations(cls)
        registered = _registered_name(cls)
        assert registered is None or registered == cls.name, (
            f"registered as {registered!r} but named {cls.name!r}")

    def options() -> None:
        try:
            cls(settings=settings, this_option_does_not_exist=1)
        except ExtractorDeclarationError:
            pass
        else:
            raise AssertionError("an unknown option was accepted")
        a, b = cls(settings=settings), cls(settings=settings)
        assert a.cache_config_hash() == b.cache_config_hash(), "cache key differs between instances"
        for key, value in cls.default_config.items():
            changed = _changed(value)
            if changed is None:
                continue
            other = cls(settings=settings, **{key: changed})
            assert other.cache_config_hash() != a.cache_config_hash(), (
                f"option {key!r} does not change the cache key")

    def pickles() -> None:
        module = sys.modules.get(cls.__module__)
        if getattr(module, cls.__qualname__, None) is not cls:
            raise _Skip("defined where worker processes can't import it (run it with workers=1)")
        copy = pickle.loads(pickle.dumps(cls(settings=settings)))
        assert copy.config == cls(settings=settings).config

    check("declarations", declarations)
    check("options", options)
    check("pickle", pickles)

    available = cls.availability(settings)
    samples = {**_synthetic_images(), **{img.source: img for img in (images or [])}}
    cache: dict = {}

    def outputs() -> None:
        if not available.ok:
            raise _Skip(f"can't run here: {available.reason}")
        extractor = cls(settings=settings)  # fresh: __call__ must prepare it
        for label, image in samples.items():
            deps = _deps_for(cls, image, settings, cache)
            first = extractor(image, deps)
            assert set(first) == set(cls.features) | set(cls.artifacts), (
                f"{label}: keys {sorted(set(first) ^ (set(cls.features) | set(cls.artifacts)))}")
            for key, spec in cls.features.items():
                value = first[key]
                assert value is None or value == spec.coerce(value, f"{cls.name}.{key}"), (
                    f"{label}: {key}={value!r} is not a {spec.kind}")
            again = extractor(image, deps)
            assert _same(first, again), f"{label}: two runs on the same image differ"

    check("outputs", outputs)
    return results


class _Skip(Exception):
    pass


def _changed(value):
    """Another valid-looking value of an option (None when none can be guessed safely)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 1.5 + 0.01
    return None


def _same(a: dict, b: dict) -> bool:
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, float) and isinstance(y, float):
            if not np.isclose(x, y, rtol=1e-6, atol=1e-9):
                return False
        elif x != y:
            return False
    return True


def failures(checks: Iterable[Check]) -> str:
    """The failed checks as one readable line each (for a test's assertion message)."""
    return "\n".join(f"{c.name}: {c.detail}" for c in checks if not c.ok)


__all__ = ["Check", "check_extractor", "failures"]
