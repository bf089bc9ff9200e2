"""One fix at a time per namespace: a ``coordination.k8s.io/v1`` Lease, like leader election.

The Lease ``logos-doctor-fix`` in the namespace names its holder (``user@host/pid``) and is
renewed by a background thread while the fix runs.  Creating it is atomic, so of two fixes
started together exactly one gets it; the other is told who holds it.  A holder that stopped
renewing for longer than the lease duration is stale and is taken over (with the Lease's
resourceVersion as precondition, so two takers cannot both win), as is a holder on this host
whose process is gone: the usual case of ``--resume`` after the fix was killed.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client as k8s

from logos_doctor.errors import FixError
from logos_doctor.fix.kube import Conflict, NotFound, Transient, request
from logos_doctor.objects import age, parse_time

LEASE_NAME = "logos-doctor-fix"
FIX_ID_ANNOTATION = "logos-doctor.io/fix-id"
DURATION_SECONDS = 30
TIMEOUT = 15


def holder_identity() -> str:
    """``user@host/pid`` of this process."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}/{os.getpid()}"


def _micro(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dead_here(holder: str) -> bool:
    """Whether ``holder`` is a process on this host that no longer runs."""
    who, _, pid_text = holder.rpartition("/")
    host = who.partition("@")[2]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class FixLock:
    """The namespace's fix Lease, held from ``acquire`` to ``release``."""

    def __init__(
        self,
        api: k8s.ApiClient,
        namespace: str,
        fix_id: str,
        *,
        duration: int = DURATION_SECONDS,
        identity: str | None = None,
    ) -> None:
        self.api = api
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self.namespace = namespace
        self.fix_id = fix_id
        self.duration = duration
        self.identity = identity or holder_identity()
        self.took_over: str | None = None
        self._lease: dict[str, Any] | None = None
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()

    # -- public --------------------------------------------------------------------------------

    def acquire(self) -> None:
        """Take the Lease or raise ``FixError`` naming whoever holds it."""
        now = datetime.now(UTC)
        try:
            self._lease = self._request("POST", self.path, self._body(now, None))
        except Conflict:
            self._take_over(now)
        self._thread = threading.Thread(target=self._renew_loop, name="lease", daemon=True)
        self._thread.start()

    def ensure_held(self) -> None:
        """Raise ``FixError`` if the Lease was lost (called before every write)."""
        if self._lost:
            raise FixError(
                f"lost the fix lock in namespace {self.namespace}: {self._lost}",
                "another fix may be running; check with 'logos-doctor fix --list'",
            )

    def release(self) -> None:
        """Stop renewing and delete the Lease if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._mutex:
            lease = self._lease
        if lease is None or self._lost:
            return
        md = lease.get("metadata") or {}
        options = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "preconditions": {"uid": md.get("uid"), "resourceVersion": md.get("resourceVersion")},
        }
        # Changed or gone means it is not ours to delete any more; unreachable means it
        # expires on its own.
        with contextlib.suppress(Conflict, NotFound, Transient, FixError):
            self._request("DELETE", f"{self.path}/{LEASE_NAME}", options)

    # -- internals -----------------------------------------------------------------------------

    def _body(self, now: datetime, old: dict[str, Any] | None) -> dict[str, Any]:
        spec = (old or {}).get("spec") or {}
        md: dict[str, Any] = {
            "name": LEASE_NAME,
            "namespace": self.namespace,
            "labels": {"app.kubernetes.io/managed-by": "logos-doctor"},
            "annotations": {FIX_ID_ANNOTATION: self.fix_id},
        }
        if old is not None:
            md["resourceVersion"] = (old.get("metadata") or {}).get("resourceVersion")
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": md,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.duration,
                "acquireTime": _micro(now),
                "renewTime": _micro(now),
                "leaseTransitions": int(spec.get("leaseTransitions") or 0) + (old is not None),
            },
        }

    def _take_over(self, now: datetime) -> None:
        current = self._current()
        if current is None:  # released between our create and our read: try once more
            try:
                self._lease = self._request("POST", self.path, self._body(now, None))
                return
            except Conflict:
                current = self._current() or {}
        spec = current.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
        duration = int(spec.get("leaseDurationSeconds") or self.duration)
        fix = ((current.get("metadata") or {}).get("annotations") or {}).get(FIX_ID_ANNOTATION)
        expired = renewed is None or now > renewed + timedelta(seconds=duration)
        if holder and holder != self.identity and not expired and not _dead_here(holder):
            since = f", renewed {age(renewed, now)} ago" if renewed else ""
            what = f" running fix {fix}" if fix else ""
            raise FixError(
                f"another logos-doctor fix holds the lock in namespace {self.namespace}: "
                f"{holder}{what}{since}",
                f"wait for it to finish; a holder that stops renewing loses the lock after "
                f"{duration}s (Lease {self.namespace}/{LEASE_NAME})",
            )
        try:
            self._lease = self._request(
                "PUT", f"{self.path}/{LEASE_NAME}", self._body(now, current)
            )
        except (Conflict, NotFound):
            raise FixError(
                f"another logos-doctor fix took the lock in namespace {self.namespace} "
                "at the same moment",
                "wait for it to finish",
            ) from None
        if holder and holder != self.identity:
            self.took_over = holder

    def _renew_loop(self) -> None:
        interval = max(1.0, self.duration / 3)
        while not self._stop.wait(interval):
            try:
                self._renew()
            except Exception as exc:  # a failed renewal is retried; expiry is what counts
                if self._expired():
                    self._lost = f"could not renew it for {self.duration}s ({exc})"
                    return
            if self._lost:
                return

    def _renew(self) -> None:
        with self._mutex:
            lease = self._lease
        assert lease is not None
        body = dict(lease)
        body["spec"] = {**(lease.get("spec") or {}), "renewTime": _micro(datetime.now(UTC))}
        try:
            renewed = self._request("PUT", f"{self.path}/{LEASE_NAME}", body)
        except (Conflict, NotFound):
            current = self._current()
            holder = ((current or {}).get("spec") or {}).get("holderIdentity")
            if current is None or holder != self.identity:
                self._lost = f"it is now held by {holder or 'nobody'}"
                return
            with self._mutex:
                self._lease = current
            return
        with self._mutex:
            self._lease = renewed

    def _current(self) -> dict[str, Any] | None:
        try:
            return self._request("GET", f"{self.path}/{LEASE_NAME}")
        except NotFound:
            return None

    def _expired(self) -> bool:
        with self._mutex:
            spec = (self._lease or {}).get("spec") or {}
        renewed = parse_time(spec.get("renewTime"))
        return renewed is None or datetime.now(UTC) > renewed + timedelta(seconds=self.duration)

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            return request(self.api, method, path, body=body, timeout=TIMEOUT)
        except Transient as exc:
            raise FixError(
                f"cannot reach the API server for the fix lock (Lease "
                f"{self.namespace}/{LEASE_NAME}): {exc}"
            ) from None
        except FixError as exc:
            if exc.message.startswith("forbidden"):
                raise FixError(
                    f"forbidden to use Lease {LEASE_NAME} in namespace {self.namespace}",
                    "a fix needs get/create/update/delete on leases.coordination.k8s.io there",
                ) from None
            raise
