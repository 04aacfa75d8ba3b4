"""gpt2_qa at the real 124M shape with random weights, through the project's own pipeline, for the suites that
serve it (bench_gpt2_served, bench_iterative): a GPT2Config() network (12 layers, 768 wide, 50257 tokens: the cost
per token of the real model) exported (optimum-onnx, parity gate) and archived as version "bench" in a private
project dir. The tokenizer is the project's offline BPE; the network's rows for ids it cannot decode are zeroed,
so greedy picks decodable tokens at unchanged cost."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from genai_ops.registry import REPO_ROOT, Paths, load_registry

VERSION = "bench"
QUESTION = ("Which road did the merchant take from the harbour to the old tower by the lake, and what did he "
            "carry in his cart when the winter came?")


def build(base: Path):
    """checkpoints -> artifacts -> model_store for gpt2_qa version "bench" under `base`; (spec, Paths)."""
    from export.archive import archive
    from export.run import export_model

    spec = dataclasses.replace(load_registry()["gpt2_qa"], versions=(VERSION,), default_version=VERSION)
    paths = Paths(base)
    hf = paths.checkpoint("gpt2_qa", VERSION)
    model, tok = random_model()
    model.save_pretrained(hf)
    tok.save_pretrained(hf)
    (hf / "card.json").write_text(json.dumps({"stage": "random 124M (benchmark)"}))
    paths.checkpoint("gpt2_qa", spec.checkpoint_name).write_text("{}")
    export_model(spec, paths)
    archive(spec, VERSION, {"gpt2_qa": spec}, paths)
    return spec, paths


def random_model():
    """(GPT2LMHeadModel at the 124M shape, random weights; the project's BPE tokenizer)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from training.gpt2_base import train_tokenizer

    texts = (REPO_ROOT / "data" / "corpus" / "stories.txt").read_text().splitlines()
    tok = train_tokenizer(texts, 2048)
    model = GPT2LMHeadModel(GPT2Config()).eval()
    # Zero the embedding rows (tied to the LM head) of every id that does not decode to plain printable text
    # on its own (ids past the tokenizer's vocabulary, raw bytes of multi-byte characters): their logits become
    # 0, so greedy picks tokens that stream as text at once (a held-back partial character would delay the
    # first line, not measure it). The matmul is still 50257 wide: the cost per token is unchanged.
    keep = [i for i in range(len(tok)) if (t := tok.decode([i])).strip() and t.isascii() and t.isprintable()]
    mask = torch.ones(model.config.vocab_size, dtype=torch.bool)
    mask[keep] = False
    model.transformer.wte.weight.data[mask] = 0.0
    return model, tok
