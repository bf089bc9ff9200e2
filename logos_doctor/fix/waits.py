"""Waiting for the controllers to act on a fix's writes, with a deadline and progress lines.

After the executor deletes or creates something, the rest is the controllers' job: the
StatefulSet controller re-adopts the orphaned pods and creates the missing claim, the
provisioner binds it, the garbage collector removes what was deleted.  Each wait polls the
API server, says what it is still waiting for, and returns an ``Outcome`` that is incomplete
(not an error) when the deadline passes, so the run still reports and verifies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from logos_doctor.cluster.fetch import Fetcher
from logos_doctor.config import Config
from logos_doctor.errors import FixError
from logos_doctor.fix.kube import Kube
from logos_doctor.fix.observe import claim_status, settled
from logos_doctor.fix.plan import Outcome
from logos_doctor.objects import controller_of, meta, name, uid

POLL_SECONDS = 1.0
GONE_SECONDS = 120.0


@dataclass(frozen=True)
class Waiter:
    """Waits in one namespace; ``wait_seconds`` bounds the waits for the controllers."""

    kube: Kube
    fetcher: Fetcher
    config: Config
    namespace: str
    wait_seconds: float
    progress: Callable[[str], None]

    def claim_status(self, claims: Sequence[str], since: datetime) -> dict[str, str]:
        """Each claim's ``Bound`` or pvc-pending cause, from events newer than ``since``."""
        return claim_status(self.fetcher, self.config, self.namespace, claims, since)

    def statefulset(self, params: Mapping[str, Any]) -> Outcome:
        """Until the recreated StatefulSet adopted the kept pods and its claims settled."""
        sts_name, old_uid = str(params["name"]), params.get("uid")
        keep: Mapping[str, str] = params.get("keep") or {}
        claims: Sequence[str] = params.get("claims") or []
        since = datetime.now(UTC)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            waiting: list[str] = []
            replaced: list[str] = []
            sts = self.kube.read("StatefulSet", sts_name)
            if sts is None or uid(sts) == old_uid:
                waiting.append(f"StatefulSet {sts_name} not recreated")
            else:
                pods = {name(p): p for p in self.kube.pods()}
                for pod_name, pod_uid in sorted(keep.items()):
                    pod = pods.get(pod_name)
                    if pod is None or uid(pod) != pod_uid:
                        replaced.append(pod_name)
                    elif (controller_of(pod) or {}).get("uid") != uid(sts):
                        waiting.append(f"pod {pod_name} not adopted yet")
                for claim, status in self.claim_status(claims, since).items():
                    if not settled(status, pod_coming=True):
                        waiting.append(f"claim {claim}: {status}")
            if replaced:
                return Outcome(
                    f"pod(s) {', '.join(replaced)} were replaced instead of adopted", False
                )
            if not waiting:
                adopted = f"adopted {', '.join(sorted(keep))}; " if keep else ""
                return Outcome(f"{adopted}claim(s) {', '.join(claims)} bound or provisioning")
            if time.monotonic() >= deadline:
                return Outcome(f"gave up after {self.wait_seconds:g}s: " + "; ".join(waiting))
            self.progress(f"waiting for {sts_name}: " + "; ".join(waiting))
            time.sleep(POLL_SECONDS)

    def claims(self, params: Mapping[str, Any]) -> Outcome:
        """Until every claim named in ``params['claims']`` is bound or legitimately waiting."""
        claims = sorted((params.get("claims") or {}).keys())
        since = datetime.now(UTC)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            status = self.claim_status(claims, since)
            text = ", ".join(f"{c} {s}" for c, s in status.items())
            if all(settled(s) for s in status.values()):
                return Outcome(text)
            if time.monotonic() >= deadline:
                return Outcome(f"gave up after {self.wait_seconds:g}s: {text}", False)
            self.progress(f"waiting for claims: {text}")
            time.sleep(POLL_SECONDS)

    def gone(self, kind: str, obj_name: str, obj_uid: str | None) -> None:
        """Until the object with that uid is gone; FixError if finalizers hold it too long."""
        deadline = time.monotonic() + GONE_SECONDS
        while True:
            cur = self.kube.read(kind, obj_name)
            if cur is None or uid(cur) != obj_uid:
                return
            if time.monotonic() >= deadline:
                fins = ", ".join(meta(cur).get("finalizers") or []) or "none"
                raise FixError(
                    f"{kind} {obj_name} is still being deleted after {GONE_SECONDS:g}s "
                    f"(finalizers: {fins})"
                )
            self.progress(f"waiting for {kind} {obj_name} to go away")
            time.sleep(0.5)
