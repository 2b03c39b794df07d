"""Reports end to end on the bundled sample: papermill, HTML (checked in headless Chromium),
figures, tables, batch runs, privacy. One demo run is shared by the module (it is the slow part).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from rumaro_lab import report
from rumaro_lab.cli import main
from rumaro_lab.errors import AccountNotFound, NotebookFailed, RumaroError, SecretLeak
from rumaro_lab.posts.schema import read_posts, write_posts
from rumaro_lab.settings import Settings

REPO = Path(__file__).resolve().parents[1]
#: A credential in the environment of the run: it must never reach a report.
SECRET = "rumaro-test-secret-7f3a9c"
#: plus one figure per primary feature (declared by the extractors), see `_primary_figures`
FIGURES = ("engagement_over_time", "correlation_heatmap", "forest_plot", "top_bottom_posts")
#: written by analysis.analyze_accounts, which the report notebook calls (kind: the default negbin)
TABLES = ("dataset_summary", "feature_summary", "correlations", "model_negbin", "model_negbin_each",
          "predictive", "power")

#: a few extractors keep the run short; photo_type pulls in faces and pose, emotion reads faces
EXTRACTORS = ["faces", "emotion", "photo_type", "racy"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`run_demo` once: import the sample, extract (a few extractors), report."""
    root = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUMARO_AZURE_VISION_KEY", SECRET)  # inherited by the kernels
        settings = Settings(_env_file=None, data_dir=root / "data", reports_dir=root / "reports",
                            cache_dir=root / "cache", models_dir=REPO / "models", workers=1)
        printed: list[str] = []
        html = report.run_demo(settings, echo=printed.append, extractors=EXTRACTORS)
        yield settings, html, printed


def test_demo_writes_the_sample_report_and_says_where(demo):
    settings, html, printed = demo
    assert html == settings.report_dir("sample") / "report.html"
    assert html.is_file() and str(html) in printed[-2]
    executed = nbformat.read(html.parent / report.NOTEBOOKS["analysis"], as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors


def _primary_figures(settings) -> list[str]:
    from rumaro_lab.extractors.schema import feature_schema

    features = pd.read_parquet(settings.features_path("sample"))
    return [c for c in feature_schema(features).primary() if features[c].notna().any()]


def test_report_has_every_figure_in_three_formats(demo):
    settings, html, _ = demo
    primary = _primary_figures(settings)
    # faces, emotion, photo type (with pose) and racy ran: their primary features are drawn
    assert {"faces.any", "emotion.dominant", "photo_type.label", "racy.nsfw_score"} <= set(primary)
    for name in (*FIGURES, *primary):
        for fmt in ("png", "svg", "pdf"):
            path = html.parent / "figures" / f"{name}.{fmt}"
            assert path.is_file() and path.stat().st_size > 1000, path


def test_joint_forest_plot_only_when_the_joint_model_was_fitted(demo):
    _, html, _ = demo
    joint = pd.read_csv(html.parent / "tables" / "model_negbin.csv")
    fitted = report.joint_model_missing(joint) is None
    assert (html.parent / "figures" / "forest_plot_joint.png").exists() == fitted
    text = html.read_text(encoding="utf-8")
    assert ("The joint model was not fitted" in text) != fitted


def test_report_tables_are_tidy_csv(demo):
    settings, html, _ = demo
    tables = {name: pd.read_csv(html.parent / "tables" / f"{name}.csv") for name in TABLES}
    assert all(len(t) > 0 for t in tables.values())
    assert {"feature", "outcome", "estimate", "p_value", "q_value"} <= set(tables["correlations"].columns)
    each = tables["model_negbin_each"]
    assert {"term", "role", "rate_ratio", "ci_low", "ci_high", "q_value"} <= set(each.columns)
    assert each["rate_ratio"].notna().sum() > 10  # a count model, one row per feature (level)
    summary = tables["dataset_summary"]
    assert summary.loc[0, "account"] == "sample"
    assert summary.loc[0, "posts"] == len(read_posts(settings.posts_path("sample")))


def test_report_html_hides_code_and_loads_nothing_remote(demo):
    _, html, _ = demo
    text = html.read_text(encoding="utf-8")
    assert "Which visual features go with more engagement?" in text  # the reader's text is there
    assert "analysis.load_dataset" not in text and "report_dir = " not in text  # the code is not
    assert "<script src=\"http" not in text
    assert text.count("data:image/png;base64,") >= len(FIGURES)


def test_report_renders_its_figures_in_headless_chromium(demo, tmp_path):
    _, html, _ = demo
    sizes = _rendered_image_sizes(html, tmp_path)
    assert len(sizes) >= len(FIGURES)
    assert all(w > 100 and h > 100 for w, h in sizes), sizes


def test_no_credentials_in_parameters_or_outputs(demo):
    settings, html, _ = demo
    assert SECRET in settings.secrets()  # the run did have a credential in force
    for path in html.parent.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    executed = nbformat.read(html.parent / report.NOTEBOOKS["analysis"], as_version=4)
    recorded = executed.metadata.papermill.parameters
    assert set(recorded) == set(report.notebook_parameters("sample", settings))
    assert recorded["blur"] is True  # faces blurred by default


def test_photos_in_the_report_have_faces_blurred(demo):
    _, html, _ = demo
    svg = (html.parent / "figures" / "top_bottom_posts.svg").read_text(encoding="utf-8")
    assert "faces blurred" in svg


def test_notebook_parameters_refuse_credentials(demo, tmp_path):
    settings, _, _ = demo
    with pytest.raises(RumaroError, match="credential"):
        report.execute_notebook("x.ipynb", tmp_path / "x.ipynb", {"azure_key": "x"}, settings)
    with pytest.raises(RumaroError, match="credential"):
        report.execute_notebook("x.ipynb", tmp_path / "x.ipynb", {"note": SECRET}, settings)


def test_a_leaked_credential_is_caught_and_the_file_removed(demo, tmp_path):
    settings, _, _ = demo
    leaked = tmp_path / "leak.html"
    leaked.write_text(f"<p>{SECRET}</p>")
    with pytest.raises(SecretLeak):
        report.check_no_secrets([leaked], settings)
    assert not leaked.exists()


def test_failing_notebook_names_the_cell_and_keeps_the_executed_copy(demo, tmp_path):
    settings, _, _ = demo
    books = tmp_path / "books"
    books.mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("account = 'x'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("raise ValueError('no such outcome: ' + outcome)"),
    ])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, books / report.NOTEBOOKS["analysis"])
    elsewhere = settings.model_copy(update={"reports_dir": tmp_path / "reports"})
    with pytest.raises(NotebookFailed, match="no such outcome: bogus") as caught:
        report.report_account("sample", elsewhere, outcome="bogus", notebooks=books)
    assert "open " in caught.value.hint
    assert (elsewhere.report_dir("sample") / report.NOTEBOOKS["analysis"]).is_file()
    assert not (elsewhere.report_dir("sample") / "report.html").exists()


