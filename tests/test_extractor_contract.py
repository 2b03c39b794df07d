import numpy as np
import pytest

from rumaro_lab.errors import ExtractorOutputError, RumaroError
from rumaro_lab.extractors import DEFAULT_EXTRACTORS, REGISTRY
from rumaro_lab.extractors.base import Extractor, stable_hash
from rumaro_lab.extractors.schema import binary, continuous, count, text
from rumaro_lab.images import LoadedImage


class Mean(Extractor):
    name, version = "mean", "1"
    features = {"value": continuous("mean pixel value"), "n": count("values"),
                "bright": binary("brighter than threshold"), "label": text("a label")}
    default_config = {"threshold": 100}
    post_fields = ("accessibility_caption",)

    def extract(self, image, deps, post):
        value = float(image.rgb.mean())
        return {"value": value, "n": image.rgb.size, "bright": value > self.config["threshold"]}


def _image(value=200):
    return LoadedImage(rgb=np.full((2, 2, 3), value, np.uint8), sha256="x", source="t")


def test_output_is_typed_and_missing_is_none():
    m = Mean()
    out = m.check_output(m.extract(_image(), {}, {}))
    assert out == {"value": 200.0, "n": 12, "bright": True, "label": None}
    assert Mean.columns() == {"mean.value": "Float64", "mean.n": "Int64", "mean.bright": "boolean", "mean.label": "string"}


def test_undeclared_feature_is_an_error():
    with pytest.raises(ExtractorOutputError, match="undeclared"):
        Mean().check_output({"surprise": 1})


def test_nan_becomes_none():
    assert Mean().check_output({"value": float("nan")})["value"] is None


def test_cache_hash_depends_on_config_post_fields_and_optional_deps():
    base = Mean().cache_config_hash()
    assert base == Mean().cache_config_hash()
    assert base != Mean(threshold=5).cache_config_hash()
    assert base != Mean().cache_config_hash(post={"accessibility_caption": "1 person"})
    assert base == Mean().cache_config_hash(post={"caption": "ignored field"})
    assert base != Mean().cache_config_hash(present_optional=("people",))


def test_unknown_option_names_the_options():
    with pytest.raises(RumaroError, match="threshold"):
        Mean(treshold=3)


def test_stable_hash_is_order_independent():
    assert stable_hash({"a": 1, "b": 2}) == stable_hash({"b": 2, "a": 1})


def test_defaults_are_registered():
    assert set(DEFAULT_EXTRACTORS) <= set(REGISTRY)


def test_configured_instances_pickle_to_workers_with_their_config():
    import pickle

    copy = pickle.loads(pickle.dumps(Mean(threshold=5)))
    assert copy.config == {"threshold": 5}
    assert copy.cache_config_hash() == Mean(threshold=5).cache_config_hash()


def test_resolve_order_takes_classes_outside_the_registry():
    from rumaro_lab.extractors import resolve_order

    class Child(Mean):
        name, requires = "child", ("mean",)

    assert resolve_order(["child"], classes={"child": Child, "mean": Mean}) == ["mean", "child"]
    # unavailable optional requirements are left out, available ones come first
    class Optional(Mean):
        name, optional_requires = "optional", ("mean",)

    classes = {"optional": Optional, "mean": Mean}
    assert resolve_order(["optional"], available=lambda n: False, classes=classes) == ["optional"]
    assert resolve_order(["optional"], available=lambda n: True, classes=classes) == ["mean", "optional"]
