"""Does a grammar make the RL format step redundant? The strict answer format (genai_serve/gpt2/grammar.py) against
free sampling, on the held-out questions, per exported version (python -m loadtests.grammar_eval ARTIFACTS_ROOT).

For each version directory under ARTIFACTS_ROOT (1.0, 2.0, 2.1: model.onnx + tokenizer/ + generation.json, as
export writes them), each decoding (greedy; sampled at temperature 0.7, 1.0 and 1.3, top_p 1, no top-k) and each
format (free: unconstrained; strict: prefix, answer and suffix under the grammar mask), the held-out set's
questions are answered by the serving loop (genai_serve/gpt2/decode.py) and scored by training/gpt2_eval.py's
`scores` (format compliance, exact match, F1), which this script uses as it is. Writes the table to stdout and, with
--out, as JSON.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from genai_serve.gpt2.decode import Row, generate
from genai_serve.gpt2.grammar import Grammars
from genai_serve.gpt2.onnx_step import OnnxDecoder
from genai_serve.gpt2.template import prompt
from genai_serve.gpt2.tokenizer import Tokenizer
from genai_serve.runtime import make_session

DECODINGS = {"greedy": 0.0, "T=0.7": 0.7, "T=1.0": 1.0, "T=1.3": 1.3}
MAX_NEW = 48  # training/gpt2_eval.py's EVAL_SETTINGS


def answer(version_dir: Path, examples: list[dict], temperature: float, strict: bool, threads: int,
           batch: int = 16) -> tuple[list[str], list[int]]:
    tok = Tokenizer(version_dir / "tokenizer")
    eos = json.loads((version_dir / "generation.json").read_text()).get("eos_token_id", 0)
    decoder = OnnxDecoder(make_session(version_dir / "model.onnx", threads=threads))
    grammars = Grammars.from_tokenizer(tok, tok.fast.get_vocab_size(), eos) if strict else None
    texts, lengths = [], []
    for i in range(0, len(examples), batch):
        rows = [Row(tok.encode(prompt(e["question"], e["context"])), MAX_NEW, temperature, None, 1.0,
                    np.random.default_rng(i + j), grammar=grammars.strict() if strict else None)
                for j, e in enumerate(examples[i:i + batch])]
        for row in generate(decoder, rows, eos=eos):
            texts.append(tok.decode(row.tokens))
            lengths.append(len(row.tokens))
    return texts, lengths


def main(argv=None) -> None:
    from training.gpt2_data import held_out_sets
    from training.gpt2_eval import scores

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="artifacts/gpt2_qa (holding 1.0/, 2.0/, 2.1/)")
    parser.add_argument("--versions", nargs="*", default=["1.0", "2.0", "2.1"])
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    name, (examples, source) = next(iter(held_out_sets(None, args.limit).items()))
    results = {"set": name, "source": source, "max_new_tokens": MAX_NEW, "rows": []}
    print(f"held-out set {name} ({len(examples)} questions, {source.get('source')}), {MAX_NEW} new tokens at most")
    print("| version | decoding | free: format | free: EM | free: F1 | strict: format | strict: EM | strict: F1 |")
    print("|---|---|---|---|---|---|---|---|")
    for version in args.versions:
        for label, temperature in DECODINGS.items():
            row = {"version": version, "decoding": label}
            for fmt in ("free", "strict"):
                started = time.perf_counter()
                texts, lengths = answer(args.root / version, examples, temperature, fmt == "strict", args.threads)
                row[fmt] = {**scores(texts, examples, lengths), "seconds": round(time.perf_counter() - started, 1)}
            results["rows"].append(row)
            f, s = row["free"], row["strict"]
            print(f"| {version} | {label} | {f['format_compliance']:.2f} | {f['exact_match']:.3f} | {f['f1']:.3f} | "
                  f"{s['format_compliance']:.2f} | {s['exact_match']:.3f} | {s['f1']:.3f} |", flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
