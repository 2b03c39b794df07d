"""Photo type: graphic | portrait | full_body | group | scenery | other, by transparent rules.

No scene classifier runs offline here (../shared/MODELS.md), so the type is decided from what the
other extractors measured: faces (count, largest face's share of the frame), pose (detected,
full body visible, person-mask share) and, when they are part of the run, ``people`` (MoveNet
MultiPose: several people, full bodies) and ``objects`` (COCO detections: close-ups of food, pets,
screens...) and ``text`` (PP-OCRv4 text boxes). Every threshold is in `RULES`; `classify` applies
them in this order (first match):

G. ``graphic`` (text posts, screenshots, posters, memes; with ``text`` in the run): text covers
   >= ``graphic_min_text_share`` of the frame in at least ``graphic_min_lines`` boxes, or >=
   ``graphic_text_share`` in any number of boxes. A post that is mainly text is a graphic even
   when it holds a photo of people. The thresholds were set on a synthetic set of 309 images (125
   rendered text posts of six kinds, 25 photos with one small caption or watermark, 159 photos
   from ../shared/data; 97.4 % agreement there) and then measured, unchanged, on
   benchmarks/data/feed_eval (benchmarks/eval_photo_type.py). Illustrations without text are not
   caught: nsfwjs's "drawing" probability (``racy.drawing``) separates them from photos too weakly
   (AUC 0.60 on 200 real posts, 0.73 on feed_eval) to be a rule; it stays a feature. A linear
   probe on nsfwjs's image features (the close-up probe's recipe) was measured too and not
   taken: it calls stylised photos illustrations (docs/extractors.md).

0. With ``people`` in the run and ``people_veto_pose``: when no face is found and MoveNet sees
   nobody, a MediaPipe body is ignored (on our labelled set every such body was hallucinated on
   smoke or window frames).
1. ``group``: at least ``group_min_people`` people (faces found, or ``people.count``).
2. ``full_body``: a whole body is visible (``pose.full_body_visible``, or
   ``people.full_body_count`` >= 1) and the person is not tiny (person-mask share >=
   ``full_body_min_share`` or a person box >= ``full_body_min_box_share``).
3. ``portrait``: the largest face covers >= ``portrait_min_face_share`` of the frame, or an upper
   body covers >= ``portrait_min_body_share`` (a portrait from behind or in profile).
4. ``other``: a person is there but small or partial (face >= ``person_min_face_share`` or body >=
   ``person_min_body_share``), or (with ``objects``) a non-person, non-vehicle object covers
   >= ``object_min_share`` of the frame (food, pets, products: close-ups), or (with ``racy``)
   the close-up probe (``racy.closeup``, `rumaro_lab.extractors.closeup`) gives >=
   ``closeup_min``: flowers, leaves, animals and things NanoDet has no class for or misses.
5. ``scenery``: nothing of the above (no person evidence).

``rule`` names the rule that fired (e.g. ``"portrait:face"``), ``n_people`` is the number of
people seen (max of the face count and ``people.count``) and ``person_share`` the person-mask
share used (null without a pose).

>>> classify({"count": 0}, {"detected": False}, None, None)[0]
'scenery'
>>> classify({"count": 1, "largest_area_share": 0.08}, {"detected": True, "body_share": 0.4,
...           "full_body_visible": False}, None, None)[0]
'portrait'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Extractor, Features, stable_hash
from .schema import category, continuous, count, text

LABELS = ("portrait", "full_body", "group", "scenery", "other", "graphic")

#: Every threshold of the photo-type rules, in one place (tested).
RULES: dict[str, float | bool] = {
    "group_min_people": 3,            # 3+ people: group (the seed's definition)
    "full_body_min_share": 0.03,      # person mask share needed for a full-body shot
    "full_body_min_box_share": 0.04,  # or a MoveNet person box of this share of the frame
    "portrait_min_face_share": 0.015, # largest face >= 1.5% of the frame: portrait
    "portrait_min_body_share": 0.25,  # or a detected (upper) body covering 25% of the frame
    "person_min_face_share": 0.0005,  # smaller faces don't count as a person in the picture
    "person_min_body_share": 0.02,    # ... nor smaller bodies
    "object_min_share": 0.10,         # a non-person object this big: a close-up ("other")
    "closeup_min": 0.7,               # with `racy`: the close-up probe's probability for "other"
    "people_veto_pose": True,         # with `people`: no face and MoveNet sees nobody -> the
                                      # MediaPipe body is a hallucination (smoke, window frames)
    "graphic_min_text_share": 0.03,   # text boxes cover 3% of the frame ...
    "graphic_min_lines": 2,           # ... in 2+ boxes (one small line is a caption/watermark)
    "graphic_text_share": 0.05,       # or 5% in any number of boxes (a big headline)
}

#: object families (``objects``) whose big boxes are scenery, not close-ups
SCENERY_OBJECT_LABELS = frozenset({
    "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench",
})


def _num(value: Any, default: float = 0.0) -> float:
    return default if value is None else float(value)


def largest_object_share(objects: Mapping[str, Any] | None) -> float:
    """Largest box area share of a non-person, non-vehicle detection in ``objects``."""
    if not objects or not objects.get("detections"):
        return 0.0
    best = 0.0
    for row in objects["detections"]:
        label, _score, _x, _y, w, h = row
        if label != "person" and label not in SCENERY_OBJECT_LABELS:
            best = max(best, float(w) * float(h))
    return best


def graphic_rule(text: Mapping[str, Any] | None,
                 rules: Mapping[str, float | bool] = RULES) -> str | None:
    """``graphic:text`` when the text outputs make the photo a graphic, else None."""
    if not text:
        return None
    share, lines = _num(text.get("area_share")), _num(text.get("box_count"))
    if share >= rules["graphic_text_share"] or (
            share >= rules["graphic_min_text_share"] and lines >= rules["graphic_min_lines"]):
        return "graphic:text"
    return None


def classify(
    faces: Mapping[str, Any],
    pose: Mapping[str, Any],
    people: Mapping[str, Any] | None,
    objects: Mapping[str, Any] | None,
    rules: Mapping[str, float | bool] = RULES,
    text: Mapping[str, Any] | None = None,
    racy: Mapping[str, Any] | None = None,
) -> tuple[str, str, int]:
    """(label, rule that fired, number of people) from the extractors' outputs."""
    n_faces = int(_num(faces.get("count")))
    n_people = max(n_faces, int(_num(people.get("count")))) if people else n_faces
    graphic = graphic_rule(text, rules)
    if graphic:
        return "graphic", graphic, n_people
    face_share = _num(faces.get("largest_area_share"))
    pose_seen = bool(pose.get("detected"))
    if (rules["people_veto_pose"] and people is not None and n_faces == 0
            and int(_num(people.get("count"))) == 0):
        pose_seen = False
    body_share = _num(pose.get("body_share")) if pose_seen else 0.0
    box_share = _num(people.get("largest_share")) if people else 0.0

    if n_people >= rules["group_min_people"]:
        return "group", "group:people", n_people
    full_body = (pose_seen and bool(pose.get("full_body_visible"))) or (
        people is not None and _num(people.get("full_body_count")) >= 1)
    if full_body and (body_share >= rules["full_body_min_share"]
                      or box_share >= rules["full_body_min_box_share"]):
        return "full_body", "full_body:pose", max(n_people, 1)
    if face_share >= rules["portrait_min_face_share"]:
        return "portrait", "portrait:face", max(n_people, 1)
    if body_share >= rules["portrait_min_body_share"]:
        return "portrait", "portrait:body", max(n_people, 1)
    if (face_share >= rules["person_min_face_share"] and n_faces) or (
            body_share >= rules["person_min_body_share"]):
        return "other", "other:small_person", max(n_people, 1)
    if largest_object_share(objects) >= rules["object_min_share"]:
        return "other", "other:object", n_people
    if racy and racy.get("closeup") is not None and racy["closeup"] >= rules["closeup_min"]:
        return "other", "other:closeup", n_people
    return "scenery", "scenery:no_person", n_people


