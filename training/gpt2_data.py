"""QA examples for gpt2_qa: the bundled SQuAD-format set (offline default), any local SQuAD v1.1 JSON, or
SQuAD through `datasets` when a hub id is named explicitly (`--dataset rajpurkar/squad`).

An example is {"id", "question", "context", "answer"} (the first gold answer). The offline default never
touches the network; a hub id is the only thing that does.
"""
from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SQUAD_MINI = REPO / "data" / "squad_mini"
CORPUS = REPO / "data" / "corpus" / "stories.txt"


def read_squad_json(path: Path) -> list[dict]:
    """SQuAD v1.1 layout: data[].paragraphs[].{context, qas[].{id, question, answers[].text}}."""
    doc = json.loads(Path(path).read_text())
    out = []
    for article in doc["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                if qa.get("answers"):
                    out.append({"id": qa["id"], "question": qa["question"], "context": para["context"],
                                "answer": qa["answers"][0]["text"]})
    return out


def load_examples(dataset: str | None, split: str, limit: int | None = None) -> tuple[list[dict], dict]:
    """(examples, provenance) for split "train" or "dev". dataset: None (bundled set), a directory holding
    train.json/dev.json, or a hub id (SQuAD's "validation" split stands for dev)."""
    if dataset is None or Path(dataset).is_dir():
        root = Path(dataset) if dataset else SQUAD_MINI
        examples = read_squad_json(root / f"{split}.json")
        source = {"source": str(root.relative_to(REPO)) if root.is_relative_to(REPO) else str(root),
                  "kind": "SQuAD-format JSON written for this project" if dataset is None else "local SQuAD-format JSON"}
    else:
        from datasets import load_dataset

        rows = load_dataset(dataset, split="train" if split == "train" else "validation")
        if limit:
            rows = rows.select(range(min(limit, len(rows))))
        examples = [{"id": r["id"], "question": r["question"], "context": r["context"],
                     "answer": r["answers"]["text"][0]} for r in rows]
        source = {"source": dataset, "kind": "datasets hub"}
    examples = examples[:limit] if limit else examples
    return examples, {**source, "split": split, "examples": len(examples)}


def corpus_texts(path: Path = CORPUS) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
