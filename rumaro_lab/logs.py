"""Logging with levels (``-v``/``-q``) through rich, with credentials redacted.

Library modules only call ``logging.getLogger(__name__)``; the CLI calls `configure_logging` once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

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


def configure_logging(
    verbose: int = 0, quiet: int = 0, secrets: Iterable[str] = (), log_file: Path | None = None
) -> None:
    """Send rumaro_lab's log records to stderr through rich, at the level -v/-q ask for, and
    (when `log_file` is given) every record down to debug level to that file."""
    secrets = list(secrets)
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    console = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False)
    console.setLevel(level_for(verbose, quiet))
    console.addFilter(RedactSecrets(secrets))
    logger.addHandler(console)
    logger.setLevel(level_for(verbose, quiet))
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            to_file = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            logger.warning("no log file (%s): logging to the terminal only", exc)
        else:
            to_file.setLevel(logging.DEBUG)
            to_file.setFormatter(logging.Formatter(
                "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
            to_file.addFilter(RedactSecrets(secrets))
            logger.addHandler(to_file)
            logger.setLevel(logging.DEBUG)
    logger.propagate = False
