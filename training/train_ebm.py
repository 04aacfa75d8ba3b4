"""Train seed 1's CIFAR-10 energy model (SEEDS.md 1.3-1.4) on CIFAR-10 or its offline stand-in.

Contrastive divergence with a replay buffer: real images (scaled to [-1,1], plus N(0, 0.005) noise, clamped)
should get low energy, Langevin samples (30 steps, step_size 10, noise 0.005, grad clamp 0.03) high energy.
Loss = mean E(real) - mean E(fake) + alpha (mean E(real)^2 + mean E(fake)^2), alpha 0.1; Adam 1e-4 betas
(0.0, 0.999); gradient-norm clip 0.1; batch 128. Writes the checkpoint (--out) and a 16-sample `samples.png`
beside it, drawn as the server does (uniform noise, 256 Langevin steps, step_size 10, noise 0.01).

    python -m training.train_ebm --out checkpoints/ebm/model.pt
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from genai_ops.checkpoint import atomic_write_bytes, save_checkpoint
from genai_serve.imaging import make_grid, png_bytes
from genai_serve.nets import build
from genai_serve.sampling.langevin import langevin_step
from training.cli import trainer_parser
from training.loop import Minibatches
from training.data import load_cifar10

# Seed 1: 5 epochs over 50k CIFAR images (1,955 steps). One step here is 30 Langevin steps (forward +
# input-gradient) on 128 images plus one optimiser step: ~0.4 s on 2 cores. The offline set has 6,000
# images (46 full batches an epoch); 5 epochs = 230 steps, about 90 s (plus ~8 s for samples.png).
REAL_EPOCHS, OFFLINE_EPOCHS = 5, 5
ALPHA = 0.1
TRAIN_LANGEVIN = {"steps": 30, "step_size": 10.0, "noise": 0.005, "grad_clamp": 0.03}
SAMPLE_LANGEVIN = {"steps": 256, "step_size": 10.0, "noise": 0.01, "grad_clamp": 0.03}  # the serving defaults
REAL_NOISE = 0.005
GRAD_CLIP = 0.1


def parse_args(argv=None) -> argparse.Namespace:
    p = trainer_parser(__doc__.splitlines()[0], out="checkpoints/ebm/model.pt", dataset="CIFAR10",
                       real_epochs=REAL_EPOCHS, offline_epochs=OFFLINE_EPOCHS, lr=1e-4)
    p.add_argument("--offline-n", type=int, default=None, help="size of the offline training set (default 6000)")
    p.add_argument("--alpha", type=float, default=ALPHA, help="energy regulariser weight")
    p.add_argument("--langevin-steps", type=int, default=TRAIN_LANGEVIN["steps"])
    p.add_argument("--buffer-size", type=int, default=8192, help="replay buffer cap")
    return p.parse_args(argv)


class ReplayBuffer:
    """Seed 1's EBMBuffer: starts with `batch` uniform [-1,1] images; each draw mixes n_new ~ Binomial(n,
    fresh_prob) fresh uniform images with n - n_new buffer images sampled with replacement; `push` prepends
    and truncates to `max_size`. (The seed hard-coded 8192 and ignored its buffer_size argument; here the cap
    is a real parameter, default 8192.)"""

    def __init__(self, shape=(3, 32, 32), batch: int = 128, max_size: int = 8192, fresh_prob: float = 0.05,
                 generator: torch.Generator | None = None):
        self.shape, self.max_size, self.fresh_prob, self.gen = tuple(shape), max_size, fresh_prob, generator
        self.images = self._uniform(batch)[:max_size]

    def _uniform(self, n: int) -> torch.Tensor:
        return torch.rand((n, *self.shape), generator=self.gen) * 2 - 1

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, n: int) -> tuple[torch.Tensor, int]:
        """-> (n starting points, n_new): fresh uniform images first, then buffer images."""
        n_new = int(torch.binomial(torch.tensor(float(n)), torch.tensor(self.fresh_prob), generator=self.gen))
        idx = torch.randint(len(self.images), (n - n_new,), generator=self.gen)
        return torch.cat([self._uniform(n_new), self.images[idx]], dim=0), n_new

    def push(self, x: torch.Tensor) -> None:
        self.images = torch.cat([x.detach(), self.images], dim=0)[: self.max_size]


def ebm_loss(e_real: torch.Tensor, e_fake: torch.Tensor, alpha: float = ALPHA) -> torch.Tensor:
    """mean E(real) - mean E(fake) + alpha (mean E(real)^2 + mean E(fake)^2) (the seed's formula: squares of
    per-image energies, averaged)."""
    cdiv = e_real.mean() - e_fake.mean()
    reg = alpha * ((e_real ** 2).mean() + (e_fake ** 2).mean())
    return cdiv + reg


def langevin(net: nn.Module, x: torch.Tensor, generator: torch.Generator, steps: int, step_size: float, noise: float,
             grad_clamp: float) -> torch.Tensor:
    """`steps` Langevin steps on one batch: the step serving's engine runs, in a plain loop."""
    with torch.no_grad():
        for _ in range(steps):
            x = langevin_step(net, x, torch.randn(x.shape, generator=generator), step_size, noise, grad_clamp)
    return x


