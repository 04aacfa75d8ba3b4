"""`make setup` must refuse clearly when TorchServe's Java runtime is missing or too old."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def check_java(tmp_path: Path, java_script: str | None) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sed", "head"):  # what the recipe uses besides java
        os.symlink(shutil.which(tool), bin_dir / tool)
    if java_script is not None:
        java = bin_dir / "java"
        java.write_text(f"#!/bin/sh\n{java_script}\n")
        java.chmod(0o755)
    return subprocess.run([shutil.which("make"), "-s", "-C", str(ROOT), "check-java"], env={"PATH": str(bin_dir)},
                          capture_output=True, text=True)


@pytest.mark.parametrize("script, words", [
    (None, "java not found"),
    ("echo 'openjdk version \"11.0.2\" 2019-01-15' >&2", "Java 17+ required"),
])
def test_missing_or_old_java_is_refused_with_a_clear_message(tmp_path, script, words):
    result = check_java(tmp_path, script)
    assert result.returncode != 0
    assert words in result.stderr


def test_java_17_passes(tmp_path):
    assert check_java(tmp_path, "echo 'openjdk version \"17.0.15\" 2025-04-15' >&2").returncode == 0
