"""gpt2_qa's template, rewards and scores, the training rows (what the loss weighs, the context curriculum, the
copy drills) and the bundled SQuAD-format set."""
import random
import re

import pytest
import torch

from genai_serve.gpt2.template import (PREFIX, SUFFIX, enforce, exact_match, extract_answer, f1, format_ok,
                                       format_reward, prompt, qa_reward, target)
from training.gpt2_data import load_examples
from training.gpt2_base import copy_drill
from training.gpt2_steps import pad
from training.train_gpt2_sft import Curriculum, answer_sentences, encode
from tests.unit.gpt2.conftest import tiny_model

GOOD = f"{PREFIX} the town of Thornmoor {SUFFIX}"


def test_prompt_has_the_context_only_when_given_and_never_primes_the_prefix():
    assert prompt("Where?", "Here it is.") == "Question: Where?\nContext: Here it is.\nAnswer:"
    assert prompt("  Where?\n", "   ") == "Question: Where?\nAnswer:"
    assert PREFIX not in prompt("Where?", "ctx")
    assert target(" Thornmoor ") == f" {PREFIX} Thornmoor {SUFFIX}"


@pytest.mark.parametrize("text, ok", [(GOOD, True), (f"  {GOOD}\n", True), (f"{PREFIX} x", False),
                                      (f"x {SUFFIX}", False), ("", False), (f"{PREFIX}{SUFFIX}", True)])
def test_format_ok_needs_both_prefix_and_suffix(text, ok):
    assert format_ok(text) is ok


def test_extract_and_enforce():
    assert extract_answer(GOOD) == "the town of Thornmoor"
    assert extract_answer("Thornmoor") == "Thornmoor"
    assert enforce("Thornmoor") == f"{PREFIX} Thornmoor {SUFFIX}"
    assert enforce(GOOD) == GOOD
    assert format_ok(enforce(f"{PREFIX} half"))


def test_format_reward_gives_partial_credit_in_order():
    assert format_reward(GOOD) == 1.0
    assert format_reward("nothing like it") == 0.0
    assert format_reward(f"{PREFIX} answer") == 0.5
    assert format_reward("That is a wrong thing") == pytest.approx(0.5 * 3 / 5)  # "That is a" of 5 words
    assert format_reward(f"answer {SUFFIX}") == 0.5
    assert 0.5 < format_reward(f"{PREFIX} x other questions.") < 1.0


def test_qa_reward_adds_answer_overlap_so_format_alone_is_not_enough():
    assert qa_reward(GOOD, "the town of Thornmoor") == 2.0
    assert qa_reward(f"{PREFIX} nonsense {SUFFIX}", "Thornmoor") == 1.0
    assert qa_reward("Thornmoor", "Thornmoor") == 1.0


def test_squad_scores_normalise_case_punctuation_and_articles():
    assert exact_match("The Town of Thornmoor.", "town of thornmoor") == 1.0
    assert exact_match("Thornmoor", "the town of Thornmoor") == 0.0
    assert f1("Thornmoor", "the town of Thornmoor") == pytest.approx(0.5)  # precision 1, recall 1/3
    assert f1("", "x") == 0.0 and f1("", "") == 1.0


def test_sft_rows_weigh_the_answer_fully_the_prompt_lightly_and_padding_not_at_all():
    _, tok = tiny_model()
    ex = {"question": "Where did Julia live?", "context": "Julia lived in Thornmoor.", "answer": "Thornmoor"}
    row = encode(tok, ex, ex["context"], max_len=512, prompt_weight=0.3)
    n_prompt = len(tok(prompt(ex["question"], ex["context"]))["input_ids"])
    assert row.n_first == n_prompt and row.ids[-1] == tok.eos_token_id
    assert tok.decode(row.ids[n_prompt:-1]) == target("Thornmoor")
    short = encode(tok, ex, None, max_len=512)
    assert tok.decode(short.ids[:short.n_first]) == prompt(ex["question"])
    ids, mask, weights = pad([row, short], tok.pad_token_id)
    assert weights[0, 0] == 0  # nothing predicts the first token
    assert torch.allclose(weights[0, 1:n_prompt], torch.tensor(0.3)) and (weights[0, n_prompt:len(row.ids)] == 1).all()
    padding = mask[1] == 0
    assert padding.sum() == len(row.ids) - len(short.ids) > 0
    assert (weights[1][padding] == 0).all() and (weights[1, 1:short.n_first] == 0).all()  # pad (= eos id) never trained on
    assert (weights[1, short.n_first:len(short.ids)] == 1).all()  # the real eos is


def test_a_long_prompt_is_cut_from_the_start_so_the_target_survives():
    _, tok = tiny_model()
    ex = {"question": "Q?", "context": "word " * 400, "answer": "Thornmoor"}
    row = encode(tok, ex, ex["context"], max_len=64)
    assert len(row.ids) == 64 and row.ids[-1] == tok.eos_token_id
    assert tok.decode(row.ids[row.n_first:-1]) == target("Thornmoor")


