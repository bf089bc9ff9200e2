"""``check``: diagnose a cluster or a snapshot (the run itself is in ``logos_doctor.gather``)."""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import click

from logos_doctor.cli import leave
from logos_doctor.cli.app import cli
from logos_doctor.cli.options import (
    CheckListCommand,
    ClusterOptions,
    cluster_options,
    examples,
    registry_with_warnings,
)
from logos_doctor.cluster.kinds import PAGE_SIZE
from logos_doctor.config import Config
from logos_doctor.errors import UsageError
from logos_doctor.finding import Severity
from logos_doctor.gather import STATS_ENV, gather, write_stats
from logos_doctor.outcome import Outcome
from logos_doctor.render.formats import render_other
from logos_doctor.render.json_clusters import multi_json
from logos_doctor.render.json_out import report_json
from logos_doctor.render.json_text import json_pieces

if TYPE_CHECKING:
    from logos_doctor.cluster.fetch import FetchStats

FORMATS = ("table", "plain", "json", "markdown", "junit", "prometheus")


def exit_status(outcomes: Sequence[Outcome], fail_on: str) -> int:
    """1 for findings at or above ``fail_on``; 3 if a cluster or every check failed; else 0."""
    if fail_on == "new":  # only findings new since --baseline (baseline.py)
        from logos_doctor.annotate import new_findings

        new = any(o.report and new_findings(o.report) for o in outcomes)
        return 1 if new else _errors(outcomes)
    threshold = None if fail_on == "never" else Severity.parse(fail_on)
    for out in outcomes:
        if out.report and threshold is not None:
            worst = out.report.worst()
            if worst is not None and worst >= threshold:
                return 1
    return _errors(outcomes)


def _errors(outcomes: Sequence[Outcome]) -> int:
    """3 if a cluster or every check failed; else 0."""
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
) -> str | Iterator[bytes | memoryview] | None:
    """Render to a string (JSON: ASCII bytes in pieces, made as they are written), or print
    rich output directly (returns None).

    A terminal gets the rich tree whether or not ``NO_COLOR`` is set (it only drops colour);
    anything else gets the plain list, wrapped to ``COLUMNS``.
    """
    if fmt == "json":
        if len(outcomes) == 1 and outcomes[0].report:
            return json_pieces(report_json(outcomes[0].report, config))
        return json_pieces(multi_json(outcomes, config))
    if fmt in ("markdown", "junit", "prometheus"):
        return render_other(fmt, outcomes, config, verbose=verbose)
    # Here, not at the top: rich costs a JSON run (a script's, a CI job's) 20 ms to import.
    from rich.console import Console
    from rich.text import Text

    from logos_doctor.render.human import render_plain, render_rich

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


@cli.command(
    "check",
    cls=CheckListCommand,
    epilog=examples(
        "logos-doctor check                       the configured namespace (logos)",
        "logos-doctor check -A -o json            every namespace, as JSON",
        "logos-doctor check image-pull storage-class -n logos --context prod",
        "logos-doctor check --snapshot cluster.json.gz   offline, from a snapshot",
    ),
)
@cluster_options(checks=True, many_contexts=True, selector=True)
@click.option("--all-contexts", is_flag=True, help="Check every context in the kubeconfig.")
@click.option("--snapshot", metavar="FILE", help="Diagnose a recorded snapshot, offline.")
@click.option(
    "-o", "--output", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)
@click.option(
    "--fail-on",
    type=click.Choice(["warning", "critical", "new", "never"]),
    default="warning",
    show_default=True,
    help="Exit 1 when a finding is at least this severe ('new': new since --baseline).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show info findings and more evidence.")
