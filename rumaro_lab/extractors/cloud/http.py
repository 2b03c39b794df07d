"""HTTP helpers shared by the cloud clients: Retry-After, error bodies, redaction, one-line errors.

Pure functions (no state, no network): the retry loop in `rumaro_lab.extractors.cloud.base`
uses them, and so can any new client.

>>> parse_retry_after({"Retry-After": "7"})
7.0
>>> parse_retry_after({"retry-after-ms": "1500"})
1.5
>>> parse_retry_after({}) is None
True
"""

from __future__ import annotations

import base64
import email.utils
import json
import re
import time
from collections.abc import Mapping
from datetime import UTC
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...images import LoadedImage

#: Statuses worth another try (azure-core's retry policy retries the same ones).
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Statuses that mean "this key will not work": stop the service for the rest of the run.
STOP_STATUSES = frozenset({401, 403})
#: Response headers kept in the cached raw envelope (lower case).
KEPT_HEADERS = ("apim-request-id", "request-id", "csp-billing-usage", "x-ms-region")


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait, or None.

    Reads ``Retry-After`` (seconds or an HTTP date), then ``retry-after-ms`` and
    ``x-ms-retry-after-ms`` (milliseconds), case-insensitively, like azure-core.
    """
    lower = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    value = lower.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            reference = now if now is not None else time.time()
            return max(0.0, when.timestamp() - reference)
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = lower.get(name)
        if value:
            try:
                return max(0.0, float(value) / 1000.0)
            except ValueError:
                return None
    return None


def describe_error_body(body: str | bytes | None, limit: int = 300) -> str:
    """``code/innercode: message`` from an Azure or Algorithmia error body, else its first bytes.

    >>> describe_error_body('{"error": {"code": "InvalidArgument", "message": "Bad.",'
    ...                     ' "innererror": {"code": "InvalidImageUrl", "message": "x"}}}')
    'InvalidArgument/InvalidImageUrl: Bad.'
    """
    if body is None:
        return "(no body)"
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        err = parsed["error"]
        codes = [str(err["code"])] if err.get("code") is not None else []
        inner = err.get("innererror")
        if isinstance(inner, dict) and inner.get("code") is not None:
            codes.append(str(inner["code"]))
        message = str(err.get("message", "")).strip()
        return f"{'/'.join(codes)}: {message}" if codes else message or text[:limit]
    text = " ".join(text.split())
    return (text[:limit] + "...") if len(text) > limit else (text or "(empty body)")


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every secret value replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def short_error(exc: BaseException, limit: int = 160) -> str:
    """``Type: reason`` in one line: the OS error inside a connection error, else the message."""
    text = " ".join(str(exc).split())
    os_error = re.search(r"\[Errno -?\d+\][^)'\"]*", text)  # e.g. "[Errno 111] Connection refused"
    if os_error:
        text = os_error.group(0).strip()
    text = text[:limit] + "..." if len(text) > limit else text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def image_base64(image: LoadedImage) -> str:
    """The image file's bytes as base64 text (for JSON APIs such as Algorithmia)."""
    return base64.b64encode(image.data).decode("ascii")


def number_or_none(value) -> float | None:
    """A JSON number as float; a missing one stays None (unknown, never 0)."""
    return None if value is None else float(value)


def hint_for(status: int) -> str:
    """What a user can do about a 4xx that retrying won't fix."""
    if status == 400:
        return "the service rejected this image (format, size or a bad option); the rest go on"
    if status == 404:
        return "wrong endpoint or API path: check the *_ENDPOINT variable"
    if status == 415:
        return "the service refused the content type (not an image it reads)"
    return "see the service's message; the rest of the images go on"
