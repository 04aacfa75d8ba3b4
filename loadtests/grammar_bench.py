"""What constrained decoding costs, and what priority buys, at GPT-2's 124M shape (python -m loadtests.grammar_bench).

The shape is `make bench-gpt2`'s: GPT2Config() defaults (12 layers, 768 wide, 50257 tokens) with random weights,
exported to ONNX by optimum as the project's export does, decoded by the serving loop (genai_serve/gpt2/decode.py).
The grammar engine needs a tokenizer of that vocabulary and no hub is reachable here, so a byte-level BPE of
50257 tokens is trained on data/corpus/stories.txt plus generated words (GPT-2's own merges differ; the mask's
cost depends on the vocabulary's size and byte-level shape, which are the same).

1. Grammar cost: a 32-token prompt, 64 new tokens per row, greedy, batch 1 and 8, for no grammar, the strict QA
   format (grammar.STRICT_REGEX) and a small JSON schema (SCHEMA). Every row runs all 64 tokens: a row whose
   grammar completes starts it again (the matcher is reset), so each step does the same network work with and
   without masks. Rounds alternate between the three so machine drift hits each; medians.
2. Priority: a Scheduler with the gpt2 engine and step_rows 8 runs 8 low-priority rows (priority 0, 64 tokens
   each, streaming); a ninth request of 1 row arrives after 4 steps, with priority 1 or with priority 0; its time
   to first token (submit to its first streamed event) is measured, alternating, medians.

Everything here is genai_serve, numpy and the standard library, except building the random 124M graph (torch,
transformers and optimum, inside `build`, as `make bench-gpt2` does). Writes the `bench:gpt2-grammar` section of
docs/BENCHMARKS.md with --write. `--smoke` runs a tiny shape once and writes nothing.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from genai_serve.engines.gpt2 import Gpt2Engine
from genai_serve.gpt2.decode import Row, generate
from genai_serve.gpt2.grammar import Constraint, Grammars
from genai_serve.gpt2.onnx_step import OnnxDecoder
from genai_serve.gpt2.service import Job
from genai_serve.runtime import make_session
from genai_serve.scheduler import Scheduler

REPO = Path(__file__).resolve().parents[1]
PROMPT, NEW = 32, 64
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                                           "tags": {"type": "array", "items": {"type": "string"}}},
          "required": ["name", "age", "tags"], "additionalProperties": False}
SMOKE = {"n_layer": 2, "n_head": 2, "n_embd": 32, "n_positions": 128}
SECTION = "gpt2-grammar"


def build(tmp: Path, shape: dict | None, vocab: int = 50257):
    """(decoder graph path, tokenizer json text): the random-weight GPT-2 (GPT2Config() unless `shape`) exported
    as the project exports gpt2_qa, and a byte-level BPE tokenizer of `vocab` tokens (id 0 = <|endoftext|>)."""
    import torch
    from optimum.exporters.onnx import main_export
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(60000)]
    texts = (REPO / "data" / "corpus" / "stories.txt").read_text().splitlines()
    texts += [" ".join(words[i:i + 20]) for i in range(0, len(words), 20)] * 3
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    torch.manual_seed(0)
    config = GPT2Config(**{**(shape or {}), "vocab_size": tok.get_vocab_size(), "bos_token_id": 0, "eos_token_id": 0})
    GPT2LMHeadModel(config).eval().save_pretrained(tmp / "hf")
    main_export(str(tmp / "hf"), output=str(tmp / "onnx"), task="text-generation-with-past", device="cpu")
    return tmp / "onnx" / "model.onnx", tok.to_str(), tok


class Again(Constraint):
    """The bench's constraint: when its grammar completes it starts again, so the row runs its whole budget. It
    also adds the time its mask and its advance take to Again.spent (the grammar's own share of a run, which a
    shared machine's noise does not blur the way it blurs two throughputs)."""
    spent = 0.0

    def allowed(self, remaining):
        t = time.perf_counter()
        try:
            return super().allowed(remaining)
        finally:
            Again.spent += time.perf_counter() - t

    def accept(self, token):
        t = time.perf_counter()
        super().accept(token)
        Again.spent += time.perf_counter() - t

    @property
    def complete(self) -> bool:
        if self.matcher.is_accepting() or self.matcher.is_stopped():
            self.matcher.reset()
            self.forced = []
        return False


def again(c: Constraint) -> Again:
    return Again(c.matcher, c.vocab, c.endings, c.eos)


def grammar_cost(decoder, grammars: Grammars, prompts: np.ndarray, rounds: int, new: int) -> dict:
    kinds = {"none": lambda: None, "qa": lambda: again(grammars.strict()),
             "json": lambda: again(grammars.json_schema(SCHEMA))}
    out = {}
    for bs in (1, 8):
        def run(kind):
            rows = [Row(list(p), new, grammar=kinds[kind]()) for p in prompts[:bs]]
            generate(decoder, rows, eos=-1)
            assert all(len(r.tokens) == new for r in rows)
        times = {k: [] for k in kinds}
        shares = {k: [] for k in kinds}
        for k in kinds:
            run(k)  # warm-up (and the grammar's one compilation)
        for _ in range(rounds):
            for k in kinds:
                Again.spent = 0.0
                t = time.perf_counter()
                run(k)
                times[k].append(time.perf_counter() - t)
                shares[k].append(Again.spent / times[k][-1])
        out[bs] = {k: bs * new / statistics.median(v) for k, v in times.items()}
        out[bs]["share"] = {k: statistics.median(v) * 100 for k, v in shares.items()}
    return out


def priority_ttft(decoder, eos: int, prompts: np.ndarray, rounds: int, new: int) -> dict:
    """Median time to first token of a 1-row request arriving at a full batch of 8 low-priority rows."""
    def job(prompt, priority, tokens):
        return Job("text", "", list(prompt), tokens, 1, 0, 0.0, 1.0, None, False, True, priority=priority)

    result = {}
    for priority in (1, 0):
        result[priority] = []
    for _ in range(rounds):
        for priority in (1, 0):
            engine = Gpt2Engine(decoder, _NoText(), eos, lambda job, rows: {"done": True})
            sched = Scheduler(engine, 1e12, 0.0, step_rows=8)
            for i in range(8):
                sched.submit(f"low{i}", job(prompts[i], 0, new))
            for _ in range(4):
                sched.run_slice()
                for i in range(8):
                    sched.take(f"low{i}")
            t = time.perf_counter()
            sched.submit("new", job(prompts[0], priority, new))
            while True:
                sched.run_slice()
                reply = sched.take("new")
                if reply.events or reply.done:
                    break
            result[priority].append(time.perf_counter() - t)
    return {p: statistics.median(v) * 1000 for p, v in result.items()}


class _NoText:
    def decode(self, ids):
        return "x" * len(ids)  # one character per token: every step streams an event


def bench(rounds: int, threads: int, shape: dict | None = None, new: int = NEW) -> dict:
    with tempfile.TemporaryDirectory(prefix="grammar-bench-") as tmp:
        started = time.perf_counter()
        graph, tok_json, tok = build(Path(tmp), shape)
        decoder = OnnxDecoder(make_session(graph, threads))
        vocab = tok.get_vocab_size()
        t = time.perf_counter()
        grammars = Grammars(tok_json, vocab, 0, lambda s: tok.encode(s).ids)
        tokenizer_s = time.perf_counter() - t
        t = time.perf_counter()
        grammars.json_schema(SCHEMA)
        compile_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        grammars.json_schema(SCHEMA)
        cached_ms = (time.perf_counter() - t) * 1000
        prompts = np.random.default_rng(0).integers(1, vocab - 1, (8, PROMPT))
        return {"vocab": vocab, "shape": shape, "new": new, "build_s": time.perf_counter() - started,
                "tokenizer_s": tokenizer_s, "compile_ms": compile_ms, "cached_ms": cached_ms,
                "cost": grammar_cost(decoder, grammars, prompts, rounds, new),
                "ttft_ms": priority_ttft(decoder, 0, prompts, rounds, new)}


def render(r: dict, rounds: int, threads: int, load: float) -> str:
    c, what = r["cost"], ("SMOKE RUN at a tiny shape, not a measurement" if r["shape"] else "124M shape")
    cost = lambda bs, k: (1 - c[bs][k] / c[bs]["none"]) * 100
    return "\n".join([
        f"GPT-2 {what} (random weights, {r['vocab']}-token byte-level BPE trained here), {PROMPT}-token prompt, "
        f"{r['new']} new tokens per row, greedy; {platform.processor() or platform.machine()}, {threads} thread(s), "
        f"median of {rounds} alternating rounds (`python -m loadtests.grammar_bench`). Tokens/s = batch x "
        f"{r['new']} / time; cost = throughput lost to the mask.",
        "",
        "| grammar | bs 1 tok/s | bs 8 tok/s | throughput lost bs 1 | bs 8 | grammar's share of the time bs 1 | bs 8 |",
        "|---|---|---|---|---|---|---|",
        f"| none | {c[1]['none']:.1f} | {c[8]['none']:.1f} | | | | |",
        f"| strict QA format | {c[1]['qa']:.1f} | {c[8]['qa']:.1f} | {cost(1, 'qa'):.1f}% | {cost(8, 'qa'):.1f}% | "
        f"{c[1]['share']['qa']:.2f}% | {c[8]['share']['qa']:.2f}% |",
        f"| small JSON schema | {c[1]['json']:.1f} | {c[8]['json']:.1f} | {cost(1, 'json'):.1f}% | {cost(8, 'json'):.1f}% | "
        f"{c[1]['share']['json']:.2f}% | {c[8]['share']['json']:.2f}% |",
        "",
        "Throughput lost compares whole runs, so it carries the shared machine's noise (it can come out negative); "
        "the grammar's share is the time measured inside the grammar calls (the mask and the matcher's advance) "
        "over the run's time, the part of the cost that is the grammar's own (the masked softmax adds a vocabulary-"
        "wide `where` per row on top).",
        "",
        f"Grammar engine: llguidance; its tokenizer for this vocabulary built once per worker in "
        f"{r['tokenizer_s']:.2f} s; the JSON schema compiled in {r['compile_ms']:.1f} ms, then taken from the "
        f"cache in {r['cached_ms']:.2f} ms (a copy of the compiled matcher).",
        "",
        "Priority: time to first token of a 1-row request arriving at a full step (8 low-priority rows decoding, "
        f"step_rows 8): priority 1: {r['ttft_ms'][1]:.0f} ms; priority 0 (the same as the others): "
        f"{r['ttft_ms'][0]:.0f} ms (it waits until the scheduler's starvation guard, max_skips 20 steps, puts it "
        "first).",
        "",
        f"1-minute load average when the run started: {load:.1f} on {os.cpu_count()} cores: compare rows of this run "
        "with each other, not with other runs.",
    ])


def write_section(path: Path, body: str) -> None:
    text = path.read_text() if path.exists() else ""
    block = f"<!-- bench:{SECTION} -->\n{body}\n<!-- /bench:{SECTION} -->"
    pattern = re.compile(rf"<!-- bench:{SECTION} -->.*?<!-- /bench:{SECTION} -->", re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n## gpt2_qa: constrained decoding cost and priority\n\n" + block + "\n"
    path.write_text(text)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="write the section of docs/BENCHMARKS.md")
    parser.add_argument("--smoke", action="store_true", help="a tiny shape, one round, nothing written")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    if args.smoke:
        print(render(bench(1, 1, SMOKE, new=24), 1, 1, load))
        return
    text = render(bench(args.rounds, args.threads), args.rounds, args.threads, load)
    print(text)
    if args.write:
        write_section(REPO / "docs" / "BENCHMARKS.md", text)


if __name__ == "__main__":
    main()
