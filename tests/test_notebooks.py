"""The committed notebooks: clean (no outputs), parameterized, and runnable with papermill."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat
import pytest

from rumaro_lab import report
from rumaro_lab.posts.schema import read_posts

NOTEBOOKS = sorted(report.notebooks_dir().glob("*.ipynb"))


def test_every_role_has_its_notebook():
    assert [p.name for p in NOTEBOOKS] == sorted(report.NOTEBOOKS.values())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean_and_parameterized(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "commit without outputs"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    assert tagged[0] is code[0], "the parameters cell comes before any other code"
    names = {t.id for n in ast.parse(tagged[0].source).body for t in getattr(n, "targets", [])}
    assert names >= {"data_dir", "reports_dir"}
    assert not {n for n in names if any(w in n.lower() for w in ("key", "token", "secret", "password"))}
    assert nb.metadata.kernelspec.name == report.KERNEL_NAME
    assert any(c.cell_type == "markdown" for c in nb.cells[1:])  # explained for a reader


def test_report_notebooks_share_their_parameters():
    # report_account passes the same parameters to 02 and 03: each must declare all of them.
    settings_params = set(report.notebook_parameters("sample", _dummy_settings()))
    for role in ("extract", "analysis"):
        nb = nbformat.read(report.notebooks_dir() / report.NOTEBOOKS[role], as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        declared = {t.id for n in ast.parse(cell.source).body for t in getattr(n, "targets", [])}
        assert settings_params <= declared, (role, settings_params - declared)


def _dummy_settings():
    from rumaro_lab.settings import Settings

    return Settings(_env_file=None, data_dir="/d", reports_dir="/r")


def test_kernel_is_this_python():
    from rumaro_lab.report.execute import _kernel_classes

    manager = _kernel_classes()(kernel_name=report.KERNEL_NAME)
    assert manager.kernel_spec.argv[0] == sys.executable
    assert manager.transport == "ipc"


@pytest.mark.slow
def test_fetch_notebook_imports_a_local_folder(shared_data, settings, tmp_path, monkeypatch):
    """01 with a local instaloader folder as source: no network, posts.parquet written."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):  # any web call fails
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    source = shared_data / "spacex_instaloader" / "spacex"
    params = {"account": "spacex", "source": str(source), "workers": 1,
              "data_dir": str(settings.data_dir), "reports_dir": str(settings.reports_dir),
              "cache_dir": str(settings.cache_dir), "models_dir": str(settings.models_dir)}
    out = report.execute_notebook(report.notebooks_dir() / report.NOTEBOOKS["fetch"],
                                  tmp_path / "01.ipynb", params, settings)
    posts = read_posts(settings.posts_path("spacex"))
    assert len(posts) == 9 and posts["likes"].notna().all()
    executed = nbformat.read(out, as_version=4)
    shown = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in shown if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in shown)  # the likes-over-time figure
    assert executed.metadata.papermill.parameters["source"] == str(source)


def test_comparison_shares_the_pooled_analysis_folder():
    from rumaro_lab.analysis.pipeline import COMBINED_DIR

    assert report.COMPARE_DIR == COMBINED_DIR


def test_notebook_settings_resolve_from_the_project_root_in_jupyterlab(monkeypatch, tmp_path):
    root = report.notebooks_dir().parent.parent  # notebooks/ of the checkout links to rumaro_lab/notebooks
    monkeypatch.chdir(report.notebooks_dir())  # where JupyterLab starts a notebook's kernel
    inside = report.notebook_settings("data", "reports", workers=1)
    assert inside.data_dir == root / "data" and inside.reports_dir == root / "reports"
    monkeypatch.chdir(tmp_path)  # anywhere else (papermill from the CLI): the working directory
    assert report.notebook_settings("data").data_dir == tmp_path / "data"
    assert report.notebook_settings(str(tmp_path / "abs")).data_dir == tmp_path / "abs"


@pytest.mark.slow
def test_extract_notebook_takes_extractor_options(settings, tmp_path):
    """02 run by papermill with `options` (as `rumaro extract --option` takes them): word
    recognition, which is off by default, runs on the bundled sample."""
    import pandas as pd

    from rumaro_lab.posts.importing import import_sample

    import_sample(settings)
    params = {"account": "sample", "extractors": ["text"], "options": ["text.recognize=true"],
              "workers": 1, "data_dir": str(settings.data_dir),
              "reports_dir": str(settings.reports_dir), "cache_dir": str(settings.cache_dir),
              "models_dir": str(settings.models_dir)}
    out = report.execute_notebook(report.notebooks_dir() / report.NOTEBOOKS["extract"],
                                  tmp_path / "02.ipynb", params, settings)
    features = pd.read_parquet(settings.features_path("sample"))
    assert len(features) == 61 and features["text.words"].notna().all()  # "" where no text
    executed = nbformat.read(out, as_version=4)
    assert not [o for c in executed.cells if c.cell_type == "code" for o in c.outputs
                if o.output_type == "error"]
