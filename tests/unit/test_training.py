"""Training smoke runs (a few steps on small offline sets) and the atomic checkpoint write."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from genai_ops import checkpoint
from genai_ops.checkpoint import build_from_checkpoint, load_checkpoint, save_checkpoint
from genai_serve.nets import CNN_A2, GANDiscriminator, GANGenerator
from training import train_cnn, train_gan


def test_train_cnn_smoke_writes_loadable_checkpoint(tmp_path, capsys):
    out = tmp_path / "cnn" / "model.pt"
    metrics = train_cnn.main(["--out", str(out), "--max-steps", "3", "--batch-size", "16", "--seed", "1",
                              "--offline-train-n", "60", "--offline-test-n", "30"])
    net, ckpt = build_from_checkpoint(out)
    assert isinstance(net, CNN_A2) and not net.training
    assert ckpt["config"] == {"net": "cnn_a2", "kwargs": {"num_classes": 10, "image_size": 64}}
    m = ckpt["metrics"]
    assert m == metrics
    assert {"test_accuracy", "test_loss", "train_steps", "epochs", "train_seconds"} <= set(m)
    assert m["train_steps"] == 3 and 0.0 <= m["test_accuracy"] <= 1.0 and m["test_loss"] > 0
    assert ckpt["data"]["train"]["real"] is False and ckpt["data"]["test"]["n"] == 30
    assert ckpt["data"]["train"]["split"] == "train" and ckpt["data"]["test"]["split"] == "test"
    assert "cnn: test_accuracy=" in capsys.readouterr().out
    # the stored weights are the trained ones, not a fresh init
    assert not torch.equal(ckpt["state_dict"]["fc2.weight"], CNN_A2().state_dict()["fc2.weight"])


def test_train_cnn_is_reproducible_for_a_seed(tmp_path):
    args = ["--max-steps", "2", "--batch-size", "8", "--offline-train-n", "20", "--offline-test-n", "10"]
    train_cnn.main(["--out", str(tmp_path / "a.pt"), *args])
    train_cnn.main(["--out", str(tmp_path / "b.pt"), *args])
    a, b = load_checkpoint(tmp_path / "a.pt"), load_checkpoint(tmp_path / "b.pt")
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_train_gan_smoke_writes_generator_discriminator_and_png(tmp_path):
    out = tmp_path / "gan" / "model.pt"
    metrics = train_gan.main(["--out", str(out), "--max-steps", "3", "--batch-size", "16", "--offline-n", "64"])
    gen, ckpt = build_from_checkpoint(out)
    assert isinstance(gen, GANGenerator) and ckpt["config"] == {"net": "gan_generator", "kwargs": {"latent_dim": 100}}
    assert {"d_loss", "g_loss", "d_real_mean", "d_fake_mean", "train_steps", "train_seconds"} <= set(metrics)
    assert ckpt["metrics"]["train_steps"] == 3 and ckpt["data"]["train"]["real"] is False
    assert 0 < metrics["d_real_mean"] < 1 and 0 < metrics["d_fake_mean"] < 1
    disc, dckpt = build_from_checkpoint(out.parent / "discriminator.pt")
    assert isinstance(disc, GANDiscriminator) and dckpt["config"]["net"] == "gan_discriminator"
    with Image.open(out.parent / "samples.png") as png:
        assert png.size == (122, 122)  # 4x4 grid of 28x28 with 2 px padding
    with torch.no_grad():
        x = gen(torch.randn(4, 100))
    assert x.shape == (4, 1, 28, 28) and x.abs().max() <= 1


def _tiny_ckpt(path, value):
    save_checkpoint(path, net="gan_discriminator", kwargs={}, state_dict={"w": torch.full((2,), value)},
                    metrics={"v": value}, data={"source": "test"})


def test_failed_checkpoint_write_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    _tiny_ckpt(path, 1.0)
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(checkpoint.os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        _tiny_ckpt(path, 2.0)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_checkpoint(path)["metrics"] == {"v": 1.0}
    assert os.listdir(tmp_path) == ["model.pt"]  # the temp file was cleaned up too
    _tiny_ckpt(path, 3.0)  # and a later successful write replaces it
    assert np.allclose(load_checkpoint(path)["state_dict"]["w"].numpy(), 3.0)
