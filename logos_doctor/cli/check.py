"""``check``, ``checks`` and ``snapshot``: diagnose a cluster or a snapshot, list checks."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.text import Text

from logos_doctor.cli.app import cli
from logos_doctor.cli.options import ClusterOptions, cluster_options, registry_with_warnings
from logos_doctor.cluster import snapshot as snapshots
from logos_doctor.cluster.collect import (
    fetch_live,
    kinds_for,
    require_namespaces,
    resolve_scope,
    targets,
    within_snapshot,
)
from logos_doctor.cluster.kinds import PAGE_SIZE
from logos_doctor.config import Config
from logos_doctor.errors import DoctorError, UsageError
from logos_doctor.finding import Severity
from logos_doctor.outcome import Outcome, Target
from logos_doctor.registry import Check
from logos_doctor.render.formats import multi_json, render_other
from logos_doctor.render.human import render_plain, render_rich
from logos_doctor.render.json_out import report_json
from logos_doctor.runbook_links import runbook_url
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterState, Scope

if TYPE_CHECKING:
    from logos_doctor.cluster.fetch import FetchStats

FORMATS = ("table", "plain", "json", "markdown", "junit", "prometheus")
# A file to write what the run cost (requests, bytes, time per phase) to, as JSON: for the
# benchmark (bench/run.py), which must not parse it out of the report.
STATS_ENV = "LOGOS_DOCTOR_STATS"


def stderr_console() -> Console:
    """Progress and warnings go to stderr, never stdout."""
    return Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")))


def _fetch_one(
    target: Target,
    kinds: set[str],
    scope: Scope,
    timeout: float,
    show: bool,
    page_size: int = PAGE_SIZE,
    fetches: list[FetchStats] | None = None,
) -> ClusterState:
    """One live fetch; what it cost is appended to ``fetches`` (the caller's, not a global)."""
    if not show:
        state, stats = fetch_live(target, kinds, scope, timeout=timeout, page_size=page_size)
        if fetches is not None:
            fetches.append(stats)
        return state
    console = stderr_console()
    done: list[str] = []
    label = target.context or "current context"
    with console.status(f"Listing {len(kinds)} kinds from {label} …") as status:

        def tick(kind: str) -> None:
            done.append(kind)
            status.update(f"Listing from {label}: {len(done)}/{len(kinds)} kinds")

        state, stats = fetch_live(
            target, kinds, scope, timeout=timeout, on_done=tick, page_size=page_size
        )
        if fetches is not None:
            fetches.append(stats)
        return state


def gather(
    chosen: list[Check],
    config: Config,
    *,
    snapshot: str | None,
    kubeconfig: str | None,
    contexts: Sequence[str],
    all_contexts: bool,
    namespace: str | None,
    all_namespaces: bool,
    timeout: float,
    page_size: int = PAGE_SIZE,
    fetches: list[FetchStats] | None = None,
) -> list[Outcome]:
    """Build the state(s) and run the checks: one outcome per cluster.

    What each live fetch cost is appended to ``fetches`` when given.
    """
    scope = resolve_scope(namespace, all_namespaces, config)
    if snapshot:
        if contexts or all_contexts:
            raise UsageError("--snapshot cannot be combined with --context/--all-contexts")
        state = snapshots.load(Path(snapshot).expanduser())
        if namespace or all_namespaces:  # else the snapshot's own scope
            state = within_snapshot(state, scope, snapshot)
        return [Outcome(Target(None, state.cluster.context), run_checks(state, chosen, config))]
    kinds = kinds_for(chosen, scope)
    wanted = targets(kubeconfig, contexts, all_contexts)
    show = sys.stderr.isatty() and len(wanted) == 1

    def one(target: Target) -> Outcome:
        try:
            state = _fetch_one(target, kinds, scope, timeout, show, page_size, fetches)
            require_namespaces(state)
        except DoctorError as exc:
            if len(wanted) == 1:
                raise
            return Outcome(target, None, exc)
        return Outcome(target, run_checks(state, chosen, config))

    if len(wanted) == 1:
        return [one(wanted[0])]
    with ThreadPoolExecutor(max_workers=min(8, len(wanted))) as pool:
        return list(pool.map(one, wanted))


def exit_status(outcomes: Sequence[Outcome], fail_on: str) -> int:
    """1 for findings at or above ``fail_on``; 3 if a cluster or every check failed; else 0."""
    threshold = None if fail_on == "never" else Severity.parse(fail_on)
    for out in outcomes:
        if out.report and threshold is not None:
            worst = out.report.worst()
            if worst is not None and worst >= threshold:
                return 1
    for out in outcomes:
        if out.error is not None:
            return 3
        if (
            out.report
            and out.report.results
            and all(r.status in ("skipped", "error") for r in out.report.results)
        ):
            return 3
    return 0


def render(
    outcomes: Sequence[Outcome],
    fmt: str,
    config: Config,
    verbose: bool,
    *,
    offline: bool = False,
    scope_flags: Sequence[str] = (),
) -> str | None:
    """Render to a string, or print rich output directly (returns None).

    A terminal gets the rich tree whether or not ``NO_COLOR`` is set (it only drops colour);
    anything else gets the plain list, wrapped to ``COLUMNS``.
    """
    if fmt == "json":
        if len(outcomes) == 1 and outcomes[0].report:
            return json.dumps(report_json(outcomes[0].report, config), indent=2)
        return json.dumps(multi_json(outcomes, config), indent=2)
    if fmt in ("markdown", "junit", "prometheus"):
        return render_other(fmt, outcomes, config, verbose=verbose)
    if fmt == "table" and sys.stdout.isatty():
        console = Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False)
        for out in outcomes:
            if out.report:
                render_rich(
                    out.report, console, verbose=verbose, offline=offline, scope_flags=scope_flags
                )
            else:
                console.print(Text(f"cluster {out.target.context}: {out.error}", style="bold red"))
        return None
    parts = []
    for out in outcomes:
        if out.report:
            parts.append(
                render_plain(out.report, verbose=verbose, offline=offline, scope_flags=scope_flags)
            )
        else:
            parts.append(f"cluster {out.target.context}: error: {out.error}")
    return "\n\n".join(parts)


