"""gpt2_qa's template, rewards and scores, the SFT encoding (what is masked out of the loss) and the bundled
SQuAD-format set."""
import re

import pytest

from genai_serve.gpt2.template import (PREFIX, SUFFIX, enforce, exact_match, extract_answer, f1, format_ok,
                                       format_reward, prompt, qa_reward, target)
from training.gpt2_data import load_examples
from training.train_gpt2_sft import IGNORE, Collator, encode
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


def test_sft_masks_the_prompt_and_padding_out_of_the_loss_and_ends_with_eos():
    _, tok = tiny_model()
    ex = {"question": "Where did Julia live?", "context": "Julia lived in Thornmoor.", "answer": "Thornmoor"}
    row = encode(tok, ex, with_context=True, max_len=512)
    n_prompt = len(tok(prompt(ex["question"], ex["context"]))["input_ids"])
    assert row["labels"][:n_prompt] == [IGNORE] * n_prompt
    assert row["labels"][n_prompt:] == row["input_ids"][n_prompt:]
    assert row["input_ids"][-1] == tok.eos_token_id
    assert tok.decode(row["input_ids"][n_prompt:-1]) == target("Thornmoor")
    short = encode(tok, ex, with_context=False, max_len=512)
    batch = Collator(tok.pad_token_id)([row, short])
    pad = batch["attention_mask"][1] == 0
    assert pad.sum() == len(row["input_ids"]) - len(short["input_ids"]) > 0
    assert (batch["labels"][1][pad] == IGNORE).all()  # pad (= eos id) never trained on
    assert (batch["labels"][0] == IGNORE).sum() == n_prompt  # the real eos of row 0 is


def test_a_long_prompt_is_cut_from_the_start_so_the_target_survives():
    _, tok = tiny_model()
    ex = {"question": "Q?", "context": "word " * 400, "answer": "Thornmoor"}
    row = encode(tok, ex, with_context=True, max_len=64)
    assert len(row["input_ids"]) == 64 and row["input_ids"][-1] == tok.eos_token_id
    assert tok.decode([t for t in row["labels"] if t != IGNORE][:-1]) == target("Thornmoor")


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
