"""Defer `import torch` in TorchServe's workers until something really uses torch.

TorchServe 0.12's worker protocol (ts/protocol/otf_message_handler.py) imports torch at module level, only to
serialise a handler's response when it is a torch.Tensor (ours never are). Importing torch costs a worker about
280 MB of its own memory (USS, measured: numpy alone 15 MB, onnxruntime 23 MB, torch 281 MB), so every worker
that serves an ONNX Runtime graph (cnn, gan, lstm, diffusion, the three gpt2_qa versions) paid for a library it
never calls: 10 workers came to 3.8 GB PSS (docs/RELIABILITY.md).

Python imports `sitecustomize` from sys.path at start-up (the standard `site` hook). genai_ops.server.Server
puts this directory on the PYTHONPATH of the TorchServe it starts, the JVM passes its environment to the workers
it spawns, and this module acts only in a TorchServe worker (argv[0] is model_service_worker.py): it puts a
stand-in module under the name torch, so `import torch` binds it without loading anything; the first attribute
read on it (`torch.Tensor`, `torch.nn`, `torch.__version__`) runs torch's real import, puts the real module in
sys.modules and answers from it. A handler that uses torch (bigram, ebm; spaCy's thinc when it probes for torch)
gets the real torch at that moment; one that never touches it never loads it. (importlib.util.LazyLoader does
not do this on Python 3.11: the import statement itself reads the module's __spec__, which loads it.) Nothing of
TorchServe is patched. GENAI_EAGER_TORCH=1 turns it off.
"""
import importlib
import importlib.util
import os
import sys
import threading
import types

_lock = threading.Lock()


class _DeferredTorch(types.ModuleType):
    """torch until someone reads an attribute; then the real torch answers (module-level __getattr__ runs only
    for names the stand-in lacks, i.e. all of torch's)."""

    def __getattr__(self, name: str):
        return getattr(_real_torch(), name)


def _real_torch() -> types.ModuleType:
    with _lock:
        if isinstance(sys.modules.get("torch"), _DeferredTorch):
            del sys.modules["torch"]
        return importlib.import_module("torch")


def _defer_torch() -> None:
    if "torch" in sys.modules or os.environ.get("GENAI_EAGER_TORCH") == "1":
        return
    spec = importlib.util.find_spec("torch")
    if spec is None:
        return
    stand_in = _DeferredTorch("torch")
    stand_in.__spec__ = spec  # find_spec("torch") (transformers' availability checks) still answers
    sys.modules["torch"] = stand_in


if sys.argv and os.path.basename(sys.argv[0]) == "model_service_worker.py":
    _defer_torch()
