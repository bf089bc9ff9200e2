"""A real Prometheus for tests, and a stand-in Logos metrics endpoint for it to scrape.

`running_prometheus(tmp_path, scrape_configs)` starts Debian's `prometheus` binary on a free
loopback port with its own data directory, waits on its HTTP API (no sleeps), yields its URL
and stops it afterwards.  Tests skip, saying why, when the binary is not installed
(`apt-get install prometheus`; scripts/test installs it).

`metrics_endpoint(text)` serves `text` as /metrics from a thread (the Prometheus text
exposition format), like a Logos pod would.  `closed_port()` is a loopback port nothing
listens on: a target there is down with Prometheus's real `lastError` ("connection refused").

The job names and target labels the tests use are those the Prometheus Operator generates
for a ServiceMonitor (prometheus-operator pkg/prometheus/promcfg.go: job
`serviceMonitor/<namespace>/<name>/<endpoint index>`, target labels namespace, service, pod,
endpoint), so that the check meets the shapes it meets in production.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import shutil
import socket
import subprocess
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8scluster.kube import wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port() -> int:
    """A port that was free a moment ago and on which nothing listens."""
    return free_port()


@contextlib.contextmanager
def metrics_endpoint(text: str) -> Iterator[int]:
    """Serve `text` at /metrics on a free loopback port; yields the port."""
    body = text.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def api(url: str, path: str, **query: str) -> Any:
    """GET one Prometheus API path; its `data`."""
    target = f"{url}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    with urllib.request.urlopen(target, timeout=5) as response:
        doc = json.load(response)
    assert doc["status"] == "success", doc
    return doc["data"]


@contextlib.contextmanager
def running_prometheus(tmp_path: Path, scrape_configs: list[dict[str, Any]]) -> Iterator[str]:
    """A real Prometheus scraping `scrape_configs` every second; yields its base URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus; scripts/test "
                    "installs it): the monitoring.prometheusUrl path needs a real one")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "scrape_timeout": "800ms"},
        "scrape_configs": scrape_configs,
    }))
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"prometheus exited {proc.returncode}: "
                                 + (tmp_path / "prometheus.log").read_text()[-2000:])
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return bool(response.status == 200)

    try:
        wait_for(ready, 60, "prometheus to be ready")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def wait_scraped(url: str, check: Callable[[list[dict[str, Any]]], bool], what: str) -> None:
    """Wait until Prometheus's active targets satisfy `check` (health known, ...)."""
    wait_for(lambda: check(api(url, "/api/v1/targets", state="active")["activeTargets"]),
             60, what)


def series_of(url: str, metric: str) -> int:
    """How many series of `metric` Prometheus has now."""
    return len(api(url, "/api/v1/query", query=metric)["result"])


def operator_job(namespace: str, servicemonitor: str, index: int,
                 targets: list[tuple[str, dict[str, str]]]) -> dict[str, Any]:
    """A scrape job shaped like the Prometheus Operator's for one ServiceMonitor endpoint."""
    return {
        "job_name": f"serviceMonitor/{namespace}/{servicemonitor}/{index}",
        "static_configs": [{"targets": [address], "labels": labels}
                           for address, labels in targets],
    }

