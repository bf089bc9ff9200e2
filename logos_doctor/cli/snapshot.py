"""``snapshot``: record what the checks read, for offline diagnosis."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from logos_doctor.cli.app import cli
from logos_doctor.cli.options import ClusterOptions, cluster_options, registry_with_warnings
from logos_doctor.cluster import snapshot as snapshots
from logos_doctor.cluster.collect import kinds_for, require_namespaces, resolve_scope
from logos_doctor.gather import fetch_one
from logos_doctor.outcome import Target


@cli.command("snapshot")
@click.option("-o", "--output", "path", required=True, metavar="FILE", help="FILE.json[.gz]")
@cluster_options()
def snapshot_cmd(path: str, cluster: ClusterOptions) -> None:
    """Record what the checks read, for offline diagnosis (Secret values never stored)."""
    config = cluster.load_config()
    registry = registry_with_warnings()
    scope = resolve_scope(cluster.namespace, cluster.all_namespaces, config)
    target = Target(cluster.kubeconfig, cluster.one_context("snapshot"))
    state = fetch_one(
        target, kinds_for(registry, scope), scope, cluster.timeout, sys.stderr.isatty()
    )
    require_namespaces(state)
    out = Path(path).expanduser()
    snapshots.save(state, out)
    total = sum(len(v) for v in state.objects.values())
    click.echo(f"wrote {out}: {total} objects of {len(state.objects)} kinds", err=True)
