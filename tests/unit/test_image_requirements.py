"""The container images' Python pins exist on PyPI and fit together (network tests; they run in `make test`).

For each image: work out its requirement list with the command its Dockerfile's RUN step runs
(docker/requirements.py, --gpu for the GPU image), then let pip resolve that list for the image's platform
(its Python, manylinux tags up to its glibc) without installing anything, and read pip's JSON report:
every pin is in the result at its version, exactly one of onnxruntime / onnxruntime-gpu is (both install the
module `onnxruntime`), and in the GPU image torch's CUDA and cuDNN majors are the ones onnxruntime-gpu's
extras name and the base image ships.

Only PyPI is asked: the CPU Dockerfile also names the PyTorch CPU index (for torch 2.14.1+cpu), which is not
reachable from this machine or CI; PyPI's torch==2.14.1 satisfies the same pin, so the list is resolved there.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from genai_ops.registry import REPO_ROOT

# docker/requirements.py is a script the Dockerfiles run, not a package module: load it by path.
_spec = importlib.util.spec_from_file_location("image_requirements", REPO_ROOT / "docker/requirements.py")
image_requirements = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(image_requirements)
canonical = image_requirements.canonical

ONNXRUNTIMES = {"onnxruntime", "onnxruntime-gpu"}


@dataclass(frozen=True)
class Image:
    dockerfile: str
    command: tuple[str, ...]  # what the Dockerfile runs (after its python) to write requirements.txt
    base: str  # every FROM of the Dockerfile; python and glibc below are facts about this base
    python: str
    glibc: tuple[int, int]
    onnxruntime: str  # the one onnxruntime distribution the image must hold

    def platforms(self) -> list[str]:
        """pip --platform values: pip takes each literally, so list every manylinux tag the image's glibc runs."""
        major, minor = self.glibc
        tags = [f"manylinux_{major}_{m}_x86_64" for m in range(minor, 4, -1)]
        return tags + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]


IMAGES = {
    "gpu": Image("docker/Dockerfile.gpu", ("docker/requirements.py", "--gpu"),
                 "nvidia/cuda:13.0.3-cudnn-runtime-ubuntu24.04", "3.12", (2, 39), "onnxruntime-gpu"),
    "cpu": Image("docker/Dockerfile", ("docker/requirements.py",), "python:3.11-slim-bookworm", "3.11", (2, 36),
                 "onnxruntime"),
}


def image_requirement_list(image: Image) -> list[str]:
    out = subprocess.run([sys.executable, *image.command], cwd=REPO_ROOT, capture_output=True, text=True,
                         check=True, timeout=60)
    return out.stdout.split()


def clean_pip_env() -> dict[str, str]:
    """No pip configuration from this machine (local wheel dirs, extra indexes, the torch cap): PyPI only,
    as inside the image. The CA bundle and timeout stay (a proxy may need the first)."""
    keep = {"PIP_CERT", "PIP_DEFAULT_TIMEOUT"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k in keep}
    env["PIP_CONFIG_FILE"] = os.devnull  # pip then reads no configuration file at all
    return env


# pip reads each wheel's metadata from the index's metadata file where the index serves one and otherwise downloads
# the whole wheel into its temporary directory (deleted when it exits). The PyPI this machine reaches serves none, so
# resolving the GPU list passes about 3.5 GB through TMPDIR (torch and the CUDA wheels): ask for room first, so a full
# disk reads as that rather than as a pip error in the middle of the list.
RESOLVE_NEEDS_FREE_GB = 5


