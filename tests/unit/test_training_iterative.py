"""Smoke runs of the EBM and diffusion trainers (2 steps on small offline sets), the replay buffer, the EBM loss
and the optional checkpoint "extra"."""
import io

import pytest
import torch
from PIL import Image

from genai_ops.checkpoint import build_from_checkpoint, load_checkpoint, save_checkpoint
from genai_serve.nets import UNet, EnergyModel
from training import train_diffusion, train_ebm
from training.train_ebm import ReplayBuffer, ebm_loss

GRID_16_OF_32 = (138, 138)  # 4x4 grid of 32x32 with 2 px padding


def _assert_png(path, size):
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(raw)) as png:
        png.load()
        assert png.size == size and png.mode == "RGB"


def test_train_ebm_smoke(tmp_path):
    out = tmp_path / "ebm" / "model.pt"
    metrics = train_ebm.main(["--out", str(out), "--max-steps", "2", "--batch-size", "16", "--offline-n", "48",
                              "--langevin-steps", "3", "--buffer-size", "20"])
    net, ckpt = build_from_checkpoint(out)
    assert isinstance(net, EnergyModel) and ckpt["config"] == {"net": "ebm_energy", "kwargs": {}}
    assert ckpt["metrics"] == metrics and "extra" not in ckpt
    assert {"final_loss", "loss", "e_real_mean", "e_fake_mean", "train_steps", "train_seconds"} <= set(metrics)
    assert metrics["train_steps"] == 2
    assert metrics["buffer_size"] == 20  # 16 initial + 2 x 16 pushed, capped at --buffer-size
    assert ckpt["data"]["train"]["real"] is False and ckpt["data"]["train"]["n"] == 48
    assert not torch.equal(ckpt["state_dict"]["fc2.weight"], EnergyModel().state_dict()["fc2.weight"])
    _assert_png(out.parent / "samples.png", GRID_16_OF_32)


def test_train_diffusion_smoke(tmp_path):
    out = tmp_path / "diffusion" / "model.pt"
    metrics = train_diffusion.main(["--out", str(out), "--max-steps", "2", "--batch-size", "8",
                                    "--offline-n", "32"])
    net, ckpt = build_from_checkpoint(out)
    assert isinstance(net, UNet) and ckpt["config"]["net"] == "diffusion_unet"
    assert ckpt["config"]["kwargs"] == {"image_size": 32, "num_channels": 3, "embedding_dim": 32}
    assert ckpt["metrics"] == metrics
    assert {"final_loss", "avg_loss", "train_steps", "train_seconds"} <= set(metrics)
    assert metrics["train_steps"] == 2 and metrics["final_loss"] > 0
    norm = ckpt["extra"]["normalizer"]
    assert len(norm["mean"]) == 3 and len(norm["std"]) == 3
    assert all(0 < s < 1 for s in norm["std"]) and all(0 <= m <= 1 for m in norm["mean"])
    assert ckpt["data"]["train"]["n"] == 32
    _assert_png(out.parent / "samples.png", GRID_16_OF_32)


def test_channel_stats_are_exact():
    x = torch.rand(10, 3, 4, 5)
    mean, std = train_diffusion.channel_stats(x)
    per_channel = x.transpose(0, 1).reshape(3, -1).double()
    assert mean == pytest.approx(per_channel.mean(1).tolist(), abs=1e-9)
    assert std == pytest.approx(per_channel.std(1, unbiased=False).tolist(), abs=1e-9)


def test_ebm_loss_hand_computed():
    e_real, e_fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    # mean E(real) - mean E(fake) = 2 - (-1) = 3; alpha (mean E(real)^2 + mean E(fake)^2) = 0.1 (5 + 2) = 0.7
    assert ebm_loss(e_real, e_fake, alpha=0.1).item() == pytest.approx(3.7)
    assert ebm_loss(e_real, e_fake, alpha=0.0).item() == pytest.approx(3.0)


def test_replay_buffer_cap_order_and_fresh_fraction():
    g = torch.Generator().manual_seed(0)
    buf = ReplayBuffer(shape=(1, 2, 2), batch=8, max_size=20, generator=g)
    assert len(buf) == 8 and buf.images.min() >= -1 and buf.images.max() <= 1
    for i in range(5):
        x, n_new = buf.sample(8)
        assert x.shape == (8, 1, 2, 2) and 0 <= n_new <= 8
        buf.push(torch.full((8, 1, 2, 2), float(i)))
        assert len(buf) == min(8 + 8 * (i + 1), 20)
    assert torch.all(buf.images[:8] == 4.0)  # newest first
    # fresh fraction: n_new ~ Binomial(128, 0.05), mean 6.4; over 400 draws the mean is within ~0.25 of it
    big = ReplayBuffer(shape=(1, 1, 1), batch=128, generator=torch.Generator().manual_seed(1))
    big.push(torch.full((128, 1, 1, 1), 5.0))  # buffer rows outside [-1, 1], so fresh rows are recognisable
    big.images = big.images[:128]
    counts = []
    for _ in range(400):
        x, n_new = big.sample(128)
        counts.append(n_new)
        assert torch.all(x[n_new:] == 5.0) and torch.all(x[:n_new].abs() <= 1)
    assert sum(counts) / len(counts) == pytest.approx(6.4, abs=0.5)


def test_checkpoint_extra_is_optional(tmp_path):
    kw = dict(net="gan_discriminator", kwargs={}, state_dict={"w": torch.zeros(2)}, metrics={}, data={})
    save_checkpoint(tmp_path / "a.pt", **kw)
    save_checkpoint(tmp_path / "b.pt", **kw, extra={"normalizer": {"mean": [0.5], "std": [0.25]}})
    assert "extra" not in load_checkpoint(tmp_path / "a.pt")
    assert load_checkpoint(tmp_path / "b.pt")["extra"] == {"normalizer": {"mean": [0.5], "std": [0.25]}}
