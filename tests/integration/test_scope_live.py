"""Scope on a live cluster: a namespace that does not exist is said to not exist.

Before, ``check --all -n no-such-namespace`` diagnosed an empty namespace: missing Secrets,
no Logos, exit 1, as if the namespace had been emptied.  The one-line error says what is
wrong and lists what does exist.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def doctor(cluster: Any, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "logos_doctor", *args, "--kubeconfig", str(cluster.kubeconfig)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_a_namespace_that_does_not_exist_is_an_error_not_an_empty_diagnosis(
    cluster: Any, namespace: str
) -> None:
    absent = f"{namespace}-absent"
    result = doctor(cluster, "check", "--all", "-n", absent, "-o", "json")
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout == ""
    assert f"namespace {absent} does not exist" in result.stderr
    assert namespace in result.stderr  # the namespaces that do exist are listed
    assert "Traceback" not in result.stderr


def test_an_existing_empty_namespace_is_diagnosed(cluster: Any, namespace: str) -> None:
    result = doctor(cluster, "check", "--all", "-n", namespace, "-o", "json")
    assert result.returncode in (0, 1), result.stderr
    assert json.loads(result.stdout)["cluster"]["namespaces"] == [namespace]


def test_snapshot_refuses_a_namespace_that_does_not_exist(
    cluster: Any, namespace: str, tmp_path: Any
) -> None:
    out = tmp_path / "s.json.gz"
    result = doctor(cluster, "snapshot", "-n", f"{namespace}-absent", "-o", str(out))
    assert result.returncode == 3 and not out.exists()
    assert "does not exist" in result.stderr