def resolve(requirements: list[str], image: Image, tmp: Path) -> dict:
    """pip's installation report for `requirements` on the image's platform; nothing installed."""
    free_gb = shutil.disk_usage(tempfile.gettempdir()).free / 1e9
    assert free_gb >= RESOLVE_NEEDS_FREE_GB, (
        f"resolving {image.dockerfile}'s list needs {RESOLVE_NEEDS_FREE_GB} GB free in {tempfile.gettempdir()} "
        f"(pip downloads whole wheels where the index has no metadata files); {free_gb:.1f} GB is free")
    req_file = tmp / "requirements.txt"
    req_file.write_text("\n".join(requirements) + "\n")
    report = tmp / "report.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
           "--report", str(report), "--index-url", "https://pypi.org/simple",
           "--cache-dir", str(Path(tempfile.gettempdir()) / "genai-serve-pip-cache"),
           # --target: pip refuses platform options for an install into this interpreter; with --dry-run
           # nothing is written there.
           "--target", str(tmp / "unused-target"),
           "--only-binary=:all:", "--implementation", "cp", "--python-version", image.python,
           *[arg for tag in image.platforms() for arg in ("--platform", tag)],
           "-r", str(req_file)]
    result = subprocess.run(cmd, env=clean_pip_env(), capture_output=True, text=True, timeout=480)
    assert result.returncode == 0, f"pip could not resolve the {image.dockerfile} list:\n{result.stderr[-4000:]}"
    return json.loads(report.read_text())


def installed(report: dict) -> dict[str, dict]:
    return {canonical(item["metadata"]["name"]): item["metadata"] for item in report["install"]}


def major(version: str) -> int:
    return int(re.match(r"\d+", version).group())


def cuda_majors_named_by_extras(metadata: dict) -> dict[str, int]:
    """{extra: major} from requirements such as 'nvidia-cuda-runtime~=13.0; extra == "cuda"' (CUDA) and
    'nvidia-cudnn-cu13~=9.0; extra == "cudnn"' (cuDNN)."""
    majors = {}
    for line in metadata.get("requires_dist", []):
        req = Requirement(line)
        name, spec = canonical(req.name), next(iter(req.specifier), None)
        if spec is None or req.marker is None:
            continue
        if name.startswith("nvidia-cuda-runtime"):
            majors["cuda"] = major(spec.version)
        elif name.startswith("nvidia-cudnn"):
            majors["cudnn"] = major(spec.version)
    return majors


# -- offline: the list itself -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", IMAGES)
def test_dockerfile_writes_its_list_with_the_shared_script_on_the_base_the_test_knows(name):
    image = IMAGES[name]
    text = (REPO_ROOT / image.dockerfile).read_text()
    assert f"{' '.join(image.command)} > requirements.txt" in text  # the RUN step the test repeats
    assert "COPY docker/requirements.py docker/" in text
    # A new base changes the Python and glibc pip must resolve for: update Image along with the base.
    assert dockerfile_bases(text) == {image.base}


def dockerfile_bases(text: str) -> set[str]:
    """The images every FROM line names by default, with each `ARG NAME=default` before it substituted."""
    defaults = dict(line.split()[1].split("=", 1) for line in text.splitlines()
                    if line.startswith("ARG ") and "=" in line)
    bases = set()
    for line in text.splitlines():
        if line.startswith("FROM "):
            base = line.split()[1]
            bases.add(re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], base))
    return bases - {"deps"}  # a later stage FROM an earlier one


def test_gpu_list_is_the_project_list_with_the_override_applied():
    cpu, gpu = image_requirement_list(IMAGES["cpu"]), image_requirement_list(IMAGES["gpu"])
    changed = [(c, g) for c, g in zip(cpu, gpu) if c != g]
    assert len(cpu) == len(gpu) and changed == [("onnxruntime==1.32.0", "onnxruntime-gpu==1.31.1")]


def test_a_stale_gpu_override_is_refused(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["numpy==2.4.6"]\n'
                         '[tool.genai-serve.gpu]\nreplace = { onnxruntime = "onnxruntime-gpu==1.31.1" }\n')
    with pytest.raises(SystemExit, match="onnxruntime"):
        image_requirements.requirements(pyproject, gpu=True)
    pyproject.write_text('[project]\ndependencies = ["onnxruntime_GPU>=1", "numpy==2.4.6"]\n'
                         '[tool.genai-serve.gpu]\nreplace = { "onnxruntime-gpu" = "onnxruntime-gpu==1.31.1" }\n')
    assert image_requirements.requirements(pyproject, gpu=True) == ["onnxruntime-gpu==1.31.1", "numpy==2.4.6"]


