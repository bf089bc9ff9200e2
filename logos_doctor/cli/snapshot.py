"""``snapshot``: record what the checks read, for offline diagnosis."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from logos_doctor.cli import leave
from logos_doctor.cli.app import cli
from logos_doctor.cli.options import (
    ClusterOptions,
    cluster_options,
    examples,
    registry_with_warnings,
)
from logos_doctor.cluster import snapshot as snapshots
from logos_doctor.cluster.collect import kinds_for, require_namespaces, resolve_scope
from logos_doctor.errors import UsageError
from logos_doctor.gather import fetch_one
from logos_doctor.outcome import Target


@cli.command(
    "snapshot",
    epilog=examples(
        "logos-doctor snapshot cluster.json.gz -n logos",
        "logos-doctor snapshot prod.json --context prod -A",
        "logos-doctor check --snapshot cluster.json.gz",
    ),
)
@click.argument("file", metavar="FILE", required=False)
# -o was the file before -o meant an output format on every command; still accepted, unlisted.
@click.option("-o", "--output", "legacy_path", metavar="FILE", hidden=True)
@cluster_options()
def snapshot_cmd(file: str | None, legacy_path: str | None, cluster: ClusterOptions) -> None:
    """Record what the checks read into FILE.json[.gz], for offline diagnosis.

    Secret values are never stored (names, types and key names only).
    """
    if file and legacy_path:
        raise UsageError("give the snapshot FILE once (as an argument)")
    path = file or legacy_path
    if not path:
        raise UsageError("missing FILE", "for example: logos-doctor snapshot cluster.json.gz")
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
    leave.done(0)  # the file is closed: the state need not be freed object by object
