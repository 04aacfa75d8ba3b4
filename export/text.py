"""Exporters for the text models (registered in export/kinds.py EXPORTERS). Each is gated like the others:
the artifact is written to a temp name, reloaded the way serving loads it, compared with the checkpoint,
and only then moved into place.

  bigram_table   bigram.json (vocab + counts), torch-free; gate: reloaded log-probabilities of every
                 held-out token and greedy generations equal the checkpoint's model
  lstm_step      model.onnx, one LSTM step (tokens, h, c -> logits, h, c) + vocab.json; gate: export/onnx.py's
                 parity check on random ids/states and on real states reached by reading held-out text
  spacy_vectors  pipeline/ (a spaCy pipeline directory, loaded with spacy.load) + embeddings.json; gate:
                 the reloaded table's rows and keys equal the source, and neighbours agree
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from export.onnx import export_with_gate
from genai_ops.checkpoint import atomic_write_json, build_from_checkpoint, load_checkpoint
from genai_ops.registry import ModelSpec, resolve
from genai_serve.text.bigram import BigramModel
from genai_serve.text.sampling import Decoding
from genai_serve.text.tokenize import SPECIALS, tokenize

GATE_PROMPTS = ("the", "once upon a time", "king", "hello", "zzzunknownzzz")


def _record(fmt: str, ckpt: dict, parity: dict, **more) -> dict:
    return {"format": fmt, "net": ckpt["config"], "metrics": ckpt["metrics"], "data": ckpt["data"], "parity": parity,
            **more}


def gate_texts(ckpt: dict) -> list[list[str]]:
    """Held-out texts of the corpus the checkpoint saw (the gate's real inputs)."""
    from genai_ops.registry import REPO_ROOT
    from training.text_data import read_texts, split

    path = ckpt["data"]["train"]["path"]
    full = Path(path) if Path(path).is_absolute() else REPO_ROOT / path
    return split(read_texts(full))[1][:50]


# -- bigram ---------------------------------------------------------------------------------------
def export_bigram_table(spec: ModelSpec, ckpt_path: Path, out_dir: Path) -> dict:
    from training.train_bigram import from_checkpoint

    ckpt = load_checkpoint(ckpt_path)
    model = from_checkpoint(ckpt)
    payload = json.dumps(model.to_json(), separators=(",", ":"))
    reloaded = BigramModel.from_json(json.loads(payload))
    held = gate_texts(ckpt)
    diffs = {"heldout_logprob": max((abs(model.logprob(p, w) - reloaded.logprob(p, w))
                                     for t in held for ids in [model.vocab.encode_text(t)]
                                     for p, w in zip(ids, ids[1:])), default=0.0)}
    same = all(model.generate(tokenize(p), 30, Decoding()) == reloaded.generate(tokenize(p), 30, Decoding())
               for p in GATE_PROMPTS)
    if diffs["heldout_logprob"] != 0.0 or not same:
        raise RuntimeError(f"{spec.name}: reloaded bigram table differs from the checkpoint ({diffs}, greedy same: {same})")
    atomic_write_json(out_dir / "bigram.json", json.loads(payload))
    return _record("bigram_table", ckpt, {"max_abs_diff": diffs, "tolerance": 0.0, "passed": True,
                                          "check": "reloaded JSON: held-out log-probs and greedy outputs equal"})


# -- LSTM -----------------------------------------------------------------------------------------
def export_lstm_step(spec: ModelSpec, ckpt_path: Path, out_dir: Path) -> dict:
    import torch

    from genai_serve.nets.lstm import LSTMStep

    net, ckpt = build_from_checkpoint(ckpt_path)
    hidden = net.hidden_size
    inputs = {"tokens": {"shape": [1], "dtype": "int64", "high": net.vocab_size},
              "h": {"shape": [1, hidden], "batch_axis": 1}, "c": {"shape": [1, hidden], "batch_axis": 1}}
    real = resolve(spec.export["real_inputs"])(ckpt)
    gate = export_with_gate(LSTMStep(net), inputs, out_dir / "model.onnx", real, output_names=("logits", "h_out", "c_out"))
    vocab = {"format": "genai-serve-vocab/1", "tokens": ckpt["extra"]["vocab"], "specials": list(SPECIALS),
             "hidden_size": hidden, "tokenizer": "genai_serve.text.tokenize.TOKEN_RE, lower-cased"}
    atomic_write_json(out_dir / "vocab.json", vocab)
    return _record("onnx", ckpt, gate, exporter=f"torch {torch.__version__} (dynamo), one LSTM step")


# -- word vectors -----------------------------------------------------------------------------------
def _source_pipeline(ckpt: dict):
    """The in-memory pipeline to export: our trained matrix, or the installed package's vectors."""
    import spacy

    from genai_serve.text.vectors import build_pipeline

    if ckpt["config"]["net"] == "spacy_vectors_package":
        src = spacy.load(ckpt["config"]["kwargs"]["spacy_model"])
        return spacy.blank(src.lang, vocab=src.vocab)  # vectors + strings only, no pipeline components
    return build_pipeline(ckpt["extra"]["words"], ckpt["state_dict"]["vectors"].numpy())


def export_spacy_vectors(spec: ModelSpec, ckpt_path: Path, out_dir: Path) -> dict:
    import spacy

    from genai_serve.text.vectors import WordVectors

    ckpt = load_checkpoint(ckpt_path)
    source = _source_pipeline(ckpt)
    target = out_dir / "pipeline"
    tmp = Path(tempfile.mkdtemp(dir=out_dir, prefix=".pipeline."))
    try:
        source.to_disk(tmp)
        loaded = spacy.load(tmp)
        a, b = source.vocab.vectors, loaded.vocab.vectors
        if dict(a.key2row) != dict(b.key2row) or a.shape != b.shape:
            raise RuntimeError(f"{spec.name}: reloaded vector keys or shape differ from the source")
        diffs = {"vectors": float(np.max(np.abs(np.asarray(a.data) - np.asarray(b.data)))) if a.shape[0] else 0.0}
        src_wv, new_wv = WordVectors(source), WordVectors(loaded)
        probe = list(range(min(a.shape[0], 20)))
        same = src_wv.neighbours(probe, [5] * len(probe), [False] * len(probe)) == \
            new_wv.neighbours(probe, [5] * len(probe), [False] * len(probe))
        if diffs["vectors"] != 0.0 or not same:
            raise RuntimeError(f"{spec.name}: reloaded pipeline differs ({diffs}, neighbours same: {same})")
        os.chmod(tmp, 0o755)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    atomic_write_json(out_dir / "embeddings.json", {
        "format": "genai-serve-embeddings/1", "pipeline": "pipeline", "source": ckpt["metrics"].get("source"),
        "rows": int(a.shape[0]), "dim": int(a.shape[1]), "keys": len(a.key2row), "spacy": spacy.__version__})
    return _record("spacy_vectors", ckpt, {"max_abs_diff": diffs, "tolerance": 0.0, "passed": True,
                                           "check": "spacy.load of the pipeline: same keys, rows and neighbours"},
                   exporter=f"spaCy {spacy.__version__} nlp.to_disk")
