"""genai_ops/worker_site/sitecustomize.py: in a TorchServe worker, `import torch` (TorchServe's protocol module
does it at top level) loads nothing until torch is used, and then the real torch answers; elsewhere nothing
changes. Each case is a fresh interpreter started as TorchServe starts a worker: a script named
model_service_worker.py, with worker_site on PYTHONPATH (genai_ops.server.Server.env)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from genai_ops.server import WORKER_SITE

PROBE = """
import importlib.util, json, sys
import ts.protocol.otf_message_handler as protocol  # TorchServe's module: `import torch` at its top
state = {"after_protocol": "torch._C" in sys.modules}
state["spec"] = importlib.util.find_spec("torch").name
state["tensor_check"] = isinstance(3, protocol.torch.Tensor)  # what the protocol does with a response
state["after_use"] = "torch._C" in sys.modules
import torch.nn
state["same_module"] = protocol.torch.nn is torch.nn and sys.modules["torch"] is torch
print(json.dumps(state))
"""


def run_probe(tmp_path: Path, script_name: str, **env) -> dict:
    script = tmp_path / script_name
    script.write_text(PROBE)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(WORKER_SITE), **env})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_worker_loads_torch_only_when_it_is_used(tmp_path):
    state = run_probe(tmp_path, "model_service_worker.py")
    assert state == {"after_protocol": False, "spec": "torch", "tensor_check": False, "after_use": True,
                     "same_module": True}


def test_other_processes_and_the_opt_out_import_torch_as_usual(tmp_path):
    assert run_probe(tmp_path, "other_script.py")["after_protocol"] is True
    assert run_probe(tmp_path, "model_service_worker.py", GENAI_EAGER_TORCH="1")["after_protocol"] is True
