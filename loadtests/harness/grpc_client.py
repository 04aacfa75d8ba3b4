"""A gRPC client for TorchServe's inference and management services, built from the .proto files that ship
inside the installed frontend jar (so the stubs always match the server), compiled once per process."""
from __future__ import annotations

import importlib
import sys
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def stubs():
    """(inference_pb2, inference_pb2_grpc, management_pb2, management_pb2_grpc)."""
    import ts
    from grpc_tools import protoc

    jar = Path(ts.__file__).parent / "frontend" / "model-server.jar"
    out = Path(tempfile.mkdtemp(prefix="ts-grpc-"))
    with zipfile.ZipFile(jar) as z:
        z.extractall(out, [n for n in z.namelist() if n.startswith(("proto/", "google/")) and n.endswith(".proto")])
    include = Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto
    for name in ("inference", "management"):
        code = protoc.main(["protoc", f"-I{out / 'proto'}", f"-I{out}", f"-I{include}", f"--python_out={out}",
                            f"--grpc_python_out={out}", str(out / "proto" / f"{name}.proto")])
        if code != 0:
            raise RuntimeError(f"protoc failed for {name}.proto")
    for rel in ("google/rpc/status.proto",):  # imported by inference.proto
        protoc.main(["protoc", f"-I{out}", f"-I{include}", f"--python_out={out}", str(out / rel)])
    sys.path.insert(0, str(out))
    return tuple(importlib.import_module(m) for m in ("inference_pb2", "inference_pb2_grpc", "management_pb2",
                                                      "management_pb2_grpc"))


def metadata(token: str | None) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")] if token else []


def inference_stub(channel):
    """The inference service on an open channel (a load generator keeps one per user; `predict` opens its own)."""
    return stubs()[1].InferenceAPIsServiceStub(channel)


def predictions(stub, model: str, body: bytes, token: str | None, timeout: float = 30) -> bytes:
    """One Predictions call on `stub`, the body as the request's `data` input (what the REST body becomes at the
    worker); returns the reply's bytes or raises grpc.RpcError."""
    request = stubs()[0].PredictionsRequest(model_name=model, input={"data": body})
    return stub.Predictions(request, metadata=metadata(token), timeout=timeout).prediction


def predict(port: int, model: str, body: bytes, token: str | None, timeout: float = 30):
    """Predictions over gRPC on a channel of its own; returns the reply's bytes or raises grpc.RpcError."""
    import grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return predictions(inference_stub(channel), model, body, token, timeout)


def list_models(port: int, token: str | None, timeout: float = 30) -> str:
    import grpc

    _, _, management_pb2, management_pb2_grpc = stubs()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = management_pb2_grpc.ManagementAPIsServiceStub(channel)
        return stub.ListModels(management_pb2.ListModelsRequest(), metadata=metadata(token), timeout=timeout).msg
