"""The exporter behind ``logos-doctor serve``: checks on a schedule, findings as metrics.

One connection pool is kept for the life of the process.  By default a ``WatchCache``
(cluster/watchcache.py) lists each kind the checks read once and then follows it with
watches, and every run builds its state from the cache: a run in which nothing changed makes
no request.  With ``--relist`` a ``Fetcher`` lists every kind each run instead, as ``check``
does.  Each run's result is turned into an immutable ``Readings`` value that replaces the
previous one in a single assignment; scrapes read whichever value is current, so concurrent
scrapes never see a half-updated run.  The families and what a run changes in them live in
``render/metrics.py``, shared with ``check -o prometheus`` so that the two never describe
the same metric differently.

What a failure keeps:

- a run that cannot fetch at all (cluster unreachable, credentials rejected) changes no
  finding, duration or success time: it counts ``logos_doctor_run_errors_total`` and moves
  ``logos_doctor_last_run_timestamp_seconds`` only.  Alert on a stale
  ``logos_doctor_last_success_timestamp_seconds``, not on missing findings;
- a check that is skipped (a kind it reads could not be listed) or raises keeps its previous
  findings and counts ``logos_doctor_check_errors_total{check}``;
- a check that ran replaces its findings, so a resolved problem's series disappears.

``/healthz`` answers whether the schedule is alive (a run finished recently), not whether
the cluster is healthy: restarting the exporter cannot fix an unreachable API server.  With
the watch cache it also fails while a watch has been down (or never established) for as long
as a run may be late, since a run then keeps failing and a restart lists everything afresh.
"""

from __future__ import annotations

import gc
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, ProcessCollector, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, Metric

from logos_doctor.cluster.collect import needed_kinds
from logos_doctor.cluster.fetch import Fetcher, FetchOptions
from logos_doctor.cluster.watchcache import WatchCache
from logos_doctor.config import Config
from logos_doctor.errors import DoctorError
from logos_doctor.objects import clear_caches
from logos_doctor.registry import Check
from logos_doctor.render.metrics import Readings, after_failure, after_success, families
from logos_doctor.runner import Report, run_checks
from logos_doctor.silencer import Silencer
from logos_doctor.state import Scope

log = logging.getLogger("logos_doctor.serve")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def fetch_options(timeout: float) -> FetchOptions:
    """The exporter's fetch options: the one-shot ``check``'s, except that nothing is frozen.

    A frozen state's garbage cycles are never collected (see ``FetchOptions.freeze``); in a
    process that fetches every minute for weeks they would pile up.
    """
    return FetchOptions(timeout=timeout, deadline=timeout * 4, freeze=False)


def release_run_memory() -> None:
    """Give back what a run left behind, once its state is dropped.

    The parsed-time cache's entries are made while the run parses, scattered among its
    objects, and keep the allocator's blocks of every past run in use; collecting now returns
    the run's garbage cycles before the next run's peak rather than whenever the collector
    gets to them.  Measured at 56,000 objects in `serve -A` (bench/serve_soak.py, 30 runs):
    RSS between runs rose to about 415 MiB when each fetch froze its state and nothing was
    released, and levels off near 290 MiB now.
    """
    gc.collect()
    clear_caches()


# With the watch cache, runs between two full collections (see Exporter._release).
THAW_EVERY = 100


