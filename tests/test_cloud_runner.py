"""Cloud extractors inside the real runner: raw answers cached (a second run calls nothing),
a 401 fails every image with one call, and --max-calls is a per-run budget."""

from __future__ import annotations

import pytest
import responses
from fixtures.cloud.recordings import Replay, load_exchange
from pydantic import SecretStr

from rumaro_lab.extractors import cloud
from rumaro_lab.extractors.runner import extract_images

ENDPOINT = "https://westus.api.cognitive.microsoft.com"
URL = f"{ENDPOINT}/vision/v3.2/analyze"
OK = "azure_cv_v3.2_analyze_200_sdk_recording.json"
DENIED = "azure_imageanalysis_4.0_analyze_401_invalid_key_sdk_recording.json"


@pytest.fixture()
def run_settings(settings):
    return settings.model_copy(update={"azure_vision_key": SecretStr("runner-key-0123456789"),
                                       "azure_vision_endpoint": ENDPOINT})


@pytest.fixture()
def images(test_data):
    return [test_data / "pd_demo_images/skimage_rocket.jpg",
            test_data / "pd_demo_images/skimage_hubble_deep_field.jpg"]


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(cloud.base.time, "sleep", lambda s: None)


def _run(images, settings, **kw):
    return extract_images(images, settings, extractors=["azure_vision"], workers=1,
                          progress=False, **kw)


def test_second_run_makes_no_call(run_settings, images, test_data):
    replay = Replay([load_exchange(test_data, OK)])
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", URL, callback=replay)
        first = _run(images, run_settings)
        assert len(replay.requests) == 2
        second = _run(images, run_settings)
    assert len(replay.requests) == 2  # answered from the cache
    assert list(first["status"]) == ["ok", "ok"]
    assert second["azure_vision.racy_score"].tolist() == pytest.approx([0.0023683577310293913] * 2)


def test_401_fails_every_image_with_one_call(run_settings, images, test_data):
    replay = Replay([load_exchange(test_data, DENIED)])
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", URL, callback=replay)
        table = _run(images, run_settings)
    assert len(replay.requests) == 1
    assert list(table["status"]) == ["error", "error"]
    assert "refused the key: HTTP 401" in table["error"][0]
    assert "skimage_rocket.jpg" in table["error"][0]
    assert "stopped earlier in this run" in table["error"][1]
    assert "runner-key" not in " ".join(table["error"])


def test_max_calls_is_a_budget_per_run(run_settings, images, test_data):
    replay = Replay([load_exchange(test_data, OK)])
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", URL, callback=replay)
        table = _run(images, run_settings, max_calls=1)
        assert len(replay.requests) == 1
        assert sorted(table["status"]) == ["error", "ok"]
        assert "cost guard of 1" in table["error"].dropna().iloc[0]
        # the next run has its own budget: the cached image is free, the other one is sent
        table = _run(images, run_settings, max_calls=1)
    assert len(replay.requests) == 2 and list(table["status"]) == ["ok", "ok"]
