"""``runbook list|show|run``: read the on-call runbooks, and walk one with the finding's names.

``run`` is the on-call path from ``check`` to action: the finding (or flags, or answers)
fill the runbook's parameters; diagnose steps run after one confirmation, every change step
is asked for on its own; a failing step stops the run; and a markdown transcript records it
all.  Steps run with ``bash -e -o pipefail -c`` in their own process group, with ``KUBECONFIG``
pointing at the cluster chosen with ``--kubeconfig``/``--context`` so ``kubectl`` and
``helm`` in the steps talk to the same cluster as logos-doctor.
"""

from __future__ import annotations

import getpass
import json
import os
import queue
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.markdown import Markdown

from logos_doctor import runbook as rb
from logos_doctor.cli.app import cli
from logos_doctor.errors import DoctorError, UsageError
from logos_doctor.transcript import StepRecord, Transcript, transcript_path

FLAG_PARAMS = {"namespace": "-n/--namespace", "pvc": "--pvc"}


@cli.group("runbook")
def runbook_group() -> None:
    """Read the on-call runbooks and run their steps with the finding's names filled in.

    \b
      logos-doctor runbook list
      logos-doctor runbook show pvc-pending --cause storage-class-missing
      logos-doctor check -o json > findings.json
      logos-doctor runbook run --finding-from findings.json --index 0
    """


# -- list ----------------------------------------------------------------------------------


@runbook_group.command("list")
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table")
def list_cmd(fmt: str) -> None:
    """List the runbooks: id, title, the checks and causes each covers."""
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

    table = [[b.id, b.title, ",".join(b.checks) or "-", ",".join(b.causes) or "-"] for b in books]
    click.echo(tabulate(table, headers=["ID", "TITLE", "CHECKS", "CAUSES"], tablefmt="plain"))


# -- show ----------------------------------------------------------------------------------


@runbook_group.command("show")
@click.argument("ref", metavar="ID[#CAUSE]")
@click.option("--cause", help="Show Meaning, Impact, Diagnosis and this cause's section only.")
def show_cmd(ref: str, cause: str | None) -> None:
    """Show a runbook (rendered in a terminal, plain markdown when piped)."""
    rid, ref_cause = rb.split_ref(ref)
    book = rb.load(rid)
    chosen = book.check_cause(cause or ref_cause)
    text = _header(book, chosen) + "\n" + _displayable(book.excerpt(chosen))
    console = Console()
    if console.is_terminal and not os.environ.get("NO_COLOR"):
        console.print(Markdown(text))
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
    if book.causes:
        lines += [f"> Causes: {', '.join(book.causes)}", ">"]
    if params:
        lines += [f"> Parameters: {params}", ">"]
    lines += [f"> Run its steps: `{run}`", ""]
    return "\n".join(lines)


def _displayable(markdown: str) -> str:
    """Step blocks as plain ``sh`` blocks, each announced by its id and kind."""
    out: list[str] = []
    for line in markdown.split("\n"):
        stripped = line.lstrip()
        match = rb._FENCE.match(line) if stripped.startswith(("```", "~~~")) else None
        attrs = rb._ATTRS.search(match.group(3)) if match else None
        if match and attrs:
            info = dict(t.partition("=")[::2] for t in attrs.group(1).split())
            kind = info.get("kind", "")
            label = "changes the cluster" if kind == "change" else "read-only"
            out.append(f"*Step `{info.get('id', '?')}` ({kind}, {label}):*")
            out.append("")
            lang = match.group(3)[: attrs.start()].strip()
            out.append(f"{match.group(1)}{match.group(2)}{lang}")
        else:
            out.append(line)
    return "\n".join(out)


# -- run -----------------------------------------------------------------------------------


