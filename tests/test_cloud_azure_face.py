"""azure_face end to end against the REAL v1.0 recording and the v1.2 spec example (no network).

The v1.0 recording (Nov 2021) still carries the retired emotion/gender attributes; the v1.2
example (the current API) does not. Enum casing differs between them (``low`` vs ``Low``,
``ReadingGlasses`` vs ``sunglasses``): the mapping compares case-insensitively.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import responses
from fixtures.cloud.recordings import Exchange, Replay, error_429, load_exchange, load_spec_example
from pydantic import SecretStr

from rumaro_lab.extractors import cloud
from rumaro_lab.extractors.azure_face import DEFAULT_ATTRIBUTES, AzureFace
from rumaro_lab.extractors.cloud import MalformedResponse, ServiceStopped, parse_retry_after
from rumaro_lab.images import load_image

ENDPOINT = "https://westus.api.cognitive.microsoft.com"
KEY = "face-key-fedcba9876543210"
V10_OK = "azure_face_v1.0_detect_200_sdk_recording_excerpt.json"
V12_OK = "azure_face_v1.2_detect_stream_200_spec_example.json"
UNAUTHORIZED = "azure_imageanalysis_4.0_analyze_401_invalid_key_sdk_recording.json"


@pytest.fixture()
def face_settings(settings):
    return settings.model_copy(update={"azure_face_key": SecretStr(KEY),
                                       "azure_face_endpoint": ENDPOINT + "/"})


@pytest.fixture()
def image(test_data):  # 1000 x 872
    return load_image(test_data / "pd_demo_images/skimage_hubble_deep_field.jpg")


@pytest.fixture()
def sleeps(monkeypatch):
    waited: list[float] = []
    monkeypatch.setattr(cloud.base.time, "sleep", waited.append)
    return waited


def _face(settings, **kw):
    return AzureFace(settings, calls_per_second=0, **kw)


def test_v10_recording_maps_every_attribute_case_insensitively(face_settings, image, test_data,
                                                               sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    replay = Replay([load_exchange(test_data, V10_OK)])
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", f"{ENDPOINT}/face/v1.0/detect", callback=replay)
        features, raw = _face(face_settings, api_version="v1.0").extract_with_raw(image, {}, {})

    sent = replay.requests[0]
    assert sent["body"] == image.data  # bytes, not a URL
    assert sent["headers"]["Content-Type"] == "application/octet-stream"
    assert sent["headers"]["Ocp-Apim-Subscription-Key"] == KEY
    assert KEY not in caplog.text
    assert "returnFaceId=false" in sent["url"]
    assert sent["timeout"] == 60

    assert features["count"] == 1
    # box 550,202 127x127 in a 1000 x 872 image
    assert features["largest_area_share"] == pytest.approx(127 * 127 / (1000 * 872), rel=1e-3)
    assert features["largest_cx"] == pytest.approx((550 + 63.5) / 1000, rel=1e-3)
    assert features["largest_cy"] == pytest.approx((202 + 63.5) / 872, rel=1e-3)
    assert features["boxes"][0][:2] == pytest.approx([550 / 1000, 202 / 872], rel=1e-3)
    assert (features["head_pose_pitch"], features["head_pose_roll"], features["head_pose_yaw"]) == (14.8, 7.8, 32.0)
    # the real service's casing ("ReadingGlasses", "low", "goodExposure") -> v1.2 spelling
    assert features["glasses"] == "readingGlasses"
    assert features["blur_level"] == "low" and features["blur_value"] == 0.0
    assert features["exposure_level"] == "goodExposure" and features["exposure_value"] == 0.34
    assert features["noise_level"] == "medium" and features["noise_value"] == 0.43
    assert features["quality_for_recognition"] == "medium"  # a key the v1.0 schema lacks
    assert features["forehead_occluded"] is True and features["mouth_occluded"] is False
    assert features["accessory_headwear"] == 1.0 and features["accessory_glasses"] == 1.0
    assert features["accessory_mask"] == 0.0  # returned list without a mask: not seen
    # retired emotion, present in this 2021 response
    assert features["neutral"] == 0.844 and features["surprise"] == 0.155
    assert features["dominant"] == "neutral"
    assert features["smile"] == 0.0
    assert AzureFace(api_version="v1.0").features_from_raw(json.loads(json.dumps(raw))) == features


def test_v12_answer_has_no_emotion_so_it_is_null(face_settings, image, test_data, sleeps):
    replay = Replay([load_spec_example(test_data, V12_OK)])
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", f"{ENDPOINT}/face/v1.2/detect", callback=replay)
        features, _ = _face(face_settings).extract_with_raw(image, {}, {})
    requested = [p for p in replay.requests[0]["url"].split("&") if "returnFaceAttributes" in p][0]
    assert "emotion" not in requested.lower() and "gender" not in requested.lower()
    assert all(a in requested for a in DEFAULT_ATTRIBUTES)
    assert features["glasses"] == "sunglasses" and features["accessory_mask"] == 0.87
    assert features["blur_level"] == "medium" and features["quality_for_recognition"] == "high"
    for emotion in ("anger", "happiness", "neutral", "surprise", "dominant", "smile"):
        assert features[emotion] is None


def test_no_face_is_count_zero_and_unknown_attributes(face_settings, image, sleeps):
    replay = Replay([Exchange(200, {"Content-Type": "application/json"}, "[]")])
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", f"{ENDPOINT}/face/v1.2/detect", callback=replay)
        features, _ = _face(face_settings).extract_with_raw(image, {}, {})
    assert features["count"] == 0 and features["boxes"] == []
    assert features["largest_area_share"] is None and features["glasses"] is None


def test_429_with_an_http_date_retry_after(face_settings, image, test_data, sleeps):
    when = datetime.now(UTC) + timedelta(seconds=30)
    replay = Replay([error_429(format_datetime(when, usegmt=True), code="RateLimitExceeded"),
                     load_spec_example(test_data, V12_OK)])
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", f"{ENDPOINT}/face/v1.2/detect", callback=replay)
        features, _ = _face(face_settings).extract_with_raw(image, {}, {})
    assert features["count"] == 1 and len(replay.requests) == 2
    assert len(sleeps) == 1 and 27 <= sleeps[0] <= 30


def test_403_stops_the_service_without_more_calls(face_settings, image, test_data, sleeps):
    forbidden = load_exchange(test_data, UNAUTHORIZED)  # the gateway's shape, status 403
    forbidden.status = 403
    replay = Replay([forbidden])
    face = _face(face_settings)
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", f"{ENDPOINT}/face/v1.2/detect", callback=replay)
        with pytest.raises(ServiceStopped, match="HTTP 403"):
            face.extract_with_raw(image, {}, {})
        with pytest.raises(ServiceStopped, match="stopped earlier"):
            face.extract_with_raw(image, {}, {})
    assert len(replay.requests) == 1


def test_truncated_json_names_the_image(face_settings, image, test_data, sleeps):
    recording = load_exchange(test_data, V10_OK)
    recording.body = recording.body[:500]
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", f"{ENDPOINT}/face/v1.0/detect", callback=Replay([recording]))
        with pytest.raises(MalformedResponse, match="skimage_hubble_deep_field.jpg.*not valid JSON"):
            _face(face_settings, api_version="v1.0").extract_with_raw(image, {}, {})


def test_retry_after_forms():
    assert parse_retry_after({"retry-after": "2.5"}) == 2.5
    assert parse_retry_after({"x-ms-retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
                             now=datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC).timestamp()) == 60.0
    assert parse_retry_after({"Retry-After": "soon"}) is None


def test_the_retirement_is_shown_by_rumaro_extractors(settings):
    from rumaro_lab.extractors import list_extractors

    assert "RETIRED" in AzureFace.description
    row = list_extractors(settings).set_index("name").loc["azure_face"]
    assert "RETIRED" in row["reason"] and "RUMARO_AZURE_FACE_KEY" in row["reason"]
    assert not row["available"] and not row["default"]


def test_a_connection_error_is_retried(face_settings, image, test_data, sleeps):
    import requests

    with responses.RequestsMock() as mock:
        url = f"{ENDPOINT}/face/v1.2/detect"
        mock.add("POST", url, body=requests.ConnectionError("[Errno 104] Connection reset by peer"))
        replay = Replay([load_spec_example(test_data, V12_OK)])
        mock.add_callback("POST", url, callback=replay)
        features, _ = _face(face_settings).extract_with_raw(image, {}, {})
    assert features["count"] == 1 and len(replay.requests) == 1 and len(sleeps) == 1
