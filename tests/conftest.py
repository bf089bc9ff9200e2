"""pytest wiring for tests that need a Kubernetes cluster.

Fixtures
--------
cluster (session)   the cluster under test, a `TestCluster`: `.kubeconfig` (Path),
                    `.api_client()` (a new kubernetes.client.ApiClient), `.has_kwok`
                    (fake nodes simulated by kwok, with our fault stages), `.managed`
                    (this session started it and will stop it). Chosen in this order:
                    1. pytest-kubernetes' `--k8s-kubeconfig[-override]=PATH` (e.g. with
                       `--k8s-provider=external`), or LOGOS_DOCTOR_TEST_KUBECONFIG=PATH;
                    2. `--k8s-provider=kind|k3d|minikube`: pytest-kubernetes creates one;
                    3. the local control plane (`scripts/testcluster`): reused when already
                       up (and left up), else started here and stopped at session end.
                    Nothing is started unless a test asks for the fixture, so a run that
                    selects no integration test never touches a cluster.
api (session)       a shared ApiClient for `cluster` (do not close it).
namespace (function) a fresh namespace `t-<8 hex>`, deleted (not waited for) afterwards.

Tests under tests/integration/ get the `integration` marker automatically.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:  # normally done by pytest's `pythonpath = ["tests"]`
    sys.path.insert(0, str(TESTS_DIR))

INTEGRATION_DIR = TESTS_DIR / "integration"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: needs a real Kubernetes API (the local test control plane)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)


@dataclass
class TestCluster:
    """The Kubernetes cluster the integration tests run against."""

    __test__ = False  # not a test class

    kubeconfig: Path
    managed: bool = False
    source: str = "testcluster"
    _has_kwok: bool | None = field(default=None, repr=False)

    def api_client(self):
        """A new kubernetes.client.ApiClient for this cluster (close it when done)."""
        from k8scluster.kube import api_client

        return api_client(self.kubeconfig)

    @property
    def has_kwok(self) -> bool:
        """True when the cluster has Ready kwok-managed fake nodes (and so our stages)."""
        if self._has_kwok is None:
            from kubernetes import client

            api = self.api_client()
            try:
                nodes = client.CoreV1Api(api).list_node().items
            finally:
                api.close()
            self._has_kwok = any(
                (n.metadata.annotations or {}).get("kwok.x-k8s.io/node") == "fake"
                and any(c.type == "Ready" and c.status == "True"
                        for c in (n.status.conditions or []))
                for n in nodes)
        return self._has_kwok


def _opt(config: pytest.Config, name: str) -> str | None:
    try:
        return config.getoption(name)
    except ValueError:  # pytest-kubernetes not installed
        return None


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest):
    config = request.config
    external = (_opt(config, "k8s_kubeconfig_override") or _opt(config, "k8s_kubeconfig")
                or os.environ.get("LOGOS_DOCTOR_TEST_KUBECONFIG"))
    provider = (_opt(config, "k8s_provider") or "").lower()
    if external:
        path = Path(external).expanduser().resolve()
        if not path.is_file():
            pytest.fail(f"kubeconfig {path} does not exist")
        yield TestCluster(path, managed=False, source="external")
        return
    if provider and provider != "external":
        # A cluster made by pytest-kubernetes (kind, k3d, minikube: needs Docker or a VM).
        factory = request.getfixturevalue("k8s_manager")
        klass = factory(provider)
        manager = klass(_opt(config, "k8s_cluster_name") or "pytest",
                        _opt(config, "k8s_provider_config"), None)
        manager.create()
        try:
            yield TestCluster(Path(manager.kubeconfig), managed=True, source=provider)
        finally:
            manager.delete()
        return

    import k8scluster

    try:
        path, started = k8scluster.ensure_up(quiet=True)
    except k8scluster.ClusterError as e:
        pytest.fail(f"could not start the test cluster:\n{e}", pytrace=False)
    tc = TestCluster(path, managed=started, source="testcluster", _has_kwok=True)
    if not started:  # reused: make sure the shared node pools are still there
        from k8scluster.nodes import ensure_nodes

        client = tc.api_client()
        try:
            ensure_nodes(client)
        finally:
            client.close()
    try:
        yield tc
    finally:
        if started:
            k8scluster.down(quiet=True)


@pytest.fixture(scope="session")
def api(cluster: TestCluster):
    client = cluster.api_client()
    yield client
    client.close()


@pytest.fixture
def namespace(api) -> str:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    from k8scluster.kube import wait_for

    core = client.CoreV1Api(api)
    name = f"t-{secrets.token_hex(4)}"
    core.create_namespace({"metadata": {"name": name,
                                        "labels": {"logos-doctor.test/owner": "pytest"}}})

    def has_default_sa() -> bool:
        try:
            core.read_namespaced_service_account("default", name)
            return True
        except ApiException:
            return False

    # Pods are refused until the namespace's default ServiceAccount exists.
    wait_for(has_default_sa, 30, f"ServiceAccount default in {name}")
    yield name
    try:
        core.delete_namespace(name, propagation_policy="Background")
    except ApiException as e:
        if e.status != 404:
            raise
    # StorageClasses, PVs and nodes a scenario made for this namespace (labelled so).
    from k8scluster.scenarios import cleanup_cluster_scoped

    cleanup_cluster_scoped(api, name)


# -- process-wide state a test must not leave changed ------------------------------------------


def _process_state() -> dict[str, object]:
    """What one test could change for every later one in this process.

    The installed checks (``default_registry()`` hands each caller its own registry; the
    entry points behind it are read once), and the fetcher's garbage-collector pause
    (``logos_doctor.cluster.fetch``: a fetch turns the collector off while it parses and
    must turn it back on).  Fetch statistics belong to whoever runs the fetch: none are global.
    """
    import gc

    from logos_doctor.registry import default_registry

    registry = default_registry()
    state: dict[str, object] = {
        "checks": tuple((c.id, c) for c in registry),
        "load_errors": tuple(registry.load_errors),
        "gc enabled": gc.isenabled(),
    }
    fetch = sys.modules.get("logos_doctor.cluster.fetch")  # never imported just for this
    if fetch is not None:
        state["gc pauses"] = getattr(fetch, "_gc_pauses", 0)
    return state


@pytest.fixture(autouse=True)
def no_leaked_process_state():
    """Fail a test that leaves the installed checks or the fetcher's gc pause changed."""
    before = _process_state()
    yield
    after = _process_state()
    changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
    if changed:
        pytest.fail(f"the test left process-wide state changed: {', '.join(changed)}")
