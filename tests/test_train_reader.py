"""bench/train_reader.py's answer-span targets: which tokens the span head must point at."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import torch

from assistant.reader_model import MAX_TOKENS, build, pair_text

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "train_reader.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_train_reader", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


tr = load_script()


def test_span_targets_point_at_the_answer_inside_the_candidate_sentence() -> None:
    model, tokenizer = build(span_head=True)
    question = "How many co-chairs lead the council?"
    sentence = "The council is led by two co-chairs."
    answering = pair_text(sentence, "Charter", after="It meets monthly.")
    pairs = [
        tr.Pair(question, answering, 1.0, ("two co-chairs",)),
        tr.Pair(question, pair_text("It meets monthly.", "Charter"), 0.0),
        # the answer text is not in the candidate: no span target, the row does not count
        tr.Pair(question, pair_text("The council has members.", "Charter"), 1.0, ("seven",)),
    ]
    enc = tokenizer(
        [p.question for p in pairs],
        [p.text for p in pairs],
        truncation="only_second",
        max_length=MAX_TOKENS,
        padding=True,
        return_offsets_mapping=True,
        return_tensors="pt",
    )
    starts, ends, used = tr.span_targets(enc, pairs)
    picked = tokenizer.decode(enc["input_ids"][0][int(starts[0]) : int(ends[0]) + 1])
    assert picked == "two co - chairs"
    assert enc.sequence_ids(0)[int(starts[0])] == 1  # inside the candidate, not the question
    assert (int(starts[1]), int(ends[1])) == (0, 0)  # no answer: the first token
    assert used.tolist() == [True, True, False]
    inputs = {k: v for k, v in enc.items() if k != "offset_mapping"}
    logit, spans = model.forward_all(**inputs)
    assert logit.shape == (3,) and spans is not None and spans.shape[-1] == 2
    loss = tr.span_loss(spans, enc, starts, ends, used)
    assert torch.isfinite(loss) and float(loss.detach()) > 0
    # without the head the model is the shipped reader's shape
    plain, _ = build()
    assert plain.forward_all(**inputs)[1] is None
