"""Nothing real is silent, on the real control plane.

Scenario: pods of logos-chat are refused by a ResourceQuota, and the engineer runs only the
checks that do not know quotas (as with any cause logos-doctor has no check for yet).  The
ReplicaSet controller's FailedCreate must still reach the first screen, quoted, as the root
cause the Deployment's finding hangs from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from k8scluster.scenarios import load_all

pytestmark = pytest.mark.integration


def test_an_unknown_cause_is_quoted_as_the_root_of_the_deployment(
    cluster: Any, api: Any, namespace: str
) -> None:
    load_all()["replicas_refused_by_quota"](api, namespace)
    cmd = [sys.executable, "-m", "logos_doctor", "check", "workloads", "warnings", "-n", namespace,
           "-o", "json", "--kubeconfig", str(cluster.kubeconfig)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    quoted = [f for f in findings if (f["check"], f["cause"]) == ("warnings", "unrecognised")]
    assert quoted, findings
    root = quoted[0]
    assert root["resource"]["kind"] == "ReplicaSet" and root["root_cause"] is True
    assert "replicaset-controller" in root["message"] and "exceeded quota" in root["message"]
    workload = [f for f in findings if f["check"] == "workloads"]
    assert workload
    for f in workload:
        assert {"check": "warnings", "cause": "unrecognised"}.items() <= f["caused_by"][0].items()
