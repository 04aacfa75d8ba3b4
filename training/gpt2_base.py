"""The base language model for gpt2_qa: a hub id or local directory (`--base-model`), or the offline default
built here: a byte-level BPE tokenizer trained on the bundled corpus + QA set and a small GPT-2
(GPT2LMHeadModel, same architecture class, fewer/smaller layers) briefly pre-trained on copy drills.
Either way the result is a Hugging Face directory (config + weights + tokenizer) and the later stages
(SFT, RL, evaluation, export, serving) take the same code path.
"""
from __future__ import annotations

import os
import random
import re
import time
from pathlib import Path

import torch

from training.gpt2_steps import Row, train

EOS = "<|endoftext|>"
TINY = {"n_layer": 4, "n_head": 4, "n_embd": 128, "n_positions": 512,  # ~0.8 M params + embeddings
        "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}  # minutes of training: nothing to regularise


def train_tokenizer(texts: list[str], vocab_size: int):
    """Byte-level BPE (GPT-2's scheme) on our texts, wrapped as a GPT2TokenizerFast; pad = eos as in GPT-2."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2TokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=2, special_tokens=[EOS], show_progress=False)
    tok = GPT2TokenizerFast(tokenizer_object=bpe._tokenizer, bos_token=EOS, eos_token=EOS, unk_token=EOS,
                            pad_token=EOS, model_max_length=TINY["n_positions"])
    return tok


def load_pretrained(name: str):
    """A hub id or local HF directory. Only an explicitly named hub id reaches the network."""
    from transformers import AutoTokenizer, GPT2LMHeadModel

    if Path(name).is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tok = AutoTokenizer.from_pretrained(name)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return GPT2LMHeadModel.from_pretrained(name), tok


SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sinusoidal_positions(model, scale: float = 0.1) -> None:
    """Start the learned position embeddings at the sinusoids of "Attention is all you need" (x scale): a
    position's neighbours are then a fixed linear map away from it, so the previous-token attention that copying
    needs (an induction head: find where the current token occurred before, say what followed it) is there to
    be found from step one. GPT-2's random start made the same recipe plateau for longer (docs/GPT2_QA_TRAINING.md)."""
    n, d = model.transformer.wpe.weight.shape
    angle = torch.arange(n).float()[:, None] / 10000 ** (torch.arange(0, d, 2).float() / d)
    table = torch.zeros(n, d)
    table[:, 0::2], table[:, 1::2] = angle.sin(), angle.cos()
    with torch.no_grad():
        model.transformer.wpe.weight.copy_(table * scale)


def copy_drill(tok, text: str, rng: random.Random, max_sentences: int = 3) -> Row:
    """One pre-training row: 1-3 consecutive sentences, " |", the same sentences again. Predicting the repeat is
    pure copying (names never seen before included); the first half is ordinary language modelling at a
    smaller weight. Reading comprehension is finding a span and copying it, and a small model learns the copy
    here, in short cheap rows, before SFT asks it to find the span."""
    sents = SENTENCE_END.split(text.strip())
    k = rng.randint(1, min(max_sentences, len(sents)))
    i = rng.randrange(len(sents) - k + 1)
    span = tok(" ".join(sents[i:i + k]))["input_ids"]
    first = span + tok(" |")["input_ids"]
    return Row(first + span + [tok.eos_token_id], len(first), first_weight=0.3)


def pretrain_tiny(texts: list[str], drill_texts: list[str], steps: int, vocab_size: int = 2048, batch: int = 32,
                  lr: float = 3e-3, seed: int = 0, stop_below: float | None = None):
    """Tokenizer (trained on `texts`) + small GPT-2 pre-trained with copy drills on `drill_texts` for `steps`
    AdamW steps, or (`stop_below`) at a constant rate until the copy loss is below it, `steps` at most.
    Returns (model, tok, metrics)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    rng = random.Random(seed)
    started = time.perf_counter()
    tok = train_tokenizer(texts, vocab_size)
    config = GPT2Config(vocab_size=len(tok), bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id, **TINY)
    model = GPT2LMHeadModel(config)
    sinusoidal_positions(model)
    log = train(model, lambda _: [copy_drill(tok, rng.choice(drill_texts), rng) for _ in range(batch)], tok.eos_token_id,
                steps, lr, warmup=50, desc="pretrain (copy drills)", stop_below=stop_below)
    metrics = {"pretrain": "copy drills (text | text), sinusoidal position init", "pretrain_steps": log["steps"],
               "pretrain_max_steps": steps, "pretrain_stop_below": stop_below,
               "pretrain_batch": batch, "pretrain_lr": lr, "pretrain_final_copy_loss": log["final_loss"],
               "vocab_size": len(tok), "pretrain_seconds": round(time.perf_counter() - started, 1)}
    return model, tok, metrics
