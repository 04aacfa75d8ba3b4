"""Defer `import torch` in TorchServe's workers until something really uses torch.

TorchServe 0.12's worker protocol (ts/protocol/otf_message_handler.py) imports torch at module level, only to
serialise a handler's response when it is a torch.Tensor (ours never are). Importing torch costs a worker about
280 MB of its own memory (USS, measured: numpy alone 15 MB, onnxruntime 23 MB, torch 281 MB), so every worker
that serves an ONNX Runtime graph (cnn, gan, lstm, diffusion, the three gpt2_qa versions) paid for a library it
never calls: 10 workers came to 3.8 GB PSS (docs/RELIABILITY.md).

Python imports `sitecustomize` from sys.path at start-up (the standard `site` hook). genai_serve.server.Server
puts this directory on the PYTHONPATH of the TorchServe it starts, the JVM passes its environment to the workers
it spawns, and this module acts only in a TorchServe worker (argv[0] is model_service_worker.py): it registers
torch with the standard library's importlib.util.LazyLoader, so `import torch` binds a module that runs torch's
real import on its first attribute access. A handler that uses torch (bigram, ebm; spaCy's thinc when it probes
for torch) gets the real torch at that moment; one that never touches it never loads it. Nothing of TorchServe
is patched. GENAI_EAGER_TORCH=1 turns it off.
"""
import importlib.util
import os
import sys


def _defer_torch() -> None:
    if "torch" in sys.modules or os.environ.get("GENAI_EAGER_TORCH") == "1":
        return
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.loader is None:
        return
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["torch"] = module
    spec.loader.exec_module(module)


if sys.argv and os.path.basename(sys.argv[0]) == "model_service_worker.py":
    _defer_torch()
