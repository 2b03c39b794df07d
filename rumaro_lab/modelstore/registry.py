"""The model store at run time: which models exist, where they are, and whether they are intact.

Three JSON files describe the models:

- ``sources.json`` (package data, `rumaro_lab/modelstore/sources/`): the pinned npm package, the
  converter stack and every model with its origin and license. A ``sources.json`` placed in the
  models folder overrides it (tests and maintainers do that);
- ``manifest.json`` (written by `rumaro_lab.modelstore.build`, in the models folder): what was
  built, with each file's sha256;
- ``user.json`` (in the models folder): models you registered with `register_user_model`.

`locate_model` returns a model's path after checking its sha256; a missing or corrupt file raises
`ModelMissingError`, whose hint says to run ``make models``. Nothing is ever downloaded at run
time. The models folder is ``settings.models_dir`` (``models/`` of a checkout, else a per-user
folder: see `rumaro_lab.settings`).

>>> from rumaro_lab.settings import Settings
>>> s = Settings(_env_file=None, models_dir="/nonexistent/models")
>>> try:
...     locate_model("nanodet", s)
... except ModelMissingError as exc:
...     print(exc.hint)
run `make models` (or `rumaro models build`)
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ModelMissingError, RumaroError
from ..fileio import write_json
from ..images import file_sha256
from ..settings import Settings

log = logging.getLogger(__name__)

SOURCES_FILE = "sources.json"
MANIFEST_FILE = "manifest.json"
USER_FILE = "user.json"
GOLDEN_DIR = "golden"
BUILD_DIR = "build"
#: where a model comes from: built by `make models` from sources.json, or registered by you
MODEL_KINDS = ("built", "user")


def packaged_sources_dir() -> Path:
    """The folder of the packaged sources.json and golden outputs (inside the installed package)."""
    return Path(str(resources.files("rumaro_lab.modelstore") / "sources"))


def sources_dir(settings: Settings) -> Path:
    """The models folder when it holds its own sources.json (an override), else the packaged one."""
    own = Path(settings.models_dir)
    return own if (own / SOURCES_FILE).is_file() else packaged_sources_dir()


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelMissingError(f"{what} not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise ModelMissingError(f"{what} is not valid JSON ({path}: {exc})") from None


def read_sources(settings: Settings) -> dict[str, Any]:
    """``sources.json``: pinned package, converter stack, models (see `sources_dir`)."""
    return _read_json(sources_dir(settings) / SOURCES_FILE, "sources.json")


def read_manifest(settings: Settings) -> dict[str, Any] | None:
    """The generated ``models/manifest.json``, or None when nothing was built yet."""
    path = Path(settings.models_dir) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        log.warning("models/manifest.json is not valid JSON: it will be rebuilt")
        return None


def read_user_models(settings: Settings) -> dict[str, Any]:
    """Models registered by the user in ``models/user.json`` (name -> entry); empty if none."""
    path = Path(settings.models_dir) / USER_FILE
    if not path.is_file():
        return {}
    return _read_json(path, "models/user.json").get("models", {})


# -- run time: find a model and check it ----------------------------------------------------
def locate_model(name: str, settings: Settings) -> Path:
    """Path of a built or user-registered model whose file matches its recorded sha256.

    Raises `ModelMissingError` (hint: run ``make models``) when the manifest, the entry or the
    file is missing, or when the file's sha256 differs from the one recorded (corrupt file).
    """
    models_dir = Path(settings.models_dir)
    user = read_user_models(settings)
    if name in user:
        entry = user[name]
    else:
        manifest = read_manifest(settings)
        if manifest is None:
            raise ModelMissingError(
                f"model {name!r}: no models have been built ({models_dir / MANIFEST_FILE} is missing)"
            )
        entry = manifest.get("models", {}).get(name)
        if entry is None:
            note = ""
            try:
                source = read_sources(settings)["models"].get(name)
            except ModelMissingError:
                source = None
            if source and source.get("opt_in"):
                note = f"; it is opt-in: `rumaro models build --with {name}` ({source.get('license_note', '')})"
            raise ModelMissingError(f"model {name!r} is not built{note}")
    path = models_dir / entry["file"]
    if not path.is_file():
        raise ModelMissingError(f"model {name!r}: file {path} is missing")
    actual = file_sha256(path)
    if actual != entry["sha256"]:
        raise ModelMissingError(
            f"model {name!r}: {path} is corrupt (sha256 {actual[:12]}... differs from the "
            f"recorded {entry['sha256'][:12]}...)"
        )
    return path


def recorded_sha256(name: str, settings: Settings) -> str | None:
    """The sha256 recorded for a user-registered or built model (models/user.json, then the
    manifest), without reading the file; None when it is neither registered nor built."""
    entry = read_user_models(settings).get(name)
    if entry is None:
        entry = ((read_manifest(settings) or {}).get("models") or {}).get(name)
    return None if entry is None else entry.get("sha256")


def model_availability(name: str, settings: Settings | None = None):
    """`Availability` of a built model for an extractor's ``availability()``: ok, or why not."""
    from ..extractors.base import Availability

    try:
        locate_model(name, settings or Settings())
    except ModelMissingError as exc:
        return Availability(False, str(exc))
    return Availability(True)


