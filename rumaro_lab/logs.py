"""Logging with levels (``-v``/``-q``) through rich, with credentials redacted.

Library modules only call ``logging.getLogger(__name__)``; the CLI calls `configure_logging` once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from rich.console import Console
from rich.logging import RichHandler

LOGGER_NAME = "rumaro_lab"


class RedactSecrets(logging.Filter):
    """Replace any known secret value in a log record by ``***``."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            message = record.getMessage()
            for secret in self._secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


def level_for(verbose: int = 0, quiet: int = 0) -> int:
    """-v -> DEBUG, default INFO, -q -> WARNING, -qq -> ERROR."""
    return max(logging.DEBUG, min(logging.ERROR, logging.INFO - 10 * verbose + 10 * quiet))


def configure_logging(verbose: int = 0, quiet: int = 0, secrets: Iterable[str] = ()) -> None:
    """Send rumaro_lab's log records to stderr through rich, at the level -v/-q ask for."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level_for(verbose, quiet))
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False)
    handler.addFilter(RedactSecrets(secrets))
    logger.addHandler(handler)
    logger.propagate = False
