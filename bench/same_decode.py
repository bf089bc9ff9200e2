"""Proof that the live decoder leaves the findings alone, on a real cluster's pages.

Lists every kind ``check --all`` reads, all namespaces, once (pages of 500, as a fetch does),
keeps the raw bodies, and builds the state from them twice: the old way (``json.loads``, then
``fetch._clean`` with shared strings) and the fetch's way now (``decode.decode_page``, equal
strings and containers shared like the item before, equal text taken from it).  Both states
get the same clock; every check runs on each, and the ``-o json`` texts (less the checks'
timings) and the objects themselves (types and key order included) must be equal.  The
cluster is read once, so a cluster that changes between two runs (events, heartbeats, ages)
does not blur the comparison.

  .venv/bin/python bench/same_decode.py --kubeconfig KUBECONFIG   # bench/cluster.sh's
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from logos_doctor.cluster.collect import needed_kinds
from logos_doctor.cluster.connection import connect
from logos_doctor.cluster.decode import Before, decode_page
from logos_doctor.cluster.fetch import Fetcher, FetchOptions, _clean
from logos_doctor.cluster.kinds import KINDS, PAGE_SIZE
from logos_doctor.config import Config
from logos_doctor.registry import default_registry
from logos_doctor.render.json_out import render_json
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterInfo, ClusterState, Scope


def pages(kubeconfig: str, plurals: list[str]) -> dict[str, list[bytes]]:
    """The raw LIST pages of each kind (kinds the cluster does not serve: none)."""
    conn = connect(kubeconfig)
    api = conn.api
    out: dict[str, list[bytes]] = {}
    try:
        for plural in plurals:
            token, bodies = None, []
            while True:
                query: list[tuple[str, Any]] = [("limit", PAGE_SIZE)]
                if token:
                    query.append(("continue", token))
                method, url, headers, _, _ = api.param_serialize(
                    "GET",
                    KINDS[plural].list_path(None),
                    query_params=query,
                    header_params={"Accept": "application/json"},
                    auth_settings=["BearerToken"],
                )
                resp = api.call_api(method, url, header_params=headers)
                if resp.status != 200:
                    break
                body = bytes(resp.response.data)
                bodies.append(body)
                token = (json.loads(body).get("metadata") or {}).get("continue")
                if not token:
                    break
            if bodies:
                out[plural] = bodies
    finally:
        conn.close()
    return out


def old_way(plural: str, bodies: list[bytes], strings: dict[Any, Any]) -> list[Any]:
    """The objects as the fetch kept them before: json.loads, clean, strings shared."""
    kind = KINDS[plural]
    return [
        _clean(kind, obj, strings)
        for body in bodies
        for obj in json.loads(body)["items"]
        if isinstance(obj, dict)
    ]


def new_way(plural: str, bodies: list[bytes], table: dict[Any, Any]) -> list[Any]:
    """The objects as the fetch keeps them now: decode_page, values shared like the item
    before (``Fetcher._keeper``), and equal text taken from it (``decode.Before``)."""
    kind = KINDS[plural]
    fetcher = Fetcher(None, FetchOptions())  # type: ignore[arg-type]  # makes no request
    fetcher._strings = table
    keep, before = fetcher._keeper(kind), Before()
    items: list[Any] = []
    for body in bodies:
        items.extend(decode_page(kind, body, keep, before)[0])
    return items


def exact(value: Any) -> str:
    """Text that differs whenever two values differ: key order, types, -0.0."""
    return json.dumps(value, allow_nan=True)


def main(argv: list[str] | None = None) -> int:
    """List once, decode twice, check twice, compare."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", required=True)
    args = ap.parse_args(argv)
    registry = default_registry()
    checks = list(registry)
    plurals = sorted(needed_kinds(registry))
    raw = pages(args.kubeconfig, plurals)
    now = datetime.now(UTC)
    info = ClusterInfo("bench", "https://bench", "v1")
    texts, objects, seconds = [], [], []
    per_kind: dict[str, dict[str, float]] = {}
    gc.disable()  # as during a fetch (fetch._gc_paused)
    for way in (old_way, new_way):
        gc.collect()
        t0 = time.process_time()
        table: dict[Any, Any] = {}
        decoded = {}
        for plural, bodies in raw.items():
            t1 = time.process_time()
            decoded[plural] = way(plural, bodies, table)
            cost = per_kind.setdefault(plural, {"bytes": sum(map(len, bodies))})
            cost[way.__name__] = round(time.process_time() - t1, 3)
        seconds.append(round(time.process_time() - t0, 3))
        del table
        state = ClusterState.build(decoded, now=now, scope=Scope(None), cluster=info)
        objects.append(exact(decoded))
        report = run_checks(state, checks, Config())
        text = render_json(report, Config())
        texts.append(re.sub(r'"seconds": [0-9.e+-]+', '"seconds": 0', text))
        del state, report, decoded  # the second way starts from the same heap as the first
    findings = len(json.loads(texts[0])["findings"])
    print(
        json.dumps(
            {
                "objects": sum(len(json.loads(b)["items"]) for bs in raw.values() for b in bs),
                "pages": sum(map(len, raw.values())),
                "findings": findings,
                "same_objects": objects[0] == objects[1],
                "same_output": texts[0] == texts[1],
                "decode_cpu_seconds": {"old_way": seconds[0], "new_way": seconds[1]},
                "by_kind": dict(sorted(per_kind.items(), key=lambda kv: -kv[1]["old_way"])),
                "loadavg": os.getloadavg(),
            },
            indent=1,
        )
    )
    return 0 if texts[0] == texts[1] and objects[0] == objects[1] else 1


if __name__ == "__main__":
    sys.exit(main())
