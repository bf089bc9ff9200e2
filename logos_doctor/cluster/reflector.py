"""One kind in one place (a namespace, or the cluster), kept current: list once, then watch.

What client-go's reflector does, in our shape.  A ``Reflector`` LISTs its path (paginated,
through the ``Fetcher``'s retries and error mapping) to get the objects and the list's
resourceVersion, then WATCHes from that version on its own thread and applies each event to
its store: ADDED and MODIFIED put the object (cleaned and redacted as a fetched one is),
DELETED removes it, BOOKMARK only moves the resourceVersion on.  A stream the server closes
(its ``timeoutSeconds``, a restart) is watched again from the last version; an expired
version (``410 Gone``, as an HTTP status or an ERROR event) makes it list again; other
failures back off as the fetcher does, and list again after ``RELIST_AFTER`` in a row.  A
kind the server refuses or does not serve (403, 404) is ``unavailable``, as in a fetch, and
is listed again after ``recheck`` seconds; a kind that may be listed but not watched (RBAC
without ``watch``) is listed by each cycle instead (``polling``).

The store is read only through ``items()``: a copy taken under the lock, in the order a
LIST returns (the API server's key order: namespace, then name), so that a state built from
it is the state a fresh fetch would build.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from logos_doctor.cluster.kinds import Kind
from logos_doctor.errors import DoctorError, KindUnavailable
from logos_doctor.objects import Obj

log = logging.getLogger("logos_doctor.watch")

# Failed watches in a row after which the resourceVersion is given up and the kind listed.
RELIST_AFTER = 3


class Expired(Exception):
    """The resourceVersion we watch from is gone from the server's history: list again."""


class WatchForbidden(KindUnavailable):
    """The kind may be listed but not watched (RBAC without the ``watch`` verb)."""


class Stream(Protocol):
    """An open watch: its events as decoded dicts, and a way to end it from another thread."""

    def events(self) -> Iterator[dict[str, Any]]:
        """Events until the server ends the stream (raises on a broken connection)."""
        ...

    def close(self) -> None:
        """End the stream; a blocked ``events()`` returns or raises soon after."""
        ...


class Transport(Protocol):
    """How a reflector reaches the API server (watchcache.ApiTransport; fakes in tests)."""

    def list(self, kind: Kind, path: str, where: str) -> tuple[list[Obj], str]:
        """The cleaned objects and the list's resourceVersion."""
        ...

    def watch(self, kind: Kind, path: str, where: str, version: str) -> Stream:
        """An established watch from ``version`` (raises ``Expired`` on 410)."""
        ...

    def clean(self, kind: Kind, obj: Obj) -> Obj:
        """A watched object cleaned and redacted exactly as a listed one."""
        ...


@dataclass
class WatchCounts:
    """What the watches cost and did, across reflectors (for tests, benchmarks, --debug)."""

    lists: int = 0  # LISTs started (each may take several pages)
    relists: int = 0  # of them, after an expired resourceVersion
    watches: int = 0
    events: int = 0
    bookmarks: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, n: int = 1) -> None:
        """Count ``n`` more of ``name``."""
        with self._lock:
            setattr(self, name, getattr(self, name) + n)


def lasting(exc: KindUnavailable) -> bool:
    """Whether the server refused the kind (403) or does not serve it (404), which another
    request will not change soon; a LIST that ran out of retries is not (fetch.py's words)."""
    return exc.message.startswith("forbidden") or "not served" in exc.message


def store_key(obj: Obj) -> str:
    """The API server's key order for a LIST: ``namespace/name``, or ``name``."""
    md = obj.get("metadata") or {}
    ns = md.get("namespace")
    return f"{ns}/{md.get('name', '')}" if ns else str(md.get("name", ""))