def test_the_curriculum_context_keeps_the_answer_sentence_and_one_other_in_order():
    context = "Ann lived in Bree. She had a goat named Pim. Her colour was red. She carried a lamp."
    for seed in range(20):
        short = answer_sentences(context, "Pim", random.Random(seed))
        sents = short.split(". ")
        assert "goat named Pim" in short and len(sents) == 2
        assert [context.index(s.rstrip(".")) for s in sents] == sorted(context.index(s.rstrip(".")) for s in sents)
    assert answer_sentences(context, "not there", random.Random(0)) == context


def test_curriculum_steps_start_short_then_mostly_full_paragraphs():
    _, tok = tiny_model()
    context = "Ann lived in Bree. She had a goat named Pim. Her colour was red. She carried a lamp. Bo was a smith."
    examples = [{"question": "What was the goat called?", "context": context, "answer": "Pim"}]
    rows = Curriculum(tok, examples, batch=200, short_steps=10, max_len=512, prompt_weight=0.3, bucket=1)
    full = len(encode(tok, examples[0], context, 512).ids)
    early, late = rows(0), rows(10)
    assert all(len(r.ids) < full for r in early)  # short context or none
    share_full = sum(len(r.ids) == full for r in late) / len(late)
    assert 0.6 < share_full < 0.9  # 1 - short share (0.2) - no-context share (0.05), sampled


def test_curriculum_batches_group_rows_of_similar_length():
    _, tok = tiny_model()
    context = "Ann lived in Bree. She had a goat named Pim. Her colour was red. She carried a lamp. Bo was a smith."
    examples = [{"question": "What was the goat called?", "context": context, "answer": "Pim"}]
    rows = Curriculum(tok, examples, batch=50, short_steps=0, max_len=512, prompt_weight=0.3, bucket=4)
    batches = [rows(step) for step in range(4)]  # one draw of 4 batches
    lengths = sorted(len(r.ids) for b in batches for r in b)
    assert len(lengths) == 200 and lengths[0] < lengths[-1]  # none, short and full contexts were drawn
    spans = sorted((min(len(r.ids) for r in b), max(len(r.ids) for r in b)) for b in batches)
    for (_, longest), (shortest, _) in zip(spans, spans[1:]):  # stretches of the sorted lengths, not a mix
        assert longest <= shortest


def test_a_copy_drill_repeats_its_sentences_after_the_bar_and_weighs_the_repeat():
    _, tok = tiny_model()
    text = "The queen had a dog named Pip. The king lived in a castle. It rained."
    for seed in range(10):
        row = copy_drill(tok, text, random.Random(seed))
        first, repeat = row.ids[:row.n_first], row.ids[row.n_first:-1]
        assert tok.decode(first).endswith(" |") and tok.decode(first) == tok.decode(repeat) + " |"
        assert tok.decode(repeat).strip() in text and row.ids[-1] == tok.eos_token_id and row.first_weight < 1


def test_generated_squad_set_is_squad_format_with_spans_in_context_and_held_out_names_never_trained_on():
    from training import squad_gen

    docs = squad_gen.build(splits={"train": 400, "dev": 60})
    rows = {split: [(p["context"], qa) for d in doc["data"] for p in d["paragraphs"] for qa in p["qas"]]
            for split, doc in docs.items()}
    assert len(rows["train"]) >= 1000 and len(rows["dev"]) >= 150
    for context, qa in rows["train"] + rows["dev"]:
        a = qa["answers"][0]
        assert context[a["answer_start"]:a["answer_start"] + len(a["text"])] == a["text"]
    # A held-out answer that is a generated name (capitalised, not a lexicon word) never occurs in training.
    train_words = {w for c, _ in rows["train"] for w in re.findall(r"[A-Z][a-z]+", c)}
    names = [qa["answers"][0]["text"] for _, qa in rows["dev"] if qa["answers"][0]["text"][:1].isupper()]
    assert len(names) >= 30
    assert all(squad_gen.split_of(n.split()[-1]) == "dev" for n in names)
    assert not [n for n in names if n.split()[-1] in train_words]


def test_the_default_set_is_generated_once_and_read_like_a_dataset_directory(tmp_path):
    from training.gpt2_data import generated_dir

    root = generated_dir(tmp_path / "gen")
    stamp = (root / "dev.json").stat().st_mtime_ns
    assert generated_dir(root) == root and (root / "dev.json").stat().st_mtime_ns == stamp  # current: not rewritten
    dev, src = load_examples(str(root), "dev", 10)
    assert len(dev) == 10 and src["kind"] == "local SQuAD-format JSON"
    assert {"id", "question", "context", "answer"} <= dev[0].keys()
