"""The project's own SQuAD-format question-answering set, written from the story world of the corpus.

No dataset host is reachable here, so `gpt2_qa` ships a small extractive QA set the project generates
itself (data/README.md). Each context is a short paragraph about one character (name, role, home, place
name, landmark, animal and its name, favourite food, colour, object); each question asks for one of those
facts, and the answer is a span of the context (SQuAD v1.1 layout: `answer_start` is a character offset).
Questions ask about different facts of the same paragraph, so a model must read the context to answer:
the same question shape has a different answer in every paragraph.

    python -m training.squad_gen            # rewrites data/squad_mini/{train,dev}.json (deterministic)
    python -m training.squad_gen --check    # exit 1 unless the committed files are what we generate
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from training import corpus_lexicon as L
from training.corpus_gen import Character, a

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "data" / "squad_mini"
DEFAULT_SEED = 7
SPLITS = {"train": 110, "dev": 24}  # paragraphs; about 3 questions each -> ~330 train / ~70 held-out


def paragraph(rng: random.Random) -> tuple[str, list[tuple[str, str]]]:
    """(context, [(question, answer span)]). Every answer occurs in the context exactly where we put it."""
    c = Character(rng)
    food, color, obj = rng.choice(L.FOODS), rng.choice(L.COLORS), rng.choice(L.OBJECTS)
    season = rng.choice(L.SEASONS)
    sentences = [
        f"{c.name} was {a(c.adj)} {c.role} who lived in the {c.home} of {c.place_name}, near the {c.landmark}.",
        f"{c.he.capitalize()} had {a(c.animal)} named {c.pet}.",
        f"Every {season} {c.name} made {food} for the whole {c.home}.",
        f"{c.his.capitalize()} favourite colour was {color}, and {c.he} always carried {a(obj)}.",
    ]
    rng.shuffle(sentences[1:])  # the first sentence introduces the name; the rest in any order
    qa = [
        (f"Where did {c.name} live?", f"the {c.home} of {c.place_name}"),
        (f"What was the name of {c.name}'s {c.animal}?", c.pet),
        (f"What kind of animal did {c.name} have?", c.animal),
        (f"What did {c.name} make every {season}?", food),
        (f"What was {c.name}'s favourite colour?", color),
        (f"What did {c.name} always carry?", a(obj)),
        (f"Who was the {c.role} of {c.place_name}?", c.name),
        (f"What was {c.name}'s home near?", f"the {c.landmark}"),
    ]
    return " ".join(sentences), rng.sample(qa, 3)


def build(seed: int = DEFAULT_SEED) -> dict[str, dict]:
    """{split: SQuAD v1.1-format dict}. One title per paragraph; ids are split-scoped and stable."""
    rng = random.Random(seed)
    out = {}
    for split, n in SPLITS.items():
        data = []
        for p in range(n):
            context, qas = paragraph(rng)
            items = []
            for q, (question, answer) in enumerate(qas):
                start = context.find(answer)
                assert start >= 0, (answer, context)
                items.append({"id": f"{split}-{p}-{q}", "question": question,
                              "answers": [{"text": answer, "answer_start": start}]})
            data.append({"title": f"{split}-{p}", "paragraphs": [{"context": context, "qas": items}]})
        out[split] = {"version": "squad_mini-1.0", "data": data}
    return out


def render(doc: dict) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--check", action="store_true", help="exit 1 unless the files on disk are what we generate")
    args = parser.parse_args(argv)
    docs = build(args.seed)
    if args.check:
        stale = [s for s, d in docs.items() if not (args.out_dir / f"{s}.json").exists()
                 or (args.out_dir / f"{s}.json").read_text() != render(d)]
        if stale:
            sys.exit(f"{args.out_dir}: {stale} differ from the generator; run python -m training.squad_gen")
        return
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for split, doc in docs.items():
        (args.out_dir / f"{split}.json").write_text(render(doc))
        print(f"{split}: {sum(len(p['qas']) for d in doc['data'] for p in d['paragraphs'])} questions")


if __name__ == "__main__":
    main()
