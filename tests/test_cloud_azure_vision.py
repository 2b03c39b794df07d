"""azure_vision end to end against the REAL recorded v3.2 / 4.0 exchanges (no key, no network).

`responses` intercepts the SDKs' HTTP (msrest and azure-core both use requests). Success and
error bodies are the recordings in tests/data/cloud_samples; the 429 is modelled on the
documented shape (no real 429 recording exists; see fixtures/cloud/recordings.py).
"""

from __future__ import annotations

import json
import logging
from urllib.parse import unquote

import pytest
import responses
from fixtures.cloud.recordings import Exchange, Replay, error_429, load_exchange
from pydantic import SecretStr

from rumaro_lab.extractors import cloud
from rumaro_lab.extractors.azure_vision import AzureVision
from rumaro_lab.extractors.cloud import CloudCallError, MalformedResponse, ServiceStopped
from rumaro_lab.images import load_image

ENDPOINT = "https://westus.api.cognitive.microsoft.com"
V32_URL = f"{ENDPOINT}/vision/v3.2/analyze"
V40_URL = f"{ENDPOINT}/computervision/imageanalysis:analyze"
KEY = "test-key-0123456789abcdef"
V32_OK = "azure_cv_v3.2_analyze_200_sdk_recording.json"
V40_OK = "azure_imageanalysis_4.0_analyze_200_all_features_sdk_recording.json"
V40_401 = "azure_imageanalysis_4.0_analyze_401_invalid_key_sdk_recording.json"
V32_400 = "azure_cv_v3.2_analyze_400_invalid_image_url_sdk_recording.json"


@pytest.fixture()
def cloud_settings(settings):
    return settings.model_copy(update={
        "azure_vision_key": SecretStr(KEY),
        "azure_vision_endpoint": ENDPOINT,
    })


@pytest.fixture()
def image(test_data):
    return load_image(test_data / "pd_demo_images/skimage_hubble_deep_field.jpg")


@pytest.fixture()
def other_image(test_data):
    return load_image(test_data / "pd_demo_images/skimage_rocket.jpg")


@pytest.fixture()
def sleeps(monkeypatch):
    """time.sleep recorded, not slept (retry waits and rate-limit waits)."""
    waited: list[float] = []
    monkeypatch.setattr(cloud.base.time, "sleep", waited.append)
    return waited


def _extractor(settings, **kw):
    # no rate limit here (tested on its own), so the recorded sleeps are the retry waits
    return AzureVision(settings, calls_per_second=0, **kw)


