"""Activity: what the person is doing, from pose geometry, objects and Instagram's own caption.

No action-recognition model runs offline here, so the label comes from rules (first match of
`LABEL_RULES`' order): ``sports`` (a sports object, with ``objects``), ``eating_drinking`` (food
or a drink and a hand near the face), ``using_screen`` (a phone/laptop/TV and hands visible),
``with_pet`` (a dog or cat beside the person), ``travel`` (a suitcase, airplane or boat),
``arms_raised``, then the posture (``lying``, ``sitting``, ``standing``), ``posing`` (a person,
posture unknown) or ``none`` (no pose detected; or, with ``people`` in the run, MoveNet saw nobody
and no face was found: the MediaPipe body is then taken for a hallucination, as in photo_type).

Instagram describes many photos itself in ``accessibility_caption`` (a posts-table column), e.g.
``"Photo by SpaceX on June 21, 2021. May be an image of 1 person, standing and outdoors."``.
`parse_caption` turns the description after "May be ..." into tags with the rules of
`CAPTION_RULES` (one table, regular expressions -> tag) and a person count:

- ``caption_person_count``: "1 person" -> 1, "2 people" -> 2; null when not stated;
- ``caption_kind``: "image", "closeup", "selfie", "cartoon", "text", "screenshot"...;
- ``caption_tags``: all tags, sorted, comma-separated (e.g. ``"outdoors,person,standing"``);
- flags ``caption_standing``, ``caption_sitting``, ``caption_outdoors``, ``caption_indoors``,
  ``caption_smiling``, ``caption_text`` (the photo contains text).

All caption features are null when the post has no accessibility caption or the caption holds no
"May be ..." description (e.g. "Photo by SpaceX on June 17, 2021.").

>>> parse_caption("May be an image of 1 person, standing and outdoors")["tags"]
['outdoors', 'person', 'standing']
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .base import Extractor, Features
from .pose import Pose
from .schema import binary, category, count, restated, text

#: Caption phrase patterns -> tag; every phrase of the description is tested against each.
CAPTION_RULES: dict[str, str] = {
    r"\b(?:\d+|one or more) (?:person|people)\b": "person",
    r"\bstanding\b": "standing",
    r"\bsitting\b": "sitting",
    r"\bsmiling\b": "smiling",
    r"\boutdoors?\b": "outdoors",
    r"\bindoors?\b": "indoors",
    r"\btext\b": "text",
    r"\bsky\b": "sky",
    r"\b(?:body of water|ocean|lake|beach|water)\b": "water",
    r"\b(?:mountain|nature|tree|grass|flower|plant)s?\b": "nature",
    r"\b(?:food|dessert|drink|coffee|cake)\b": "food",
    r"\b(?:dog|cat|animal|bird|horse)s?\b": "animal",
    r"\b(?:airplane|car|vehicle|boat|bicycle|motorcycle|train)s?\b": "vehicle",
    r"\b(?:sunglasses|eyeglasses|hat|jewelry)\b": "accessory",
}
_COMPILED = [(re.compile(p, re.IGNORECASE), tag) for p, tag in CAPTION_RULES.items()]
#: "May be <kind> of <description>" (Instagram's automatic alt text)
_DESCRIPTION = re.compile(
    r"may be (?:an? )?(?P<kind>image|closeup|close-up|selfie|cartoon|meme|screenshot|"
    r"illustration|graphic|doodle|text|art|painting|drawing)(?: of)?(?P<rest>.*)",
    re.IGNORECASE | re.DOTALL,
)
_COUNT = re.compile(r"\b(\d+) (?:person|people)\b", re.IGNORECASE)
_QUOTED = re.compile(r"""(?:that says|says)\s*['"“].*?['"”]""", re.IGNORECASE | re.DOTALL)
#: pose descriptors the activity table repeats (for posts where a person is really seen)
POSE_COPIES = ("posture", "arms_raised", "hands_visible", "hand_near_face")
CAPTION_FLAGS = ("standing", "sitting", "outdoors", "indoors", "smiling", "text")
#: the kinds `_DESCRIPTION` reads ("close-up" is spelt "closeup")
CAPTION_KINDS = ("image", "closeup", "selfie", "cartoon", "meme", "screenshot", "illustration",
                 "graphic", "doodle", "text", "art", "painting", "drawing")

#: The activity labels, in the order their rules are tried (`activity_label`)
LABEL_RULES: tuple[str, ...] = ("sports", "eating_drinking", "using_screen", "with_pet", "travel",
                                "arms_raised", "lying", "sitting", "standing", "posing", "none")
#: `objects` presence flags that are evidence of a pet / of travel
PET_OBJECTS: tuple[str, ...] = ("dog", "cat")
TRAVEL_OBJECTS: tuple[str, ...] = ("suitcase", "airplane", "boat")


