"""Runbooks: markdown an on-call engineer reads, with steps logos-doctor can run.

A runbook is ``runbooks/<id>.md`` in the package (``logos_doctor.runbooks``): YAML front
matter (id, title, use, checks, severity, params), then ``## Meaning``, ``## Impact``,
``## Diagnosis`` and ``## Mitigation``, where each cause has a ``### <cause-id>`` section (its
anchor is the cause id, so ``check`` can link ``<id>.md#<cause>``).  Executable steps are
fenced blocks whose info string carries attributes::

    ```sh {id=describe-pvc kind=diagnose}
    kubectl describe pvc {{pvc}} -n {{namespace}}
    ```

``kind=diagnose`` steps only read (``expect=0,1`` or ``may-fail=true`` when a failure is
itself the evidence); ``kind=change`` steps modify something and are confirmed one by one.
A run walks the Diagnosis steps, the Mitigation steps outside any cause section, then the
chosen cause's steps.

Safe by construction: bash runs ``kubectl describe pvc "${pvc}" -n "${namespace}"`` with the
values in its environment, so no value is ever parsed as shell code; the display and the
transcript show the values filled in.  Every value is still checked against its type, which
keeps an option (``--all-namespaces``) out of a command.

The rooms: ``params`` (types), ``document`` (markdown-it-py parse: sections, steps),
``library`` (the packaged files), ``lint``, ``finding`` (a finding's parameters), ``inputs``
(which finding, which values), ``walker`` and ``shell`` (running), ``transcript``,
``display`` (``show`` in a terminal).
"""

from __future__ import annotations

from logos_doctor.errors import UsageError
from logos_doctor.runbook.document import (
    REQUIRED_SECTIONS,
    STEP_LANGS,
    Runbook,
    Section,
    parse,
    slugify,
)
from logos_doctor.runbook.finding import (
    KIND_PARAMS,
    finding_line,
    findings_in,
    params_from_finding,
    registry_of,
    runbook_of,
)
from logos_doctor.runbook.front_matter import ID, RunbookError
from logos_doctor.runbook.library import PACKAGE, load, load_all, runbook_ids, split_ref
from logos_doctor.runbook.lint import cli_commands, lint, single_quoted
from logos_doctor.runbook.params import PARAM_NAME, PARAM_TYPES, Param, ParamType
from logos_doctor.runbook.params import sample_values as _sample_values
from logos_doctor.runbook.step import PLACEHOLDER, Step, StepKind, heredoc_lines

__all__ = [
    "ID",
    "KIND_PARAMS",
    "PACKAGE",
    "PARAM_NAME",
    "PARAM_TYPES",
    "PLACEHOLDER",
    "REQUIRED_SECTIONS",
    "STEP_LANGS",
    "Param",
    "ParamType",
    "Runbook",
    "RunbookError",
    "Section",
    "Step",
    "StepKind",
    "UsageError",
    "cli_commands",
    "finding_line",
    "findings_in",
    "heredoc_lines",
    "lint",
    "load",
    "load_all",
    "params_from_finding",
    "parse",
    "registry_of",
    "runbook_ids",
    "runbook_of",
    "sample_values",
    "single_quoted",
    "slugify",
    "split_ref",
]


def sample_values(book: Runbook, names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """A valid value for each parameter of ``book`` (its default, else a typical one)."""
    return _sample_values(book.params, names)
