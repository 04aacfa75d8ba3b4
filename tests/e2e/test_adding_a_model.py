"""docs/ADDING_A_MODEL.md, followed with a toy model end to end, so the guide cannot go stale.

In a temporary project directory the test writes what the guide's checklist asks for: a trainer module
exposing main(argv), an exporter (one function in export/kinds.py's EXPORTERS: the test adds it at run time
instead of editing that file), a handler file subclassing handlers.base.BaseHandler (load, parse, infer),
and a registry entry in a copy of models.yaml (GENAI_REGISTRY points the pipeline's commands at it).
Then it runs the project's own steps: `python -m training.run toy --base DIR`, export.run's export_model,
`python -m export.archive toy --base DIR`, and serves the archive with a real TorchServe through the
project's launcher (genai_ops.server.Server) on free ports: the registry's sample request answers 200 with
the expected body, and bad requests get a 400 naming the field while the worker stays up.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from genai_ops.registry import REPO_ROOT, Paths, load_registry
from genai_ops.server import Server, free_ports

pytestmark = pytest.mark.e2e

TRAINER = '''\
"""toy trainer: python -m toy_train --out PATH writes the checkpoint (here: the word the toy greets with)."""
import argparse
import json
from pathlib import Path


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    args, _ = parser.parse_known_args(argv)  # training.run may pass more (--trainer-args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"word": "hello"}))
'''

HANDLER = '''\
"""toy: {"name", "times"?} -> {"greeting", "model": "toy"}."""
import json

from genai_serve.errors import InputError
from handlers.base import BaseHandler


class ToyHandler(BaseHandler):
    def load(self):
        self.word = json.loads((self.model_dir / "greeting.json").read_text())["word"]

    def parse(self, decoded, params):
        if params.name.lower() == self.word:
            raise InputError(f"name: {params.name!r} is the greeting itself", "name")
        return params

    def infer(self, items):
        return [{"greeting": " ".join([self.word] * p.times) + ", " + p.name, "model": "toy"} for p in items]
'''


def export_toy(spec, ckpt_path, out_dir):
    """The toy's exporter: checkpoint -> artifacts/toy/greeting.json, with the record archive.py checks."""
    table = json.loads(ckpt_path.read_text())
    (out_dir / "greeting.json").write_text(json.dumps(table))
    reread = json.loads((out_dir / "greeting.json").read_text())
    return {"format": "json", "net": None, "metrics": {}, "data": {"source": "toy"},
            "parity": {"max_abs_diff": {"table": 0.0}, "passed": reread == table}}


def entry(handler_path) -> dict:
    return {
        "description": "toy greeter (tests/e2e/test_adding_a_model.py)",
        "versions": ["1.0"],
        "default_version": "1.0",
        "train": {"module": "toy_train", "args": [], "checkpoint": "greeting.json"},
        "export": {"kind": "toy_table"},
        "handler": str(handler_path),
        "artifacts": ["greeting.json"],
        "model_config": {"batchSize": 4, "maxBatchDelay": 5},
        "request": {
            "name": {"type": "str", "required": True, "min_length": 1, "max_length": 50},
            "times": {"type": "int", "default": 1, "min": 1, "max": 3},
        },
        "sample": {"content_type": "application/json", "json": {"name": "Ada", "times": 2}},
    }


def test_a_toy_model_added_as_the_guide_says_is_trained_archived_and_served(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "handlers").mkdir(parents=True)
    (project / "toy_train.py").write_text(TRAINER)
    (project / "handlers" / "toy.py").write_text(HANDLER)
    registry_file = project / "models.yaml"
    raw = yaml.safe_load((REPO_ROOT / "models.yaml").read_text())
    raw["models"]["toy"] = entry(project / "handlers" / "toy.py")
    registry_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    env = {**os.environ, "GENAI_REGISTRY": str(registry_file),
           "PYTHONPATH": os.pathsep.join(p for p in (str(project), os.environ.get("PYTHONPATH", "")) if p)}

    def step(*args):
        subprocess.run([sys.executable, "-m", *args, "--base", str(project)], cwd=REPO_ROOT, env=env, check=True)

    step("training.run", "toy")
    registry = load_registry(registry_file)
    spec = registry["toy"]
    from export.kinds import EXPORTERS
    from export.run import export_model

    monkeypatch.setitem(EXPORTERS, "toy_table", export_toy)  # the guide's "one line in EXPORTERS"
    [info] = export_model(spec, Paths(project))
    assert info["parity"]["passed"] and set(info["artifacts"]) == {"greeting.json"}
    step("export.archive", "toy")
    assert (project / "model_store" / "toy-1.0.mar").is_file()

    ports = dict(zip(("inference", "management", "metrics", "grpc_inference", "grpc_management"), free_ports(5)))
    server = Server(workdir=project, store=project / "model_store", ports=ports)
    server.start()
    try:
        assert server.register_all({"toy": spec}) == ["toy"]
        pids = {w["pid"] for w in server.call("GET", "management", "/models/toy").json()[0]["workers"]}

        r = server.predict(spec)  # the registry's sample request
        assert r.status_code == 200, r.text
        assert r.json() == {"greeting": "hello hello, Ada", "model": "toy"}

        bad = [({"name": "Ada", "times": 9}, "times"), ({"times": 1}, "name"), ({"name": "Hello"}, "name")]
        for body, field in bad:
            r = server.predict(spec, body=json.dumps(body).encode(), content_type="application/json")
            assert r.status_code == 400, (body, r.status_code, r.text)
            assert r.json()["field"] == field, (body, r.text)

        after = {w["pid"] for w in server.call("GET", "management", "/models/toy").json()[0]["workers"]}
        assert after == pids
        assert server.predict(spec, version="1.0").json()["greeting"] == "hello hello, Ada"
    finally:
        server.stop()
