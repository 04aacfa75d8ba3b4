"""models.yaml -> ModelSpec objects, plus the project's path layout. The only place the model list is read."""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
REGISTRY_FILE = Path(os.environ.get("GENAI_REGISTRY", REPO_ROOT / "models.yaml"))


@dataclass(frozen=True)
class Paths:
    """Where generated things go. Defaults to the repo; tests point it at a temp dir."""

    base: Path = REPO_ROOT

    @property
    def checkpoints(self) -> Path:
        return self.base / "checkpoints"

    @property
    def artifacts(self) -> Path:
        return self.base / "artifacts"

    @property
    def model_store(self) -> Path:
        return self.base / "model_store"

    @property
    def run(self) -> Path:
        return self.base / "run"

    def checkpoint(self, model: str, name: str = "model.pt") -> Path:
        return self.checkpoints / model / name

    def artifact_dir(self, model: str, version: str | None = None) -> Path:
        # Artifacts are unversioned (the latest export); a version is stamped on at archive time,
        # as TorchServe does, so `make archive-cnn VERSION=2.0` packs the current export as 2.0.
        # A model whose versions are different trainings (gpt2_qa: 1.0 = SFT, 2.0 = RL) sets
        # `export.per_version` and gets artifacts/<model>/<version>/ (ModelSpec.artifact_version).
        return self.artifacts / model / version if version else self.artifacts / model


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    versions: tuple[str, ...]
    default_version: str
    handler: str
    train: dict
    export: dict
    artifacts: tuple[str, ...]
    model_config: dict
    handler_config: dict = field(default_factory=dict)
    request: dict = field(default_factory=dict)
    sample: dict = field(default_factory=dict)
    gallery: tuple[dict, ...] = ()  # requests whose images `make gallery` shows (image models only)
    load_weight: int = 1  # share of the users in the mixed Locust scenario

    @property
    def checkpoint_name(self) -> str:
        """The file a trainer writes under checkpoints/<model>/ (registry `train.checkpoint`, default model.pt)."""
        return str(self.train.get("checkpoint", "model.pt"))

    @property
    def per_version(self) -> bool:
        """True when each version is its own export (artifacts/<model>/<version>/), not a stamp on one export."""
        return bool(self.export.get("per_version"))

    def export_for(self, version: str | None) -> dict:
        """The export settings of one version: the model's `export`, with `export.versions.<version>` laid over
        it (a per_version model's version that is made differently, e.g. gpt2_qa 2.1 = 2.0 quantized)."""
        base = {k: v for k, v in self.export.items() if k != "versions"}
        return {**base, **(self.export.get("versions") or {}).get(version, {})} if version else base

    def artifact_version(self, version: str | None) -> str | None:
        """The artifact_dir version argument for archiving `version` (None: the unversioned export)."""
        if not self.per_version:
            return None
        if version not in self.versions:
            raise SystemExit(f"{self.name}: each version is its own export; version must be one of {self.versions}")
        return version

    @property
    def continuous(self) -> bool:
        """Served with TorchServe's continuous batching. Never send such a model a customized describe
        (`?customized=true`): TorchServe 0.12 re-queues that job forever (docs/DESIGN-NOTES.md); read the model card
        from the archive instead (archived_card)."""
        return bool(self.model_config.get("continuousBatching"))

    def archived_card(self, store: Path, version: str) -> dict:
        """model_card.json from this model's .mar in `store` (what a customized describe returns as model_card)."""
        import json
        import zipfile

        with zipfile.ZipFile(store / self.mar_file(version)) as mar:
            return json.loads(mar.read("model_card.json"))

    def mar_file(self, version: str) -> str:
        # TorchServe names an archive after the model; versions share a store, so the file carries both.
        return f"{self.name}-{version}.mar"

    def sample_body(self, root: Path = REPO_ROOT) -> tuple[bytes, str]:
        """(body, content type) of the registry's sample request."""
        import json

        if "file" in self.sample:
            return (root / self.sample["file"]).read_bytes(), self.sample["content_type"]
        return json.dumps(self.sample.get("json", {})).encode(), "application/json"


def load_registry(path: Path | str = REGISTRY_FILE) -> dict[str, ModelSpec]:
    raw = yaml.safe_load(Path(path).read_text())
    defaults = raw.get("defaults", {})
    models = {}
    for name, entry in raw["models"].items():
        model_config = {**copy.deepcopy(defaults.get("model_config", {})), **entry.get("model_config", {})}
        versions = tuple(str(v) for v in entry["versions"])
        default_version = str(entry.get("default_version", versions[-1]))
        if default_version not in versions:
            raise ValueError(f"{name}: default_version {default_version} not in versions {versions}")
        models[name] = ModelSpec(
            name=name,
            description=entry["description"],
            versions=versions,
            default_version=default_version,
            handler=entry["handler"],
            train=entry.get("train", {}),
            export=entry.get("export", {}),
            artifacts=tuple(entry.get("artifacts", ())),
            model_config=model_config,
            handler_config=entry.get("handler_config", {}),
            request=entry.get("request", {}),
            sample=entry.get("sample", {}),
            gallery=tuple(entry.get("gallery", ())),
            load_weight=int(entry.get("load_weight", 1)),
        )
    return models


def select(registry: dict[str, ModelSpec], names: list[str] | None) -> list[ModelSpec]:
    """Models named on a command line (all when none); unknown names are an error listing the known ones."""
    if not names:
        return list(registry.values())
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}; models.yaml has {sorted(registry)}")
    return [registry[n] for n in names]


def resolve(dotted: str):
    """'package.module:attr' -> the object (the registry names functions this way)."""
    import importlib

    module, _, attr = dotted.partition(":")
    return getattr(importlib.import_module(module), attr)


def sha256_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_path(path: Path) -> str:
    """A file's sha256, or for a directory (a spaCy pipeline, a tokenizer) the sha256 of its sorted
    "relative/path sha256" lines, so any changed, added or removed file changes the digest."""
    import hashlib

    path = Path(path)
    if not path.is_dir():
        return sha256_file(path)
    lines = [f"{f.relative_to(path).as_posix()} {sha256_file(f)}\n" for f in sorted(path.rglob("*")) if f.is_file()]
    return hashlib.sha256("".join(lines).encode()).hexdigest()
