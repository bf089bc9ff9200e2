"""Fetching: one paginated LIST per kind and scope, concurrently, JSON parsed directly.

This is the only module that reads from the API server for a diagnosis.  Each kind the
selected checks need is listed once per run (``limit`` + ``continue``), never object by
object, and each page is decoded straight into plain dicts (``cluster/decode.py``: msgspec,
``managedFields`` never built) rather than into the client's model classes, which cost
seconds per thousand objects.

Faults are handled per request, the way client-go does: 429 and 5xx responses and dropped
connections are retried with exponential backoff and jitter (``Retry-After`` honoured), all
within the per-request timeout and the run's deadline; a ``410 Gone`` on a ``continue`` token
restarts that LIST once from the beginning.  A kind that still fails, or is forbidden, becomes
``KindUnavailable`` for that kind alone; only a rejected credential or an unreachable server
stops the whole run (``ClusterError``).

Secrets are stripped of their values the moment they are parsed: nothing downstream (state,
snapshots, output, logs) ever holds one.

One module on purpose (~600 lines): the LIST loop, its per-request fault handling (retries,
backoff, deadlines, cut-off reads, connection errors) and the GC pause around parsing share
one connection pool and one run deadline, and nothing else calls the fault handling.
"""

from __future__ import annotations

import contextlib
import gc
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import urllib3
from kubernetes.client.exceptions import ApiException

from logos_doctor.cluster.connection import Connection
from logos_doctor.cluster.decode import (
    TOP_FIELDS,
    Before,
    Clean,
    NotAList,
    decode_page,
    list_head,
)
from logos_doctor.cluster.heap import map_large_blocks
from logos_doctor.cluster.kinds import KINDS, PAGE_SIZE, Kind
from logos_doctor.cluster.redact import REDACT
from logos_doctor.cluster.redact import strip_secret as strip_secret  # older import path
from logos_doctor.cluster.share import OWN, OWN_BY_KIND, share_values
from logos_doctor.errors import ClusterError, KindUnavailable
from logos_doctor.objects import Obj
from logos_doctor.state import ClusterInfo, ClusterState, Scope
from logos_doctor.unread import drop_unread

RETRYABLE = {429, 500, 502, 503, 504}


@dataclass
class FetchStats:
    """What the fetch cost: requests, bytes and time per kind (for benchmarks and --debug)."""

    requests: int = 0
    retries: int = 0
    bytes: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    fetch_seconds: float = 0.0
    parse_seconds: float = 0.0
    index_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, kind: str, nbytes: int, parse_seconds: float) -> None:
        """Record one response."""
        with self._lock:
            self.requests += 1
            self.bytes += nbytes
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
            self.parse_seconds += parse_seconds

    def parsed(self, seconds: float) -> None:
        """Record decoding done apart from the request (a page decoded after its token)."""
        with self._lock:
            self.parse_seconds += seconds

    def retried(self) -> None:
        """Record one retry."""
        with self._lock:
            self.retries += 1


@dataclass(frozen=True)
class FetchOptions:
    """Timeouts and retry budget of one run, and what to do with the memory afterwards."""

    timeout: float = 30.0
    deadline: float = 120.0
    attempts: int = 5
    page_size: int = PAGE_SIZE
    workers: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    # Move everything alive to the collector's permanent generation once parsed (gc.freeze):
    # for a one-shot process, whose state lives until it exits.  A long-running one (the
    # exporter, the fix's polling) must not, or each run's leftovers would stay for good.
    freeze: bool = False
    # Drop what no diagnosis reads (versions, an event's own name and uid, a pod's address
    # lists: logos_doctor/unread.py) as each page is decoded.  For ``check``; never for a
    # snapshot, which must keep every field, nor for the fix, which writes objects back.
    lean: bool = False


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Gone(Exception):
    pass


ListExpired = _Gone  # public name for the watch cache (a 410 on a continue token)


def places(kind: Kind, scope: Scope) -> list[tuple[str, str, bool]]:
    """Where ``kind`` is listed for ``scope``, by a fetch and by the exporter's watches alike:
    (path, where in words, whether it lies beyond the scope)."""
    if kind.namespaced and scope.namespaces is not None:
        inside = [(kind.list_path(ns), f"namespace {ns}", False) for ns in scope.namespaces]
        beyond = [
            (kind.list_path(ns), f"namespace {ns}", True) for ns in scope.also_for(kind.plural)
        ]
        return inside + beyond
    return [
        (kind.list_path(None), "the cluster" if not kind.namespaced else "all namespaces", False)
    ]