@runbook_group.command("run")
@click.argument("ref", metavar="[ID[#CAUSE]]", required=False)
@click.option("--cause", help="The cause section to walk (default: the finding's cause).")
@click.option("-n", "--namespace", metavar="NS", help="Fills {{namespace}}.")
@click.option("--pvc", metavar="NAME", help="Fills {{pvc}}.")
@click.option(
    "-p",
    "--param",
    "param_args",
    multiple=True,
    metavar="KEY=VALUE",
    help="Fill a parameter (repeatable).",
)
@click.option(
    "--finding-from",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    help="'check -o json' output: take the runbook, cause and names from a finding.",
)
@click.option("--index", type=click.IntRange(0), help="Which finding in the file (0 = first).")
@click.option("-y", "--yes", is_flag=True, help="Run diagnose steps and use defaults unasked.")
@click.option("--yes-changes", is_flag=True, help="Also run change steps without asking.")
@click.option("--dry-run", is_flag=True, help="Print the filled-in commands; run nothing.")
@click.option("--transcript", "transcript_arg", metavar="PATH", help="Transcript file or folder.")
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    envvar="LOGOS_DOCTOR_KUBECONFIG",
    help="kubeconfig the steps' kubectl/helm use (exported as KUBECONFIG).",
)
@click.option("--context", metavar="NAME", help="kubeconfig context the steps use.")
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
    namespace: str | None,
    pvc: str | None,
    param_args: tuple[str, ...],
    finding_from: str | None,
    index: int | None,
    yes: bool,
    yes_changes: bool,
    dry_run: bool,
    transcript_arg: str | None,
    kubeconfig: str | None,
    context: str | None,
    step_timeout: float,
) -> None:
    """Walk a runbook's steps: Diagnosis, then the cause's Mitigation.

    Each command is shown with its parameters filled in.  Diagnose steps run after one
    confirmation (or --yes); change steps ask y(es) / n(o, stop) / s(kip, go on) / q(uit)
    each time unless --yes-changes.  A step that fails stops the run.  A markdown transcript
    is written (--transcript, default in the user state folder) and its path printed.

    Exit status: 0 when the run finished or was stopped by you, 1 when a step failed.
    """
    if finding_from == "-" and not (yes or dry_run):
        raise UsageError(
            "the finding was read from stdin, so no answers can be read from it",
            "add --yes (and --yes-changes), or save the check output to a file",
        )
    rid, ref_cause = rb.split_ref(ref) if ref else (None, None)
    finding = _pick_finding(finding_from, index, rid, cause or ref_cause) if finding_from else None
    if rid is None:
        if finding is None:
            raise UsageError("give a runbook id, or --finding-from FILE")
        rid = str((finding.get("runbook") or {}).get("id") or finding.get("check"))
    book = rb.load(rid)
    chosen_cause = cause or ref_cause
    if chosen_cause is None and finding is not None and finding.get("cause") in book.causes:
        chosen_cause = str(finding["cause"])
    chosen_cause = book.check_cause(chosen_cause)
    steps = book.steps_for(chosen_cause)

    given = _given_params(book, param_args, namespace=namespace, pvc=pvc)
    from_finding = rb.params_from_finding(finding) if finding else {}
    values, sources = _fill_params(book, steps, given, from_finding, use_defaults=yes)

    env, ctx_name, server, tmp = _child_env(kubeconfig, context)
    shown_kubeconfig = os.pathsep.join(
        p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p and Path(p) != tmp
    )
    try:
        started = datetime.now(UTC)
        record = Transcript(
            runbook_id=book.id,
            title=book.title,
            cause=chosen_cause,
            user=os.environ.get("USER") or _login(),
            host=socket.gethostname(),
            started=started,
            context=ctx_name,
            server=server,
            kubeconfig=shown_kubeconfig or None,
            dry_run=dry_run,
            params=values,
            param_sources=sources,
            finding=_finding_line(finding) if finding else None,
        )
        path = transcript_path(transcript_arg, book.id, chosen_cause, started)
        walker = _Walker(book, record, path, env, step_timeout, yes, yes_changes)
        code = walker.walk(steps, values, dry_run=dry_run)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    if chosen_cause is None and book.causes:
        click.echo(
            f"note: {book.id} has a section per cause ({', '.join(book.causes)}); "
            "only Diagnosis was walked: run again with --cause CAUSE."
        )
    click.echo(f"transcript: {path}")
    raise click.exceptions.Exit(code)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _pick_finding(
    path: str, index: int | None, rid: str | None, cause: str | None
) -> dict[str, Any]:
    """The one finding of a ``check -o json`` file this run is about."""
    try:
        with click.open_file(path, encoding="utf-8") as fh:
            document = json.load(fh)
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot read findings from {path}: {exc}", "give 'check -o json' output"
        ) from None
    findings = rb.findings_in(document)
    if not findings:
        raise UsageError(f"{path} holds no findings", "nothing to run a runbook for")
    if index is not None:
        if index >= len(findings):
            raise UsageError(f"--index {index} is out of range: {path} has {len(findings)}")
        return findings[index]
    matching = [
        (i, f)
        for i, f in enumerate(findings)
        if (rid is None or _runbook_of(f) == rid) and (cause is None or f.get("cause") == cause)
    ]
    if len(matching) == 1:
        return matching[0][1]
    if not matching:
        raise UsageError(f"no finding in {path} matches", "pick one with --index N")
    listing = "; ".join(f"{i}: {_finding_line(f)}" for i, f in matching[:8])
    more = f" (and {len(matching) - 8} more)" if len(matching) > 8 else ""
    raise UsageError(f"{len(matching)} findings match: {listing}{more}", "pick one with --index N")


