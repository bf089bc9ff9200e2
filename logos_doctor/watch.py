"""``check --watch [SECONDS]``: the root-cause view, refreshed until Ctrl-C, with what changed.

What the on-call engineer looks at while a fix rolls out: every refresh lists the cluster
again (one LIST per kind, as ``check`` does), runs the checks, and compares the findings with
the previous refresh (``baseline.compare``, matched on check, cause and object, never on the
message): a root cause that appeared is marked ``[new]``, every finding that appeared is a
``new:`` line and every one that went a ``gone:`` line.  On a terminal the view is redrawn in
place (rich ``Live``); piped, each refresh is a new block headed ``=== refresh N``, flushed at
once, so a log or a test reads the refreshes as they come.  Ctrl-C ends it with status 0.
A refresh that fails (the API server restarting under the fix) is shown as one error line and
the watch goes on, comparing the next good refresh with the last good one.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from logos_doctor.annotate import apply_baseline, apply_known, installed_causes, of_report
from logos_doctor.baseline import Baseline
from logos_doctor.cluster.collect import fetch_live, kinds_for, require_namespaces, resolve_scope
from logos_doctor.config import Config
from logos_doctor.errors import DoctorError
from logos_doctor.known import IgnoreFile
from logos_doctor.outcome import Target
from logos_doctor.registry import Check
from logos_doctor.render.view import build_view, clip, summary_line
from logos_doctor.restrict import parse_selector, restrict
from logos_doctor.runner import Report, run_checks

DEFAULT_INTERVAL = 5.0
HISTORY = 5  # earlier changes kept on a terminal's redrawn view
STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


@dataclass(frozen=True)
class Line:
    """One line of a refresh's block, and its style on a terminal."""

    text: str
    style: str = ""


def block(
    report: Report | None,
    error: DoctorError | None,
    number: int,
    interval: float,
    when: datetime,
    width: int = 100,
    verbose: bool = False,
    history: Sequence[str] = (),
) -> list[Line]:
    """The lines of one refresh: header, root causes (new ones marked), changes, summary.

    ``history``: the last changes of earlier refreshes, for a terminal, where a redrawn
    block would otherwise show a change for one refresh only."""
    stamp = when.strftime("%H:%M:%SZ")
    head = f"=== refresh {number} · {stamp} · every {interval:g}s · Ctrl-C to stop"
    if report is not None:
        st = report.state
        head += f" · {st.cluster.context or st.cluster.server or '-'} · {st.scope.describe()}"
    lines = [Line(clip(head, width), "dim")]
    if report is None:
        lines.append(Line(clip(f"refresh failed: {error}", width), "bold red"))
        return lines
    view = build_view(report, verbose=verbose)
    comp = report.baseline
    if not view.roots:
        lines.append(Line("No problems found.", "bold green"))
    else:
        lines.append(Line("Root causes, fix these first:", "bold"))
    for group in view.roots:
        f = group.first
        keys = [e.first for e in group.entries]
        fresh = comp is not None and any(comp.mark(x) == "new" for x in keys)
        mark = "[new] " if fresh else ""
        where = group.entries[0].where() if len(group.entries) == 1 else f"{group.objects} objects"
        explains = f" (explains {group.explains})" if group.explains else ""
        text = f"  {mark}{f.severity.label.upper()} {f.check}/{f.cause} {where}{explains}"
        lines.append(Line(clip(text, width), "bold green" if fresh else STYLE[f.severity.label]))
        lines.append(Line(clip(f"      {f.message}", width)))
    if comp is not None:
        fresh_findings = [f for f in report.findings if comp.mark(f) == "new"]
        if fresh_findings or comp.gone:
            lines.append(Line(f"Changes since refresh {number - 1}:", "bold"))
        for f in fresh_findings:
            text = f"  new: {f.severity.label} {f.check}/{f.cause} {f.resource}"
            lines.append(Line(clip(text, width), "green"))
        for p in comp.gone:
            lines.append(Line(clip(f"  {p.line()}", width), "magenta"))
    if history:
        lines.append(Line("Earlier changes:", "dim"))
        lines += [Line(clip(f"  {h}", width), "dim") for h in history]
    if report.known is not None:
        lines += [Line(clip(w, width), "yellow") for w in report.known.warnings()]
    summary = textwrap.wrap(summary_line(report, view), width, subsequent_indent="  ")
    lines += [Line(part, "bold") for part in summary]
    return lines


