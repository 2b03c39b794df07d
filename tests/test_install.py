"""An installable package: `pip install .` (not editable) into a new venv, then `rumaro models build`
and `rumaro demo` in an empty folder, with no checkout in sight (issue 13).

Slow (a venv, the models' build venv and a whole demo: a few minutes), so it runs once per suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _run(args, cwd, env, timeout=1200):
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout[-1500:]}\n{done.stderr[-3000:]}"
    return done


def test_pip_install_then_models_build_and_demo_in_an_empty_folder(tmp_path):
    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUMARO_", "VIRTUAL_ENV"))}
    env["XDG_DATA_HOME"] = str(tmp_path / "user-data")  # the per-user models folder, here
    _run([base, "-m", "venv", venv], tmp_path, env)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet"]
    _run([*pip, str(REPO)], tmp_path, env)
    # mediapipe and fer declare dependencies they don't need (numpy<2, TensorFlow): no-deps
    no_deps = [line.strip() for line in (REPO / "requirements" / "no-deps.txt").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    _run([*pip, "--no-deps", *no_deps], tmp_path, env)
    installed = _run([venv / "bin" / "python", "-c",
                      "import rumaro_lab, pathlib; print(pathlib.Path(rumaro_lab.__file__).parent)"],
                     tmp_path, env).stdout.strip()
    assert "site-packages" in installed and str(REPO) not in installed  # not the checkout

    empty = tmp_path / "work"
    empty.mkdir()
    rumaro = venv / "bin" / "rumaro"
    built = _run([rumaro, "models", "build"], empty, env)
    models = tmp_path / "user-data" / "rumaro" / "models"
    assert (models / "manifest.json").is_file(), built.stdout
    assert not (empty / "models").exists()  # the documented per-user place, not the working dir
    demo = _run([rumaro, "demo"], empty, {**env, "RUMARO_WORKERS": "2"})
    report = empty / "reports" / "sample" / "report.html"
    assert report.is_file() and str(report.name) in demo.stdout
    assert "Which visual features go with more engagement?" in report.read_text()
