"""`make all`'s order and its estimate of the time left (genai_ops/pipeline.py)."""
from genai_ops.pipeline import Progress, order
from genai_ops.registry import load_registry


def test_the_fast_models_come_first_and_gpt2_qa_last():
    names = [s.name for s in order(list(load_registry().values()))]
    assert names[:3] == ["bigram", "embeddings", "lstm"] and names[-1] == "gpt2_qa"
    assert set(names) == set(load_registry())


def test_the_time_left_is_the_estimates_scaled_by_how_this_machine_did_without_a_tiny_model_swinging_it():
    specs = order(list(load_registry().values()))
    progress = Progress(specs)
    rest = sum(s.train["estimate_s"] for s in specs[1:])
    assert progress.left_s(1) == rest  # nothing measured yet: the reference machine's estimates
    progress.trained(specs[0], specs[0].train["estimate_s"] + 3)  # bigram: 1 s estimated, Python's start-up on top
    assert rest < progress.left_s(1) < 1.05 * rest
    for spec in specs[1:-1]:  # this machine took twice as long for every other model
        progress.trained(spec, spec.train["estimate_s"] * 2)
    assert 1.75 * specs[-1].train["estimate_s"] < progress.left_s(len(specs) - 1) < 2 * specs[-1].train["estimate_s"]
