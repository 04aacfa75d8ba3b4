"""Validate every manifest under deploy/ offline: python deploy/validate.py [FILE ...]   (`make validate-k8s`)

Core Kubernetes kinds are checked by kubernetes-validate against the schemas it ships for K8S_VERSION, in
strict mode (an unknown or misspelt field is an error, not silently dropped by the API server). Custom
resources have no schema there: each kind we use has its own under deploy/*/schema/ (KServe's
InferenceService), and the core-type fields inside it (resources, env) are checked against the Kubernetes
definitions. A document of any other kind is an error: nothing passes unvalidated.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

DEPLOY = Path(__file__).resolve().parent
K8S_VERSION = "1.33.0"  # the oldest Kubernetes the manifests must work on; kubernetes-validate ships its schemas
CUSTOM_SCHEMAS = {("serving.kserve.io/v1beta1", "InferenceService"): DEPLOY / "kserve/schema/inferenceservice.schema.json",
                  ("serving.kserve.io/v1alpha1", "ServingRuntime"): DEPLOY / "kserve/schema/servingruntime.schema.json"}
# Core-type fields inside custom resources: JSON path -> Kubernetes definition.
CORE_FIELDS = {("InferenceService", ("spec", "predictor", "model", "resources")): "io.k8s.api.core.v1.ResourceRequirements",
               ("InferenceService", ("spec", "predictor", "model", "env")): "io.k8s.api.core.v1.EnvVar[]",
               ("ServingRuntime", ("spec", "containers")): "io.k8s.api.core.v1.Container[]"}


def manifests(root: Path = DEPLOY) -> list[Path]:
    return sorted(p for p in root.rglob("*.yaml") if "schema" not in p.parts)


def _core_definition(name: str) -> dict:
    version = ".".join(K8S_VERSION.split(".")[:2]) + ".0"
    defs = kubernetes_validate.utils.schema_contents(
        f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", K8S_VERSION)
    item = name.removesuffix("[]")
    schema = {**defs, "$ref": f"#/$defs/{item}"}
    return {"type": "array", "items": schema} if name.endswith("[]") else schema


def _validate_custom(doc: dict, schema_path: Path) -> list[str]:
    errors = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
              for e in jsonschema.Draft202012Validator(json.loads(schema_path.read_text())).iter_errors(doc)]
    for (kind, path), definition in CORE_FIELDS.items():
        node = doc
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if kind == doc.get("kind") and node is not None:
            errors += [f"{'/'.join(path)}: {e.message}"
                       for e in jsonschema.Draft202012Validator(_core_definition(definition)).iter_errors(node)]
    return errors


def validate_doc(doc: dict) -> list[str]:
    """[] when the document is valid, else one message per problem."""
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in CUSTOM_SCHEMAS:
        return _validate_custom(doc, CUSTOM_SCHEMAS[key])
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        return []
    except ValidationError as exc:
        return [f"{'/'.join(map(str, exc.path)) or '<root>'}: {exc.message}"]
    except SchemaNotFoundError as exc:
        return [f"no schema for {key[1]} {key[0]}: {exc.message} (add one to CUSTOM_SCHEMAS or fix the kind)"]


def validate_file(path: Path) -> list[str]:
    problems = []
    for i, doc in enumerate(d for d in yaml.safe_load_all(path.read_text()) if d is not None):
        name = f"{doc.get('kind', '?')}/{doc.get('metadata', {}).get('name', '?')}"
        problems += [f"{path}: document {i} ({name}): {msg}" for msg in validate_doc(doc)]
    return problems


def main(argv=None) -> int:
    files = [Path(a) for a in (sys.argv[1:] if argv is None else argv)] or manifests()
    problems = [p for f in files for p in validate_file(f)]
    for problem in problems:
        print(problem)
    print(f"{len(files)} manifest file(s) checked against Kubernetes {K8S_VERSION}: "
          f"{'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
