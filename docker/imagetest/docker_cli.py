"""The Docker engine as `make image-test` drives it: the docker CLI, a dockerd started if none answers, image bases.

Everything goes through the `docker` command a user would type, so what passes here passes for them.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build" / "image-test"
STANDIN_SCRIPT = REPO / "docker" / "standin-base.sh"
REGISTRY_BASE = "python:3.11-slim-bookworm"  # the CPU Dockerfile's default BASE_IMAGE
STANDIN_BASE = "genai-standin/python:3.11-bookworm"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # the CPU Dockerfile's default TORCH_INDEX_URL


class DockerError(RuntimeError):
    pass


def docker(*args: str, timeout: float = 600, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=capture, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise DockerError(f"docker {' '.join(args[:3])} ... exited {proc.returncode}: {(proc.stderr or '')[-2000:]}")
    return proc


def engine_up() -> bool:
    return shutil.which("docker") is not None and \
        subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def ensure_dockerd(wait_s: float = 60.0) -> None:
    """Start `dockerd` (root) when no engine answers; its log goes to build/image-test/dockerd.log."""
    if engine_up():
        return
    if shutil.which("dockerd") is None:
        raise DockerError("no Docker engine answers and dockerd is not installed (Debian: apt-get install docker.io)")
    BUILD.mkdir(parents=True, exist_ok=True)
    log = open(BUILD / "dockerd.log", "ab")
    subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if engine_up():
            print("started dockerd (log: build/image-test/dockerd.log)")
            return
        time.sleep(1)
    raise DockerError(f"dockerd did not answer within {wait_s:.0f} s: see {BUILD / 'dockerd.log'}")


def image_exists(tag: str) -> bool:
    return docker("image", "inspect", tag, check=False).returncode == 0


def base_image() -> str:
    """The Dockerfile's own base when the registry gives it, else the stand-in made from Debian's archive."""
    if image_exists(REGISTRY_BASE) or docker("pull", REGISTRY_BASE, check=False, timeout=120).returncode == 0:
        print(f"base: {REGISTRY_BASE} (the registry's)")
        return REGISTRY_BASE
    if not image_exists(STANDIN_BASE):
        if shutil.which("debootstrap") is None:
            raise DockerError(f"{REGISTRY_BASE} cannot be pulled and debootstrap is missing (apt-get install debootstrap)")
        print(f"{REGISTRY_BASE} cannot be pulled: making {STANDIN_BASE} from Debian's archive (docker/standin-base.sh)")
        subprocess.run([str(STANDIN_SCRIPT), STANDIN_BASE], check=True, timeout=1800)
    print(f"base: {STANDIN_BASE} (stand-in from Debian's archive with this machine's CA bundle)")
    return STANDIN_BASE


def torch_index() -> str:
    """The PyTorch CPU index when it answers; else empty, so pip takes PyPI's torch (the CUDA build)."""
    try:
        urllib.request.urlopen(f"{TORCH_CPU_INDEX}/torch/", timeout=15)
        print(f"torch index: {TORCH_CPU_INDEX}")
        return TORCH_CPU_INDEX
    except OSError:
        print(f"torch index: PyPI only ({TORCH_CPU_INDEX} does not answer; PyPI's torch is the CUDA build, ~3 GB more)")
        return ""


def build(dockerfile: str, tag: str, build_args: dict[str, str], no_cache: bool = False, timeout: float = 5400) -> float:
    """docker build from the repository root; returns the seconds it took."""
    args = [a for k, v in build_args.items() for a in ("--build-arg", f"{k}={v}")] + (["--no-cache"] if no_cache else [])
    started = time.monotonic()
    BUILD.mkdir(parents=True, exist_ok=True)
    log = BUILD / f"build-{tag.replace('/', '_').replace(':', '_')}.log"
    with open(log, "w") as out:
        proc = subprocess.run(["docker", "build", "-f", dockerfile, *args, "-t", tag, str(REPO)],
                              stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    if proc.returncode != 0:
        raise DockerError(f"docker build -f {dockerfile} failed: see {log}")
    return time.monotonic() - started


def image_size_mb(tag: str) -> float:
    return int(docker("image", "inspect", "-f", "{{.Size}}", tag).stdout.strip()) / 1e6


def inspect(container: str) -> dict:
    return json.loads(docker("inspect", container).stdout)[0]


def published_port(container: str, port: int) -> int:
    """The host port Docker chose for a container port published as 127.0.0.1:0:<port>."""
    return int(docker("port", container, f"{port}/tcp").stdout.split(":")[-1].split()[0])


def remove(container: str) -> None:
    docker("rm", "-f", "-v", container, check=False)


def processes(container: str) -> list[tuple[int, str]]:
    """(host pid, command line) of every process in a running container."""
    out = docker("top", container, "-eo", "pid,args").stdout.splitlines()[1:]
    return [(int(line.split(None, 1)[0]), line.split(None, 1)[1]) for line in out if line.strip()]