class Fetcher:
    """Lists kinds from one cluster; reusable across runs (the exporter keeps one)."""

    def __init__(
        self,
        conn: Connection,
        options: FetchOptions | None = None,
        stats: FetchStats | None = None,
    ) -> None:
        map_large_blocks()  # page bodies must not fragment the heap (cluster/heap.py)
        self.conn = conn
        self.options = options or FetchOptions()
        self.stats = stats if stats is not None else FetchStats()  # the caller's, or a fresh one
        self._deadline = 0.0
        self._strings: dict[Any, Any] | None = None  # strings and containers, shared
        self._missed: list[tuple[str, str]] = []
        self._pager: ThreadPoolExecutor | None = None  # page requests, during a fetch

    # -- public ----------------------------------------------------------------------------

    def server_version(self) -> str | None:
        """``/version``'s gitVersion; also proves the server is reachable and accepts us."""
        self._deadline = time.monotonic() + self.options.deadline
        data = self._get_json("/version", [], kind="version")
        return str(data.get("gitVersion")) if isinstance(data, dict) else None

    def fetch(
        self,
        plurals: Iterable[str],
        scope: Scope,
        *,
        on_done: Callable[[str], None] | None = None,
    ) -> ClusterState:
        """List every kind in ``plurals`` for ``scope`` and index the result."""
        with _gc_paused(freeze=self.options.freeze):
            return self._fetch(plurals, scope, on_done)

    def _fetch(
        self, plurals: Iterable[str], scope: Scope, on_done: Callable[[str], None] | None
    ) -> ClusterState:
        start = time.perf_counter()
        now = datetime.now(UTC)
        version = self.server_version()
        self._strings = {}  # one per fetch: it only lives while the lists are parsed
        self._missed = []
        kinds = [KINDS[p] for p in sorted(set(plurals))]
        objects: dict[str, list[Obj]] = {}
        unavailable: dict[str, str] = {}
        workers = max(1, min(self.options.workers, len(kinds)))
        try:
            # The pager outlives the lists: a list's thread may still ask it for a page.
            with (
                ThreadPoolExecutor(max_workers=workers, thread_name_prefix="page") as pager,
                ThreadPoolExecutor(max_workers=workers, thread_name_prefix="list") as pool,
            ):
                self._pager = pager
                futures = {k.plural: pool.submit(self._list_kind, k, scope) for k in kinds}
                for plural, future in futures.items():
                    try:
                        objects[plural] = future.result()
                    except KindUnavailable as exc:
                        unavailable[plural] = str(exc)
                    if on_done:
                        on_done(plural)
        finally:
            self._pager = None
            self._strings = None
        self.stats.fetch_seconds += time.perf_counter() - start
        info = ClusterInfo(self.conn.context, self.conn.server, version)
        start = time.perf_counter()
        scope = scope.without(self._missed)  # claim only the namespaces actually listed
        state = ClusterState.build(
            objects, now=now, scope=scope, cluster=info, unavailable=unavailable
        )
        self.stats.index_seconds += time.perf_counter() - start
        return state

    def list_page(
        self, kind: Kind, path: str, query: list[tuple[str, Any]], where: str, clean: Clean
    ) -> tuple[list[Obj], str | None, str]:
        """One page of a LIST, with this fetcher's retries, errors and accounting: its items
        decoded as a fetch decodes them (``managedFields`` never built) and passed through
        ``clean``, its continue token and its resourceVersion.  For the exporter's watch
        cache (cluster/watchcache.py), which needs the version.  A page without
        ``continue`` starts a new deadline; a 410 on a ``continue`` raises ``ListExpired``."""
        if not any(key == "continue" for key, _ in query):
            self._deadline = time.monotonic() + self.options.deadline
        body, token, version = self._page(kind, path, query, where)
        return self._decode(kind, body, where, clean), token, version

    # -- one kind ----------------------------------------------------------------------------

    def _list_kind(self, kind: Kind, scope: Scope) -> list[Obj]:
        items: list[Obj] = []
        for path, where, beyond in places(kind, scope):
            if not beyond:
                items.extend(self._list_path(kind, path, where))
                continue
            try:  # a namespace beyond the scope, listed if allowed
                items.extend(self._list_path(kind, path, where))
            except KindUnavailable:
                # the state will not claim it
                self._missed.append((kind.plural, where.removeprefix("namespace ")))
        return items

    def _list_path(self, kind: Kind, path: str, where: str) -> list[Obj]:
        restarted = False
        while True:
            try:
                return self._pages(kind, path, where)
            except _Gone:
                # The continue token expired (etcd compacted): the pages we have are from an
                # older resourceVersion, so start over once rather than mix two snapshots.
                if restarted:
                    raise KindUnavailable(
                        kind.plural,
                        f"listing {kind.plural} in {where} kept expiring (410 Gone) mid-list",
                        "the cluster is changing too fast; try again",
                    ) from None
                restarted = True

    def _pages(self, kind: Kind, path: str, where: str) -> list[Obj]:
        """Every item of one LIST, each page asked for before the one before it is decoded.

        Pages are sequential (each needs the last one's ``continue`` token), and decoding a
        page of 500 pods takes this thread 40-50 ms on the benchmark cluster, time in which
        the API server could be writing the next one.  So the token is read first
        (``decode.list_head``: a scan, nothing built), the next page is requested on the
        pager's thread, and this thread decodes meanwhile: the server's work (and the
        network's) and ours overlap instead of taking turns.  One request per LIST is still in
        flight at a time; one more page per LIST is held in memory.
        """
        items: list[Obj] = []
        keep = self._keeper(kind)
        before = Before()  # the keeper shares like the item before: see decode.Before
        ahead: Future[tuple[bytes, str | None, str]] | None = self._ask(kind, path, where, None)
        try:
            while ahead is not None:
                body, token, _ = ahead.result()
                ahead = self._ask(kind, path, where, token) if token else None
                items.extend(self._decode(kind, body, where, keep, before))
        finally:
            if ahead is not None:  # stopped by an error: let the request in flight end
                wait([ahead])
        return items

    def _ask(
        self, kind: Kind, path: str, where: str, token: str | None
    ) -> Future[tuple[bytes, str | None, str]]:
        """The request for one page, sent now on the pager's thread."""
        assert self._pager is not None, "pages are asked for during a fetch"
        query: list[tuple[str, Any]] = [("limit", self.options.page_size)]
        if token:
            query.append(("continue", token))
        return self._pager.submit(self._page, kind, path, query, where)

    def _page(
        self, kind: Kind, path: str, query: list[tuple[str, Any]], where: str
    ) -> tuple[bytes, str | None, str]:
        """One page's text, continue token and resourceVersion (``decode.list_head``; the
        items are decoded by the caller), with retries and accounting."""
        return cast(
            tuple[bytes, str | None, str],
            self._get_json(
                path,
                query,
                kind=kind.plural,
                where=where,
                paging=any(key == "continue" for key, _ in query),
                decode=lambda body: (body, *list_head(body)),
            ),
        )

    def _decode(
        self, kind: Kind, body: bytes, where: str, clean: Clean, before: Before | None = None
    ) -> list[Obj]:
        """The items of a page whose structure ``decode.list_head`` has read.  Text in it that
        is still not JSON (bytes that are not UTF-8) would come the same way again: the kind
        is unavailable at once, as after the retries of a page that never parses."""
        start = time.perf_counter()
        try:
            items, _ = decode_page(kind, body, clean, before)
        except NotAList:
            raise KindUnavailable(
                kind.plural, f"the API server sent a malformed list of {kind.plural}"
            ) from None
        except ValueError:
            raise KindUnavailable(
                kind.plural,
                f"listing {kind.plural} in {where} failed: invalid or truncated JSON for "
                f"{kind.plural}",
                "the API server may be overloaded; try again or raise --timeout",
            ) from None
        finally:
            self.stats.parsed(time.perf_counter() - start)
        return items

    def _keeper(self, kind: Kind) -> Clean:
        """How one LIST keeps its items: each shared like the item before it, when the API
        server writes the kind from its own types (``cluster/share.py``)."""
        lean, typed = self.options.lean, kind.plural in TOP_FIELDS
        before: Obj | None = None  # the item kept last, of a built-in kind

        def keep(kind: Kind, obj: Obj) -> Obj:
            nonlocal before
            if lean:
                drop_unread(kind.plural, obj)
            kept = _clean(kind, obj, self._strings, containers=True, like=before)
            if typed:
                before = kept
            return kept

        return keep

    def _get_json(
        self,
        path: str,
        query: list[tuple[str, Any]],
        *,
        kind: str,
        where: str = "the cluster",
        paging: bool = False,
        decode: Callable[[bytes], Any] = json.loads,
    ) -> Any:
        opts = self.options
        last_error = ""
        for attempt in range(opts.attempts):
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                timeout = min(opts.timeout, remaining)
                return self._request(path, query, kind, timeout, where, paging, decode)
            except _Retryable as exc:
                last_error = str(exc)
                if attempt == opts.attempts - 1:
                    break
                delay = min(opts.backoff_cap, opts.backoff_base * 2**attempt)
                delay = delay / 2 + random.uniform(0, delay / 2)  # jitter, as client-go does
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, opts.backoff_cap * 4))
                if time.monotonic() + delay >= self._deadline:
                    break
                self.stats.retried()
                time.sleep(delay)
        if kind == "version":
            reason = last_error or "deadline passed"
            raise ClusterError(
                f"cannot reach the API server {self.conn.server}: {reason}",
                "check the network/VPN and the cluster's health, or raise --timeout",
            )
        raise KindUnavailable(
            kind,
            f"listing {kind} in {where} failed: {last_error or 'deadline passed'}",
            "the API server may be overloaded; try again or raise --timeout",
        )

    def _request(
        self,
        path: str,
        query: list[tuple[str, Any]],
        kind: str,
        timeout: float,
        where: str,
        paging: bool,
        decode: Callable[[bytes], Any],
    ) -> Any:
        until = time.monotonic() + timeout
        try:
            resp = self.conn.send("GET", path, query, timeout=timeout)
            status = resp.status
            body = _read_until(resp.response, until, timeout)
        except ApiException as exc:  # the client raises these for TLS failures
            if "SSL" in str(exc.reason) or "CERTIFICATE" in str(exc.reason).upper():
                raise ClusterError(
                    f"TLS verification failed for {self.conn.server}",
                    "the kubeconfig's certificate-authority does not match the server",
                ) from None
            raise _Retryable(str(exc.reason or exc).splitlines()[0]) from None
        except urllib3.exceptions.SSLError:
            raise ClusterError(
                f"TLS verification failed for {self.conn.server}",
                "the kubeconfig's certificate-authority does not match the server",
            ) from None
        except urllib3.exceptions.MaxRetryError as exc:
            raise self._connection_error(exc.reason) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._connection_error(exc) from None
        if status == 401:
            raise self.conn.unauthorized()
        if status == 403:
            raise KindUnavailable(
                kind,
                f"forbidden to list {kind} in {where}",
                "grant list on it (see 'logos-doctor rbac')",
            )
        if status == 404:
            raise KindUnavailable(kind, f"{kind} is not served by this cluster (404)")
        if status == 410 and paging:
            raise _Gone()
        if status in RETRYABLE:
            retry_after = _retry_after(resp.getheader("Retry-After"))
            raise _Retryable(f"HTTP {status} {resp.reason or ''}".strip(), retry_after)
        if status >= 300:
            raise KindUnavailable(kind, f"listing {kind} in {where} failed: HTTP {status}")
        t0 = time.perf_counter()
        try:
            return decode(body)
        except ValueError:  # UnicodeDecodeError included
            raise _Retryable(f"invalid or truncated JSON for {kind}") from None
        finally:  # parse = decoding and cleaning, as one
            self.stats.count(kind, len(body or b""), time.perf_counter() - t0)

    def _connection_error(self, cause: BaseException | None) -> Exception:
        text = f"{type(cause).__name__}: {cause}" if cause else "connection failed"
        if isinstance(cause, urllib3.exceptions.SSLError):
            return ClusterError(
                f"TLS verification failed for {self.conn.server}",
                "the kubeconfig's certificate-authority does not match the server",
            )
        if isinstance(cause, urllib3.exceptions.NameResolutionError) or "resolve" in text:
            return ClusterError(
                f"cannot resolve the API server host of {self.conn.server}",
                "check the server address in the kubeconfig and your DNS/VPN",
            )
        if isinstance(cause, urllib3.exceptions.NewConnectionError) or "refused" in text:
            return ClusterError(
                f"cannot connect to the API server {self.conn.server}: connection refused",
                "is the cluster running and the address right?",
            )
        if isinstance(cause, urllib3.exceptions.TimeoutError):
            return _Retryable(f"timed out after {self.options.timeout:g}s")
        return _Retryable(text.splitlines()[0][:200])


