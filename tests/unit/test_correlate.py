"""``runner.correlate`` links findings as its definition says, also when findings share
their tuples of references (it memoises per tuple; the definition walks pair by pair).

The definition, written out below as it read before the memo: B explains A when B is about
something A depends on, A is about something B affects, or what B affects meets what A
depends on; the candidates are taken in order (the findings about, then blocking, each
object A depends on; then those blocking A's own object), and a candidate A explains in
turn is left out, so that no pair explains each other.
"""

from __future__ import annotations

import pytest

from logos_doctor.finding import Finding, FindingKey, Severity
from logos_doctor.objects import ObjectRef
from logos_doctor.registry import default_registry
from logos_doctor.runner import correlate, run_checks
from tests.recorded import SNAPSHOTS, recorded

NAMES = sorted(p.name.removesuffix(".json.gz") for p in SNAPSHOTS.glob("*.json.gz"))


def ident(ref: ObjectRef) -> tuple[str, str | None, str]:
    return (ref.kind, ref.namespace, ref.name)


def mentions(refs: tuple[ObjectRef, ...], target: ObjectRef) -> bool:
    return any(ident(r) == ident(target) for r in refs)


def by_definition(findings: list[Finding]) -> list[tuple[FindingKey, ...]]:
    """Each finding's ``caused_by``, pair by pair."""

    def explains(b: Finding, a: Finding) -> bool:
        return (
            mentions(a.depends_on, b.resource)
            or mentions(b.affected, a.resource)
            or any(mentions(b.affected, ref) for ref in a.depends_on)
        )

    out = []
    for a in findings:
        candidates = []
        for ref in a.depends_on:
            candidates += [b for b in findings if ident(b.resource) == ident(ref)]
            candidates += [b for b in findings if mentions(b.affected, ref)]
        candidates += [b for b in findings if mentions(b.affected, a.resource)]
        causes: list[FindingKey] = []
        for b in candidates:
            if b is a or b.key in causes or explains(a, b):
                continue
            causes.append(b.key)
        out.append(tuple(sorted(causes, key=order)))
    return out


def order(key: FindingKey) -> tuple[str, str, str, str, str]:
    r = key.resource
    return (key.check, key.cause, r.kind, r.namespace or "", r.name)


def unlinked(findings: tuple[Finding, ...]) -> list[Finding]:
    return [f.with_causes(()) for f in findings]


@pytest.mark.parametrize("name", NAMES)
def test_every_recording_links_as_defined(name: str) -> None:
    state, config = recorded(name)
    found = unlinked(run_checks(state, list(default_registry()), config).findings)
    assert [f.caused_by for f in correlate(found)] == by_definition(found)


def _finding(
    name: str,
    kind: str = "Pod",
    *,
    depends_on: tuple[ObjectRef, ...] = (),
    affected: tuple[ObjectRef, ...] = (),
) -> Finding:
    return Finding(
        "c",
        "x",
        Severity.CRITICAL,
        ObjectRef(kind, None if kind == "Node" else "ns", name),
        "m",
        depends_on=depends_on,
        affected=affected,
    )


def test_findings_sharing_one_tuple_of_nodes() -> None:
    """300 pods on one shared tuple of 50 nodes and 20 on an equal tuple of their own; a
    finding on node-17; one on node-5 that depends on pod-0 (so pod-0 and it explain each
    other and stay unlinked); one that blocks pod-3 and node-9."""
    nodes = tuple(ObjectRef("Node", None, f"node-{i}") for i in range(50))
    pods = [_finding(f"pod-{i}", depends_on=nodes) for i in range(300)]
    pods += [_finding(f"own-{i}", depends_on=tuple(list(nodes))) for i in range(20)]
    node17 = _finding("node-17", "Node")
    node5 = _finding("node-5", "Node", depends_on=(pods[0].resource,))
    blocker = _finding("claim", "PVC", affected=(pods[3].resource, nodes[9]))
    found = [*pods, node17, node5, blocker]
    linked = correlate(found)
    assert [f.caused_by for f in linked] == by_definition(found)
    every = {node17.key, node5.key, blocker.key}
    assert set(linked[0].caused_by) == every - {node5.key}
    assert all(set(f.caused_by) == every for f in linked[1:320])
    assert linked[-2].caused_by == ()  # node-5: pod-0 depends on it, so it explains pod-0


def test_a_pair_that_meets_through_what_one_blocks_stays_unlinked() -> None:
    """web depends on a ConfigMap whose finding depends on a claim web's finding blocks:
    each would explain the other (the second through what web affects), so neither is
    linked."""
    claim = ObjectRef("PersistentVolumeClaim", "ns", "data")
    config = _finding("settings", "ConfigMap", depends_on=(claim,))
    web = _finding("web", depends_on=(config.resource,), affected=(claim,))
    linked = correlate([web, config])
    assert [f.caused_by for f in linked] == by_definition([web, config]) == [(), ()]
