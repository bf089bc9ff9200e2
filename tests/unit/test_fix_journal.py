"""The fix's trail on disk: ids, journal states, backups written once, the crash hook."""

from __future__ import annotations

import signal
from datetime import UTC, datetime

import pytest

from logos_doctor.errors import UsageError
from logos_doctor.fix.hook import CrashHook
from logos_doctor.fix.journal import FixStore
from logos_doctor.fix.plan import Action, FixPlan, Step
from logos_doctor.fix.saved_config import config_from_json, config_to_json
from recorded import recorded

PLAN = FixPlan(
    "pvc",
    "logos",
    steps=(
        Step("create-storageclass/ssd", Action.CREATE_STORAGECLASS, "Create", "kubectl create"),
        Step("verify", Action.VERIFY, "Verify", "logos-doctor check"),
    ),
)


@pytest.mark.parametrize("bad", ["../../etc", "20250101T000000Z-../x", "latest", "a/b", ""])
def test_ids_from_the_command_line_cannot_leave_the_fixes_dir(tmp_path, bad):
    with pytest.raises(UsageError):
        FixStore(tmp_path).get(bad)


def test_a_fix_is_interrupted_until_its_journal_says_finished(tmp_path):
    store = FixStore(tmp_path)
    record = store.create(store.new_id("logos", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)))
    assert record.id == "20250102T030405Z-logos"
    record.save_plan(PLAN, {})
    record.append("begin")
    record.append("step-started", step="create-storageclass/ssd")
    assert record.state()[0] == "interrupted"
    assert store.latest_unfinished() is not None
    record.append("step-done", step="create-storageclass/ssd")
    with open(record.journal_path, "a") as fh:
        fh.write('{"event": "step-do')  # killed in the middle of a line
    assert record.done_steps() == {"create-storageclass/ssd"}
    record.append("finished", detail="complete")
    assert record.state() == ("finished", "complete")
    assert store.latest_unfinished() is None
    summary = record.summary()
    assert (summary.state, summary.steps_done, summary.steps_total) == ("finished", 1, 2)


def test_a_second_id_in_the_same_second_does_not_collide(tmp_path):
    store = FixStore(tmp_path)
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = store.create(store.new_id("logos", now))
    second = store.new_id("logos", now)
    assert second != first.id
    store.create(second)


def test_a_backup_is_never_overwritten(tmp_path):
    store = FixStore(tmp_path)
    record = store.create(store.new_id("logos"))
    assert record.save_backup("StatefulSet", "db", {"metadata": {"uid": "old"}})
    assert not record.save_backup("StatefulSet", "db", {"metadata": {"uid": "new"}})
    assert record.load_backup("StatefulSet", "db") == {"metadata": {"uid": "old"}}
    assert record.load_backup("StatefulSet", "other") is None


def test_the_saved_expectations_come_back_unchanged():
    _, config = recorded("fix_mixed")
    again = config_from_json(config_to_json(config))
    assert again.storage_class == config.storage_class
    assert again.claims == config.claims
    assert again.namespace == config.namespace


@pytest.mark.parametrize(
    ("spec", "step", "moment", "sig"),
    [
        ("delete-claim/data-0:before-write", "delete-claim/data-0", "before-write", signal.SIGKILL),
        ("delete-claim/data-0:after", "delete-claim/data-0", "after-write", signal.SIGKILL),
        ("verify:start", "verify", "start", signal.SIGKILL),
        (
            "delete-statefulset/db:before-write:stop",
            "delete-statefulset/db",
            "before-write",
            signal.SIGSTOP,
        ),
    ],
)
def test_the_crash_hook_names_a_step_and_a_moment(spec, step, moment, sig):
    hook = CrashHook(spec)
    assert (hook.step, hook.moment, hook.sig) == (step, moment, sig)
    hook("another-step", moment)  # does not fire elsewhere


def test_no_hook_without_the_variable():
    assert CrashHook(None).step is None
