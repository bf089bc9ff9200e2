"""``runbook list|show|run``: click wiring; the work is in ``logos_doctor.runbook``.

``run`` is the on-call path from ``check`` to action: the finding (or flags, or answers)
fill the runbook's parameters; diagnose steps run after one confirmation, every change step
is asked for on its own; a failing change step stops the run; and a markdown transcript
records it all.  Steps run with ``bash -e -o pipefail -c`` in their own process group, with
``KUBECONFIG`` pointing at the cluster chosen with ``--kubeconfig``/``--context`` so
``kubectl`` and ``helm`` in the steps talk to the same cluster as logos-doctor.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
from datetime import UTC, datetime

import click
from rich.console import Console

from logos_doctor import runbook as rb
from logos_doctor.cli.app import cli
from logos_doctor.cli.options import ClusterOptions, cluster_options, examples
from logos_doctor.errors import UsageError
from logos_doctor.runbook import inputs
from logos_doctor.runbook.display import print_markdown
from logos_doctor.runbook.shell import target
from logos_doctor.runbook.transcript import Transcript, transcript_path
from logos_doctor.runbook.walker import Walker


@cli.group(
    "runbook",
    epilog=examples(
        "logos-doctor runbook list",
        "logos-doctor runbook show pvc-pending --cause storage-class-missing",
        "logos-doctor check --all -o json > findings.json",
        "logos-doctor runbook run --finding-from findings.json",
    ),
)
def runbook_group() -> None:
    """Read the on-call runbooks and run their steps with the finding's names filled in."""


