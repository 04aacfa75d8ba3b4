"""The alerting rules an operator pages on (docker/prometheus/alerts.yml), checked and unit-tested by promtool.

`make test` installs promtool (Debian's prometheus package) where it runs as root; elsewhere these skip with
the reason. The unit tests feed each rule series shaped like TorchServe's and expect it to fire or stay quiet.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from genai_ops.registry import REPO_ROOT

RULES = REPO_ROOT / "docker" / "prometheus"
promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(promtool is None, reason="promtool not installed (Debian: apt-get install prometheus)")


@needs_promtool
def test_rules_are_valid():
    proc = subprocess.run([promtool, "check", "rules", str(RULES / "alerts.yml")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_promtool
def test_rule_unit_tests_pass():
    proc = subprocess.run([promtool, "test", "rules", str(RULES / "alerts_test.yml")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_promtool
def test_a_broken_threshold_fails_the_unit_tests(tmp_path):
    """The unit tests can fail: the same tests against rules with one threshold moved must not pass."""
    rules = (RULES / "alerts.yml").read_text()
    assert "> 0.05" in rules
    (tmp_path / "alerts.yml").write_text(rules.replace("> 0.05", "> 0.5"))
    shutil.copy(RULES / "alerts_test.yml", tmp_path)
    proc = subprocess.run([promtool, "test", "rules", str(tmp_path / "alerts_test.yml")], capture_output=True, text=True)
    assert proc.returncode != 0 and "GenaiOverloaded" in proc.stdout + proc.stderr


def test_every_alert_has_a_unit_test_and_prometheus_loads_the_file():
    alerts = {r["alert"] for g in yaml.safe_load((RULES / "alerts.yml").read_text())["groups"] for r in g["rules"]}
    tests = yaml.safe_load((RULES / "alerts_test.yml").read_text())["tests"]
    tested = {case["alertname"] for t in tests for case in t.get("alert_rule_test", []) if case.get("exp_alerts")}
    assert alerts == tested  # each alert is shown to fire at least once
    config = yaml.safe_load((RULES / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    dockerfile = (RULES / "Dockerfile").read_text()
    assert "COPY docker/prometheus/prometheus.yml docker/prometheus/alerts.yml /etc/prometheus/" in dockerfile
