"""What a parse cannot see: steps that could print Secret values, placeholders bash would
never expand, parameters declared for nothing; and the ``logos-doctor`` commands a runbook
shows, for the test that runs them through the real CLI."""

from __future__ import annotations

import re
from collections.abc import Iterator

from logos_doctor.runbook.document import Runbook
from logos_doctor.runbook.step import PLACEHOLDER, Step

_SECRET_READ = re.compile(r"\bget\s+(secrets?|secret/\S+)\b(?P<rest>[^\n|;&]*)")
_OUTPUT = re.compile(r"(?:^|\s)(?:-o|--output)(?:=|\s+)?(\S+)")
_FORBIDDEN = (
    (re.compile(r"\bbase64\s+(-d|--decode|-D)\b"), "decodes data (a Secret value?)"),
    (re.compile(r"\b(printenv|env)\s*($|[|;&\n])"), "prints environment variables (secrets)"),
    (re.compile(r"/proc/\S*/environ"), "reads a process environment (secrets)"),
    (re.compile(r"secret.*(\.data\b|stringData)", re.I), "reads or writes a Secret's data"),
    (
        re.compile(r"--(from-literal|docker-password)[= ]"),
        "puts a secret value on the command line (it would land in the transcript)",
    ),
    (
        re.compile(r"(?<![<\w])<[a-z][a-z0-9_-]*>"),
        "has a <placeholder>, which bash reads as a redirection; use {{param}}",
    ),
)


def lint(book: Runbook) -> list[str]:
    """Problems of a runbook that parses: each one a line naming the file and step."""
    problems: list[str] = []
    for step in book.steps:
        where = f"{book.source}: step {step.id}"
        for m in _SECRET_READ.finditer(step.code):
            out = _OUTPUT.search(m.group("rest"))
            if out and not _safe_secret_output(out.group(1)):
                problems.append(f"{where}: 'get secret -o {out.group(1)}' could print values")
        for pattern, why in _FORBIDDEN:
            if pattern.search(step.code):
                problems.append(f"{where}: {why}")
        quoted, escapes = _scan(step)
        for name in quoted:
            problems.append(
                f"{where}: {{{{{name}}}}} is inside single quotes, where bash would not expand "
                "it; close the quotes around it"
            )
        for text in escapes:
            problems.append(
                f"{where}: {text!r} outside quotes: bash drops the backslash before kubectl "
                "sees it (quote the argument)"
            )
    for name in sorted(set(book.params) - book.used_params()):
        problems.append(f"{book.source}: parameter {name} is declared but never used")
    return problems


def single_quoted(step: Step) -> list[str]:
    """Placeholders inside '...' outside here-documents: their ``"${name}"`` stays literal."""
    return _scan(step)[0]


def _scan(step: Step) -> tuple[list[str], list[str]]:
    """Placeholders inside single quotes, and backslash escapes outside any quotes (``\\.``
    in a jsonpath or custom-columns key: bash turns it into ``.``)."""
    found: list[str] = []
    escapes: list[str] = []
    quote = ""
    for number, line in enumerate(step.code.split("\n")):
        if number in step.heredoc_lines:
            continue
        i = 0
        while i < len(line):
            m = PLACEHOLDER.match(line, i)
            if m:
                if quote == "'":
                    found.append(m.group(1))
                i = m.end()
                continue
            ch = line[i]
            if ch == "\\" and quote != "'":
                if not quote and line[i + 1 : i + 2] == ".":
                    escapes.append(line[max(0, i - 20) : i + 10])
                i += 1
            elif ch == "#" and not quote and (i == 0 or line[i - 1] in " \t;&|("):
                break  # a comment: never run
            elif ch in "'\"" and quote in ("", ch):
                quote = "" if quote else ch
            i += 1
    return found, escapes


def _safe_secret_output(fmt: str) -> bool:
    fmt = fmt.strip("'\"")
    if fmt in ("name", "wide"):
        return True
    if fmt.startswith("jsonpath="):
        expr = fmt[len("jsonpath=") :]
        return ".data" not in expr and "stringData" not in expr and expr.strip("'\"{}.") != ""
    return False


def cli_commands(book: Runbook) -> Iterator[tuple[int, str]]:
    """Every ``logos-doctor ...`` command the runbook shows (code blocks and inline code),
    as (line in the file, command text), backslash continuations joined."""
    for first, code in book.code_blocks:
        pending, start = "", 0
        for idx, raw in enumerate(code.split("\n")):
            lineno = book.front_lines + first + idx + 2  # +1 for the fence, +1 from 0
            text = raw.strip()
            if pending:
                pending += " " + text.rstrip("\\").strip()
                if not text.endswith("\\"):
                    yield start, pending
                    pending = ""
                continue
            text = text.removeprefix("$ ")
            if not text.startswith("logos-doctor "):
                continue
            if text.endswith("\\"):
                pending, start = text.rstrip("\\").strip(), lineno
            else:
                yield lineno, text
    for line, text in book.inline_code:
        if text.startswith("logos-doctor "):
            yield book.front_lines + line + 1, text
