"""A tiny sentence-transformers model (random weights, the bundled model's tokenizer).

Only for the memory test: the 50 MB file makes about 6,500 chunks even at the largest chunk
size, which the bundled model needs many minutes to encode on two cores, while this one runs
the very same Embedder -> SentenceTransformer code path in seconds. Its vectors are
meaningless, which a test of memory and store consistency does not need.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ingest.embedding import bundled_model_path

DIMENSION = 32
_COPIED = [
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "sentence_bert_config.json",
    "modules.json",
]


def write_tiny_model(target: Path) -> Path:
    import torch
    from transformers import BertConfig, BertModel

    source = Path(bundled_model_path())
    target.mkdir(parents=True)
    for name in _COPIED:
        shutil.copy(source / name, target / name)
    pooling = json.loads((source / "1_Pooling" / "config.json").read_text())
    pooling["word_embedding_dimension"] = DIMENSION
    (target / "1_Pooling").mkdir()
    (target / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (target / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 32, "do_lower_case": False})
    )
    vocab = json.loads((source / "config.json").read_text())["vocab_size"]
    config = BertConfig(
        vocab_size=vocab,
        hidden_size=DIMENSION,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=2 * DIMENSION,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(target)
    return target
