"""The text corpus for bigram, LSTM and embeddings: load, tokenise, and split the same way for every model.

Default corpus: data/corpus/stories.txt, written for this project by training/corpus_gen.py (one text a
line). The held-out split is every 10th text (deterministic, no shuffling), so the bigram's and the LSTM's
perplexities are measured on exactly the same tokens. `--corpus FILE` trains on any UTF-8 text file
with one text (sentence, paragraph or story) per line. The seeds' own corpora are in data/fixtures/.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from genai_ops.registry import REPO_ROOT, sha256_file
from genai_serve.text.tokenize import tokenize

DEFAULT_CORPUS = REPO_ROOT / "data" / "corpus" / "stories.txt"
FIXTURES = REPO_ROOT / "data" / "fixtures"
HELDOUT_EVERY = 10  # texts 9, 19, 29, ... are held out
# Bigram and LSTM share one vocabulary rule: words seen once in the training split become <unk>, so <unk>
# has real contexts to learn from (an unknown start word then behaves like a rare word).
MIN_FREQ = 2
SOURCE = "genai-serve story corpus (generated for this project by training/corpus_gen.py; see data/README.md)"


def read_texts(path: Path | str = DEFAULT_CORPUS) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus {path} not found (one text a line, UTF-8)")
    texts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise ValueError(f"corpus {path} has no text")
    return texts


def fixture(name: str) -> list[str]:
    """A seed's own corpus, e.g. fixture("seed1_bigram") -> seed 1's four strings."""
    return read_texts(FIXTURES / f"{name}.txt")


def split(texts: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """(train, held-out) tokenised texts; a corpus too small to hold any text out trains on everything
    and is measured on everything (the seed fixtures)."""
    toks = [tokenize(t) for t in texts]
    held = [t for i, t in enumerate(toks) if i % HELDOUT_EVERY == HELDOUT_EVERY - 1]
    train = [t for i, t in enumerate(toks) if i % HELDOUT_EVERY != HELDOUT_EVERY - 1]
    return (train, held) if held else (toks, toks)


def corpus_info(path: Path | str, train: list[list[str]], held: list[list[str]]) -> dict:
    path = Path(path).resolve()
    default = path == DEFAULT_CORPUS.resolve()
    return {
        "source": SOURCE if default else f"user corpus {path}",
        "path": str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path),
        "sha256": sha256_file(path),
        "real": True,
        "split": f"every {HELDOUT_EVERY}th text held out (texts {HELDOUT_EVERY - 1}, {2 * HELDOUT_EVERY - 1}, ...)",
        "train": {"texts": len(train), "tokens": sum(map(len, train))},
        "heldout": {"texts": len(held), "tokens": sum(map(len, held))},
    }


def text_trainer_parser(description: str, out: str) -> argparse.ArgumentParser:
    """Flags every text trainer takes. training/run.py passes --data-dir/--download to every trainer when a
    user asks for torchvision data; text trainers accept them and say they ignore them (--corpus is theirs)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default=out, help="checkpoint path (written atomically)")
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="UTF-8 text file, one text a line")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimiser steps (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (the machine has 2 cores)")
    p.add_argument("--data-dir", default=None, help="ignored (torchvision datasets); use --corpus")
    p.add_argument("--download", action="store_true", help="ignored (the corpus ships with the repo)")
    return p


def note_ignored(args) -> None:
    if args.data_dir or args.download:
        print("note: --data-dir/--download are for the image datasets; text models read --corpus")
