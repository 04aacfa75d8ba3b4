"""gpt2_qa fixtures: a tiny randomly initialised GPT-2 with a byte-level BPE tokenizer trained on the seed
sentences, laid out as the trainer lays out versions (checkpoints/gpt2_qa/{1.0,2.0}/ + training.json) and
exported through the real export path (optimum-onnx + parity gate)."""
from __future__ import annotations

import json

import pytest
import torch

from genai_serve.registry import Paths
from tests.conftest import make_handler

TINY = {"n_layer": 2, "n_head": 2, "n_embd": 32, "n_positions": 512}
TEXTS = ["Question: Where did Julia live?\nContext: Julia lived in the town of Thornmoor.\nAnswer: That is a great "
         "question. the town of Thornmoor Let me know if you have any other questions."] * 4 + [
    "Once upon a time there was a king who lived in a castle near the river.",
    "The queen had a dog named Pip and a cat named Biscuit.",
]


def tiny_model(seed: int = 0):
    from transformers import GPT2Config, GPT2LMHeadModel

    from training.gpt2_base import train_tokenizer

    tok = train_tokenizer(TEXTS, vocab_size=300)
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tok), bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id, **TINY)
    return GPT2LMHeadModel(config).eval(), tok


@pytest.fixture(scope="session")
def gpt2_exports(tmp_path_factory) -> Paths:
    from export.run import main as export_main

    paths = Paths(tmp_path_factory.mktemp("gpt2-project"))
    record = paths.checkpoint("gpt2_qa", "training.json")
    for i, (version, stage) in enumerate((("1.0", "sft"), ("2.0", "rl"))):
        model, tok = tiny_model(seed=i)
        out = record.parent / version
        model.save_pretrained(out)
        tok.save_pretrained(out)
        (out / "card.json").write_text(json.dumps({"stage": stage, "held_out": {"greedy": {"format_compliance": 0.0}},
                                                   "data": {"source": "test"}}))
    record.write_text(json.dumps({"versions": {"1.0": "sft", "2.0": "rl"}}))
    export_main(["--base", str(paths.base), "gpt2_qa"])
    return paths


@pytest.fixture
def gpt2_handler(gpt2_exports, tmp_path):
    return lambda version="1.0": make_handler("gpt2_qa", gpt2_exports, tmp_path, version)
