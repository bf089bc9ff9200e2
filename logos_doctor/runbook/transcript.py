"""The record of a runbook run, as markdown ready to paste into an incident ticket.

Who ran what, when, against which cluster, with which parameters, and what each step printed
and returned.  The file is rewritten after every step, so a run that is interrupted (Ctrl-C,
a lost SSH session) still leaves a transcript of everything up to that point.  Output is
trimmed to its first and last lines: a ticket needs the evidence, not megabytes of logs.
Steps are written so that they never print Secret values (see ``runbook.lint``); the
transcript records what the steps printed and nothing else from the cluster.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from platformdirs import user_state_path

from logos_doctor.errors import DoctorError, UsageError

MAX_LINES = 200
MAX_LINE_CHARS = 500
_SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")


@dataclass
class StepRecord:
    """One step of the run and what became of it."""

    number: int
    step_id: str
    kind: str
    section: str
    command: str
    status: str = "pending"  # ok, failed, timed-out, interrupted, skipped, refused, quit, dry-run
    exit_code: int | None = None
    seconds: float = 0.0
    output: list[str] = field(default_factory=list)


@dataclass
class Transcript:
    """Everything a run did; ``markdown()`` renders it."""

    runbook_id: str
    title: str
    cause: str | None
    user: str
    host: str
    started: datetime
    context: str
    server: str | None
    kubeconfig: str | None
    dry_run: bool = False
    params: dict[str, str] = field(default_factory=dict)
    param_sources: dict[str, str] = field(default_factory=dict)
    finding: str | None = None
    steps: list[StepRecord] = field(default_factory=list)
    outcome: str = "running"
    finished: datetime | None = None
    max_lines: int = MAX_LINES

    def markdown(self) -> str:
        """The transcript as markdown."""
        cause = f", cause `{self.cause}`" if self.cause else ""
        server = f" ({self.server})" if self.server else ""
        rows = [
            ("Runbook", f"`{self.runbook_id}`{cause}: {self.title}"),
            ("Operator", f"{self.user} on {self.host}"),
            ("Started", _iso(self.started)),
            ("Finished", _iso(self.finished) if self.finished else "(not finished)"),
            ("Cluster context", f"{self.context}{server}"),
            ("Kubeconfig", self.kubeconfig or "(default)"),
            ("Mode", "dry run: nothing was executed" if self.dry_run else "executed"),
            ("Outcome", self.outcome),
        ]
        out = [f"# Runbook run: {self.runbook_id}{' #' + self.cause if self.cause else ''}", ""]
        out += ["| | |", "|---|---|"]
        out += [f"| {k} | {_cell(v)} |" for k, v in rows]
        if self.finding:
            out += ["", "## Finding", "", _cell(self.finding)]
        if self.params:
            out += ["", "## Parameters", "", "| name | value | from |", "|---|---|---|"]
            out += [
                f"| {k} | `{_cell(v)}` | {self.param_sources.get(k, '')} |"
                for k, v in self.params.items()
            ]
        out += ["", "## Steps"]
        if not self.steps:
            out += ["", "(no steps)"]
        for rec in self.steps:
            out += ["", *self._step(rec)]
        return "\n".join(out) + "\n"

    def _step(self, rec: StepRecord) -> list[str]:
        exit_text = f", exit {rec.exit_code}" if rec.exit_code is not None else ""
        took = f", {rec.seconds:.1f}s" if rec.exit_code is not None else ""
        lines = [
            f"### {rec.number}. {rec.step_id} ({rec.kind}, {rec.section}): {rec.status}"
            f"{exit_text}{took}",
            "",
        ]
        lines += _fenced(rec.command, "sh")
        if rec.exit_code is not None or rec.output:
            shown, omitted = trim(rec.output, self.max_lines)
            note = f", {omitted} lines omitted" if omitted else ""
            count = f"{len(rec.output)} line{'' if len(rec.output) == 1 else 's'}"
            lines += ["", f"Output ({count}{note}):", ""]
            lines += _fenced("\n".join(shown) if shown else "(no output)", "text")
        return lines

    def save(self, path: Path) -> None:
        """Write the transcript (atomically, so a reader never sees half a file)."""
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            tmp.write_text(self.markdown(), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            raise DoctorError(
                f"cannot write transcript {path}: {exc.strerror or exc}",
                "choose another file with --transcript PATH",
            ) from None


def trim(lines: list[str], limit: int) -> tuple[list[str], int]:
    """The first and last lines of an output (``limit`` in all), and how many were left out."""
    cut = [ln if len(ln) <= MAX_LINE_CHARS else ln[:MAX_LINE_CHARS] + " …" for ln in lines]
    if len(cut) <= limit:
        return cut, 0
    head = limit // 2
    tail = limit - head
    omitted = len(cut) - limit
    return [*cut[:head], f"… {omitted} lines omitted …", *cut[-tail:]], omitted


def _fenced(text: str, lang: str) -> list[str]:
    """A code block whose fence is longer than any backtick run inside it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{lang}", text, fence]


def _cell(text: str) -> str:
    return text.replace("\n", " ").replace("|", "\\|")


def _iso(when: datetime | None) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z") if when else ""


def default_dir() -> Path:
    """``<user state dir>/logos-doctor/transcripts``."""
    return user_state_path("logos-doctor") / "transcripts"


def transcript_path(
    explicit: str | None, runbook_id: str, cause: str | None, when: datetime
) -> Path:
    """Where this run's transcript goes, created empty so two runs never share a file.

    ``explicit`` is a file, or a directory to put the default name in.  The default name is
    built from ids only; it is checked to stay inside its directory all the same.
    """
    for part in (runbook_id, cause or "x"):
        if not _SAFE_ID.fullmatch(part):
            raise UsageError(f"{part!r} cannot be part of a transcript file name")
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    name = f"{stamp}-{runbook_id}{'-' + cause if cause else ''}"
    if explicit:
        target = Path(explicit).expanduser()
        if not target.is_dir():
            target.parent.mkdir(parents=True, exist_ok=True)
            return _claim(target, overwrite=True)
        folder = target
    else:
        folder = default_dir()
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    for n in range(1, 1000):
        candidate = (root / f"{name}{'' if n == 1 else f'-{n}'}.md").resolve()
        if not candidate.is_relative_to(root):
            raise UsageError(f"transcript name {candidate.name!r} leaves {root}")
        try:
            return _claim(candidate, overwrite=False)
        except FileExistsError:
            continue
    raise DoctorError(f"too many transcripts named {name} in {root}")


def _claim(path: Path, *, overwrite: bool) -> Path:
    try:
        with path.open("w" if overwrite else "x", encoding="utf-8"):
            pass
    except FileExistsError:
        raise
    except OSError as exc:
        raise DoctorError(
            f"cannot write transcript {path}: {exc.strerror or exc}",
            "choose another file with --transcript PATH",
        ) from None
    return path
