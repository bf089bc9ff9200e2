"""Where a fix leaves its trail: the plan, backups and an append-only journal on disk.

Each fix gets a directory ``<state dir>/fixes/<UTC timestamp>-<namespace>/`` holding:

- ``plan.json``: the plan as confirmed, plus how the cluster was reached;
- ``backup/<kind>-<name>.json``: the full objects to be deleted or replaced, as read right
  before the first write (written once, never overwritten: a resume must not replace the
  saved StatefulSet with "absent");
- ``<kind>-<name>.yaml``: the manifests the plan creates, the files its ``kubectl``
  equivalents name;
- ``journal.jsonl``: one JSON object per line, appended and fsynced before the next write:
  ``begin``, ``step-started``, ``step-done``, ``step-failed``, ``aborted``, ``finished``.

``--resume`` continues from the journal; ``--list`` summarises every directory.  The default
state dir is platformdirs' ``user_state_dir("logos-doctor")`` (``~/.local/state/logos-doctor``
on Linux); ``--state-dir`` or ``LOGOS_DOCTOR_STATE_DIR`` overrides it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from platformdirs import user_state_dir

from logos_doctor.errors import FixError, UsageError
from logos_doctor.fix.durable import file_name, write_atomic
from logos_doctor.fix.plan import FixPlan

# Saved in plan.json beside the plan; the CLI reads them from here with the rest of the trail.
from logos_doctor.fix.saved_config import config_from_json as config_from_json
from logos_doctor.fix.saved_config import config_to_json as config_to_json

_ID = re.compile(r"^\d{8}T\d{6}Z(-\d+)?-[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
TERMINAL = ("finished", "aborted")


def default_state_dir() -> Path:
    """``$LOGOS_DOCTOR_STATE_DIR``, else the platform's user state dir for logos-doctor."""
    env = os.environ.get("LOGOS_DOCTOR_STATE_DIR")
    return Path(env).expanduser() if env else Path(user_state_dir("logos-doctor"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class FixSummary:
    """One past fix, for ``--list``."""

    id: str
    namespace: str
    command: str
    state: str
    steps_done: int
    steps_total: int
    started: str
    detail: str


class FixRecord:
    """One fix's directory: plan, backups, manifests and journal."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.id = path.name
        self.journal_path = path / "journal.jsonl"

    # -- writing -------------------------------------------------------------------------------

    def save_plan(self, plan: FixPlan, connection: Mapping[str, Any]) -> None:
        """Write ``plan.json`` (once, before the first write to the cluster)."""
        doc = {"id": self.id, "connection": dict(connection), "plan": plan.to_json()}
        write_atomic(self.path / "plan.json", json.dumps(doc, indent=2).encode())

    def append(self, event: str, **fields: Any) -> None:
        """Append one journal line and fsync it before returning."""
        line = json.dumps({"time": _now(), "event": event, **fields}, sort_keys=True)
        with open(self.journal_path, "a+b") as fh:
            # A process killed mid-line leaves a torn last line: start on a fresh one so that
            # this entry is not glued to it (the torn one is skipped when reading).
            torn = False
            if fh.seek(0, os.SEEK_END) > 0:
                fh.seek(-1, os.SEEK_END)
                torn = fh.read(1) != b"\n"
            fh.write((b"\n" if torn else b"") + line.encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())

    def backup_path(self, kind: str, name: str) -> Path:
        """Where the backup of one object lives."""
        return self.path / "backup" / file_name(kind, name, ".json")

    def save_backup(self, kind: str, name: str, obj: Mapping[str, Any]) -> bool:
        """Save an object unless a backup of it already exists; True when written now."""
        path = self.backup_path(kind, name)
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(obj, indent=2, sort_keys=True).encode())
        return True

    def load_backup(self, kind: str, name: str) -> dict[str, Any] | None:
        """A saved object, or None when there is no backup of it."""
        path = self.backup_path(kind, name)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise FixError(f"backup {path} is unreadable: {exc}") from None
        return data if isinstance(data, dict) else None

    def save_manifest(self, kind: str, name: str, obj: Mapping[str, Any]) -> Path:
        """Write a manifest the plan creates (the file its kubectl equivalent names)."""
        path = self.path / file_name(kind, name, ".yaml")
        write_atomic(path, yaml.safe_dump(dict(obj), sort_keys=False).encode())
        return path

    # -- reading -------------------------------------------------------------------------------

    def load(self) -> tuple[FixPlan, dict[str, Any]]:
        """The saved plan and connection details."""
        path = self.path / "plan.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            return FixPlan.from_json(doc["plan"]), dict(doc.get("connection") or {})
        except FileNotFoundError:
            raise FixError(f"fix {self.id} has no plan.json; it never started") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FixError(f"fix {self.id}: plan.json is unreadable ({exc})") from None

    def entries(self) -> list[dict[str, Any]]:
        """Every journal entry; a torn last line (killed mid-write) is ignored."""
        try:
            lines = self.journal_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                out.append(entry)
        return out

    def done_steps(self) -> set[str]:
        """Ids of the steps journaled as done."""
        return {str(e.get("step")) for e in self.entries() if e.get("event") == "step-done"}

    def state(self) -> tuple[str, str]:
        """``(state, detail)``: finished, aborted, interrupted or failed."""
        entries = self.entries()
        for entry in reversed(entries):
            event = entry.get("event")
            if event in TERMINAL:
                return str(event), str(entry.get("detail", ""))
            if event == "step-failed":
                return "failed", str(entry.get("reason", ""))
        return "interrupted", ""

    def summary(self) -> FixSummary:
        """This fix, summarised for ``--list``."""
        try:
            plan, _ = self.load()
        except FixError as exc:
            return FixSummary(self.id, "?", "?", "broken", 0, 0, "", exc.message)
        entries = self.entries()
        state, detail = self.state()
        started = str(entries[0].get("time", "")) if entries else ""
        return FixSummary(
            self.id,
            plan.namespace,
            plan.command,
            state,
            len(self.done_steps() & {s.id for s in plan.steps}),
            len(plan.steps),
            started,
            detail,
        )


class FixStore:
    """All fix directories under one state dir."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or default_state_dir()) / "fixes"

    def new_id(self, namespace: str, now: datetime | None = None) -> str:
        """An id not used yet: ``<UTC timestamp>-<namespace>``."""
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        candidate, n = f"{stamp}-{namespace}", 1
        while (self.root / candidate).exists():
            n += 1
            candidate = f"{stamp}-{n}-{namespace}"
        return candidate

    def create(self, fix_id: str) -> FixRecord:
        """Make the directory of a new fix (private to the user: backups hold specs)."""
        path = self._path(fix_id)
        try:
            path.mkdir(parents=True, mode=0o700)
        except FileExistsError:
            raise FixError(f"fix directory {path} already exists") from None
        except OSError as exc:
            raise FixError(
                f"cannot create fix directory {path}: {exc.strerror or exc}",
                "choose another location with --state-dir",
            ) from None
        return FixRecord(path)

    def get(self, fix_id: str) -> FixRecord:
        """An existing fix by id."""
        path = self._path(fix_id)
        if not path.is_dir():
            raise UsageError(f"no fix {fix_id!r} in {self.root}", "list them with 'fix --list'")
        return FixRecord(path)

    def path_of(self, fix_id: str) -> Path:
        """Where fix ``fix_id`` lives (or will live)."""
        return self._path(fix_id)

    def all(self) -> Iterator[FixRecord]:
        """Every fix, oldest first."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.iterdir()):
            if path.is_dir() and _ID.match(path.name):
                yield FixRecord(path)

    def latest_unfinished(self) -> FixRecord | None:
        """The most recent fix that was interrupted or failed (not finished, not aborted)."""
        for record in reversed(list(self.all())):
            if (record.path / "plan.json").exists() and record.state()[0] not in TERMINAL:
                return record
        return None

    def _path(self, fix_id: str) -> Path:
        # Ids come from the command line: only our own shape is accepted, so no id can name
        # a path outside the fixes directory.
        if not _ID.match(fix_id):
            raise UsageError(
                f"{fix_id!r} is not a fix id", "ids look like 20250101T120000Z-logos; see --list"
            )
        return self.root / fix_id
