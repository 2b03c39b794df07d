"""The shared state of the cloud extractors: cost guard across processes, rate limit, stop flag."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from pydantic import SecretStr

from rumaro_lab.extractors.cloud import (
    RUN_ID_ENV,
    BudgetExhausted,
    ServiceState,
    ServiceStopped,
    begin_run,
    describe_error_body,
)

WORKER = textwrap.dedent("""
    import sys
    from rumaro_lab.extractors.cloud import BudgetExhausted, ServiceState
    path, attempts = sys.argv[1], int(sys.argv[2])
    state = ServiceState(path, "azure_vision", run_id="shared-run", max_calls=7)
    granted = 0
    for _ in range(attempts):
        try:
            state.acquire()
            granted += 1
        except BudgetExhausted:
            pass
    print(granted)
""")


def test_two_processes_share_one_budget(tmp_path):
    path = tmp_path / "cloud_state.sqlite"
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(path), "6"], stdout=subprocess.PIPE,
                         text=True)
        for _ in range(2)
    ]
    granted = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(granted) == 7  # 12 attempts, a budget of 7: never more, never fewer
    assert ServiceState(path, "azure_vision", run_id="shared-run").calls_used() == 7


def test_rate_limit_spaces_calls_across_instances(tmp_path):
    clock = [1000.0]
    waits: list[float] = []
    make = lambda: ServiceState(tmp_path / "s.sqlite", "svc", run_id="r", calls_per_second=4,  # noqa: E731
                                clock=lambda: clock[0], sleep=waits.append)
    a, b = make(), make()
    a.wait_for_slot(), b.wait_for_slot(), a.wait_for_slot()
    assert waits == pytest.approx([0.25, 0.5])  # the first goes now, then one every 0.25 s
    clock[0] += 10  # idle long enough: no wait
    assert b.wait_for_slot() == 0.0


def test_stop_is_seen_by_other_instances_and_not_by_other_runs(tmp_path):
    path = tmp_path / "s.sqlite"
    ServiceState(path, "azure_face", run_id="r1").stop("HTTP 401 (bad key)")
    ServiceState(path, "azure_face", run_id="r1").stop("a later reason")  # first one wins
    with pytest.raises(ServiceStopped, match="HTTP 401 \\(bad key\\)"):
        ServiceState(path, "azure_face", run_id="r1").acquire()
    assert ServiceState(path, "azure_face", run_id="r2").acquire() == 1
    assert ServiceState(path, "azure_vision", run_id="r1").acquire() == 1


def test_begin_run_sets_the_inherited_run_id(monkeypatch):
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    run_id = begin_run()
    import os

    assert os.environ[RUN_ID_ENV] == run_id
    from rumaro_lab.extractors.azure_face import AzureFace

    assert AzureFace()._run_id == run_id


def test_budget_zero_refuses_everything(tmp_path):
    with pytest.raises(BudgetExhausted):
        ServiceState(tmp_path / "s.sqlite", "svc", run_id="r", max_calls=0).acquire()


def test_error_bodies_are_summarised():
    assert describe_error_body('{"error":{"code":"401","message":"Access denied."}}') == "401: Access denied."
    assert describe_error_body("<html> Bad   Gateway </html>") == "<html> Bad Gateway </html>"


def test_setup_without_a_key_says_which_variable(settings):
    from rumaro_lab.errors import CredentialsMissing
    from rumaro_lab.extractors.azure_vision import AzureVision

    with pytest.raises(CredentialsMissing, match="RUMARO_AZURE_VISION_KEY"):
        AzureVision(settings).ensure_ready()
    no_scheme = settings.model_copy(update={
        "azure_vision_key": SecretStr("a-key-of-some-length"),
        "azure_vision_endpoint": "westus.api.cognitive.microsoft.com"})
    with pytest.raises(CredentialsMissing, match="RUMARO_AZURE_VISION_ENDPOINT is not a URL") as info:
        AzureVision(no_scheme).ensure_ready()
    assert "a-key-of-some-length" not in str(info.value)


def test_an_instance_pickles_after_setup_and_keeps_its_run(settings):
    import pickle

    from rumaro_lab.extractors.deepfashion import DeepFashion

    ready = settings.model_copy(update={"algorithmia_key": SecretStr("sim-key-123456"),
                                        "algorithmia_endpoint": "https://algo.example"})
    df = DeepFashion(ready, only_people=False)
    df.ensure_ready()
    copy = pickle.loads(pickle.dumps(df))
    assert copy._run_id == df._run_id and copy.config == df.config and copy._client is None
    copy.ensure_ready()
    assert copy._client is not None
