"""deploy/prometheus: the rules are valid, their promtool unit tests pass, every alert is
tested, and the example scrape configuration is valid."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT, require_tool

DEPLOY = ROOT / "deploy" / "prometheus"
RULES = DEPLOY / "vcfleet-rules.yml"
TESTS = sorted((DEPLOY / "tests").glob("*.yml"))


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("promtool"), *map(str, args)], cwd=DEPLOY,
                          capture_output=True, text=True, timeout=60)


def test_check_rules() -> None:
    proc = promtool("check", "rules", RULES)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rule_unit_tests() -> None:
    assert TESTS
    proc = promtool("test", "rules", *TESTS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_example_config() -> None:
    proc = promtool("check", "config", DEPLOY / "prometheus.example.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_alert_has_a_firing_test() -> None:
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    fired: set[str] = set()
    for path in TESTS:
        doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                if case.get("exp_alerts"):
                    fired.add(case["alertname"])
    assert alerts - fired == set(), "alerts without a test that makes them fire"
