"""``runner.root_counts`` gives ``-o json``'s ``explains`` numbers as ``root_causes`` does,
and ``Finding.with_causes`` (the links ``runner.correlate`` makes) is ``replace``.

``-o json`` reads only how many findings each root cause explains; ``root_counts`` counts
them over ints instead of building every root's set of keys.  The numbers must be those of
``root_causes`` for every finding, including a finding that shares its key with a root.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace

import pytest

from logos_doctor.finding import Finding, FindingKey, Severity
from logos_doctor.objects import ObjectRef
from logos_doctor.registry import default_registry
from logos_doctor.runner import Report, root_causes, root_counts, run_checks
from tests.recorded import SNAPSHOTS, recorded

NAMES = sorted(p.name.removesuffix(".json.gz") for p in SNAPSHOTS.glob("*.json.gz"))


def expected(findings: tuple[Finding, ...]) -> list[int | None]:
    """What ``report_json`` computed before: ``len`` of each root's set, looked up by key."""
    roots = {f.key: len(keys) for f, keys in root_causes(findings)}
    return [roots.get(f.key) for f in findings]


@pytest.mark.parametrize("name", NAMES)
def test_every_recording(name: str) -> None:
    state, config = recorded(name)
    report: Report = run_checks(state, list(default_registry()), config)
    assert root_counts(report.findings) == expected(report.findings)


def _finding(name: str, *causes: Finding, check: str = "c") -> Finding:
    return Finding(
        check,
        "x",
        Severity.WARNING,
        ObjectRef("Pod", "ns", name),
        "m",
        caused_by=tuple(c.key for c in causes),
    )


def test_chains_shared_keys_cycles_and_missing_causes() -> None:
    root = _finding("root")
    twin = _finding("root", root)  # the root's key, itself explained (by its twin)
    a = _finding("a", root)
    b = _finding("b", a, twin)
    c = _finding("c", b, a)
    loop1 = _finding("l1", check="d")
    loop2 = _finding("l2", loop1, check="d")
    loop1 = _finding("l1", loop2, check="d")  # a cycle: neither is a root
    lone = _finding("lone")
    gone = Finding(
        "c",
        "x",
        Severity.INFO,
        ObjectRef("Pod", "ns", "o"),
        "m",
        caused_by=(FindingKey("c", "x", ObjectRef("Pod", "ns", "not-shown")),),
    )
    findings = (c, root, b, loop1, twin, a, loop2, lone, gone)
    counts = root_counts(findings)
    assert counts == expected(findings)
    # the root reaches its own key (its twin), a, b and c
    assert counts == [None, 4, None, None, 4, None, None, 0, None]


def test_a_linked_copy_is_what_replace_makes_and_leaves_the_original() -> None:
    state, config = recorded("image_pull_faults")
    report = run_checks(state, list(default_registry()), config)
    keys = tuple(f.key for f in report.findings[:2])
    for f in report.findings:
        before = replace(f)
        linked = f.with_causes(keys)
        assert linked == replace(f, caused_by=keys)
        assert type(linked) is type(f) and linked is not f
        assert f == before
        with pytest.raises(FrozenInstanceError):
            linked.caused_by = ()  # type: ignore[misc]
