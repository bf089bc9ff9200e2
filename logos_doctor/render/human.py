"""Human output: a rich tree per broken component in a terminal, a plain list when piped.

The first screen must show the root causes, grouped by cause, worst first; the details
follow in the same order, one block per component, each finding saying what it is
``because:`` of.  ``NO_COLOR`` drops colour only; piped output is a list wrapped to
``COLUMNS`` (80 when unknown), like ``kubectl describe``, that greps well and never runs off
the screen.  Both lay out the same ``ReportView`` (see ``view.py``).
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from logos_doctor.finding import Finding, Severity
from logos_doctor.render.text import clean
from logos_doctor.render.view import (
    Entry,
    ReportView,
    RootGroup,
    build_view,
    clip,
    evidence_lines,
    known_lines,
    mark,
    objects_line,
    snapshot_note,
    summary_line,
)
from logos_doctor.runner import Report

STYLE = {Severity.CRITICAL: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
ROOTS_SHOWN = 8  # root-cause groups on the first screen; the rest are counted
# A command quoted in a remediation ('kubectl label node ...'): shown whole on the first screen.
_COMMAND = re.compile(r"'((?:kubectl|logos-doctor|helm|aws|gcloud) [^']+)'")


def _header(report: Report) -> str:
    state = report.state
    where = state.cluster.context or state.cluster.server or "snapshot"
    parts = [f"cluster {where}"]
    if state.cluster.version:
        parts.append(state.cluster.version)
    parts.append(state.scope.describe())
    parts.append(state.now.strftime("%Y-%m-%d %H:%M:%SZ"))
    return " · ".join(clean(p, 120) for p in parts)


def with_scope(command: str, flags: Sequence[str]) -> str:
    """A hint command repeated with the flags that chose the cluster, so a paste acts there.

    ``flags`` is a flat list (``["--context", "prod-eu", "-n", "logos"]``); a flag the
    command already has is not added twice.
    """
    out = command
    pairs = list(zip(flags[::2], flags[1::2], strict=False))
    for flag, value in pairs:
        if f" {flag} " not in f" {out} ":
            out += f" {flag} {value}"
    return out


def _runbook(report: Report, f: Finding) -> str:
    check = report.check(f.check)
    cause = check.cause_table[f.cause].anchor if check and f.cause in check.causes else f.cause
    return f"{check.runbook if check else f.check}#{cause}"


def because(f: Finding) -> str:
    """``because: image-pull/image-not-found on 3 Pods`` (one phrase per cause)."""
    by_cause: dict[tuple[str, str], list[str]] = {}
    for key in f.caused_by:
        by_cause.setdefault((key.check, key.cause), []).append(clean(key.resource))
    parts = []
    for (check, cause), refs in by_cause.items():
        kinds = {r.split("/", 1)[0] for r in refs}
        where = refs[0] if len(refs) == 1 else f"{len(refs)} {'/'.join(sorted(kinds))}s"
        parts.append(f"{check}/{cause} on {where}")
    return "because: " + "; ".join(parts)


def _explains(n: int) -> str:
    return f" (explains {n})" if n else ""


def _root_lines(report: Report, f: Finding, width: int, flags: Sequence[str]) -> list[str]:
    """What a root cause shows on the first screen: the state in one line, then what to do.

    The fix command when there is one, else the remediation (which holds the command to
    run, such as the ``kubectl label node ...`` for nodes missing their label), and the
    runbook; cut to fit two lines so that a handful of causes fit one screen.
    """
    command = _COMMAND.search(f.remediation or "")
    if f.fix:
        todo = f"fix: {with_scope(f.fix, flags)}"
    elif command:
        todo = f"run: {command.group(1)}"
    else:
        todo = f"do: {f.remediation}"
    runbook = f"runbook: {_runbook(report, f)}"
    lines = [clip(f.message, width), clip(todo, 2 * width)]
    if len(lines[1]) + 3 + len(runbook) <= width:
        lines[1] += " · " + runbook
    else:
        lines.append(runbook)
    return lines


# -- terminal ------------------------------------------------------------------------------


def render_rich(
    report: Report,
    console: Console,
    *,
    verbose: bool = False,
    offline: bool = False,
    scope_flags: Sequence[str] = (),
) -> None:
    """Print the report as rich trees to ``console``."""
    view = build_view(report, verbose=verbose, offline=offline)
    console.print(Text(_header(report), style="dim"))
    note = snapshot_note(view, datetime.now(UTC))
    if note:
        console.print(Text(note, style="yellow"))
    if not view.components:
        console.print(Text("No problems found.", style="bold green"))
    if view.roots:
        console.print(Text("Root causes, fix these first:", style="bold"))
        for group in view.roots[:ROOTS_SHOWN]:
            console.print(_root_text(report, group, view, scope_flags, console.width))
        if len(view.roots) > ROOTS_SHOWN:
            rest = len(view.roots) - ROOTS_SHOWN
            console.print(Text(f"  … and {rest} more causes below", style="dim"))
        console.print(Text("Details by component:", style="bold"))
    room = max(40, console.width - 8)  # a branch's text after the tree's indentation
    for comp, entries in view.components:
        worst = max(e.first.severity for e in entries)
        tree = Tree(Text.assemble((f"{worst.label.upper():9}", STYLE[worst]), clean(comp)))
        for entry in entries:
            f = entry.first
            head = f"{mark(report, f)}{f.check}/{f.cause} "
            if f.caused_by and not verbose:  # explained above: one line pointing at its cause
                line = Text.assemble((head, STYLE[f.severity]), (entry.where(), "bold"))
                rest = room - len(head) - len(entry.where())
                line.append(clip(f" · {because(f)}", max(20, rest)), "magenta")
                tree.add(line)
                continue
            branch = tree.add(Text(mark(report, f)) + _entry_text(entry, room, verbose))
            for text in [because(f)] if f.caused_by else []:
                branch.add(Text(clip(text, room), style="magenta"))
            for line_text in evidence_lines(entry, verbose, width=room if not verbose else 1000):
                branch.add(Text(line_text, style="dim"))
            tail = Text()
            if f.remediation and (verbose or f.caused_by):  # a root's is on the first screen
                tail.append(clip(f.remediation, 300) + "  ")
            if f.fix:
                tail.append(f"fix: {with_scope(f.fix, scope_flags)}  ", style="green")
            tail.append(f"runbook: {_runbook(report, f)}", style="blue")
            branch.add(tail)
        console.print(tree)
    bad = [r for r in report.results if r.status in ("skipped", "error")]
    if bad:
        table = Table(show_header=False, box=None, pad_edge=False)
        for r in bad:
            table.add_row(Text(r.status, style="yellow"), Text(r.id), Text(clean(r.detail)))
        console.print(Group(Text("Checks that did not run fully:", style="yellow"), table))
    for extra in known_lines(report, verbose):
        console.print(Text(clean(extra, 2000), style="yellow"))
    console.print(Text(summary_line(report, view), style="bold"))


def _root_text(
    report: Report, group: RootGroup, view: ReportView, flags: Sequence[str], console_width: int
) -> Text:
    f = group.first
    text = Text("  ")
    text.append(mark(report, f), "bold green" if mark(report, f) == "[new] " else "dim")
    text.append(f"{f.severity.label.upper():9}", STYLE[f.severity])
    text.append(f"{f.check}/{f.cause} ", STYLE[f.severity])
    where = group.entries[0].where() if len(group.entries) == 1 else objects_line(group, False)
    text.append(where, "bold")
    text.append(_explains(group.explains), "magenta")
    if len(group.entries) > 1:
        text.append(f"\n           {group.objects} objects: {objects_line(group, view.verbose)}")
    width = max(60, console_width - 11)
    for line in _root_lines(report, f, width, flags):
        for part in textwrap.wrap(line, width, break_on_hyphens=False) or [""]:
            text.append("\n           " + part)
    return text


def _entry_text(entry: Entry, room: int, verbose: bool) -> Text:
    f = entry.first
    text = Text.assemble((f"{f.check}/{f.cause}", STYLE[f.severity]), " ", (entry.where(), "bold"))
    names = entry.names()
    if names:
        shown = names if verbose else clip(names, max(20, room - len(text.plain) - 3))
        text.append(f" ({shown})", "dim")
    text.append("\n" + (clean(f.message, 2000) if verbose else clip(f.message, 2 * room)))
    return text


# -- plain ---------------------------------------------------------------------------------


def plain_width() -> int:
    """``COLUMNS`` when set, else the terminal's width, else 80."""
    return max(40, shutil.get_terminal_size((80, 24)).columns)


