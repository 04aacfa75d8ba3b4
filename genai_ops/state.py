"""What the lifecycle tool rolled in, so a restart brings it back: <workdir>/run/state.json.

TorchServe runs with --ncs (no config snapshots) and loses runtime registrations on restart
(pytorch/serve#1542); its own start-up default-version handling is broken (#2744). So `genai_ops.ctl`
records, per model it touched, the versions it keeps registered, the default and the previous default
(for rollback), and `Server.register_all` (`make serve`) reads it back. Models the tool never touched
are not in the file and follow models.yaml.

    {"models": {"cnn": {"default": "1.1", "previous": "1.0", "versions": ["1.0", "1.1"],
                        "updated_at": "2026-11-23T19:01:02+00:00"}}}

Writes are atomic (temp file + os.replace); `locked()` serialises concurrent ctl invocations.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


class StateError(RuntimeError):
    pass


def version_key(version: str) -> tuple:
    """'1.10' sorts after '1.9'; non-numeric parts compare as text."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in version.split("."))


@dataclass
class ModelState:
    default: str
    versions: list[str]
    previous: str | None = None
    updated_at: str = ""

    def to_json(self) -> dict:
        return {"default": self.default, "previous": self.previous, "versions": self.versions,
                "updated_at": self.updated_at}


@dataclass
class State:
    path: Path
    models: dict[str, ModelState] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> State:
        path = Path(path)
        if not path.exists():
            return cls(path)
        try:
            raw = json.loads(path.read_text())
            models = {name: ModelState(default=str(m["default"]), versions=[str(v) for v in m["versions"]],
                                       previous=None if m.get("previous") is None else str(m["previous"]),
                                       updated_at=m.get("updated_at", ""))
                      for name, m in raw.get("models", {}).items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateError(f"{path} is not a lifecycle state file ({exc}); fix or delete it") from exc
        return cls(path, models)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"models": {n: m.to_json() for n, m in sorted(self.models.items())}}, indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- updates (the caller saves) ------------------------------------------------------------------
    def set_default(self, model: str, version: str, previous: str | None, registered: list[str]) -> None:
        """`version` is now the default; `previous` (the default it replaced) is what rollback restores."""
        versions = sorted(set(registered) | {version} | ({previous} if previous else set()), key=version_key)
        self.models[model] = ModelState(default=version, versions=versions,
                                        previous=previous if previous != version else self.previous(model),
                                        updated_at=_now())

    def set_versions(self, model: str, default: str, registered: list[str]) -> None:
        """After register/unregister: keep default and previous, record what is registered."""
        current = self.models.get(model)
        previous = current.previous if current and current.previous in registered else None
        self.models[model] = ModelState(default=default, versions=sorted(set(registered), key=version_key),
                                        previous=previous, updated_at=_now())

    def previous(self, model: str) -> str | None:
        return self.models[model].previous if model in self.models else None

    def plan(self, model: str, registry_versions: tuple[str, ...], registry_default: str,
             available: set[str]) -> tuple[list[str], str | None]:
        """(versions to register, default) for start-up: the recorded ones when the model has an entry
        (only those whose archive is still in the store), else the registry's."""
        entry = self.models.get(model)
        versions = entry.versions if entry else list(registry_versions)
        versions = [v for v in versions if v in available]
        if not versions:
            return [], None
        wanted = entry.default if entry else registry_default
        default = wanted if wanted in versions else (
            registry_default if registry_default in versions else max(versions, key=version_key))
        return versions, default


@contextlib.contextmanager
def locked(path: Path, wait: bool = True):
    """An exclusive lock beside the state file for one mutating command (promote, rollback, ...)."""
    lock_path = Path(path).with_suffix(".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            raise StateError(f"another lifecycle command holds {lock_path}; try again when it finishes") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
