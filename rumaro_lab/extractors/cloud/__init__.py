"""Cloud extractors' shared parts: `base` (the retrying client base class), `http` (pure HTTP
helpers) and `state` (budget, rate limit and stop flag shared by worker processes).

The services themselves are `azure_vision`, `azure_face` and `deepfashion` beside this package.
"""

from ...errors import (
    BodyNotJson,
    BudgetExhausted,
    CloudCallError,
    HttpFailure,
    MalformedResponse,
    ServiceStopped,
    TransportFailure,
)
from .base import CloudExtractor
from .http import (
    describe_error_body,
    hint_for,
    image_base64,
    parse_retry_after,
    redact,
    short_error,
)
from .state import RUN_ID_ENV, ServiceState, begin_run, current_run_id

__all__ = [
    "RUN_ID_ENV",
    "BodyNotJson",
    "BudgetExhausted",
    "CloudCallError",
    "CloudExtractor",
    "HttpFailure",
    "MalformedResponse",
    "ServiceState",
    "ServiceStopped",
    "TransportFailure",
    "begin_run",
    "current_run_id",
    "describe_error_body",
    "hint_for",
    "image_base64",
    "parse_retry_after",
    "redact",
    "short_error",
]
