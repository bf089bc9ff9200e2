"""``fix storageclass``, ``fix pvc``, ``fix --resume [ID]`` and ``fix --list``.

A fix shows its plan and asks before writing (``--yes`` skips the question for safe plans;
unsafe ones also need ``--unsafe``), runs every write as a server-side dry run with
``--dry-run``, holds the namespace's fix Lease while it runs, and leaves a journal so that an
interrupted fix can be finished with ``--resume``.

Exit status: 0 when the fix finished and the checks come back clean (or there was nothing to
do), 1 when problems remain (declined, refused, or a wait ran out of time), 2 for usage
errors, 3 when the fix stopped to keep the cluster safe or could not reach it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from logos_doctor.cli.app import cli
from logos_doctor.cli.options import ClusterOptions, cluster_options
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
    VERIFY_CLASS,
    VERIFY_PVC,
    PlanOptions,
    plan_pvc,
    plan_storageclass,
)
from logos_doctor.fix.render import before_after, list_text, plan_text
from logos_doctor.registry import default_registry
from logos_doctor.runner import run_checks
from logos_doctor.state import Scope

LATEST = "latest"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
Planner = Callable[..., FixPlan]


def _state_dir_option(f: Any) -> Any:
    return click.option(
        "--state-dir",
        type=click.Path(file_okay=False),
        envvar="LOGOS_DOCTOR_STATE_DIR",
        help="Where fixes keep backups and journals (default: the user state dir).",
    )(f)


def _apply_options(f: Any) -> Any:
    f = click.option(
        "--wait",
        "wait_seconds",
        type=click.FloatRange(0, 3600),
        default=180.0,
        show_default=True,
        help="Seconds to wait for claims to bind after each change.",
    )(f)
    f = click.option(
        "--dry-run", is_flag=True, help="Send every write as a server-side dry run (dryRun=All)."
    )(f)
    f = click.option("--unsafe", is_flag=True, help="Let --yes apply a plan marked unsafe.")(f)
    f = click.option("-y", "--yes", is_flag=True, help="Apply a safe plan without asking.")(f)
    return f


# A fix acts on one namespace (no -A) of one cluster (--context once).
_fix_cluster_options = cluster_options(
    all_namespaces=False, help={"namespace": "Namespace (default: from config, logos)."}
)


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


@cli.group("fix", invoke_without_command=True)
@click.option(
    "--resume",
    "resume",
    is_flag=False,
    flag_value=LATEST,
    default=None,
    metavar="[ID]",
    help="Finish an interrupted fix (default: the latest unfinished one).",
)
@click.option("--list", "list_fixes", is_flag=True, help="List past fixes and their state.")
@_state_dir_option
@cluster_options(scope=False, config=False)
@click.pass_context
def fix_group(
    ctx: click.Context,
    resume: str | None,
    list_fixes: bool,
    state_dir: str | None,
    cluster: ClusterOptions,
) -> None:
    """Fix what the checks found, safely: plan, confirm, back up, apply, verify.

    \b
      logos-doctor fix storageclass        create the expected StorageClass
      logos-doctor fix pvc                 make Pending claims bind (orphan-cascade)
      logos-doctor fix --list              past fixes and their state
      logos-doctor fix --resume [ID]       finish an interrupted fix
    """
    ctx.ensure_object(dict)
    ctx.obj["fix_state_dir"] = state_dir
    if ctx.invoked_subcommand is not None:
        if resume is not None or list_fixes:
            raise UsageError("--resume and --list take no subcommand")
        return
    store = FixStore(Path(state_dir).expanduser() if state_dir else None)
    if list_fixes:
        click.echo(list_text(r.summary() for r in store.all()))
        return
    if resume is not None:
        code = _resume(
            store, resume, cluster.kubeconfig, cluster.one_context("a fix"), cluster.timeout
        )
        raise click.exceptions.Exit(code)
    click.echo(ctx.get_help())


@fix_group.command("pvc")
@click.argument("claims", nargs=-1, metavar="[PVC]...")
@_apply_options
@_fix_cluster_options
@_state_dir_option
@click.pass_context
def fix_pvc(ctx: click.Context, /, claims: tuple[str, ...], **opts: Any) -> None:
    """Make Pending claims bind: create the StorageClass, or recreate the StatefulSet.

    A claim waiting only for the missing StorageClass binds once the class exists.  A claim
    that cannot recover as it is (another class, a wrong claim template, a vanished node) is
    recreated the way the runbook does it: the StatefulSet is deleted with its pods left
    running, the Pending claims and Pending pods are deleted, and the StatefulSet is created
    again with corrected claim templates; it adopts the running pods and makes new claims.
    """
    code = _run(ctx, "pvc", plan_pvc, VERIFY_PVC, claims=claims, recreate=False, **opts)
    raise click.exceptions.Exit(code)


@fix_group.command("storageclass")
@click.option(
    "--recreate", is_flag=True, help="Delete and create a drifted class (parameters are immutable)."
)
@_apply_options
@_fix_cluster_options
@_state_dir_option
@click.pass_context
def fix_storageclass(ctx: click.Context, /, recreate: bool, **opts: Any) -> None:
    """Create the expected StorageClass when it is missing (or --recreate a drifted one)."""
    code = _run(
        ctx, "storageclass", plan_storageclass, VERIFY_CLASS, claims=(), recreate=recreate, **opts
    )
    raise click.exceptions.Exit(code)


# -- a new fix -----------------------------------------------------------------------------------


def _run(
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
        raise ClusterError(
            f"cannot reach the API server {conn.server}: {exc}",
            "check the network/VPN and the cluster's health; nothing was changed",
        ) from None
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


def _resume(
    store: FixStore, fix_id: str, kubeconfig: str | None, context: str | None, timeout: float
) -> int:
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
