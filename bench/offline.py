"""The offline benchmark: ``check --all -A --snapshot FILE -o json`` against ``json.load``.

For each snapshot file (make them with ``bench/envelope.py``), in alternating turns:

(a) floor         a fresh Python process that only ``json.load``-s the file;
(b) logos-doctor  ``check --all -A --snapshot FILE -o json`` (output to /dev/null), the
                  ``logos-doctor`` next to this Python;

each a process timed from spawn to exit, peak RSS from GNU time (``%M``).  Then, in one
more process, the phase split of the same work (``phases``): read and ``json.loads``, the
schema pass and secret stripping (``validate``), ``ClusterState`` (``index``), the checks
and linking (``checks``), building the JSON report (``report``) and encoding it (``encode``),
the last three with the cyclic collector off, as ``check --snapshot`` runs them.

  .venv/bin/python bench/offline.py /tmp/snap-92k.json --reps 3 --out bench/results/X.json
  .venv/bin/python bench/offline.py phases /tmp/snap-92k.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trees import parse_trees  # bench/trees.py, beside this script

HERE = Path(__file__).resolve().parent
PY = sys.executable
DOCTOR = str(Path(PY).with_name("logos-doctor"))


def timed(
    cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds (user + system), peak RSS KiB) of one process (exit status
    0 or 1: 1 means findings)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        start = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M %U %S", "-o", tf.name, *cmd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        wall = time.perf_counter() - start
        rss, user, system = Path(tf.name).read_text().split()[-3:]
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return wall, float(user) + float(system), int(rss)


def phases(path: str) -> dict[str, Any]:
    """The CPU-time split of one run of the same work, in this process (``process_time``:
    on a shared machine, wall time says more about the neighbours than about the code)."""
    clock = time.process_time
    t0 = clock()
    from logos_doctor.cluster import snapshot as snapshots
    from logos_doctor.config import load_config
    from logos_doctor.registry import default_registry
    from logos_doctor.render import json_out
    from logos_doctor.runner import run_checks
    from logos_doctor.state import ClusterState

    try:  # as check --snapshot runs: the collector off from the load to the output
        from logos_doctor.cli.check import _collector_paused as paused
    except ImportError:  # a tree from before that
        paused = None

    registry = default_registry()
    config = load_config(None, None)
    t_import = clock()
    spent = {"parse": 0.0, "index": 0.0}

    depth = {"parse": 0, "index": 0}

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth[name] += 1  # a decoder calling another one is counted once
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                depth[name] -= 1
                if not depth[name]:
                    spent[name] += clock() - start

        return wrapper

    # parse = building the objects from the text: json.loads of the whole file (trees before
    # the streamed load), or snapshot_text's cutting and building, item by item (after it).
    patches: list[tuple[Any, str, Any]] = [(json, "loads", json.loads)]
    try:
        from logos_doctor.cluster import snapshot_text
    except ImportError:
        snapshot_text = None
    if snapshot_text is not None:
        patches += [
            (snapshot_text, name, getattr(snapshot_text, name))
            for name in ("document", "fields", "elements", "value")
            if hasattr(snapshot_text, name)  # document: the one-pass cut, since 2026-12-05
        ]
        patches.append((snapshot_text.SameText, "item", snapshot_text.SameText.item))
    for owner, name, fn in patches:
        setattr(owner, name, timed("parse", fn))
    build = ClusterState.build
    ClusterState.build = timed("index", build)  # type: ignore[method-assign]
    try:
        state = snapshots.load(Path(path), freeze=True)  # as check --snapshot does
    except TypeError:  # a tree from before load() took freeze=
        state = snapshots.load(Path(path))
    for owner, name, fn in patches:
        setattr(owner, name, fn)
    ClusterState.build = build  # type: ignore[method-assign]
    t_load = clock()
    pausing: Any = contextlib.nullcontext()
    if paused is not None:
        try:
            pausing = paused()
        except TypeError:  # a tree whose pause took offline= (before live runs had it too)
            pausing = paused(True)
    with pausing:
        report = run_checks(state, list(registry), config)
        t_checks = clock()
        data = json_out.report_json(report, config)
        t_report = clock()
        try:  # the pieces check writes as they are (trees from before them: one string)
            from logos_doctor.render.json_text import json_pieces

            size = sum(len(piece) for piece in json_pieces(data))
        except ImportError:
            dumps = getattr(json_out, "dumps", None)
            size = len(dumps(data) if dumps else json.dumps(data, indent=2))
        t_encode = clock()
    return {
        "objects": sum(len(v) for v in state.objects.values()),
        "findings": len(report.findings),
        "output_bytes": size,
        "cpu_seconds": {
            "import": round(t_import - t0, 3),
            "parse": round(spent["parse"], 3),
            "validate": round(t_load - t_import - spent["parse"] - spent["index"], 3),
            "index": round(spent["index"], 3),
            "checks": round(t_checks - t_load, 3),
            "report": round(t_report - t_checks, 3),
            "encode": round(t_encode - t_report, 3),
        },
        "checks": sorted(
            ((r.id, round(r.seconds, 3)) for r in report.results), key=lambda x: -x[1]
        )[:8],
    }


def run(files: list[str], reps: int, trees: dict[str, str | None]) -> list[dict[str, Any]]:
    """Alternating turns of the floor and of logos-doctor from each tree, on each file."""
    rows = []
    for path in files:
        cmds: dict[str, tuple[list[str], dict[str, str] | None]] = {
            "floor": ([PY, "-c", "import json,sys; json.load(open(sys.argv[1], 'rb'))", path], None)
        }
        for label, tree in trees.items():
            env = dict(os.environ, PYTHONPATH=tree) if tree else None
            # A tree's own entry (python -m), as bench/run.py: the installed command's may
            # be named differently in another tree.  -P: not the working directory's package
            # before PYTHONPATH's (-m puts the directory first).
            exe = [PY, "-P", "-m", "logos_doctor"] if tree else [DOCTOR]
            cmds[label] = ([*exe, "check", "--all", "-A", "--snapshot", path, "-o", "json"], env)
        runs: dict[str, list[tuple[float, float, int]]] = {t: [] for t in cmds}
        for rep in range(reps):
            order = list(cmds)
            order = order[rep % len(order) :] + order[: rep % len(order)]
            for tool in order:
                cmd, env = cmds[tool]
                runs[tool].append(timed(cmd, env))
                wall, cpu, rss = runs[tool][-1]
                print(
                    f"{Path(path).name} {tool} {wall:.2f} s wall {cpu:.2f} s CPU {rss // 1024} MiB",
                    file=sys.stderr,
                )
        row: dict[str, Any] = {"file": path, "bytes": os.path.getsize(path), "tools": {}}
        for tool, results in runs.items():
            row["tools"][tool] = {
                "best_wall_s": round(min(w for w, _, _ in results), 3),
                "median_wall_s": round(statistics.median(w for w, _, _ in results), 3),
                "best_cpu_s": round(min(c for _, c, _ in results), 3),
                "peak_rss_mib": round(max(r for _, _, r in results) / 1024),
            }
        for label, tree in trees.items():
            env = dict(os.environ, PYTHONPATH=tree) if tree else None
            split = json.loads(
                subprocess.run(
                    [PY, __file__, "phases", path], check=True, capture_output=True, env=env
                ).stdout
            )
            row["objects"], row["findings"] = split["objects"], split["findings"]
            row["tools"][label]["split_cpu"] = split["cpu_seconds"]
            row["tools"][label]["slowest_checks"] = split["checks"]
            floor = row["tools"]["floor"]
            row["tools"][label]["x_floor_wall"] = round(
                row["tools"][label]["best_wall_s"] / floor["best_wall_s"], 2
            )
            row["tools"][label]["x_floor_cpu"] = round(
                row["tools"][label]["best_cpu_s"] / floor["best_cpu_s"], 2
            )
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    return rows


def main() -> None:
    """Command line: time the files, or print one file's phase split (``phases``)."""
    if len(sys.argv) > 2 and sys.argv[1] == "phases":
        print(json.dumps(phases(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--label", default="", help="what this run measures (before/after...)")
    parser.add_argument("--out", help="write the results here (JSON)")
    parser.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="also time logos-doctor with DIR first on PYTHONPATH (a copy of the package "
        "before a change); without any, the installed one as 'doctor'",
    )
    args = parser.parse_args()
    trees: dict[str, str | None] = {**parse_trees(args.tree)} or {"doctor": None}
    load = os.getloadavg()
    rows = run(args.files, args.reps, trees)
    result = {
        "label": args.label,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_at_start": [round(x, 2) for x in load],
        },
        "reps": args.reps,
        "rows": rows,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    for r in rows:
        for tool, t in r["tools"].items():
            print(
                f"{r['objects']:>9,} objects {r['findings']:>7,} findings {tool:>8}: "
                f"{t['best_wall_s']:.2f} s wall, {t['best_cpu_s']:.2f} s CPU, "
                f"{t['peak_rss_mib']} MiB {t.get('split_cpu', '')}"
            )


if __name__ == "__main__":
    main()
