"""The copy drills' stop on a loss threshold (training/gpt2_steps.py `stop_below`): training stops once the
smoothed taught loss is below it, never before 50 steps, and without it every step is taken."""
import random

from tests.unit.gpt2.conftest import TEXTS, tiny_model
from training.gpt2_base import copy_drill
from training.gpt2_steps import train


def drills(tok):
    rng = random.Random(0)
    return lambda _: [copy_drill(tok, rng.choice(TEXTS), rng) for _ in range(4)]


def test_a_loss_threshold_stops_the_drills_once_reached_and_not_before_50_steps():
    model, tok = tiny_model()
    log = train(model, drills(tok), tok.eos_token_id, steps=300, lr=3e-3, warmup=5, stop_below=100.0)
    assert log["steps"] == 50  # any loss is below 100: stops at the earliest step allowed
    model, tok = tiny_model()
    log = train(model, drills(tok), tok.eos_token_id, steps=60, lr=3e-3, warmup=5, stop_below=0.0)
    assert log["steps"] == 60  # never reached: the cap
    model, tok = tiny_model()
    assert train(model, drills(tok), tok.eos_token_id, steps=60, lr=3e-3, warmup=5)["steps"] == 60