# Known findings, baseline, watch (known.py, baseline.py, watch.py; docs/known-findings.md).
@click.option(
    "--ignore-file",
    metavar="FILE",
    help="Known findings to silence (default: ./.logos-doctor-ignore.yaml if present).",
)
@click.option(
    "--baseline", metavar="FILE", help="A previous 'check -o json': mark findings new/gone."
)
@click.option(
    "--watch",
    type=click.FloatRange(0.5, 3600),
    is_flag=False,
    flag_value=5.0,
    default=None,
    metavar="[SECONDS]",
    help="Redraw the root causes every SECONDS (5) until Ctrl-C, marking what changed.",
)
# Objects per LIST page; hidden: only tests need it (to paginate a small namespace).
@click.option("--page-size", type=click.IntRange(1, 5000), default=PAGE_SIZE, hidden=True)
def check_cmd(
    cluster: ClusterOptions,
    all_contexts: bool,
    snapshot: str | None,
    fmt: str,
    fail_on: str,
    verbose: bool,
    ignore_file: str | None,
    baseline: str | None,
    watch: float | None,
    page_size: int,
) -> None:
    """Run checks against the cluster (or a snapshot) and report root causes."""
    from logos_doctor import known
    from logos_doctor.annotate import annotate

    registry = registry_with_warnings()
    chosen = cluster.select(registry)
    config = cluster.load_config()
    registry.check_severity_keys(config.severity_overrides)
    ignore = known.load_known(ignore_file)
    if fail_on == "new" and not baseline:
        raise UsageError("--fail-on new needs --baseline FILE (a previous 'check -o json')")
    if watch is not None:
        conflicts = {
            "--snapshot": bool(snapshot),
            "--baseline": bool(baseline),
            "--all-contexts": all_contexts,
            f"-o {fmt}": fmt not in ("table", "plain"),
        }
        bad = [flag for flag, given in conflicts.items() if given]
        if bad:
            raise UsageError(f"--watch cannot be combined with {bad[0]}")
        from logos_doctor import watch as watching

        refresh = watching.live_refresh(
            chosen,
            config,
            kubeconfig=cluster.kubeconfig,
            context=cluster.one_context("--watch"),
            namespace=cluster.namespace,
            all_namespaces=cluster.all_namespaces,
            timeout=cluster.timeout,
            page_size=page_size,
            ignore=ignore,
            selector=cluster.selector,
        )
        raise click.exceptions.Exit(watching.run(refresh, watch, verbose=verbose))
    with _collector_paused():  # one-shot, live or offline: see _collector_paused
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
            selector=cluster.selector,
        )
        outcomes = annotate(outcomes, ignore, baseline, datetime.now(UTC).date())
        gathered = time.perf_counter()
        flags = [] if snapshot else cluster.hint_flags()
        text = render(outcomes, fmt, config, verbose, offline=bool(snapshot), scope_flags=flags)
        if isinstance(text, str):
            click.echo(text)
        elif text is not None:
            _write_pieces(text)
        if os.environ.get(STATS_ENV):
            spent = gathered - started
            write_stats(Path(os.environ[STATS_ENV]), outcomes, fetches, spent, started, gathered)
        leave.done(exit_status(outcomes, fail_on))


def _write_pieces(pieces: Iterator[bytes | memoryview]) -> None:
    """``click.echo`` of the text the pieces make, each written as it is made."""
    out: BinaryIO | None = getattr(sys.stdout, "buffer", None)
    if out is None:  # a text-only stdout (an embedding program's io.StringIO)
        click.echo(b"".join(pieces).decode("ascii"))
        return
    sys.stdout.flush()
    for piece in pieces:
        out.write(piece)
    out.write(b"\n")
    out.flush()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic collector off for a one-shot run, from the fetch or load to the output.

    The state (frozen by the live fetch or ``snapshot.load``), the findings and the report
    all live until the run ends and hold no reference cycles, yet each collection that the
    checks and the report's millions of small containers trigger walked every object made
    since the fetch: offline 1.5-2 s of 6 at 93,000 objects (docs/performance.md), with the
    same peak memory.  Only this one-shot path (``--watch`` returns before it): ``serve``
    and the fix run for long, and their fetches keep a normal collector
    (``FetchOptions.freeze``).  On again afterwards only if it was on, for callers that go
    on (tests, in-process).
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