_gc_lock = threading.Lock()
_gc_pauses = 0  # fetches running now (the exporter and --context may run several at once)
_gc_resume = False  # whether the first of them turned the collector off (and so turns it on)
_gc_freeze = False  # whether one of them asked for its state to be frozen afterwards


@contextlib.contextmanager
def _gc_paused(*, freeze: bool) -> Iterator[None]:
    """Keep Python's cyclic garbage collector out of the fetch, and maybe freeze what it made.

    Parsing allocates millions of dicts and lists and keeps them all, so every collection the
    allocations trigger walks a heap that keeps growing: measured on 30,000 objects, that was
    60% of the fetch's CPU time (which, on a small machine, the API server needed too).  JSON
    makes no reference cycles, so nothing is lost by not collecting.  With ``freeze`` the
    state is then moved to the permanent generation (``gc.freeze``), so collections during
    the checks do not walk it either; frozen objects are still freed when their last
    reference goes, but a garbage cycle alive at that moment never is.
    """
    global _gc_pauses, _gc_resume, _gc_freeze
    with _gc_lock:
        _gc_pauses += 1
        _gc_freeze = _gc_freeze or freeze
        if _gc_pauses == 1 and gc.isenabled():
            gc.disable()
            _gc_resume = True
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0:
                if _gc_freeze:
                    gc.freeze()
                _gc_freeze = False
                if _gc_resume:
                    _gc_resume = False
                    gc.enable()


