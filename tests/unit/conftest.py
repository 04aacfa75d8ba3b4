"""Fixtures for the text models: small real checkpoints, exported through the real export path.

  bigram      trained on the sps-genai app's four sentences with min_freq 1 (the sps-genai app's exact model)
  lstm        a few steps on the sps-genai app's sentences: weights barely trained, but every mechanism is real
  embeddings  a crafted vectors table whose neighbours are known exactly (kings, queens, animals, food)
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from genai_ops.checkpoint import save_checkpoint
from genai_ops.registry import Paths
from tests.conftest import make_handler
from training.text_data import FIXTURES

SEED1 = str(FIXTURES / "seed1_bigram.txt")

# Three clusters on three axes, with small offsets, so nearest neighbours and cosines are known.
CRAFTED = {
    "king": [1.0, 0.10, 0.0], "queen": [1.0, 0.20, 0.0], "prince": [1.0, 0.05, 0.05], "Paris": [0.9, 0.0, 0.3],
    "dog": [0.0, 1.0, 0.10], "cat": [0.05, 1.0, 0.20], "fox": [0.0, 0.9, 0.0],
    "bread": [0.0, 0.1, 1.0], "cheese": [0.1, 0.0, 1.0], "hello": [0.5, 0.5, 0.5],
}


def crafted_checkpoint(path) -> None:
    words = list(CRAFTED)
    matrix = torch.tensor([CRAFTED[w] for w in words], dtype=torch.float32)
    save_checkpoint(path, net="ppmi_svd_vectors", kwargs={"dim": 3}, state_dict={"vectors": matrix},
                    metrics={"source": "crafted test vectors"}, data={"train": {"source": "test"}},
                    extra={"words": words})


@pytest.fixture(scope="session")
def text_exports(tmp_path_factory) -> Paths:
    from export.run import main as export_main
    from training import train_bigram, train_lstm

    paths = Paths(tmp_path_factory.mktemp("text-project"))
    train_bigram.main(["--out", str(paths.checkpoint("bigram")), "--corpus", SEED1, "--min-freq", "1"])
    train_lstm.main(["--out", str(paths.checkpoint("lstm")), "--corpus", SEED1, "--min-freq", "1", "--max-steps", "3",
                     "--threads", "1"])
    crafted_checkpoint(paths.checkpoint("embeddings"))
    export_main(["--base", str(paths.base), "bigram", "lstm", "embeddings"])
    return paths


@pytest.fixture
def text_handler(text_exports, tmp_path):
    return lambda model: make_handler(model, text_exports, tmp_path)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
