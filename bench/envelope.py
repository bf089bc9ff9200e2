"""Synthesize a large snapshot from recorded ones: the offline benchmark at scale (issue 19).

A *unit* is one recorded namespace: every namespaced object in it, its Namespace object, and
the PersistentVolumes bound to its claims.  Two units are used, both recorded from the real
test cluster:

- faulty:  ``examples/broken-logos.json.gz`` (namespace ``logos``: an image that is not
           found, claims whose class is missing, GPU pods on nodes without the label...,
           20 findings per copy);
- healthy: ``tests/fixtures/snapshots/edge_healthy.json.gz`` (the whole Logos deployment
           running, with cert-manager and a ServiceMonitor; no finding of its own).

The output holds ``--copies`` copies of a unit, ``--fault-rate`` of them faulty (spread evenly,
5% by default, as in ``bench/seed.py``), each in a fresh namespace ``<ns>-cNNNNN`` with fresh
uids, PersistentVolume names and node names; every reference (ownerReferences, involvedObject,
claimRef, volumeName, nodeName, labels) follows, because the text of a unit is rewritten by
exact JSON-string substitution of its uids and names, so no field needs to be known here.
Cluster-scoped objects (APIServices, StorageClasses, IngressClasses, ClusterIssuers, the
system namespaces) are kept once.  ``--nodes`` clones of the recorded nodes (each clone keeps
its source node's labels, taints and conditions) replace them, and each copy's pods are bound
to one set of clones, so pods spread over every node.  ``--events`` pads (cloning a copy's own
events with a new name and uid) or trims the events to a total.

The document is written as text, kind by kind, and never held as Python objects, so the
generator needs little memory even at the scalability envelope.

  .venv/bin/python bench/envelope.py --copies 1000 --fault-rate 1 -o /tmp/snap-92k.json
      # the issue's shape: 93,867 objects on 835 nodes (sets of the recordings' nodes), 334
      # of them GPU nodes without the label, 4,000 GPU pods pending on them
  .venv/bin/python bench/envelope.py --copies 1000 --fault-rate 1 --nodes 5 -o /tmp/snap-92k-5n.json
      # the same copies on one set of 5 nodes (93,037 objects), measured as "the 93k" before
  .venv/bin/python bench/envelope.py --copies 12500 --nodes 5000 --events 500000 \\
      -o /tmp/envelope.json          # 150,000 pods, 5,000 nodes, 500,000 events
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parent.parent
FAULTY = REPO / "examples/broken-logos.json.gz"
HEALTHY = REPO / "tests/fixtures/snapshots/edge_healthy.json.gz"
MISSING_CLASS = "ssd-premium"  # the faulty copies' claims name it; it must stay missing


def _load(path: Path) -> dict[str, Any]:
    with gzip.open(path) as fh:
        doc: dict[str, Any] = json.load(fh)
    return doc


@dataclass
class Unit:
    """One recorded namespace, as JSON text per kind, with the tokens a copy renames."""

    namespace: str
    texts: dict[str, list[str]] = field(default_factory=dict)  # plural -> item texts
    uids: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # PersistentVolume names
    hosts: list[str] = field(default_factory=list)  # Ingress hosts (unique per copy)
    nodes: list[str] = field(default_factory=list)  # the recording's node names
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (text, name, uid)

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Unit:
        """The unit of a recorded snapshot of one namespace."""
        (ns,) = doc["scope"]["namespaces"]
        unit = cls(ns)
        claims = set()
        for plural, items in doc["objects"].items():
            for obj in items:
                md = obj.get("metadata") or {}
                if md.get("namespace") == ns:
                    if plural == "persistentvolumeclaims":
                        claims.add(md["name"])
                    unit.add(plural, obj)
        for obj in doc["objects"].get("namespaces", []):
            if obj["metadata"]["name"] == ns:
                unit.add("namespaces", obj)
        for obj in doc["objects"].get("persistentvolumes", []):
            ref = (obj.get("spec") or {}).get("claimRef") or {}
            if ref.get("namespace") == ns and ref.get("name") in claims:
                unit.add("persistentvolumes", obj)
                unit.names.append(obj["metadata"]["name"])
        for obj in doc["objects"].get("ingresses", []):
            spec = obj.get("spec") or {}
            found = [r.get("host") for r in spec.get("rules") or []]
            found += [h for t in spec.get("tls") or [] for h in t.get("hosts") or []]
            unit.hosts += sorted({h for h in found if h and h not in unit.hosts})
        unit.nodes = sorted(o["metadata"]["name"] for o in doc["objects"].get("nodes", []))
        return unit

    def add(self, plural: str, obj: dict[str, Any]) -> None:
        """Keep one object's text (and its uid, to be renamed)."""
        text = json.dumps(obj, separators=(",", ":"), sort_keys=True)
        self.texts.setdefault(plural, []).append(text)
        uid = (obj.get("metadata") or {}).get("uid")
        if uid:
            self.uids.append(uid)
        if plural == "events":
            self.events.append((text, obj["metadata"]["name"], uid or ""))


