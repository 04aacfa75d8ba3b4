"""Word vectors for the `embeddings` model: a spaCy vectors package when one is installed, else our own.

--source auto (default): use --spacy-model (default en_core_web_md) if spaCy can load it, else train on
the corpus. --source spacy insists on the package (error if missing); --source corpus always trains.
--spacy-model also takes a path to any spaCy pipeline directory with vectors.

Our own vectors (Levy, Goldberg & Dagan 2015, "Improving distributional similarity..."):
  1. words: alphabetic tokens seen >= --min-count times in the whole corpus (vectors need no held-out
     split; there is no perplexity to measure);
  2. co-occurrence counts within each text, window --window, weighted 1/distance;
  3. positive PMI with context-distribution smoothing (context counts ** 0.75);
  4. truncated SVD to --dim dimensions, vectors = U * sqrt(S) (symmetric weighting).
The checkpoint holds the words and the matrix; `export` writes the spaCy pipeline that serving loads
with spacy.load. With a package, the checkpoint records only its name and version; export copies its
vectors into the pipeline.

    python -m training.train_embeddings --out checkpoints/embeddings/model.pt [--source corpus]
"""
from __future__ import annotations

import re
import time
from collections import Counter

import numpy as np
import torch

from genai_ops.checkpoint import save_checkpoint
from genai_serve.text.tokenize import tokenize
from training.text_data import corpus_info, note_ignored, read_texts, split, text_trainer_parser

WORD_RE = re.compile(r"[^\W\d_]+")  # letters only: no punctuation or numbers in the table
PROBES = ("king", "dog", "bread", "red", "hello")


def parse_args(argv=None):
    p = text_trainer_parser(__doc__.splitlines()[0], out="checkpoints/embeddings/model.pt")
    p.add_argument("--source", choices=["auto", "corpus", "spacy"], default="auto")
    p.add_argument("--spacy-model", default="en_core_web_md", help="package name or pipeline directory")
    p.add_argument("--dim", type=int, default=50)  # 50 gave cleaner neighbours than 100 here (window 1, 2, 4 tried)
    p.add_argument("--window", type=int, default=4)
    p.add_argument("--min-count", type=int, default=2)
    return p.parse_args(argv)


def cooccurrence(texts: list[list[str]], index: dict[str, int], window: int) -> np.ndarray:
    """Symmetric (V, V) counts, each pair within `window` words of one text weighted 1/distance."""
    v = len(index)
    counts = np.zeros((v, v), np.float64)
    for toks in texts:
        ids = np.array([index[t] for t in toks if t in index], dtype=np.int64)
        for d in range(1, window + 1):
            if len(ids) > d:
                np.add.at(counts, (ids[:-d], ids[d:]), 1.0 / d)
    return counts + counts.T


def ppmi(counts: np.ndarray, cds: float = 0.75) -> np.ndarray:
    total = counts.sum()
    if total == 0:
        return counts
    p_wc = counts / total
    p_w = counts.sum(axis=1, keepdims=True) / total
    ctx = counts.sum(axis=0) ** cds
    p_c = (ctx / ctx.sum())[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(p_wc / (p_w * p_c))
    return np.where(np.isfinite(pmi) & (pmi > 0), pmi, 0.0)


def svd_vectors(m: np.ndarray, dim: int, seed: int) -> np.ndarray:
    from sklearn.utils.extmath import randomized_svd

    dim = max(1, min(dim, m.shape[0] - 1))
    u, s, _ = randomized_svd(m, n_components=dim, random_state=seed)
    return (u * np.sqrt(s)).astype(np.float32)


def nearest(words: list[str], matrix: np.ndarray, probe: str, k: int = 5) -> list[str]:
    if probe not in words:
        return []
    unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    i = words.index(probe)
    order = np.argsort(-(unit @ unit[i]), kind="stable")
    return [words[j] for j in order if j != i][:k]


def spacy_available(name: str) -> bool:
    import spacy

    try:
        spacy.load(name, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner", "senter"])
        return True
    except OSError:  # E050: can't find model
        return False


def main(argv=None) -> dict:
    args = parse_args(argv)
    note_ignored(args)
    use_package = args.source == "spacy" or (args.source == "auto" and spacy_available(args.spacy_model))
    if use_package:
        return from_package(args)
    t0 = time.perf_counter()
    raw = read_texts(args.corpus)
    texts = [tokenize(t) for t in raw]  # every text: vectors have no held-out metric to protect
    train, held = split(raw)  # only for the data record, which names the same split as the other models
    counts = Counter(t for toks in texts for t in toks if WORD_RE.fullmatch(t))
    words = [w for w, c in counts.most_common() if c >= args.min_count]
    index = {w: i for i, w in enumerate(words)}
    matrix = svd_vectors(ppmi(cooccurrence(texts, index, args.window)), args.dim, args.seed)
    seconds = time.perf_counter() - t0
    metrics = {"source": "corpus (PPMI + SVD)", "words": len(words), "dim": int(matrix.shape[1]),
               "train_seconds": round(seconds, 2),
               "probe_neighbours": {p: nearest(words, matrix, p) for p in PROBES}}
    kwargs = {"dim": int(matrix.shape[1]), "window": args.window, "min_count": args.min_count, "cds": 0.75}
    save_checkpoint(args.out, net="ppmi_svd_vectors", kwargs=kwargs, state_dict={"vectors": torch.from_numpy(matrix)},
                    metrics=metrics, data={"train": corpus_info(args.corpus, train, held)}, extra={"words": words})
    print(f"embeddings: {len(words)} words x {matrix.shape[1]} dims from the corpus in {seconds:.1f}s -> {args.out}")
    for p, near in metrics["probe_neighbours"].items():
        print(f"  {p}: {', '.join(near)}")
    return metrics


def from_package(args) -> dict:
    import spacy

    if not spacy_available(args.spacy_model):
        raise SystemExit(f"--source spacy: spaCy cannot load {args.spacy_model!r}; install it or use --source corpus")
    nlp = spacy.load(args.spacy_model, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner", "senter"])
    meta = {"name": nlp.meta.get("name"), "version": nlp.meta.get("version"), "lang": nlp.lang}
    rows, dim = nlp.vocab.vectors.shape
    metrics = {"source": f"spaCy package {args.spacy_model}", "words": len(nlp.vocab.vectors.key2row), "rows": rows, "dim": dim}
    save_checkpoint(args.out, net="spacy_vectors_package", kwargs={"spacy_model": args.spacy_model}, state_dict={},
                    metrics=metrics, data={"train": {"source": f"spaCy package {args.spacy_model}", "meta": meta,
                                                     "real": True}})
    print(f"embeddings: using {args.spacy_model} ({rows} vectors x {dim}) -> {args.out}")
    return metrics


if __name__ == "__main__":
    main()
