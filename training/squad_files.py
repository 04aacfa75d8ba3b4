"""SQuAD v1.1 files as the offline QA generators write them (training/squad_gen.py, training/reading_gen.py): one
document per split, one paragraph per title, every answer a span at its `answer_start`, and the generator's version
and seed, so a set written by another version or seed is rewritten."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def paragraph_entry(split: str, p: int, context: str, qas: list[tuple[str, str]]) -> dict:
    """One titled paragraph with its (question, answer) pairs; each answer is found in the context."""
    items = [{"id": f"{split}-{p}-{q}", "question": question,
              "answers": [{"text": answer, "answer_start": context.find(answer)}]}
             for q, (question, answer) in enumerate(qas)]
    return {"title": f"{split}-{p}", "paragraphs": [{"context": context, "qas": items}]}


def document(version: str, seed: int, data: list[dict]) -> dict:
    return {"version": version, "seed": seed, "data": data}


def ensure(out_dir: Path, generator) -> Path:
    """The generator module's sets (its build, SPLITS, VERSION, DEFAULT_SEED) in out_dir, written if missing or stale."""
    if not is_current(out_dir, generator, generator.DEFAULT_SEED):
        write(out_dir, generator.build(generator.DEFAULT_SEED))
    return out_dir


def write(out_dir: Path, docs: dict[str, dict]) -> dict[str, int]:
    """Writes <split>.json for each document; returns questions per split."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, doc in docs.items():
        (out_dir / f"{split}.json").write_text(json.dumps(doc, ensure_ascii=False) + "\n")
        counts[split] = sum(len(p["qas"]) for d in doc["data"] for p in d["paragraphs"])
    return counts


def is_current(out_dir: Path, generator, seed: int) -> bool:
    """The directory holds what the generator writes (version and seed), so it need not be rewritten."""
    try:
        docs = [json.loads((out_dir / f"{s}.json").read_text()) for s in generator.SPLITS]
    except (OSError, ValueError):
        return False
    return all(d.get("version") == generator.VERSION and d.get("seed") == seed for d in docs)


def cli(generator, argv=None) -> None:
    """A generator module's command line: --out-dir, --seed."""
    parser = argparse.ArgumentParser(description=generator.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=generator.DEFAULT_SEED)
    args = parser.parse_args(argv)
    for split, n in write(args.out_dir, generator.build(args.seed)).items():
        print(f"{split}: {n} questions -> {args.out_dir / f'{split}.json'}")
