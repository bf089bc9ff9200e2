"""One executable step, and how its parameters reach bash: as environment variables.

``script`` gives bash ``"${pvc}"`` where the runbook says ``{{pvc}}``, and ``env`` the values;
``show`` gives the operator (and the transcript) the command with the values written in.
Only in a here-document body, where quotes would be literal text, is a value written into
the script, and only a plain word (``shlex.quote`` leaves it alone) is accepted there.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from logos_doctor.errors import UsageError

PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")
_HEREDOC = re.compile(r"(?<!<)<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")

_EDITOR = re.compile(r"\bkubectl\s+(?:\S+\s+)*?edit\b|\$\{?(?:KUBE_)?EDITOR\b")

StepKind = Literal["diagnose", "change"]


@dataclass(frozen=True)
class Step:
    """One executable fenced block.

    ``expect`` holds the exit codes that mean the step did what it is for (a diagnose step
    that looks for something missing may expect 1); ``may_fail`` accepts any exit code.
    """

    id: str
    kind: StepKind
    code: str
    section: str  # "diagnosis", "mitigation", or the cause id whose section holds it
    line: int
    expect: frozenset[int] = frozenset({0})
    may_fail: bool = False
    heredoc_lines: frozenset[int] = field(default=frozenset())

    @property
    def params(self) -> tuple[str, ...]:
        """Parameter names used, in order of first use."""
        return tuple(dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(self.code)))

    @property
    def needs_terminal(self) -> bool:
        """Whether the step opens an editor (``kubectl edit``), which needs the terminal."""
        return bool(_EDITOR.search(self.code))

    def accepts(self, exit_code: int) -> bool:
        """Whether this exit code is one the step expects."""
        return self.may_fail or exit_code in self.expect

    def show(self, values: Mapping[str, str]) -> str:
        """The command as a person reads it: values filled in, a missing one left named."""
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), self.code)

    def script(self, values: Mapping[str, str]) -> str:
        """The text bash runs: every placeholder becomes ``"${name}"``, its value travelling
        in the environment (``env``), so bash never parses a value.  In a here-document,
        where quotes would be literal, the value is written out and must be a plain word."""
        out: list[str] = []
        for number, line in enumerate(self.code.split("\n")):
            if number in self.heredoc_lines:
                out.append(PLACEHOLDER.sub(lambda m: self._plain(m.group(1), values), line))
            else:
                out.append(PLACEHOLDER.sub(lambda m: '"${' + m.group(1) + '}"', line))
        return "\n".join(out)

    def env(self, values: Mapping[str, str]) -> dict[str, str]:
        """The environment variables the script reads."""
        return {name: values[name] for name in self.params}

    def _plain(self, name: str, values: Mapping[str, str]) -> str:
        value = values[name]
        if shlex.quote(value) != value:
            raise UsageError(
                f"parameter {name}={value!r} cannot go into step {self.id}",
                "the step writes it into a here-document, where only plain values fit",
            )
        return value


def heredoc_lines(code: str) -> frozenset[int]:
    """Line numbers (from 0) of here-document bodies in ``code``: there a value is text, not
    a shell word, so it is written out rather than read from the environment."""
    inside: set[int] = set()
    pending: list[tuple[str, bool]] = []
    for number, line in enumerate(code.split("\n")):
        if pending:
            delimiter, strip = pending[0]
            if (line.lstrip("\t") if strip else line) == delimiter:
                pending.pop(0)
            else:
                inside.add(number)
            continue
        pending += [(m.group(3), m.group(1) == "-") for m in _HEREDOC.finditer(line)]
    return frozenset(inside)
