"""The person gate (issue 16): faces' tiles, MoveNet and MediaPipe Pose skip photos of nobody.

Real models on real photos: scenery and a polar bear (benchmarks/data/feed_eval, tests/data)
against a skier and an astronaut. Model calls are counted by wrapping the loaded model objects,
so a test fails when a gated model runs anyway, or when the gate keeps a model from a person.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rumaro_lab.extractors import DEFAULT_EXTRACTORS, make_extractor
from rumaro_lab.extractors.person_gate import PERSON_GATE_SCORE, nobody_seen
from rumaro_lab.extractors.plan import plan_extractors
from rumaro_lab.images import load_image

REPO_ROOT = Path(__file__).resolve().parents[1]
FEED_EVAL = REPO_ROOT / "benchmarks" / "data" / "feed_eval"
PERSON_MODELS = ("faces", "people", "pose")


class Counted:
    """A model object whose run / process calls are counted."""

    def __init__(self, target):
        self.target, self.calls = target, 0

    def __getattr__(self, name):
        value = getattr(self.target, name)
        if name not in ("run", "process"):
            return value

        def counted(*args, **kwargs):
            self.calls += 1
            return value(*args, **kwargs)
        return counted


def _run(image, gate: bool) -> tuple[dict, dict]:
    """Default order objects -> faces -> people -> pose; outputs and model calls per extractor."""
    made = {"objects": make_extractor("objects")}
    made.update({n: make_extractor(n, person_gate=gate) for n in PERSON_MODELS})
    counters = {}
    for name, ex in made.items():
        ex.ensure_ready()
        if name == "faces":
            ex._full = counters.setdefault("faces_full", Counted(ex._full))
        elif name == "people":
            ex._session = counters.setdefault("people", Counted(ex._session))
        elif name == "pose":
            ex._pose = counters.setdefault("pose", Counted(ex._pose))
    deps: dict = {}
    for name, ex in made.items():
        deps[name] = ex.check_output(ex.extract(image, dict(deps), {}))
    return deps, {k: c.calls for k, c in counters.items()}


NOBODY = [FEED_EVAL / "feed_068.jpg",  # a polar bear: MoveNet sees a "person" in it
          REPO_ROOT / "tests" / "data" / "pd_demo_images" / "skimage_rocket.jpg"]
PEOPLE = [REPO_ROOT / "tests" / "data" / "mmpose_keypoints" / "coco" / "000000000785.jpg",  # skier
          REPO_ROOT / "tests" / "data" / "pd_demo_images" / "skimage_astronaut.png"]


@pytest.mark.parametrize("path", NOBODY, ids=lambda p: p.name)
def test_photos_of_nobody_skip_the_person_models(path):
    image = load_image(path)
    gated, calls = _run(image, gate=True)
    assert gated["objects"]["person_max_score"] < PERSON_GATE_SCORE
    assert calls == {"faces_full": 1, "people": 0, "pose": 0}  # the whole frame only: no tiles
    assert gated["people"]["count"] == 0 and gated["people"]["max_score"] is None
    assert gated["pose"] == {**{k: None for k in gated["pose"]}, "detected": False,
                             "visible_keypoints": 0}
    ungated, calls_off = _run(image, gate=False)
    assert calls_off["faces_full"] == 5 and calls_off["people"] == 1 and calls_off["pose"] == 1
    assert gated["faces"]["count"] == ungated["faces"]["count"] == 0


def test_the_gate_removes_movenets_false_person_on_the_polar_bear():
    image = load_image(FEED_EVAL / "feed_068.jpg")
    assert _run(image, gate=False)[0]["people"]["count"] == 1  # what the gate is for
    assert _run(image, gate=True)[0]["people"]["count"] == 0


@pytest.mark.parametrize("path", PEOPLE, ids=lambda p: p.name)
def test_photos_of_people_run_every_model_and_get_the_same_answers(path):
    image = load_image(path)
    gated, calls = _run(image, gate=True)
    ungated, _ = _run(image, gate=False)
    assert gated["objects"]["person_max_score"] >= PERSON_GATE_SCORE
    assert calls["people"] == 1 and calls["pose"] == 1
    for name in PERSON_MODELS:
        assert gated[name] == ungated[name], name
    assert gated["pose"]["detected"] and gated["people"]["count"] >= 1


def test_no_gate_without_objects_in_the_run():
    image = load_image(NOBODY[1])
    pose = make_extractor("pose")
    pose.ensure_ready()
    pose._pose = counted = Counted(pose._pose)
    pose.extract(image, {"faces": {"count": 0}, "people": {"count": 0}}, {})
    assert counted.calls == 1
    assert not nobody_seen({"faces": {"count": 0}, "people": {"count": 0}})


def test_default_plan_runs_objects_then_faces_then_people_then_pose():
    plan = plan_extractors(list(DEFAULT_EXTRACTORS))
    order = plan.names
    assert order.index("objects") < order.index("faces") < order.index("people") < order.index("pose")
    assert set(plan.step("pose").uses) >= {"objects", "faces", "people"}
    assert "objects" in plan.step("faces").uses and "faces" in plan.step("people").uses
