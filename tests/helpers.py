"""Helpers for tests that run the assistant in a subprocess: a free loopback port, and an
environment that holds none of the developer's ASSISTANT_* settings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(*, drop: tuple[str, ...] = (), **settings: str) -> dict[str, str]:
    """The test process's environment without any ASSISTANT_* variable (nor those starting
    with a prefix in ``drop``), offline and unbuffered, plus ``settings``."""
    prefixes = ("ASSISTANT_", *drop)
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    env.update(settings)
    return env


def run_cli(
    *args: str,
    data_dir: Path,
    cwd: Path,
    stdin: str | None = None,
    timeout: float = 300,
    **settings: str,
) -> subprocess.CompletedProcess[str]:
    """``python -m assistant.cli ARGS`` over ``data_dir``, with no ASSISTANT_* settings but
    those given; ``cwd`` should be an empty folder, so that no stray .env file is read."""
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        cwd=cwd,
        env=clean_env(ASSISTANT_DATA_DIR=str(data_dir), **settings),
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
    )
