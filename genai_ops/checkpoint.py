"""Checkpoints carry their constructor arguments and provenance, and are written atomically.

Format: {"config": {"net": <name in genai_serve.nets.NETS>, "kwargs": {...}}, "state_dict": ...,
"metrics": {...}, "data": {...}} plus an optional "extra": {...}. A crash mid-write leaves the previous file intact: we write a temp
file in the same directory, fsync it, then os.replace (atomic on POSIX within one filesystem).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; artifacts are read by other users (containers)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def save_checkpoint(path, *, net: str, kwargs: dict, state_dict: dict, metrics: dict, data: dict,
                    extra: dict | None = None) -> None:
    """`extra` (optional, e.g. a diffusion normaliser) is stored under "extra" only when given."""
    import io

    import torch

    buf = io.BytesIO()
    payload = {"config": {"net": net, "kwargs": kwargs}, "state_dict": state_dict, "metrics": metrics, "data": data}
    if extra is not None:
        payload["extra"] = extra
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path) -> dict:
    """weights_only=True: a checkpoint is data, never code to unpickle."""
    import torch

    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    missing = {"config", "state_dict", "metrics", "data"} - set(ckpt)
    if missing:
        raise ValueError(f"{path}: not a genai-serve checkpoint (missing {sorted(missing)})")
    return ckpt


def build_from_checkpoint(path) -> tuple[torch.nn.Module, dict]:
    """Rebuild the network from the checkpoint's own config and load its weights (eval mode)."""
    from genai_serve.nets import build

    ckpt = load_checkpoint(path)
    net = build(ckpt["config"]["net"], **ckpt["config"]["kwargs"])
    net.load_state_dict(ckpt["state_dict"])
    return net.eval(), ckpt
