"""Errors a user can act on.

Every error raised for bad input or a missing prerequisite is a `RumaroError`: it names the item
at fault and, where there is one, says what to do next (`hint`). The CLI prints these as one line
and exits non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class RumaroError(Exception):
    """Base class: a message for the user plus an optional next step."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:  # one line, as the CLI shows it
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InvalidAccountName(RumaroError, ValueError):
    """An account name that breaks Instagram's rules (and so must never become a path)."""

    exit_code = 2


class AccountNotFound(RumaroError, LookupError):
    """No data for this account at the expected stage."""


class MissingInputError(RumaroError, FileNotFoundError):
    """A file or folder the user named (or a previous stage should have written) is absent."""


class ImageLoadError(RumaroError):
    """An image that can't be decoded safely (truncated, not an image, too large)."""

    def __init__(self, path: object, reason: str):
        super().__init__(f"cannot read image {path}: {reason}")
        self.path = path
        self.reason = reason


class ModelMissingError(RumaroError):
    """A local model file is absent or corrupt."""

    def __init__(self, message: str):
        super().__init__(message, hint="run `make models` (or `rumaro models build`)")


class CredentialsMissing(RumaroError):
    """A cloud extractor was asked for without its key in the environment."""


class ServiceError(RumaroError):
    """A remote service refused or failed in a way that retrying will not fix."""


class AnalysisError(RumaroError):
    """The data can't support the requested analysis (too few posts, no variation...)."""
