"""Compare, cycle by cycle, the findings of serve's watch-fed state with a fresh fetch's.

The integration test ``tests/integration/test_serve_watch.py`` does this on the test cluster
through real changes; this script does it on the seeded benchmark cluster (``-A``, every
check), where kwok's node heartbeats and the controllers keep changing objects.  Each cycle
takes the watch cache's state, then a fresh fetch (what ``check`` lists), then the cache's
state again, and records whether the fetch's findings equal either of the two (times and
other digits in texts blanked), with the LISTs each side made.  Each state is checked at its
own time, as a run would be; ``identical_same_clock`` checks the two cache states again at the
fetch's time, so that only the objects differ (a check may word or group findings by age,
e.g. "3m ago").  Writes
``bench/results/<date>-serve-watch-compare.json``; it does not assert.

Usage (the benchmark cluster up and seeded, see bench/run.py):
  .venv/bin/python bench/serve_watch_compare.py --kubeconfig KUBECONFIG --cycles 5
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from logos_doctor.cluster.collect import needed_kinds
from logos_doctor.cluster.connection import connect
from logos_doctor.cluster.fetch import Fetcher
from logos_doctor.cluster.watchcache import WatchCache
from logos_doctor.config import Config
from logos_doctor.registry import default_registry
from logos_doctor.runner import run_checks
from logos_doctor.serve import fetch_options
from logos_doctor.state import ClusterState, Scope

HERE = Path(__file__).resolve().parent


def cpu() -> float:
    """This process's user + system CPU seconds."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def findings(state: ClusterState, checks: list[Any], config: Config) -> list[tuple[str, ...]]:
    """The findings, digits in texts blanked (ages and times differ between two reads)."""
    report = run_checks(state, checks, config)
    return sorted(
        (f.check, f.cause, str(f.severity), repr(f.resource), re.sub(r"\d+", "#", f.message))
        for f in report.findings
    )


def main() -> int:
    """Run the comparison and write the results file."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    checks = list(default_registry())
    kinds = needed_kinds(checks)
    config = Config()
    conn = connect(args.kubeconfig, None, pool_size=64)
    options = fetch_options(60)
    cache = WatchCache(conn, kinds, Scope(None), options)
    fetcher = Fetcher(conn, options)
    rows: list[dict[str, Any]] = []
    try:
        t0, c0 = time.monotonic(), cpu()
        cache.state()
        first = {"wall_s": round(time.monotonic() - t0, 2), "cpu_s": round(cpu() - c0, 2)}
        for n in range(1, args.cycles + 1):
            lists, pages = cache.counts.lists, cache.stats.requests
            c0 = cpu()
            first_state = cache.state()
            before = findings(first_state, checks, config)
            cache_cpu = cpu() - c0
            fetched_pages = fetcher.stats.requests
            c0 = cpu()
            fresh_state = fetcher.fetch(kinds, Scope(None))
            fresh = findings(fresh_state, checks, config)
            fetch_cpu = cpu() - c0
            last_state = cache.state()
            after = findings(last_state, checks, config)
            at = fresh_state.now
            same_clock = [
                findings(replace(s, now=at), checks, config) for s in (first_state, last_state)
            ]
            del first_state, fresh_state, last_state
            row: dict[str, Any] = {
                "cycle": n,
                "findings": len(fresh),
                "identical": fresh in (before, after),
                "identical_same_clock": fresh in same_clock,
                "cache_lists": cache.counts.lists - lists,
                "cache_pages": cache.stats.requests - pages,
                "fetch_requests": fetcher.stats.requests - fetched_pages,
                "cache_cycle_cpu_s": round(cache_cpu, 2),
                "fetch_cycle_cpu_s": round(fetch_cpu, 2),
                "watch_events_so_far": cache.counts.events,
            }
            if not row["identical"]:
                row["only_fresh"] = sorted(set(fresh) - set(after))[:10]
                row["only_cache"] = sorted(set(after) - set(fresh))[:10]
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        cache.close()
        conn.close()
    out = args.out or HERE / "results" / f"{datetime.now():%Y-%m-%d}-serve-watch-compare.json"
    report = {
        "started": datetime.now().isoformat(timespec="seconds"),
        "args": vars(args) | {"out": str(out)},
        "first_sync": first,
        "cycles": rows,
    }
    out.write_text(json.dumps(report, indent=1, default=str))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
