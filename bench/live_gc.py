"""What the cyclic collector costs a live ``check`` after the fetch: checks and report, on or off.

A live ``check`` freezes the fetched state; until then it ran the checks and built the report
with the collector on, and each collection walked everything made since the fetch (findings,
the report's small containers).  ``check`` now keeps it off to the output, as ``check
--snapshot`` does.  Whole-process wall times on a shared 2-core machine swing by more than
this part costs, so this script fetches the cluster once, in one process, as ``check --all
-A`` does (state frozen), then runs the checks, the JSON report and its encoding several
times, the collector on and off in alternating turns, and records the CPU time
(``process_time``) of each phase.  A full collection runs between turns, untimed.

  .venv/bin/python bench/live_gc.py --kubeconfig KUBECONFIG --reps 5 --out bench/results/X.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from logos_doctor.cluster.collect import needed_kinds
from logos_doctor.cluster.connection import connect
from logos_doctor.cluster.fetch import Fetcher, FetchOptions
from logos_doctor.config import Config
from logos_doctor.registry import default_registry
from logos_doctor.render import json_out
from logos_doctor.runner import run_checks
from logos_doctor.state import Scope


def turn(state: Any, checks: list[Any], config: Config, collector: bool) -> dict[str, Any]:
    """One run of the checks, the report and its encoding; CPU seconds per phase."""
    gc.collect()
    (gc.enable if collector else gc.disable)()
    clock = time.process_time
    counts = [s["collections"] for s in gc.get_stats()]
    try:
        t0 = clock()
        report = run_checks(state, checks, config)
        t1 = clock()
        data = json_out.report_json(report, config)
        t2 = clock()
        text = json_out.dumps(data)
        t3 = clock()
    finally:
        gc.enable()
    made = [s["collections"] - n for s, n in zip(gc.get_stats(), counts, strict=True)]
    return {
        "collector": collector,
        "checks": round(t1 - t0, 3),
        "report": round(t2 - t1, 3),
        "encode": round(t3 - t2, 3),
        "after_fetch": round(t3 - t0, 3),
        "collections_by_generation": made,
        "findings": len(report.findings),
        "output_bytes": len(text),
        "load1": os.getloadavg()[0],
    }


def main() -> int:
    """Fetch once, then alternate turns with the collector on and off; write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    checks = list(default_registry())
    config = Config()
    conn = connect(args.kubeconfig, None)
    try:
        started = time.process_time()
        state = Fetcher(conn, FetchOptions(freeze=True)).fetch(needed_kinds(checks), Scope(None))
        fetch_cpu = time.process_time() - started
    finally:
        conn.close()
    turns = []
    for rep in range(args.reps):
        for collector in (True, False) if rep % 2 == 0 else (False, True):
            turns.append(turn(state, checks, config, collector))
            print(json.dumps(turns[-1]), flush=True)
    summary = {
        name: {
            phase: statistics.median(t[phase] for t in turns if t["collector"] is on)
            for phase in ("checks", "report", "encode", "after_fetch")
        }
        for name, on in (("collector_on", True), ("collector_off", False))
    }
    result = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "objects": sum(len(v) for v in state.objects.values()),
        "fetch_cpu_s": round(fetch_cpu, 2),
        "median_cpu_s": summary,
        "turns": turns,
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
