"""Which held-out axis a gpt2_qa version fails on: sentence shapes, question phrasings or names.

The template-disjoint set holds all three out at once, so its one figure cannot say which costs the model. This
writes reading_gen paragraphs with one axis held out at a time (training/reading_gen.py: the `dev` split's shapes,
phrasings or name pools, the `train` split's for the rest) and scores them greedy, then breaks the two larger axes
down per held-out phrasing and per held-out shape. A cell near 0 is a construction the model never met in any
form; cells spread evenly would mean reading in general is the weak part.

    python -m training.gpt2_axes checkpoints/gpt2_qa/2.0 [--n 200] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import random
import re
from collections import defaultdict
from pathlib import Path

from training import reading_gen
from training.gpt2_eval import contained, generate
from genai_serve.gpt2.template import extract_answer

# name: (sentence shapes from, question phrasings from, names from)
AXES = {"nothing held out": ("train", "train", "train"), "names": ("train", "train", "dev"),
        "shapes": ("dev", "train", "train"), "phrasings": ("train", "dev", "train"),
        "all three (as template_disjoint)": ("dev", "dev", "dev")}


def examples(shapes: str, phrasings: str, names_from: str, n: int) -> list[dict]:
    rng = random.Random(f"axes-{shapes}-{phrasings}-{names_from}")
    names = reading_gen.Names(rng, names_from)
    out: list[dict] = []
    while len(out) < n:
        text, qas = reading_gen.paragraph(rng, names, shapes, questions_from=phrasings)
        out += [{"context": text, "question": q, "answer": a} for q, a in qas]
    return out[:n]


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def template_pattern(template: str) -> re.Pattern:
    """A shape or phrasing with its {FIELDS} as wildcards, anchored; matched against lower_first(text) (reading_gen
    capitalises what a field starts)."""
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", ".+", re.escape(lower_first(template))) + "$")


def held_out(kind: str) -> dict[str, re.Pattern]:
    """{"relation: template": pattern} for reading_gen's held-out shapes or phrasings."""
    out = {}
    for rel, spec in reading_gen.RELATIONS.items():
        for item in reading_gen.usable(spec[kind], kind, "dev"):
            template = item[0] if kind == "questions" else item
            out[f"{rel}: {template}"] = template_pattern(template)
    return out


def cell_of(example: dict, kind: str, patterns: dict[str, re.Pattern]) -> str | None:
    """The held-out template an example exercises: its question's phrasing, or the shape of the sentence its answer
    is in."""
    if kind == "questions":
        texts = [example["question"]]
    else:
        texts = [s for s in re.split(r"(?<=\.) ", example["context"]) if example["answer"] in s]
    return next((name for t in texts for name, p in patterns.items() if p.match(lower_first(t))), None)


def score(model, tok, rows: list[dict]) -> list[float]:
    texts, _ = generate(model, tok, rows, temperature=0.0)
    return [contained(extract_answer(t), e["answer"]) for t, e in zip(texts, rows)]


def breakdown(model, tok, n: int) -> dict:
    report: dict = {"axes": {}, "per_phrasing": {}, "per_shape": {}}
    for axis, (shapes, phrasings, names_from) in AXES.items():
        rows = examples(shapes, phrasings, names_from, n)
        hits = score(model, tok, rows)
        report["axes"][axis] = {"contained": round(sum(hits) / len(hits), 3), "n": len(hits)}
        if axis in ("phrasings", "shapes"):
            kind = "questions" if axis == "phrasings" else "shapes"
            patterns, cells = held_out(kind), defaultdict(list)
            for example, hit in zip(rows, hits):
                cells[cell_of(example, kind, patterns) or "(a training template)"].append(hit)
            report["per_phrasing" if kind == "questions" else "per_shape"] = {
                name: {"contained": round(sum(v) / len(v), 2), "n": len(v)}
                for name, v in sorted(cells.items(), key=lambda kv: sum(kv[1]) / len(kv[1]))}
    return report


def main(argv=None) -> None:
    import torch

    from training.gpt2_base import load_pretrained

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="an HF directory (e.g. checkpoints/gpt2_qa/2.0)")
    parser.add_argument("--n", type=int, default=200, help="questions per axis")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write the report here as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, tok = load_pretrained(str(args.model))
    report = breakdown(model, tok, args.n)
    for section, cells in report.items():
        print(f"== {section}")
        for name, r in cells.items():
            print(f"  {r['contained']:.3f}  n={r['n']:<4d} {name}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
