"""The base language model for gpt2_qa: a hub id or local directory (`--base-model`), or the offline default
built here: a byte-level BPE tokenizer trained on the bundled corpus + QA set and a small GPT-2
(GPT2LMHeadModel, same architecture class, fewer/smaller layers) briefly pre-trained as a language model.
Either way the result is a Hugging Face directory (config + weights + tokenizer) and the later stages
(SFT, RL, evaluation, export, serving) take the same code path.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from tqdm import tqdm

EOS = "<|endoftext|>"
TINY = {"n_layer": 4, "n_head": 4, "n_embd": 128, "n_positions": 512}  # ~0.9 M params + embeddings


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


def blocks(tok, texts: list[str], block: int) -> torch.Tensor:
    """Texts joined by <|endoftext|> and cut into (n, block) training rows (the usual LM packing)."""
    ids: list[int] = []
    for t in texts:
        ids.extend(tok(t)["input_ids"] + [tok.eos_token_id])
    n = len(ids) // block
    return torch.tensor(ids[: n * block]).view(n, block)


def pretrain_tiny(texts: list[str], steps: int, vocab_size: int = 2048, block: int = 128, batch: int = 16,
                  lr: float = 2e-3, seed: int = 0):
    """Tokenizer + small GPT-2 pre-trained on `texts` for `steps` AdamW steps. Returns (model, tok, metrics)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    started = time.perf_counter()
    tok = train_tokenizer(texts, vocab_size)
    config = GPT2Config(vocab_size=len(tok), bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id, **TINY)
    model = GPT2LMHeadModel(config)
    data = blocks(tok, texts, block)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 20) * max(0.1, 1 - s / max(1, steps)))
    gen = torch.Generator().manual_seed(seed)
    model.train()
    loss = torch.tensor(float("nan"))
    bar = tqdm(range(steps), desc="pretrain", unit="step", mininterval=2)
    for step in bar:
        rows = data[torch.randint(len(data), (batch,), generator=gen)]
        loss = model(input_ids=rows, labels=rows).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 20 == 0:
            bar.set_postfix(loss=f"{float(loss):.3f}")
    model.eval()
    metrics = {"pretrain_steps": steps, "pretrain_final_loss": round(loss.item(), 4), "vocab_size": len(tok),
               "pretrain_tokens_seen": steps * batch * block, "pretrain_seconds": round(time.perf_counter() - started, 1)}
    return model, tok, metrics
