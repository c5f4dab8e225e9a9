"""Real servers in subprocesses on free loopback ports: `assistant serve` and `chroma run`."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.helpers import clean_env, free_port

PYTHON = sys.executable
CHROMA = str(Path(sys.executable).parent / "chroma")


class LiveProcess:
    """A server process we started; ``stop`` ends exactly this process."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, port: int, cwd: Path):
        self.args = args
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_ready(self, path: str, timeout: float = 180.0) -> None:
        ok = _wait(lambda: _get_ok(self.url + path), timeout, self.proc)
        if not ok:
            self.stop()
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.args[:4]} did not become ready on {self.url}:\n{tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _get_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(check: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if check():
            return True
        time.sleep(0.25)
    return False


def start_app(data_dir: Path, workdir: Path, **settings: str) -> LiveProcess:
    """`assistant serve` on a free port, with ASSISTANT_DATA_DIR and other settings given."""
    port = free_port()
    args = [PYTHON, "-m", "assistant.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    env = clean_env(ASSISTANT_DATA_DIR=str(data_dir), **settings)
    workdir.mkdir(parents=True, exist_ok=True)  # no stray .env file is read from here
    server = LiveProcess(args, env, workdir / f"serve-{port}.log", port, workdir)
    server.wait_ready("/health")
    return server


def start_chroma(path: Path, workdir: Path) -> LiveProcess:
    port = free_port()
    args = [CHROMA, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    workdir.mkdir(parents=True, exist_ok=True)
    server = LiveProcess(args, clean_env(), workdir / f"chroma-{port}.log", port, workdir)
    server.wait_ready("/api/v2/heartbeat", timeout=60)
    return server
