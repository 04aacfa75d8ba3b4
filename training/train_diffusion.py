"""Train seed 1's CIFAR-10 diffusion UNet (SEEDS.md 1.3-1.4) on CIFAR-10 or its offline stand-in.

Pixels in [0,1] (ToTensor), standardised per channel with the training set's mean/std (stored in the
checkpoint's extra["normalizer"]). t ~ U(0,1) per image on the offset cosine schedule; noisy = signal * x +
noise * eps; the UNet predicts eps from (noisy, noise^2); L1 loss; AdamW 1e-3, weight_decay 1e-4; batch 128.
Writes the checkpoint (--out) and a 16-sample `samples.png` beside it (50-step reverse diffusion).

    python -m training.train_diffusion --out checkpoints/diffusion/model.pt
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
from genai_serve.sampling.diffusion import denormalize, offset_cosine_schedule, reverse_step
from training.cli import trainer_parser
from training.loop import Minibatches
from training.data import load_cifar10

UNET_KWARGS = {"image_size": 32, "num_channels": 3, "embedding_dim": 32}
# Seed 1: 5 epochs of batch 128 over 50k CIFAR images (1,955 steps). Offline, on 6,000 images and 2 cores, a
# batch of 64 costs ~1.35 s a step (one thread). Measured: 92 steps of 128 gave saturated noise when sampled;
# 558 steps of 64 (L1 0.19) gave smooth colour blobs. 4 epochs of 64 = 372 steps, about 8.5 minutes: more
# updates per CPU-second than batch 128 on a set this small.
REAL_EPOCHS, OFFLINE_EPOCHS = 5, 4
REAL_BATCH, OFFLINE_BATCH = 128, 64
SAMPLE_STEPS = 50


def parse_args(argv=None) -> argparse.Namespace:
    p = trainer_parser(__doc__.splitlines()[0], out="checkpoints/diffusion/model.pt", dataset="CIFAR10",
                       real_epochs=REAL_EPOCHS, offline_epochs=OFFLINE_EPOCHS, lr=1e-3)
    p.add_argument("--offline-n", type=int, default=None, help="size of the offline training set (default 6000)")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.set_defaults(batch_size=None)  # REAL_BATCH on real data, OFFLINE_BATCH on the offline set
    return p.parse_args(argv)


def channel_stats(x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Exact per-channel mean and (population) std over every pixel of (N, C, H, W), in float64.

    The seed averaged per-batch stds weighted by batch size, an approximation that ignores the spread of the
    batch means; this is the exact value over the whole training set."""
    flat = x.transpose(0, 1).reshape(x.shape[1], -1).double()
    return flat.mean(1).tolist(), flat.std(1, unbiased=False).tolist()


def sample_grid_png(net: nn.Module, mean, std, n: int = 16, seed: int = 0, steps: int = SAMPLE_STEPS) -> bytes:
    """n samples: N(0,1) noise -> `steps`-step reverse diffusion -> denormalize -> PNG grid."""
    net.eval()

    def predict_noise(x: np.ndarray, variance: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(x), torch.from_numpy(variance)).numpy()

    x = np.random.default_rng(seed).standard_normal((n, 3, net.image_size, net.image_size)).astype(np.float32)
    for step in range(steps):  # the step serving's engine runs, in a plain loop
        x, images = reverse_step(predict_noise, x, step, steps)
    images = denormalize(images, mean, std)
    return png_bytes(make_grid(images))


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    images, _, info = load_cifar10("train", data_dir=args.data_dir, download=args.download,
                                   offline_n=args.offline_n, seed=args.seed)
    epochs = args.epochs or (REAL_EPOCHS if info["real"] else OFFLINE_EPOCHS)
    args.batch_size = args.batch_size or (REAL_BATCH if info["real"] else OFFLINE_BATCH)
    data = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0).contiguous()  # ToTensor: [0, 1]
    mean, std = channel_stats(data)
    data = ((data - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)).float()
    batches = Minibatches(len(data), args.batch_size, epochs, args.max_steps, generator=gen, desc="diffusion")
    bs, steps_per_epoch = batches.batch_size, batches.steps_per_epoch
    print(f"data: {info['source']}; train {len(data)}; {epochs} epochs x {steps_per_epoch} steps; "
          f"mean {[round(m, 4) for m in mean]} std {[round(s, 4) for s in std]}")

    net = build("diffusion_unet", **UNET_KWARGS)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    l1 = nn.L1Loss()
    t0 = time.perf_counter()
    net.train()
    for epoch, idx in batches:
        x = data[idx]
        eps = torch.randn(x.shape, generator=gen)
        t = torch.rand((bs, 1, 1, 1), generator=gen)
        noise_rates, signal_rates = (torch.from_numpy(r) for r in offset_cosine_schedule(t.numpy()))
        noisy = signal_rates * x + noise_rates * eps
        loss = l1(net(noisy, noise_rates ** 2), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        batches.record(epoch, loss.item(), loss=f"{loss.item():.4f}")
    train_seconds = time.perf_counter() - t0

    metrics = {"final_loss": round(batches.last_epoch()[-1], 4), "avg_loss": round(float(np.mean(batches.last_epoch())), 4),
               "train_steps": batches.steps,
               "epochs": round(batches.steps / steps_per_epoch, 2), "train_seconds": round(train_seconds, 1),
               "metrics_window": "final_loss: last step; avg_loss: mean L1 over the last epoch"}
    out = Path(args.out)
    normalizer = {"mean": [float(m) for m in mean], "std": [float(s) for s in std]}
    save_checkpoint(out, net="diffusion_unet", kwargs=UNET_KWARGS, state_dict=net.eval().state_dict(),
                    metrics=metrics, data={"train": info}, extra={"normalizer": normalizer})
    atomic_write_bytes(out.parent / "samples.png", sample_grid_png(net, mean, std, 16, seed=args.seed))
    print(f"diffusion: final_loss={metrics['final_loss']} avg_loss={metrics['avg_loss']} steps={batches.steps} "
          f"train_seconds={train_seconds:.1f} data={'real' if info['real'] else 'offline'} -> {out}")
    return metrics


if __name__ == "__main__":
    main()
