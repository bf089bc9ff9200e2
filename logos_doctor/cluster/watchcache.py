"""The exporter's watch cache: every kind listed once, then kept current by watches.

``serve`` used to list every kind each cycle; at scale that is most of its cost, for the
API server too.  A ``WatchCache`` starts one ``Reflector`` (cluster/reflector.py) per kind
and place a fetch would list (each namespace of the scope, the namespaces listed beyond it,
or the cluster), and each cycle builds a fresh ``ClusterState`` from copies of their stores:
a cycle in which nothing changed makes no request at all.  The state is the one a fetch
would build: the same kinds, objects cleaned and redacted by the same function (Secrets hold
no value here either), in LIST order, the same ``unavailable`` kinds and scope.

A cycle refuses to use a store that may be stale: when a watch has been down (not
re-established) for longer than the fetch deadline, ``state()`` raises ``ClusterError``, and
the exporter keeps its previous findings and counts a failed run, as when a LIST fails.  If
the API server still answers ``/version`` then, the watch itself is what fails, and
``problem()`` names it for ``/healthz`` once it has been down for too long; an unreachable
server fails the runs but not ``/healthz`` (restarting cannot fix it).
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, NoReturn

import urllib3
from kubernetes.client.exceptions import ApiException

from logos_doctor.cluster.connection import Connection
from logos_doctor.cluster.fetch import (
    Fetcher,
    FetchOptions,
    FetchStats,
    ListExpired,
    clean,
    places,
)
from logos_doctor.cluster.kinds import KINDS, Kind
from logos_doctor.cluster.reflector import Expired, Reflector, WatchCounts, WatchForbidden
from logos_doctor.errors import ClusterError, KindUnavailable
from logos_doctor.objects import Obj
from logos_doctor.state import ClusterInfo, ClusterState, Scope

# How long the server keeps one watch open, drawn per watch as client-go does (5-10 min),
# so that many watches do not all end together; the stream then resumes from its version.
WATCH_SECONDS = (300, 600)


class ApiStream:
    """One open watch response: newline-separated JSON events, read as they arrive."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def events(self) -> Iterator[dict[str, Any]]:
        """The events until the server ends the stream."""
        buffer = b""
        chunks = self.raw.stream(65536, decode_content=True)
        while True:
            try:
                chunk = next(chunks, None)
            except urllib3.exceptions.HTTPError as exc:  # cut, reset, or closed by us
                raise ConnectionError(f"the watch stream broke: {exc}"[:300]) from None
            if chunk is None:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    yield json.loads(line)
        if buffer.strip():
            yield json.loads(buffer)

    def close(self) -> None:
        """Shut the socket down (ends a blocked read in the watching thread), then close."""
        with contextlib.suppress(AttributeError, ValueError, RuntimeError, OSError):
            self.raw.shutdown()
        self.raw.close()
        self.raw.release_conn()


class ApiTransport:
    """LISTs through a ``Fetcher`` (its retries and error mapping), WATCHes on the same pool."""

    def __init__(self, conn: Connection, options: FetchOptions, stats: FetchStats) -> None:
        self.conn, self.options, self.stats = conn, options, stats
        self.watch_seconds = WATCH_SECONDS

    def list(self, kind: Kind, path: str, where: str) -> tuple[list[Obj], str]:
        """A paginated LIST, as a fetch makes it; the items and the list's resourceVersion."""
        fetcher = Fetcher(self.conn, self.options, self.stats)  # its own deadline
        for _ in range(2):  # a continue token that expires restarts the list once
            items: list[Obj] = []
            strings: dict[str, str] = {}
            query: list[tuple[str, Any]] = [("limit", self.options.page_size)]
            try:
                while True:
                    page, token, version = fetcher.list_page(
                        kind, path, query, where, functools.partial(clean, strings=strings)
                    )
                    items.extend(page)
                    if not token:
                        return items, version
                    query = [("limit", self.options.page_size), ("continue", token)]
            except ListExpired:
                continue
        raise KindUnavailable(kind.plural, f"listing {kind.plural} in {where} kept expiring")

    def clean(self, kind: Kind, obj: Obj) -> Obj:
        """Exactly what a fetch keeps of a listed object (no shared strings: they would only
        pile up over weeks of events)."""
        return clean(kind, obj)

    def watch(self, kind: Kind, path: str, where: str, version: str) -> ApiStream:
        """An established watch (the server answered 200); errors mapped as a fetch maps them."""
        seconds = random.randint(*self.watch_seconds)
        query = [
            ("watch", "1"),
            ("resourceVersion", version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(seconds)),
        ]
        timeout = self.options.timeout  # for the connection and the answer's headers
        try:
            resp = self.conn.send("GET", path, query, timeout=(timeout, timeout))
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise ConnectionError(f"watching {kind.plural} in {where}: {exc}"[:300]) from None
        raw = resp.response
        status = resp.status
        if status != 200:
            raw.release_conn()
            if status == 410:
                raise Expired()
            if status == 401:
                raise self.conn.unauthorized()
            if status == 403:
                raise WatchForbidden(
                    kind.plural,
                    f"forbidden to watch {kind.plural} in {where}",
                    "grant watch on it (see 'logos-doctor rbac'); until then it is listed each run",
                )
            if status == 404:
                raise KindUnavailable(
                    kind.plural, f"{kind.plural} is not served by this cluster (404)"
                )
            raise ConnectionError(f"watching {kind.plural} in {where}: HTTP {status}")
        # Between events the server may say nothing until a bookmark (about a minute) or the
        # end of the watch: the read timeout now covers the whole watch, with a margin.
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(seconds + 30)
        return ApiStream(raw)


