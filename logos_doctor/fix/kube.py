"""The few reads and writes a fix makes, as plain JSON requests through the official client.

The client's typed methods validate bodies against its own models and refuse fields they do
not know; a StatefulSet saved from a newer cluster could then not be created again, or would
lose fields and roll its pods.  So objects go over the wire exactly as saved: the
``ApiClient`` still does authentication, TLS and connection pooling, and the paths come from
the ``kinds`` table.

Every delete carries ``uid`` and ``resourceVersion`` preconditions; every write can run as a
server-side dry run (``dryRun=All``: admission and validation run, nothing is stored).
Transient failures (429, 5xx, dropped connections) are retried with backoff: safe because
every step re-reads before it writes and treats "already gone"/"already there" as done.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from logos_doctor.cluster.connection import Connection, send
from logos_doctor.cluster.kinds import BY_KIND
from logos_doctor.errors import ClusterError, FixError
from logos_doctor.objects import Obj

RETRYABLE = {429, 500, 502, 503, 504}


class Conflict(Exception):
    """409: a precondition (uid/resourceVersion) failed, or the object already exists."""


class Invalid(Exception):
    """400/422: the server rejected the object as invalid."""


class NotFound(Exception):
    """404: no such object."""


class Transient(Exception):
    """A failure worth retrying: 429, 5xx, a dropped or timed-out connection."""


def request(
    api: k8s.ApiClient,
    method: str,
    path: str,
    *,
    query: Sequence[tuple[str, str]] = (),
    body: Obj | None = None,
    timeout: float,
) -> Obj:
    """One JSON request; the parsed object, or the exception its status means."""
    try:
        resp = send(api, method, path, query, timeout=timeout, body=body)
        status, raw = resp.status, resp.read()
    except ApiException as exc:
        raise Transient(str(exc.reason or exc).splitlines()[0][:200]) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise Transient(f"{type(exc).__name__}: {exc}".splitlines()[0][:200]) from None
    try:
        data = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError):
        raise Transient(f"invalid JSON in the response to {method} {path}") from None
    if not isinstance(data, dict):
        raise Transient(f"unexpected response to {method} {path}")
    if status < 300:
        return data
    message = str(data.get("message") or f"HTTP {status}")[:500]
    if status == 404:
        raise NotFound(message)
    if status == 409:
        raise Conflict(message)
    if status in (400, 422):
        raise Invalid(message)
    if status in RETRYABLE:
        raise Transient(f"HTTP {status}: {message}")
    if status == 401:
        raise ClusterError(
            "the API server rejected the credentials (401 Unauthorized)",
            "log in again, then finish with 'logos-doctor fix --resume'",
        )
    if status == 403:
        raise FixError(f"forbidden: {message}", "the fix needs rights to change these objects")
    raise FixError(f"{method} {path} failed: HTTP {status}: {message}")


class Kube:
    """Reads and writes in one namespace (plus StorageClasses and PersistentVolumes)."""

    def __init__(self, conn: Connection, namespace: str, *, timeout: float, attempts: int = 4):
        self.conn = conn
        self.ns = namespace
        self.timeout = timeout
        self.attempts = attempts

    def path(self, kind: str, name: str | None = None) -> str:
        """The API path of a kind's collection, or of one object."""
        base = BY_KIND[kind].list_path(self.ns)
        return f"{base}/{name}" if name else base

    def read(self, kind: str, name: str) -> Obj | None:
        """The object as the server has it now, or None when it does not exist."""
        try:
            return self._call(f"read {kind} {name}", "GET", self.path(kind, name))
        except NotFound:
            return None

    def items(self, kind: str) -> list[Obj]:
        """Every object of a kind (in the namespace, or cluster-wide if not namespaced)."""
        data = self._call(f"list {kind}", "GET", self.path(kind))
        return [i for i in data.get("items") or [] if isinstance(i, dict)]

    def pods(self) -> list[Obj]:
        """Every pod in the namespace."""
        return self.items("Pod")

    def volumes(self) -> list[Obj]:
        """Every PersistentVolume."""
        return self.items("PersistentVolume")

    def create(self, kind: str, body: Obj, *, dry_run: bool) -> Obj:
        """Create an object; ``Conflict`` when it exists, ``Invalid`` when rejected."""
        query = [("dryRun", "All")] if dry_run else []
        return self._call(f"create {kind}", "POST", self.path(kind), query=query, body=body)

    def delete(
        self,
        kind: str,
        name: str,
        *,
        uid: str | None,
        resource_version: str | None,
        dry_run: bool,
        orphan: bool = False,
    ) -> bool:
        """Delete with uid/resourceVersion preconditions; False when it was already gone.

        ``Conflict`` when a precondition failed: someone changed the object since we read it.
        """
        options: Obj = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "preconditions": {"uid": uid, "resourceVersion": resource_version},
        }
        if orphan:
            options["propagationPolicy"] = "Orphan"
        if dry_run:
            options["dryRun"] = ["All"]
        try:
            self._call(f"delete {kind} {name}", "DELETE", self.path(kind, name), body=options)
        except NotFound:
            return False
        return True

    def _call(
        self,
        what: str,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Obj | None = None,
    ) -> Obj:
        last = ""
        for attempt in range(self.attempts):
            try:
                return request(
                    self.conn.api, method, path, query=query, body=body, timeout=self.timeout
                )
            except Transient as exc:
                last = str(exc)
            if attempt < self.attempts - 1:
                delay = min(8.0, 0.5 * 2**attempt)
                time.sleep(delay / 2 + random.uniform(0, delay / 2))
        raise FixError(
            f"cannot {what}: {last}",
            "the API server is failing; finish with 'logos-doctor fix --resume' when it is back",
        )
