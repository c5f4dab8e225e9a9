"""Server mode: two API processes share one `chroma run` server; Chroma is the only shared
state (each process keeps its own keyword index, which follows the store's change feed).

One cluster per module (the first process ingests the sample corpus into the empty server,
which is the slow part); the tests run in file order and the last one stops the Chroma server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.live import LiveProcess, start_app, start_chroma

pytestmark = pytest.mark.slow


@dataclass
class Cluster:
    chroma: LiveProcess
    first: LiveProcess
    second: LiveProcess
    root: Path

    def restart_first(self) -> None:
        self.first.stop()
        self.first = start_app(self.root / "a", self.root / "run-a", **self.env)

    @property
    def env(self) -> dict[str, str]:
        return {"ASSISTANT_CHROMA_URL": self.chroma.url}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    chroma = start_chroma(root / "chroma-db", root)
    env = {"ASSISTANT_CHROMA_URL": chroma.url}
    first = start_app(root / "a", root / "run-a", **env)  # empty store: ingests the sample
    second = start_app(root / "b", root / "run-b", **env)
    group = Cluster(chroma, first, second, root)
    yield group
    group.first.stop()
    group.second.stop()
    group.chroma.stop()


def ask(server: LiveProcess, question: str) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/api/ask", json={"question": question}, timeout=60)
    assert response.status_code == 200, response.text
    return dict(response.json())


def upload(server: LiveProcess, name: str, text: str) -> None:
    files = {"files": (name, text.encode(), "text/markdown")}
    response = httpx.post(f"{server.url}/api/documents", files=files, timeout=120)
    assert response.status_code == 200, response.text
    assert response.json()["added"] == 1


def cites(answer: dict[str, Any], doc_id: str) -> bool:
    return any(c["doc_id"] == doc_id for c in answer["citations"])


def cited_within(server: LiveProcess, question: str, doc_id: str, seconds: float = 5.0) -> bool:
    """Whether the server's answer cites the document within ``seconds``: a replica follows
    another's changes through the store's change feed, about once a second (issue 14: an
    upload is answerable on a second replica within 5 s)."""
    deadline = time.monotonic() + seconds
    while True:
        if cites(ask(server, question), doc_id):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def listed(server: LiveProcess) -> set[str]:
    documents = httpx.get(f"{server.url}/api/documents", timeout=30).json()["documents"]
    return {d["doc_id"] for d in documents}


def test_both_processes_use_the_chroma_server(cluster: Cluster) -> None:
    for server in (cluster.first, cluster.second):
        health = httpx.get(f"{server.url}/health").json()
        assert health["store"]["where"] == cluster.chroma.url
        assert health["store"]["chunks"] > 100  # the sample corpus, ingested once by "first"
    assert not (cluster.root / "b" / "chroma").exists()  # no embedded store on the side


def test_an_upload_through_one_is_answered_by_the_other(cluster: Cluster) -> None:
    name, question = "lisbon-liaison-log.md", "Where does the Lisbon liaison cell meet?"
    assert not cites(ask(cluster.second, question), name)
    upload(
        cluster.first,
        name,
        "# Lisbon liaison log\n\nThe Lisbon liaison cell meets every second Thursday in the "
        "Almada annex. Its agenda reviews the protection-of-civilians checklist.\n",
    )
    assert cited_within(cluster.second, question, name)
    assert "Almada annex" in ask(cluster.second, question)["answer"]
    assert name in listed(cluster.second)
    # and the other way round
    other, other_question = "quito-roster.md", "Who keeps the Quito liaison roster?"
    upload(
        cluster.second,
        other,
        "# Quito roster\n\nThe Quito liaison roster is kept by Captain Ines Varga of the "
        "regional coordination office.\n",
    )
    assert cites(ask(cluster.second, other_question), other)  # at once where it was uploaded
    assert cited_within(cluster.first, other_question, other)


def test_answers_survive_a_restart(cluster: Cluster) -> None:
    name, question = "valdivia-drill.md", "When was the Valdivia flood drill held?"
    upload(
        cluster.first,
        name,
        "# Valdivia drill\n\nThe Valdivia flood drill was held on 14 March and tested the "
        "shelter referral desk.\n",
    )
    cluster.restart_first()
    answer = ask(cluster.first, question)
    assert cites(answer, name) and "14 March" in answer["answer"]


def test_a_delete_through_one_is_seen_by_the_other(cluster: Cluster) -> None:
    name, question = "tromso-briefing.md", "What did the Tromso briefing cover?"
    upload(
        cluster.first,
        name,
        "# Tromso briefing\n\nThe Tromso briefing covered Arctic search-and-rescue "
        "coordination with the coast guard.\n",
    )
    assert cited_within(cluster.second, question, name)
    assert httpx.delete(f"{cluster.second.url}/api/documents/{name}").status_code == 200
    assert name not in listed(cluster.first)
    deadline = time.monotonic() + 5
    while cites(ask(cluster.first, question), name):
        assert time.monotonic() < deadline, "the removal did not reach the other replica"
        time.sleep(0.2)


def test_health_is_503_when_the_chroma_server_is_gone(cluster: Cluster) -> None:
    cluster.chroma.stop()
    health = httpx.get(f"{cluster.first.url}/health", timeout=30)
    assert health.status_code == 503 and health.json()["store"]["ok"] is False
    failed = httpx.post(
        f"{cluster.second.url}/api/ask", json={"question": "Where is Almada?"}, timeout=30
    )
    assert failed.status_code == 503
    assert "Chroma server" in failed.json()["error"]["message"]
