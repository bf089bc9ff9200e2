"""A sick API server: `check` through a fault-injecting proxy in front of the real test cluster.

Scenario: a namespace with one incomplete Secret (`logos-db-credentials` lacks a key), two
required Secrets missing, and a Service `logos-web` whose selector matches no pod.  Healthy,
`check` reports four findings (three from `secrets`, one from `service-endpoints`, which needs
pods).  Then the API server (really: `tests/faultproxy.py` between the tool and it) throttles,
fails, resets, stalls, trickles, truncates, forbids, rejects the credentials, or expires a
paginated LIST's continue token, and the on-call must still get either the same report (after
bounded retries) or a report that says which kinds could not be listed, or one clear line: in
every case within the deadline (4x --timeout) and without a traceback.
"""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from faultproxy import Fault, FaultProxy, make_server_cert

pytestmark = pytest.mark.integration

# Checks that read only namespaced kinds: other tests on the shared cluster add and remove
# nodes and StorageClasses, which must not change a report between two runs of one test.
NAMESPACED_CHECKS = ("hpa", "image-pull", "secrets", "service-endpoints", "workloads")
STARTUP = 4.0  # slack for interpreter start-up and rendering, on top of the tool's own budget


@dataclass(frozen=True)
class Run:
    rc: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def doc(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    def status(self, check_id: str) -> tuple[str, str]:
        found = next(c for c in self.doc["checks"] if c["id"] == check_id)
        return found["status"], found["detail"]

    def report(self) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
        """What the on-call reads: each check's outcome and each finding (no timings)."""
        doc = self.doc
        checks = sorted((c["id"], c["status"], c["detail"]) for c in doc["checks"])
        findings = sorted(
            (f["check"], f["cause"], f"{f['resource']['kind']}/{f['resource']['name']}")
            for f in doc["findings"]
        )
        return checks, findings

    def one_line(self) -> str:
        """The single error line a failed run prints; nothing on stdout, no traceback."""
        assert "Traceback" not in self.stderr
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, self.stderr
        assert self.stdout == ""
        return lines[0]


def check(
    kubeconfig: Path,
    namespace: str,
    *extra: str,
    checks: tuple[str, ...] = NAMESPACED_CHECKS,
    timeout: float = 5,
) -> Run:
    if "--config" not in extra:
        # The Logos expectations (its Secrets) apply where Logos is deployed: say it is here.
        config = Path(tempfile.gettempdir()) / f"logos-doctor-faults-{namespace}.yaml"
        config.write_text(yaml.safe_dump({"namespace": namespace}))
        extra = (*extra, "--config", str(config))
    args = [
        sys.executable,
        "-m",
        "logos_doctor",
        "check",
        *checks,
        "-n",
        namespace,
        "-o",
        "json",
        "--kubeconfig",
        str(kubeconfig),
        "--timeout",
        f"{timeout:g}",
        *extra,
    ]
    start = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout * 4 + 60)
    run = Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)
    assert "Traceback" not in run.stderr, run.stderr
    return run


@pytest.fixture(scope="module")
def proxy_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_server_cert(tmp_path_factory.mktemp("faultproxy-pki"))


@pytest.fixture
def proxy(
    cluster: Any, proxy_cert: tuple[Path, Path, Path], tmp_path: Path
) -> Iterator[FaultProxy]:
    with FaultProxy(cluster.kubeconfig, tmp_path / "proxy", server_cert=proxy_cert) as p:
        yield p


