"""`logos-doctor serve`: the exporter on the real test cluster, through a proxy we can cut.

Scenario: Logos deployed while its StorageClass is missing.  The exporter must show the same
findings as `check`, keep them (and count the errors) while the API server stops answering
or refuses connections, and drop the resolved ones once it can see the cluster again.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from k8scluster.kube import wait_for
from k8scluster.scenarios import cleanup_cluster_scoped
from k8scluster.scenarios.storage import class_name, make_class, storage_class_missing

pytestmark = pytest.mark.integration

PROG = Path(sys.executable).parent / "logos-doctor"
FindingKey = tuple[str, str, str, str]


class TcpProxy:
    """A TCP relay to the API server that can refuse, hang, or pass connections.

    ``refuse()`` closes the listening socket and every open connection (the server is down);
    ``hang()`` keeps accepting but relays nothing (a network black hole); ``start()`` relays.
    """

    def __init__(self) -> None:
        self.target = ("127.0.0.1", 0)
        self.mode = "pass"
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        probe = socket.create_server(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()

    def start(self) -> None:
        self.mode = "pass"
        if self._listener is None:
            self._listener = socket.create_server(("127.0.0.1", self.port))
            self._listener.settimeout(0.1)
            threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def hang(self) -> None:
        self.mode = "hang"
        self._drop_connections()

    def refuse(self) -> None:
        self.mode = "refuse"
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        self._drop_connections()

    def _drop_connections(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.add(client)
            if self.mode == "hang":
                continue  # accepted, never answered
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns.add(upstream)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                if self.mode != "pass":
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def proxied_kubeconfig(original: Path, port: int, out: Path) -> tuple[str, int]:
    """A copy of ``original`` whose server is the proxy; returns the real server address."""
    doc = yaml.safe_load(original.read_text())
    target = None
    for entry in doc["clusters"]:
        url = urlparse(entry["cluster"]["server"])
        target = (url.hostname or "127.0.0.1", url.port or 443)
        entry["cluster"]["server"] = f"https://127.0.0.1:{port}"
    assert target is not None
    out.write_text(yaml.safe_dump(doc))
    return target


def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of /metrics, as name -> sorted labels -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def findings_of(metrics: dict[str, Any]) -> dict[FindingKey, float]:
    out = {}
    for labels, value in metrics.get("logos_doctor_findings", {}).items():
        d = dict(labels)
        out[(d["check"], d["cause"], d["severity"], d["namespace"])] = value
    return out


def scalar(metrics: dict[str, Any], name: str) -> float | None:
    return metrics.get(name, {}).get(())


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def check_json(kubeconfig: Path, namespace: str, config: Path) -> dict[str, Any]:
    result = subprocess.run(
        [
            str(PROG),
            "check",
            "--all",
            "-o",
            "json",
            "-n",
            namespace,
            "--kubeconfig",
            str(kubeconfig),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def counted(report: dict[str, Any]) -> dict[FindingKey, float]:
    return dict(
        Counter(
            (f["check"], f["cause"], f["severity"], f["resource"]["namespace"] or "")
            for f in report["findings"]
        )
    )


@pytest.fixture
def serve_scenario(cluster, api, namespace, tmp_path):
    """The storage-class-missing Logos stack, and a logos-doctor config for it."""
    overrides = storage_class_missing(api, namespace)
    config = tmp_path / "logos-doctor.yaml"
    config.write_text(yaml.safe_dump({**(overrides or {}), "namespace": namespace}))
    yield config
    cleanup_cluster_scoped(api, namespace)


def test_exporter_reflects_findings_keeps_them_through_outages_and_drops_resolved(
    cluster, api, namespace, serve_scenario, tmp_path
):
    config = serve_scenario
    proxy_kubeconfig = tmp_path / "proxied.kubeconfig"
    proxy = TcpProxy()
    proxy.target = proxied_kubeconfig(Path(cluster.kubeconfig), proxy.port, proxy_kubeconfig)
    proxy.start()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                str(PROG),
                "serve",
                "--interval",
                "1",
                "--port",
                "0",
                "--timeout",
                "1",
                "-n",
                namespace,
                "--kubeconfig",
                str(proxy_kubeconfig),
                "--config",
                str(config),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        port = int(
            wait_for(
                lambda: re.search(r"listening on http://127\.0\.0\.1:(\d+)/", log_path.read_text()),
                30,
                "serve to listen",
                describe=log_path.read_text,
            ).group(1)
        )

        # The exporter shows what `check` shows for the same namespace (compared until both
        # have seen the same moment: the scenario's healthy workloads may still be starting).
        seen: dict[str, Any] = {}

        def agree() -> bool:
            seen["check"] = counted(check_json(Path(cluster.kubeconfig), namespace, config))
            seen["exporter"] = findings_of(scrape(port))
            return seen["check"] == seen["exporter"]

        wait_for(agree, 60, "the exporter's findings to match `check`", describe=lambda: str(seen))
        expected = seen["exporter"]
        # The scenario's root causes: the class itself, and both database claims waiting on it.
        roots = {
            ("storage-class", "missing", "critical", ""): 1,
            ("pvc-pending", "storage-class-missing", "critical", namespace): 2,
        }
        assert roots.items() <= expected.items(), expected
        assert healthz(port) == 200

        # Scrapes at the same time all get a whole page.
        with ThreadPoolExecutor(max_workers=16) as pool:
            pages = list(pool.map(lambda _: findings_of(scrape(port)), range(48)))
        assert all(roots.items() <= page.items() for page in pages)

        # The API server stops answering, then refuses connections; meanwhile the problem is
        # fixed, which the exporter cannot see yet.
        first_errors = scalar(scrape(port), "logos_doctor_run_errors_total") or 0.0
        proxy.hang()
        wait_for(
            lambda: (scalar(scrape(port), "logos_doctor_run_errors_total") or 0) > first_errors,
            60,
            "a failed run once the server hangs",
            describe=log_path.read_text,
        )
        before = scrape(port)
        last_success = scalar(before, "logos_doctor_last_success_timestamp_seconds")
        errors = scalar(before, "logos_doctor_run_errors_total") or 0.0
        check_errors = before["logos_doctor_check_errors_total"]
        assert last_success is not None
        kept = findings_of(before)
        assert roots.items() <= kept.items()
        make_class(api, class_name(namespace), namespace)
        for mode in ("hang", "refuse"):
            getattr(proxy, mode)()
            wait_for(
                lambda floor=errors + 2: (
                    (scalar(scrape(port), "logos_doctor_run_errors_total") or 0) >= floor
                ),
                60,
                f"two more failed runs with the proxy in {mode} mode",
                describe=log_path.read_text,
            )
            during = scrape(port)
            errors = scalar(during, "logos_doctor_run_errors_total") or 0.0
            assert findings_of(during) == kept
            assert scalar(during, "logos_doctor_last_success_timestamp_seconds") == last_success
            assert scalar(during, "logos_doctor_last_run_timestamp_seconds") > last_success
            assert during["logos_doctor_check_errors_total"] == check_errors
            assert healthz(port) == 200  # runs still finish: the schedule is alive
            assert proc.poll() is None

        # The server is back: a run succeeds and the resolved finding is gone.
        proxy.start()
        wait_for(
            lambda: (
                (scalar(scrape(port), "logos_doctor_last_success_timestamp_seconds") or 0)
                > last_success
            ),
            30,
            "a successful run after the outage",
            describe=log_path.read_text,
        )
        wait_for(
            lambda: (
                not any(k[:2] == ("storage-class", "missing") for k in findings_of(scrape(port)))
            ),
            30,
            "the storage-class/missing series to disappear",
            describe=lambda: str(findings_of(scrape(port))),
        )
        after = scrape(port)
        assert scalar(after, "logos_doctor_last_run_timestamp_seconds") == scalar(
            after, "logos_doctor_last_success_timestamp_seconds"
        )
        log_text = log_path.read_text()
        assert "run failed:" in log_text and "Traceback" not in log_text

        # SIGTERM: a clean exit, promptly.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert "shutting down" in log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proxy.refuse()


def test_serve_reports_a_busy_port_in_one_line(cluster, tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = subprocess.run(
            [str(PROG), "serve", "--port", str(port), "--kubeconfig", str(cluster.kubeconfig)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
