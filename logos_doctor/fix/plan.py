"""What a fix will do, as data: ``FixPlan`` and its ``Step``s.

A plan is shown before anything is written, saved as ``plan.json`` beside the journal, and
executed (or resumed) from that file, so it carries everything a step needs: the objects it
touches, the uid and generation it was planned against, and what a person would type to do
the same by hand.  How safe a plan is to apply unattended is said by each step, the way
ruff's fixes say it (``Applicability``): ``--yes`` applies a plan only when every step is
``safe``, unless ``--unsafe`` is given too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from logos_doctor.objects import ObjectRef

PLAN_VERSION = 1


class Applicability(StrEnum):
    """Whether a step may run without a person reading it first."""

    SAFE = "safe"  # reversible or additive, decided from the configured expectations
    UNSAFE = "unsafe"  # replaces or guesses something a person should confirm


class Action(StrEnum):
    """What a step does; the executor has one handler per action."""

    CREATE_STORAGECLASS = "create-storageclass"
    DELETE_STORAGECLASS = "delete-storageclass"
    WAIT_CLAIMS = "wait-claims"
    DELETE_STATEFULSET = "delete-statefulset"
    DELETE_POD = "delete-pod"
    DELETE_CLAIM = "delete-claim"
    CREATE_STATEFULSET = "create-statefulset"
    WAIT_STATEFULSET = "wait-statefulset"
    VERIFY = "verify"

    @property
    def writes(self) -> bool:
        """Whether the action changes the cluster."""
        return self not in (Action.WAIT_CLAIMS, Action.WAIT_STATEFULSET, Action.VERIFY)


@dataclass(frozen=True)
class Step:
    """One numbered line of a plan.

    ``id`` is stable and readable (``delete-claim/data-logos-postgresql-1``): the journal
    records it, ``--resume`` continues after it, and the test hook names it.  ``params`` is
    plain JSON: what the executor needs and the expectations it re-checks before writing.
    """

    id: str
    action: Action
    description: str
    kubectl: str
    touches: tuple[ObjectRef, ...] = ()
    applicability: Applicability = Applicability.SAFE
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The step as stored in ``plan.json``."""
        return {
            "id": self.id,
            "action": self.action.value,
            "description": self.description,
            "kubectl": self.kubectl,
            "touches": [_ref_json(r) for r in self.touches],
            "applicability": self.applicability.value,
            "params": dict(self.params),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Step:
        """Read a step back from ``plan.json``."""
        return cls(
            id=str(data["id"]),
            action=Action(data["action"]),
            description=str(data["description"]),
            kubectl=str(data["kubectl"]),
            touches=tuple(_ref_from(r) for r in data.get("touches") or ()),
            applicability=Applicability(data.get("applicability", "safe")),
            params=dict(data.get("params") or {}),
        )


@dataclass(frozen=True)
class Problem:
    """A finding the plan answers, in the words the check used."""

    check: str
    cause: str
    resource: ObjectRef
    message: str

    def to_json(self) -> dict[str, Any]:
        """The problem as stored in ``plan.json``."""
        return {
            "check": self.check,
            "cause": self.cause,
            "resource": _ref_json(self.resource),
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Problem:
        """Read a problem back from ``plan.json``."""
        return cls(
            str(data["check"]),
            str(data["cause"]),
            _ref_from(data["resource"]),
            str(data["message"]),
        )


@dataclass(frozen=True)
class Refusal:
    """Something the plan deliberately leaves alone, and why."""

    resource: ObjectRef
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The refusal as stored in ``plan.json``."""
        return {"resource": _ref_json(self.resource), "reason": self.reason}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Refusal:
        """Read a refusal back from ``plan.json``."""
        return cls(_ref_from(data["resource"]), str(data["reason"]))


@dataclass(frozen=True)
class FixPlan:
    """Everything one fix will do in one namespace, in order."""

    command: str
    namespace: str
    steps: tuple[Step, ...] = ()
    problems: tuple[Problem, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    notes: tuple[str, ...] = ()
    wait_seconds: float = 180.0

    @property
    def applicability(self) -> Applicability:
        """Unsafe when any step is."""
        unsafe = any(s.applicability is Applicability.UNSAFE for s in self.steps)
        return Applicability.UNSAFE if unsafe else Applicability.SAFE

    @property
    def writes(self) -> bool:
        """Whether applying the plan changes anything."""
        return any(s.action.writes for s in self.steps)

    def step(self, step_id: str) -> Step:
        """The step with this id."""
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def to_json(self) -> dict[str, Any]:
        """The plan document (``plan.json``)."""
        return {
            "version": PLAN_VERSION,
            "command": self.command,
            "namespace": self.namespace,
            "waitSeconds": self.wait_seconds,
            "steps": [s.to_json() for s in self.steps],
            "problems": [p.to_json() for p in self.problems],
            "refusals": [r.to_json() for r in self.refusals],
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FixPlan:
        """Read a plan document; ``KeyError``/``ValueError`` when it is malformed."""
        if data.get("version") != PLAN_VERSION:
            raise ValueError(f"plan format version {data.get('version')!r}")
        return cls(
            command=str(data["command"]),
            namespace=str(data["namespace"]),
            steps=tuple(Step.from_json(s) for s in data.get("steps") or ()),
            problems=tuple(Problem.from_json(p) for p in data.get("problems") or ()),
            refusals=tuple(Refusal.from_json(r) for r in data.get("refusals") or ()),
            notes=tuple(str(n) for n in data.get("notes") or ()),
            wait_seconds=float(data.get("waitSeconds", 180.0)),
        )


def _ref_json(ref: ObjectRef) -> dict[str, str | None]:
    return {"kind": ref.kind, "namespace": ref.namespace, "name": ref.name, "uid": ref.uid}


def _ref_from(data: Mapping[str, Any]) -> ObjectRef:
    return ObjectRef(str(data["kind"]), data.get("namespace"), str(data["name"]), data.get("uid"))


@dataclass(frozen=True)
class Outcome:
    """What a step found or did; ``complete`` is False when a wait ran out of time."""

    text: str
    complete: bool = True