class WatchCache:
    """Reflectors for ``plurals`` in ``scope``; ``state()`` is one cycle's ``ClusterState``."""

    def __init__(
        self,
        conn: Connection,
        plurals: Iterable[str],
        scope: Scope,
        options: FetchOptions,
        *,
        transport: Any = None,
        recheck: float = 300.0,
    ) -> None:
        self.conn, self.scope, self.options = conn, scope, options
        self.stats = FetchStats()  # LIST requests (pages), as a fetch counts them
        self.counts = WatchCounts()
        self.transport = transport or ApiTransport(conn, options, self.stats)
        self.reflectors: list[tuple[Reflector, bool]] = []
        for plural in sorted(set(plurals)):
            kind = KINDS[plural]
            for path, where, beyond in places(kind, scope):
                r = Reflector(
                    kind,
                    path,
                    where,
                    self.transport,
                    self.counts,
                    backoff=(options.backoff_base, options.backoff_cap),
                    recheck=recheck,
                )
                self.reflectors.append((r, beyond))
        self.version: str | None = None
        # Whether the server answered the last time a store was found stale (see _stale).
        self.answering = False
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start every reflector (once); their first LISTs run concurrently."""
        with self._lock:
            if self._started:
                return
            self._started = True
            for r, _ in self.reflectors:
                r.start()

    def close(self) -> None:
        """Stop every watch."""
        for r, _ in self.reflectors:
            r.stop(join=0)
        for r, _ in self.reflectors:
            r.stop(join=2.0)

    def state(self) -> ClusterState:
        """A fresh state from the stores; raises ``ClusterError`` if one may be stale."""
        self.start()
        now = datetime.now(UTC)
        if self.version is None:
            self.version = self.probe()
        until = time.monotonic() + self.options.deadline
        for r, _ in self.reflectors:
            if not r.synced.wait(max(0.0, until - time.monotonic())):
                self._stale(r, f"listing {r.kind.plural} in {r.where} failed")
        objects: dict[str, list[Obj]] = {}
        unavailable: dict[str, str] = {}
        missed: list[tuple[str, str]] = []
        for r, beyond in self.reflectors:
            if r.polling:
                r.poll()
            plural = r.kind.plural
            if r.unavailable is not None:
                if beyond:
                    missed.append((plural, r.where.removeprefix("namespace ")))
                else:
                    unavailable.setdefault(plural, r.unavailable)
                continue
            down = r.down_since
            if down is not None and time.monotonic() - down > self.options.deadline:
                seconds = time.monotonic() - down
                self._stale(
                    r, f"the watch of {r.kind.plural} in {r.where} has been down for {seconds:.0f}s"
                )
            objects.setdefault(plural, []).extend(r.items())
        self.answering = False
        for plural in unavailable:
            objects.pop(plural, None)
        info = ClusterInfo(self.conn.context, self.conn.server, self.version)
        scope = self.scope.without(missed)
        return ClusterState.build(
            objects, now=now, scope=scope, cluster=info, unavailable=unavailable
        )

    def probe(self) -> str | None:
        """``/version`` (not a LIST): whether the server answers at all, and its version."""
        return Fetcher(self.conn, self.options, self.stats).server_version()

    def _stale(self, r: Reflector, message: str) -> NoReturn:
        """Fail the cycle for a store that may be stale.  If the server does not answer
        either, its error is the run's (and ``/healthz`` stays up: a restart cannot help);
        if it answers, the watch is what is wrong, and ``problem()`` says so."""
        self.answering = False
        self.probe()  # raises ClusterError when the server is unreachable
        self.answering = True
        raise ClusterError(
            f"{message}: {r.error or 'deadline passed'}",
            "the previous findings are kept until it is back",
        )

    def problem(self, limit: float) -> str | None:
        """Why the cache is stale (for ``/healthz``), or None: a reflector whose thread ended,
        or a watch never established, or down, for more than ``limit`` seconds while the API
        server answers."""
        now = time.monotonic()
        for r, _ in self.reflectors:
            what = f"watch of {r.kind.plural} in {r.where}"
            if not r.alive():
                return f"the {what} stopped"
            if not self.answering or r.polling or r.unavailable is not None:
                continue
            if r.down_since is not None and now - r.down_since > limit:
                state = "not established" if not r.synced.is_set() else "down"
                error = f": {r.error}" if r.error else ""
                return f"the {what} has been {state} for {now - r.down_since:.0f}s{error}"
        return None