@runbook_group.command(
    "list",
    epilog=examples("logos-doctor runbook list", "logos-doctor runbook list -o json"),
)
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table")
def list_cmd(fmt: str) -> None:
    """List the runbooks: id, when to use it, the checks and causes each covers."""
    books = []
    for rid in rb.runbook_ids():
        try:
            books.append(rb.load(rid))
        except rb.RunbookError as exc:  # one broken file must not hide the others
            click.echo(f"logos-doctor: warning: runbook {rid} is broken: {exc}", err=True)
    if fmt == "json":
        rows = [
            {
                "id": b.id,
                "title": b.title,
                "use": b.use or b.title,
                "checks": list(b.checks),
                "causes": list(b.causes),
                "severity": b.severity,
                "params": {
                    p.name: {"description": p.description, "default": p.default, "type": p.type}
                    for p in b.params.values()
                },
            }
            for b in books
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    from tabulate import tabulate

    table = [[b.id, b.use or b.title, ",".join(b.checks) or "-"] for b in books]
    click.echo(tabulate(table, headers=["ID", "USE FOR", "CHECKS"], tablefmt="plain"))


@runbook_group.command(
    "show",
    epilog=examples(
        "logos-doctor runbook show pvc-pending",
        "logos-doctor runbook show pvc-pending#storage-class-missing",
        "logos-doctor runbook show image-pull --cause image-not-found | less",
    ),
)
@click.argument("ref", metavar="ID[#CAUSE]")
@click.option("--cause", help="Show Meaning, Impact, Diagnosis and this cause's section only.")
def show_cmd(ref: str, cause: str | None) -> None:
    """Show a runbook (rendered in a terminal, plain markdown when piped)."""
    rid, ref_cause = rb.split_ref(ref)
    book = rb.load(rid)
    chosen = book.check_cause(cause or ref_cause)
    text = _header(book, chosen) + "\n" + book.excerpt(chosen, labelled=True)
    console = Console()
    if console.is_terminal and not os.environ.get("NO_COLOR"):
        print_markdown(console, text)
    else:
        click.echo(text.rstrip())


def _header(book: rb.Runbook, cause: str | None) -> str:
    params = ", ".join(
        f"`{p.name}`" + (f" (default `{p.default}`)" if p.default else "")
        for p in book.params.values()
    )
    run = f"logos-doctor runbook run {book.id}" + (f" --cause {cause}" if cause else "")
    lines = [
        f"> **Runbook `{book.id}`**"
        + (f" · checks: {', '.join(book.checks)}" if book.checks else "")
        + (f" · severity: {book.severity}" if book.severity else ""),
        ">",
    ]
    if book.use:
        lines += [f"> Use for: {book.use}", ">"]
    if book.causes:
        lines += [f"> Causes: {', '.join(book.causes)}", ">"]
    if params:
        lines += [f"> Parameters: {params}", ">"]
    lines += [f"> Run its steps: `{run}`", ""]
    return "\n".join(lines)


@runbook_group.command(
    "run",
    epilog=examples(
        "logos-doctor check -o json > findings.json",
        "logos-doctor runbook run --finding-from findings.json",
        "logos-doctor runbook run pvc-pending --cause storage-class-missing -n logos --dry-run",
    ),
)
@click.argument("ref", metavar="[ID[#CAUSE]]", required=False)
@click.option("--cause", help="The cause section to walk (default: the finding's cause).")
@cluster_options(
    timeout=False,
    all_namespaces=False,
    config=False,
    help={
        "namespace": "Fills {{namespace}}.",
        "kubeconfig": "kubeconfig the steps' kubectl/helm use (exported as KUBECONFIG).",
        "contexts": "kubeconfig context the steps use.",
    },
)
@click.option("--pvc", metavar="NAME", help="Fills {{pvc}}.")
@click.option(
    "-p", "--param", "param_args", multiple=True, metavar="KEY=VALUE",
    help="Fill a parameter (repeatable).",
)  # fmt: skip
@click.option(
    "--finding-from",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    help="'check -o json' output: take the runbook, cause and names from a finding "
    "(default: the first root cause; on a terminal, pick from the list).",
)
@click.option("--index", type=click.IntRange(0), help="Which finding in the file (0 = first).")
@click.option("-y", "--yes", is_flag=True, help="Run diagnose steps and use defaults unasked.")
@click.option("--yes-changes", is_flag=True, help="Also run change steps without asking.")
@click.option("--dry-run", is_flag=True, help="Print the filled-in commands; run nothing.")
@click.option("--transcript", "transcript_arg", metavar="PATH", help="Transcript file or folder.")
@click.option(
    "--step-timeout",
    type=click.FloatRange(1, 86400),
    default=600.0,
    show_default=True,
    help="Seconds before a step is stopped and counted as failed.",
)
def run_cmd(
    ref: str | None,
    cause: str | None,
    cluster: ClusterOptions,
    pvc: str | None,
    param_args: tuple[str, ...],
    finding_from: str | None,
    index: int | None,
    yes: bool,
    yes_changes: bool,
    dry_run: bool,
    transcript_arg: str | None,
    step_timeout: float,
) -> None:
    """Walk a runbook's steps: Diagnosis, then the cause's Mitigation.

    Each command is shown with its parameters filled in; bash gets them as environment
    variables.  Diagnose steps run after one confirmation (or --yes); change steps ask
    y(es) / n(o, stop) / s(kip, go on) / q(uit) each time unless --yes-changes.  A failing
    diagnose step is recorded and the run goes on; a failing change step stops it.  Without
    a terminal, parameter defaults are taken and missing values are named in one error.
    A markdown transcript is written (--transcript, default in the user state folder).

    Exit status: 0 when every step did what it should or you stopped the run, 1 when a step
    failed.
    """
    if finding_from == "-" and not (yes or dry_run):
        raise UsageError(
            "the finding was read from stdin, so no answers can be read from it",
            "add --yes (and --yes-changes), or save the check output to a file",
        )
    interactive = _interactive()
    rid, ref_cause = rb.split_ref(ref) if ref else (None, None)
    finding = None
    if finding_from:
        found = inputs.read_findings(finding_from)
        stdin_used = finding_from == "-"
        finding = inputs.pick_finding(
            found, index, rid, cause or ref_cause, interactive=interactive and not stdin_used
        )
    if rid is None:
        if finding is None:
            raise UsageError("give a runbook id, or --finding-from FILE")
        rid = rb.runbook_of(finding)
    book = rb.load(rid)
    chosen_cause = cause or ref_cause
    if chosen_cause is None and finding is not None and finding.get("cause") in book.causes:
        chosen_cause = str(finding["cause"])
    chosen_cause = book.check_cause(chosen_cause)
    steps = book.steps_for(chosen_cause)

    given = inputs.given_params(book, param_args, namespace=cluster.namespace, pvc=pvc)
    from_finding = rb.params_from_finding(finding) if finding else {}
    filled = inputs.resolve(
        book,
        steps,
        given,
        from_finding,
        interactive=interactive and finding_from != "-",
        use_defaults=yes,
        dry_run=dry_run,
    )
    context = cluster.one_context("runbook run")
    if context is not None:  # an unknown context is named now, not by the first kubectl step
        from logos_doctor.cluster.connection import connect

        connect(cluster.kubeconfig, context).close()
    where = target(cluster.kubeconfig, context)
    try:
        started = datetime.now(UTC)
        record = Transcript(
            runbook_id=book.id,
            title=book.title,
            cause=chosen_cause,
            user=os.environ.get("USER") or _login(),
            host=socket.gethostname(),
            started=started,
            context=where.context,
            server=where.server,
            kubeconfig=where.kubeconfig,
            dry_run=dry_run,
            params=filled.values,
            param_sources=filled.sources,
            finding=rb.finding_line(finding) if finding else None,
        )
        path = transcript_path(transcript_arg, book.id, chosen_cause, started)
        walker = Walker(
            book, record, path, where.env, step_timeout, yes=yes, yes_changes=yes_changes
        )
        code = walker.walk(steps, filled.values, dry_run=dry_run, missing=filled.missing)
    finally:
        where.close()
    if chosen_cause is None and book.causes:
        click.echo(
            f"note: {book.id} has a section per cause ({', '.join(book.causes)}); "
            "only Diagnosis was walked: run again with --cause CAUSE."
        )
    click.echo(f"transcript: {path}")
    raise click.exceptions.Exit(code)


def _interactive() -> bool:
    """Whether someone can answer: parameters are asked only on a terminal."""
    return sys.stdin.isatty()


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
