"""Getting a ``ClusterState`` for a run: live from one or more clusters, or from a snapshot.

Commands (``check``, ``snapshot``, ``serve``, ``fix``) share this, so every one of them
lists the same kinds the same way and reads the same state.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from logos_doctor.cluster.kinds import PAGE_SIZE
from logos_doctor.config import Config, is_namespace_name
from logos_doctor.errors import ClusterError, SnapshotError, UsageError
from logos_doctor.objects import name as name_of
from logos_doctor.outcome import Target
from logos_doctor.registry import Check
from logos_doctor.state import ClusterState, Scope

if TYPE_CHECKING:
    from logos_doctor.cluster.fetch import FetchStats

# Listed with every run (a single cheap LIST; skipped quietly where RBAC forbids it).
NAMESPACES = "namespaces"
# Kinds a one-namespace run also lists in another namespace the config names: the
# ServiceMonitors live in the monitoring namespace (the guide), not with Logos.
LISTED_BEYOND = ("servicemonitors",)


def needed_kinds(checks: Iterable[Check]) -> set[str]:
    """The union of kinds the checks read."""
    kinds: set[str] = set()
    for check in checks:
        kinds.update(check.kinds)
        kinds.update(check.optional_kinds)
    return kinds


def resolve_scope(namespace: str | None, all_namespaces: bool, config: Config) -> Scope:
    """``-A`` -> all namespaces; ``-n NS`` -> NS; else the configured namespace."""
    if all_namespaces:
        if namespace:
            raise UsageError("give -n/--namespace or -A/--all-namespaces, not both")
        return Scope(None, prometheus=config.prometheus_url)
    if namespace is not None and not is_namespace_name(namespace):
        raise UsageError(
            f"{namespace!r} is not a namespace name",
            "use lower-case letters, digits and '-', at most 63 characters",
        )
    ns = namespace or config.namespace
    # The ServiceMonitors are listed where the config says too (one more namespaced LIST).
    mon = config.monitoring_namespace
    also = tuple((plural, (mon,)) for plural in LISTED_BEYOND) if mon != ns else ()
    return Scope((ns,), also, config.prometheus_url)


def kinds_for(checks: Iterable[Check], scope: Scope) -> set[str]:
    """What to list for ``checks`` in ``scope``: their kinds, plus the namespaces.

    Namespaces tell a named namespace that does not exist from an empty one, and whether the
    configured Logos namespace exists at all (``logos_doctor.release``).
    """
    return needed_kinds(checks) | {NAMESPACES}


def within_snapshot(state: ClusterState, scope: Scope, source: str) -> ClusterState:
    """The snapshot's state seen through ``scope``; a scope it never recorded is an error.

    A snapshot of namespace ``logos`` knows nothing of ``default``: checking ``default``
    from it would diagnose absence of data as missing objects.
    """
    recorded = state.scope.namespaces
    # Beyond the scope, keep only what the snapshot listed; Prometheus is never asked offline.
    also = tuple(
        (kind, kept)
        for kind, names in scope.also
        if (kept := tuple(n for n in names if state.scope.lists(kind, n)))
    )
    scope = Scope(scope.namespaces, also)
    if recorded is None:
        return replace(state, scope=scope)
    if scope.namespaces is None:
        raise SnapshotError(
            f"{source} holds {state.scope.describe()} only, not all namespaces",
            f"drop -A, or check -n {' -n '.join(recorded)}",
        )
    outside = [ns for ns in scope.namespaces if ns not in recorded]
    if outside:
        raise SnapshotError(
            f"{source} holds {state.scope.describe()} only, not {', '.join(outside)}",
            "check a namespace the snapshot recorded, or record another snapshot with -n",
        )
    return replace(state, scope=scope)


def require_namespaces(state: ClusterState) -> None:
    """Refuse to diagnose a named namespace that does not exist (rather than call it empty)."""
    if state.scope.namespaces is None or not state.has(NAMESPACES):
        return
    existing = {name_of(ns) for ns in state.list_of(NAMESPACES)}
    absent = [ns for ns in state.scope.namespaces if ns not in existing]
    if absent:
        where = f" on context {state.cluster.context}" if state.cluster.context else ""
        close = [m for ns in absent for m in difflib.get_close_matches(ns, existing, n=3)]
        rest = [ns for ns in sorted(existing) if ns not in close]
        listed = list(dict.fromkeys(close + rest))
        known = ", ".join(listed[:12]) + (" …" if len(listed) > 12 else "")
        raise ClusterError(
            f"namespace {', '.join(absent)} does not exist{where}",
            (f"did you mean {close[0]}? " if close else "") + f"namespaces: {known}",
        )


def targets(kubeconfig: str | None, contexts: Iterable[str], all_contexts: bool) -> list[Target]:
    """The clusters named by ``--context`` (repeatable) or ``--all-contexts``."""
    # The client is imported where a cluster is reached: an offline run never pays for it.
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException

    if all_contexts:
        try:
            found, _ = k8s_config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError) as exc:
            raise ClusterError(f"cannot read contexts from the kubeconfig: {exc}") from None
        names = sorted(c["name"] for c in found or [])
        if not names:
            raise ClusterError("the kubeconfig has no contexts")
        return [Target(kubeconfig, n) for n in names]
    names = list(dict.fromkeys(contexts)) or [None]
    return [Target(kubeconfig, n) for n in names]


def fetch_live(
    target: Target,
    kinds: Iterable[str],
    scope: Scope,
    *,
    timeout: float,
    on_done: Callable[[str], None] | None = None,
    page_size: int = PAGE_SIZE,
    freeze: bool = True,
    lean: bool = False,
) -> tuple[ClusterState, FetchStats]:
    """Fetch a live state; returns ``(ClusterState, stats)``.

    ``freeze``: move what the fetch made to the collector's permanent generation, for a
    process whose one state lives until exit (``check``, ``snapshot``).  A caller that
    fetches again and again (``check --watch``) passes False: a garbage cycle alive at a
    freeze would stay for good, one more at every refresh.  ``lean``: for a diagnosis only,
    what no check reads is dropped (``FetchOptions.lean``); a snapshot keeps everything."""
    from logos_doctor.cluster.connection import connect
    from logos_doctor.cluster.fetch import Fetcher, FetchOptions

    conn = connect(target.kubeconfig, target.context)
    try:
        options = FetchOptions(
            timeout=timeout, deadline=timeout * 4, page_size=page_size, freeze=freeze, lean=lean
        )
        fetcher = Fetcher(conn, options)
        state = fetcher.fetch(kinds, scope, on_done=on_done)
        if scope.prometheus:  # outside the Kubernetes API: its answers go into the state
            from logos_doctor.cluster.prometheus import read_prometheus

            answer = read_prometheus(scope.prometheus, timeout, scope.namespaces)
            state = replace(state, prometheus=answer)
        return state, fetcher.stats
    finally:
        conn.close()
