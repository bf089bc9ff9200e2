"""One run of the checks: build the state(s), live or from a snapshot, and run the checks.

``gather`` is what ``check`` does between reading its flags and rendering: one ``Outcome`` per
cluster (several with ``--context`` repeated or ``--all-contexts``, fetched in parallel).  What
the live fetches cost is collected in a list the caller owns, and ``write_stats`` writes it
for the benchmark.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

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
from logos_doctor.errors import ClusterError, DoctorError, UsageError
from logos_doctor.outcome import Outcome, Target
from logos_doctor.registry import Check
from logos_doctor.restrict import parse_selector, restrict
from logos_doctor.runner import Report, run_checks
from logos_doctor.state import ClusterState, Scope

if TYPE_CHECKING:
    from rich.console import Console

    from logos_doctor.cluster.fetch import FetchStats

# A file to write what the run cost (requests, bytes, time per phase) to, as JSON: for the
# benchmark (bench/run.py), which must not parse it out of the report.
STATS_ENV = "LOGOS_DOCTOR_STATS"


def stderr_console() -> Console:
    """Progress and warnings go to stderr, never stdout.  rich is imported here, by a live
    fetch: a snapshot's check writes no progress, and need not import it."""
    from rich.console import Console

    return Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")))


def fetch_one(
    target: Target,
    kinds: set[str],
    scope: Scope,
    timeout: float,
    show: bool,
    page_size: int = PAGE_SIZE,
    fetches: list[FetchStats] | None = None,
    *,
    lean: bool = False,
) -> ClusterState:
    """One live fetch; what it cost is appended to ``fetches`` (the caller's, not a global).
    ``lean`` for a diagnosis, never for a snapshot (``collect.fetch_live``)."""
    if not show:
        state, stats = fetch_live(
            target, kinds, scope, timeout=timeout, page_size=page_size, lean=lean
        )
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
            target, kinds, scope, timeout=timeout, on_done=tick, page_size=page_size, lean=lean
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
    selector: str | None = None,
) -> list[Outcome]:
    """Build the state(s) and run the checks: one outcome per cluster.

    What each live fetch cost is appended to ``fetches`` when given.  With ``selector`` (``-l``)
    each report keeps the findings about the selected workloads and their causes (restrict.py).
    """
    if selector is not None:
        parse_selector(selector)  # a bad selector is a usage error before any request

    def run(state: ClusterState) -> Report:
        report = run_checks(state, chosen, config)
        return restrict(report, selector) if selector is not None else report

    scope = resolve_scope(namespace, all_namespaces, config)
    if snapshot:
        if contexts or all_contexts:
            raise UsageError("--snapshot cannot be combined with --context/--all-contexts")
        state = snapshots.load(Path(snapshot).expanduser(), freeze=True)  # one-shot: see load
        if namespace or all_namespaces:  # else the snapshot's own scope
            state = within_snapshot(state, scope, snapshot)
        return [Outcome(Target(None, state.cluster.context), run(state))]
    kinds = kinds_for(chosen, scope)
    wanted = targets(kubeconfig, contexts, all_contexts)
    show = sys.stderr.isatty() and len(wanted) == 1

    def one(target: Target) -> Outcome:
        try:
            state = fetch_one(target, kinds, scope, timeout, show, page_size, fetches, lean=True)
            require_namespaces(state)
        except DoctorError as exc:
            if len(wanted) == 1:
                if exc.message.startswith("no kubeconfig found"):  # check can go offline
                    raise ClusterError(exc.message, f"{exc.hint}, or --snapshot FILE") from None
                raise
            return Outcome(target, None, exc)
        return Outcome(target, run(state))

    if len(wanted) == 1:
        return [one(wanted[0])]
    with ThreadPoolExecutor(max_workers=min(8, len(wanted))) as pool:
        return list(pool.map(one, wanted))


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
