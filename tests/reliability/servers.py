"""Restarting a `chroma run` we started, on the same port and data path."""

from __future__ import annotations

from tests.api.live import LiveProcess
from tests.helpers import clean_env


def restart(server: LiveProcess) -> LiveProcess:
    """The same `chroma run` again (same args, port and path); the old one must be stopped."""
    assert server.proc.poll() is not None, "stop the server first"
    restarted = LiveProcess(server.args, clean_env(), server.log, server.port, server.log.parent)
    restarted.wait_ready("/api/v2/heartbeat", timeout=90)
    return restarted
