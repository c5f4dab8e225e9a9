"""Bounded load on loopback: concurrent /api/ask while another client uploads and deletes.

    python bench/load.py [--seconds 60] [--clients 8] [--json]
                         [--url http://127.0.0.1:PORT | --data-dir DIR]

Without --url it starts `assistant serve` on a free loopback port over a private copy of
--data-dir (a data dir that already holds the sample corpus) or, without one, over an empty
data dir, which makes the server ingest the bundled sample first. Only loopback URLs are
accepted: this sends nothing anywhere else.

``--clients`` threads ask questions for ``--seconds``: sample questions, and questions about
the notes that one more client keeps uploading and deleting (also after their deletion). Every
request's start and end time is kept, and so is every upload's and delete's. A citation is
stale unless its document is a sample document or an upload that existed at some moment of
the request's lifetime (uploaded before the request ended, deleted after it started).

Prints requests, errors, stale citations, p50/p95 latency and throughput (JSON with --json);
exits 1 when there was any error or stale citation.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "tests" / "data" / "dev-questions.jsonl"
SYLLABLES = ["ka", "lo", "ven", "tri", "mar", "zu", "pel", "dor", "qui", "sab", "ne", "rov"]
TIMEOUT = 120.0


@dataclass
class Note:
    """One uploaded document and when it could have existed on the server."""

    doc_id: str
    codeword: str
    crates: int
    upload_start: float
    upload_end: float | None = None
    delete_start: float | None = None
    delete_end: float | None = None

    def alive_during(self, start: float, end: float) -> bool:
        deleted = self.delete_end if self.delete_end is not None else float("inf")
        return self.upload_start <= end and deleted >= start

    @property
    def question(self) -> str:
        return f"How many crates does the {self.codeword} depot hold?"

    @property
    def text(self) -> str:
        return (
            f"# Depot note on {self.codeword}\n\n"
            f"The {self.codeword} depot holds exactly {self.crates} crates of medical supplies "
            f"for the shelter network. The {self.codeword} depot is inspected every Monday.\n"
        )


@dataclass
class Ask:
    question: str
    start: float
    end: float
    status: int
    cited: list[str] = field(default_factory=list)
    error: str = ""


class Run:
    """Shared state of one load run; lists are appended to under the GIL only."""

    def __init__(self, url: str, clients: int, seconds: float, seed: int) -> None:
        self.url = url.rstrip("/")
        self.clients = clients
        self.seconds = seconds
        self.rng = random.Random(seed)
        self.tag = f"{seed:x}"
        self.asks: list[Ask] = []
        self.notes: list[Note] = []
        self.errors: list[str] = []
        self.baseline: set[str] = set()
        self.questions = [
            json.loads(line)["question"]
            for line in QUESTIONS.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        self.deadline = 0.0

    # -- the clients --------------------------------------------------------------------------
    def asker(self, number: int) -> None:
        rng = random.Random(number)
        with httpx.Client(base_url=self.url, timeout=TIMEOUT) as client:
            while time.monotonic() < self.deadline:
                notes = list(self.notes)
                if notes and rng.random() < 0.4:
                    question = rng.choice(notes[-4:]).question  # recent, maybe deleted
                else:
                    question = rng.choice(self.questions)
                start = time.monotonic()
                try:
                    response = client.post("/api/ask", json={"question": question})
                except httpx.HTTPError as exc:
                    end = time.monotonic()
                    self.asks.append(Ask(question, start, end, 0, error=repr(exc)))
                    continue
                end = time.monotonic()
                ask = Ask(question, start, end, response.status_code)
                if response.status_code == 200:
                    ask.cited = [c["doc_id"] for c in response.json()["citations"]]
                else:
                    ask.error = response.text[:300]
                self.asks.append(ask)

    def churner(self) -> None:
        """Uploads a note, lets the askers see it for a while, deletes it; again and again."""
        rng = random.Random(7)
        number = 0
        with httpx.Client(base_url=self.url, timeout=TIMEOUT) as client:
            while time.monotonic() < self.deadline - 1.0:
                number += 1
                codeword = "".join(rng.choice(SYLLABLES) for _ in range(4)).capitalize()
                note = Note(
                    f"load-{self.tag}-{number:04d}.md", codeword, rng.randint(100, 999), 0.0
                )
                note.upload_start = time.monotonic()
                self.notes.append(note)
                files = {"files": (note.doc_id, note.text.encode(), "text/markdown")}
                try:
                    response = client.post("/api/documents", files=files)
                    note.upload_end = time.monotonic()
                    if response.status_code != 200 or response.json()["added"] != 1:
                        self.errors.append(f"upload {note.doc_id}: {response.status_code}")
                except httpx.HTTPError as exc:
                    self.errors.append(f"upload {note.doc_id}: {exc!r}")
                time.sleep(rng.uniform(0.5, 2.0))
                note.delete_start = time.monotonic()
                try:
                    response = client.delete(f"/api/documents/{note.doc_id}")
                    if response.status_code != 200:
                        self.errors.append(f"delete {note.doc_id}: {response.status_code}")
                except httpx.HTTPError as exc:
                    self.errors.append(f"delete {note.doc_id}: {exc!r}")
                note.delete_end = time.monotonic()
                time.sleep(rng.uniform(0.0, 0.5))

    def run(self) -> dict[str, Any]:
        documents = httpx.get(f"{self.url}/api/documents", timeout=TIMEOUT).json()["documents"]
        self.baseline = {d["doc_id"] for d in documents}
        started = time.monotonic()
        self.deadline = started + self.seconds
        threads = [threading.Thread(target=self.asker, args=(n,)) for n in range(self.clients)]
        threads.append(threading.Thread(target=self.churner))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return self.summary(time.monotonic() - started)

    # -- the verdict --------------------------------------------------------------------------
    def stale(self) -> list[str]:
        notes = {note.doc_id: note for note in self.notes}
        found = []
        for ask in self.asks:
            for doc_id in ask.cited:
                if doc_id in self.baseline:
                    continue
                note = notes.get(doc_id)
                if note is None or not note.alive_during(ask.start, ask.end):
                    found.append(f"{doc_id} cited by a request at {ask.start:.3f}-{ask.end:.3f}")
        return found

    def summary(self, wall: float) -> dict[str, Any]:
        ok = [ask for ask in self.asks if ask.status == 200]
        failed = [f"ask {a.status}: {a.error}" for a in self.asks if a.status != 200]
        latencies = sorted(ask.end - ask.start for ask in ok) or [0.0]
        stale = self.stale()
        uploads = {n.doc_id for n in self.notes}
        return {
            "clients": self.clients,
            "seconds": round(wall, 1),
            "requests": len(self.asks),
            "errors": len(failed) + len(self.errors),
            "stale_citations": len(stale),
            "p50_ms": round(1000 * statistics.median(latencies), 1),
            "p95_ms": round(1000 * _percentile(latencies, 0.95), 1),
            "max_ms": round(1000 * latencies[-1], 1),
            "throughput_rps": round(len(ok) / wall, 2),
            "uploads": sum(1 for n in self.notes if n.upload_end is not None),
            "deletes": sum(1 for n in self.notes if n.delete_end is not None),
            "citations": sum(len(a.cited) for a in ok),
            "citations_of_uploads": sum(1 for a in ok for d in a.cited if d in uploads),
            "error_samples": (failed + self.errors)[:5],
            "stale_samples": stale[:5],
        }


def _percentile(values: list[float], fraction: float) -> float:
    index = min(len(values) - 1, max(0, round(fraction * len(values)) - 1))
    return values[index]


# -- the server -------------------------------------------------------------------------------
def _loopback(url: str) -> str:
    host = urlparse(url).hostname or ""
    try:
        loop = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loop = False
    if not loop:
        raise SystemExit(f"error: {url} is not a loopback address; this load test stays local")
    return url


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`assistant serve` over a private data dir, on a free loopback port."""

    def __init__(self, data_dir: Path | None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="load-"))
        data = self.root / "data"
        if data_dir is not None:
            shutil.copytree(data_dir, data)
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
        env.update(ASSISTANT_DATA_DIR=str(data), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        self.log = (self.root / "serve.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)],
            env=env,
            cwd=self.root,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 900.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        tail = (self.root / "serve.log").read_text(errors="replace")[-2000:]
        raise SystemExit(f"error: the server did not become ready:\n{tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to ask (60)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent askers (8)")
    parser.add_argument("--url", help="a running server on loopback (default: start one)")
    parser.add_argument("--data-dir", type=Path, help="data dir to copy for the started server")
    parser.add_argument("--seed", type=int, default=6, help="seed for notes and questions")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 3600 or not 1 <= args.clients <= 64:
        parser.error("--seconds must be in (0, 3600] and --clients in [1, 64]")
    server = None
    if args.url:
        url = _loopback(args.url)
    else:
        server = Server(args.data_dir)
        url = server.url
    try:
        if server is not None:
            server.wait_ready()
        result = Run(url, args.clients, args.seconds, args.seed).run()
    finally:
        if server is not None:
            server.stop()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['clients']} clients, {result['seconds']} s: {result['requests']} requests, "
            f"{result['errors']} errors, {result['stale_citations']} stale citations\n"
            f"latency p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
            f"max {result['max_ms']} ms; throughput {result['throughput_rps']} requests/s\n"
            f"{result['uploads']} uploads, {result['deletes']} deletes; {result['citations']} "
            f"citations checked, {result['citations_of_uploads']} of them to uploads"
        )
        for sample in result["error_samples"] + result["stale_samples"]:
            print(f"  {sample}")
    return 1 if result["errors"] or result["stale_citations"] else 0


if __name__ == "__main__":
    sys.exit(main())
