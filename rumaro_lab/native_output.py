"""Keep C/C++ libraries' console output off the user's terminal, in the run log instead.

MediaPipe, TensorFlow Lite, absl and the Jupyter kernel write straight to file descriptor 2
("W0000 ... inference_feedback_manager", "INFO: Created TensorFlow Lite XNNPACK delegate",
"[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel" at shutdown). Python's own logging can't
filter those, so `divert_native_stderr` points descriptor 2 at the log file while Python's
``sys.stderr`` (rich logs, progress bars, error lines) keeps the terminal. Worker processes and
notebook kernels inherit descriptor 2, so their native output lands in the log file too.

>>> import tempfile, pathlib
>>> log = pathlib.Path(tempfile.mkdtemp()) / "run.log"
>>> diverted(log)  # nothing diverted in this process yet
False
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

_DIVERTED: dict[str, Path] = {}


def diverted(log_file: str | Path | None = None) -> bool:
    """Whether descriptor 2 of this process already goes to a log file (to `log_file`, if given)."""
    target = _DIVERTED.get("to")
    return target is not None and (log_file is None or Path(log_file) == target)


def divert_native_stderr(log_file: str | Path, max_bytes: int = 20_000_000) -> Path:
    """Send descriptor 2 to `log_file` (appended; restarted past `max_bytes`), keep sys.stderr.

    Call once, early (before models load). A second call in the same process is a no-op.
    """
    log_file = Path(log_file)
    if diverted():
        return _DIVERTED["to"]
    log_file.parent.mkdir(parents=True, exist_ok=True)
    if log_file.exists() and log_file.stat().st_size > max_bytes:
        log_file.unlink()
    sys.stderr.flush()
    terminal = os.dup(2)  # the real stderr, for Python's writes
    target = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(target, 2)
    os.close(target)
    os.set_inheritable(terminal, False)  # children get only descriptor 2 (the log)
    sys.stderr = io.TextIOWrapper(os.fdopen(terminal, "wb", buffering=0), encoding="utf-8",
                                  errors="replace", line_buffering=True, write_through=True)
    _DIVERTED["to"] = log_file
    return log_file
