"""What decoding a LIST costs, and what sharing its values buys: CPU per kind, memory held.

From a snapshot (``logos-doctor snapshot`` of the benchmark cluster, or one made by
``bench/envelope.py``), each kind's objects are cut into pages of ``PAGE_SIZE`` items and
serialised as the API server would send them.  The pages are then decoded one way per mode,
each mode in a process of its own (memory is the process's):

- ``json``: ``json.loads`` of each page, dropped (what the floor of ``bench/run.py`` does);
- ``none``: decoded as a lean fetch decodes (``decode.decode_page``, unread fields dropped,
  Secret values stripped) and kept, nothing shared;
- ``strings``: the same, with equal strings made one object;
- ``shared``: the fetch's own way (``Fetcher._keeper``): equal strings, dicts and lists made
  one, each item compared with the one before it in its LIST; with ``--unshared KIND``
  (repeatable) those kinds are kept as in ``none`` (what leaving them out would trade);
- ``shared-py``: the same with the sharing walk in Python (``share.walk``), where ``shared``
  uses the one in C when it was built (``cluster/_share.c``).

Per mode: CPU seconds per kind (process time, the collector paused as in a fetch) and the
memory the decoded objects hold once the sharing table is gone (RSS above the RSS before).
The snapshot's objects carry no ``managedFields``, so live pages are larger than these and a
live ``json.loads`` slower; ``decode_page`` never builds that field.

  .venv/bin/python bench/decode_cost.py /tmp/snap.json [--unshared events] [--out X.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logos_doctor.cluster import decode, share
from logos_doctor.cluster.decode import Clean, decode_page
from logos_doctor.cluster.fetch import Fetcher, FetchOptions, _clean
from logos_doctor.cluster.heap import map_large_blocks
from logos_doctor.cluster.kinds import KINDS, PAGE_SIZE, Kind
from logos_doctor.objects import Obj
from logos_doctor.unread import drop_unread

# A tree before decode.Before (to compare with) has none.
Before = getattr(decode, "Before", None)
MODES = ("json", "none", "strings", "shared", "shared-py")


def _rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


def _pages(path: Path) -> list[tuple[Kind, bytes]]:
    doc = json.loads(path.read_bytes())
    pages = []
    for plural, items in sorted(doc["objects"].items()):
        if not items or plural not in KINDS:
            continue
        kind = KINDS[plural]
        for i in range(0, len(items), PAGE_SIZE):
            body = {
                "kind": f"{kind.kind}List",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": "1", "continue": "x"},
                "items": items[i : i + PAGE_SIZE],
            }
            pages.append((kind, json.dumps(body, separators=(",", ":")).encode()))
    return pages


def _keeper(
    mode: str, table: dict[Any, Any], unshared: tuple[str, ...] = ()
) -> Callable[[Kind], Clean]:
    """How each kind's items are kept in ``mode`` (a fresh keeper per LIST, as in a fetch)."""
    strings = table if mode == "strings" else None

    def plain(_: Kind) -> Clean:
        def keep(kind: Kind, obj: Obj) -> Obj:
            drop_unread(kind.plural, obj)
            return _clean(kind, obj, strings)

        return keep

    if not mode.startswith("shared"):
        return plain
    share.NATIVE = share.NATIVE if mode == "shared" else None
    fetcher = Fetcher(None, FetchOptions(lean=True))  # type: ignore[arg-type]  # no requests
    fetcher._strings = table
    return lambda kind: plain(kind) if kind.plural in unshared else fetcher._keeper(kind)


def measure(path: Path, mode: str, unshared: tuple[str, ...] = ()) -> dict[str, Any]:
    """One mode, in this process: CPU seconds per kind, and the memory the objects hold."""
    pages = _pages(path)
    gc.collect()
    map_large_blocks()  # as a fetch does (cluster/heap.py)
    before = _rss_mib()
    table: dict[Any, Any] = {}
    keepers = _keeper(mode, table, unshared)
    kept: list[Obj] = []
    cpu: dict[str, float] = {}
    keep: Clean | None = None
    last: Kind | None = None
    prior: Any = None
    gc.disable()
    for kind, body in pages:
        if kind is not last:
            keep, last = keepers(kind), kind
            # As a fetch: a LIST shared like the item before takes equal text from it.
            shared = mode.startswith("shared") and kind.plural not in unshared
            prior = Before() if shared and Before is not None else None
        assert keep is not None
        start = time.process_time()
        if mode == "json":
            json.loads(body)
        else:
            kept.extend(decode_page(kind, body, keep, *([prior] if prior else []))[0])
        cpu[kind.plural] = cpu.get(kind.plural, 0.0) + time.process_time() - start
    del keepers, keep  # and with them the table (a fetch drops it after its last page)
    table = {}
    held = _rss_mib() - before
    gc.enable()
    return {
        "mode": mode + "".join(f" -{k}" for k in unshared if mode.startswith("shared")),
        "walk": ("c" if share.NATIVE else "python") if mode.startswith("shared") else None,
        "cpu_s": round(sum(cpu.values()), 3),
        "held_mib": round(held, 1),
        "objects": len(kept),
        "cpu_s_by_kind": {k: round(v, 3) for k, v in sorted(cpu.items(), key=lambda x: -x[1])},
    }


def main() -> None:
    """Command line: each mode in its own process; print the table, write it with ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("snapshot")
    parser.add_argument("--out")
    parser.add_argument("--unshared", action="append", default=[], metavar="KIND")
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)  # one child's
    args = parser.parse_args()
    unshared = tuple(args.unshared)
    if args.mode:
        print(json.dumps(measure(Path(args.snapshot), args.mode, unshared)))
        return
    rows = []
    for mode in MODES:
        out = subprocess.run(
            [sys.executable, __file__, args.snapshot, "--mode", mode]
            + [f"--unshared={k}" for k in unshared],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows.append(json.loads(out))
    for r in rows:
        top = ", ".join(f"{k} {v:.2f}" for k, v in list(r["cpu_s_by_kind"].items())[:3])
        print(f"{r['mode']:9} {r['cpu_s']:6.2f} s CPU  {r['held_mib']:7.1f} MiB held  ({top})")
    if args.out:
        Path(args.out).write_text(
            json.dumps({"snapshot": args.snapshot, "modes": rows}, indent=1) + "\n"
        )


if __name__ == "__main__":
    main()