def sample_grid_png(net: nn.Module, n: int = 16, seed: int = 0) -> bytes:
    """n samples from uniform noise with the serving Langevin settings, as a PNG grid of (x + 1) / 2."""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand((n, 3, 32, 32), generator=g) * 2 - 1
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    try:
        x = langevin(net, x0, generator=g, **SAMPLE_LANGEVIN).numpy()
    finally:
        for p in net.parameters():
            p.requires_grad_(True)
    return png_bytes(make_grid((x + 1) / 2))


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    images, _, info = load_cifar10("train", data_dir=args.data_dir, download=args.download,
                                   offline_n=args.offline_n, seed=args.seed)
    epochs = args.epochs or (REAL_EPOCHS if info["real"] else OFFLINE_EPOCHS)
    # ToTensor + Normalize(0.5, 0.5): uint8 (N,H,W,C) -> float (N,C,H,W) in [-1, 1]
    data = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0).mul(2).sub(1).contiguous()
    batches = Minibatches(len(data), args.batch_size, epochs, args.max_steps, generator=gen, desc="ebm")
    bs = batches.batch_size
    print(f"data: {info['source']}; train {len(data)}; {epochs} epochs x {batches.steps_per_epoch} steps")

    net = build("ebm_energy")
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.0, 0.999))
    buffer = ReplayBuffer(batch=bs, max_size=args.buffer_size, generator=gen)
    lang = dict(TRAIN_LANGEVIN, steps=args.langevin_steps)
    t0 = time.perf_counter()
    for epoch, idx in batches:
        real = (data[idx] + REAL_NOISE * torch.randn(data[idx].shape, generator=gen)).clamp(-1, 1)
        # fakes: buffer / fresh starting points -> Langevin (net in eval mode; it has no BN/dropout anyway)
        start, _ = buffer.sample(bs)
        net.eval()
        fake = langevin(net, start, generator=gen, **lang)
        buffer.push(fake)
        net.train()
        e_real, e_fake = net(real), net(fake)
        loss = ebm_loss(e_real, e_fake, args.alpha)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), GRAD_CLIP)
        opt.step()
        batches.record(epoch, (loss.item(), e_real.mean().item(), e_fake.mean().item()), loss=f"{loss.item():.3f}",
                       e_real=f"{e_real.mean().item():.3f}", e_fake=f"{e_fake.mean().item():.3f}")
    train_seconds = time.perf_counter() - t0

    loss_m, e_real_m, e_fake_m = (round(float(v), 4) for v in np.mean(batches.last_epoch(), axis=0))
    metrics = {"final_loss": round(batches.last_epoch()[-1][0], 4), "loss": loss_m, "e_real_mean": e_real_m,
               "e_fake_mean": e_fake_m, "train_steps": batches.steps, "epochs": round(batches.steps / batches.steps_per_epoch, 2),
               "train_seconds": round(train_seconds, 1), "buffer_size": len(buffer),
               "metrics_window": "final_loss: last step; loss, e_real_mean, e_fake_mean: mean over the last epoch"}
    out = Path(args.out)
    save_checkpoint(out, net="ebm_energy", kwargs={}, state_dict=net.eval().state_dict(), metrics=metrics,
                    data={"train": info})
    atomic_write_bytes(out.parent / "samples.png", sample_grid_png(net, 16, seed=args.seed))
    print(f"ebm: final_loss={metrics['final_loss']} E(real)={e_real_m} E(fake)={e_fake_m} steps={batches.steps} "
          f"train_seconds={train_seconds:.1f} data={'real' if info['real'] else 'offline'} -> {out}")
    return metrics


if __name__ == "__main__":
    main()
