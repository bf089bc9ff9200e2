"""Watching a fix take effect: where each claim stands, and the checks' verdict afterwards.

Both read the namespace the way ``check`` does (one fetch, the real checks), so "bound or
legitimately waiting" means exactly what ``pvc-pending`` means by it, and the fix's
before/after is the same report an on-call would get from ``logos-doctor check``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from logos_doctor.checks.pvc_pending import CHECK as PVC_PENDING
from logos_doctor.cluster.fetch import Fetcher
from logos_doctor.config import Config
from logos_doctor.finding import Finding, Severity
from logos_doctor.fix.plan import FixPlan
from logos_doctor.objects import Obj, meta, parse_time
from logos_doctor.registry import Check, default_registry
from logos_doctor.runner import Report, run_checks
from logos_doctor.state import ClusterState, Scope

# Causes under which a claim is doing what it should: no pod needs it yet, or the
# provisioner is at work.
LEGIT_WAITING = ("waiting-for-consumer", "waiting-for-provisioner")


def claim_status(
    fetcher: Fetcher, config: Config, namespace: str, claims: Sequence[str], since: datetime
) -> dict[str, str]:
    """Each claim's ``Bound``, else its pvc-pending cause, else ``absent``.

    Events older than ``since`` are dropped first: a ProvisioningFailed "class not found"
    from before the fix created the class must not hide that the provisioner is now at work.
    """
    state = fetcher.fetch(PVC_PENDING.kinds, Scope((namespace,)))
    cutoff = since - timedelta(seconds=1)
    events = [e for e in state.list_of("events") if event_time(e) >= cutoff]
    state = ClusterState.build(
        {**state.objects, "events": events},
        now=state.now,
        scope=state.scope,
        cluster=state.cluster,
        unavailable=state.unavailable,
    )
    causes = {f.resource.name: f.cause for f in PVC_PENDING.run(state, config)}
    out = {}
    for claim in claims:
        pvc = state.get("PersistentVolumeClaim", namespace, claim)
        if pvc is None:
            out[claim] = "absent"
        elif (pvc.get("status") or {}).get("phase") == "Bound":
            out[claim] = "Bound"
        else:
            out[claim] = causes.get(claim, "Pending")
    return out


def settled(status: str, *, pod_coming: bool = False) -> bool:
    """Whether a claim status from ``claim_status`` needs no more waiting.

    ``pod_coming``: a StatefulSet creates a claim just before the pod that mounts it, so
    its fresh claim briefly looks like it waits for a first consumer; that is not yet a
    reason to stop waiting.
    """
    if pod_coming and status == "waiting-for-consumer":
        return False
    return status == "Bound" or status in LEGIT_WAITING


def verify(
    fetcher: Fetcher, config: Config, plan: FixPlan, check_ids: Sequence[str]
) -> tuple[Report, list[Finding]]:
    """Run the checks again on the namespace; the report and what still concerns the plan."""
    checks = _checks(check_ids)
    kinds = {k for c in checks for k in (*c.kinds, *c.optional_kinds)}
    state = fetcher.fetch(kinds, Scope((plan.namespace,)))
    report = run_checks(state, checks, config)
    return report, remaining(report, plan, config)


def remaining(report: Report, plan: FixPlan, config: Config) -> list[Finding]:
    """The warning and critical findings about the plan's namespace or expected class."""
    return [
        f
        for f in report.findings
        if f.severity > Severity.INFO
        and (
            f.resource.namespace == plan.namespace
            or (f.resource.kind == "StorageClass" and f.resource.name == config.storage_class.name)
        )
    ]


def _checks(ids: Sequence[str]) -> list[Check]:
    registry = default_registry()
    known = {c.id for c in registry}
    return registry.select([i for i in ids if i in known]) or [PVC_PENDING]


def event_time(event: Obj) -> datetime:
    """When an event last happened, by whichever timestamp its reporter filled in."""
    series = event.get("series") or {}
    for value in (
        event.get("lastTimestamp"),
        series.get("lastObservedTime"),
        event.get("eventTime"),
        event.get("firstTimestamp"),
        meta(event).get("creationTimestamp"),
    ):
        parsed = parse_time(value)
        if parsed is not None:
            return parsed
    return datetime.min.replace(tzinfo=UTC)