def test_unknown_account_is_a_clear_error(demo):
    settings, _, _ = demo
    with pytest.raises(AccountNotFound, match="nobody"):
        report.report_account("nobody", settings)
    with pytest.raises(RumaroError, match="not for one account"):
        report.report_account("sample", settings, model="mixed")
    code = main(["--data-dir", str(settings.data_dir), "--reports-dir", str(settings.reports_dir),
                 "report", "nobody"])
    assert code == 1


def test_a_bad_extractor_option_stops_before_any_notebook_runs(demo, tmp_path):
    settings, html, _ = demo
    with pytest.raises(RumaroError, match="has no option 'recognise'"):
        report.report_account("sample", settings, options=["text.recognise=true"])
    assert html.is_file()  # the report made before is kept
    accounts = tmp_path / "accounts.txt"
    accounts.write_text("sample\n")
    before = sorted(settings.reports_dir.rglob("*"))
    with pytest.raises(RumaroError, match="unknown extractor 'txt'"):
        report.run_batch(accounts, settings, options=["txt.recognize=true"])
    assert sorted(settings.reports_dir.rglob("*")) == before
    assert not (settings.reports_dir / report.SUMMARY_FILE).exists()


def test_batch_reports_each_account_then_compares_them(demo):
    """Two good accounts in parallel (one still without features), two bad ones reported.

    The good ones are the sample's first 20 posts (kept small: this is about the plumbing).
    """
    settings, _, _ = demo
    posts = read_posts(settings.posts_path("sample")).sort_values("taken_at").head(20)
    features = pd.read_parquet(settings.features_path("sample"))
    features = features[features["post_id"].isin(posts["post_id"])]
    write_posts(posts.assign(account="early"), settings.posts_path("early"))
    settings.processed_dir("early").mkdir(parents=True)
    features.assign(account="early").to_parquet(settings.features_path("early"))
    write_posts(posts.assign(account="early_copy"), settings.posts_path("early_copy"))  # no features
    accounts = settings.data_dir.parent / "accounts.txt"
    accounts.write_text("# accounts to compare\nearly\nearly_copy\n\nBad/Name\nnobody\n")

    summary = report.run_batch(accounts, settings, jobs=2, extractors=EXTRACTORS,
                               options=["emotion.smile=false"])

    assert list(summary["account"]) == ["early", "early_copy", "Bad/Name", "nobody"]
    assert list(summary["status"]) == ["ok", "ok", "error", "error"]
    assert "invalid account name" in summary.loc[2, "error"]
    assert "nobody" in summary.loc[3, "error"]
    copy_dir = settings.report_dir("early_copy")
    # features were missing: the batch extracted them first, every such account in one run
    # (one pool, models loaded once), so no report needed the extraction notebook
    assert settings.features_path("early_copy").is_file()
    assert not (copy_dir / report.NOTEBOOKS["extract"]).exists()
    assert not (settings.report_dir("early") / report.NOTEBOOKS["extract"]).exists()
    assert (copy_dir / "report.html").is_file() and settings.features_path("early_copy").is_file()
    # ... with the batch's extractor options: FaceMesh's smile was switched off there
    copied = pd.read_parquet(settings.features_path("early_copy"))
    assert copied["emotion.smile"].isna().all() and copied["emotion.happiness"].notna().any()
    assert features["emotion.smile"].notna().any()  # the default, where it was computed

    on_disk = pd.read_csv(settings.reports_dir / report.SUMMARY_FILE)
    assert list(on_disk["account"]) == list(summary["account"])
    assert list(on_disk["posts"].iloc[:2]) == [20, 20]  # merged from the comparison's table
    compare = settings.reports_dir / report.COMPARE_DIR
    per_account = pd.read_csv(compare / "tables" / "accounts.csv")
    assert sorted(per_account["account"]) == ["early", "early_copy"]
    assert (compare / "report.html").is_file()
    assert (compare / "figures" / "forest_by_account.png").stat().st_size > 1000
    assert (compare / "figures" / "estimands.png").stat().st_size > 1000


