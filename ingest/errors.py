"""The one error a loader raises: the file cannot be ingested, and the message says why."""

from __future__ import annotations


class LoadError(Exception):
    """A file that cannot be ingested; the message says why and what to do."""
