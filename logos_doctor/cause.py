"""Causes as data: what a check can report, declared once, in a table at the top of its module.

A ``Cause`` holds everything about one diagnosis that does not depend on the cluster: its id
(the runbook section a finding links to), its default severity, a one-line title, the
remediation and fix command as templates.  A check makes its findings *from* its causes::

    CAUSES = Causes(
        "storage-class",
        Cause("missing", Severity.CRITICAL, "StorageClass missing",
              remediation="Create StorageClass {name} (provisioner {provisioner}).",
              fix="logos-doctor fix storageclass"),
    )
    yield CAUSES["missing"].finding(resource=ref, message=..., name=..., provisioner=...)

so that a cause's id, severity, remediation, runbook anchor and fix live in one place, the
``checks`` command can list them, the runbook tests can read them, and the runner can refuse a
finding whose cause was never declared.  Templates are ``str.format`` strings filled from the
keyword facts given to ``finding``; a missing fact is a bug in the check and fails the check
(the runner reports it), never a half-filled line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import ObjectRef

_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class _Unset:
    """Marks an argument that was not given (``None`` is a meaningful fix: none)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Cause:
    """One diagnosis a check can make, independent of any cluster.

    ``remediation`` and ``fix`` are templates over the facts a check passes to ``finding``;
    ``fix`` is the ``logos-doctor fix`` command when an automatic fix exists, else None.
    ``anchor`` is the runbook section (defaults to the id).  ``symptom`` marks a cause that
    says *what* is wrong but not why (a Deployment short of replicas): it explains nothing
    on its own, so the never-silent pass still reports the warnings beneath it.  ``check``
    is filled in by the ``Causes`` table that holds the cause.
    """

    id: str
    severity: Severity
    title: str
    remediation: str = ""
    fix: str | None = None
    anchor: str = ""
    symptom: bool = False
    check: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"cause id {self.id!r} must be lower-case words joined by hyphens")
        if not self.anchor:
            object.__setattr__(self, "anchor", self.id)

    @property
    def has_fix(self) -> bool:
        """Whether ``logos-doctor fix`` can repair this cause."""
        return self.fix is not None

    def finding(
        self,
        *,
        resource: ObjectRef,
        message: str,
        evidence: Iterable[str] = (),
        parent: ObjectRef | None = None,
        affected: Iterable[ObjectRef] = (),
        depends_on: Iterable[ObjectRef] = (),
        severity: Severity | None = None,
        remediation: str | None = None,
        fix: str | None = UNSET,
        **facts: Any,
    ) -> Finding:
        """A finding of this cause on ``resource``.

        ``severity`` overrides the default where the state makes it worse or milder (a
        check says why at the call); ``remediation`` and ``fix`` replace the templates where
        the state needs other advice.  ``facts`` fill the templates.
        """
        if not self.check:
            raise ValueError(f"cause {self.id!r} is not in a Causes table")
        text = self.remediation.format_map(facts) if remediation is None else remediation
        command = (
            (None if self.fix is None else self.fix.format_map(facts)) if fix is UNSET else fix
        )
        return Finding(
            check=self.check,
            cause=self.id,
            severity=self.severity if severity is None else severity,
            resource=resource,
            message=message,
            parent=parent,
            evidence=tuple(evidence),
            remediation=text,
            fix=command,
            affected=tuple(affected),
            depends_on=tuple(depends_on),
            symptom=self.symptom,
        )


class Causes(Mapping[str, Cause]):
    """The causes of one check, by id, in declaration order.

    Iterating yields the ids, so ``cause in check.causes`` and ``list(check.causes)`` read
    as they did when causes were a tuple of strings.
    """

    def __init__(self, check: str, *causes: Cause) -> None:
        self.check = check
        self._by_id: dict[str, Cause] = {}
        for cause in causes:
            if cause.id in self._by_id:
                raise ValueError(f"check {check}: cause {cause.id!r} is declared twice")
            bound = Cause(
                cause.id,
                cause.severity,
                cause.title,
                cause.remediation,
                cause.fix,
                cause.anchor,
                cause.symptom,
                check=check,
            )
            self._by_id[cause.id] = bound
        if not self._by_id:
            raise ValueError(f"check {check} declares no cause")

    @classmethod
    def of_ids(cls, check: str, ids: Iterable[str], severity: Severity) -> Causes:
        """A table for a plugin that still declares causes as bare ids."""
        return cls(check, *(Cause(i, severity, i.replace("-", " ")) for i in ids))

    def __getitem__(self, cause_id: str) -> Cause:
        try:
            return self._by_id[cause_id]
        except KeyError:
            known = ", ".join(self._by_id)
            raise KeyError(f"check {self.check} declares no cause {cause_id!r} ({known})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def __repr__(self) -> str:
        return f"Causes({self.check!r}, {', '.join(self._by_id)})"
