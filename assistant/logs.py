"""Log records as the one-line notes a user reads on stderr: ``warning: ...``, ``error: ...``.

The server and the CLI both call ``log_to_stderr`` once at start; library code only logs.
"""

from __future__ import annotations

import logging
import sys


class _Note(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno < logging.WARNING:
            return text
        return f"{record.levelname.lower()}: {text}"


class _Stderr(logging.Handler):
    """Writes to ``sys.stderr`` as it is when the record comes, so a rich progress display
    that has wrapped it keeps the note above its bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def log_to_stderr() -> None:
    """Show the assistant's log records (info and up) on stderr; calling it again is a no-op."""
    logger = logging.getLogger("assistant")
    logger.setLevel(logging.INFO)
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(_Note())
        logger.addHandler(handler)
