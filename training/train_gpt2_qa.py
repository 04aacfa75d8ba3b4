"""gpt2_qa end to end: base model -> SFT (version 1.0) -> GRPO (version 2.0), each evaluated on held-out data.

python -m training.train_gpt2_qa --out checkpoints/gpt2_qa/training.json [--base-model ID|DIR] [--dataset ID|DIR]
                                 [--max-steps N] [--threads T]

training.run calls this with --out checkpoints/gpt2_qa/training.json (the registry's `train.checkpoint`).
It writes beside it one Hugging Face directory per version, each with card.json (data, training and
held-out metrics), and training.json last: its presence means the run completed.

  checkpoints/gpt2_qa/1.0/   SFT          checkpoints/gpt2_qa/2.0/   RL from 1.0
Offline default (no --base-model): tokenizer + small GPT-2 pre-trained here (training/gpt2_base.py).
`--max-steps N` caps every stage at N optimiser steps (the e2e tests' quick run).
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from genai_serve.checkpoint import atomic_write_json

STAGES = {"1.0": "sft", "2.0": "rl"}


def save(model, tok, out: Path, card: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    atomic_write_json(out / "card.json", card)


def main(argv=None) -> None:
    from training.gpt2_base import load_pretrained, pretrain_tiny
    from training.gpt2_data import corpus_texts, load_examples
    from training.gpt2_eval import evaluate
    from training.train_gpt2_rl import grpo
    from training.train_gpt2_sft import sft

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="training record; versions go beside it")
    parser.add_argument("--base-model", help="hub id (e.g. openai-community/gpt2) or local HF dir; default: small GPT-2 trained here")
    parser.add_argument("--dataset", help="SQuAD-format dir or hub id (e.g. rajpurkar/squad); default: data/squad_mini")
    parser.add_argument("--train-limit", type=int, help="use the first N training examples")
    parser.add_argument("--eval-limit", type=int, help="evaluate on the first N held-out examples")
    parser.add_argument("--pretrain-steps", type=int, default=400)
    parser.add_argument("--sft-epochs", type=float, default=20)
    parser.add_argument("--sft-lr", type=float, help="default 1e-3 for the small model, 5e-5 for a named base")
    parser.add_argument("--rl-steps", type=int, default=150)
    parser.add_argument("--rl-lr", type=float, default=1e-4)
    parser.add_argument("--max-steps", type=int, help="cap every stage at N steps (quick runs)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 measured fastest on a shared 2-core box)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)  # training.run passes it to every trainer
    parser.add_argument("--download", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not (args.base_model and not Path(args.base_model).is_dir()) and not (args.dataset and not Path(args.dataset).is_dir()):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing names a hub id: never touch the network
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cap = args.max_steps
    started = time.perf_counter()
    train, train_src = load_examples(args.dataset, "train", args.train_limit)
    dev, dev_src = load_examples(args.dataset, "dev", args.eval_limit or (16 if cap else None))
    data = {"train": train_src, "held_out": dev_src}

    # 1. base
    if args.base_model:
        model, tok = load_pretrained(args.base_model)
        base = {"base_model": args.base_model}
        sft_lr = args.sft_lr or 5e-5
    else:
        texts = corpus_texts() + [f"{e['context']} {e['question']} {e['answer']}" for e in train]
        model, tok, base = pretrain_tiny(texts, min(args.pretrain_steps, cap or args.pretrain_steps), seed=args.seed)
        base = {"base_model": "small GPT-2 trained here (training/gpt2_base.py)", "config": model.config.to_diff_dict(), **base}
        data["pretrain"] = {"source": "data/corpus/stories.txt + the training split's contexts", "texts": len(texts)}
        sft_lr = args.sft_lr or 1e-3
    print(f"== gpt2_qa base: {base}", flush=True)

    # 2. SFT -> 1.0
    sft_metrics = sft(model, tok, train, epochs=args.sft_epochs, lr=sft_lr, max_steps=cap, seed=args.seed)
    eval_sft = evaluate(model, tok, dev)
    out_dir = args.out.parent
    save(model, tok, out_dir / "1.0", {"stage": "sft", "base": base, "training": sft_metrics, "data": data,
                                       "held_out": eval_sft})
    print(f"== gpt2_qa 1.0 (SFT): {sft_metrics}\n   held-out: { {k: v for k, v in eval_sft.items() if k != 'samples'} }", flush=True)

    # 3. RL -> 2.0 (from 1.0)
    model, rl_metrics = grpo(out_dir / "1.0", tok, train, steps=min(args.rl_steps, cap or args.rl_steps), lr=args.rl_lr, seed=args.seed)
    eval_rl = evaluate(model, tok, dev)
    save(model, tok, out_dir / "2.0", {"stage": "rl", "base": base, "from": "1.0", "training": {**sft_metrics, **rl_metrics},
                                       "data": data, "held_out": eval_rl})
    print(f"== gpt2_qa 2.0 (RL): {rl_metrics}\n   held-out: { {k: v for k, v in eval_rl.items() if k != 'samples'} }", flush=True)

    table = {v: {k: e[k] for k in ("format_compliance", "exact_match", "f1", "mean_length", "n")}
             for v, e in (("1.0", eval_sft), ("2.0", eval_rl))}
    atomic_write_json(args.out, {"versions": STAGES, "held_out": table, "base": base, "data": data,
                                 "seconds": round(time.perf_counter() - started, 1)})
    print(f"== gpt2_qa held-out (sampled, T=0.8): {table}", flush=True)


if __name__ == "__main__":
    main()
