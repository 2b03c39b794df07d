"""Small real extractors for the runner and cache tests (importable by worker processes).

They compute real things from real pixels, record every call (and every `setup`) as a line in
``calls_dir`` so tests can count calls across processes, and cover the cases the runner must
handle: a dependency, a deliberately slow one, one that fails on a named image, one that depends
on the failing one (and one that merely uses it when it is there), and a cloud-like one that reports the settings it was given.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from rumaro_lab.extractors.base import Extractor
from rumaro_lab.extractors.schema import binary, continuous, count, text


class _Recording(Extractor):
    default_config = {"calls_dir": None}

    def _record(self, what: str) -> None:
        folder = self.config.get("calls_dir")
        if folder:
            with open(Path(folder) / f"{self.name}.{what}.{os.getpid()}", "a") as handle:
                handle.write(f"{threading.current_thread().name}\n")

    def setup(self) -> None:
        self._record("setup")


def count_lines(calls_dir: Path, name: str, what: str = "call") -> int:
    return sum(len(p.read_text().splitlines()) for p in Path(calls_dir).glob(f"{name}.{what}.*"))


def threads(calls_dir: Path, name: str, what: str = "call") -> set[str]:
    return {line for p in Path(calls_dir).glob(f"{name}.{what}.*")
            for line in p.read_text().splitlines()}


def setups_per_process(calls_dir: Path, name: str) -> list[int]:
    return [len(p.read_text().splitlines()) for p in Path(calls_dir).glob(f"{name}.setup.*")]


class MeanColour(_Recording):
    name, version = "mean_colour", "1"
    description = "mean of each channel (test extractor)"
    features = {"r": continuous("mean red"), "g": continuous("mean green"),
                "b": continuous("mean blue"), "mean": continuous("mean of the channels"),
                "width": count("width"), "reddish": binary("red is the top channel"),
                "top_channel": text("the top channel")}
    default_config = {"calls_dir": None, "scale": 1.0}

    def extract(self, image, deps, post):
        self._record("call")
        r, g, b = (image.rgb.reshape(-1, 3).mean(axis=0) * self.config["scale"]).tolist()
        return {"r": r, "g": g, "b": b, "mean": (r + g + b) / 3, "width": image.width,
                "reddish": r > g and r > b, "top_channel": "rgb"[int(np.argmax([r, g, b]))]}


class AboveMean(_Recording):
    """Share of pixels brighter than the image mean: needs `mean_colour`."""

    name, version = "above_mean", "1"
    features = {"share": continuous("share (test)")}
    requires = ("mean_colour",)

    def extract(self, image, deps, post):
        self._record("call")
        grey = image.rgb.astype(np.float64).mean(axis=2)
        return {"share": float((grey > deps["mean_colour"]["mean"]).mean())}


class Slow(_Recording):
    """Edge energy, deliberately slow (a model-like cost per image)."""

    name, version = "slow", "1"
    features = {"edge_energy": continuous("edge_energy (test)")}
    default_config = {"calls_dir": None, "seconds": 0.2}

    def extract(self, image, deps, post):
        self._record("call")
        time.sleep(self.config["seconds"])
        grey = image.rgb.astype(np.float64).mean(axis=2)
        return {"edge_energy": float(np.abs(np.diff(grey, axis=1)).mean())}


class Fragile(_Recording):
    """Fails on the image whose file name is `fail_on`; otherwise the green share."""

    name, version = "fragile", "1"
    features = {"green_share": continuous("green_share (test)")}
    default_config = {"calls_dir": None, "fail_on": None}

    def extract(self, image, deps, post):
        self._record("call")
        if self.config["fail_on"] and image.source.endswith(self.config["fail_on"]):
            raise ValueError(f"cannot handle {Path(image.source).name}")
        rgb = image.rgb.astype(np.float64)
        return {"green_share": float(rgb[..., 1].sum() / max(rgb.sum(), 1.0))}


class FragileChild(_Recording):
    name, version = "fragile_child", "1"
    features = {"double": continuous("double (test)")}
    requires = ("fragile",)

    def extract(self, image, deps, post):
        self._record("call")
        return {"double": 2 * deps["fragile"]["green_share"]}


class FragileReader(_Recording):
    """Uses `fragile` when it is there (an optional requirement), works without it."""

    name, version = "fragile_reader", "1"
    features = {"saw_fragile": binary("fragile's output was given (test)")}
    optional_requires = ("fragile",)

    def extract(self, image, deps, post):
        self._record("call")
        return {"saw_fragile": "fragile" in deps}


class ReaderCloud(_Recording):
    """A 'cloud' extractor (run in a later stage) that needs `fragile_reader`'s output."""

    name, version = "reader_cloud", "1"
    local = False
    features = {"saw_fragile": binary("fragile_reader's answer, passed on (test)")}
    requires = ("fragile_reader",)

    def extract(self, image, deps, post):
        self._record("call")
        return {"saw_fragile": deps["fragile_reader"]["saw_fragile"]}


class CaptionLength(_Recording):
    """Reads a post field: its output (and cache key) depends on the caption."""

    name, version = "caption_length", "1"
    features = {"n_chars": count("n_chars (test)")}
    post_fields = ("accessibility_caption",)

    def extract(self, image, deps, post):
        self._record("call")
        caption = post.get("accessibility_caption")
        return {"n_chars": None if caption is None else len(caption)}


class FakeCloud(_Recording):
    """A 'cloud' extractor (local = False) that reports the cost guard it was given."""

    name, version = "fake_cloud", "1"
    local = False
    features = {"max_calls": count("max_calls (test)"), "pid": count("pid (test)"), "height": count("height (test)")}
    requires = ("mean_colour",)

    def extract(self, image, deps, post):
        self._record("call")
        return {"max_calls": self.settings.max_calls, "pid": os.getpid(), "height": image.height}