def parse_caption(caption: str | None) -> dict[str, Any] | None:
    """Tags, kind and person count of an Instagram accessibility caption (None if none)."""
    if not caption or not isinstance(caption, str):
        return None
    match = _DESCRIPTION.search(caption)
    if match is None:
        return None
    kind = match.group("kind").lower().replace("close-up", "closeup")
    # Quoted text ("text that says 'SALE'") must not produce tags of its own.
    rest = _QUOTED.sub(" text ", match.group("rest"))
    phrases = [p.strip(" .") for p in re.split(r",|\band\b", rest) if p.strip(" .")]
    tags = {tag for phrase in phrases for pattern, tag in _COMPILED if pattern.search(phrase)}
    if kind == "text":
        tags.add("text")
    counts = [int(n) for n in _COUNT.findall(rest)]
    return {"kind": kind, "tags": sorted(tags), "person_count": max(counts) if counts else None}


def _positive(deps: Mapping[str, Any] | None, *keys: str) -> bool:
    return bool(deps) and any((deps.get(k) or 0) > 0 for k in keys)


def _present(objects: Mapping[str, Any] | None, labels: tuple[str, ...]) -> bool:
    return bool(objects) and any(objects.get(label) is True for label in labels)


def person_seen(pose: Mapping[str, Any], faces: Mapping[str, Any] | None,
                people: Mapping[str, Any] | None) -> bool:
    """A MediaPipe body, unless `people` ran and saw nobody and no face was found either
    (the same veto as ``photo_type.RULES["people_veto_pose"]``: such bodies were hallucinated)."""
    if not pose.get("detected"):
        return False
    if people is not None and not (people.get("count") or 0) and not ((faces or {}).get("count") or 0):
        return False
    return True


def activity_label(pose: Mapping[str, Any], objects: Mapping[str, Any] | None) -> str:
    """The activity label (first rule of `LABEL_RULES` that applies)."""
    if not pose.get("detected"):
        return "none"
    if _positive(objects, "sports_count"):
        return "sports"
    if _positive(objects, "food_count") and pose.get("hand_near_face"):
        return "eating_drinking"
    if _positive(objects, "screens_count") and pose.get("hands_visible"):
        return "using_screen"
    if _present(objects, PET_OBJECTS):
        return "with_pet"
    if _present(objects, TRAVEL_OBJECTS):
        return "travel"
    if pose.get("arms_raised"):
        return "arms_raised"
    posture = pose.get("posture")
    if posture in ("lying", "sitting", "standing"):
        return posture
    return "posing"


class Activity(Extractor):
    """Activity from pose and objects; tags from Instagram's accessibility caption."""

    name, version = "activity", "2"
    requires = ("pose",)
    optional_requires = ("faces", "people", "objects")
    post_fields = ("accessibility_caption",)
    features = {
        "label": category(LABEL_RULES, "activity: the first rule of LABEL_RULES that applies",
                          reference="none", role="primary"),
        **restated("pose", Pose.features, POSE_COPIES, "when a person is seen"),
        "sports": binary("sports: the label, or sports equipment detected"),
        "eating_drinking": binary("the label is eating_drinking (hand near face with food or a cup)"),
        "using_screen": binary("the label is using_screen (a person with a laptop, phone or TV)"),
        "with_pet": binary("a dog or a cat is detected"),
        "travel": binary("a suitcase, an airplane or a boat is detected"),
        "caption_kind": category(CAPTION_KINDS, "kind named by Instagram's accessibility caption",
                                 reference="image"),
        "caption_tags": text("tags parsed from Instagram's accessibility caption, comma-separated"),
        "caption_person_count": count("people counted by Instagram's accessibility caption",
                                      unit="people"),
        **{f"caption_{flag}": binary(f"Instagram's accessibility caption says {flag}")
           for flag in CAPTION_FLAGS},
    }

    def extract(self, image, deps: Mapping[str, Features], post: Mapping[str, Any]) -> Features:
        pose, objects = deps["pose"], deps.get("objects")
        if not person_seen(pose, deps.get("faces"), deps.get("people")):
            pose = {"detected": False}
        out: Features = {"label": activity_label(pose, objects)}
        if pose.get("detected"):
            out.update({k: pose.get(k) for k in POSE_COPIES})
        if objects is not None:
            label = out["label"]
            out["sports"] = label == "sports" or _positive(objects, "sports_count")
            out["eating_drinking"] = label == "eating_drinking"
            out["using_screen"] = label == "using_screen"
            # Evidence in the frame, whether or not a person is with it.
            out["with_pet"] = _present(objects, PET_OBJECTS)
            out["travel"] = _present(objects, TRAVEL_OBJECTS)
        parsed = parse_caption(post.get("accessibility_caption"))
        if parsed is not None:
            out["caption_kind"] = parsed["kind"]
            out["caption_tags"] = ",".join(parsed["tags"])
            out["caption_person_count"] = parsed["person_count"]
            for flag in CAPTION_FLAGS:
                out[f"caption_{flag}"] = flag in parsed["tags"]
        return out
