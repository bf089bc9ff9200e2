"""Where a live ``check --all -A`` run's memory goes: RSS after each phase, in one process.

The phases of ``check``, run as it runs them (state frozen, collector off after the fetch):
the CLI's imports, the connection (which imports the ``kubernetes`` client), the fetch
(decoded state and index; the peak includes the pages in flight), the checks, and the
``-o json`` report and its text.  RSS from ``/proc/self/statm``, peak from ``getrusage``.

  .venv/bin/python bench/live_memory.py --kubeconfig /tmp/logos-bench-cluster/kubeconfig
"""

from __future__ import annotations

import argparse
import gc
import json
import resource


def _rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    """Run one live check phase by phase and print the RSS after each."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", required=True)
    args = ap.parse_args()
    phases = [("python", _rss_mib(), _peak_mib())]
    import logos_doctor.cli  # noqa: F401  (what the command imports before it connects)

    phases.append(("cli imports", _rss_mib(), _peak_mib()))
    from logos_doctor.cluster.collect import needed_kinds
    from logos_doctor.cluster.connection import connect
    from logos_doctor.cluster.fetch import Fetcher, FetchOptions
    from logos_doctor.config import Config
    from logos_doctor.registry import default_registry
    from logos_doctor.render import json_out
    from logos_doctor.runner import run_checks
    from logos_doctor.state import Scope

    checks, config = list(default_registry()), Config()
    conn = connect(args.kubeconfig, None)
    phases.append(("connected (kubernetes client imported)", _rss_mib(), _peak_mib()))
    try:
        state = Fetcher(conn, FetchOptions(freeze=True, lean=True)).fetch(
            needed_kinds(checks), Scope(None)
        )
    finally:
        conn.close()
    phases.append(("fetched and indexed", _rss_mib(), _peak_mib()))
    gc.disable()
    report = run_checks(state, checks, config)
    phases.append(("checked", _rss_mib(), _peak_mib()))
    text = json_out.dumps(json_out.report_json(report, config))
    phases.append(("-o json text made", _rss_mib(), _peak_mib()))
    print(
        json.dumps(
            {
                "objects": sum(len(v) for v in state.objects.values()),
                "findings": len(report.findings),
                "output_mib": round(len(text) / 2**20, 1),
                "rss_mib": [(name, round(rss, 1), round(peak, 1)) for name, rss, peak in phases],
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
