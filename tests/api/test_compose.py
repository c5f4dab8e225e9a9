"""docker-compose.yml and the Dockerfile, checked as data (no Docker engine runs here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.api.live import LiveProcess

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def named_volumes(service: dict[str, Any]) -> dict[str, str]:
    """volume name -> mount point, for the service's named (not bind) volumes."""
    mounts = {}
    for entry in service.get("volumes", []):
        source, target = str(entry).split(":")[:2]
        if not source.startswith((".", "/", "~")):
            mounts[source] = target
    return mounts


def healthcheck_text(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL")
    return " ".join(str(part) for part in test[1:])


def test_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"chroma", "assistant"}


def test_chroma_uses_the_official_image_with_a_volume_and_healthcheck(
    compose: dict[str, Any],
) -> None:
    chroma = compose["services"]["chroma"]
    assert re.fullmatch(r"chromadb/chroma:\d+\.\d+\.\d+", chroma["image"])
    assert named_volumes(chroma) == {"chroma-data": "/data"}
    assert "/api/v2/heartbeat" in healthcheck_text(chroma)


def test_assistant_points_at_chroma_and_waits_for_it(compose: dict[str, Any]) -> None:
    assistant = compose["services"]["assistant"]
    assert assistant["build"] == "."
    assert assistant["depends_on"] == {"chroma": {"condition": "service_healthy"}}
    env = env_of(assistant)
    assert env["ASSISTANT_CHROMA_URL"] == "http://chroma:8000"
    volumes = named_volumes(assistant)
    assert volumes == {"documents": env["ASSISTANT_DATA_DIR"]}
    assert "/health" in healthcheck_text(assistant)
    assert any(str(p).endswith(":8000") for p in assistant["ports"])
    for key in ("interval", "timeout", "retries", "start_period"):
        assert (
            key in assistant["healthcheck"] and key in compose["services"]["chroma"]["healthcheck"]
        )


def test_every_named_volume_is_declared(compose: dict[str, Any]) -> None:
    used = set()
    for service in compose["services"].values():
        used |= set(named_volumes(service))
    assert used == set(compose["volumes"]) == {"chroma-data", "documents"}


def test_settings_in_compose_exist(compose: dict[str, Any]) -> None:
    from assistant.settings import Settings

    fields = {f"ASSISTANT_{name.upper()}" for name in Settings.model_fields}
    env = env_of(compose["services"]["assistant"])
    assert set(env) <= fields, set(env) - fields


def test_dockerfile(dockerfile: str) -> None:
    lines = [ln.strip() for ln in dockerfile.splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[0].startswith("FROM python:3.11")
    torch = [ln for ln in lines if "torch" in ln and ln.startswith("RUN")]
    assert torch and all("torch==2.13.0" in ln and "/whl/cpu" in ln for ln in torch)
    for line in lines:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"COPY source {source} is missing"
    assert any(ln.startswith("HEALTHCHECK") for ln in lines)
    assert "EXPOSE 8000" in lines
    assert lines[-1] == 'CMD ["assistant", "serve", "--host", "0.0.0.0", "--port", "8000"]'
    assert "USER assistant" in lines


@pytest.mark.slow
def test_the_assistant_healthcheck_command_works(
    compose: dict[str, Any], live_server: LiveProcess
) -> None:
    test = compose["services"]["assistant"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    code = test[3].replace("http://127.0.0.1:8000", live_server.url)
    assert subprocess.run([sys.executable, "-c", code], timeout=30).returncode == 0
