"""Azure Face detect: faces and the attributes the service still returns, from image bytes.

**Retired attributes.** Microsoft retired emotion and gender (and limited age, smile, facial hair,
hair and makeup to approved customers) in 2023: Face v1.2 removed them from the schema. This
extractor therefore asks for the attributes any resource still gets (``headPose, glasses,
occlusion, accessories, blur, exposure, noise, qualityForRecognition``) and maps emotion
(``anger ... surprise``, ``dominant``) and ``smile`` **only when a response contains them** (old
cached v1.0 responses, or a resource approved for them that adds them to ``attributes``);
otherwise they are null (unknown), never 0.

Enum values are compared case-insensitively (the real v1.0 service sent ``low``, ``goodExposure``
and ``ReadingGlasses`` where its spec says ``Low``, ``GoodExposure``, ``readingGlasses``) and
reported in the v1.2 spelling (lowerCamel). Unknown keys are ignored.

Face boxes are mapped onto the local ``faces`` names (``count``, ``largest_area_share``,
``largest_cx``, ``largest_cy``, the ``boxes`` artifact), emotion onto the local ``emotion`` names.

Why plain ``requests`` and not an SDK: azure-cognitiveservices-vision-face (the msrest SDK) is
retired and still models the retired attributes; its successor azure-ai-vision-face is a beta.
Detect is one POST of the image bytes, so a small client is simpler and keeps our retry policy
the only one.

>>> raw = {"api": "v1.2", "image": {"width": 800, "height": 600}, "response": [
...     {"faceRectangle": {"left": 100, "top": 100, "width": 200, "height": 150},
...      "faceAttributes": {"glasses": "ReadingGlasses", "blur": {"blurLevel": "Low", "value": 0.1}}}]}
>>> f = AzureFace().features_from_raw(raw)
>>> f["count"], f["largest_area_share"], f["glasses"], f["blur_level"], f["happiness"]
(1, 0.0625, 'readingGlasses', 'low', None)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import Features
from .cloud import BodyNotJson, CloudExtractor, HttpFailure, TransportFailure
from .cloud import short_error as _short
from .cloud.http import number_or_none
from .schema import artifact, binary, category, continuous, count, largest_box, text

if TYPE_CHECKING:
    from ..images import LoadedImage

#: What every Face resource still returns (v1.2's non-limited attributes).
DEFAULT_ATTRIBUTES = (
    "headPose",
    "glasses",
    "occlusion",
    "accessories",
    "blur",
    "exposure",
    "noise",
    "qualityForRecognition",
)
EMOTIONS = ("anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
ACCESSORIES = ("headwear", "glasses", "mask")

#: lower case -> the v1.2 spelling, for every enum the mapping reports.
_CANONICAL = {
    v.lower(): v
    for v in (
        "noGlasses", "readingGlasses", "sunglasses", "swimmingGoggles",
        "low", "medium", "high",
        "underExposure", "goodExposure", "overExposure",
    )
}


def canonical(value: Any) -> str | None:
    """An enum value in the v1.2 spelling, matched case-insensitively (unknown ones lower-cased).

    >>> canonical("GoodExposure"), canonical("ReadingGlasses"), canonical("Brand-New")
    ('goodExposure', 'readingGlasses', 'brand-new')
    """
    if value is None:
        return None
    text = str(value)
    return _CANONICAL.get(text.lower(), text.lower())


class AzureFace(CloudExtractor):
    """Azure Face detect (cloud, sends images): face boxes, head pose, glasses, occlusion,
    accessories, blur/exposure/noise, quality; emotion/gender/age were RETIRED in 2023, so
    emotion/smile are null unless a response still has them."""

    name, version = "azure_face", "2"
    notice = "emotion/gender/age RETIRED by Microsoft (2023): not requested, null unless returned"
    packages = ("requests",)
    settings_prefix = "azure_face"
    calls_per_second = 10.0  # the S0 tier's limit; F0 allows 20 per minute (429s are retried)
    option_choices = {"api_version": ("v1.2", "v1.0")}
    default_config = {
        "api_version": "v1.2",  # or "v1.0"
        "attributes": DEFAULT_ATTRIBUTES,
        "detection_model": "detection_01",  # the only one returning these attributes
        "recognition_model": "recognition_04",  # needed for qualityForRecognition
    }
    features = {
        "count": count("faces Azure Face found", unit="faces"),
        **largest_box("face"),
        **{f"head_pose_{angle}": continuous(f"head {angle} of the largest face", unit="degrees")
           for angle in ("pitch", "roll", "yaw")},
        "glasses": text("Azure's glasses type (NoGlasses, ReadingGlasses, Sunglasses...)"),
        **{f"{part}_occluded": binary(f"the {part} is occluded")
           for part in ("forehead", "eye", "mouth")},
        **{f"accessory_{kind}": continuous(f"confidence of {kind}", unit="0..1")
           for kind in ACCESSORIES},
        "blur_level": text("Azure's blur level (Low, Medium, High)"),
        "blur_value": continuous("Azure's blur value", unit="0..1", role="diagnostic"),
        "exposure_level": text("Azure's exposure level"),
        "exposure_value": continuous("Azure's exposure value", unit="0..1", role="diagnostic"),
        "noise_level": text("Azure's noise level"),
        "noise_value": continuous("Azure's noise value", unit="0..1", role="diagnostic"),
        "quality_for_recognition": text("Azure's quality for recognition (Low, Medium, High)"),
        "smile": continuous("Azure smile score (retired by Microsoft)", unit="0..1"),
        **{emotion: continuous(f"Azure {emotion} score (retired by Microsoft)", unit="0..1")
           for emotion in EMOTIONS},
        "dominant": category(EMOTIONS, "Azure's most probable emotion (retired by Microsoft)",
                             reference="neutral"),
    }
    artifacts = {"boxes": artifact("face_boxes", "face boxes [x, y, w, h], 0..1 of the frame,"
                                   " largest first")}

    def __init__(self, settings=None, **kwargs: Any):
        if "attributes" in kwargs:  # a list from JSON/CLI -> a tuple (stable cache key)
            kwargs["attributes"] = tuple(kwargs["attributes"])
        super().__init__(settings, **kwargs)

    def api_label(self) -> str:
        return self.config["api_version"]

    # -- transport --------------------------------------------------------------------------
    def _connect(self, key: str, endpoint: str) -> Any:
        import requests

        session = requests.Session()
        # the key travels in this header only; it is never logged (requests doesn't log headers)
        session.headers["Ocp-Apim-Subscription-Key"] = key
        self._url = f"{endpoint}/face/{self.config['api_version']}/detect"
        return session

    def _send(self, client: Any, image: LoadedImage):
        import requests

        params = {
            "returnFaceId": "false",  # face ids need Limited Access approval, and aren't used
            "returnFaceLandmarks": "false",
            "returnFaceAttributes": ",".join(self.config["attributes"]),
            "detectionModel": self.config["detection_model"],
            "recognitionModel": self.config["recognition_model"],
            "returnRecognitionModel": "false",
        }
        try:
            response = client.post(
                self._url,
                params=params,
                data=image.data,
                headers={"Content-Type": "application/octet-stream"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise TransportFailure(_short(exc)) from None
        if not 200 <= response.status_code < 300:
            raise HttpFailure.of(response.status_code, dict(response.headers), response.text)
        try:
            body = json.loads(response.text)
        except ValueError as exc:
            raise BodyNotJson(str(exc)) from None
        return body, dict(response.headers)

    # -- mapping ----------------------------------------------------------------------------
    def _map(self, raw: Mapping[str, Any]) -> Features:
        faces = raw["response"]
        if not isinstance(faces, list):
            raise TypeError(f"expected a JSON array of faces, got {type(faces).__name__}")
        size = raw.get("image") or {}
        width, height = float(size["width"]), float(size["height"])
        boxes = []
        for face in faces:
            rect = face["faceRectangle"]
            x, y = float(rect["left"]) / width, float(rect["top"]) / height
            w, h = float(rect["width"]) / width, float(rect["height"]) / height
            boxes.append([round(v, 5) for v in (x, y, w, h)] + [None])  # Face gives no score
        out: Features = {
            "count": len(faces),
            "boxes": boxes,
        }
        if not faces:
            return out  # "no face" is an answer (count 0); every per-face feature is unknown
        index = max(range(len(faces)), key=lambda i: boxes[i][2] * boxes[i][3])
        x, y, w, h, _ = boxes[index]
        out.update(
            largest_area_share=min(1.0, w * h),
            largest_cx=min(1.0, x + w / 2),
            largest_cy=min(1.0, y + h / 2),
        )
        out.update(self._attributes(faces[index].get("faceAttributes") or {}))
        return out

    @staticmethod
    def _attributes(attrs: Mapping[str, Any]) -> Features:
        # keys compared case-insensitively too, so "HeadPose" or "headpose" read the same
        attrs = {str(k).lower(): v for k, v in attrs.items()}
        out: Features = {}
        pose = attrs.get("headpose")
        if isinstance(pose, Mapping):
            out.update(head_pose_pitch=number_or_none(pose.get("pitch")), head_pose_roll=number_or_none(pose.get("roll")),
                       head_pose_yaw=number_or_none(pose.get("yaw")))
        out["glasses"] = canonical(attrs.get("glasses"))
        occlusion = attrs.get("occlusion")
        if isinstance(occlusion, Mapping):
            out.update(forehead_occluded=occlusion.get("foreheadOccluded"),
                       eye_occluded=occlusion.get("eyeOccluded"),
                       mouth_occluded=occlusion.get("mouthOccluded"))
        accessories = attrs.get("accessories")
        if isinstance(accessories, list):
            # the attribute was returned: an accessory not listed was not seen (0.0)
            found = {kind: 0.0 for kind in ACCESSORIES}
            for item in accessories:
                kind = str(item.get("type", "")).lower()
                if kind in found:
                    found[kind] = max(found[kind], float(item.get("confidence") or 0.0))
            out.update({f"accessory_{kind}": conf for kind, conf in found.items()})
        for part, level_key in (("blur", "blurLevel"), ("exposure", "exposureLevel"),
                                ("noise", "noiseLevel")):
            block = attrs.get(part)
            if isinstance(block, Mapping):
                out[f"{part}_level"] = canonical(block.get(level_key))
                out[f"{part}_value"] = number_or_none(block.get("value"))
        out["quality_for_recognition"] = canonical(attrs.get("qualityforrecognition"))
        out["smile"] = number_or_none(attrs.get("smile"))  # limited access: usually absent
        emotion = attrs.get("emotion")  # retired: present only in old/approved responses
        if isinstance(emotion, Mapping):
            scores = {str(k).lower(): v for k, v in emotion.items()}
            values = {e: number_or_none(scores.get(e)) for e in EMOTIONS}
            out.update(values)
            known = {e: v for e, v in values.items() if v is not None}
            if known:
                out["dominant"] = max(known, key=known.get)
        return out
