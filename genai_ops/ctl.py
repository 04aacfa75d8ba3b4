"""Model lifecycle on the running TorchServe: python -m genai_ops.ctl <command> (`make ctl ARGS="..."`).

  models                                   every registered model and version: default, workers, batching
  describe <model> [version]               TorchServe's description plus the archive's model card
  register <model> <version> [--timeout]   load model_store/<model>-<version>.mar, wait until its workers are READY
  default <model> <version>                make a registered version the default (/predictions/<model>)
  scale <model> [--version V] --min N --max M
  unregister <model> <version>             TorchServe refuses the default while another version is registered
  promote <model> <version> [--timeout]    register -> workers READY -> the registry's sample request on
                                           /predictions/<model>/<version> -> set-default; the old default stays
                                           registered for rollback. Any failure: nothing switched.
  rollback <model>                         make the previous default the default again (smoke-tested first)
  token rotate [--type inference|management|all]
                                           mint new keys (TorchServe rewrites key_file.json); checks the new key
                                           works and the old one is refused

The management token comes from key_file.json in the server's working directory (the repo root for
`make serve`). Register, default, unregister, promote and rollback record what they did in run/state.json,
so `make serve` brings the same versions and defaults back after a restart (genai_ops/state.py).
Exit status: 0 done, 1 refused or failed (one line on stderr saying why), 2 bad arguments.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from genai_ops.registry import REPO_ROOT, ModelSpec, load_registry
from genai_ops.server import Server, ServerError
from genai_ops.state import State, StateError, locked

Say = Callable[[str], None]


# -- checks ------------------------------------------------------------------------------------------
def spec_of(registry: dict[str, ModelSpec], name: str) -> ModelSpec:
    if name not in registry:
        raise ServerError(f"unknown model {name!r}; models.yaml has {', '.join(sorted(registry))}")
    return registry[name]


def require_archive(server: Server, spec: ModelSpec, version: str) -> None:
    if not (server.store / spec.mar_file(version)).exists():
        raise ServerError(f"no archive {server.store / spec.mar_file(version)}: build it with "
                          f"`make archive-{spec.name} VERSION={version}`")


def registered_versions(server: Server, name: str) -> list[str]:
    return [v["modelVersion"] for v in server.versions(name)]


def require_registered(server: Server, name: str, version: str | None = None) -> list[str]:
    versions = registered_versions(server, name)
    if not versions:
        raise ServerError(f"{name} is not registered on the server (registered: {', '.join(server.models()) or 'none'})")
    if version is not None and version not in versions:
        raise ServerError(f"{name} {version} is not registered (registered versions: {', '.join(versions)})")
    return versions


def smoke(server: Server, spec: ModelSpec, version: str) -> None:
    """The registry's sample request on the version's own path; anything but a 200 raises."""
    timeout = float(spec.model_config.get("responseTimeout", 120)) + 10
    try:
        r = server.predict(spec, version, timeout=timeout)
    except Exception as exc:  # connection reset, timeout: the version did not answer
        raise ServerError(f"smoke request to /predictions/{spec.name}/{version} failed: {exc}") from None
    if r.status_code != 200:
        raise ServerError(f"smoke request to /predictions/{spec.name}/{version} got HTTP {r.status_code}: "
                          f"{r.text.strip()[:200]}")


def ready(server: Server, spec: ModelSpec, version: str, timeout: float) -> None:
    server.wait_ready(spec.name, version, int(spec.model_config.get("minWorkers", 1)), timeout)


# -- commands ----------------------------------------------------------------------------------------
def list_models(server: Server, say: Say) -> None:
    rows = []
    for name in server.models():
        default = server.default_version(name)
        for v in server.versions(name):
            states = [w["status"] for w in v.get("workers", [])]
            summary = ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states))) or "none"
            rows.append(f"{name:<11}{v['modelVersion']:<9}{'*' if v['modelVersion'] == default else '':<9}"
                        f"{v['batchSize']:>6}{v['maxBatchDelay']:>5}ms  {summary} "
                        f"(min {v['minWorkers']}, max {v['maxWorkers']})")
    say(f"{'model':<11}{'version':<9}{'default':<9}{'batch':>6}{'delay':>7}  workers")
    for row in rows:
        say(row)


def describe(server: Server, name: str, version: str | None, say: Say) -> None:
    require_registered(server, name, version)
    path = f"/models/{name}" + (f"/{version}" if version else "")
    spec = load_registry().get(name)
    if spec is not None and spec.continuous:
        # TorchServe 0.12 loops forever on a customized describe of a continuous-batching model (and every later
        # request of it waits): describe it plainly and take the card from its archive.
        out = server.manage("GET", path, f"describe {name}").json()
        for entry in out:
            entry["customizedMetadata"] = {"model_card": spec.archived_card(server.store, entry["modelVersion"]),
                                           "note": "model card read from the archive: a customized describe is "
                                                   "not sent to continuous-batching models (TorchServe 0.12 bug)"}
        say(json.dumps(out, indent=2))
        return
    out = server.manage("GET", path, f"describe {name}", params={"customized": "true"}).json()
    for entry in out:
        meta = entry.get("customizedMetadata")
        if isinstance(meta, str):
            try:
                entry["customizedMetadata"] = json.loads(meta)
            except ValueError:
                pass
    say(json.dumps(out, indent=2))


def register(server: Server, spec: ModelSpec, version: str, timeout: float, say: Say) -> None:
    require_archive(server, spec, version)
    with locked(server.state_file):
        if version in registered_versions(server, spec.name):
            raise ServerError(f"{spec.name} {version} is already registered")
        server.register(spec, version, int(timeout))
        ready(server, spec, version, timeout)
        _record_versions(server, spec.name)
    say(f"registered {spec.name} {version} ({server.store / spec.mar_file(version)}); workers READY; "
        f"default is {server.default_version(spec.name)}")


def set_default(server: Server, name: str, version: str, say: Say) -> None:
    with locked(server.state_file):
        versions = require_registered(server, name, version)
        previous = server.default_version(name)
        server.set_default(name, version)
        _record_default(server, name, version, previous, versions)
    say(f"{name}: default {previous} -> {version}")


def scale(server: Server, name: str, version: str | None, min_workers: int, max_workers: int, timeout: float,
          say: Say) -> None:
    if not 0 <= min_workers <= max_workers:
        raise ServerError(f"scale {name}: need 0 <= --min ({min_workers}) <= --max ({max_workers})")
    require_registered(server, name, version)
    server.scale(name, version, min_workers, max_workers, int(timeout))
    version = version or server.default_version(name)
    workers = next(v for v in server.versions(name) if v["modelVersion"] == version).get("workers", [])
    say(f"{name} {version}: min {min_workers}, max {max_workers}; {len(workers)} workers now "
        f"(not recorded: after a restart the archive's model-config.yaml applies)")


def unregister(server: Server, name: str, version: str, say: Say) -> None:
    with locked(server.state_file):
        versions = require_registered(server, name, version)
        default = server.default_version(name)
        if version == default and len(versions) > 1:
            others = ", ".join(v for v in versions if v != version)
            raise ServerError(f"{name} {version} is the default; make another version the default first "
                              f"(`ctl default {name} <version>`, registered: {others})")
        server.unregister(name, version)
        _record_versions(server, name)
    say(f"unregistered {name} {version}")


def promote(server: Server, spec: ModelSpec, version: str, timeout: float, say: Say) -> None:
    name = spec.name
    require_archive(server, spec, version)
    with locked(server.state_file):
        previous = server.default_version(name)
        versions = registered_versions(server, name)
        fresh = version not in versions
        if fresh:
            say(f"registering {name} {version} ...")
            server.register(spec, version, int(timeout))
        try:
            ready(server, spec, version, timeout)
            say(f"{name} {version}: workers READY; smoke request ...")
            smoke(server, spec, version)
        except ServerError as exc:
            undone = ""
            if fresh:
                try:
                    server.unregister(name, version)
                    undone = f"; {version} unregistered again"
                except ServerError as cleanup:
                    undone = f"; unregistering {version} also failed ({cleanup})"
            raise ServerError(f"promote {name} {version}: {exc}; nothing switched: default is still "
                              f"{previous or 'none'}{undone}") from None
        if previous != version:
            server.set_default(name, version)
        _record_default(server, name, version, previous, [*versions, version])
    if previous == version:
        say(f"{name} {version} was already the default; smoke request passed; recorded in {server.state_file}")
        return
    kept = f"; {previous} stays registered for `make rollback MODEL={name}`" if previous else ""
    say(f"promoted {name} {version}: default {previous or 'none'} -> {version}{kept}")


def rollback(server: Server, spec: ModelSpec, timeout: float, say: Say) -> None:
    name = spec.name
    with locked(server.state_file):
        target = State.load(server.state_file).previous(name)
        if not target:
            raise ServerError(f"rollback {name}: {server.state_file} records no previous default "
                              f"(promote or default records one)")
        current = server.default_version(name)
        versions = registered_versions(server, name)
        if target not in versions:
            require_archive(server, spec, target)
            say(f"registering {name} {target} again ...")
            server.register(spec, target, int(timeout))
            versions.append(target)
        ready(server, spec, target, timeout)
        try:
            smoke(server, spec, target)
        except ServerError as exc:
            raise ServerError(f"rollback {name}: {exc}; nothing switched: default is still {current}") from None
        server.set_default(name, target)
        _record_default(server, name, target, current, versions)
    say(f"rolled back {name}: default {current} -> {target} ({current} stays registered; rollback again to undo)")


def rotate(server: Server, types: list[str], say: Say) -> None:
    for api in types:
        old = server.token(api)
        new = server.rotate_token(api)
        if new == old:
            raise ServerError(f"rotate the {api} token: key_file.json still holds the old key")
        if api == "management":
            works = server.call("GET", "management", "/models").status_code == 200
            refused = server.call("GET", "management", "/models", token=old).status_code != 200
        else:
            works = server.call("GET", "inference", "/ping").status_code == 200
            refused = server.call("GET", "inference", "/ping", token=old).status_code != 200
        if not (works and refused):
            raise ServerError(f"rotate the {api} token: new key works: {works}, old key refused: {refused}")
        say(f"{api} token rotated: new key in {server.key_file} works, the old one is refused "
            f"(expires {server.token_expiry(api)})")


# -- state -------------------------------------------------------------------------------------------
def _record_default(server: Server, name: str, version: str, previous: str | None, versions: list[str]) -> None:
    state = State.load(server.state_file)
    state.set_default(name, version, previous, versions)
    state.save()


def _record_versions(server: Server, name: str) -> None:
    state = State.load(server.state_file)
    versions = registered_versions(server, name)
    if versions:
        state.set_versions(name, server.default_version(name), versions)
    else:
        state.models.pop(name, None)  # nothing registered: a restart follows models.yaml again
    state.save()


# -- command line ------------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m genai_ops.ctl", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", type=Path, default=REPO_ROOT,
                   help="where TorchServe was started (key_file.json, run/state.json); default: the repo root")
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    sub.add_parser("models", help="list models, versions, defaults and workers")
    d = sub.add_parser("describe", help="TorchServe's description and the model card")
    d.add_argument("model")
    d.add_argument("version", nargs="?")
    for command in ("register", "promote"):
        c = sub.add_parser(command, help=f"{command} model_store/<model>-<version>.mar")
        c.add_argument("model")
        c.add_argument("version")
        c.add_argument("--timeout", type=float, default=120.0, help="seconds for registration and workers READY")
    for command in ("default", "unregister"):
        c = sub.add_parser(command, help=f"{command} a registered version")
        c.add_argument("model")
        c.add_argument("version")
    s = sub.add_parser("scale", help="set a version's worker range (default version unless --version)")
    s.add_argument("model")
    s.add_argument("--version")
    s.add_argument("--min", type=int, required=True, dest="min_workers")
    s.add_argument("--max", type=int, required=True, dest="max_workers")
    s.add_argument("--timeout", type=float, default=120.0)
    r = sub.add_parser("rollback", help="restore the previous default")
    r.add_argument("model")
    r.add_argument("--timeout", type=float, default=120.0)
    t = sub.add_parser("token", help="token rotate: new inference/management keys")
    t.add_argument("action", choices=["rotate"])
    t.add_argument("--type", choices=["inference", "management", "all"], default="all", dest="token_type")
    return p


def run(args: argparse.Namespace, server: Server, registry: dict[str, ModelSpec], say: Say = print) -> None:
    if not server.is_up():
        raise ServerError(f"TorchServe is not answering on {server.url('inference')} (`make serve`)")
    c = args.command
    if c == "models":
        list_models(server, say)
    elif c == "describe":
        describe(server, args.model, args.version, say)
    elif c == "register":
        register(server, spec_of(registry, args.model), args.version, args.timeout, say)
    elif c == "default":
        set_default(server, args.model, args.version, say)
    elif c == "scale":
        scale(server, args.model, args.version, args.min_workers, args.max_workers, args.timeout, say)
    elif c == "unregister":
        unregister(server, args.model, args.version, say)
    elif c == "promote":
        promote(server, spec_of(registry, args.model), args.version, args.timeout, say)
    elif c == "rollback":
        rollback(server, spec_of(registry, args.model), args.timeout, say)
    elif c == "token":
        rotate(server, ["inference", "management"] if args.token_type == "all" else [args.token_type], say)


def main(argv: list[str] | None = None, server: Server | None = None) -> int:
    args = parser().parse_args(argv)
    server = server or Server.at(args.workdir)
    try:
        run(args, server, load_registry())
        return 0
    except (ServerError, StateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
