"""Running a fix: a new one (plan, confirm, lock, back up, apply, verify) or a resumed one.

The click wiring is in ``cli/fix.py``; this is what its commands do once the flags are read.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from logos_doctor.cli.options import ClusterOptions
from logos_doctor.cluster.collect import needed_kinds
from logos_doctor.cluster.connection import Connection, connect
from logos_doctor.cluster.fetch import Fetcher, FetchOptions
from logos_doctor.config import Config
from logos_doctor.errors import ClusterError, FixError, UsageError
from logos_doctor.fix.executor import Executor, RunResult
from logos_doctor.fix.journal import (
    FixRecord,
    FixStore,
    config_from_json,
    config_to_json,
)
from logos_doctor.fix.lock import FixLock, holder_identity
from logos_doctor.fix.observe import remaining
from logos_doctor.fix.plan import Applicability, FixPlan
from logos_doctor.fix.planner import (
    PlanOptions,
)
from logos_doctor.fix.render import before_after, plan_text
from logos_doctor.registry import default_registry
from logos_doctor.runner import run_checks
from logos_doctor.state import Scope

LATEST = "latest"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
Planner = Callable[..., FixPlan]


class _Progress:
    """Progress lines on stderr: each new state once, and a heartbeat every few seconds."""

    def __init__(self) -> None:
        self.last = ""
        self.at = 0.0

    def __call__(self, text: str) -> None:
        now = time.monotonic()
        if text != self.last or now - self.at >= 5:
            click.echo(f"      … {text}", err=True)
            self.last, self.at = text, now


# -- a new fix -----------------------------------------------------------------------------------


def run_new(
    ctx: click.Context,
    command: str,
    planner: Planner,
    check_ids: tuple[str, ...],
    *,
    claims: tuple[str, ...],
    recreate: bool,
    yes: bool,
    unsafe: bool,
    dry_run: bool,
    wait_seconds: float,
    cluster: ClusterOptions,
    state_dir: str | None,
) -> int:
    """Plan, confirm, lock, back up, apply and verify one fix; the exit status."""
    config = cluster.load_config()
    ns = cluster.namespace or config.namespace
    if not _DNS_LABEL.match(ns):
        raise UsageError(f"{ns!r} is not a valid namespace name")
    config = replace(config, namespace=ns)
    state_dir = state_dir or (ctx.obj or {}).get("fix_state_dir")
    store = FixStore(Path(state_dir).expanduser() if state_dir else None)
    fix_id = store.new_id(ns)
    conn = connect(cluster.kubeconfig, cluster.one_context("a fix"))
    kubeconfig, timeout = cluster.kubeconfig, cluster.timeout
    lock: FixLock | None = None
    try:
        lock_ns = _lock_namespace(conn, ns, timeout, cluster_scoped=command == "storageclass")
        if dry_run:
            _warn_if_locked(conn, lock_ns)
        else:
            lock = FixLock(conn.api, lock_ns, fix_id)
            lock.acquire()
            if lock.took_over:
                click.echo(
                    f"logos-doctor: note: took over the stale fix lock of {lock.took_over}",
                    err=True,
                )
        checks = default_registry().select(check_ids)
        kinds = needed_kinds(checks) | {"persistentvolumes"}
        state = Fetcher(conn, FetchOptions(timeout=timeout, deadline=timeout * 4)).fetch(
            kinds, Scope((ns,))
        )
        report = run_checks(state, checks, config)
        options = PlanOptions(
            namespace=ns,
            fix_dir=str(store.path_of(fix_id)),
            claims=claims,
            wait_seconds=wait_seconds,
            recreate=recreate,
        )
        plan = planner(state, report.findings, config, options)
        click.echo(plan_text(plan, fix_dir=str(store.path_of(fix_id)), dry_run=dry_run))
        if not plan.steps:
            if plan.problems or plan.refusals:
                click.echo("Nothing logos-doctor can fix safely; see the reasons above.")
                return 1
            click.echo("Nothing to do.")
            return 0
        if not dry_run and not _confirmed(plan, yes, unsafe):
            click.echo("Not applied; nothing was changed.")
            return 1
        record = None
        if not dry_run:
            record = store.create(fix_id)
            record.save_plan(plan, _connection_doc(conn, kubeconfig, config))
            record.append("begin", holder=lock.identity if lock else holder_identity())
        click.echo("")
        result = _execute(conn, plan, config, record, lock, dry_run, timeout)
        return _finish(plan, result, config, record, dry_run)
    finally:
        if lock is not None:
            lock.release()
        conn.close()


def _confirmed(plan: FixPlan, yes: bool, unsafe: bool) -> bool:
    if plan.applicability is Applicability.UNSAFE and yes and not unsafe:
        raise UsageError(
            "this plan is marked unsafe, and --yes only applies safe plans",
            "read the plan, then add --unsafe (or run without --yes to confirm it)",
        )
    if yes:
        return True
    try:
        return click.confirm("Apply this plan?", default=False)
    except click.exceptions.Abort:
        click.echo("")
        return False


def _execute(
    conn: Connection,
    plan: FixPlan,
    config: Config,
    record: FixRecord | None,
    lock: FixLock | None,
    dry_run: bool,
    timeout: float,
    *,
    resumed: bool = False,
) -> RunResult:
    executor = Executor(
        conn,
        plan,
        config,
        record=record,
        lock=lock,
        dry_run=dry_run,
        timeout=timeout,
        say=click.echo,
        progress=_Progress(),
    )
    return executor.run(resumed=resumed)


def _finish(
    plan: FixPlan, result: RunResult, config: Config, record: FixRecord | None, dry_run: bool
) -> int:
    click.echo("")
    if dry_run:
        click.echo("Dry run: every write was validated by the server; nothing was changed.")
        return 0
    left = remaining(result.after, plan, config) if result.after is not None else None
    click.echo(before_after(plan, left))
    where = f" ({record.path})" if record is not None else ""
    if left is None or left or not result.complete:
        click.echo(f"Fix {record.id if record else ''} finished, but problems remain{where}.")
        return 1
    click.echo(f"Fix {record.id if record else ''} finished{where}.")
    return 0


def _connection_doc(conn: Connection, kubeconfig: str | None, config: Config) -> dict[str, Any]:
    return {
        "kubeconfig": str(Path(kubeconfig).expanduser().resolve()) if kubeconfig else None,
        "context": conn.context,
        "server": conn.server,
        "config": config_to_json(config),
    }


def unreachable(server: str, reason: str) -> ClusterError:
    """The API server could not be reached: said as ``check`` says it (cluster/fetch.py),
    without the HTTP client's exception names, and that nothing was changed."""
    text = reason.lower()
    # fix/kube.py keeps the first 200 characters of urllib3's message, which may end before
    # "Connection refused": NewConnectionError is what fetch.py reports as refused, too.
    if "refused" in text or "newconnectionerror" in text:
        message = f"cannot connect to the API server {server}: connection refused"
        hint = "is the cluster running and the address right?"
    elif "resolve" in text or "nameresolutionerror" in text:
        message = f"cannot resolve the API server host of {server}"
        hint = "check the server address in the kubeconfig and your DNS/VPN"
    elif "timed out" in text or "timeout" in text:
        message = f"cannot reach the API server {server}: timed out"
        hint = "check the network/VPN and the cluster's health, or raise --timeout"
    else:
        cause = re.sub(r"^\w+(Error|Exception): ", "", reason.strip()).splitlines()[0][:200]
        message = f"cannot reach the API server {server}: {cause}"
        hint = "check the network/VPN and the cluster's health"
    joined = (
        f"{hint} Nothing was changed." if hint.endswith("?") else f"{hint}; nothing was changed"
    )
    return ClusterError(message, joined)