KSERVE_LOCK = REPO_ROOT / "docker" / "kserve-requirements.txt"


def kserve_lock() -> list[str]:
    return [line.strip() for line in KSERVE_LOCK.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_kserve_runtime_image_installs_its_lock_on_the_cpu_image():
    text = (REPO_ROOT / "docker" / "Dockerfile.kserve").read_text()
    assert "COPY docker/kserve-requirements.txt /tmp/kserve-requirements.txt" in text
    assert "pip install --no-cache-dir -r /tmp/kserve-requirements.txt" in text
    assert dockerfile_bases(text) == {"genai-serve:cpu"}  # so it shares the CPU image's Python and glibc
    lock = kserve_lock()
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+==[\w.+!-]+", line) for line in lock), "every line an exact pin"
    assert "kserve==0.21.0" in lock


# -- network: the list resolves on PyPI for the image's platform ----------------------------------------------------
def check_resolves(image: Image, tmp: Path) -> dict[str, dict]:
    requirements = image_requirement_list(image)
    got = installed(resolve(requirements, image, tmp))
    for line in requirements:
        req = Requirement(line)
        pinned = [s.version for s in req.specifier if s.operator == "=="]
        assert canonical(req.name) in got, f"{line} is not in the resolution"
        if pinned:
            assert got[canonical(req.name)]["version"] == pinned[0], line
    assert ONNXRUNTIMES & set(got) == {image.onnxruntime}, "exactly one onnxruntime distribution"
    return got


@pytest.mark.network
def test_cpu_image_pins_resolve_on_pypi(tmp_path):
    check_resolves(IMAGES["cpu"], tmp_path)


@pytest.mark.network
def test_gpu_image_pins_resolve_on_pypi_with_matching_cuda_majors(tmp_path):
    image = IMAGES["gpu"]
    got = check_resolves(image, tmp_path)
    # What torch's CUDA build loads: the CUDA runtime and cuDNN wheels it depends on (nvidia-cudnn-cu13 -> 13).
    torch_cuda = major(got["nvidia-cuda-runtime"]["version"]) if "nvidia-cuda-runtime" in got else None
    cudnn = [name for name in got if re.fullmatch(r"nvidia-cudnn-cu\d+", name)]
    assert torch_cuda is not None and len(cudnn) == 1, sorted(got)
    assert int(cudnn[0].rsplit("cu", 1)[1]) == torch_cuda
    torch_cudnn = major(got[cudnn[0]]["version"])
    # What onnxruntime-gpu loads: the majors its `cuda` / `cudnn` extras name.
    ort = cuda_majors_named_by_extras(got["onnxruntime-gpu"])
    base_cuda = int(re.search(r":(\d+)\.", image.base).group(1))
    assert ort == {"cuda": torch_cuda, "cudnn": torch_cudnn}, (ort, torch_cuda, torch_cudnn)
    assert base_cuda == torch_cuda and "cudnn" in image.base  # nvidia/cuda's CUDA 13 cudnn tags carry cuDNN 9


@pytest.mark.network
def test_kserve_runtime_lock_resolves_on_pypi_exactly(tmp_path):
    """The runtime image's KServe venv, resolved for the CPU image's platform: nothing beyond the lock, every pin
    at its version (a lock that resolves to something else would install something else)."""
    lock = kserve_lock()
    got = installed(resolve(lock, IMAGES["cpu"], tmp_path))
    pins = {canonical(line.split("==")[0]): line.split("==")[1] for line in lock}
    assert {name: meta["version"] for name, meta in got.items()} == pins
