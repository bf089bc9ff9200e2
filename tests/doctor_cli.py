"""Running logos-doctor against the test cluster as the on-call engineer does: the command
line, JSON out, and a check that the checks under test really ran (a check skipped for a
kind it could not list would make every "no finding" assertion pass)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

PROG = Path(sys.executable).parent / "logos-doctor"


def check_all(
    cluster: Any,
    namespace: str,
    *,
    ran: Iterable[str] = (),
    config: dict[str, Any] | None = None,
    tmp_path: Path | None = None,
) -> dict[str, Any]:
    """``check --all -n NAMESPACE -o json --fail-on never``; the checks in ``ran`` must have
    run (status ok or findings)."""
    cmd = [str(PROG), "check", "--all", "-n", namespace, "-o", "json",
           "--kubeconfig", str(cluster.kubeconfig), "--fail-on", "never"]  # fmt: skip
    if config:
        assert tmp_path is not None, "a config needs tmp_path to be written to"
        path = tmp_path / "logos-doctor.yaml"
        path.write_text(yaml.safe_dump(config))
        cmd += ["--config", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    wanted = set(ran)
    status = {c["id"]: c["status"] for c in doc["checks"] if c["id"] in wanted}
    assert set(status) == wanted, doc["checks"]
    assert all(s in ("ok", "findings") for s in status.values()), doc["checks"]
    return doc