class Renamer:
    """Rewrites a unit's text for one copy: exact JSON strings only (``"<token>"``)."""

    def __init__(self, unit: Unit) -> None:
        tokens = [unit.namespace, *unit.uids, *unit.names, *unit.hosts, *unit.nodes]
        self.unit = unit
        self.pattern = re.compile('"(' + "|".join(map(re.escape, tokens)) + ')"')

    def copy(self, index: int, rng: random.Random, node_clones: dict[str, str]) -> dict[str, str]:
        """The renaming of copy ``index``: fresh uids and names."""
        mapping = {self.unit.namespace: f"{self.unit.namespace}-c{index:05d}"}
        for uid in self.unit.uids:
            mapping[uid] = _uuid(rng)
        for name in self.unit.names:
            mapping[name] = f"pv-{_uuid(rng)}"
        for host in self.unit.hosts:
            mapping[host] = f"c{index:05d}.{host}"
        mapping.update(node_clones)
        return mapping

    def rewrite(self, text: str, mapping: dict[str, str]) -> str:
        """``text`` with every token replaced as ``mapping`` says."""
        return self.pattern.sub(lambda m: f'"{mapping[m.group(1)]}"', text)


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def generate(
    out: TextIO, copies: int, fault_rate: float, nodes: int | None, events: int | None, seed: int
) -> dict[str, int]:
    """Write the snapshot document to ``out``; returns the object count per kind."""
    rng = random.Random(seed)
    faulty_doc, healthy_doc = _load(FAULTY), _load(HEALTHY)
    units = {True: Unit.of(faulty_doc), False: Unit.of(healthy_doc)}
    unit_namespaces = {u.namespace for u in units.values()}

    # Cluster-scoped objects but nodes: the union of both recordings, by name, less the
    # StorageClass the faulty copies' claims must not find (the healthy ones use their own).
    cluster: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in (faulty_doc, healthy_doc):
        for plural, items in doc["objects"].items():
            if plural in ("nodes", "persistentvolumes"):
                continue
            for obj in items:
                md = obj.get("metadata") or {}
                if md.get("namespace") is not None or md["name"] in unit_namespaces:
                    continue
                cluster.setdefault(plural, {})[md["name"]] = obj
    cluster.get("storageclasses", {}).pop(MISSING_CLASS, None)

    def is_faulty(i: int) -> bool:  # evenly spread: copy i is faulty when the rate crosses
        return int((i + 1) * fault_rate) > int(i * fault_rate)

    faulty = [is_faulty(i) for i in range(copies)]
    # Nodes: sets of clones of one recording's nodes (the faulty recording's GPU nodes have
    # no GPU label, the healthy one's do); a copy's pods go to a set cloned from its own.
    sources = {
        f: {o["metadata"]["name"]: o for o in doc["objects"]["nodes"]}
        for f, doc in ((True, faulty_doc), (False, healthy_doc))
    }
    want_nodes = nodes if nodes is not None else copies
    n_sets = max(1, round(want_nodes / len(units[False].nodes)))
    set_faulty = [is_faulty(j) for j in range(n_sets)]
    if any(faulty) and not any(set_faulty):
        set_faulty[-1] = True
    if not all(faulty) and all(set_faulty):
        set_faulty[0] = False
    node_texts: list[tuple[dict[str, Any], str]] = []  # (source node, new name)
    sets: dict[bool, list[dict[str, str]]] = {True: [], False: []}
    for f in set_faulty:
        clones = {}
        for name in units[f].nodes:
            clones[name] = f"node-{len(node_texts):05d}"
            node_texts.append((sources[f][name], clones[name]))
        sets[f].append(clones)
    renamers = {k: Renamer(u) for k, u in units.items()}
    seen = {True: 0, False: 0}
    mappings: list[dict[str, str]] = []
    for i in range(copies):
        f = faulty[i]
        clones = sets[f][seen[f] % len(sets[f])] if sets[f] else {}
        seen[f] += 1
        mappings.append(renamers[f].copy(i, rng, clones))

    # Events: pad with clones of a copy's own events, or trim, to reach --events in all.
    per_copy = [len(units[f].events) for f in faulty]
    total_events = sum(per_copy)
    target = total_events if events is None else events
    extra = [0] * copies
    keep = list(per_copy)
    if target > total_events:
        for i in range(target - total_events):
            extra[i % copies] += 1
    elif target < total_events:
        cut = total_events - target
        for i in range(cut):
            keep[i % copies] -= 1 if keep[i % copies] else 0

    kinds = sorted({*cluster, *units[True].texts, *units[False].texts, "nodes"})
    counts: dict[str, int] = {}
    taken = max(faulty_doc["takenAt"], healthy_doc["takenAt"])
    header = {
        "cluster": faulty_doc["cluster"],
        "format": faulty_doc["format"],
        "scope": {"namespaces": None},
        "takenAt": taken,
        "unavailable": {},
        "version": faulty_doc["version"],
    }
    head = json.dumps(header, separators=(",", ":"), sort_keys=True)
    out.write(head[:-1] + ',"objects":{')
    for k_index, plural in enumerate(kinds):
        out.write(("," if k_index else "") + json.dumps(plural) + ":[")
        n = 0
        for text in _kind_texts(plural, cluster, node_texts, rng):
            out.write(("," if n else "") + text)
            n += 1
        for i in range(copies):
            unit, renamer, mapping = units[faulty[i]], renamers[faulty[i]], mappings[i]
            items = unit.texts.get(plural, [])
            if plural == "events":
                items = items[: keep[i]]
            if items:
                out.write(("," if n else "") + renamer.rewrite(",".join(items), mapping))
                n += len(items)
            if plural == "events":
                for e in range(extra[i]):
                    text, name, uid = unit.events[e % len(unit.events)]
                    text = text.replace(f'"{name}"', f'"{name}.x{e:x}"')
                    text = text.replace(f'"{uid}"', f'"{_uuid(rng)}"') if uid else text
                    out.write(("," if n else "") + renamer.rewrite(text, mapping))
                    n += 1
        out.write("]")
        counts[plural] = n
    out.write("}}")
    return counts


