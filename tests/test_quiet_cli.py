"""The command line is quiet and truthful: native libraries' chatter and kernel shutdown noise go
to the log file, never to the terminal (issue 13)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

RUMARO = Path(sys.executable).with_name("rumaro")
#: what MediaPipe, TFLite, absl and a Jupyter kernel print on descriptor 2 when left alone
NOISE = re.compile(r"W0000|inference_feedback_manager|landmark_projection|XNNPACK|absl::Initialize"
                   r"|IPKernelApp|KeyboardInterrupt|Traceback")

pytestmark = pytest.mark.slow


def test_demo_prints_no_native_log_lines_and_logs_them_instead(tmp_path):
    env = {**os.environ, "RUMARO_WORKERS": "2", "COLUMNS": "100"}
    env.pop("RUMARO_CACHE_DIR", None)
    done = subprocess.run([str(RUMARO), "demo"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not NOISE.search(done.stderr), done.stderr[-2000:]
    assert not NOISE.search(done.stdout)
    assert "report.html" in done.stdout
    log = (tmp_path / ".cache" / "rumaro" / "rumaro.log").read_text()
    assert "inference_feedback_manager" in log or "XNNPACK" in log  # it went here instead
    assert "DEBUG" in log  # the log keeps everything, the terminal only what matters


def test_called_from_python_the_cli_leaves_descriptor_2_alone(tmp_path, capfd):
    from rumaro_lab.cli import main
    from rumaro_lab.native_output import diverted

    assert main(["--cache-dir", str(tmp_path), "extractors"]) == 0
    assert not diverted()  # only the `rumaro` program itself takes over descriptor 2
