"""``serve``: the Prometheus exporter (checks on a schedule, ``/metrics`` and ``/healthz``)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from logos_doctor.cli.app import cli, cluster_options, config_options, scope_options
from logos_doctor.cli.check import registry_with_warnings
from logos_doctor.cli.completion import complete_check_ids
from logos_doctor.cli.rbac import split_ids
from logos_doctor.cluster.collect import resolve_scope
from logos_doctor.cluster.connection import connect
from logos_doctor.cluster.fetch import Fetcher
from logos_doctor.config import load_config
from logos_doctor.errors import DoctorError, UsageError
from logos_doctor.serve import Exporter, fetch_options, http_server, metrics_registry, wsgi_app

log = logging.getLogger("logos_doctor.serve")

# How long a run in progress may finish after SIGTERM before the process exits anyway; well
# inside Kubernetes' default 30 s grace period.
SHUTDOWN_GRACE = 5.0


@cli.command("serve")
@click.option(
    "--interval",
    type=click.FloatRange(1, 86400),
    default=60.0,
    show_default=True,
    help="Seconds between the starts of two runs.",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=9400, show_default=True, help="0: any."
)
@click.option("--address", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--checks",
    "check_ids",
    multiple=True,
    metavar="ID,...",
    shell_complete=complete_check_ids,
    help="Only these checks (comma-separated or repeated; default: all).",
)
@scope_options
@cluster_options
@config_options
@click.pass_context
def serve_cmd(
    ctx: click.Context,
    interval: float,
    port: int,
    address: str,
    check_ids: tuple[str, ...],
    namespace: str | None,
    all_namespaces: bool,
    kubeconfig: str | None,
    contexts: tuple[str, ...],
    timeout: float,
    config_path: str | None,
    values_path: str | None,
) -> None:
    """Run the checks every --interval seconds and export the findings for Prometheus.

    \b
    /metrics  logos_doctor_findings{check,cause,severity,namespace} and run/check health
    /healthz  200 while runs keep finishing, 503 when the schedule is stuck
    A run that fails keeps the previous values and counts logos_doctor_run_errors_total.
    """
    debug = bool((ctx.obj or {}).get("debug"))
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    if len(contexts) > 1:
        raise UsageError("serve watches one cluster: give --context once", "run one per cluster")
    config = load_config(
        Path(config_path) if config_path else None, Path(values_path) if values_path else None
    )
    registry = registry_with_warnings()
    ids = split_ids(check_ids)
    chosen = registry.select(ids) if ids else list(registry)
    scope = resolve_scope(namespace, all_namespaces, config)
    conn = connect(kubeconfig, contexts[0] if contexts else None)
    exporter = Exporter(
        Fetcher(conn, fetch_options(timeout)),
        chosen,
        config,
        scope,
        interval,
    )
    try:
        httpd = http_server(address, port, wsgi_app(exporter, metrics_registry(exporter)))
    except OSError as exc:
        conn.close()
        raise DoctorError(
            f"cannot listen on {address}:{port}: {exc.strerror or exc}",
            "choose another --port or --address",
        ) from None

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    threading.Thread(target=httpd.serve_forever, args=(0.5,), name="http", daemon=True).start()
    log.info(
        "listening on http://%s:%d/metrics; checking %s of %s every %gs (%s)",
        address,
        httpd.server_port,
        scope.describe(),
        conn.context or conn.server,
        interval,
        ", ".join(c.id for c in chosen),
    )
    runner = threading.Thread(target=exporter.run_forever, args=(stop,), name="runs", daemon=True)
    runner.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        log.info("shutting down")
        stop.set()
        httpd.shutdown()
        httpd.server_close()
        runner.join(SHUTDOWN_GRACE)
        conn.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
