"""A fault-injecting HTTPS reverse proxy between logos-doctor and the real test API server.

The tool under test talks TLS to the proxy (which has a CA of its own, written into the
kubeconfig the proxy hands out); the proxy forwards each request to the real API server as
the test cluster's admin (the upstream kubeconfig's client certificate or token), unless a
``Fault`` whose path prefix matches says otherwise.  Faults are what an overloaded or broken
control plane, a flaky load balancer or a half-dead network does to a client:

    status     answer with an HTTP status (429 + Retry-After, 500, 503, 403, 401, 410 Gone)
               and a Kubernetes ``Status`` body, without asking the API server
    reset      forward, send the headers and half the body, then reset the connection (RST)
    truncate   forward, but send only half the body (with a matching Content-Length): a
               well-formed HTTP response whose JSON is cut off
    stall      accept the request and answer nothing (until ``seconds`` pass or the proxy stops)
    drip       forward, send the headers, then one byte of the body every ``interval`` seconds

A fault applies to the first ``times`` matching requests (``None``: all of them), optionally
only when the query string contains ``query`` (``"continue="`` for a paginated LIST's later
pages).  Every request is recorded, so tests assert how many attempts the tool made.

Only the standard library: ``http.server`` (threaded) for the front, ``http.client`` upstream.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

REASONS = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    410: "Expired",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "te",
    "trailer",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
}


@dataclass
class Fault:
    """What to do to requests whose path starts with ``path``."""

    path: str
    action: str  # status | reset | truncate | stall | drip
    status: int = 0
    times: int | None = None
    retry_after: str | None = None
    query: str = ""
    seconds: float = 3600.0  # stall length
    interval: float = 0.5  # drip period
    hits: int = 0

    def matches(self, path: str, query: str) -> bool:
        if not path.startswith(self.path) or self.query not in query:
            return False
        return self.times is None or self.hits < self.times


@dataclass(frozen=True)
class Request:
    """One request the proxy saw, and what it did to it (``fault`` None: forwarded)."""

    method: str
    path: str
    query: str
    fault: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Upstream:
    """Where and as whom the proxy forwards: read from the real cluster's kubeconfig."""

    host: str
    port: int
    ssl_context: ssl.SSLContext
    token: str | None


def _data(entry: dict[str, Any], key: str, base: Path) -> bytes | None:
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    if entry.get(key):
        path = Path(entry[key])
        return (path if path.is_absolute() else base / path).read_bytes()
    return None


