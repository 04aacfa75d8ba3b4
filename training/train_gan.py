"""Train seed 1's MNIST DCGAN (SEEDS.md 1.3-1.4) on MNIST or its offline stand-in (sklearn digits).

BCE, Adam 2e-4 betas (0.5, 0.999) for both nets, batch 128. D learns real -> 1, G(z).detach() -> 0;
G uses the non-saturating loss (D(G(z)) labelled 1). No label smoothing, as in the seed.
Writes the generator checkpoint (--out), `discriminator.pt` and a 16-sample `samples.png` beside it.

    python -m training.train_gan --out checkpoints/gan/model.pt
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
from training.cli import trainer_parser
from training.loop import Minibatches
from training.data import load_mnist

G_KWARGS = {"latent_dim": 100}
# Seed 1: 10 epochs over 60k MNIST images (4,690 steps). The offline set has 1,498 images (11 full
# batches an epoch), so it needs many more epochs. One step costs ~0.14 s on 2 cores (G's 128->64
# transposed conv dominates); 60 epochs = 660 steps, about 95 s, gives blurry but recognisable digits
# (440 steps: blobs; 1,650 steps: clearly better, but ~4 minutes).
REAL_EPOCHS, OFFLINE_EPOCHS = 10, 60


def parse_args(argv=None) -> argparse.Namespace:
    p = trainer_parser(__doc__.splitlines()[0], out="checkpoints/gan/model.pt", dataset="MNIST",
                       real_epochs=REAL_EPOCHS, offline_epochs=OFFLINE_EPOCHS, lr=2e-4)
    p.add_argument("--offline-n", type=int, default=None, help="use a seeded subset of the offline set")
    return p.parse_args(argv)


def sample_grid_png(gen: nn.Module, n: int = 16, seed: int = 0) -> bytes:
    """n samples from fixed noise, as a PNG grid (pixels mapped from [-1,1] to [0,1])."""
    z = torch.randn(n, gen.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        x = gen.eval()(z).numpy()
    return png_bytes(make_grid((x + 1) / 2))


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    images, _, info = load_mnist("train", data_dir=args.data_dir, download=args.download,
                                 offline_n=args.offline_n, seed=args.seed)
    epochs = args.epochs or (REAL_EPOCHS if info["real"] else OFFLINE_EPOCHS)
    data = torch.from_numpy(images)
    batches = Minibatches(len(data), args.batch_size, epochs, args.max_steps, desc="gan")
    bs = batches.batch_size
    print(f"data: {info['source']}; train {len(data)}; {epochs} epochs x {batches.steps_per_epoch} steps")

    gen, disc = build("gan_generator", **G_KWARGS), build("gan_discriminator")
    opt_g = torch.optim.Adam(gen.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=args.lr, betas=(0.5, 0.999))
    bce = nn.BCELoss()
    ones, zeros = torch.ones(bs, 1), torch.zeros(bs, 1)
    t0 = time.perf_counter()
    gen.train(), disc.train()
    for epoch, idx in batches:
        real = data[idx]
        fake = gen(torch.randn(bs, gen.latent_dim))
        # 1. discriminator: real -> 1, fake -> 0 (detached, so G gets no gradient from this loss)
        d_real, d_fake = disc(real), disc(fake.detach())
        d_loss = bce(d_real, ones) + bce(d_fake, zeros)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        # 2. generator, non-saturating: maximise log D(G(z)) by labelling fakes real
        g_loss = bce(disc(fake), ones)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        batches.record(epoch, (d_loss.item(), g_loss.item(), d_real.mean().item(), d_fake.mean().item()),
                       d=f"{d_loss.item():.3f}", g=f"{g_loss.item():.3f}")
    train_seconds = time.perf_counter() - t0

    d_loss, g_loss, d_real, d_fake = (round(float(v), 4) for v in np.mean(batches.last_epoch(), axis=0))
    metrics = {"d_loss": d_loss, "g_loss": g_loss, "d_real_mean": d_real, "d_fake_mean": d_fake,
               "train_steps": batches.steps, "epochs": round(batches.steps / batches.steps_per_epoch, 2),
               "train_seconds": round(train_seconds, 1), "metrics_window": "mean over the last epoch"}
    out = Path(args.out)
    data_info = {"train": info}
    save_checkpoint(out, net="gan_generator", kwargs=G_KWARGS, state_dict=gen.eval().state_dict(),
                    metrics=metrics, data=data_info)
    save_checkpoint(out.parent / "discriminator.pt", net="gan_discriminator", kwargs={},
                    state_dict=disc.eval().state_dict(), metrics=metrics, data=data_info)
    atomic_write_bytes(out.parent / "samples.png", sample_grid_png(gen, 16, seed=args.seed))
    print(f"gan: d_loss={d_loss} g_loss={g_loss} D(real)={d_real} D(fake)={d_fake} steps={batches.steps} "
          f"train_seconds={train_seconds:.1f} data={'real' if info['real'] else 'offline'} -> {out}")
    return metrics


if __name__ == "__main__":
    main()
