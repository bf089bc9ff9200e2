"""Soak ``logos-doctor serve -A`` on the seeded benchmark cluster: memory, requests, CPU.

The integration test ``tests/integration/test_serve_load.py`` runs the exporter for a bounded
number of one-second cycles against one namespace of the test cluster.  An exporter deployed
for real watches a large cluster for weeks, where each cycle builds and drops a state of tens
of thousands of objects.  This script runs it against everything the benchmark seeded, with
scrapers hitting ``/metrics`` back to back, and records per cycle: resident memory, open file
descriptors, run duration, errors, API requests (``logos_doctor_api_requests``: LIST pages
and /version) and CPU seconds (user+sys, from /proc) per run.  With ``--mode watch`` (the
default, serve's own) the exporter keeps its state with watches; ``--mode relist`` runs
``serve --relist``, which lists every kind each run.

With ``--compare-every N`` it also runs a fresh ``check --all -A -o prometheus`` every N runs
(a separate process, so its LISTs are not the exporter's) and compares its
``logos_doctor_findings`` series (findings by check, cause, severity and namespace: the
families the exporter shows, written by the same code) with the exporter's ``/metrics`` just
before it and after a run that began once it had ended; identical when they equal either,
as the cluster may change between two reads.

It writes ``bench/results/<date>-serve-soak-<mode>.json`` and prints a summary; it does not
assert (see docs/reliability.md for the reading).

Usage (the benchmark cluster up and seeded, see bench/run.py):
  .venv/bin/python bench/serve_soak.py --cycles 40 --interval 10
  .venv/bin/python bench/serve_soak.py --mode relist --cycles 40 --interval 10
  .venv/bin/python bench/serve_soak.py --cycles 1000 --interval 1 --compare-every 50
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_KUBECONFIG = "/tmp/logos-bench-cluster/kubeconfig"


def log(msg: str) -> None:
    """A progress line on stderr."""
    print(f"soak {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def status_kib(pid: int, field: str) -> int:
    """A KiB field (VmRSS, VmHWM) of /proc/PID/status, or -1."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return -1


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric(text: str, name: str) -> float:
    """The first sample of a metric in a Prometheus text page, or NaN."""
    match = re.search(rf"^{name}(?:\{{[^}}]*\}})? ([0-9.e+-]+)$", text, re.M)
    return float(match.group(1)) if match else float("nan")


FINDING = re.compile(r"^logos_doctor_findings\{(.*)\} ([0-9.e+-]+)$", re.M)


def findings_of(text: str) -> dict[str, float]:
    """The ``logos_doctor_findings`` series of a metrics page: their labels -> findings."""
    return {labels: float(value) for labels, value in FINDING.findall(text)}


def compare(cmd: list[str], kubeconfig: str, get: Any) -> dict[str, Any]:
    """A fresh ``check``'s findings series against the exporter's just before and after."""
    before = findings_of(get())
    started = time.monotonic()
    argv = [*cmd, "check", "--all", "-A", "--kubeconfig", kubeconfig, "-o", "prometheus"]
    done = subprocess.run(
        [*argv, "--fail-on", "never"], capture_output=True, text=True, timeout=600
    )
    took = time.monotonic() - started
    # After: from a run that began once the check had ended (the one under way may not have).
    text = get()
    ran, until = metric(text, "logos_doctor_runs_total"), time.monotonic() + 300
    while metric(text, "logos_doctor_runs_total") < ran + 2 and time.monotonic() < until:
        time.sleep(0.2)
        text = get()
    after = findings_of(text)
    fresh = findings_of(done.stdout)
    row: dict[str, Any] = {
        "identical": bool(fresh) and fresh in (before, after),
        "series": len(fresh),
        "findings": int(sum(fresh.values())),
        "check_exit": done.returncode,
        "check_s": round(took, 2),
    }
    if not row["identical"]:
        differing = set(fresh.items()) ^ set(after.items())
        row["differing_checks"] = sorted(
            {re.sub(r'.*check="([^"]*)".*', r"\1", k) for k, _ in differing}
        )
        row["only_fresh"] = sorted(set(fresh.items()) - set(after.items()))[:10]
        row["only_serve"] = sorted(set(after.items()) - set(fresh.items()))[:10]
        row["check_stderr"] = done.stderr[-500:]
    return row


