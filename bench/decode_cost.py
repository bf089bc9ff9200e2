"""What decoding a LIST costs, per kind, without a cluster: the pages a fetch would receive.

From a snapshot (e.g. one made by ``bench/envelope.py``), each kind's objects are cut into
pages of ``PAGE_SIZE`` items and serialised as the API server would send them (a
``{"kind": "...List", "metadata": {...}, "items": [...]}`` body).  Each page is then decoded
as ``fetch.Fetcher`` does it: ``json.loads`` of the body (with the cyclic collector paused,
as during a fetch), then ``fetch._clean`` of every item (``managedFields`` dropped, Secret
and ConfigMap values stripped, equal strings shared).  CPU seconds per kind, bytes and
objects; the snapshot's objects carry no ``managedFields`` (the fetch that recorded them
dropped those), so a live page is larger than these by that much.

  .venv/bin/python bench/decode_cost.py /tmp/snap.json [--out bench/results/X.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path
from typing import Any

from logos_doctor.cluster.fetch import _clean
from logos_doctor.cluster.kinds import KINDS, PAGE_SIZE


def measure(path: Path) -> dict[str, Any]:
    """Per kind: objects, pages, bytes, json.loads and clean CPU seconds."""
    doc = json.loads(path.read_bytes())
    rows: dict[str, Any] = {}
    for plural, items in sorted(doc["objects"].items()):
        if not items or plural not in KINDS:
            continue
        kind = KINDS[plural]
        pages = [
            json.dumps(
                {
                    "kind": f"{kind.kind}List",
                    "apiVersion": "v1",
                    "metadata": {"resourceVersion": "1", "continue": "x"},
                    "items": items[i : i + PAGE_SIZE],
                },
                separators=(",", ":"),
            ).encode()
            for i in range(0, len(items), PAGE_SIZE)
        ]
        strings: dict[str, str] = {}
        parse = clean = 0.0
        gc.disable()
        try:
            for body in pages:
                t0 = time.process_time()
                data = json.loads(body)
                t1 = time.process_time()
                data["items"] = [_clean(kind, item, strings) for item in data["items"]]
                t2 = time.process_time()
                parse, clean = parse + t1 - t0, clean + t2 - t1
        finally:
            gc.enable()
        rows[plural] = {
            "objects": len(items),
            "pages": len(pages),
            "bytes": sum(map(len, pages)),
            "parse_cpu_s": round(parse, 3),
            "clean_cpu_s": round(clean, 3),
            "us_per_object": round((parse + clean) / len(items) * 1e6, 1),
        }
    del doc
    return rows


def main() -> None:
    """Command line: print the table, and write it as JSON with ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("snapshot")
    parser.add_argument("--out")
    args = parser.parse_args()
    rows = measure(Path(args.snapshot))
    total = sum(r["parse_cpu_s"] + r["clean_cpu_s"] for r in rows.values())
    for plural, r in sorted(
        rows.items(), key=lambda x: -(x[1]["parse_cpu_s"] + x[1]["clean_cpu_s"])
    ):
        cost = r["parse_cpu_s"] + r["clean_cpu_s"]
        print(
            f"{plural:32} {r['objects']:>8,} objects {r['bytes'] / 2**20:8.1f} MiB  "
            f"parse {r['parse_cpu_s']:6.2f} s  clean {r['clean_cpu_s']:6.2f} s  "
            f"{r['us_per_object']:6.1f} us/object  {100 * cost / total:4.1f}%"
        )
    if args.out:
        Path(args.out).write_text(
            json.dumps({"snapshot": args.snapshot, "kinds": rows}, indent=1) + "\n"
        )


if __name__ == "__main__":
    main()
