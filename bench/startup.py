"""Start-up: how long ``check --snapshot`` on the shipped example takes, and what it imports.

Issue 19 asks for ``check --snapshot`` on the example under 0.3 s, and for the kubernetes
client to be imported only where a kubeconfig or credentials are needed.  The example is
small (a few hundred objects), so nearly all of such a run is the interpreter starting and
modules being imported: this script separates the two.  Per repetition, in rotated order:

- ``python``       the interpreter alone (``-c pass``, site and the venv's path hooks):
                   the part no change of ours can remove;
- ``import``       ``import logos_doctor.cli.app``, the group every command goes through;
- ``check``        ``logos-doctor check --all --snapshot examples/broken-logos.json.gz``
                   (table output, piped), the README's first diagnosis;
- ``check-json``   the same with ``-o json``.

Each is timed as a process (wall, user+system CPU and peak RSS through GNU time).  One
``-X importtime`` run of ``check`` lists the costliest imports and whether ``kubernetes`` or
``urllib3`` was imported at all.  Results go to ``bench/results/<date>-startup.json``; the
reading is in docs/performance.md.  On a shared machine trust the CPU figures over the wall.

Usage: .venv/bin/python bench/startup.py [--reps 15]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import offline  # bench/ is this script's directory, so first on sys.path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DOCTOR = str(Path(PY).with_name("logos-doctor"))
EXAMPLE = str(ROOT / "examples" / "broken-logos.json.gz")
COMMANDS: dict[str, list[str]] = {
    "python": [PY, "-c", "pass"],
    "import": [PY, "-c", "import logos_doctor.cli.app"],
    "check": [DOCTOR, "check", "--all", "--snapshot", EXAMPLE],
    "check-json": [DOCTOR, "check", "--all", "--snapshot", EXAMPLE, "-o", "json"],
}


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """``offline.timed`` run from the repository's root (wall s, CPU s, peak RSS KiB)."""
    return offline.timed(cmd, cwd=ROOT)


def imports(cmd: list[str]) -> dict[str, Any]:
    """The costliest imports (cumulative microseconds) of one ``-X importtime`` run."""
    proc = subprocess.run(
        [PY, "-X", "importtime", "-m", "logos_doctor", *cmd[1:]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    rows: list[tuple[int, int, str]] = []  # own us, cumulative us, name as indented
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line[len("import time:") :].split("|")
        rows.append((int(own), int(cumulative), name.rstrip()[1:]))  # one space after "|"
    # A name with no indentation was imported by the program itself, not by another module.
    roots = sorted(((c, n) for _, c, n in rows if not n.startswith(" ")), reverse=True)
    loaded = {n.strip().split(".")[0] for _, _, n in rows}
    return {
        "modules": len(rows),
        "total_ms": round(sum(own for own, _, _ in rows) / 1000, 1),
        "top_level_ms": [(name, round(c / 1000, 1)) for c, name in roots[:12]],
        "kubernetes_imported": "kubernetes" in loaded,
        "urllib3_imported": "urllib3" in loaded,
    }


def main() -> None:
    """Time the four processes, read the imports once, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in COMMANDS}
    for name in COMMANDS:  # warm the page cache and the bytecode once
        timed(COMMANDS[name])
    names = list(COMMANDS)
    for rep in range(args.reps):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            runs[name].append(timed(COMMANDS[name]))
    table = {
        name: {
            "wall_s": round(statistics.median(w for w, _, _ in rs), 3),
            "wall_min_s": round(min(w for w, _, _ in rs), 3),
            "cpu_s": round(statistics.median(c for _, c, _ in rs), 3),
            "cpu_min_s": round(min(c for _, c, _ in rs), 3),
            "rss_mib": round(statistics.median(r for _, _, r in rs) / 1024, 1),
        }
        for name, rs in runs.items()
    }
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "load_average": os.getloadavg(),
        "reps": args.reps,
        "medians": table,
        "imports_of_check": imports(COMMANDS["check"]),
    }
    out = ROOT / "bench" / "results" / f"{datetime.now(UTC):%Y-%m-%d}-startup.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    for name, row in table.items():
        print(
            f"{name:11} wall {row['wall_s']:.3f} s (min {row['wall_min_s']:.3f})"
            f"  CPU {row['cpu_s']:.3f} s (min {row['cpu_min_s']:.3f})  {row['rss_mib']} MiB"
        )
    print(json.dumps(result["imports_of_check"], indent=1))
    print(f"written to {out.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