class PhotoType(Extractor):
    """Graphic | portrait | full_body | group | scenery | other (rules on text, faces, pose, people)."""

    name, version = "photo_type", "3"  # 3: the close-up probe (racy.closeup) for other vs scenery
    requires = ("faces", "pose")
    optional_requires = ("people", "objects", "text", "racy")
    features = {
        "label": category(LABELS, "photo type by the rules of RULES (first match)",
                          reference="scenery", role="primary", summary=True),
        "rule": text("the rule that fired, e.g. portrait:face (refines label)"),
        "n_people": count("people seen: max of the face count and people.count", unit="people"),
        "person_share": continuous("share of the frame covered by the person mask (null: no pose)",
                                   unit="fraction of image area"),
    }
    default_config = {"rules": None}

    @property
    def rules(self) -> dict[str, float | bool]:
        return {**RULES, **(self.config["rules"] or {})}

    def cache_config_hash(self, present_optional: tuple[str, ...] = (),
                          post: Mapping[str, Any] | None = None) -> str:
        # the rules in force, not only the overrides: an edited RULES table must not reuse
        # labels cached under the old one
        own = super().cache_config_hash(present_optional, post)
        return stable_hash({"own": own, "rules": self.rules})

    def extract(self, image, deps: Mapping[str, Features], post: Mapping[str, Any]) -> Features:
        pose = deps["pose"]
        label, rule, n_people = classify(deps["faces"], pose, deps.get("people"),
                                         deps.get("objects"), self.rules, deps.get("text"),
                                         deps.get("racy"))
        return {"label": label, "rule": rule, "n_people": n_people,
                "person_share": pose.get("body_share") if pose.get("detected") else None}