def _runbook_of(finding: dict[str, Any]) -> str:
    return str((finding.get("runbook") or {}).get("id") or finding.get("check") or "")


def _finding_line(finding: dict[str, Any]) -> str:
    res = finding.get("resource") or {}
    where = f"{res.get('namespace')}/" if res.get("namespace") else ""
    return (
        f"{finding.get('severity', '?')} {finding.get('check')}/{finding.get('cause')} "
        f"{res.get('kind')}/{where}{res.get('name')}: {finding.get('message', '')}"
    )


def _given_params(book: rb.Runbook, args: Sequence[str], **flags: str | None) -> dict[str, str]:
    given: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--param {arg!r} is not KEY=VALUE")
        given[key] = value
    for key, flag in flags.items():
        if flag is not None:
            given[key] = flag
    unknown = sorted(set(given) - set(book.params))
    if unknown:
        known = ", ".join(book.params) or "none"
        raise UsageError(
            f"runbook {book.id} has no parameter {', '.join(unknown)}",
            f"its parameters: {known}",
        )
    return given


def _fill_params(
    book: rb.Runbook,
    steps: Sequence[rb.Step],
    given: dict[str, str],
    from_finding: dict[str, str],
    *,
    use_defaults: bool,
) -> tuple[dict[str, str], dict[str, str]]:
    """Every parameter the chosen steps use: flags, then the finding, then asked for."""
    needed = list(dict.fromkeys(name for step in steps for name in step.params))
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name in needed:
        param = book.params[name]
        if name in given:
            values[name], sources[name] = param.validate(given[name]), "command line"
        elif name in from_finding:
            values[name], sources[name] = param.validate(from_finding[name]), "finding"
        elif use_defaults and param.default is not None:
            values[name], sources[name] = param.default, "default"
        else:
            values[name], sources[name] = _ask(param), "answered"
    return values, sources


def _ask(param: rb.Param) -> str:
    def check(text: str) -> str:
        try:
            return param.validate(text)
        except UsageError as exc:
            raise click.BadParameter(str(exc)) from None

    try:
        value: str = click.prompt(
            f"{param.name} ({param.description})",
            default=param.default,
            value_proc=check,
        )
    except click.exceptions.Abort:
        raise UsageError(
            f"parameter {param.name} is needed", f"give it with --param {param.name}=VALUE"
        ) from None
    return value


# -- the cluster the steps talk to -----------------------------------------------------------


def _child_env(
    kubeconfig: str | None, context: str | None
) -> tuple[dict[str, str], str, str | None, Path | None]:
    """The steps' environment, the context name and server for the transcript, a temp file.

    kubectl has no environment variable for a context, so ``--context`` becomes a tiny
    kubeconfig that sets only ``current-context``, listed first in ``KUBECONFIG``: the first
    file that sets it wins when kubectl, helm or client-go merge the list.
    """
    env = dict(os.environ)
    paths: list[str] = []
    if kubeconfig:
        path = Path(kubeconfig).expanduser()
        if not path.is_file():
            raise UsageError(f"kubeconfig {kubeconfig} does not exist")
        paths = [str(path.resolve())]
    elif env.get("KUBECONFIG"):
        paths = [p for p in env["KUBECONFIG"].split(os.pathsep) if p]
    else:
        home = Path("~/.kube/config").expanduser()
        paths = [str(home)] if home.is_file() else []
    tmp: Path | None = None
    if context:
        fd, name = tempfile.mkstemp(prefix="logos-doctor-context-", suffix=".yaml")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": context,
                    "clusters": [],
                    "contexts": [],
                    "users": [],
                    "preferences": {},
                },
                fh,
            )
        tmp = Path(name)
        paths = [name, *paths]
    if paths:
        env["KUBECONFIG"] = os.pathsep.join(paths)
    if kubeconfig:
        env["LOGOS_DOCTOR_KUBECONFIG"] = env["KUBECONFIG"]
    ctx_name, server = _current_context(paths, context)
    return env, ctx_name, server, tmp


