"""Supervised fine-tuning for gpt2_qa (version 1.0): prompt -> " {PREFIX} {answer} {SUFFIX}<|endoftext|>".

python -m training.train_gpt2_sft --model DIR --out DIR [--steps 3000] [--lr 2e-3] [--max-steps N]

Fixes the seeds' SFT bugs: padding is out of the loss (seed 1 trained mostly on pad tokens), the context is
in the prompt (seed 1 dropped it), and an end-of-text token ends every target (seed 2 had none, so its model
never learnt to stop). The answer carries the loss; the prompt a small weight (`prompt_weight`), which
teaches the model to read the paragraph as well as answer from it (a pre-trained GPT-2 already reads: 0).

Context curriculum: for the first quarter of the steps the context is cut to the sentence holding the
answer plus one other sentence, a quarter of the tokens, so the model learns where answers are found from
cheap, unambiguous rows; after that full paragraphs, with some short ones mixed in. A share of examples
(`no_context_share`) has no context at all, so a question without context is in distribution too.
"""
from __future__ import annotations

import argparse
import random

from genai_serve.gpt2.template import prompt, target
from training.gpt2_base import SENTENCE_END
from training.gpt2_steps import Row, train


def encode(tok, example: dict, context: str | None, max_len: int, prompt_weight: float = 0.0) -> Row:
    """prompt + target + eos; the target and eos weigh 1, the prompt `prompt_weight`."""
    p = tok(prompt(example["question"], context))["input_ids"]
    t = tok(target(example["answer"]))["input_ids"] + [tok.eos_token_id]
    p = p[-(max_len - len(t)):] if len(p) + len(t) > max_len else p  # keep the target whole: cut the prompt's start
    return Row(p + t, len(p), prompt_weight)


def answer_sentences(context: str, answer: str, rng: random.Random, others: int = 1) -> str:
    """The sentence holding the answer plus `others` other sentences of the paragraph, in their order.
    Works on any SQuAD paragraph (the sentence is found by the answer's text)."""
    sents = SENTENCE_END.split(" ".join(context.split()))
    hit = next((i for i, s in enumerate(sents) if answer in s), None)
    if hit is None:
        return context
    rest = [i for i in range(len(sents)) if i != hit]
    keep = {hit, *rng.sample(rest, min(others, len(rest)))}
    return " ".join(sents[i] for i in sorted(keep))


class Curriculum:
    """The rows of SFT step `step`: short contexts first, full paragraphs later.

    Rows are drawn `bucket` batches at a time and grouped by length, so a batch pads to rows of about its own
    length (paragraphs about one or two characters, short contexts and no context differ up to 4x in tokens;
    padding every row to the batch's longest cost about a third of each step)."""

    def __init__(self, tok, examples: list[dict], batch: int, short_steps: int, max_len: int,
                 prompt_weight: float, short_share: float = 0.2, no_context_share: float = 0.05, seed: int = 0,
                 bucket: int = 8):
        self.tok, self.examples, self.batch, self.short_steps, self.max_len = tok, examples, batch, short_steps, max_len
        self.prompt_weight, self.short_share, self.no_context_share = prompt_weight, short_share, no_context_share
        self.rng, self.bucket, self.ready = random.Random(seed), bucket, []

    def context(self, example: dict, step: int) -> str | None:
        r = self.rng.random()
        if r < self.no_context_share:
            return None
        if step < self.short_steps or r < self.no_context_share + self.short_share:
            return answer_sentences(example["context"], example["answer"], self.rng)
        return example["context"]

    def __call__(self, step: int) -> list[Row]:
        if not self.ready or (step == self.short_steps and self.short_steps):  # the curriculum's switch starts afresh
            chosen = [self.examples[self.rng.randrange(len(self.examples))] for _ in range(self.batch * self.bucket)]
            rows = sorted((encode(self.tok, e, self.context(e, step), self.max_len, self.prompt_weight) for e in chosen),
                          key=lambda r: len(r.ids))
            self.ready = [rows[i:i + self.batch] for i in range(0, len(rows), self.batch)]
            self.rng.shuffle(self.ready)
        return self.ready.pop()


def sft(model, tok, examples: list[dict], steps: int = 3000, batch: int = 32, lr: float = 2e-3,
        prompt_weight: float = 0.3, seed: int = 0, average_from: float | None = None) -> dict:
    rows = Curriculum(tok, examples, batch, short_steps=steps // 4, max_len=model.config.n_positions,
                      prompt_weight=prompt_weight, seed=seed)
    log = train(model, rows, tok.pad_token_id, steps, lr, warmup=20, desc="sft", average_from=average_from)
    return {"sft_steps": steps, "sft_batch": batch, "sft_lr": lr, "sft_prompt_weight": prompt_weight,
            "sft_short_context_steps": rows.short_steps, "sft_final_answer_loss": log["final_loss"],
            "sft_examples": len(examples), "sft_examples_seen": steps * batch, "sft_seconds": log["seconds"],
            **({"sft_average_from": average_from, "sft_averaged_checkpoints": log["averaged_checkpoints"]}
               if average_from is not None else {})}


def main(argv=None) -> None:
    from training.gpt2_base import load_pretrained
    from training.gpt2_data import load_examples

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="base model: HF directory or hub id")
    parser.add_argument("--out", required=True, help="directory for the fine-tuned model (version 1.0)")
    parser.add_argument("--dataset", help="SQuAD-format directory or hub id (default: generated by training/squad_gen.py)")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--prompt-weight", type=float, default=0.3)
    parser.add_argument("--max-steps", type=int, help="cap on --steps (quick runs)")
    args = parser.parse_args(argv)
    model, tok = load_pretrained(args.model)
    examples, _ = load_examples(args.dataset, "train")
    print(sft(model, tok, examples, steps=min(args.steps, args.max_steps or args.steps), batch=args.batch,
              lr=args.lr, prompt_weight=args.prompt_weight))
    model.save_pretrained(args.out)
    tok.save_pretrained(args.out)


if __name__ == "__main__":
    main()