def render_plain(
    report: Report,
    *,
    verbose: bool = False,
    offline: bool = False,
    width: int | None = None,
    scope_flags: Sequence[str] = (),
) -> str:
    """The report as a plain list: root causes, then one block per component."""
    view = build_view(report, verbose=verbose, offline=offline)
    cols = width or plain_width()
    out: list[str] = []

    def put(text: str, indent: int = 0, hang: int = 2) -> None:
        lead = " " * indent
        out.extend(
            textwrap.wrap(
                text,
                width=cols,
                initial_indent=lead,
                subsequent_indent=lead + " " * hang,
                break_long_words=True,
                break_on_hyphens=False,
            )
            or [lead]
        )

    note = snapshot_note(view, datetime.now(UTC))
    put(_header(report) + (f" · {note}" if note else ""))
    if view.roots:
        put("ROOT CAUSES (fix these first):")
        for group in view.roots[:ROOTS_SHOWN] if not verbose else view.roots:
            f = group.first
            where = (
                group.entries[0].where()
                if len(group.entries) == 1
                else (f"{group.objects} objects: {objects_line(group, verbose)}")
            )
            head = f"{mark(report, f)}{f.severity.label.upper()} {f.check}/{f.cause} {where}"
            put(head + _explains(group.explains), 2, 4)
            for line in _root_lines(report, f, cols - 6, scope_flags):
                put(line, 6)
        if not verbose and len(view.roots) > ROOTS_SHOWN:
            put(f"… and {len(view.roots) - ROOTS_SHOWN} more causes below (-v lists them)", 2)
    if not view.components:
        out.append("")
        put("No problems found.")
    for comp, entries in view.components:
        out.append("")
        worst = max(e.first.severity for e in entries)
        put(f"{worst.label.upper()} {clean(comp)}")
        for entry in entries:
            f = entry.first
            if f.caused_by and not verbose:  # explained above: one line pointing at its cause
                put(f"{mark(report, f)}{f.check}/{f.cause} {entry.where()} · {because(f)}", 2, 4)
                continue
            put(f"{mark(report, f)}{f.check}/{f.cause} {entry.where()}", 2, 4)
            if entry.names():
                put(f"objects: {entry.names()}", 6)
            put(clip(f.message, 500), 6)
            if f.caused_by:
                put(because(f), 6)
            for line in evidence_lines(entry, verbose):
                put(f"evidence: {line}", 6)
            if f.remediation:
                put(f"remedy: {clip(f.remediation, 300)}", 6)
            if f.fix:
                put(f"fix: {with_scope(f.fix, scope_flags)}", 6)
            put(f"runbook: {_runbook(report, f)}", 6)
    bad = [r for r in report.results if r.status in ("skipped", "error")]
    if bad:
        out.append("")
        for r in bad:
            put(f"{r.status}: {r.id}: {clean(r.detail)}")
    out.append("")
    for extra in known_lines(report, verbose):
        put(clean(extra, 2000), 0, 4)
    put(summary_line(report, view))
    return "\n".join(out)
