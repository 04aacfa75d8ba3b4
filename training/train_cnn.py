"""Train CNN_A2 on CIFAR-10 (or its offline stand-in) with seed 1's recipe (SEEDS.md 1.4).

Adam 1e-3, CrossEntropy, batch 128, Resize 64 + flip + RandomCrop(64, pad 4) + CIFAR normalisation.
Held-out accuracy is measured through `genai_serve.imaging.cnn_input`, the exact serving preprocessing.

    python -m training.train_cnn --out checkpoints/cnn/model.pt            # offline procedural set
    python -m training.train_cnn --data-dir ~/data/cifar --download        # real CIFAR-10
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from genai_ops.checkpoint import save_checkpoint
from genai_serve.nets import build
from training.cli import trainer_parser
from training.data import cnn_batches, load_cifar10

NET_KWARGS = {"num_classes": 10, "image_size": 64}
# Seed 1 ran 5 epochs on the 50k real images. The offline set is 6k images (47 steps an epoch), so it gets
# more epochs. Measured on 2 cores (seed 0): 8 epochs -> 66.9% held-out in 48 s of training; 10 epochs ->
# 69.3% in 60-80 s (chance is 10%). The loss is still falling: more epochs buy accuracy, not correctness.
REAL_EPOCHS, OFFLINE_EPOCHS = 5, 10


def parse_args(argv=None) -> argparse.Namespace:
    p = trainer_parser(__doc__.splitlines()[0], out="checkpoints/cnn/model.pt", dataset="CIFAR10",
                       real_epochs=REAL_EPOCHS, offline_epochs=OFFLINE_EPOCHS, lr=1e-3)
    p.add_argument("--offline-train-n", type=int, default=None, help="offline set size (default 6000)")
    p.add_argument("--offline-test-n", type=int, default=None, help="offline set size (default 1000)")
    return p.parse_args(argv)


@torch.no_grad()
def evaluate(net: nn.Module, images, labels, batch_size: int) -> tuple[float, float]:
    """-> (accuracy, mean cross-entropy) over the whole split, eval transform only."""
    net.eval()
    correct, loss_sum = 0, 0.0
    for x, y in tqdm(cnn_batches(images, labels, batch_size, train=False), desc="eval", unit="batch",
                     total=-(-len(labels) // batch_size), leave=False):
        logits = net(x)
        loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    return correct / len(labels), loss_sum / len(labels)


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)  # shuffling and augmentation

    data_kw = {"data_dir": args.data_dir, "download": args.download, "seed": args.seed}
    x_train, y_train, info_train = load_cifar10("train", offline_n=args.offline_train_n, **data_kw)
    x_test, y_test, info_test = load_cifar10("test", offline_n=args.offline_test_n, **data_kw)
    epochs = args.epochs or (REAL_EPOCHS if info_train["real"] else OFFLINE_EPOCHS)
    print(f"data: {info_train['source']}; train {len(y_train)}, test {len(y_test)}; {epochs} epochs")

    net = build("cnn_a2", **NET_KWARGS)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    steps, t0 = 0, time.perf_counter()
    steps_per_epoch = -(-len(y_train) // args.batch_size)
    for epoch in range(epochs):
        net.train()
        bar = tqdm(cnn_batches(x_train, y_train, args.batch_size, train=True, rng=rng),
                   desc=f"epoch {epoch + 1}/{epochs}", unit="batch", total=steps_per_epoch)
        for x, y in bar:
            loss = loss_fn(net(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if args.max_steps is not None and steps >= args.max_steps:
                break
        bar.close()
        if args.max_steps is not None and steps >= args.max_steps:
            break
    train_seconds = time.perf_counter() - t0

    acc, test_loss = evaluate(net, x_test, y_test, args.batch_size)
    metrics = {
        "test_accuracy": round(acc, 4), "test_loss": round(test_loss, 4), "train_steps": steps,
        "epochs": round(steps / steps_per_epoch, 2), "train_seconds": round(train_seconds, 1),
    }
    save_checkpoint(args.out, net="cnn_a2", kwargs=NET_KWARGS, state_dict=net.eval().state_dict(),
                    metrics=metrics, data={"train": info_train, "test": info_test})
    print(f"cnn: test_accuracy={acc:.4f} test_loss={test_loss:.4f} steps={steps} "
          f"train_seconds={train_seconds:.1f} data={'real' if info_train['real'] else 'offline'} -> {args.out}")
    return metrics


if __name__ == "__main__":
    main()
