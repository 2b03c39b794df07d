"""Executing a parameterized notebook with papermill and exporting it as a self-contained HTML.

The kernel is always this Python (`ThisPythonKernelManager`), whatever kernelspecs the machine
has; notebook parameters are checked for credentials before a run, and every written file is
scanned for the credential values in force after it (`check_no_secrets`).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from ..errors import MissingInputError, NotebookFailed, RumaroError, SecretLeak
from ..fileio import write_text
from ..settings import Settings

log = logging.getLogger(__name__)

#: The notebooks, by role (package data: `notebooks_dir`).
NOTEBOOKS: dict[str, str] = {
    "fetch": "01-fetch-posts.ipynb",
    "extract": "02-extract-features.ipynb",
    "analysis": "03-engagement-analysis.ipynb",
    "compare": "04-compare-accounts.ipynb",
}
#: The kernel papermill asks for; it always resolves to this Python (see `ThisPythonKernelManager`).
KERNEL_NAME = "python3"


def packaged_notebooks() -> Path:
    """The notebooks shipped inside the package (``notebooks/`` of a checkout links to them)."""
    return Path(str(resources.files("rumaro_lab") / "notebooks"))


def notebooks_dir(folder: str | Path | None = None) -> Path:
    """The folder of the parameterized notebooks: `folder` if given (your own copies, same file
    names), else the package's own."""
    folder = Path(folder) if folder is not None else packaged_notebooks()
    if not (folder / NOTEBOOKS["analysis"]).is_file():
        raise MissingInputError(
            f"the report notebooks are not in {folder}",
            hint="give a folder with your copies of the notebooks (same file names), or none to "
                 "use the package's",
        )
    return folder


# -- kernels --------------------------------------------------------------------------------
@functools.cache
def _kernel_classes():
    # Imported lazily: jupyter_client is only needed when a notebook runs.
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class ThisPythonKernelSpecs(KernelSpecManager):
        """``python3`` is always the Python running this code (the project's venv).

        A ``python3`` kernelspec elsewhere (e.g. ~/.local/share/jupyter) would otherwise win and
        run the notebooks with another interpreter that lacks rumaro_lab.
        """

        def get_kernel_spec(self, kernel_name: str):
            if kernel_name == KERNEL_NAME:
                return KernelSpec(
                    argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    display_name=f"Python 3 ({sys.prefix})",
                    language="python",
                    metadata={"debugger": False},
                )
            return super().get_kernel_spec(kernel_name)

    class ThisPythonKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self):
            return ThisPythonKernelSpecs(data_dir=self.data_dir)

        @default("transport")
        def _transport_default(self):
            # Unix sockets with a unique name per kernel: kernels started in parallel can't
            # race for the same TCP port, and nothing listens on the network.
            return "ipc" if os.name == "posix" else "tcp"

        @default("ip")
        def _ip_default(self):
            if self.transport == "ipc":  # a short, unique socket prefix per kernel (paths <= 107 B)
                return os.path.join(tempfile.gettempdir(), f"rumaro-kernel-{uuid.uuid4().hex[:16]}")
            return super()._ip_default()

    return ThisPythonKernelManager


def _check_parameters(parameters: Mapping[str, object], settings: Settings | None) -> None:
    # Executed notebooks record their parameters: refuse anything that looks like a credential.
    secrets = settings.secrets() if settings is not None else []
    for name, value in parameters.items():
        lowered = name.lower()
        if any(word in lowered for word in ("key", "token", "secret", "password")):
            raise RumaroError(f"notebook parameter {name!r} looks like a credential",
                              hint="credentials come from the environment or .env only")
        if any(secret in str(value) for secret in secrets):
            raise RumaroError(f"notebook parameter {name!r} contains a credential value",
                              hint="credentials come from the environment or .env only")


def execute_notebook(
    notebook: str | Path,
    output: str | Path,
    parameters: Mapping[str, object],
    settings: Settings | None = None,
    timeout: float | None = None,
) -> Path:
    """Run `notebook` with papermill into `output` (parameters injected after the ``parameters``
    cell), on this Python's kernel. A failing cell raises `NotebookFailed`; `output` still holds
    the notebook up to and including the error.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    _check_parameters(parameters, settings)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(parameters),
            kernel_name=KERNEL_NAME,
            language="python",
            progress_bar=False,
            execution_timeout=timeout,
            kernel_manager_class=_kernel_classes(),
        )
    except PapermillExecutionError as exc:
        raise NotebookFailed(
            f"{Path(notebook).name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}",
            hint=f"open {output} to see the failing cell",
        ) from None
    finally:
        if settings is not None and output.exists():
            check_no_secrets([output], settings)
    log.info("executed %s in %.1f s -> %s", Path(notebook).name, time.perf_counter() - start, output)
    return output


def export_html(executed: str | Path, html: str | Path, show_code: bool = False, title: str | None = None) -> Path:
    """The executed notebook as a standalone HTML page (figures embedded), code hidden by default."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    notebook = nbformat.read(str(executed), as_version=4)
    if not show_code:
        # The parameter cells say nothing to a reader, and library warnings on stderr are noise
        # in a report (they stay in the executed notebook; result tables carry a `note` column).
        notebook.cells = [c for c in notebook.cells if not _is_parameter_cell(c)]
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.outputs
                                if not (o.output_type == "stream" and o.get("name") == "stderr")]
    resources = {"metadata": {"name": title or Path(executed).stem}}
    body, _ = exporter.from_notebook_node(notebook, resources=resources)
    body = _REMOTE_SCRIPT_RE.sub("", body)
    return write_text(html, body)


# nbconvert's template loads require.js and MathJax from a CDN. A report works offline without
# them (figures are embedded, there is no math), and opening it should not tell a CDN about it.
_REMOTE_SCRIPT_RE = re.compile(r"<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.IGNORECASE)


def _is_parameter_cell(cell) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return "parameters" in tags or "injected-parameters" in tags


def check_no_secrets(paths: Iterable[str | Path], settings: Settings) -> None:
    """Raise `SecretLeak` (and delete the file) if any credential value in force is in a file."""
    secrets = [s.encode() for s in settings.secrets() if len(s) >= 4]
    if not secrets:
        return
    for path in paths:
        path = Path(path)
        if path.is_file() and any(s in path.read_bytes() for s in secrets):
            path.unlink()
            raise SecretLeak(f"a credential appeared in {path}; the file was removed",
                             hint="never print settings secrets in a notebook")

