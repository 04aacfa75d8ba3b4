"""The answer format, the prompt template and the scores used for training, evaluation and responses.

Prompt (the post-training app's template, context optional):
  "Question: {q}\\nContext: {c}\\nAnswer:"
Target the model is fine-tuned to produce:     " That is a great question. {answer} Let me know if you have any other questions." + <|endoftext|>
The prefix is NOT primed in the prompt (the post-training app primed it, so its "format" was never the model's doing):
the model must produce prefix and suffix itself, and `format_ok` says whether it did.
"""
from __future__ import annotations

import collections
import re
import string

PREFIX = "That is a great question."
SUFFIX = "Let me know if you have any other questions."


def prompt(question: str, context: str | None = None) -> str:
    question = " ".join(question.split())
    if context and context.strip():
        return f"Question: {question}\nContext: {' '.join(context.split())}\nAnswer:"
    return f"Question: {question}\nAnswer:"


def target(answer: str) -> str:
    """What follows the prompt in training (the caller appends the end-of-text token)."""
    return f" {PREFIX} {answer.strip()} {SUFFIX}"


def format_ok(text: str) -> bool:
    """Prefix and suffix both produced (surrounding whitespace ignored)."""
    text = text.strip()
    return text.startswith(PREFIX) and text.endswith(SUFFIX) and len(text) >= len(PREFIX) + len(SUFFIX)


def extract_answer(text: str) -> str:
    """The answer between the prefix and the suffix (whichever of them is present is removed)."""
    text = text.strip()
    if text.startswith(PREFIX):
        text = text[len(PREFIX):]
    if text.endswith(SUFFIX):
        text = text[: -len(SUFFIX)]
    return text.strip()


def enforce(text: str) -> str:
    """Wrap the text in the format where the model did not produce it (only on request: enforce_format)."""
    answer = extract_answer(text)
    return f"{PREFIX} {answer} {SUFFIX}" if answer else f"{PREFIX} {SUFFIX}"


# -- scores: SQuAD v1.1's answer normalisation, exact match and token F1 ------------------------------
def normalize(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize(prediction) == normalize(gold))


def f1(prediction: str, gold: str) -> float:
    pred, ref = normalize(prediction).split(), normalize(gold).split()
    common = sum((collections.Counter(pred) & collections.Counter(ref)).values())
    if not pred or not ref:
        return float(pred == ref)
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _affix_credit(words: list[str], affix: str, at_start: bool) -> float:
    """Share of the affix's words produced in place (a prefix from the start, a suffix from the end)."""
    want = affix.split()
    have = words[: len(want)] if at_start else words[-len(want):]
    if not at_start:
        want, have = want[::-1], have[::-1]
    n = 0
    for w, h in zip(want, have):
        if w != h:
            break
        n += 1
    return n / len(want)


def format_reward(completion: str) -> float:
    """0..1 with partial credit: half for the prefix, half for the suffix, each by the share of its words
    produced in order. An all-or-nothing phrase reward is 0 for almost every early sample and teaches nothing."""
    words = completion.split()
    return 0.5 * _affix_credit(words, PREFIX, True) + 0.5 * _affix_credit(words, SUFFIX, False)


def qa_reward(completion: str, gold: str) -> float:
    """Format (0..1) + answer overlap (token F1 of the extracted answer, 0..1): the RL objective."""
    return format_reward(completion) + f1(extract_answer(completion), gold)
