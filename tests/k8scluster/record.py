"""Record scenarios from the real test cluster as snapshot fixtures for the unit tests.

    python -m k8scluster.record NAME [NAME ...]     (PYTHONPATH=tests; cluster up)
    python -m k8scluster.record --list

For each NAME: a fresh namespace ``rec-<name>``, the scenario built in it by the real
controllers, then ``logos-doctor snapshot`` of that namespace written to
``tests/fixtures/snapshots/NAME.json.gz``, and the scenario's config overrides (if any) to
``NAME.config.yaml`` beside it.  The namespace is deleted afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
from pathlib import Path

import yaml
from kubernetes import client

from . import cluster
from .kube import api_client, wait_for
from .scenarios import cleanup_cluster_scoped, load_all

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "fixtures" / "snapshots"


def record(name: str, kubeconfig: Path) -> Path:
    """Build scenario ``name`` in a fresh namespace and snapshot it."""
    scenarios = load_all()
    fn = scenarios[name]
    api = api_client(kubeconfig)
    ns = "rec-" + name.replace("_", "-")[:40]
    core = client.CoreV1Api(api)
    with contextlib.suppress(client.exceptions.ApiException):  # absent: nothing to clear
        core.delete_namespace(ns)

    def absent() -> bool:
        try:
            core.read_namespace(ns)
        except client.exceptions.ApiException as exc:
            return exc.status == 404
        return False

    wait_for(absent, 120, f"old namespace {ns} to go away")
    core.create_namespace({"metadata": {"name": ns}})
    try:
        overrides = fn(api, ns)
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / f"{name}.json.gz"
        cfg = OUT / f"{name}.config.yaml"
        if overrides:
            cfg.write_text(yaml.safe_dump(overrides, sort_keys=True))
        elif cfg.exists():
            cfg.unlink()
        # The snapshot is taken with the scenario's config: it decides what is fetched too
        # (the monitoring namespace's ServiceMonitors, Prometheus's answers).
        cmd = [sys.executable, "-m", "logos_doctor", "snapshot", "-n", ns,
               "--kubeconfig", str(kubeconfig), "-o", str(path),
               *(["--config", str(cfg)] if overrides else [])]
        subprocess.run(cmd, check=True)
        return path
    finally:
        core.delete_namespace(ns)
        cleanup_cluster_scoped(api, ns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m k8scluster.record")
    parser.add_argument("names", nargs="*")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    scenarios = load_all()
    if args.list or not args.names:
        print("\n".join(sorted(scenarios)))
        return 0
    unknown = [n for n in args.names if n not in scenarios]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    kubeconfig = cluster.kubeconfig_path()
    for name in args.names:
        print(f"recorded {record(name, kubeconfig)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