def _current_context(paths: Sequence[str], context: str | None) -> tuple[str, str | None]:
    """The context the steps will use and its server, read as kubectl merges the files."""
    current = context
    contexts: dict[str, Any] = {}
    clusters: dict[str, Any] = {}
    for path in paths:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(data, dict):
            continue
        current = current or data.get("current-context") or None
        for item in data.get("contexts") or []:
            if isinstance(item, dict) and item.get("name"):
                contexts.setdefault(item["name"], item.get("context") or {})
        for item in data.get("clusters") or []:
            if isinstance(item, dict) and item.get("name"):
                clusters.setdefault(item["name"], item.get("cluster") or {})
    if not current:
        return ("(none: no kubeconfig)" if not paths else "(no current context)"), None
    cluster = (contexts.get(current) or {}).get("cluster")
    server = (clusters.get(cluster) or {}).get("server") if cluster else None
    return str(current), str(server) if server else None


# -- walking the steps ----------------------------------------------------------------------


@dataclass
class _Result:
    exit_code: int
    lines: list[str]
    seconds: float
    timed_out: bool


class _Walker:
    """Shows, confirms, runs and records the steps of one run."""

    def __init__(
        self,
        book: rb.Runbook,
        record: Transcript,
        path: Path,
        env: dict[str, str],
        timeout: float,
        yes: bool,
        yes_changes: bool,
    ) -> None:
        self.book = book
        self.record = record
        self.path = path
        self.env = env
        self.timeout = timeout
        self.yes = yes
        self.yes_changes = yes_changes

    def save(self) -> None:
        self.record.save(self.path)

    def finish(self, outcome: str) -> None:
        self.record.outcome = outcome
        self.record.finished = datetime.now(UTC)
        self.save()

    def walk(self, steps: Sequence[rb.Step], values: dict[str, str], *, dry_run: bool) -> int:
        book, rec = self.book, self.record
        for number, step in enumerate(steps, 1):
            rec.steps.append(
                StepRecord(number, step.id, step.kind, step.section, step.fill(values))
            )
        self.save()
        cause = f", cause {rec.cause}" if rec.cause else ""
        click.secho(f"Runbook {book.id}{cause}: {book.title}", bold=True)
        click.echo(f"Cluster context: {rec.context}" + (f" ({rec.server})" if rec.server else ""))
        for name, value in rec.params.items():
            click.echo(f"  {name} = {value}  ({rec.param_sources[name]})")
        if not steps:
            click.echo("This runbook section has no steps to run.")
            self.finish("nothing to run")
            return 0
        click.echo("")
        for item in rec.steps:
            click.echo(f"{item.number}. {item.step_id} [{item.kind}]")
            for line in item.command.splitlines():
                click.echo(f"     {line}")
        if dry_run:
            for item in rec.steps:
                item.status = "dry-run"
            self.finish("dry run: no step was executed")
            click.echo("\nDry run: nothing was executed.")
            return 0
        diagnose = sum(1 for s in steps if s.kind == "diagnose")
        changes = len(steps) - diagnose
        if diagnose and not self.yes:
            question = f"\nRun the {diagnose} diagnose step(s)" + (
                f" ({changes} change step(s) will each ask first)?" if changes else "?"
            )
            if not _confirm(question):
                for item in rec.steps:
                    item.status = "not run"
                self.finish("stopped by the operator before the first step")
                click.echo("Nothing was run.")
                return 0
        return self._steps()

    def _steps(self) -> int:
        rec = self.record
        total = len(rec.steps)
        for pos, item in enumerate(rec.steps):
            click.echo("")
            click.secho(
                f"── step {item.number}/{total}: {item.step_id} [{item.kind}] ──", bold=True
            )
            for n, line in enumerate(item.command.splitlines()):
                click.echo(f"{'$' if n == 0 else ' '} {line}")
            if item.kind == "change" and not self.yes_changes:
                answer = _ask_change()
                if answer == "skip":
                    item.status = "skipped"
                    self.save()
                    click.echo("skipped")
                    continue
                if answer in ("no", "quit"):
                    item.status = "refused" if answer == "no" else "quit"
                    for later in rec.steps[pos + 1 :]:
                        later.status = "not run"
                    verb = "refused" if answer == "no" else "quit at"
                    self.finish(f"stopped: the operator {verb} change step {item.step_id}")
                    click.echo(f"Stopped: change step {item.step_id} was not run.")
                    return 0
            item.status = "running"
            self.save()
            try:
                result = _execute(item.command, self.env, self.timeout)
            except KeyboardInterrupt:
                item.status = "interrupted"
                self.finish(f"interrupted during step {item.step_id}")
                raise
            item.exit_code, item.output, item.seconds = (
                result.exit_code,
                result.lines,
                result.seconds,
            )
            if result.exit_code != 0:
                item.status = "timed-out" if result.timed_out else "failed"
                for later in rec.steps[pos + 1 :]:
                    later.status = "not run"
                why = f"timed out after {self.timeout:.0f}s" if result.timed_out else "failed"
                self.finish(f"stopped: step {item.step_id} {why} (exit {result.exit_code})")
                click.secho(
                    f"Step {item.step_id} {why} (exit {result.exit_code}); the run stops here.",
                    fg="red",
                    bold=True,
                )
                return 1
            item.status = "ok"
            self.save()
            click.secho(f"exit 0 ({result.seconds:.1f}s)", fg="green")
        self.finish("completed: every step ran")
        click.secho("\nAll steps done.", bold=True)
        return 0