def _read_until(raw: Any, until: float, timeout: float) -> bytes:
    """The whole body of a urllib3 response, or ``_Retryable`` once ``until`` has passed.

    The socket's read timeout only bounds each read: a server (or middlebox) that trickles a
    byte at a time would keep one request alive for hours, and the run's deadline with it.  A
    timer shuts the socket down at ``until``, which ends the blocked read (reading in small
    pieces and checking the clock between them would also work, at half the throughput).
    """
    cut = threading.Event()

    def cut_off() -> None:
        cut.set()
        try:
            raw.shutdown()
        except (ValueError, RuntimeError, OSError):  # released already, or no socket access
            raw.close()

    timer = threading.Timer(max(0.0, until - time.monotonic()), cut_off)
    timer.daemon = True
    timer.start()
    try:
        return bytes(raw.data or b"")
    except (urllib3.exceptions.HTTPError, OSError):
        if cut.is_set():
            raise _Retryable(
                f"timed out after {timeout:g}s (the response kept trickling in)"
            ) from None
        raise
    finally:
        timer.cancel()
        if cut.is_set():
            raw.close()  # cut off, maybe just after the body arrived: never reuse that socket
        raw.release_conn()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _clean(
    kind: Kind,
    obj: Obj,
    strings: dict[Any, Any] | None = None,
    *,
    containers: bool = False,
    like: Obj | None = None,
) -> Obj:
    """Drop what no check reads and what must never be kept (Secret values); with
    ``strings``, make equal strings one object (see ``_share_strings``), and with
    ``containers`` equal dicts and lists too, taking equal parts of ``like`` (an item of the
    same built-in kind kept before) as they are (``cluster/share.py``)."""
    md = obj.get("metadata")
    if isinstance(md, dict):
        md.pop("managedFields", None)
    redact = REDACT.get(kind.plural)
    if redact is not None:
        return redact(obj)
    if strings is not None:
        if containers:
            share_values(obj, strings, OWN_BY_KIND.get(kind.plural, OWN), like)
        else:
            _share_strings(obj, strings)
    return obj


clean = _clean  # public name: the watch cache cleans each watched object the same way


def _share_strings(obj: Obj, strings: dict[str, str]) -> None:
    """Replace every string value in ``obj`` by the first equal one seen in this fetch.

    ``json`` makes a new object for every string value, and most values repeat across
    objects (condition types, "True", images, node and namespace names, timestamps): measured
    on 30,000 objects, two thirds of the parsed state's memory were such copies.  Iterative,
    on exact types, because it runs over every value the cluster sends.
    """
    share = strings.setdefault
    stack: list[Any] = [obj]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            for key, value in node.items():
                kind = type(value)
                if kind is str:
                    node[key] = share(value, value)
                elif kind is dict or kind is list:
                    stack.append(value)
        else:
            for i, value in enumerate(node):
                kind = type(value)
                if kind is str:
                    node[i] = share(value, value)
                elif kind is dict or kind is list:
                    stack.append(value)