def _lock_namespace(conn: Connection, ns: str, timeout: float, *, cluster_scoped: bool) -> str:
    """Where the fix's Lease lives: the Logos namespace, which a claim fix needs to exist.

    A StorageClass is cluster-scoped and the production guide creates it *before* the chart
    (and its namespace): that fix must not need the namespace, so its lock falls back to
    ``default``, which every cluster has.
    """
    from logos_doctor.fix.kube import NotFound, Transient, request

    try:
        request(conn.api, "GET", f"/api/v1/namespaces/{ns}", timeout=timeout)
    except Transient as exc:
        raise unreachable(conn.server, str(exc)) from None
    except NotFound:
        if not cluster_scoped:
            raise FixError(
                f"namespace {ns} does not exist: there are no claims to fix",
                "install the chart first, or give the namespace Logos runs in with -n",
            ) from None
        click.echo(
            f"logos-doctor: note: namespace {ns} does not exist yet; the StorageClass is "
            "cluster-wide, so the fix lock is taken in namespace default",
            err=True,
        )
        return "default"
    return ns


def _warn_if_locked(conn: Connection, ns: str) -> None:
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    from logos_doctor.fix.lock import LEASE_NAME

    try:
        lease = k8s.CoordinationV1Api(conn.api).read_namespaced_lease(LEASE_NAME, ns)
    except (ApiException, OSError):
        return
    holder = lease.spec.holder_identity if lease.spec else None
    if holder:
        click.echo(f"logos-doctor: note: a fix by {holder} holds the lock right now", err=True)


# -- resume ----------------------------------------------------------------------------------------


def resume_fix(
    store: FixStore, fix_id: str, kubeconfig: str | None, context: str | None, timeout: float
) -> int:
    """Finish an interrupted fix from its journal, on the cluster it was made on."""
    record = store.latest_unfinished() if fix_id == LATEST else store.get(fix_id)
    if record is None:
        click.echo("No interrupted fix to resume (see 'logos-doctor fix --list').")
        return 0
    state, detail = record.state()
    if state == "finished":
        click.echo(f"Fix {record.id} already finished; nothing to do.")
        return 0
    if state == "aborted":
        click.echo(f"Fix {record.id} was aborted safely ({detail}); nothing to resume.")
        return 0
    plan, saved = record.load()
    config = config_from_json(saved.get("config") or {})
    conn = connect(kubeconfig or saved.get("kubeconfig"), context or saved.get("context"))
    lock = None
    try:
        if saved.get("server") and conn.server != saved["server"]:
            raise FixError(
                f"fix {record.id} was made on {saved['server']}, but this kubeconfig points at "
                f"{conn.server}",
                "pass the --kubeconfig/--context of the cluster the fix was made on",
            )
        lock = FixLock(conn.api, plan.namespace, record.id)
        lock.acquire()
        if lock.took_over:
            click.echo(f"logos-doctor: note: took over the fix lock of {lock.took_over}", err=True)
        done = record.done_steps()
        click.echo(
            f"Resuming fix {record.id} ({plan.command}, namespace {plan.namespace}): "
            f"{len(done & {s.id for s in plan.steps})}/{len(plan.steps)} steps done before."
        )
        record.append("resume", holder=lock.identity)
        result = _execute(conn, plan, config, record, lock, False, timeout, resumed=True)
        return _finish(plan, result, config, record, False)
    finally:
        if lock is not None:
            lock.release()
        conn.close()