@dataclass
class Exporter:
    """Runs ``checks`` with one ``Fetcher`` and publishes the result as ``Readings``."""

    fetcher: Fetcher
    checks: Sequence[Check]
    config: Config
    scope: Scope
    interval: float
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    # The watch cache (the default of ``serve``); None: list every kind each run (--relist).
    cache: WatchCache | None = None
    # Known findings (silencer.py): silenced in every run as ``check`` silences them,
    # counted in ``logos_doctor_findings_silenced`` instead of ``logos_doctor_findings``.
    silencer: Silencer | None = None
    readings: Readings = field(init=False)
    started: float = field(init=False)
    _run_lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    _runs: int = field(init=False, repr=False, default=0)

    def __post_init__(self) -> None:
        zeros = MappingProxyType({c.id: 0 for c in self.checks})
        self.readings = Readings(check_errors=zeros)
        self.started = self.monotonic()

    @property
    def stale_after(self) -> float:
        """Seconds without a finished run after which ``/healthz`` fails.

        Three intervals, but never less than one interval plus the longest a run may take
        (the fetch deadline): a slow API server makes runs long, not the exporter dead.
        """
        return max(3 * self.interval, self.interval + self.fetcher.options.deadline + 1)

    def run_once(self) -> Readings:
        """Fetch, check and publish; never raises (a failure is counted, then logged)."""
        with self._run_lock:
            try:
                return self._run()
            finally:
                self._release()

    def _release(self) -> None:
        """``release_run_memory``, and with the watch cache freeze what is left (gc.freeze).

        The cache's objects live for the whole process, so every collection walked them: on
        the benchmark cluster at scale 1 (58,000 objects) the collection after each run took
        0.7 s of CPU and those the checks trigger 0.9 s more.  Frozen, they are walked by
        none (still freed when their last reference goes).  A frozen object that later
        becomes garbage inside a reference cycle is not collected while frozen, so every
        ``THAW_EVERY`` runs all is unfrozen and collected once.
        """
        self._runs += 1
        if self.cache is not None and self._runs % THAW_EVERY == 0:
            gc.unfreeze()
        release_run_memory()
        if self.cache is not None:
            gc.freeze()

    def _run(self) -> Readings:
        """One run; its state and report are dropped when it returns."""
        start = self.monotonic()
        try:
            if self.cache is not None:
                state = self.cache.state()  # no request when nothing changed
            else:
                state = self.fetcher.fetch(needed_kinds(self.checks), self.scope)
            report = run_checks(state, self.checks, self.config)
            if self.silencer is not None:
                today = datetime.fromtimestamp(self.clock(), UTC).date()
                report = self.silencer.apply(report, today)
        except Exception as exc:  # nothing a run meets may stop the exporter
            end = self.monotonic()
            self.readings = after_failure(self.readings, self.clock(), end, end - start)
            if isinstance(exc, DoctorError):
                log.warning("run failed: %s", exc)
            else:
                log.exception("run failed with an internal error")
            return self.readings
        end = self.monotonic()
        self.readings = after_success(self.readings, report, self.clock(), end, end - start)
        self._log_run(report, end - start)
        return self.readings

    def _log_run(self, report: Report, seconds: float) -> None:
        counts = ", ".join(f"{n} {label}" for label, n in report.counts().items())
        bad = [
            f"{r.id} {r.status}: {r.detail}"
            for r in report.results
            if r.status in ("skipped", "error")
        ]
        log.info("run ok in %.2fs: %s%s", seconds, counts, "; " + "; ".join(bad) if bad else "")

    def run_forever(self, stop: threading.Event) -> None:
        """Run every ``interval`` seconds (start to start) until ``stop`` is set."""
        next_start = self.monotonic()
        while not stop.is_set():
            self.run_once()
            next_start += self.interval
            now = self.monotonic()
            if next_start < now:  # a run longer than the interval: skip, do not pile up
                next_start = now
            stop.wait(next_start - now)

    def healthy(self) -> tuple[bool, str]:
        """Whether a run finished within ``stale_after`` seconds (or the exporter just began),
        and, with the watch cache, no watch has been down (or never up) for that long."""
        last = self.readings.last_run_monotonic
        since = self.monotonic() - (last if last is not None else self.started)
        problem = self.cache.problem(self.stale_after) if self.cache is not None else None
        if problem is not None:
            return False, f"stale: {problem} (limit {self.stale_after:.0f}s)"
        if since < self.stale_after:
            what = "last run" if last is not None else "started"
            return True, f"ok: {what} {since:.0f}s ago"
        return False, f"stale: no run finished for {since:.0f}s (limit {self.stale_after:.0f}s)"


class ReadingsCollector:
    """Exposes the exporter's current ``Readings``; one consistent value per scrape."""

    def __init__(self, exporter: Exporter) -> None:
        self.exporter = exporter

    def collect(self) -> Iterator[Metric]:
        """The metric families of the current readings (read once: a run may swap them)."""
        return families(self.exporter.readings)


class RequestsCollector:
    """What the exporter asks of the API server: with watches, nothing in a quiet run."""

    def __init__(self, exporter: Exporter) -> None:
        self.exporter = exporter

    def collect(self) -> Iterator[Metric]:
        """Requests made (LIST pages and ``/version``; a watch's stream is not one), and with
        the watch cache the watch events applied."""
        exp = self.exporter
        stats = exp.cache.stats if exp.cache is not None else getattr(exp.fetcher, "stats", None)
        if stats is not None:
            yield CounterMetricFamily(
                "logos_doctor_api_requests",
                "Requests to the API server: LIST pages and /version (watch streams not counted).",
                value=stats.requests,
            )
        if exp.cache is not None:
            yield CounterMetricFamily(
                "logos_doctor_watch_lists",
                "LISTs the watch cache started, answered or not: the first of each kind, after"
                " an expired version, and every 5 minutes for a kind found unavailable.",
                value=exp.cache.counts.lists,
            )
            yield CounterMetricFamily(
                "logos_doctor_watch_events",
                "Watch events applied to the exporter's cache (added, modified, deleted).",
                value=exp.cache.counts.events,
            )


def metrics_registry(exporter: Exporter) -> CollectorRegistry:
    """A registry of our own (not the global one) with the readings, the requests made and
    process metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReadingsCollector(exporter))
    registry.register(RequestsCollector(exporter))
    ProcessCollector(registry=registry)
    return registry


def wsgi_app(exporter: Exporter, registry: CollectorRegistry) -> WSGIApp:
    """``/metrics``, ``/healthz`` and a tiny index page; 404 for anything else."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == "/metrics":
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        if path == "/healthz":
            ok, text = exporter.healthy()
            status = "200 OK" if ok else "503 Service Unavailable"
            return _text(start_response, status, text + "\n")
        if path == "/":
            return _text(start_response, "200 OK", "logos-doctor exporter: /metrics /healthz\n")
        return _text(start_response, "404 Not Found", "not found\n")

    return app


def _text(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    data = body.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))]
    )
    return [data]


class _Handler(WSGIRequestHandler):
    """No access log: a scrape every 15 s would drown the run log."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    """One thread per request, so a slow scrape never blocks another or ``/healthz``."""

    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves our own name (getfqdn), which can hang on a
        # broken resolver inside a pod; the name is only used for CGI variables.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()


class _ThreadingServer6(_ThreadingServer):
    address_family = socket.AF_INET6


def http_server(address: str, port: int, app: WSGIApp) -> WSGIServer:
    """Bind ``address:port`` (port 0 picks a free one); raises ``OSError`` if it cannot."""
    cls = _ThreadingServer6 if ":" in address else _ThreadingServer
    return make_server(address, port, app, server_class=cls, handler_class=_Handler)