def read_upstream(kubeconfig: Path, workdir: Path) -> tuple[Upstream, dict[str, Any]]:
    """The upstream server and credentials of ``kubeconfig``'s current context, and its user."""
    cfg = yaml.safe_load(kubeconfig.read_text())
    ctx_name = cfg["current-context"]
    ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
    base = kubeconfig.parent
    ctx_ssl = ssl.create_default_context()
    ca = _data(cluster, "certificate-authority", base)
    if cluster.get("insecure-skip-tls-verify"):
        ctx_ssl.check_hostname = False
        ctx_ssl.verify_mode = ssl.CERT_NONE
    elif ca:
        ctx_ssl.load_verify_locations(cadata=ca.decode())
    cert, key = _data(user, "client-certificate", base), _data(user, "client-key", base)
    if cert and key:
        (workdir / "upstream.crt").write_bytes(cert)
        (workdir / "upstream.key").write_bytes(key)
        (workdir / "upstream.key").chmod(0o600)
        ctx_ssl.load_cert_chain(workdir / "upstream.crt", workdir / "upstream.key")
    url = urlsplit(cluster["server"])
    upstream = Upstream(url.hostname or "127.0.0.1", url.port or 443, ctx_ssl, user.get("token"))
    return upstream, user


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: FaultProxy

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        # The handshake happens in the handler's thread, so a stuck client blocks nobody else.
        wrapped = self.proxy.server_ssl.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        )
        return wrapped, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up (or fail TLS on purpose) are part of the tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        self.request.settimeout(60)
        self.request.do_handshake()
        super().setup()

    def do_GET(self) -> None:
        self.server.proxy.handle(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FaultProxy:
    """The proxy; use as a context manager, add ``Fault``s, read ``requests``."""

    def __init__(
        self,
        upstream_kubeconfig: Path,
        workdir: Path | None = None,
        server_cert: tuple[Path, Path, Path] | None = None,
    ) -> None:
        """``server_cert``: (ca.crt, server.crt, server.key); made with openssl when absent."""
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="faultproxy-")
        self.workdir = workdir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.upstream, self._user = read_upstream(upstream_kubeconfig, self.workdir)
        if server_cert is None:
            server_cert = make_server_cert(self.workdir)
        self.ca_cert, cert, key = server_cert
        self.server_ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_ssl.load_cert_chain(cert, key)
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self.port = self._server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------------------------

    def __enter__(self) -> FaultProxy:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # releases stalled and dripping handlers
        self._server.shutdown()
        self._server.server_close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def add(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.requests.clear()

    def count(self, path: str = "", *, query: str = "", fault: str | None = "any") -> int:
        """Requests seen whose path starts with ``path`` (and whose query contains ``query``);
        ``fault``: "any", None (forwarded untouched), or an action name."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if r.path.startswith(path)
                and query in r.query
                and (fault == "any" or r.fault == fault)
            )

    def kubeconfig(
        self,
        path: Path,
        *,
        context: str = "faultproxy",
        server: str | None = None,
        ca: Path | None = None,
    ) -> Path:
        """Write a kubeconfig that reaches the cluster through this proxy (or ``server``)."""
        ca_data = base64.b64encode((ca or self.ca_cert).read_bytes()).decode()
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "faultproxy",
                    "cluster": {
                        "server": server or self.url,
                        "certificate-authority-data": ca_data,
                    },
                }
            ],
            "users": [{"name": "faultproxy-admin", "user": self._user}],
            "contexts": [
                {"name": context, "context": {"cluster": "faultproxy", "user": "faultproxy-admin"}}
            ],
            "current-context": context,
        }
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        path.chmod(0o600)
        return path

    # -- serving ---------------------------------------------------------------------------

    def _match(self, method: str, path: str, query: str) -> Fault | None:
        with self._lock:
            fault = next((f for f in self.faults if f.matches(path, query)), None)
            if fault is not None:
                fault.hits += 1
            name = (
                None
                if fault is None
                else (f"status {fault.status}" if fault.action == "status" else fault.action)
            )
            self.requests.append(Request(method, path, query, name))
            return fault

    def handle(self, h: _Handler) -> None:
        url = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body_in = h.rfile.read(length) if length else None
        fault = self._match(h.command, url.path, url.query)
        action = fault.action if fault else None
        if fault is not None and action == "status":
            self._send_status(h, fault)
            return
        if fault is not None and action == "stall":
            self._stop.wait(fault.seconds)
            h.close_connection = True
            return
        status, reason, headers, body = self._forward(h, body_in)
        if action == "truncate":
            body = body[: len(body) // 2]
        h.send_response(status, reason)
        for name, value in headers:
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if action == "reset":
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            self._reset(h)
            return
        if fault is not None and action == "drip":
            h.wfile.flush()
            for i in range(len(body)):
                if self._stop.wait(fault.interval):
                    break
                try:
                    h.wfile.write(body[i : i + 1])
                    h.wfile.flush()
                except OSError:
                    break
            h.close_connection = True
            return
        h.wfile.write(body)

    def _forward(
        self, h: _Handler, body: bytes | None
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        up = self.upstream
        conn = http.client.HTTPSConnection(up.host, up.port, context=up.ssl_context, timeout=60)
        headers = {
            k: v
            for k, v in h.headers.items()
            if k.lower() not in HOP_BY_HOP | {"host", "authorization", "accept-encoding"}
        }
        if up.token:
            headers["Authorization"] = f"Bearer {up.token}"
        try:
            conn.request(h.command, h.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            return resp.status, resp.reason, kept, data
        finally:
            conn.close()

    @staticmethod
    def _send_status(h: _Handler, fault: Fault) -> None:
        reason = REASONS.get(fault.status, "Unknown")
        message = {
            410: "The provided continue parameter is too old to display a consistent list "
            "result. You can start a new list without the continue parameter.",
        }.get(fault.status, f"injected by faultproxy: {reason}")
        body = json.dumps(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": message,
                "reason": reason,
                "code": fault.status,
            }
        ).encode()
        h.send_response(fault.status)
        h.send_header("Content-Type", "application/json")
        if fault.retry_after is not None:
            h.send_header("Retry-After", fault.retry_after)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    @staticmethod
    def _reset(h: _Handler) -> None:
        sock = h.connection
        with contextlib.suppress(OSError):
            # linger 0: close() sends RST instead of FIN, as a crashing load balancer does.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            sock.close()
        h.close_connection = True


def make_server_cert(workdir: Path) -> tuple[Path, Path, Path]:
    """A CA of the proxy's own and a serving certificate for 127.0.0.1 / localhost."""
    from k8scluster import pki

    ca = pki.make_ca(workdir, "faultproxy-ca", "logos-doctor-faultproxy-ca")
    leaf = pki.make_cert(
        ca,
        workdir,
        "faultproxy",
        "faultproxy",
        server=True,
        client=False,
        sans=("IP:127.0.0.1", "DNS:localhost"),
    )
    return ca.cert, leaf.cert, leaf.key
