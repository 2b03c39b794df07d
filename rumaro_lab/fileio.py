"""Atomic writes: a file appears whole under its real name, or not at all.

Every stage writes through `atomic_path` (temp file in the same folder, then ``os.replace``), so
a crash, a ``kill -9`` or a full disk never leaves half a ``posts.parquet``, ``features.parquet``,
CSV, figure or HTML report under the real name, and readers never see one being written. The temp
name starts with a dot and keeps the suffix (writers that infer the format from it still work);
it is unique per process and call, so two writers never share one.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
>>> _ = write_text(target, "hello")
>>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
('hello', ['a.txt'])
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

#: The name of `atomic_path`'s temporary files: ``.STEM.PID-RANDOM.tmpSUFFIX``.
TEMP_NAME = re.compile(r"^\.(?P<stem>.+)\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp(?P<suffix>(\.[^.]+)?)$")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_temp_files(folder: str | Path, stem: str | None = None) -> list[Path]:
    """Temp files of `atomic_path` in `folder` (of one target `stem`, or all) whose writing
    process is gone: a killed run's.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / ".posts.999999999-0123abcd.tmp.parquet").write_bytes(b"half")
    >>> [p.name for p in stale_temp_files(folder)], stale_temp_files(folder, "features")
    (['.posts.999999999-0123abcd.tmp.parquet'], [])
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for entry in os.scandir(folder):
        match = TEMP_NAME.match(entry.name) if entry.name.startswith(".") else None
        if not match or (stem is not None and match["stem"] != stem):
            continue
        if int(match["pid"]) != os.getpid() and not _process_alive(int(match["pid"])):
            found.append(Path(entry.path))
    return sorted(found)


def remove_stale_temp_files(folder: str | Path, stem: str | None = None) -> int:
    """Delete `stale_temp_files` (a killed run's, never a live writer's); returns how many."""
    stale = stale_temp_files(folder, stem)
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


@contextlib.contextmanager
def atomic_path(path: str | Path, *, sweep: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it is removed.

    A killed earlier write's temp file of the same target is removed first (``sweep``: one look
    at the folder). Writers of many files into one folder (raw copies) pass ``sweep=False`` and
    call `remove_stale_temp_files` once for the folder instead.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if sweep:
        remove_stale_temp_files(path.parent, path.stem)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2) + "\n")


def write_parquet(table: pd.DataFrame, path: str | Path, **kwargs: Any) -> Path:
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False, **kwargs)
    return Path(path)


def write_csv(table: pd.DataFrame, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return Path(path)


def copy_file(src: str | Path, dest: str | Path) -> Path:
    """Copy with metadata (instaloader sets an image's mtime to the post date), atomically."""
    with atomic_path(dest, sweep=False) as tmp:  # many per folder: callers sweep it once
        shutil.copy2(src, tmp)
    return Path(dest)
