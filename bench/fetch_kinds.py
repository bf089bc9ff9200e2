"""The fetch alone, of chosen kinds, from source trees in alternating turns.

A whole ``check --all -A`` lists 15 kinds at once, so the API server always has work queued,
and the run's time is that of its longest LIST.  This times one thing only: ``Fetcher.fetch``
of the kinds given (e.g. ``pods``: 20 pages of 500 at scale 1), from each tree, in a fresh
process per turn, wall and CPU seconds.  Trees as for bench/same_findings.py (a directory
holding a ``logos_doctor`` package with its checks inside).

  .venv/bin/python bench/fetch_kinds.py --kinds pods --reps 7 \\
      --tree before=/tmp/tree-before --tree after=/tmp/tree-after --out bench/results/X.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# One turn, run in a fresh process with the tree first on sys.path.
_TURN = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from logos_doctor.cluster.connection import connect
from logos_doctor.cluster.fetch import Fetcher, FetchOptions
from logos_doctor.state import Scope
conn = connect(sys.argv[2])
fetcher = Fetcher(conn, FetchOptions())
start, cpu = time.perf_counter(), time.process_time()
state = fetcher.fetch(sys.argv[3].split(","), Scope(None))
print(json.dumps({"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                  "objects": sum(len(v) for v in state.objects.values()),
                  "requests": fetcher.stats.requests}))
"""


def main() -> int:
    """Alternate the trees, print and write the medians."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", default="/tmp/logos-bench-cluster/kubeconfig")
    ap.add_argument("--kinds", default="pods", help="comma-separated plurals")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--tree", action="append", required=True, metavar="LABEL=DIR")
    ap.add_argument("--out")
    args = ap.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in trees}
    for rep in range(args.reps):
        for label, tree in trees.items():
            proc = subprocess.run(
                [sys.executable, "-c", _TURN, tree, args.kubeconfig, args.kinds],
                capture_output=True,
                text=True,
                check=True,
            )
            run = json.loads(proc.stdout.strip().splitlines()[-1])
            run["loadavg"] = os.getloadavg()[0]
            runs[label].append(run)
            print(f"rep {rep + 1} {label}: {run['wall']:.2f} s, {run['cpu']:.2f} s CPU")
    summary = {
        label: {
            "median_wall": round(statistics.median(r["wall"] for r in rs), 3),
            "min_wall": round(min(r["wall"] for r in rs), 3),
            "max_wall": round(max(r["wall"] for r in rs), 3),
            "median_cpu": round(statistics.median(r["cpu"] for r in rs), 3),
            "objects": rs[-1]["objects"],
            "requests": rs[-1]["requests"],
        }
        for label, rs in runs.items()
    }
    for label, s in summary.items():
        print(label, s)
    if args.out:
        Path(args.out).write_text(
            json.dumps(
                {
                    "started": datetime.now(UTC).isoformat(timespec="seconds"),
                    "kinds": args.kinds,
                    "trees": trees,
                    "summary": summary,
                    "runs": runs,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