def main() -> int:
    """Run the soak and write the results file."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", default=DEFAULT_KUBECONFIG)
    ap.add_argument("--cycles", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--scrapers", type=int, default=4)
    ap.add_argument("--mode", choices=("watch", "relist"), default="watch")
    ap.add_argument("--max-minutes", type=float, help="stop after this long, cycles or not")
    ap.add_argument(
        "--compare-every",
        type=int,
        default=0,
        metavar="N",
        help="every N runs, compare the findings with a fresh check's (0: never)",
    )
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    exe = Path(sys.executable).with_name("logos-doctor")
    tool = [str(exe)] if exe.exists() else [sys.executable, "-m", "logos_doctor"]
    cmd = [*tool, "serve", "-A", "--kubeconfig", args.kubeconfig, "--port", "0"]
    cmd += ["--interval", str(args.interval), "--timeout", "60"]
    if args.mode == "relist":
        cmd.append("--relist")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stop = threading.Event()
    failures: list[str] = []
    scrapes = [0]
    samples: list[dict[str, Any]] = []
    compared = [0]  # the last multiple of --compare-every compared at
    started = time.monotonic()
    try:
        assert proc.stderr is not None
        port = None
        while port is None:
            line = proc.stderr.readline()
            if not line:
                raise SystemExit("serve exited before listening")
            found = re.search(rb"listening on http://[^:]+:(\d+)/metrics", line)
            port = int(found.group(1)) if found else None
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}/metrics"

        def get() -> str:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return str(resp.read().decode())

        def scrape() -> None:
            while not stop.is_set():
                try:
                    if "logos_doctor_runs_total" not in get():
                        failures.append("a scrape without logos_doctor_runs_total")
                    scrapes[0] += 1
                except Exception as exc:  # every failure is counted and reported
                    failures.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.05)

        threads = [threading.Thread(target=scrape, daemon=True) for _ in range(args.scrapers)]
        for t in threads:
            t.start()
        seen = -1.0
        total = args.warmup + args.cycles
        deadline = time.monotonic() + total * max(args.interval, 30) + 300
        if args.max_minutes:
            deadline = min(deadline, time.monotonic() + args.max_minutes * 60)
        while True:
            text = get()
            runs = metric(text, "logos_doctor_runs_total")
            if runs != seen:
                requests = metric(text, "logos_doctor_api_requests_total")
                cpu = cpu_seconds(proc.pid)
                previous = samples[-1] if samples else None
                # Per run since the previous sample (a sample may span several runs).
                span = runs - seen if previous else 0
                samples.append(
                    {
                        "run": int(runs),
                        "t": round(time.monotonic() - started, 1),
                        "rss_kib": status_kib(proc.pid, "VmRSS"),
                        "hwm_kib": status_kib(proc.pid, "VmHWM"),
                        "fds": len(os.listdir(f"/proc/{proc.pid}/fd")),
                        "duration_s": metric(text, "logos_doctor_last_run_duration_seconds"),
                        "run_errors": metric(text, "logos_doctor_run_errors_total"),
                        "api_requests": requests,
                        "watch_lists": metric(text, "logos_doctor_watch_lists_total"),
                        "cpu_s": round(cpu, 2),
                        "requests_per_run": round((requests - previous["api_requests"]) / span, 2)
                        if previous and span
                        else None,
                        "cpu_s_per_run": round((cpu - previous["cpu_s"]) / span, 3)
                        if previous and span
                        else None,
                        "load1": os.getloadavg()[0],
                    }
                )
                seen = runs
                log(f"run {int(runs)}: {samples[-1]}")
                due = args.compare_every and runs > args.warmup and runs < total
                if due and int(runs) // args.compare_every > compared[0]:
                    compared[0] = int(runs) // args.compare_every
                    samples[-1]["compare"] = compare(tool, args.kubeconfig, get)
                    log(f"compared at run {int(runs)}: {samples[-1]['compare']}")
            if runs >= total or proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        stop.set()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)

    steady = [s for s in samples if s["run"] > args.warmup]
    rss = [s["rss_kib"] / 1024 for s in steady]
    quarter = max(1, len(rss) // 4)
    per_run = [s["requests_per_run"] for s in steady if s["requests_per_run"] is not None]
    cpu_per_run = [s["cpu_s_per_run"] for s in steady if s["cpu_s_per_run"] is not None]
    summary = {
        "mode": args.mode,
        "cycles_measured": len(steady),
        "api_requests_per_run_median": statistics.median(per_run) if per_run else None,
        "api_requests_per_run_max": max(per_run) if per_run else None,
        "api_requests_first_run": next((s["api_requests"] for s in samples if s["run"] >= 1), None),
        "cpu_s_per_run_median": statistics.median(cpu_per_run) if cpu_per_run else None,
        "load1_median": statistics.median(s["load1"] for s in steady) if steady else None,
        "rss_mib_first_quarter_median": round(statistics.median(rss[:quarter]), 1) if rss else None,
        "rss_mib_last_quarter_median": round(statistics.median(rss[-quarter:]), 1) if rss else None,
        "rss_mib_max": round(max(rss), 1) if rss else None,
        "peak_hwm_mib": round(max(s["hwm_kib"] for s in samples) / 1024, 1) if samples else None,
        "fds_first_last": [steady[0]["fds"], steady[-1]["fds"]] if steady else None,
        "run_seconds_median": statistics.median(s["duration_s"] for s in steady)
        if steady
        else None,
        "run_errors": samples[-1]["run_errors"] if samples else None,
        "scrapes": scrapes[0],
        "scrape_failures": len(failures),
        "first_failures": failures[:5],
        "exit_code": proc.returncode,
    }
    rows = [s["compare"] for s in samples if "compare" in s]
    if rows:
        summary["compared"] = len(rows)
        summary["compared_identical"] = sum(r["identical"] for r in rows)
        summary["compared_findings"] = sorted({r["findings"] for r in rows})
    report: dict[str, Any] = {"started": datetime.now().isoformat(timespec="seconds")}
    report["args"] = vars(args)
    report |= {"summary": summary, "samples": samples}
    stamp = f"{datetime.now():%Y-%m-%d-%H%M%S}-serve-soak-{args.mode}.json"
    out = args.out or HERE / "results" / stamp
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str))
    print(json.dumps(summary, indent=1))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
