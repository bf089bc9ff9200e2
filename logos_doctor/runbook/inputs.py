"""What a run is about and the values it runs with: the finding picked from ``check -o
json`` output, and each parameter from a flag, the finding, its default or the operator.

Only a terminal is asked: without one, defaults are taken and every value still missing is
named in one error, so a script learns everything it must add in a single try.  A dry run
never insists: a missing value stays a named placeholder in what it shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from logos_doctor.errors import UsageError
from logos_doctor.runbook.document import Runbook
from logos_doctor.runbook.finding import finding_line, findings_in, runbook_of
from logos_doctor.runbook.params import Param
from logos_doctor.runbook.step import Step


def read_findings(path: str) -> list[dict[str, Any]]:
    """The findings in a ``check -o json`` file (``-`` for stdin)."""
    import json

    try:
        with click.open_file(path, encoding="utf-8") as fh:
            document = json.load(fh)
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot read findings from {path}: {exc}", "give 'check -o json' output"
        ) from None
    findings = findings_in(document)
    if not findings:
        raise UsageError(f"{path} holds no findings", "nothing to run a runbook for")
    return findings


def pick_finding(
    findings: Sequence[dict[str, Any]],
    index: int | None,
    rid: str | None,
    cause: str | None,
    *,
    interactive: bool,
) -> dict[str, Any]:
    """The finding this run is about: ``--index N``; else the root causes (of this runbook
    and cause, when given), the operator picking from a numbered list on a terminal and the
    first root cause taken otherwise."""
    if index is not None:
        if index >= len(findings):
            raise UsageError(f"--index {index} is out of range: the file has {len(findings)}")
        return findings[index]
    matching = [
        (i, f)
        for i, f in enumerate(findings)
        if (rid is None or runbook_of(f) == rid) and (cause is None or f.get("cause") == cause)
    ]
    if not matching:
        raise UsageError("no finding in the file matches", "pick one with --index N")
    roots = [(i, f) for i, f in matching if f.get("root_cause")]
    pool = roots or matching
    if len(pool) == 1 or not interactive:
        return pool[0][1]
    what = "root causes" if roots else "findings"
    click.echo(f"{len(pool)} {what} (--index N picks one without asking):")
    for i, f in pool:
        click.echo(f"  {i:>3}  {finding_line(f, message=False)}")
    choices = {str(i) for i, _ in pool}
    picked = click.prompt(
        "Which one", default=str(pool[0][0]), type=click.Choice(sorted(choices, key=int))
    )
    return findings[int(picked)]


@dataclass
class Values:
    """The parameters of a run: value and where it came from; ``missing`` only in dry runs."""

    values: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def given_params(book: Runbook, args: Sequence[str], **flags: str | None) -> dict[str, str]:
    """``--param KEY=VALUE`` and the named flags, refused if the runbook has no such key."""
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


def resolve(
    book: Runbook,
    steps: Sequence[Step],
    given: Mapping[str, str],
    from_finding: Mapping[str, str],
    *,
    interactive: bool,
    use_defaults: bool,
    dry_run: bool,
) -> Values:
    """Every parameter the chosen steps use: flags, then the finding, then a default or an
    answer; a value from the finding that is not valid for its type is asked like a missing
    one (a finding never puts an option into a command)."""
    needed = list(dict.fromkeys(name for step in steps for name in step.params))
    out = Values()
    unanswered: list[Param] = []
    refused: dict[str, str] = {}
    for name in needed:
        param = book.params[name]
        if name in given:
            out.values[name], out.sources[name] = param.validate(given[name]), "command line"
            continue
        if name in from_finding:
            try:
                out.values[name] = param.validate(from_finding[name])
                out.sources[name] = "finding"
                continue
            except UsageError as exc:
                refused[name] = f"the finding's {exc.message}"
                if interactive and not dry_run:
                    click.echo(f"{refused[name]}; {exc.hint}", err=True)
        if param.default is not None and (use_defaults or dry_run or not interactive):
            out.values[name], out.sources[name] = param.default, "default"
        elif dry_run:
            out.missing.append(name)
        elif interactive:
            out.values[name], out.sources[name] = ask(param), "answered"
        else:
            unanswered.append(param)
    if unanswered:
        names = ", ".join(
            f"{p.name} ({p.description}{'; ' + refused[p.name] if p.name in refused else ''})"
            for p in unanswered
        )
        flags = " ".join(f"--param {p.name}=VALUE" for p in unanswered)
        raise UsageError(f"runbook {book.id} needs values for: {names}", f"give {flags}")
    return out


def ask(param: Param) -> str:
    """One parameter from the operator, asked again until it is valid."""

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