@pytest.fixture
def scene(api: Any, namespace: str) -> str:
    core = client.CoreV1Api(api)
    core.create_namespaced_secret(
        namespace, {"metadata": {"name": "logos-db-credentials"}, "stringData": {"password": "x"}}
    )
    core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "logos-web"},
            "spec": {"selector": {"app": "logos-web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    return namespace


@pytest.fixture
def kubeconfig(proxy: FaultProxy, tmp_path: Path) -> Path:
    return proxy.kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def baseline(proxy: FaultProxy, kubeconfig: Path, scene: str) -> Run:
    """The healthy report, through the proxy with no fault (which proves it is transparent)."""
    run = check(kubeconfig, scene)
    assert run.rc == 1, run.stderr
    checks, findings = run.report()
    assert ("service-endpoints", "no-matching-pods", "Service/logos-web") in findings
    assert ("secrets", "missing-key", "Secret/logos-db-credentials") in findings
    assert all(status in ("ok", "findings") for _, status, _ in checks)
    proxy.clear()
    return run


def pods(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods"


def secrets(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/secrets"


POD_CHECKS = ("image-pull", "service-endpoints", "workloads")


# -- transient faults: retried, then the same report ----------------------------------------


def test_429_with_retry_after_is_waited_out_then_succeeds(
    proxy: FaultProxy, kubeconfig: Path, scene: str, baseline: Run
) -> None:
    proxy.add(Fault(pods(scene), "status", 429, times=2, retry_after="1"))
    run = check(kubeconfig, scene)
    assert run.rc == baseline.rc
    assert run.report() == baseline.report()
    attempts = [r for r in proxy.requests if r.path == pods(scene)]
    assert [r.fault for r in attempts] == ["status 429", "status 429", None]
    gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
    assert all(gap >= 0.95 for gap in gaps), gaps  # Retry-After: 1 honoured


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_retried_then_succeeds(
    proxy: FaultProxy, kubeconfig: Path, scene: str, baseline: Run, status: int
) -> None:
    proxy.add(Fault(pods(scene), "status", status, times=2))
    run = check(kubeconfig, scene)
    assert run.report() == baseline.report()
    assert proxy.count(pods(scene)) == 3


def test_503_on_version_at_start_is_retried(
    proxy: FaultProxy, kubeconfig: Path, scene: str, baseline: Run
) -> None:
    proxy.add(Fault("/version", "status", 503, times=1))
    run = check(kubeconfig, scene)
    assert run.report() == baseline.report()
    assert proxy.count("/version") == 2


def test_connection_reset_mid_body_is_retried(
    proxy: FaultProxy, kubeconfig: Path, scene: str, baseline: Run
) -> None:
    proxy.add(Fault(pods(scene), "reset", times=2))
    run = check(kubeconfig, scene)
    assert run.report() == baseline.report()
    assert proxy.count(pods(scene), fault="reset") == 2
    assert proxy.count(pods(scene), fault=None) == 1


def test_truncated_json_once_is_retried(
    proxy: FaultProxy, kubeconfig: Path, scene: str, baseline: Run
) -> None:
    proxy.add(Fault(pods(scene), "truncate", times=1))
    run = check(kubeconfig, scene)
    assert run.report() == baseline.report()
    assert proxy.count(pods(scene)) == 2


# -- persistent faults: a per-kind error, the other checks still report --------------------


def _only_pod_checks_skipped(run: Run, reason: str) -> None:
    for check_id in POD_CHECKS:
        status, detail = run.status(check_id)
        assert status == "skipped", (check_id, status, detail)
        assert reason in detail, detail
    assert run.status("secrets")[0] == "findings"
    assert run.rc == 1  # the secrets findings, not the skips, decide the exit status


def test_persistent_503_gives_up_after_bounded_retries(
    proxy: FaultProxy, kubeconfig: Path, scene: str, baseline: Run
) -> None:
    proxy.add(Fault(pods(scene), "status", 503))
    run = check(kubeconfig, scene, timeout=5)
    _only_pod_checks_skipped(run, f"listing pods in namespace {scene} failed: HTTP 503")
    assert proxy.count(pods(scene)) == 5  # FetchOptions.attempts
    assert run.seconds < 20 + STARTUP
    attempts = [r.at for r in proxy.requests if r.path == pods(scene)]
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[-1] > gaps[0]  # exponential backoff, not a tight loop


def test_retry_after_beyond_the_deadline_is_not_slept(
    proxy: FaultProxy, kubeconfig: Path, scene: str, baseline: Run
) -> None:
    proxy.add(Fault(pods(scene), "status", 429, retry_after="3600"))
    run = check(kubeconfig, scene, timeout=2)
    _only_pod_checks_skipped(run, "HTTP 429")
    assert run.seconds < 8 + STARTUP


def test_truncated_json_every_time_names_the_kind(
    proxy: FaultProxy, kubeconfig: Path, scene: str, baseline: Run
) -> None:
    proxy.add(Fault(pods(scene), "truncate"))
    run = check(kubeconfig, scene)
    _only_pod_checks_skipped(run, "invalid or truncated JSON for pods")


def test_stalled_list_times_out_within_the_deadline(
    proxy: FaultProxy, kubeconfig: Path, scene: str, baseline: Run
) -> None:
    proxy.add(Fault(pods(scene), "stall"))
    run = check(kubeconfig, scene, timeout=2)
    _only_pod_checks_skipped(run, "timed out after 2s")
    assert run.seconds < 2 * 4 + STARTUP


def test_trickling_response_times_out_within_the_deadline(
    proxy: FaultProxy, kubeconfig: Path, scene: str, baseline: Run
) -> None:
    # One byte every 0.2 s never trips a socket read timeout; only a clock does.
    proxy.add(Fault(pods(scene), "drip", interval=0.2))
    run = check(kubeconfig, scene, timeout=2)
    _only_pod_checks_skipped(run, "timed out after 2s")
    assert run.seconds < 2 * 4 + STARTUP


def test_stalled_server_is_one_line_within_the_deadline(
    proxy: FaultProxy, kubeconfig: Path, scene: str
) -> None:
    proxy.add(Fault("/", "stall"))
    run = check(kubeconfig, scene, timeout=2)
    assert run.rc == 3
    line = run.one_line()
    assert f"cannot reach the API server {proxy.url}" in line and "timed out" in line
    assert run.seconds < 2 * 4 + STARTUP


# -- permissions ------------------------------------------------------------------------------


def test_forbidden_kind_skips_only_the_checks_that_need_it(
    proxy: FaultProxy, kubeconfig: Path, scene: str, baseline: Run
) -> None:
    proxy.add(Fault(pods(scene), "status", 403))
    run = check(kubeconfig, scene)
    _only_pod_checks_skipped(run, f"forbidden to list pods in namespace {scene}")
    assert proxy.count(pods(scene)) == 1  # a 403 is an answer, not a glitch: no retry
    _, findings = run.report()
    assert findings == [f for f in baseline.report()[1] if f[0] != "service-endpoints"]


def test_forbidden_kinds_without_other_findings_exit_0(
    proxy: FaultProxy, kubeconfig: Path, scene: str, baseline: Run
) -> None:
    proxy.add(Fault(pods(scene), "status", 403), Fault(secrets(scene), "status", 403))
    run = check(kubeconfig, scene)
    assert run.status("secrets") == (
        "skipped",
        f"forbidden to list secrets in namespace {scene}; "
        "grant list on it (see 'logos-doctor rbac')",
    )
    assert run.doc["findings"] == []
    assert run.rc == 0


def test_everything_forbidden_exits_3(
    proxy: FaultProxy, kubeconfig: Path, scene: str, baseline: Run
) -> None:
    proxy.add(Fault("/api", "status", 403))  # /api/v1/... and /apis/...; /version still works
    run = check(kubeconfig, scene)
    assert {c["status"] for c in run.doc["checks"]} == {"skipped"}
    assert all("forbidden to list" in c["detail"] for c in run.doc["checks"])
    assert run.rc == 3


@pytest.mark.parametrize("where", ["/", "pods"], ids=["at-start", "mid-run"])
def test_rejected_credentials_are_one_line_naming_the_context(
    proxy: FaultProxy, kubeconfig: Path, scene: str, where: str
) -> None:
    proxy.add(Fault(pods(scene) if where == "pods" else where, "status", 401))
    run = check(kubeconfig, scene)
    assert run.rc == 3
    line = run.one_line()
    assert "rejected the credentials of context faultproxy" in line
    assert "401" in line


# -- pagination -------------------------------------------------------------------------------


@pytest.fixture
def paged(api: Any, namespace: str, tmp_path: Path) -> tuple[str, Path]:
    """Seven Secrets, listed two per page (four pages), each required by the config."""
    core = client.CoreV1Api(api)
    names = [f"paged-{i}" for i in range(7)]
    for name in names:
        core.create_namespaced_secret(
            namespace, {"metadata": {"name": name}, "stringData": {"k": "v"}}
        )
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"secrets": [{"name": n, "keys": ["k"]} for n in names]}))
    return namespace, config


def test_gone_continue_token_restarts_the_list_once(
    proxy: FaultProxy, kubeconfig: Path, paged: tuple[str, Path]
) -> None:
    ns, config = paged
    args = ("--config", str(config), "--page-size", "2")
    clean = check(kubeconfig, ns, *args, checks=("secrets",))
    assert clean.status("secrets") == ("ok", "0 finding(s)")
    pages = proxy.count(secrets(ns))
    assert pages == 4
    proxy.clear()

    proxy.add(Fault(secrets(ns), "status", 410, times=1, query="continue="))
    run = check(kubeconfig, ns, *args, checks=("secrets",))
    assert run.status("secrets") == ("ok", "0 finding(s)")  # all seven seen, none twice
    assert run.rc == 0
    seen = [
        (r.query.find("continue=") >= 0, r.fault) for r in proxy.requests if r.path == secrets(ns)
    ]
    # page 1, page 2 -> 410, then the whole list again from page 1
    assert seen == [
        (False, None),
        (True, "status 410"),
        (False, None),
        (True, None),
        (True, None),
        (True, None),
    ]


def test_gone_again_after_the_restart_gives_up_on_that_kind(
    proxy: FaultProxy, kubeconfig: Path, paged: tuple[str, Path]
) -> None:
    ns, config = paged
    proxy.add(Fault(secrets(ns), "status", 410, query="continue="))
    run = check(kubeconfig, ns, "--config", str(config), "--page-size", "2", checks=("secrets",))
    status, detail = run.status("secrets")
    assert status == "skipped"
    assert f"listing secrets in namespace {ns} kept expiring (410 Gone)" in detail
    assert proxy.count(secrets(ns), query="continue=") == 2
    assert proxy.count(secrets(ns)) == 4  # two starts, one restart only
    assert run.rc == 3  # the only check selected was skipped


# -- no usable server at all ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_connection_is_one_line(proxy: FaultProxy, tmp_path: Path) -> None:
    server = f"https://127.0.0.1:{_free_port()}"
    kc = proxy.kubeconfig(tmp_path / "kc", server=server)
    run = check(kc, "default", timeout=5)
    assert run.rc == 3
    assert f"cannot connect to the API server {server}: connection refused" in run.one_line()
    assert run.seconds < 5 + STARTUP


def test_unresolvable_host_is_one_line(proxy: FaultProxy, tmp_path: Path) -> None:
    server = "https://api.logos-doctor-faults.invalid:6443"
    kc = proxy.kubeconfig(tmp_path / "kc", server=server)
    run = check(kc, "default", timeout=5)
    assert run.rc == 3
    assert f"cannot resolve the API server host of {server}" in run.one_line()
    assert run.seconds < 5 + STARTUP


def test_wrong_ca_is_one_line(proxy: FaultProxy, cluster: Any, tmp_path: Path) -> None:
    # The real API server, but trusting the proxy's CA instead of the cluster's.
    real = yaml.safe_load(Path(cluster.kubeconfig).read_text())["clusters"][0]["cluster"]
    kc = proxy.kubeconfig(tmp_path / "kc", server=real["server"])
    run = check(kc, "default", timeout=5)
    assert run.rc == 3
    assert f"TLS verification failed for {real['server']}" in run.one_line()
    assert run.seconds < 5 + STARTUP


def test_server_that_never_speaks_tls_is_one_line(proxy: FaultProxy, tmp_path: Path) -> None:
    # TCP connects (the kernel accepts into the backlog), the TLS handshake never answers.
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        server = f"https://127.0.0.1:{listener.getsockname()[1]}"
        kc = proxy.kubeconfig(tmp_path / "kc", server=server)
        run = check(kc, "default", timeout=2)
    finally:
        stop.set()
        thread.join()
        for s in held:
            s.close()
        listener.close()
    assert run.rc == 3
    line = run.one_line()
    assert f"cannot reach the API server {server}" in line and "timed out" in line
    assert run.seconds < 2 * 4 + STARTUP
