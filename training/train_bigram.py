"""Fit seed 1's Laplace-smoothed bigram model (SEEDS.md 1.5) on the corpus's training split.

Counting is exact and takes a second, so there are no steps: --max-steps is accepted (training/run.py
passes it to every trainer) and ignored. The checkpoint (a genai-serve checkpoint, torch format) holds the
vocabulary and the counts; `export` turns it into a torch-free bigram.json for the pure-Python handler.

    python -m training.train_bigram --out checkpoints/bigram/model.pt [--corpus FILE] [--min-freq 2]
"""
from __future__ import annotations

import time

import torch

from genai_ops.checkpoint import save_checkpoint
from genai_serve.text.bigram import BigramModel
from genai_serve.text.sampling import Decoding
from genai_serve.text.tokenize import detokenize
from training.text_data import MIN_FREQ, corpus_info, note_ignored, read_texts, split, text_trainer_parser



def parse_args(argv=None):
    p = text_trainer_parser(__doc__.splitlines()[0], out="checkpoints/bigram/model.pt")
    p.add_argument("--min-freq", type=int, default=MIN_FREQ, help="rarer words become <unk> (seed 1: 1)")
    p.add_argument("--alpha", type=float, default=1.0, help="add-alpha smoothing (1 = Laplace, seed 1)")
    return p.parse_args(argv)


def to_checkpoint(model: BigramModel) -> dict:
    """Counts as three int64 tensors (prev, next, count): weights_only-loadable, compact."""
    rows = [(p, w, c) for p, row in model.counts.items() for w, c in row.items()]
    t = torch.tensor(sorted(rows), dtype=torch.int64).reshape(-1, 3)
    return {"prev": t[:, 0].clone(), "next": t[:, 1].clone(), "count": t[:, 2].clone()}


def from_checkpoint(ckpt: dict) -> BigramModel:
    from genai_serve.text.tokenize import Vocab

    sd = ckpt["state_dict"]
    counts: dict[int, dict[int, int]] = {}
    for p, w, c in zip(sd["prev"].tolist(), sd["next"].tolist(), sd["count"].tolist()):
        counts.setdefault(p, {})[w] = c
    return BigramModel(Vocab(ckpt["extra"]["vocab"]), counts, ckpt["config"]["kwargs"]["alpha"])


def main(argv=None) -> dict:
    args = parse_args(argv)
    note_ignored(args)
    t0 = time.perf_counter()
    train, held = split(read_texts(args.corpus))
    model = BigramModel.fit(train, min_freq=args.min_freq, alpha=args.alpha)
    seconds = time.perf_counter() - t0
    metrics = {
        "heldout_perplexity": round(model.perplexity(held), 3),
        "train_perplexity": round(model.perplexity(train), 3),
        "vocab_size": len(model.vocab),
        "bigram_types": sum(len(r) for r in model.counts.values()),
        "min_freq": args.min_freq,
        "alpha": args.alpha,
        "train_seconds": round(seconds, 2),
        "sample_greedy": detokenize(model.generate(["the"], 20, Decoding())),
    }
    save_checkpoint(args.out, net="bigram_counts", kwargs={"alpha": args.alpha, "min_freq": args.min_freq},
                    state_dict=to_checkpoint(model), metrics=metrics,
                    data={"train": corpus_info(args.corpus, train, held)}, extra={"vocab": model.vocab.tokens})
    print(f"bigram: heldout_perplexity={metrics['heldout_perplexity']} vocab={metrics['vocab_size']} "
          f"train_seconds={seconds:.1f} -> {args.out}")
    return metrics


if __name__ == "__main__":
    main()
