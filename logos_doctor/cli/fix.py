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

from pathlib import Path
from typing import Any

import click

from logos_doctor.cli.app import cli
from logos_doctor.cli.fix_session import LATEST, resume_fix, run_new
from logos_doctor.cli.options import ClusterOptions, cluster_options, examples
from logos_doctor.errors import UsageError
from logos_doctor.fix.journal import (
    FixStore,
)
from logos_doctor.fix.planner import (
    VERIFY_CLASS,
    VERIFY_PVC,
    plan_pvc,
    plan_storageclass,
)
from logos_doctor.fix.render import list_text


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


@cli.group(
    "fix",
    invoke_without_command=True,
    epilog=examples(
        "logos-doctor fix pvc -n logos --dry-run",
        "logos-doctor fix storageclass --context prod",
        "logos-doctor fix --resume",
    ),
)
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
        code = resume_fix(
            store, resume, cluster.kubeconfig, cluster.one_context("a fix"), cluster.timeout
        )
        raise click.exceptions.Exit(code)
    click.echo(ctx.get_help())


@fix_group.command(
    "pvc",
    epilog=examples(
        "logos-doctor fix pvc -n logos --dry-run     validate every write, change nothing",
        "logos-doctor fix pvc -n logos               show the plan, ask, apply",
        "logos-doctor fix pvc data-logos-db-0 -y",
    ),
)
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
    code = run_new(ctx, "pvc", plan_pvc, VERIFY_PVC, claims=claims, recreate=False, **opts)
    raise click.exceptions.Exit(code)


@fix_group.command(
    "storageclass",
    epilog=examples(
        "logos-doctor fix storageclass --dry-run",
        "logos-doctor fix storageclass --context prod",
        "logos-doctor fix storageclass --recreate",
    ),
)
@click.option(
    "--recreate", is_flag=True, help="Delete and create a drifted class (parameters are immutable)."
)
@_apply_options
@_fix_cluster_options
@_state_dir_option
@click.pass_context
def fix_storageclass(ctx: click.Context, /, recreate: bool, **opts: Any) -> None:
    """Create the expected StorageClass when it is missing (or --recreate a drifted one)."""
    code = run_new(
        ctx, "storageclass", plan_storageclass, VERIFY_CLASS, claims=(), recreate=recreate, **opts
    )
    raise click.exceptions.Exit(code)
