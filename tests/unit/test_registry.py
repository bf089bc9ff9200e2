"""The check registry: the plugin door, validated ids, and a broken plugin isolated."""

from importlib.metadata import EntryPoint

import pytest

from logos_doctor.errors import UsageError
from logos_doctor.finding import Severity
from logos_doctor.registry import Check, Registry, default_registry


def noop(state, config):  # type: ignore[no-untyped-def]
    return []


def make(check_id: str, kinds: tuple[str, ...] = ("pods",)) -> Check:
    return Check(id=check_id, title="t", severity=Severity.WARNING, kinds=kinds, causes=("x",),
                 run=noop)


def test_builtin_checks_come_through_the_entry_point_group() -> None:
    registry = default_registry()
    ids = [c.id for c in registry]
    assert {"storage-class", "pvc-pending"} <= set(ids)
    assert ids == sorted(ids)
    for check in registry:
        assert check.causes, check.id
        assert check.runbook


@pytest.mark.parametrize("bad", ["PVC", "pvc_pending", "-pvc", "pvc-", "pvc--x", ""])
def test_ids_must_be_lower_case_hyphenated(bad: str) -> None:
    with pytest.raises(ValueError, match="lower-case"):
        make(bad)


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown kinds: gizmos"):
        make("gizmo", kinds=("gizmos",))


def test_duplicate_ids_are_rejected() -> None:
    registry = Registry([make("one")])
    with pytest.raises(ValueError, match="registered twice"):
        registry.add(make("one"))


def test_unknown_check_is_a_usage_error_listing_known_ones() -> None:
    registry = Registry([make("one"), make("two")])
    with pytest.raises(UsageError) as err:
        registry.select(["three"])
    assert "unknown check 'three'" in str(err.value) and "one, two" in str(err.value)


def test_broken_plugins_are_named_and_the_others_load(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [
        EntryPoint("pvc-pending", "logos_doctor.checks.pvc_pending:CHECK", "logos_doctor.checks"),
        EntryPoint("broken", "no_such_module_xyz:CHECK", "logos_doctor.checks"),
        EntryPoint("not-a-check", "logos_doctor.finding:Severity", "logos_doctor.checks"),
        EntryPoint("wrong-name", "logos_doctor.checks.storage_class:CHECK", "logos_doctor.checks"),
    ]
    monkeypatch.setattr("logos_doctor.registry.entry_points", lambda group: entries)
    registry = Registry.from_entry_points()
    assert [c.id for c in registry] == ["pvc-pending"]
    errors = {e.name: e.error for e in registry.load_errors}
    assert "ModuleNotFoundError" in errors["broken"]
    assert "not a Check" in errors["not-a-check"]
    assert "declares id 'storage-class'" in errors["wrong-name"]
