"""The command-line flags every trainer shares, so each script adds only its own."""
import argparse


def trainer_parser(description: str, *, out: str, dataset: str, real_epochs: int, offline_epochs: int,
                   lr: float, batch_size: int = 128) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default=out, help="checkpoint path (written atomically)")
    p.add_argument("--data-dir", default=None, help=f"torchvision {dataset} root (real data; error if missing)")
    p.add_argument("--download", action="store_true",
                   help=f"download {dataset} into --data-dir (default $GENAI_SERVE_DATA or ~/.cache/genai_serve/datasets)")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"default {real_epochs} on real data (seed 1), {offline_epochs} on the offline set")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimiser steps (quick runs)")
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (the machine has 2 cores)")
    return p
