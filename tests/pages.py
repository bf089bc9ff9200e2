"""A LIST answer served from memory, shaped as the fetch reads one through ``Connection.send``.

For unit tests of the fetch that need pages but no API server: ``Response(body)`` is what
``send`` returns, with the body unread in ``.response`` (a urllib3 response's ``data``), and
``OnePagePerKind`` a connection that lists given items in one page per kind.
"""

from __future__ import annotations

import json
from typing import Any


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.data = body

    def shutdown(self) -> None:
        pass

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


class Response:
    """A 200 answer with ``body``."""

    def __init__(self, body: bytes) -> None:
        self.status = 200
        self.reason = "OK"
        self.response = _Raw(body)

    def getheader(self, name: str) -> str | None:
        return None


class OnePagePerKind:
    """A connection that answers ``/version``, and lists each kind's ``items`` in one page."""

    context, server = "test", "https://pages.invalid"

    def __init__(self, items: dict[str, list[Any]]) -> None:
        self.items = items

    def send(self, method: str, path: str, query: Any = (), **_: Any) -> Response:
        if path == "/version":
            return Response(b'{"gitVersion": "v1.37.0"}')
        plural = path.rsplit("/", 1)[1]
        return Response(json.dumps({"metadata": {}, "items": self.items[plural]}).encode())
