"""make image-test: build the images from the repository's Dockerfiles and check them from outside.

    python docker/imagetest/run.py [--parts cpu,compose,kserve] [--store DIR] [--no-build]

cpu      the CPU image started as the Deployment runs it (docker/imagetest/container.py): healthy, every model
         answers through the published port, a kill -9 of the JVM is recovered, docker stop ends it cleanly
compose  docker/compose.yaml brings up genai and Prometheus (Debian's package); Prometheus's API returns
         TorchServe's and the scheduler's series and has loaded the alerting rules
kserve   the KServe runtime image (docker/Dockerfile.kserve) started as KServe would start
         deploy/kserve/servingruntime.yaml, called over v1 and v2 with KServe's own client

The store is make all's model_store/ (mounted read-only); --store names another (a project dir's model_store).
Figures (image sizes, build times, start to ready, recovery, stop) are printed and written to
build/image-test/report.json.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compose  # noqa: E402
import container  # noqa: E402
import kserve_runtime  # noqa: E402
from docker_cli import BUILD, REPO, base_image, build, ensure_dockerd, image_size_mb, torch_index  # noqa: E402

CPU_IMAGE = "genai-serve:cpu"
KSERVE_IMAGE = "genai-serve-kserve:cpu"
PROMETHEUS_IMAGE = "genai-prometheus:latest"
KSERVE_PYTHON = REPO / ".venv-kserve" / "bin" / "python"


def build_images(parts: list[str], report: dict, no_cache: bool) -> None:
    base = base_image()
    report["base"] = base
    builds = {CPU_IMAGE: ("docker/Dockerfile", {"BASE_IMAGE": base, "TORCH_INDEX_URL": torch_index()})}
    if "compose" in parts:
        builds[PROMETHEUS_IMAGE] = ("docker/prometheus/Dockerfile", {"BASE_IMAGE": base})
    if "kserve" in parts:
        builds[KSERVE_IMAGE] = ("docker/Dockerfile.kserve", {"GENAI_IMAGE": CPU_IMAGE})
    report["build_s"] = {tag: round(build(dockerfile, tag, args, no_cache))
                         for tag, (dockerfile, args) in builds.items()}
    for tag, seconds in report["build_s"].items():
        print(f"built {tag} in {seconds} s")


def check_cpu(store: Path, report: dict) -> list[str]:
    name = "genai-image-test"
    problems = []
    started = container.start(CPU_IMAGE, name, store)
    try:
        container.wait_ready(name)
        report["start_to_ready_s"] = round(time.monotonic() - started, 1)
        print(f"ready {report['start_to_ready_s']} s after docker run")
        health = container.wait_healthy(name)
        report["healthcheck"] = health
        print(f"HEALTHCHECK: {health}")
        problems += [] if health == "healthy" else [f"HEALTHCHECK says {health}"]
        statuses = container.answer_all(name)
        problems += [f"{m}: HTTP {s} through the published port" for m, s in statuses.items() if s != 200]
        report["jvm_kill_recovery_s"] = round(container.kill_jvm(name), 1)
        print(f"kill -9 of the JVM: ready again in {report['jvm_kill_recovery_s']} s")
        after = container.answer_all(name)
        problems += [f"{m}: HTTP {s} after the JVM kill" for m, s in after.items() if s != 200]
        took, code, left = container.stop(name)
        report["docker_stop"] = {"seconds": round(took, 1), "exit_code": code, "processes_left": len(left)}
        print(f"docker stop: {took:.1f} s, exit code {code}, {len(left)} process(es) left")
        if code != 0 or left or took >= container.STOP_GRACE_S:
            problems.append(f"docker stop: exit {code} after {took:.1f} s with {left} left")
    finally:
        container.remove(name)
    return problems


def check_kserve(store: Path, report: dict) -> list[str]:
    bundle = BUILD / "kserve-bundle"
    subprocess.run([sys.executable, "-m", "export.kserve_bundle", "--base", str(store.parent), "--out", str(bundle)],
                   cwd=REPO, check=True)
    name = "genai-kserve-test"
    started = time.monotonic()
    port = kserve_runtime.start(KSERVE_IMAGE, name, bundle)
    try:
        models = [s for s in kserve_runtime.load_registry()]
        kserve_runtime.wait_ready(name, port, models)
        report["kserve_start_to_ready_s"] = round(time.monotonic() - started, 1)
        print(f"KServe runtime ready {report['kserve_start_to_ready_s']} s after docker run")
        todo = kserve_runtime.cases()
        results = kserve_runtime.call(KSERVE_PYTHON, port, todo)
        for case, result in zip(todo, results):
            print(f"  {case['model']:<10} {case['protocol']}  {'ok' if result['ok'] else result.get('status')}  "
                  f"{json.dumps(result.get('answer', result.get('error')))[:90]}")
        report["kserve_cases"] = {"passed": len(todo) - len(problems := kserve_runtime.judge(todo, results)),
                                  "total": len(todo)}
        return problems
    finally:
        container.remove(name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="cpu,compose,kserve")
    parser.add_argument("--store", type=Path, default=REPO / "model_store")
    parser.add_argument("--no-build", action="store_true", help="use the images already built")
    parser.add_argument("--no-cache", action="store_true", help="rebuild every layer (for build-time figures)")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    if not any(args.store.glob("*.mar")):
        raise SystemExit(f"{args.store} holds no archives: run `make all` (or `make archive`) first, or pass --store")
    ensure_dockerd()
    report: dict = {"store": str(args.store)}
    if not args.no_build:
        build_images(parts, report, args.no_cache)
    report["image_mb"] = {t: round(image_size_mb(t)) for t in (CPU_IMAGE, KSERVE_IMAGE, PROMETHEUS_IMAGE)
                          if kserve_runtime.docker("image", "inspect", t, check=False).returncode == 0}
    problems = []
    if "cpu" in parts:
        problems += check_cpu(args.store, report)
    if "compose" in parts:
        problems += compose.check(args.store, report, base_image())
    if "kserve" in parts:
        problems += check_kserve(args.store, report)
    report["problems"] = problems
    BUILD.mkdir(parents=True, exist_ok=True)
    (BUILD / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print("image-test: PASS" if not problems else "image-test: FAIL\n  " + "\n  ".join(problems))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
