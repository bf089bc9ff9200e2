"""`serve`'s watch cache on the real test cluster: the state a cycle builds from the watches
is the state a fresh `check` would fetch, through real changes, without a LIST per cycle.

Scenario: an exporter watches a fresh namespace while the on-call's cluster changes under
it: a Deployment whose pods cannot be scheduled, a claim on a StorageClass that does not
exist, then is created, then deleted again, a Secret written and rewritten, the Deployment
scaled to zero.  At every cycle the findings from the watch-fed state are those of a fresh
fetch (times normalised), and no cycle after the first LIST makes another.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from prometheus_client import generate_latest

from k8scluster.kube import wait_for
from k8scluster.scenarios import cleanup_cluster_scoped
from k8scluster.scenarios.scheduling import deployment
from k8scluster.scenarios.storage import claim, class_name, make_class, storage_config
from logos_doctor.cluster.collect import needed_kinds, resolve_scope
from logos_doctor.cluster.connection import Connection, connect
from logos_doctor.cluster.fetch import Fetcher
from logos_doctor.cluster.kinds import KINDS
from logos_doctor.cluster.reflector import Reflector, WatchCounts
from logos_doctor.cluster.watchcache import ApiTransport, WatchCache
from logos_doctor.config import Config, load_config
from logos_doctor.registry import default_registry
from logos_doctor.runner import run_checks
from logos_doctor.serve import Exporter, fetch_options, metrics_registry
from logos_doctor.state import ClusterState

pytestmark = pytest.mark.integration

SECRET_VALUE = "d2F0Y2gtY2FuYXJ5LXZhbHVlLTlmM2Et"  # base64 of a canary; must never show


def normalised(state: ClusterState, config: Config) -> list[tuple[Any, ...]]:
    """The findings of ``state``, digits in texts blanked (ages and times differ by run)."""
    report = run_checks(state, list(default_registry()), config)

    def blank(text: str) -> str:
        return re.sub(r"\d+", "#", text)

    return sorted(
        (
            f.check,
            f.cause,
            str(f.severity),
            repr(f.resource),
            repr(f.parent),
            tuple(repr(a) for a in f.affected),
            blank(f.message),
            tuple(blank(e) for e in f.evidence),
        )
        for f in report.findings
    )


@pytest.fixture
def watched(cluster: Any, api: Any, namespace: str, tmp_path: Path) -> Iterator[tuple[Any, ...]]:
    """A watch cache on the namespace (with every check's kinds), and a fetcher to compare."""
    path = tmp_path / "logos-doctor.yaml"
    path.write_text(yaml.safe_dump({**storage_config(namespace), "namespace": namespace}))
    config = load_config(path)
    scope = resolve_scope(namespace, False, config)
    kinds = needed_kinds(default_registry())
    conn: Connection = connect(str(cluster.kubeconfig), None, pool_size=64)
    options = fetch_options(10)
    # An unserved kind (no cert-manager here) is asked again after `recheck` seconds: not
    # within this test, whose point is that changes cost no LIST.
    cache = WatchCache(conn, kinds, scope, options, recheck=3600)
    try:
        yield cache, Fetcher(conn, options), kinds, scope, config
    finally:
        cache.close()
        conn.close()
        cleanup_cluster_scoped(api, namespace)


def test_every_cycle_matches_a_fresh_fetch_and_no_cycle_lists(
    api: Any, namespace: str, watched: tuple[Any, ...]
) -> None:
    cache, fetcher, kinds, scope, config = watched
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    cache.state()  # the first cycle lists every kind once
    listed, pages = cache.counts.lists, cache.stats.requests
    assert listed == len(cache.reflectors)  # one LIST per kind and namespace
    cycles: list[list[tuple[Any, ...]]] = []
    seen: dict[str, Any] = {}

    def cycle(what: str, until: Any = None) -> list[tuple[Any, ...]]:
        """Cycles until the watch-fed findings equal a fresh fetch's (the cache may be a
        moment behind the fetch, never more) and ``until`` holds for them."""

        def agree() -> bool:
            before = normalised(cache.state(), config)
            fresh = normalised(fetcher.fetch(kinds, scope), config)
            after = normalised(cache.state(), config)
            seen.update(cache=after, fresh=fresh)
            same = fresh in (before, after)
            return same and (until is None or until(fresh))

        wait_for(
            agree,
            90,
            f"the watched findings to match a fresh fetch {what}",
            describe=lambda: str(seen),
        )
        cycles.append(seen["cache"])
        return seen["cache"]

    def about(findings: list[tuple[Any, ...]], check: str, name: str) -> bool:
        return any(f[0] == check and name in f[3] for f in findings)

    cycle("at the start")
    # A Deployment that asks more memory than any node has: its pods stay Pending.
    apps.create_namespaced_deployment(
        namespace, deployment(namespace, "huge", 2, requests={"cpu": "1", "memory": "512Gi"})
    )
    cycle("with unschedulable pods", lambda f: about(f, "scheduling", "huge"))
    # A claim on a class that does not exist; then the class; then the class deleted again.
    sc = class_name(namespace)
    core.create_namespaced_persistent_volume_claim(namespace, claim(namespace, "data", sc))
    cycle("with a claim on a missing class", lambda f: about(f, "pvc-pending", "data"))
    make_class(api, sc, namespace)
    cycle("once the class exists", lambda f: not about(f, "storage-class", sc))
    client.StorageV1Api(api).delete_storage_class(sc)
    cycle("once the class is deleted", lambda f: about(f, "storage-class", sc))
    # A Secret written, then rewritten with another key.
    secret = {"metadata": {"name": "db-canary"}, "data": {"password": SECRET_VALUE}}
    core.create_namespaced_secret(namespace, secret)
    core.patch_namespaced_secret("db-canary", namespace, {"data": {"token": SECRET_VALUE}})
    state = cache.state()
    kept = wait_for(
        lambda: [
            s
            for s in cache.state().list_of("secrets", namespace)
            if s["metadata"]["name"] == "db-canary" and len(s.get("dataKeys", ())) == 2
        ],
        30,
        "the rewritten Secret in the cache",
    )
    assert kept[0]["dataKeys"] == ["password", "token"]
    state = cache.state()
    assert SECRET_VALUE not in repr(dict(state.objects))
    assert SECRET_VALUE not in repr(cycle("with the Secret"))
    # The Deployment scaled to zero: its scheduling finding goes.
    apps.patch_namespaced_deployment_scale("huge", namespace, {"spec": {"replicas": 0}})
    cycle("once the Deployment is scaled to zero", lambda f: not about(f, "scheduling", "huge"))

    assert (cache.counts.lists, cache.stats.requests) == (listed, pages), "a cycle LISTed"
    assert cache.counts.events > 0
    assert cache.problem(30) is None
    assert len(cycles) == 7


def test_a_watch_from_a_refused_version_lists_again_and_recovers(
    cluster: Any, api: Any, namespace: str
) -> None:
    core = client.CoreV1Api(api)
    for name in ("one", "two"):
        core.create_namespaced_config_map(
            namespace, {"metadata": {"name": name}, "data": {"k": "v"}}
        )
    conn = connect(str(cluster.kubeconfig), None)
    kind = KINDS["configmaps"]
    counts = WatchCounts()
    transport = ApiTransport(conn, fetch_options(10), Fetcher(conn).stats)
    r = Reflector(kind, kind.list_path(namespace), f"namespace {namespace}", transport, counts)
    # A version the server refuses (it answers 500 for one it cannot parse); for an expired
    # one (410) see test_a_version_the_server_has_compacted_away_lists_again.
    r.version = "not-a-version"
    r.start()
    try:
        wait_for(
            lambda: counts.relists >= 1 and counts.lists >= 1,
            60,
            "a relist",
            describe=lambda: f"{counts} {r.error}",
        )
        wait_for(
            lambda: r.down_since is None,
            60,
            "the watch to be re-established",
            describe=lambda: str(r.error),
        )
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "three"}})
        wait_for(
            lambda: {o["metadata"]["name"] for o in r.items()} >= {"one", "two", "three"},
            30,
            "the new ConfigMap through the watch",
            describe=lambda: str([o["metadata"]["name"] for o in r.items()]),
        )
        kept = {o["metadata"]["name"]: o for o in r.items()}
        assert kept["one"]["dataKeys"] == ["k"] and "data" not in kept["one"]  # as a fetch keeps it
    finally:
        r.stop()
        conn.close()