def as_text(lines: list[Line]) -> Text:
    """The block as rich text, for ``Live``."""
    out = Text()
    for n, line in enumerate(lines):
        if n:
            out.append("\n")
        out.append(line.text, line.style)
    return out


def run(
    refresh: Callable[[], Report],
    interval: float,
    *,
    out: TextIO | None = None,
    tty: bool | None = None,
    verbose: bool = False,
    console: Console | None = None,
    sleep: Callable[[float], None] = time.sleep,
    refreshes: int | None = None,
) -> int:
    """Refresh every ``interval`` seconds until Ctrl-C (or ``refreshes`` times); 0."""
    stream = out or sys.stdout
    on_tty = stream.isatty() if tty is None else tty
    live: Live | None = None
    if on_tty:
        console = console or Console(file=stream, highlight=False)
        live = Live(console=console, auto_refresh=False, transient=False)
        live.start()
    previous: Baseline | None = None
    history: deque[str] = deque(maxlen=HISTORY)
    number = 0
    try:
        while refreshes is None or number < refreshes:
            number += 1
            started = time.monotonic()
            report: Report | None = None
            error: DoctorError | None = None
            try:
                report = refresh()
            except DoctorError as exc:
                error = exc
            if report is not None and previous is not None:
                report = apply_baseline(report, previous)
            width = console.width if console is not None else _width()
            now = datetime.now(UTC)
            shown = list(history) if live is not None else []
            lines = block(report, error, number, interval, now, width, verbose, shown)
            if report is not None and report.baseline is not None:
                history.extendleft(_changes(report, now))
            if live is not None:
                live.update(as_text(lines), refresh=True)
            else:
                stream.write("\n".join(line.text for line in lines) + "\n\n")
                stream.flush()
            if report is not None:
                previous = of_report(report, f"refresh {number}")
            if refreshes is not None and number >= refreshes:
                break
            sleep(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        pass
    finally:
        if live is not None:
            live.stop()
    return 0


def _changes(report: Report, when: datetime) -> list[str]:
    """``12:00:03 gone: ...`` lines of this refresh, for the history."""
    comp = report.baseline
    if comp is None:
        return []
    stamp = when.strftime("%H:%M:%S")
    out = [
        f"{stamp} new: {f.severity.label} {f.check}/{f.cause} {f.resource}"
        for f in report.findings
        if comp.mark(f) == "new"
    ]
    return out + [f"{stamp} {p.line()}" for p in comp.gone]


def _width() -> int:
    return max(40, shutil.get_terminal_size((100, 24)).columns)


def live_refresh(
    chosen: Sequence[Check],
    config: Config,
    *,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    all_namespaces: bool,
    timeout: float,
    page_size: int,
    ignore: IgnoreFile | None,
    selector: str | None = None,
) -> Callable[[], Report]:
    """One refresh of one cluster: a LIST per kind, the checks, ``-l`` (restrict.py) as in a
    single run, the ignore file.  No progress spinner: the view itself is redrawn."""
    if selector is not None:
        parse_selector(selector)  # a bad selector is a usage error before any request
    scope = resolve_scope(namespace, all_namespaces, config)
    kinds = kinds_for(chosen, scope)
    target = Target(kubeconfig, context)
    catalog = installed_causes() if ignore is not None else None

    def refresh() -> Report:
        # Not frozen: each refresh's state is garbage after the next one.
        state, _ = fetch_live(
            target, kinds, scope, timeout=timeout, page_size=page_size, freeze=False, lean=True
        )
        require_namespaces(state)
        report = run_checks(state, chosen, config)
        if selector is not None:
            report = restrict(report, selector)
        if ignore is not None:
            report = apply_known(report, ignore, datetime.now(UTC).date(), catalog)
        return report

    return refresh
