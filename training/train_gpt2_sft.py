"""Supervised fine-tuning for gpt2_qa (version 1.0): prompt -> " {PREFIX} {answer} {SUFFIX}<|endoftext|>".

python -m training.train_gpt2_sft --model DIR --out DIR [--epochs 8] [--max-steps N]

Fixes the seeds' SFT bugs: padding is masked out of the loss (seed 1 trained mostly on pad tokens), the
context is in the prompt (seed 1 dropped it), and an end-of-text token ends every target (seed 2 had none,
so its model never learnt to stop). The prompt tokens are masked too (loss on the answer only): the model
is asked to answer, not to predict questions. A share of examples (`--no-context-share`) is trained without
the context, so a question without context is in distribution. transformers' Trainer (progress bars,
AdamW, linear decay) on the CPU.
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time

import torch

from genai_serve.gpt2.template import prompt, target

IGNORE = -100


def encode(tok, example: dict, with_context: bool, max_len: int) -> dict:
    """input_ids = prompt + target + eos; labels = -100 on the prompt, the target and eos kept."""
    p = tok(prompt(example["question"], example["context"] if with_context else None))["input_ids"]
    t = tok(target(example["answer"]))["input_ids"] + [tok.eos_token_id]
    p = p[-(max_len - len(t)):] if len(p) + len(t) > max_len else p  # keep the target whole: cut the prompt's start
    return {"input_ids": p + t, "labels": [IGNORE] * len(p) + t}


class Collator:
    """Right-pads a batch; pads get label -100 (out of the loss) and attention 0."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list[dict]) -> dict:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(b["input_ids"]), torch.tensor(b["labels"]), 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def sft(model, tok, examples: list[dict], epochs: float = 8, batch: int = 16, lr: float = 1e-3,
        max_steps: int | None = None, no_context_share: float = 0.2, seed: int = 0) -> dict:
    from transformers import Trainer, TrainingArguments

    rng = random.Random(seed)
    max_len = model.config.n_positions
    rows = [encode(tok, ex, rng.random() >= no_context_share, max_len) for ex in examples]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpt2-sft-") as tmp:
        args = TrainingArguments(output_dir=tmp, per_device_train_batch_size=batch, num_train_epochs=epochs,
                                 max_steps=max_steps or -1, learning_rate=lr, warmup_ratio=0.05,
                                 lr_scheduler_type="linear", weight_decay=0.0, logging_steps=10, save_strategy="no",
                                 report_to=[], use_cpu=True, seed=seed, remove_unused_columns=False,
                                 dataloader_num_workers=0)
        trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=Collator(tok.pad_token_id))
        result = trainer.train()
    model.eval()
    return {"sft_steps": result.global_step, "sft_final_loss": round(result.training_loss, 4),
            "sft_examples": len(rows), "sft_epochs": epochs, "sft_lr": lr,
            "sft_seconds": round(time.perf_counter() - started, 1)}


def main(argv=None) -> None:
    from training.gpt2_base import load_pretrained
    from training.gpt2_data import load_examples

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="base model: HF directory or hub id")
    parser.add_argument("--out", required=True, help="directory for the fine-tuned model (version 1.0)")
    parser.add_argument("--dataset", help="SQuAD-format directory or hub id (default: data/squad_mini)")
    parser.add_argument("--epochs", type=float, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--max-steps", type=int)
    args = parser.parse_args(argv)
    model, tok = load_pretrained(args.model)
    examples, _ = load_examples(args.dataset, "train")
    print(sft(model, tok, examples, epochs=args.epochs, lr=args.lr, max_steps=args.max_steps))
    model.save_pretrained(args.out)
    tok.save_pretrained(args.out)


if __name__ == "__main__":
    main()
