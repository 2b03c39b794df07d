"""Azure AI Vision: Computer Vision v3.2 Analyze (default) or Image Analysis 4.0, from image bytes.

v3.2 (``api="v3.2"``, azure-cognitiveservices-vision-computervision) gives categories -> the seed's
photo type, adult/racy/gore scores, tags, a caption, objects, faces and colours. 4.0 (``api="4.0"``,
azure-ai-vision-imageanalysis) is for resources that only offer it: caption, tags, objects and
people, and **no** categories, adult/racy scores, faces or colours (those features are null).

The seed's photo-type rule (its ``apis/photo.py``), on v3.2 categories: among categories scoring
above ``category_threshold`` (0.3), the best one decides: ``people_portrait`` -> ``portrait``,
any other ``people_*`` -> ``full_body``, ``outdoor_*``/``building_*``/``sky_*`` -> ``scenery``,
anything else (or nothing above the threshold) -> ``other``. The labels are those of the local
``photo_type.label``; the seed's rule never says ``group``.

``racy_score`` is Azure's "sexually suggestive" score; the local ``racy.nsfw_score`` (OpenNSFW) is
one "not safe for work" score that mixes explicit and suggestive content: related, not the same
scale, so they keep different names. ``adult_score`` is Azure's explicit-content score.

>>> raw = {"api": "v3.2", "image": {"width": 600, "height": 462}, "response": {
...     "categories": [{"name": "building_", "score": 0.64}, {"name": "outdoor_house", "score": 0.32}],
...     "adult": {"racyScore": 0.002, "isRacyContent": False}}}
>>> f = AzureVision().features_from_raw(raw)
>>> f["photo_type_label"], f["photo_type_category"], f["racy_score"], f["caption"]
('scenery', 'building_', 0.002, None)
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import Features
from .cloud import BodyNotJson, CloudExtractor, HttpFailure, TransportFailure
from .cloud import short_error as _short
from .cloud.http import number_or_none
from .photo_type import LABELS as PHOTO_TYPES
from .schema import binary, category, continuous, count, text

if TYPE_CHECKING:
    from ..images import LoadedImage

#: v3.2 visual features requested (Brands and celebrity/landmark details are not used).
V32_FEATURES = ("Categories", "Adult", "Tags", "Description", "Faces", "Color", "ImageType", "Objects")
#: 4.0 visual features requested (read/OCR, dense captions and smart crops are not used).
V40_FEATURES = ("caption", "tags", "objects", "people")

SCENERY_PREFIXES = ("outdoor_", "building_", "sky_")


def photo_type_from_categories(
    categories: list[Mapping[str, Any]] | None, threshold: float = 0.3
) -> tuple[str | None, str | None, float | None]:
    """(label, deciding category, its score) by the seed's rule; all None without categories.

    >>> photo_type_from_categories([{"name": "people_portrait", "score": 0.9}])
    ('portrait', 'people_portrait', 0.9)
    >>> photo_type_from_categories([{"name": "people_", "score": 0.2}])
    ('other', None, None)
    """
    if categories is None:
        return None, None, None
    above = [c for c in categories if float(c.get("score") or 0.0) > threshold and c.get("name")]
    if not above:
        return "other", None, None
    best = max(above, key=lambda c: float(c["score"]))
    name = str(best["name"])
    if name == "people_portrait":
        label = "portrait"
    elif name.startswith("people_"):
        label = "full_body"
    elif name.startswith(SCENERY_PREFIXES):
        label = "scenery"
    else:
        label = "other"
    return label, name, float(best["score"])


def _top_tags(tags: list[Mapping[str, Any]] | None, threshold: float, limit: int):
    if tags is None:
        return None, None
    kept = sorted(
        (t for t in tags if float(t.get("confidence") or 0.0) >= threshold and t.get("name")),
        key=lambda t: -float(t["confidence"]),
    )
    return ", ".join(str(t["name"]) for t in kept[:limit]), len(kept)


def _described(caption, tags, tag_count, objects) -> Features:
    """The features both API versions answer the same way: caption, tags, object count."""
    return {
        "caption": caption.get("text") if caption else None,
        "caption_confidence": number_or_none(caption.get("confidence")) if caption else None,
        "tags": tags,
        "tag_count": tag_count,
        "object_count": len(objects) if objects is not None else None,
    }


#: the v3.2 content scores and what they mean
CONTENT_SCORES = {"adult": "explicit", "racy": "suggestive", "gore": "violence"}


class AzureVision(CloudExtractor):
    """Azure AI Vision (cloud, sends images): photo type from v3.2 categories, adult/racy/gore
    scores, caption, tags, objects, people, faces, colours; 4.0 has no categories/adult/faces."""

    name, version = "azure_vision", "1"
    packages = ("azure.cognitiveservices.vision.computervision", "msrest")
    settings_prefix = "azure_vision"
    calls_per_second = 10.0  # the S1 tier's limit; F0 allows 20 per minute (429s are retried)
    option_choices = {"api": ("v3.2", "4.0")}
    default_config = {
        "api": "v3.2",  # or "4.0" (Image Analysis)
        "language": "en",
        "model_version": "latest",
        "category_threshold": 0.3,  # the seed's
        "tag_threshold": 0.5,
        "max_tags": 10,
        "people_threshold": 0.5,  # 4.0 people detections include near-zero ones
        "gender_neutral_caption": True,  # 4.0 only
    }
    features = {
        "photo_type_label": category(PHOTO_TYPES, "photo type by the seed's rule on Azure's"
                                     " categories", reference="scenery"),
        "photo_type_category": text("the Azure category that decided the photo type"),
        "photo_type_score": continuous("score of that category", unit="0..1", role="diagnostic"),
        **{f"{kind}_score": continuous(f"Azure {kind} score ({meaning})", unit="0..1")
           for kind, meaning in CONTENT_SCORES.items()},
        **{flag: binary(f"Azure says {flag.removeprefix('is_')}")
           for flag in ("is_adult", "is_racy", "is_gory")},
        "caption": text("Azure's caption of the image"),
        "caption_confidence": continuous("confidence of the caption", unit="0..1",
                                         role="diagnostic"),
        "tags": text("Azure's tags, comma-separated"),
        "tag_count": count("tags returned", unit="tags", role="diagnostic"),
        "object_count": count("objects Azure detected", unit="objects"),
        "person_count": count("people Azure detected", unit="people"),
        "face_count": count("faces Azure detected (v3.2)", unit="faces"),
        "face_largest_area_share": continuous("share of the frame covered by the largest face",
                                              unit="fraction of image area"),
        "dominant_color_foreground": text("Azure's dominant foreground colour name"),
        "dominant_color_background": text("Azure's dominant background colour name"),
        "dominant_colors": text("Azure's dominant colour names, comma-separated"),
        "accent_color": text("Azure's accent colour as #rrggbb"),
        "is_bw": binary("Azure says black and white"),
        "clip_art_type": count("Azure clip-art type: 0 non-clip-art .. 3 good clip art",
                               unit="level"),
        "line_drawing_type": count("Azure line-drawing type: 0 or 1", unit="level"),
        "model_version": text("the Azure model version that answered"),
    }

    def api_label(self) -> str:
        return self.config["api"]

    # -- transport --------------------------------------------------------------------------
    def _connect(self, key: str, endpoint: str) -> Any:
        if self.config["api"] == "4.0":
            from azure.ai.vision.imageanalysis import ImageAnalysisClient
            from azure.core.credentials import AzureKeyCredential
            from azure.core.pipeline.policies import RetryPolicy

            # The SDK's own retry policy is switched off: ours (cloud._call) counts the budget,
            # honours Retry-After and stops on 401 across processes.
            return ImageAnalysisClient(
                endpoint=endpoint,
                credential=AzureKeyCredential(key),
                retry_policy=RetryPolicy.no_retries(),
                connection_timeout=self.timeout,
                read_timeout=self.timeout,
            )
        from azure.cognitiveservices.vision.computervision import ComputerVisionClient
        from msrest.authentication import CognitiveServicesCredentials

        client = ComputerVisionClient(endpoint, CognitiveServicesCredentials(key))
        # urllib3's retries off (count and statuses), so ours (cloud._call) are in force: they
        # count the budget, honour Retry-After and stop on 401 across processes.
        client.config.retry_policy.retries = 0
        client.config.retry_policy.policy.status_forcelist = frozenset()
        client.config.connection.timeout = self.timeout
        client.config.enable_http_logger = False  # it would log request headers (the key)
        return client

    def _send(self, client: Any, image: LoadedImage):
        if self.config["api"] == "4.0":
            return self._send_40(client, image)
        return self._send_32(client, image)

    def _send_32(self, client: Any, image: LoadedImage):
        from azure.cognitiveservices.vision.computervision.models import (
            ComputerVisionErrorResponseException,
        )
        from msrest.exceptions import ClientRequestError, DeserializationError

        try:
            reply = client.analyze_image_in_stream(
                io.BytesIO(image.data),
                visual_features=list(V32_FEATURES),
                language=self.config["language"],
                model_version=self.config["model_version"],
                raw=True,
            )
        except ComputerVisionErrorResponseException as exc:
            response = exc.response
            raise HttpFailure.of(response.status_code, dict(response.headers), response.text) from None
        except DeserializationError as exc:
            raise BodyNotJson(str(exc).splitlines()[0][:200]) from None
        except ClientRequestError as exc:
            raise TransportFailure(_short(exc)) from None
        response = reply.response
        try:
            # our own parse keeps every key (the SDK model drops unknown ones such as isBwImg)
            body = json.loads(response.text)
        except ValueError as exc:
            raise BodyNotJson(str(exc)) from None
        return body, dict(response.headers)

    def _send_40(self, client: Any, image: LoadedImage):
        from azure.ai.vision.imageanalysis.models import VisualFeatures
        from azure.core.exceptions import (
            DecodeError,
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
        )

        captured: dict[str, Any] = {}

        def keep_response(pipeline_response, deserialized, headers):
            captured["response"] = pipeline_response.http_response
            return deserialized

        try:
            client.analyze(
                image_data=image.data,
                visual_features=[VisualFeatures(f) for f in V40_FEATURES],
                language=self.config["language"],
                gender_neutral_caption=bool(self.config["gender_neutral_caption"]),
                model_version=self.config["model_version"],
                cls=keep_response,
            )
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise TransportFailure(_short(exc)) from None
        except DecodeError as exc:  # a subclass of HttpResponseError: check it first
            raise BodyNotJson(str(exc).splitlines()[0][:200]) from None
        except HttpResponseError as exc:
            response = exc.response
            if exc.status_code is not None and 200 <= exc.status_code < 300:
                raise BodyNotJson(str(exc).splitlines()[0][:200]) from None
            raise HttpFailure.of(
                exc.status_code or 0, dict(response.headers), response.text()
            ) from None
        except ValueError as exc:
            raise BodyNotJson(str(exc).splitlines()[0][:200]) from None
        response = captured["response"]
        return json.loads(response.text()), dict(response.headers)

    # -- mapping ----------------------------------------------------------------------------
    def _map(self, raw: Mapping[str, Any]) -> Features:
        body = raw["response"]
        if not isinstance(body, Mapping):
            raise TypeError(f"expected a JSON object, got {type(body).__name__}")
        if raw.get("api") == "4.0":
            return self._map_40(body)
        return self._map_32(body, raw.get("image") or {})

    def _map_32(self, body: Mapping[str, Any], image: Mapping[str, Any]) -> Features:
        cfg = self.config
        label, category, score = photo_type_from_categories(
            body.get("categories"), cfg["category_threshold"]
        )
        adult = body.get("adult") or {}
        captions = (body.get("description") or {}).get("captions")
        caption = max(captions, key=lambda c: float(c.get("confidence") or 0)) if captions else None
        tags, tag_count = _top_tags(body.get("tags"), cfg["tag_threshold"], cfg["max_tags"])
        objects = body.get("objects")
        faces = body.get("faces")
        color = body.get("color") or {}
        image_type = body.get("imageType") or {}
        width = (body.get("metadata") or {}).get("width") or image.get("width")
        height = (body.get("metadata") or {}).get("height") or image.get("height")
        largest_face = None
        if faces and width and height:
            largest_face = max(
                float(f["faceRectangle"]["width"]) * float(f["faceRectangle"]["height"])
                for f in faces
            ) / (float(width) * float(height))
        is_bw = color.get("isBWImg", color.get("isBwImg"))
        accent = color.get("accentColor")
        return {
            "photo_type_label": label,
            "photo_type_category": category,
            "photo_type_score": score,
            "adult_score": number_or_none(adult.get("adultScore")),
            "racy_score": number_or_none(adult.get("racyScore")),
            "gore_score": number_or_none(adult.get("goreScore")),
            "is_adult": adult.get("isAdultContent"),
            "is_racy": adult.get("isRacyContent"),
            "is_gory": adult.get("isGoryContent"),
            **_described(caption, tags, tag_count, objects),
            "person_count": (
                sum(str(o.get("object", "")).lower() == "person" for o in objects)
                if objects is not None
                else None
            ),
            "face_count": len(faces) if faces is not None else None,
            # no face: the count says 0, the largest face's share is unknown (as in `faces`)
            "face_largest_area_share": min(1.0, largest_face) if largest_face is not None else None,
            "dominant_color_foreground": color.get("dominantColorForeground"),
            "dominant_color_background": color.get("dominantColorBackground"),
            "dominant_colors": (
                ", ".join(color["dominantColors"]) if color.get("dominantColors") is not None else None
            ),
            "accent_color": f"#{accent.lower()}" if accent else None,
            "is_bw": is_bw,
            "clip_art_type": image_type.get("clipArtType"),
            "line_drawing_type": image_type.get("lineDrawingType"),
            "model_version": body.get("modelVersion"),
        }

    def _map_40(self, body: Mapping[str, Any]) -> Features:
        cfg = self.config
        caption = body.get("captionResult")
        tags_result = body.get("tagsResult")
        tags, tag_count = _top_tags(
            tags_result.get("values") if tags_result else None, cfg["tag_threshold"], cfg["max_tags"]
        )
        objects = (body.get("objectsResult") or {}).get("values")
        people = (body.get("peopleResult") or {}).get("values")

        def object_name(o: Mapping[str, Any]) -> str:
            names = o.get("tags") or [{}]
            return str(names[0].get("name", "")).lower()  # names aren't case-normalised ("Laptop")

        return {
            **_described(caption, tags, tag_count, objects),
            # the people model, thresholded; objects named "person" would be a second opinion
            "person_count": (
                sum(float(p.get("confidence") or 0) >= cfg["people_threshold"] for p in people)
                if people is not None
                else (sum(object_name(o) == "person" for o in objects) if objects is not None else None)
            ),
            "model_version": body.get("modelVersion"),
        }