def _kind_texts(
    plural: str,
    cluster: dict[str, dict[str, dict[str, Any]]],
    node_texts: list[tuple[dict[str, Any], str]],
    rng: random.Random,
) -> Iterator[str]:
    if plural == "nodes":
        for source, name in node_texts:
            text = json.dumps(source, separators=(",", ":"), sort_keys=True)
            uid = source["metadata"].get("uid")
            if uid:
                text = text.replace(f'"{uid}"', f'"{_uuid(rng)}"')
            yield text.replace(f'"{source["metadata"]["name"]}"', f'"{name}"')
        return
    for obj in cluster.get(plural, {}).values():
        yield json.dumps(obj, separators=(",", ":"), sort_keys=True)


def main() -> None:
    """Command line: write one synthesized snapshot."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, required=True, help="namespace copies")
    parser.add_argument("--fault-rate", type=float, default=0.05, help="share of faulty copies")
    parser.add_argument("--nodes", type=int, help="nodes in all (default: one per copy)")
    parser.add_argument("--events", type=int, help="events in all (default: as recorded)")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("-o", "--output", required=True, help="FILE.json or FILE.json.gz")
    args = parser.parse_args()
    path = Path(args.output)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as fh:  # type: ignore[operator]
        counts = generate(fh, args.copies, args.fault_rate, args.nodes, args.events, args.seed)
    total = sum(counts.values())
    detail = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    print(f"wrote {path}: {total} objects ({detail})", file=sys.stderr)


if __name__ == "__main__":
    main()