class Reflector:
    """Keeps one kind at one path current in a store; see the module docstring."""

    def __init__(
        self,
        kind: Kind,
        path: str,
        where: str,
        transport: Transport,
        counts: WatchCounts,
        *,
        backoff: tuple[float, float] = (0.5, 8.0),
        recheck: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind, self.path, self.where = kind, path, where
        self.transport, self.counts = transport, counts
        self.backoff, self.recheck, self.monotonic = backoff, recheck, monotonic
        self.version: str | None = None  # None: list (again) before watching
        self.unavailable: str | None = None
        self.error: str | None = None  # the last failure, kept until the watch is back
        self.synced = threading.Event()  # listed once, or found unavailable
        self.polling = False  # the watch is forbidden: listed by each cycle (``poll``)
        self.started = monotonic()
        self.down_since: float | None = self.started  # not watching since (None: watching)
        self._store: dict[str, Obj] = {}
        self._sorted: list[Obj] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stream: Stream | None = None
        self._thread: threading.Thread | None = None

    # -- reading -------------------------------------------------------------------------

    def items(self) -> list[Obj]:
        """The store's objects in LIST order (a copy; re-sorted only after a change)."""
        with self._lock:
            if self._sorted is None:
                self._sorted = [self._store[k] for k in sorted(self._store)]
            return list(self._sorted)

    def alive(self) -> bool:
        """Whether the thread is running (or was never started, or polls)."""
        return self._thread is None or self.polling or self._thread.is_alive()

    def poll(self) -> None:
        """List now, in the caller's thread (a path that may not be watched)."""
        try:
            self._list()
        except KindUnavailable as exc:
            self.unavailable = str(exc)

    # -- running -------------------------------------------------------------------------

    def start(self) -> None:
        """Run on a daemon thread until ``stop``."""
        name = f"watch-{self.kind.plural}"
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)
        self._thread.start()

    def stop(self, join: float = 2.0) -> None:
        """End the watch and the thread."""
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        if self._thread is not None:
            self._thread.join(join)

    def run(self) -> None:
        """List, watch, and again, until stopped; never raises."""
        failures = 0
        while not self._stop.is_set():
            try:
                if self.version is None:
                    self._list()
                self._watch()
                failures = 0  # it was up: a closed stream is normal, watch again now
            except Expired:
                log.info("%s in %s: resourceVersion expired, listing again", *self._what())
                self.version = None
                self.counts.add("relists")
            except WatchForbidden as exc:
                # RBAC grants list but not watch (a role made for `check`): this path is
                # listed by each cycle instead (``poll``), as before the watch cache.
                log.warning("%s; listing %s in %s each cycle instead", exc, *self._what())
                self.polling = True
                self.down_since, self.error = None, None
                return
            except KindUnavailable as exc:
                if not lasting(exc):  # a LIST that kept failing: retried like any failure
                    failures += 1
                    self._failed(exc, failures)
                    continue
                self._down(str(exc))
                self.unavailable = str(exc)
                self.version = None
                self.synced.set()
                self._stop.wait(self.recheck)
            except Exception as exc:  # nothing may end the thread but stop()
                if self._stop.is_set():
                    return
                failures += 1
                self._failed(exc, failures)

    def _failed(self, exc: Exception, failures: int) -> None:
        """Note a failure, maybe give the version up, and back off (jittered, capped)."""
        self._down(str(exc) if isinstance(exc, DoctorError) else repr(exc))
        if not isinstance(exc, DoctorError | OSError):
            log.exception("watch of %s in %s failed", *self._what())
        if failures % RELIST_AFTER == 0 and self.version is not None:
            # The version itself may be what the server refuses (a 500 for one it cannot
            # parse, a restored etcd): start over from a LIST, as after a 410.
            log.info("%s in %s: watch keeps failing, listing again", *self._what())
            self.version = None
            self.counts.add("relists")
        base, cap = self.backoff
        delay = min(cap, base * 2 ** (failures - 1))
        self._stop.wait(delay / 2 + random.uniform(0, delay / 2))  # jitter, as client-go

    def _what(self) -> tuple[str, str]:
        return self.kind.plural, self.where

    def _down(self, error: str) -> None:
        self.error = error
        if self.down_since is None:
            self.down_since = self.monotonic()

    def _list(self) -> None:
        self.counts.add("lists")  # started, whatever the answer (a 404 is a request too)
        items, version = self.transport.list(self.kind, self.path, self.where)
        store = {store_key(o): o for o in items}
        with self._lock:
            self._store, self._sorted = store, None
        self.version, self.unavailable = version, None
        self.synced.set()

    def _watch(self) -> None:
        """One watch from ``version`` until the stream ends."""
        assert self.version is not None
        stream = self.transport.watch(self.kind, self.path, self.where, self.version)
        self._stream = stream
        opened, seen = self.monotonic(), 0
        try:
            if self._stop.is_set():
                return
            self.counts.add("watches")
            self.down_since, self.error = None, None
            for event in stream.events():
                self._apply(event)
                seen += 1
                if self._stop.is_set():
                    break
        finally:
            self._stream = None
            stream.close()
            self._down(self.error or "watch stream closed")
        # A stream that ends at once, empty, is a failure (backed off), not a normal close.
        if not seen and self.monotonic() - opened < 1.0:
            raise ConnectionError("the watch stream closed as soon as it opened")

    def _apply(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object")
        if not isinstance(obj, dict):
            raise ValueError(f"a watch event of {self.kind.plural} without an object")
        if kind == "ERROR":
            code = obj.get("code")
            if code == 410 or obj.get("reason") in ("Expired", "Gone"):
                raise Expired()
            # Any other error ends this watch; it is watched again from the last version.
            raise ConnectionError(f"watch error {code}: {obj.get('message', '')}"[:300])
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if kind == "BOOKMARK":
            self.counts.add("bookmarks")
        elif kind in ("ADDED", "MODIFIED"):
            clean = self.transport.clean(self.kind, obj)
            with self._lock:
                self._store[store_key(clean)] = clean
                self._sorted = None
            self.counts.add("events")
        elif kind == "DELETED":
            with self._lock:
                self._store.pop(store_key(obj), None)
                self._sorted = None
            self.counts.add("events")
        else:
            raise ValueError(f"unknown watch event type {kind!r}")
        if version:
            self.version = str(version)