@cli.command("check")
@cluster_options(checks=True, many_contexts=True)
@click.option("--all-contexts", is_flag=True, help="Check every context in the kubeconfig.")
@click.option("--snapshot", metavar="FILE", help="Diagnose a recorded snapshot, offline.")
@click.option(
    "-o", "--output", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)
@click.option(
    "--fail-on",
    type=click.Choice(["warning", "critical", "never"]),
    default="warning",
    show_default=True,
    help="Exit 1 when a finding is at least this severe.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show info findings and more evidence.")
# Objects per LIST page; hidden: only tests need it (to paginate a small namespace).
@click.option("--page-size", type=click.IntRange(1, 5000), default=PAGE_SIZE, hidden=True)
def check_cmd(
    cluster: ClusterOptions,
    all_contexts: bool,
    snapshot: str | None,
    fmt: str,
    fail_on: str,
    verbose: bool,
    page_size: int,
) -> None:
    """Run checks against the cluster (or a snapshot) and report root causes."""
    registry = registry_with_warnings()
    chosen = cluster.select(registry)
    config = cluster.load_config()
    registry.check_severity_keys(config.severity_overrides)
    started = time.perf_counter()
    fetches: list[FetchStats] = []
    outcomes = gather(
        chosen,
        config,
        snapshot=snapshot,
        kubeconfig=cluster.kubeconfig,
        contexts=cluster.contexts,
        all_contexts=all_contexts,
        namespace=cluster.namespace,
        all_namespaces=cluster.all_namespaces,
        timeout=cluster.timeout,
        page_size=page_size,
        fetches=fetches,
    )
    gathered = time.perf_counter()
    flags = [] if snapshot else cluster.hint_flags()
    text = render(outcomes, fmt, config, verbose, offline=bool(snapshot), scope_flags=flags)
    if text is not None:
        click.echo(text)
    if os.environ.get(STATS_ENV):
        write_stats(
            Path(os.environ[STATS_ENV]), outcomes, fetches, gathered - started, started, gathered
        )
    raise click.exceptions.Exit(exit_status(outcomes, fail_on))