# -- headless Chromium ------------------------------------------------------------------------
_CHECK_SCRIPT = """
<script>
window.addEventListener("load", function () {
  var sizes = Array.from(document.images).map(function (i) { return [i.naturalWidth, i.naturalHeight]; });
  var pre = document.createElement("pre");
  pre.id = "rumaro-image-check";
  pre.textContent = JSON.stringify(sizes);
  document.body.appendChild(pre);
});
</script>
"""


def _chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        raise RuntimeError("headless Chromium is missing: run `make browser` (apt-get install chromium)")
    return found


def _rendered_image_sizes(html: Path, tmp_path: Path) -> list[tuple[int, int]]:
    """Open a copy of `html` in headless Chromium; the natural size of every image it shows."""
    page = tmp_path / "page.html"
    page.write_text(html.read_text(encoding="utf-8").replace("</body>", _CHECK_SCRIPT + "</body>"),
                    encoding="utf-8")
    command = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--virtual-time-budget=5000", "--dump-dom", page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    marker = '<pre id="rumaro-image-check">'
    assert marker in done.stdout, done.stderr[-2000:]
    payload = done.stdout.split(marker, 1)[1].split("</pre>", 1)[0]
    return [tuple(size) for size in json.loads(payload)]


def test_joint_model_missing_tells_a_joint_fit_from_a_fallback():
    from rumaro_lab import analysis
    from rumaro_lab.analysis.simulate import simulate_account

    df = analysis.prepare_dataset(*simulate_account(120, {"sim.x1": 1.5}, seed=1))
    joint = analysis.fit_model(df, "likes", ["sim.x1"], kind="negbin")
    assert report.joint_model_missing(joint) is None
    assert "- `sim.x1`: rate ratio" in report.describe_model(joint)  # listed as standing out
    each = analysis.fit_model(df, "likes", ["sim.x1"], kind="negbin", separate=True)
    assert "not fitted" in report.joint_model_missing(each)
    not_computed = pd.DataFrame([{"note": "not computed: only 3 post(s)"}]).reindex(columns=list(joint.columns))
    assert "only 3 post(s)" in report.joint_model_missing(not_computed)