def _confirm(question: str) -> bool:
    try:
        return bool(click.confirm(question, default=True))
    except click.exceptions.Abort:
        return False


_CHANGE_ANSWERS = {
    "y": "yes",
    "yes": "yes",
    "n": "no",
    "no": "no",
    "s": "skip",
    "skip": "skip",
    "q": "quit",
    "quit": "quit",
}


def _ask_change() -> str:
    """y / n / s / q, asked until one is given; end of input means quit."""
    while True:
        try:
            raw = click.prompt(
                "Run this change? y(es) / n(o, stop here) / s(kip it, go on) / q(uit)",
                default="",
                show_default=False,
            )
        except click.exceptions.Abort:
            return "quit"
        answer = _CHANGE_ANSWERS.get(str(raw).strip().lower())
        if answer:
            return answer
        click.echo("Please answer y, n, s or q.")


def _execute(command: str, env: dict[str, str], timeout: float) -> _Result:
    """Run one step, echoing and keeping its output (stdout and stderr interleaved).

    The step gets its own process group with no stdin (answers meant for us must never be
    eaten by a step); once bash exits, anything it left running in the background is
    terminated, so a forgotten ``kubectl port-forward &`` cannot hang the run.
    """
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            ["bash", "-e", "-o", "pipefail", "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        raise DoctorError(f"cannot start bash: {exc}", "runbook steps need bash") from None
    lines: list[str] = []
    pipe: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(proc, pipe), daemon=True)
    reader.start()
    timed_out = False
    exited: float | None = None
    with _killing_group_on_exit(proc):
        deadline = start + timeout
        while True:
            try:
                line = pipe.get(timeout=0.1)
            except queue.Empty:
                now = time.monotonic()
                if proc.poll() is not None:
                    # bash is done; background leftovers still hold the pipe open
                    exited = exited or now
                    stubborn = now - exited > 2
                    _signal_group(proc, signal.SIGKILL if stubborn else signal.SIGTERM)
                elif now > deadline:
                    timed_out = True
                    _signal_group(proc, signal.SIGKILL)
                continue
            if line is None:
                break
            lines.append(line)
            click.echo(f"  {line}")
        code = proc.wait()
    if timed_out:
        code = 124
    return _Result(code, lines, time.monotonic() - start, timed_out)


def _read_lines(proc: subprocess.Popen[bytes], pipe: queue.Queue[str | None]) -> None:
    assert proc.stdout is not None
    for raw in iter(proc.stdout.readline, b""):
        pipe.put(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
    pipe.put(None)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


@contextmanager
def _killing_group_on_exit(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    try:
        yield
    finally:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        else:
            _signal_group(proc, signal.SIGTERM)
