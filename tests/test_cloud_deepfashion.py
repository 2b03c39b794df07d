"""deepfashion through the real `algorithmia` client against a mocked self-hosted endpoint.

No DeepFashion output exists publicly, so the success body is BUILT from the documented contract
(fixtures/cloud/deepfashion_response.json; see fixtures/cloud/README.md), not recorded.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
import responses
from fixtures.cloud.recordings import Exchange, Replay, error_429
from pydantic import SecretStr

from rumaro_lab.extractors import cloud
from rumaro_lab.extractors.cloud import CloudCallError, MalformedResponse, ServiceStopped
from rumaro_lab.extractors.deepfashion import CLASSES, FAMILIES, DeepFashion
from rumaro_lab.images import load_image

ENDPOINT = "https://algorithmia.example.internal"
URL = f"{ENDPOINT}/v1/algo/algorithmiahq/DeepFashion/1.3.0"
KEY = "simABCDEFGHIJKLMNOP12345"
FIXTURE = Path(__file__).parent / "fixtures" / "cloud" / "deepfashion_response.json"


def _ok() -> Exchange:
    return Exchange(200, {"Content-Type": "application/json"}, FIXTURE.read_text())


@pytest.fixture()
def df_settings(settings):
    return settings.model_copy(update={"algorithmia_key": SecretStr(KEY),
                                       "algorithmia_endpoint": ENDPOINT})


@pytest.fixture()
def image(test_data):
    return load_image(test_data / "pd_demo_images/skimage_rocket.jpg")


@pytest.fixture()
def sleeps(monkeypatch):
    waited: list[float] = []
    monkeypatch.setattr(cloud.base.time, "sleep", waited.append)
    return waited


def _df(settings, **kw):
    return DeepFashion(settings, calls_per_second=0, **kw)


def test_articles_map_to_garment_families(df_settings, image, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    replay = Replay([_ok()])
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", URL, callback=replay)
        features, raw = _df(df_settings).extract_with_raw(image, {}, {})

    sent = replay.requests[0]
    payload = json.loads(sent["body"])
    assert base64.b64decode(payload["image"]) == image.data  # the bytes, never a URL
    assert payload["threshold"] == 0.3 and payload["tags_only"] is True
    assert payload["model"] == payload["mode"] == "small"
    assert sent["headers"]["Authorization"] == KEY
    assert "timeout=300" in sent["url"]  # the algorithm's time limit ...
    assert sent["timeout"] == 330  # ... and the HTTP one the client itself would not set
    assert KEY not in caplog.text

    assert features["n_articles"] == 3
    assert features["top_article"] == "jeans" and features["max_confidence"] == 0.9141
    assert features["articles"] == "jeans, t shirt, sneakers"
    assert features["has_top"] and features["has_bottom"] and features["has_footwear"]
    assert features["has_dress"] is False and features["has_outerwear"] is False
    assert DeepFashion().features_from_raw(json.loads(json.dumps(raw))) == features


def test_families_cover_the_49_classes_once():
    assert len(CLASSES) == len(set(CLASSES)) == 49
    assert sum(len(v) for v in FAMILIES.values()) == 49


def test_non_people_photos_are_not_sent(df_settings, image, sleeps):
    df = _df(df_settings)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        replay = Replay([_ok()])
        mock.add_callback("POST", URL, callback=replay)
        features, raw = df.extract_with_raw(image, {"photo_type": {"label": "scenery"}}, {})
        assert replay.requests == [] and raw["skipped"]
        assert all(v is None for v in features.values())  # unknown, not "no clothes"
        features, _ = df.extract_with_raw(image, {"photo_type": {"label": "full_body"}}, {})
        assert len(replay.requests) == 1 and features["n_articles"] == 3


def test_401_stops_the_service(df_settings, image, sleeps):
    denied = Exchange(401, {"Content-Type": "application/json"},
                      '{"error": {"message": "authorization required"}}')
    replay = Replay([denied])
    df = _df(df_settings)
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", URL, callback=replay)
        with pytest.raises(ServiceStopped, match="HTTP 401") as info:
            df.extract_with_raw(image, {}, {})
        assert "RUMARO_ALGORITHMIA_KEY" in info.value.hint
        with pytest.raises(ServiceStopped):
            df.extract_with_raw(image, {}, {})
    assert len(replay.requests) == 1


def test_authorization_error_in_a_200_body_also_stops(df_settings, image, sleeps):
    # Algorithmia's own mock server answers a missing key this way (status 200)
    replay = Replay([Exchange(200, {"Content-Type": "application/json"},
                              '{"error": {"message": "authorization required"}}')])
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", URL, callback=replay)
        with pytest.raises(ServiceStopped):
            _df(df_settings).extract_with_raw(image, {}, {})


def test_algorithm_error_fails_only_this_image(df_settings, image, sleeps):
    broken = Exchange(200, {"Content-Type": "application/json"}, json.dumps(
        {"error": {"message": "cannot identify image file", "error_type": "AlgorithmError"},
         "metadata": {"duration": 0.2}}))
    replay = Replay([broken, _ok()])
    df = _df(df_settings)
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", URL, callback=replay)
        with pytest.raises(CloudCallError, match="skimage_rocket.jpg.*cannot identify"):
            df.extract_with_raw(image, {}, {})
        assert df.extract_with_raw(image, {}, {})[0]["n_articles"] == 3


def test_429_then_success_and_5xx_retried(df_settings, image, sleeps):
    busy = Exchange(502, {"Content-Type": "text/html"}, "<html>Bad Gateway</html>")
    replay = Replay([error_429("3"), busy, _ok()])
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", URL, callback=replay)
        features, _ = _df(df_settings, backoff=1.0).extract_with_raw(image, {}, {})
    assert features["n_articles"] == 3 and len(replay.requests) == 3
    assert sleeps[0] == 3.0 and 0.5 <= sleeps[1] <= 2.0


def test_truncated_body_is_malformed(df_settings, image, sleeps):
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", URL, callback=Replay([
            Exchange(200, {"Content-Type": "application/json"}, FIXTURE.read_text()[:120])]))
        with pytest.raises(MalformedResponse, match="skimage_rocket.jpg.*not valid JSON"):
            _df(df_settings).extract_with_raw(image, {}, {})


def test_availability_needs_key_and_endpoint(settings):
    reason = DeepFashion.availability(settings).reason
    assert "RUMARO_ALGORITHMIA_KEY" in reason and "RUMARO_ALGORITHMIA_ENDPOINT" in reason
