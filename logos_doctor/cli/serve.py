"""``serve``: the Prometheus exporter (checks on a schedule, ``/metrics`` and ``/healthz``)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

import click

from logos_doctor.cli.app import cli
from logos_doctor.cli.options import (
    ClusterOptions,
    cluster_options,
    examples,
    registry_with_warnings,
)
from logos_doctor.cluster.collect import needed_kinds, resolve_scope
from logos_doctor.cluster.connection import connect
from logos_doctor.cluster.fetch import Fetcher, places
from logos_doctor.cluster.kinds import KINDS
from logos_doctor.cluster.watchcache import WatchCache
from logos_doctor.errors import DoctorError
from logos_doctor.known import load_known
from logos_doctor.serve import Exporter, fetch_options, http_server, metrics_registry, wsgi_app
from logos_doctor.silencer import Silencer

log = logging.getLogger("logos_doctor.serve")

# How long a run in progress may finish after SIGTERM before the process exits anyway; well
# inside Kubernetes' default 30 s grace period.
SHUTDOWN_GRACE = 5.0


@cli.command(
    "serve",
    epilog=examples(
        "logos-doctor serve -n logos                       :9400/metrics on localhost",
        "logos-doctor serve --address 0.0.0.0 --interval 30",
        "logos-doctor serve pvc-pending storage-class --context prod",
        "logos-doctor serve --ignore-file /etc/logos-doctor/ignore.yaml",
    ),
)
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
    "--relist",
    is_flag=True,
    help="List every kind each run instead of keeping them current with watches "
    "(for a role without the watch verb, or to compare).",
)
@click.option(
    "--ignore-file",
    metavar="FILE",
    help="Known findings to silence, as check does (default: ./.logos-doctor-ignore.yaml "
    "if present); read again when it changes.",
)
@cluster_options(checks=True)
@click.pass_context
def serve_cmd(
    ctx: click.Context,
    interval: float,
    port: int,
    address: str,
    relist: bool,
    ignore_file: str | None,
    cluster: ClusterOptions,
) -> None:
    """Run the checks every --interval seconds and export the findings for Prometheus.

    \b
    /metrics  logos_doctor_findings{check,cause,severity,namespace} and run/check health
    /healthz  200 while runs keep finishing, 503 when the schedule is stuck
              (or a watch has been down that long)
    Each kind is listed once, then followed with watches (--relist: listed each run).
    A run that fails keeps the previous values and counts logos_doctor_run_errors_total.
    """
    debug = bool((ctx.obj or {}).get("debug"))
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    config = cluster.load_config()
    ignore = load_known(ignore_file)  # a bad file is one error line before anything starts
    silencer = Silencer(ignore) if ignore is not None else None
    registry = registry_with_warnings()
    chosen = cluster.select(registry)
    scope = resolve_scope(cluster.namespace, cluster.all_namespaces, config)
    options = fetch_options(cluster.timeout)
    kinds = needed_kinds(chosen)
    # Each watch holds a pooled connection for as long as it runs: room for all of them
    # and for the LISTs, or urllib3 would open and drop extra connections.
    watches = 0 if relist else sum(len(places(KINDS[k], scope)) for k in kinds)
    conn = connect(cluster.kubeconfig, cluster.one_context("serve"), pool_size=8 + watches)
    cache = None if relist else WatchCache(conn, kinds, scope, options)
    exporter = Exporter(
        Fetcher(conn, options), chosen, config, scope, interval, cache=cache, silencer=silencer
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
        "listening on http://%s:%d/metrics; checking %s of %s every %gs, %s (%s)",
        address,
        httpd.server_port,
        scope.describe(),
        conn.context or conn.server,
        interval,
        "listing each run" if relist else f"kept current by {watches} watches",
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
        if cache is not None:
            cache.close()
        conn.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