def test_a_version_the_server_has_compacted_away_lists_again(
    cluster: Any, api: Any, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The test cluster watches ConfigMaps from etcd and compacts its history every 10 s
    # (tests/k8scluster/cluster.py), so the version of a LIST taken now is refused with
    # 410 Gone once a later write has been compacted past it: the real server's answer,
    # which the reflector must meet by listing again (client-go's reflector does the same).
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "one"}})
    old = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "two"}})

    def refused() -> bool:
        stream = core.list_namespaced_config_map(
            namespace,
            watch=True,
            resource_version=old,
            timeout_seconds=1,
            _preload_content=False,
        )
        first = stream.readline()
        stream.close()
        return b'"code":410' in first

    wait_for(refused, 60, f"the server to refuse a watch from version {old}")

    conn = connect(str(cluster.kubeconfig), None)
    kind = KINDS["configmaps"]
    counts = WatchCounts()
    transport = ApiTransport(conn, fetch_options(10), Fetcher(conn).stats)
    r = Reflector(kind, kind.list_path(namespace), f"namespace {namespace}", transport, counts)
    r.version = old
    caplog.set_level(logging.INFO, logger="logos_doctor.watch")
    r.start()
    try:
        wait_for(
            lambda: counts.relists >= 1 and counts.lists >= 1 and r.down_since is None,
            60,
            "a relist after 410 and a watch again",
            describe=lambda: f"{counts} {r.error}",
        )
        said = [rec.getMessage() for rec in caplog.records if rec.name == "logos_doctor.watch"]
        # Listed again because the server said the version expired, not after failures.
        assert any("resourceVersion expired" in line for line in said), said
        assert not any("keeps failing" in line for line in said), said
        assert {o["metadata"]["name"] for o in r.items()} >= {"one", "two"}
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "three"}})
        wait_for(
            lambda: "three" in {o["metadata"]["name"] for o in r.items()},
            30,
            "the new ConfigMap through the watch",
            describe=lambda: str([o["metadata"]["name"] for o in r.items()]),
        )
    finally:
        r.stop()
        conn.close()


def test_the_exporter_makes_no_request_in_the_runs_after_its_first(
    watched: tuple[Any, ...],
) -> None:
    cache, fetcher, _, scope, config = watched
    exp = Exporter(fetcher, list(default_registry()), config, scope, 1, cache=cache)

    def sample(name: str) -> float:
        page = generate_latest(metrics_registry(exp)).decode()
        found = re.search(rf"^{name} ([0-9.e+]+)$", page, re.M)
        assert found, page
        return float(found.group(1))

    exp.run_once()
    first = sample("logos_doctor_api_requests_total")
    assert first > 0  # the first run listed every kind
    for _ in range(3):
        exp.run_once()
    assert sample("logos_doctor_api_requests_total") == first
    assert sample("logos_doctor_watch_lists_total") == len(cache.reflectors)  # one each, once
    assert sample("logos_doctor_runs_total") == 4
    assert sample("logos_doctor_run_errors_total") == 0
