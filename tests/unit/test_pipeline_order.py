"""`make all`'s order and its estimate of the time left (genai_ops/pipeline.py)."""
from genai_ops.pipeline import Progress, order
from genai_ops.registry import load_registry


def test_the_fast_models_come_first_and_gpt2_qa_last():
    names = [s.name for s in order(list(load_registry().values()))]
    assert names[:3] == ["bigram", "embeddings", "lstm"] and names[-1] == "gpt2_qa"
    assert set(names) == set(load_registry())


def test_the_time_left_is_the_estimates_scaled_by_how_this_machine_did():
    specs = order(list(load_registry().values()))
    progress = Progress(specs)
    rest = sum(s.train["estimate_s"] for s in specs[1:])
    assert progress.left_s(1) == rest  # nothing measured yet: the reference machine's estimates
    progress.trained(specs[0], specs[0].train["estimate_s"] * 3)  # this machine took three times as long
    assert progress.left_s(1) == 3 * rest