def write_stats(
    path: Path,
    outcomes: Sequence[Outcome],
    fetches: Sequence[FetchStats],
    gather_seconds: float,
    started: float,
    rendered: float,
) -> None:
    """What this run cost, as JSON: requests, bytes and seconds per phase (fetch = the LISTs,
    parse = json.loads inside them, index = building the state, checks = running the checks
    and linking findings, render = building and printing the output)."""
    fetch = sum(s.fetch_seconds for s in fetches)
    index = sum(s.index_seconds for s in fetches)
    by_kind: dict[str, int] = {}
    for s in fetches:
        for kind, n in s.by_kind.items():
            by_kind[kind] = by_kind.get(kind, 0) + n
    objects: dict[str, int] = {}
    for out in outcomes:
        if out.report:
            for kind, items in out.report.state.objects.items():
                objects[kind] = objects.get(kind, 0) + len(items)
    data = {
        "requests": sum(s.requests for s in fetches),
        "retries": sum(s.retries for s in fetches),
        "bytes": sum(s.bytes for s in fetches),
        "requests_by_kind": by_kind,
        "objects": objects,
        "seconds": {
            "fetch": round(fetch, 4),
            "parse": round(sum(s.parse_seconds for s in fetches), 4),
            "index": round(index, 4),
            "checks": round(max(0.0, gather_seconds - fetch - index), 4),
            "render": round(time.perf_counter() - rendered, 4),
            "command": round(time.perf_counter() - started, 4),
        },
    }
    path.write_text(json.dumps(data, indent=2))


@cli.command("checks")
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table")
def checks_cmd(fmt: str) -> None:
    """List the registered checks and the causes each can report."""
    registry = registry_with_warnings()
    rows = [
        {
            "id": c.id,
            "title": c.title,
            "severity": c.severity.label,
            "kinds": list(c.kinds),
            "causes": [
                {
                    "id": cause.id,
                    "title": cause.title,
                    "severity": cause.severity.label,
                    "runbook": {
                        "id": c.runbook,
                        "cause": cause.anchor,
                        "url": runbook_url(c.runbook, cause.anchor),
                    },
                    "fix": cause.fix,
                }
                for cause in c.cause_table.values()
            ],
            "runbook": c.runbook,
            "fix": c.fix,
        }
        for c in registry
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from tabulate import tabulate

    table: list[list[str]] = []
    for c in registry:
        table.append([c.id, c.title, c.severity.label, f"{c.runbook}.md", c.fix or "-"])
        table += [
            [
                f"  {cause.id}",
                cause.title,
                cause.severity.label,
                f"{c.runbook}#{cause.anchor}",
                cause.fix or "-",
            ]
            for cause in c.cause_table.values()
        ]
    headers = ["CHECK/CAUSE", "TITLE", "SEVERITY", "RUNBOOK", "FIX"]
    click.echo(tabulate(table, headers=headers, tablefmt="plain"))


@cli.command("snapshot")
@click.option("-o", "--output", "path", required=True, metavar="FILE", help="FILE.json[.gz]")
@cluster_options()
def snapshot_cmd(path: str, cluster: ClusterOptions) -> None:
    """Record what the checks read, for offline diagnosis (Secret values never stored)."""
    config = cluster.load_config()
    registry = registry_with_warnings()
    scope = resolve_scope(cluster.namespace, cluster.all_namespaces, config)
    target = Target(cluster.kubeconfig, cluster.one_context("snapshot"))
    state = _fetch_one(
        target, kinds_for(registry, scope), scope, cluster.timeout, sys.stderr.isatty()
    )
    require_namespaces(state)
    out = Path(path).expanduser()
    snapshots.save(state, out)
    total = sum(len(v) for v in state.objects.values())
    click.echo(f"wrote {out}: {total} objects of {len(state.objects)} kinds", err=True)