def onnx_session(path: Path, threads: int = 1):
    """An onnxruntime CPU session with a fixed number of intra-op threads.

    One thread per session: the runner already runs one worker process per core, and more
    threads per session would only fight over the same cores.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def list_models(settings: Settings) -> pd.DataFrame:
    """One row per known model (sources.json and user.json): where it came from, its license,
    whether it is built and whether its file still matches the recorded sha256.

    Columns: name, kind (one of `MODEL_KINDS`), file, source, origin, license, opt_in, used_by,
    present, sha256_ok, sha256.
    """
    models_dir = Path(settings.models_dir)
    sources = read_sources(settings)
    manifest = read_manifest(settings) or {}
    built = manifest.get("models", {})
    rows = []
    for name, spec in sources["models"].items():
        entry = built.get(name)
        rows.append(_list_row(models_dir, name, MODEL_KINDS[0], entry, {
            "source": package_label(sources, name), "origin": spec["origin"], "license": spec.get("license"),
            "opt_in": spec.get("opt_in", False), "used_by": spec.get("used_by"),
            "file": (entry or {}).get("file", f"{name}.onnx"),
        }))
    for name, entry in read_user_models(settings).items():
        rows.append(_list_row(models_dir, name, MODEL_KINDS[1], entry, {
            "source": entry.get("source", "user"), "origin": entry.get("origin"),
            "license": entry.get("license"), "opt_in": True, "used_by": entry.get("used_by"),
            "file": entry["file"],
        }))
    table = pd.DataFrame(rows, columns=[
        "name", "kind", "file", "source", "origin", "license", "opt_in", "used_by",
        "present", "sha256_ok", "sha256",
    ])
    return table.astype({
        "name": "string", "kind": "string", "file": "string", "source": "string",
        "origin": "string", "license": "string", "opt_in": "boolean", "used_by": "string",
        "present": "boolean", "sha256_ok": "boolean", "sha256": "string",
    })


def package_label(sources: dict[str, Any], model: str) -> str:
    """``NAME@VERSION`` of the npm package model `model` is built from."""
    package = sources["packages"][sources["models"][model]["package"]]
    return f"{package['name']}@{package['version']}"


def _list_row(models_dir: Path, name: str, kind: str, entry: dict | None, info: dict) -> dict:
    path = models_dir / info["file"]
    present = entry is not None and path.is_file()
    ok = (file_sha256(path) == entry["sha256"]) if present else None
    return {"name": name, "kind": kind, **info, "present": present, "sha256_ok": ok,
            "sha256": (entry or {}).get("sha256")}


def register_user_model(
    name: str,
    path: str | Path,
    settings: Settings,
    *,
    license: str | None = None,
    origin: str | None = None,
    used_by: str | None = None,
) -> dict[str, Any]:
    """Record a model file you provide (placed in models/) with its sha256 in models/user.json.

    >>> # register_user_model("apparel", "models/apparel.onnx", settings, license="MIT")
    """
    models_dir = Path(settings.models_dir)
    source = Path(path)
    if not source.is_file():
        raise ModelMissingError(f"user model {name!r}: file {source} not found")
    target = models_dir / source.name
    if source.resolve() != target.resolve():
        shutil.copy2(source, target)
    sources = read_sources(settings)
    if name in sources["models"]:
        raise RumaroError(f"model name {name!r} is taken by a built model", hint="pick another name")
    entry = {"file": target.name, "sha256": file_sha256(target), "license": license,
             "origin": origin, "used_by": used_by,
             "registered_at": datetime.now(UTC).isoformat(timespec="seconds")}
    path_json = models_dir / USER_FILE
    data = _read_json(path_json, "models/user.json") if path_json.is_file() else {"models": {}}
    data.setdefault("models", {})[name] = entry
    write_json(path_json, data)
    return entry
