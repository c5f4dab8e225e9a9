"""API fuzzing with schemathesis: over 1,000 requests generated from the app's OpenAPI schema
(valid ones and deliberately invalid ones) and not one 5xx.

In-process, against the ASGI app over a private copy of the sample store. The strategies come
from schemathesis and run under Hypothesis directly: schemathesis' pytest plugin does not work
with pytest 9 here ("'Function' object has no attribute '_nodeid'").
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode

from assistant.api import create_app
from assistant.service import Service
from ingest.embedding import Embedder
from tests.conftest import make_settings

pytestmark = pytest.mark.slow

EXAMPLES = {GenerationMode.POSITIVE: 130, GenerationMode.NEGATIVE: 70}  # per operation


class Recorder:
    """ASGI middleware: counts every response status, and remembers each 5xx request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.statuses: Counter[int] = Counter()
        self.server_errors: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def record(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
                if message["status"] >= 500:
                    self.server_errors.append(f"{scope['method']} {scope['path']}")
            await send(message)

        await self.app(scope, receive, record)


def fuzz(operation: Any, mode: GenerationMode, failures: list[str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call()
        # a leaked trace, not a generated id such as "Traceback" echoed in a 404's message
        if response.status_code >= 500 or "Traceback (most recent call last)" in response.text:
            failures.append(
                f"{operation.label} ({mode.value}): {response.status_code} "
                f"{response.text[:300]}\n  {case.as_curl_command()[:500]}"
            )

    try:
        run()
    except Unsatisfiable:  # no parameters or body to make invalid (e.g. GET /health)
        assert mode is GenerationMode.NEGATIVE, operation.label


def test_over_1000_generated_requests_get_no_server_error(
    tmp_path: Path, sample_data_dir: Path, embedder: Embedder
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(sample_data_dir, data_dir)
    settings_ = make_settings(data_dir, max_upload_bytes=64 * 1024)
    recorder = Recorder(create_app(Service(settings_, embedder=embedder)))
    schema = schemathesis.openapi.from_asgi("/openapi.json", recorder)
    failures: list[str] = []
    labels = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the schema itself must be valid
        operation = result.ok()
        labels.append(operation.label)
        for mode in EXAMPLES:
            fuzz(operation, mode, failures)
    total = sum(recorder.statuses.values())
    statuses = dict(sorted(recorder.statuses.items()))
    print(f"\nfuzzed {total} requests over {labels}; statuses {statuses}")
    assert failures == [], "\n".join(failures[:10])
    assert recorder.server_errors == []
    assert total >= 1000, dict(recorder.statuses)
