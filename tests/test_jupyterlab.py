"""JupyterLab, which the project's users work in: `make lab` serves notebooks/ on this venv's kernel."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
JUPYTER = Path(sys.executable).with_name("jupyter")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str):
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


@pytest.mark.slow
def test_lab_serves_the_notebooks_on_this_pythons_kernel(tmp_path):
    assert JUPYTER.is_file(), "the notebook extra is part of `make install`"
    make = (REPO / "Makefile").read_text()
    assert "jupyter lab --notebook-dir=notebooks" in make  # what `make lab` runs
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    server = subprocess.Popen(
        [str(JUPYTER), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         "--notebook-dir=notebooks", f"--IdentityProvider.token={token}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                specs = _get(f"{base}/api/kernelspecs", token)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 60 s")
        assert specs["default"] == "python3"
        argv = specs["kernelspecs"]["python3"]["spec"]["argv"]
        assert Path(argv[0]).resolve() == Path(sys.executable).resolve()  # the project's Python
        listing = _get(f"{base}/api/contents", token)
        names = {item["name"] for item in listing["content"]}
        assert "03-engagement-analysis.ipynb" in names
    finally:
        server.terminate()
        server.wait(timeout=30)