def test_v32_success_maps_the_real_recording(cloud_settings, image, test_data, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    replay = Replay([load_exchange(test_data, V32_OK)])
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", V32_URL, callback=replay)
        features, raw = _extractor(cloud_settings).extract_with_raw(image, {}, {})

    # the request: the image's bytes (not a URL), as octet-stream, with the key header
    sent = replay.requests[0]
    assert sent["body"] == image.data
    assert sent["headers"]["Content-Type"] == "application/octet-stream"
    assert sent["headers"]["Ocp-Apim-Subscription-Key"] == KEY
    assert "visualFeatures=Categories,Adult" in unquote(sent["url"])
    # ... and the key never reaches a log line
    assert KEY not in caplog.text

    # values of the real recording (a house photo): building_ 0.640625 -> scenery
    assert features["photo_type_label"] == "scenery"
    assert features["photo_type_category"] == "building_"
    assert features["photo_type_score"] == pytest.approx(0.640625)
    assert features["racy_score"] == pytest.approx(0.0023683577310293913)
    assert features["adult_score"] == pytest.approx(0.0013707621255889535)
    assert features["is_racy"] is False and features["is_adult"] is False
    assert features["tags"].split(", ")[:3] == ["grass", "outdoor", "building"]
    assert features["tag_count"] == 24  # all 24 recorded tags are >= 0.5
    assert features["face_count"] == 0 and features["face_largest_area_share"] is None
    assert features["accent_color"] == "#448318" and features["is_bw"] is False
    assert features["dominant_colors"] == "Green, White"
    assert features["model_version"] == "2021-04-01"
    # not requested in that recording: unknown, not zero
    assert features["caption"] is None and features["object_count"] is None

    # the raw envelope is JSON-able, keeps the request id, and maps to the same features
    cached = json.loads(json.dumps(raw))
    assert cached["headers"]["apim-request-id"] == "9c89b4aa-b9e7-4edb-bc9c-6ca0ad0bf508"
    assert AzureVision().features_from_raw(cached) == features
    # the key is in no part of what gets cached or hashed
    assert KEY not in json.dumps(raw)
    assert KEY not in json.dumps(_extractor(cloud_settings).config)


def test_v40_success_maps_the_real_recording(cloud_settings, image, test_data, sleeps):
    replay = Replay([load_exchange(test_data, V40_OK)])
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", V40_URL, callback=replay)
        features, raw = _extractor(cloud_settings, api="4.0").extract_with_raw(image, {}, {})
    sent = replay.requests[0]
    assert sent["body"] == image.data
    assert "features=caption,tags,objects,people" in unquote(sent["url"])
    assert "gender-neutral-caption=true" in sent["url"]
    assert features["caption"] == "a person wearing a mask sitting at a table with a laptop"
    assert features["caption_confidence"] == pytest.approx(0.8502674698829651)
    # two people detections, one at 0.0017: thresholded away
    assert features["person_count"] == 1
    assert features["object_count"] == 5
    # 4.0 has no categories, adult scores or faces: unknown
    assert features["photo_type_label"] is None and features["racy_score"] is None
    assert features["face_count"] is None
    assert AzureVision(api="4.0").features_from_raw(json.loads(json.dumps(raw))) == features


def test_429_waits_what_retry_after_says_then_succeeds(cloud_settings, image, test_data, sleeps):
    replay = Replay([error_429("7"), load_exchange(test_data, V32_OK)])
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", V32_URL, callback=replay)
        features, _ = _extractor(cloud_settings).extract_with_raw(image, {}, {})
    assert len(replay.requests) == 2
    assert sleeps == [7.0]
    assert features["racy_score"] == pytest.approx(0.0023683577310293913)


def test_5xx_is_retried_with_backoff(cloud_settings, image, test_data, sleeps):
    busy = Exchange(503, {"Content-Type": "application/json"},
                    '{"error": {"code": "ServiceUnavailable", "message": "busy"}}')
    replay = Replay([busy, busy, load_exchange(test_data, V32_OK)])
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", V32_URL, callback=replay)
        features, _ = _extractor(cloud_settings, backoff=2.0).extract_with_raw(image, {}, {})
    assert len(replay.requests) == 3 and features["photo_type_label"] == "scenery"
    # no Retry-After: exponential backoff with jitter, 1st in [1, 2] s, 2nd in [2, 4] s
    assert len(sleeps) == 2 and 1.0 <= sleeps[0] <= 2.0 and 2.0 <= sleeps[1] <= 4.0


def test_gives_up_after_max_retries_naming_the_image(cloud_settings, image, sleeps):
    replay = Replay([error_429("1")])
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", V32_URL, callback=replay)
        with pytest.raises(CloudCallError, match="skimage_hubble_deep_field.jpg.*gave up after 3"):
            _extractor(cloud_settings, max_retries=2).extract_with_raw(image, {}, {})
    assert len(replay.requests) == 3


def test_401_stops_the_service_for_the_rest_of_the_run(
    cloud_settings, image, other_image, test_data, sleeps, caplog
):
    caplog.set_level(logging.DEBUG)
    replay = Replay([load_exchange(test_data, V40_401)])  # the real 401 (gateway answer)
    extractor = _extractor(cloud_settings)
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", V32_URL, callback=replay)
        with pytest.raises(ServiceStopped, match="refused the key: HTTP 401") as first:
            extractor.extract_with_raw(image, {}, {})
        assert "RUMARO_AZURE_VISION_KEY" in first.value.hint
        # the second image makes no HTTP call, in this instance or another one of the same run
        with pytest.raises(ServiceStopped, match="stopped earlier in this run"):
            extractor.extract_with_raw(other_image, {}, {})
        with pytest.raises(ServiceStopped):
            _extractor(cloud_settings, run_id=extractor._run_id).extract_with_raw(other_image, {}, {})
    assert len(replay.requests) == 1
    assert sleeps == []  # never retried
    assert KEY not in caplog.text and KEY not in str(first.value)


def test_400_is_an_error_for_this_image_only(cloud_settings, image, other_image, test_data, sleeps):
    replay = Replay([load_exchange(test_data, V32_400), load_exchange(test_data, V32_OK)])
    extractor = _extractor(cloud_settings)
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", V32_URL, callback=replay)
        with pytest.raises(CloudCallError, match="HTTP 400: InvalidArgument/InvalidImageUrl"):
            extractor.extract_with_raw(image, {}, {})
        features, _ = extractor.extract_with_raw(other_image, {}, {})
    assert features["photo_type_label"] == "scenery"
    assert sleeps == []


@pytest.mark.parametrize("api,url", [("v3.2", V32_URL), ("4.0", V40_URL)])
def test_truncated_body_is_a_clear_per_image_error(cloud_settings, image, test_data, api, url, sleeps):
    recording = load_exchange(test_data, V32_OK if api == "v3.2" else V40_OK)
    recording.body = recording.body[: len(recording.body) // 2]
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", url, callback=Replay([recording]))
        with pytest.raises(MalformedResponse, match="skimage_hubble_deep_field.jpg.*not valid JSON"):
            _extractor(cloud_settings, api=api).extract_with_raw(image, {}, {})


def test_budget_is_shared_by_two_instances_of_one_run(cloud_settings, image, test_data, sleeps):
    from rumaro_lab.extractors.cloud import BudgetExhausted

    limited = cloud_settings.model_copy(update={"max_calls": 2})
    replay = Replay([load_exchange(test_data, V32_OK)])
    first, second = _extractor(limited, run_id="run-a"), _extractor(limited, run_id="run-a")
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", V32_URL, callback=replay)
        first.extract_with_raw(image, {}, {})
        second.extract_with_raw(image, {}, {})
        with pytest.raises(BudgetExhausted, match="skimage_hubble_deep_field.jpg: the cost guard of 2 azure_vision"):
            first.extract_with_raw(image, {}, {})
        # a new run starts with a fresh budget
        _extractor(limited, run_id="run-b").extract_with_raw(image, {}, {})
    assert len(replay.requests) == 3


def test_availability_names_the_missing_variable(settings):
    reason = AzureVision.availability(settings).reason
    assert "RUMARO_AZURE_VISION_KEY" in reason and "RUMARO_AZURE_VISION_ENDPOINT" in reason
    with_key = settings.model_copy(update={"azure_vision_key": SecretStr(KEY)})
    reason = AzureVision.availability(with_key).reason
    assert "RUMARO_AZURE_VISION_ENDPOINT" in reason and "KEY" not in reason
    assert AzureVision.local is False


def test_the_sdks_own_retries_are_off(cloud_settings):
    """Our loop must be the only retry policy, or budget and Retry-After tests would lie."""
    v32 = _extractor(cloud_settings)
    v32.ensure_ready()
    policy = v32._client.config.retry_policy
    assert policy.retries == 0 and not policy.policy.status_forcelist
    v40 = _extractor(cloud_settings, api="4.0")
    v40.ensure_ready()
    retry = v40._client._config.retry_policy
    assert retry.total_retries == 0


def test_spec_example_with_people_and_a_face(test_data):
    """The v3.2 specification's stream example (hand-written by Microsoft: shape, not realism)."""
    from fixtures.cloud.recordings import load_spec_example

    body = load_spec_example(test_data, "azure_cv_v3.2_analyze_stream_200_spec_example.json").json()
    features = AzureVision().features_from_raw(
        {"api": "v3.2", "image": {"width": 10, "height": 10}, "response": body})
    assert features["photo_type_label"] == "full_body"  # people_ 0.84
    assert features["face_count"] == 1
    # 250 x 250 face in the 1500 x 1000 image of the response's metadata (not our image size)
    assert features["face_largest_area_share"] == pytest.approx(250 * 250 / 1.5e6)
    assert features["caption"] == "Satya Nadella sitting on a bench"
    assert features["object_count"] == 1 and features["person_count"] == 0
    assert features["accent_color"] == "#873b59"


@pytest.mark.parametrize("categories,label", [
    ([{"name": "people_portrait", "score": 0.5}, {"name": "outdoor_", "score": 0.4}], "portrait"),
    ([{"name": "outdoor_", "score": 0.6}, {"name": "people_portrait", "score": 0.4}], "scenery"),
    ([{"name": "people_group", "score": 0.7}], "full_body"),
    ([{"name": "sky_cloud", "score": 0.31}], "scenery"),
    ([{"name": "people_", "score": 0.3}], "other"),  # the seed's rule is score > 0.3
    ([{"name": "food_pizza", "score": 0.9}], "other"),
    ([], "other"),
])
def test_the_seeds_photo_type_rule(categories, label):
    from rumaro_lab.extractors.azure_vision import photo_type_from_categories

    assert photo_type_from_categories(categories)[0] == label
