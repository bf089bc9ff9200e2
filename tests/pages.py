"""A LIST answer served from memory, shaped as the fetch reads one through ``Connection.send``.

For unit tests of the fetch that need pages but no API server: ``Response(body)`` is what
``send`` returns, with the body unread in ``.response`` (a urllib3 response's ``data``).
"""

from __future__ import annotations


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
