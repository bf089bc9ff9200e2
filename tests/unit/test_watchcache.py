"""The watch cache's bookkeeping, fed by a scripted API server at our own seam (Transport).

Each test scripts what the server answers (LISTs, then watch streams of events) and runs a
reflector's loop in the test's thread until the script is used up; what the store holds,
which versions the watches started from and what was counted are then the real code's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import urllib3

from logos_doctor.cluster.fetch import FetchOptions, clean
from logos_doctor.cluster.kinds import KINDS, Kind
from logos_doctor.cluster.reflector import Expired, Reflector, WatchCounts, WatchForbidden
from logos_doctor.cluster.watchcache import ApiStream, WatchCache
from logos_doctor.errors import ClusterError, KindUnavailable
from logos_doctor.objects import Obj
from logos_doctor.serve import Exporter, fetch_options
from logos_doctor.state import Scope

PODS = KINDS["pods"]


def pod(name: str, version: str, ns: str = "logos", phase: str = "Running") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": f"uid-{name}",
            "resourceVersion": version,
        },
        "status": {"phase": phase},
    }


def event(kind: str, obj: Obj) -> dict[str, Any]:
    return {"type": kind, "object": obj}


def bookmark(version: str) -> dict[str, Any]:
    return event("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": version}})


def gone() -> dict[str, Any]:
    status = {"kind": "Status", "status": "Failure", "reason": "Expired", "code": 410}
    return event("ERROR", status | {"message": "too old resource version: 5 (90)"})


class Stream:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self._events = events
        self.closed = False

    def events(self) -> Iterator[dict[str, Any]]:
        yield from self._events

    def close(self) -> None:
        self.closed = True


class Server:
    """Answers LISTs and watches from a script; stops the reflector once the script ends."""

    def __init__(self, lists: list[Any], streams: list[Any]) -> None:
        self.lists, self.streams = lists, streams
        self.listed = 0
        self.watched_from: list[str] = []
        self.reflector: Reflector | None = None

    def list(self, kind: Kind, path: str, where: str) -> tuple[list[Obj], str]:
        self.listed += 1
        if not self.lists:  # more LISTs than scripted: end the loop, and the test fails
            assert self.reflector is not None
            self.reflector._stop.set()
            raise RuntimeError("an unscripted LIST")
        step = self.lists.pop(0)
        if isinstance(step, BaseException):
            raise step
        items, version = step
        return [clean(kind, o) for o in items], version

    def watch(self, kind: Kind, path: str, where: str, version: str) -> Stream:
        self.watched_from.append(version)
        if not self.streams:
            assert self.reflector is not None
            self.reflector._stop.set()  # the script is over: end the loop
            return Stream([])
        step = self.streams.pop(0)
        if isinstance(step, BaseException):
            raise step
        return Stream(step)

    def clean(self, kind: Kind, obj: Obj) -> Obj:
        return clean(kind, obj)


def reflect(server: Server, kind: Kind = PODS) -> tuple[Reflector, WatchCounts]:
    counts = WatchCounts()
    r = Reflector(kind, kind.list_path("logos"), "namespace logos", server, counts, backoff=(0, 0))
    server.reflector = r
    r.run()
    return r, counts


def names(r: Reflector) -> list[str]:
    return [o["metadata"]["name"] for o in r.items()]


def test_events_are_applied_in_order_and_the_store_reads_in_list_order() -> None:
    server = Server(
        [([pod("b", "10"), pod("a", "9")], "10")],
        [
            [
                event("ADDED", pod("c", "11")),
                event("MODIFIED", pod("a", "12", phase="Failed")),
                event("DELETED", pod("b", "13")),
            ]
        ],
    )
    r, counts = reflect(server)
    assert names(r) == ["a", "c"]
    assert r.items()[0]["status"]["phase"] == "Failed"
    assert server.watched_from == ["10", "13"]  # the next watch resumes after the last event
    assert (counts.lists, counts.events, counts.relists) == (1, 3, 0)


def test_a_bookmark_moves_the_version_on_and_changes_nothing_else() -> None:
    server = Server([([pod("a", "10")], "10")], [[bookmark("57")], [bookmark("80")]])
    r, counts = reflect(server)
    assert server.watched_from == ["10", "57", "80"]
    assert names(r) == ["a"]
    assert (counts.bookmarks, counts.events, counts.lists) == (2, 0, 1)


def test_an_expired_version_lists_again_and_the_new_list_replaces_the_store() -> None:
    # While the watch was away, "a" was deleted and "d" created: only a new LIST shows both.
    server = Server(
        [
            ([pod("a", "10"), pod("b", "10")], "10"),
            ([pod("b", "95"), pod("d", "96")], "96"),
            ([pod("d", "96"), pod("e", "97")], "97"),
        ],
        [[event("ADDED", pod("c", "11")), gone()], Expired()],
    )
    r, counts = reflect(server)
    assert server.listed == 3  # after the ERROR 410 event, and after the watch answered 410
    assert server.watched_from == ["10", "96", "97"]
    assert names(r) == ["d", "e"]
    assert counts.relists == 2


def test_an_expired_watch_event_then_a_fresh_list() -> None:
    server = Server(
        [([pod("a", "10")], "10"), ([pod("b", "95")], "95")],
        [[event("ADDED", pod("c", "11")), gone()]],
    )
    r, counts = reflect(server)
    assert names(r) == ["b"]  # "a" and "c" are gone with the old store
    assert server.watched_from == ["10", "95"]
    assert (counts.lists, counts.relists) == (2, 1)


def test_a_broken_stream_is_watched_again_from_the_last_version_without_a_list() -> None:
    server = Server(
        [([pod("a", "10")], "10")],
        [[event("ADDED", pod("b", "12"))], ConnectionError("reset"), [bookmark("20")]],
    )
    r, _ = reflect(server)
    assert server.watched_from == ["10", "12", "12", "20"]
    assert server.listed == 1
    assert names(r) == ["a", "b"]


def test_a_watched_secret_keeps_no_value() -> None:
    secrets = KINDS["secrets"]
    value = "cGFzc3dvcmQtdGhhdC1tdXN0LW5vdC1sZWFr"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "logos", "resourceVersion": "11"},
        "type": "Opaque",
        "data": {"password": value},
    }
    server = Server([([], "10")], [[event("ADDED", secret), event("MODIFIED", secret)]])
    r, _ = reflect(server, secrets)
    [kept] = r.items()
    assert kept["dataKeys"] == ["password"]
    assert value not in repr(kept)


def test_a_forbidden_watch_falls_back_to_a_list_per_cycle() -> None:
    server = Server(
        [([pod("a", "10")], "10"), ([pod("a", "10"), pod("b", "11")], "11")],
        [WatchForbidden("pods", "forbidden to watch pods in namespace logos")],
    )
    r, _ = reflect(server)
    assert r.polling and r.alive()
    r.poll()
    assert names(r) == ["a", "b"]


class CacheServer(Server):
    """Serves a whole cache: each path's LIST once, then a watch that stays open."""

    def __init__(self, unavailable: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        super().__init__([], [])
        self.unavailable = unavailable
        self.release = threading.Event()

    def list(self, kind: Kind, path: str, where: str) -> tuple[list[Obj], str]:
        self.listed += 1
        if kind.plural in self.unavailable:
            raise KindUnavailable(kind.plural, f"{kind.plural} is not served by this cluster (404)")
        return ([pod("a", "10")] if kind.plural == "pods" else []), "10"

    def watch(self, kind: Kind, path: str, where: str, version: str) -> Any:
        server = self

        class Open(Stream):
            def events(self) -> Iterator[dict[str, Any]]:
                server.release.wait()
                return iter(())

            def close(self) -> None:
                server.release.set()

        return Open([])


def cache(server: CacheServer, scope: Scope, kinds: set[str]) -> WatchCache:
    conn = SimpleNamespace(context="test", server="https://test")
    options = FetchOptions(timeout=1, deadline=5)
    c = WatchCache(conn, kinds, scope, options, transport=server)  # type: ignore[arg-type]
    c.version = "v1.test"  # no /version request: there is no server
    return c


def test_a_quiet_cycle_lists_nothing_and_sees_the_same_objects() -> None:
    server = CacheServer(unavailable={"servicemonitors"})
    scope = Scope(("logos",), (("servicemonitors", ("monitoring",)),))
    c = cache(server, scope, {"pods", "nodes", "servicemonitors"})
    try:
        first = c.state()
        listed = server.listed
        assert listed == 4  # pods, nodes, servicemonitors in logos and in monitoring
        second = c.state()
        assert server.listed == listed
        assert [o["metadata"]["name"] for o in second.list_of("pods")] == ["a"]
        assert first.unavailable.keys() == second.unavailable.keys() == {"servicemonitors"}
        assert second.scope.also == ()  # the namespace beyond the scope could not be listed
        assert c.problem(10) is None
    finally:
        c.close()


def broken_watch(answering: bool) -> tuple[WatchCache, Exporter]:
    """A cache whose watch of pods broke a minute ago; the server answers /version or not."""
    c = cache(CacheServer(), Scope(("logos",)), {"pods"})
    c.state()
    [(r, _)] = c.reflectors
    r.down_since = r.monotonic() - 60
    r.error = "watch stream closed"

    def probe() -> str:
        if not answering:
            raise ClusterError("cannot connect to the API server https://test: refused")
        return "v1.test"

    c.probe = probe  # type: ignore[method-assign]
    exp = Exporter(None, [], None, Scope(("logos",)), 10, cache=c)  # type: ignore[arg-type]
    exp.fetcher = SimpleNamespace(options=fetch_options(1))  # type: ignore[assignment]
    return c, exp


def test_a_watch_down_too_long_while_the_server_answers_fails_the_cycle_and_healthz() -> None:
    c, exp = broken_watch(answering=True)
    try:
        with pytest.raises(ClusterError, match="watch of pods in namespace logos has been down"):
            c.state()
        ok, text = exp.healthy()
        assert not ok and text.startswith("stale: the watch of pods in namespace logos")
    finally:
        c.close()


def test_an_unreachable_server_fails_the_cycle_but_not_healthz() -> None:
    c, exp = broken_watch(answering=False)
    try:
        with pytest.raises(ClusterError, match="cannot connect to the API server"):
            c.state()
        assert exp.healthy()[0]  # restarting the exporter would not bring the server back
    finally:
        c.close()


def test_a_watch_that_keeps_failing_gives_its_version_up_and_lists_again() -> None:
    refused = ConnectionError("HTTP 500: resourceVersion: Invalid value")
    server = Server(
        [([pod("a", "10")], "10"), ([pod("b", "20")], "20")],
        [refused, refused, refused, [bookmark("21")]],
    )
    r, counts = reflect(server)
    assert server.watched_from == ["10", "10", "10", "20", "21"]
    assert (counts.lists, counts.relists) == (2, 1)
    assert names(r) == ["b"]


def test_a_list_that_ran_out_of_retries_is_retried_soon_not_marked_unavailable() -> None:
    timed_out = KindUnavailable("pods", "listing pods in namespace logos failed: timed out")
    server = Server([timed_out, ([pod("a", "10")], "10")], [])
    r, _ = reflect(server)
    assert (server.listed, r.unavailable, names(r)) == (2, None, ["a"])


def test_a_kind_the_server_does_not_serve_is_unavailable_and_not_asked_again_at_once() -> None:
    server = Server([KindUnavailable("orders", "orders is not served by this cluster (404)")], [])
    counts = WatchCounts()
    r = Reflector(PODS, "/api/v1/pods", "all namespaces", server, counts, recheck=3600)
    server.reflector = r
    r.start()
    assert r.synced.wait(10)
    assert r.unavailable is not None and "(404)" in r.unavailable
    r.stop()
    assert server.listed == 1


def test_another_watch_error_is_watched_again_from_the_last_version() -> None:
    failure = {"kind": "Status", "status": "Failure", "code": 500, "message": "etcd hiccup"}
    server = Server([([pod("a", "10")], "10")], [[bookmark("15"), event("ERROR", failure)]])
    _, counts = reflect(server)
    assert server.watched_from == ["10", "15"]
    assert (counts.lists, counts.relists) == (1, 0)


def test_a_stream_split_anywhere_gives_whole_events_and_a_cut_is_a_connection_error() -> None:
    body = b'{"type":"ADDED","object":{"a":1}}\n{"type":"BOOKMARK","object":{"b":2}}\n'

    class Raw:
        def __init__(self, chunks: list[bytes], cut: bool = False) -> None:
            self.chunks, self.cut = chunks, cut

        def stream(self, amt: int, decode_content: bool) -> Iterator[bytes]:
            yield from self.chunks
            if self.cut:
                raise urllib3.exceptions.ProtocolError("Response ended prematurely")

    for at in range(1, len(body)):
        events = list(ApiStream(Raw([body[:at], body[at:]])).events())
        assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"], at
    with pytest.raises(ConnectionError, match="the watch stream broke"):
        list(ApiStream(Raw([body[:10]], cut=True)).events())
