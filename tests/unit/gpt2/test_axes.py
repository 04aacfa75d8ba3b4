"""training/gpt2_axes.py: each axis holds out what it names and nothing else, every held-out template is found in
its cell, and the report scores a real model on all of them."""
from training import gpt2_axes, reading_gen

from tests.unit.gpt2.conftest import tiny_model


def test_the_phrasings_axis_asks_only_held_out_phrasings_of_training_shapes():
    rows = gpt2_axes.examples("train", "dev", "train", 60)
    held = gpt2_axes.held_out("questions")
    assert all(gpt2_axes.cell_of(e, "questions", held) for e in rows)
    # the same paragraphs with training phrasings: those questions are (nearly all) outside the held-out cells
    same = gpt2_axes.examples("train", "train", "train", 60)
    assert sum(gpt2_axes.cell_of(e, "questions", held) is None for e in same) >= 50


def test_the_shapes_axis_writes_held_out_shapes_and_the_names_axis_other_names():
    rows = gpt2_axes.examples("dev", "train", "train", 60)
    held = gpt2_axes.held_out("shapes")
    assert sum(gpt2_axes.cell_of(e, "shapes", held) is not None for e in rows) >= 50
    train_names = set(reading_gen.pools("train")["f"] + reading_gen.pools("train")["m"])
    other = gpt2_axes.examples("train", "train", "dev", 60)
    assert not [e for e in other if e["answer"] in train_names]


def test_the_breakdown_scores_a_real_model_per_axis_and_per_cell():
    model, tok = tiny_model()
    report = gpt2_axes.breakdown(model, tok, 8)
    assert set(report["axes"]) == set(gpt2_axes.AXES)
    assert all(r["n"] == 8 and 0 <= r["contained"] <= 1 for r in report["axes"].values())
    assert sum(r["n"] for r in report["per_phrasing"].values()) == 8
    assert sum(r["n"] for r in report["per_shape"].values()) == 8
