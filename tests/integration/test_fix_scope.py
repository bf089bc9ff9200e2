"""A cluster-scoped fix does not need the Logos namespace.

The production guide creates ``ssd-premium`` before it installs the chart, so the on-call
engineer may run ``fix storageclass`` on a cluster that has no ``logos`` namespace yet.  That
used to end in ``internal error: NotFound: namespaces "logos" not found``: the fix lock is a
Lease, and it was taken in a namespace that did not exist.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

pytestmark = pytest.mark.integration


def fix(
    cluster: Any, tmp_path: Path, config: dict[str, Any], *args: str
) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "logos-doctor.yaml"
    cfg.write_text(yaml.safe_dump(config))
    cmd = [
        sys.executable,
        "-m",
        "logos_doctor",
        "fix",
        *args,
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--config",
        str(cfg),
        "--state-dir",
        str(tmp_path / "state"),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def test_fix_storageclass_works_before_the_namespace_exists(
    cluster: Any, api: Any, namespace: str, tmp_path: Path
) -> None:
    absent, class_name = f"{namespace}-notyet", f"sc-{namespace}"
    storage = client.StorageV1Api(api)
    try:
        result = fix(
            cluster,
            tmp_path,
            {"namespace": absent, "storageClass": {"name": class_name}},
            "storageclass",
            "--yes",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "internal error" not in result.stderr
        assert f"namespace {absent} does not exist yet" in result.stderr
        created = storage.read_storage_class(class_name)
        assert created.provisioner == "ebs.csi.aws.com"
        assert created.volume_binding_mode == "WaitForFirstConsumer"
    finally:
        with contextlib.suppress(client.exceptions.ApiException):
            storage.delete_storage_class(class_name)


def test_fix_pvc_in_a_namespace_that_does_not_exist_says_so_and_changes_nothing(
    cluster: Any, api: Any, namespace: str, tmp_path: Path
) -> None:
    absent, class_name = f"{namespace}-notyet", f"sc-{namespace}-pvc"
    result = fix(
        cluster,
        tmp_path,
        {"namespace": absent, "storageClass": {"name": class_name}},
        "pvc",
        "--yes",
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"namespace {absent} does not exist" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    names = [sc.metadata.name for sc in client.StorageV1Api(api).list_storage_class().items]
    assert class_name not in names
