"""Reports: papermill runs the parameterized notebooks, nbconvert turns them into HTML.

``report_account("natgeo", settings)`` executes ``03-engagement-analysis.ipynb`` for one account
(running ``02-extract-features`` first when the account has no features yet) and leaves in
``reports/natgeo/``::

    03-engagement-analysis.ipynb   the executed notebook (parameters recorded by papermill)
    report.html                    HTML export, code hidden (``show_code=True`` keeps it)
    figures/NAME.{png,svg,pdf}     every figure, png at 300 dpi
    tables/NAME.csv                every table (tidy: one row per term / feature)

``run_batch("accounts.txt", settings)`` does that for every account of a file and compares them;
``run_demo(settings)`` is the whole flow on the bundled sample.

Modules: `execute` (papermill, the kernel, HTML export, the secret scan), `notebook` (settings
and outputs of a notebook run), `describe` (result tables in words) and `batch` (one account,
many accounts, the demo).
"""

from .batch import (
    COMPARE_DIR,
    REPORT_HTML,
    SUMMARY_FILE,
    compare_accounts,
    notebook_parameters,
    read_accounts_file,
    report_account,
    run_batch,
    run_demo,
)
from .describe import (
    describe_correlations,
    describe_estimands,
    describe_meta,
    describe_model,
    findings_per_account,
    joint_model_missing,
    significant_features,
)
from .execute import (
    KERNEL_NAME,
    NOTEBOOKS,
    check_no_secrets,
    execute_notebook,
    export_html,
    notebooks_dir,
)
from .notebook import ReportOutputs, notebook_settings, read_tables, save_table

__all__ = [
    "COMPARE_DIR",
    "KERNEL_NAME",
    "NOTEBOOKS",
    "REPORT_HTML",
    "SUMMARY_FILE",
    "ReportOutputs",
    "check_no_secrets",
    "compare_accounts",
    "describe_correlations",
    "describe_estimands",
    "describe_meta",
    "describe_model",
    "findings_per_account",
    "execute_notebook",
    "export_html",
    "joint_model_missing",
    "notebook_parameters",
    "notebook_settings",
    "notebooks_dir",
    "read_accounts_file",
    "read_tables",
    "report_account",
    "run_batch",
    "run_demo",
    "save_table",
    "significant_features",
]
