"""Algorithmia ``algorithmiahq/DeepFashion``: clothing articles with confidences -> apparel features.

The public Algorithmia marketplace is gone, so the endpoint is configurable
(``RUMARO_ALGORITHMIA_ENDPOINT``) for self-hosted installs (Algorithmia Enterprise / DataRobot).
The call follows the seed and the algorithm's documented contract (see
../shared/data/cloud_samples/deepfashion_usage.md): the image goes as **base64** (never a URL:
Instagram CDN URLs expire), with ``threshold`` and ``tags_only``; the model size is sent both as
``model`` (what the seed and other callers send) and ``mode`` (what the algorithm's docs name),
since which one the service reads is unresolved. The result is ``{"articles": [{"article_name",
"confidence", "bounding_box": {"x0", "y0", "x1", "y1"}}]}``.

Like the seed, by default only photos of people are sent (the local ``photo_type.label`` is
``full_body`` or ``group``): apparel of a landscape is not worth a paid call. Photos not sent get
null features (unknown), not zeros. Without ``photo_type`` in the run every image is sent.

Features: ``n_articles``, ``top_article``, ``max_confidence``, ``articles`` (names, best first), and
one boolean per garment family (``has_top``, ``has_bottom``, ...; see `FAMILIES`) computed over the
49 DeepFashion classes.

>>> raw = {"api": "algorithmiahq/DeepFashion/1.3.0", "response": {"articles": [
...     {"article_name": "jeans", "confidence": 0.91}, {"article_name": "t shirt", "confidence": 0.72}]}}
>>> f = DeepFashion().features_from_raw(raw)
>>> f["n_articles"], f["top_article"], f["has_bottom"], f["has_top"], f["has_dress"]
(2, 'jeans', True, True, False)
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import Features
from .cloud import (
    BodyNotJson,
    CloudCallError,
    CloudExtractor,
    HttpFailure,
    MalformedResponse,
    TransportFailure,
    image_base64,
)
from .cloud import short_error as _short
from .schema import binary, continuous, count, text

if TYPE_CHECKING:
    from ..images import LoadedImage

ALGORITHM = "algorithmiahq/DeepFashion/1.3.0"

#: The 49 DeepFashion classes grouped into garment families (each class in exactly one).
FAMILIES: dict[str, tuple[str, ...]] = {
    "top": ("t shirt", "sweater", "tank top", "button down shirt", "blouse", "sweatshirt", "tunic"),
    "bottom": ("jeans", "skirt", "leggings", "pants casual", "shorts", "sweatpants"),
    "dress": ("casual dress", "formal dress", "sweater dress"),
    "one_piece": ("overall", "rompers", "jumpsuit", "pants suit formal"),
    "outerwear": ("lightweight jacket", "winter jacket", "vest", "blazer", "denim jacket",
                  "leather jacket", "trenchcoat"),
    "footwear": ("boots", "sandals", "heels pumps or wedges", "sneakers", "flats",
                 "running shoes", "socks", "hosiery"),
    "bag": ("top handle bag", "shoulder bag", "clutches", "backpack or messenger bag"),
    "accessory": ("jewelry", "sunglasses", "watches", "hat", "glasses", "belts", "headwrap",
                  "gloves"),
    "intimates": ("lingerie", "underwear"),
}
CLASSES: tuple[str, ...] = tuple(name for names in FAMILIES.values() for name in names)
_FAMILY_OF = {name: family for family, names in FAMILIES.items() for name in names}

#: Photo types worth sending when ``photo_type`` ran (the seed sent only "people" photos).
PEOPLE_TYPES = ("full_body", "group")


class DeepFashion(CloudExtractor):
    """Algorithmia DeepFashion (cloud, sends images; public service gone, set a self-hosted
    endpoint): clothing articles -> garment families; only people photos by default."""

    name, version = "deepfashion", "1"
    notice = "the public Algorithmia service is gone: needs a self-hosted endpoint"
    packages = ("Algorithmia",)
    settings_prefix = "algorithmia"
    calls_per_second = 2.0  # each call takes ~8 s of compute (small model)
    timeout = 300.0  # the seed's algorithm timeout
    optional_requires = ("photo_type",)
    default_config = {
        "algorithm": ALGORITHM,
        "model": "small",  # small | mid | large
        "threshold": 0.3,  # the seed's (the algorithm's default is 0.65)
        "only_people": True,
    }
    features = {
        "n_articles": count("clothing articles DeepFashion found", unit="articles"),
        "top_article": text("the most confident article's name"),
        "max_confidence": continuous("its confidence", unit="0..1", role="diagnostic"),
        "articles": text("article names, comma-separated"),
        **{f"has_{family}": binary(f"an article of the {family} family is found")
           for family in FAMILIES},
    }

    def api_label(self) -> str:
        return self.config["algorithm"]

    def _skip_reason(self, image, deps, post) -> str | None:
        label = (deps.get("photo_type") or {}).get("label")
        if self.config["only_people"] and label is not None and label not in PEOPLE_TYPES:
            return f"photo_type.label is {label!r}, not one of {PEOPLE_TYPES}"
        return None

    # -- transport --------------------------------------------------------------------------
    def _connect(self, key: str, endpoint: str) -> Any:
        import Algorithmia

        client = Algorithmia.client(api_key=key, api_address=endpoint)
        # The client turns a non-2xx answer into a bare Exception("... <Response [401]>"): keep
        # the last response so _send can read its status and Retry-After.
        self._last_response = None

        def remember(response, *args, **kwargs):
            self._last_response = response

        session = client.requestSession
        session.hooks["response"].append(remember)
        # the client sets no HTTP timeout: give every request one (the algorithm's + a margin)
        session.request = functools.partial(session.request, timeout=self.timeout + 30)
        return client.algo(self.config["algorithm"]).set_options(timeout=int(self.timeout))

    def _send(self, client: Any, image: LoadedImage):
        import requests
        from Algorithmia.errors import AlgorithmException

        payload = {
            "image": image_base64(image),
            "model": self.config["model"],
            "mode": self.config["model"],
            "threshold": self.config["threshold"],
            "tags_only": True,  # no annotated image to store
        }
        self._last_response = None
        try:
            reply = client.pipe(payload)
        except requests.exceptions.JSONDecodeError as exc:  # a 2xx body that isn't JSON
            raise BodyNotJson(str(exc)) from None
        except requests.RequestException as exc:
            raise TransportFailure(_short(exc)) from None
        except AlgorithmException as exc:
            message = str(exc.message)
            if "authoriz" in message.lower():  # Algorithmia answers "authorization required" in a 200
                raise HttpFailure.of(401, {}, json.dumps({"error": {"message": message}})) from None
            raise CloudCallError(
                f"{image.source}: the algorithm failed: {message[:300]}",
                hint="an error inside the algorithm for this image; the rest go on",
            ) from None
        except Exception as exc:  # the client's "Non-Algorithm related Failure: ..."
            response = self._last_response
            if response is None:
                raise
            if 200 <= response.status_code < 300:
                raise MalformedResponse(
                    f"{image.source}: unexpected response shape ({str(exc)[:200]})",
                    hint="expected {'result': ..., 'metadata': ...}: is the endpoint an Algorithmia API?",
                ) from None
            raise HttpFailure.of(response.status_code, dict(response.headers), response.text) from None
        headers = dict(self._last_response.headers) if self._last_response is not None else {}
        return {"result": reply.result, "metadata": reply.metadata.full_metadata}, headers

    # -- mapping ----------------------------------------------------------------------------
    def _map(self, raw: Mapping[str, Any]) -> Features:
        body = raw["response"]
        result = body.get("result", body) if isinstance(body, Mapping) else body
        if isinstance(result, str):  # the seed stored the result as a JSON string
            result = json.loads(result)
        articles = result["articles"]
        if not isinstance(articles, list):
            raise TypeError(f"articles should be a list, got {type(articles).__name__}")
        ranked = sorted(
            ({"name": str(a["article_name"]).strip().lower(),
              "confidence": None if a.get("confidence") is None else float(a["confidence"])}
             for a in articles),
            key=lambda a: -(a["confidence"] if a["confidence"] is not None else -1.0),
        )
        families = {_FAMILY_OF.get(a["name"]) for a in ranked}
        confidences = [a["confidence"] for a in ranked if a["confidence"] is not None]
        return {
            "n_articles": len(ranked),
            "top_article": ranked[0]["name"] if ranked else None,
            "max_confidence": max(confidences) if confidences else None,
            "articles": ", ".join(a["name"] for a in ranked),
            **{f"has_{family}": family in families for family in FAMILIES},
        }
