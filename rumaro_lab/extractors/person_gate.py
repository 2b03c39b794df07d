"""The person gate: person models are not run on a photo where nothing suggests a person.

Half of a feed (graphics, scenery, food, products) shows nobody, yet three of the default
models look only for people: the faces' four tiles (small faces of full-body and group shots),
MoveNet (``people``) and MediaPipe Pose (``pose``). On such a photo they cost ~62 CPU ms of
the ~170 and, when they answer at all, answer with a false person (a polar bear, a garment on
a hanger, a rocket on a drone ship). The gate skips them when every cheaper look said "nobody":

- ``objects`` (NanoDet, which runs on every photo anyway) gives no person box a score of at
  least `PERSON_GATE_SCORE`, counting the boxes below its own 0.35 threshold
  (``objects.person_max_score``), and
- ``faces`` found no face (for ``people`` and ``pose``), and ``people`` found nobody (for
  ``pose``).

A gated model gives the answer it gives when it finds nobody (``faces``: no tiles; ``people``:
count 0; ``pose``: not detected), so the tables keep their meaning, and whether the gate
closed can be read back from the stored columns. Each of the three has the option
``person_gate`` (default True); False runs the model on every photo.

Why 0.2 (benchmarks/eval_person_gate.py, 529 photos: feed_eval, the CC0 portraits, mmpose,
pd_demo, spacex, 150 garment photos, the sample): the lowest score any real person got among the
photos where a person model found someone without a face was 0.31; every person model answer
the gate removes at 0.2 was a false person. A run without ``objects`` has no gate.

>>> nobody_seen({"objects": {"person_max_score": 0.05}, "faces": {"count": 0}})
True
>>> nobody_seen({"objects": {"person_max_score": 0.05}, "faces": {"count": 1}})
False
>>> nobody_seen({"faces": {"count": 0}})  # no objects in the run: no gate
False
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: a person box of NanoDet at or above this score (any box, also under objects' own
#: threshold) means "maybe a person": the person models run
PERSON_GATE_SCORE = 0.2


def nobody_seen(deps: Mapping[str, Mapping[str, Any]]) -> bool:
    """True when ``objects`` ran and saw no person box >= `PERSON_GATE_SCORE`, and neither
    ``faces`` nor ``people`` (where they ran before) found anyone."""
    objects = deps.get("objects")
    if objects is None or objects.get("person_max_score") is None:
        return False
    if objects["person_max_score"] >= PERSON_GATE_SCORE:
        return False
    return not any((deps.get(name) or {}).get("count") for name in ("faces", "people"))
