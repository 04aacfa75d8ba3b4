"""gpt2_qa fixtures: a tiny randomly initialised GPT-2 with a byte-level BPE tokenizer trained on the seed
sentences, laid out as the trainer lays out versions (checkpoints/gpt2_qa/{1.0,2.0}/ + training.json) and
exported through the real export path (optimum-onnx + parity gate; 2.1 = 2.0 quantized to int8 + its gate).

1.0 keeps its random weights; 2.0 is fitted for a few steps to TEXTS, so that, like any trained model (and unlike
a random one, whose next-token logits are near ties everywhere), its greedy answers survive int8 rounding and
2.1's agreement gate can pass."""
from __future__ import annotations

import json

import pytest
import torch

from genai_ops.registry import Paths
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


def fitted(model, tok, steps: int = 50):
    """A few Adam steps on TEXTS (about a second): next-token distributions with clear winners."""
    batch = tok(TEXTS, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="session")
def gpt2_exports(tmp_path_factory) -> Paths:
    from export.run import main as export_main

    paths = Paths(tmp_path_factory.mktemp("gpt2-project"))
    record = paths.checkpoint("gpt2_qa", "training.json")
    for i, (version, stage) in enumerate((("1.0", "sft"), ("2.0", "rl"))):
        model, tok = tiny_model(seed=i)
        model = fitted(model, tok) if stage == "rl" else model
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
