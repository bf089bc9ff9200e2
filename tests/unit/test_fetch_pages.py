"""The fetch asks for a LIST's next page before it decodes the page it has.

Pages are sequential (each needs its predecessor's ``continue`` token), so without this the
API server waits while we decode and we wait while it writes.  A connection that serves pages
from memory records when each request is sent; the decoder, spied on, waits for the next
page's request before it decodes, and fails the test if that request never comes.  The items
must arrive complete and in order, and an error while decoding must not leave a request
running after the fetch has returned.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from logos_doctor.cluster import fetch as fetch_module
from logos_doctor.cluster.decode import decode_page
from logos_doctor.cluster.fetch import Fetcher, FetchOptions
from logos_doctor.cluster.kinds import KINDS
from logos_doctor.errors import ClusterError
from logos_doctor.state import Scope
from tests.pages import Response

PODS = [{"metadata": {"name": f"p{i}", "namespace": "n", "uid": f"u{i}"}} for i in range(7)]


class PagedServer:
    """A connection serving ``PODS`` in pages of ``size``; ``/version`` answers too."""

    context = "test"
    server = "https://pages.invalid"

    def __init__(self, size: int, body: Any = None) -> None:
        self.size = size
        self.body = body  # a page text to send instead of the real one
        self.raw: bytes | None = None  # or these bytes
        self.sent: list[int] = []  # page numbers, in the order requested
        self.asked = threading.Condition()
        self.running = 0

    def send(self, method: str, path: str, query: Any = (), **_: Any) -> Response:
        if path == "/version":
            return Response(b'{"gitVersion": "v1.37.0"}')
        params = dict(query)
        start = int(params.get("continue") or 0)
        with self.asked:
            self.running += 1
            self.sent.append(start // self.size)
            self.asked.notify_all()
        try:
            end = start + self.size
            meta = {"resourceVersion": "9"}
            if end < len(PODS):
                meta["continue"] = str(end)
            if self.raw is not None:
                return Response(self.raw)
            text = self.body or json.dumps({"metadata": meta, "items": PODS[start:end]})
            return Response(text.encode())
        finally:
            with self.asked:
                self.running -= 1

    def wait_for(self, page: int, seconds: float) -> bool:
        with self.asked:
            return self.asked.wait_for(lambda: page in self.sent, seconds)


def _fetch(server: PagedServer) -> Any:
    fetcher = Fetcher(server, FetchOptions(attempts=1, deadline=10))  # type: ignore[arg-type]
    return fetcher.fetch(["pods"], Scope(None))


def test_the_next_page_is_requested_before_this_one_is_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = PagedServer(size=3)  # pages 0, 1, 2
    decoded: list[tuple[int, bool]] = []  # (page, whether the next one was asked for first)

    def spy(kind: Any, body: bytes, clean: Any, before: Any = None) -> Any:
        items, token = decode_page(kind, body, clean, before)
        page = int(items[0]["metadata"]["name"][1:]) // server.size
        asked = server.wait_for(page + 1, 2.0) if token else True
        decoded.append((page, asked))
        return items, token

    monkeypatch.setattr(fetch_module, "decode_page", spy)
    state = _fetch(server)
    assert [name["metadata"]["name"] for name in state.objects["pods"]] == [
        o["metadata"]["name"] for o in PODS
    ]
    assert server.sent == [0, 1, 2]
    assert decoded == [(0, True), (1, True), (2, True)]


def test_a_page_that_is_not_a_list_ends_the_kind_with_no_request_left_running() -> None:
    server = PagedServer(size=3, body='{"metadata": {"continue": "3"}, "items": {}}')
    state = _fetch(server)
    assert "pods" in state.unavailable and "malformed list" in state.unavailable["pods"]
    assert server.running == 0
    # The page after the refused one may have been asked for, never one beyond it.
    assert server.sent in ([0], [0, 1])


def test_a_page_that_is_not_utf8_inside_an_item_is_one_line_for_the_kind() -> None:
    server = PagedServer(size=3)
    server.raw = b'{"metadata": {}, "items": [{"metadata": {"name": "\xff"}}]}'
    state = _fetch(server)
    # As after the retries of a page that never parses (the same bytes would come again).
    assert state.unavailable["pods"] == (
        "listing pods in all namespaces failed: invalid or truncated JSON for pods; "
        "the API server may be overloaded; try again or raise --timeout"
    )
    assert server.sent == [0] and server.running == 0


def test_the_pager_is_gone_after_a_fetch_that_failed() -> None:
    class Refused(PagedServer):
        def send(self, method: str, path: str, query: Any = (), **kw: Any) -> Response:
            if path != "/version":
                raise ClusterError("credentials refused", "log in again")
            return super().send(method, path, query, **kw)

    fetcher = Fetcher(Refused(size=2), FetchOptions(attempts=1))  # type: ignore[arg-type]
    with pytest.raises(ClusterError):
        fetcher.fetch(["pods"], Scope(None))
    assert fetcher._pager is None and fetcher._strings is None


def test_a_page_for_the_watch_cache_is_decoded_as_a_fetch_decodes_it() -> None:
    server = PagedServer(size=3)
    managed = [{"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1"}]
    server.raw = json.dumps(
        {
            "metadata": {"resourceVersion": "77", "continue": "3"},
            "items": [{"metadata": {"name": "p0", "managedFields": managed}, "spec": {}}],
        }
    ).encode()
    fetcher = Fetcher(server, FetchOptions(attempts=1, deadline=10))  # type: ignore[arg-type]
    kept: list[str] = []

    def keep(kind: Any, obj: Any) -> Any:
        kept.append(obj["metadata"]["name"])
        return obj

    items, token, version = fetcher.list_page(
        KINDS["pods"], "/api/v1/pods", [("limit", 3)], "all namespaces", keep
    )
    assert items == [{"metadata": {"name": "p0"}, "spec": {}}] and kept == ["p0"]
    assert (token, version) == ("3", "77")
