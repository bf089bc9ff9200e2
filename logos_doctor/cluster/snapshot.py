"""Snapshots: a run's fetched objects saved to a file, so checks can run offline.

A snapshot holds exactly what ``check`` would read (one LIST per kind), the cluster's
identity, and the moment it was taken; findings computed from it use that moment as "now",
so "pending for 12 minutes" means 12 minutes before the snapshot, not before today.  Secret
values are never in it: the fetcher strips them before anything else sees them, and loading
strips them again in case a file was written by another tool.
"""

from __future__ import annotations

import gc
import gzip
import json
import os
import tempfile
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import msgspec

from logos_doctor.cluster import schema_structs, snapshot_text
from logos_doctor.cluster.kinds import KINDS
from logos_doctor.cluster.redact import REDACT
from logos_doctor.cluster.schema import SchemaMismatch, normalise
from logos_doctor.errors import SnapshotError
from logos_doctor.objects import Obj, parse_time
from logos_doctor.state import ClusterInfo, ClusterState, Scope

FORMAT = "logos-doctor-snapshot"
VERSION = 1
MAX_BYTES = 2 * 1024**3  # refuse to inflate a gzip bomb past this


# The members of a snapshot beside its objects: what to_document writes, and _head and
# _state read (snapshot_text.document cuts only these).
HEAD = ("format", "version", "takenAt", "cluster", "scope", "unavailable", "prometheus")


def to_document(state: ClusterState) -> dict[str, Any]:
    """The JSON document of a snapshot."""
    scope: dict[str, Any] = {
        "namespaces": list(state.scope.namespaces) if state.scope.namespaces else None
    }
    if state.scope.also:  # namespaces listed for one kind beyond the scope
        scope["also"] = {kind: list(names) for kind, names in state.scope.also}
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "takenAt": state.now.isoformat().replace("+00:00", "Z"),
        "cluster": state.cluster.to_json(),
        "scope": scope,
        "objects": {k: list(v) for k, v in sorted(state.objects.items())},
        "unavailable": dict(state.unavailable),
    }
    if state.prometheus is not None:  # what Prometheus's API said (cluster/prometheus.py)
        doc["prometheus"] = dict(state.prometheus)
    return doc


def save(state: ClusterState, path: Path) -> None:
    """Write a snapshot atomically; ``.gz`` paths are gzip-compressed."""
    data = json.dumps(to_document(state), separators=(",", ":"), sort_keys=True).encode()
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path, *, freeze: bool = False) -> ClusterState:
    """Read a snapshot, validating it; any defect is one ``SnapshotError``.

    Python's cyclic collector is off meanwhile, as in a live fetch (``fetch._gc_paused``):
    parsing and indexing allocate millions of containers and keep them all, so each
    collection they trigger walks a heap that only grows (a third of the load's CPU time at
    28,000 objects), and JSON makes no reference cycles to collect.  With ``freeze`` (a
    one-shot ``check``, whose state lives until exit) the state is then moved to the
    permanent generation, so the collections the checks trigger do not walk it either: at
    93,000 objects that took the checks from 7.0 to 4.8 s.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        state = _load(path)
        if freeze:
            gc.freeze()
        return state
    finally:
        if enabled:
            gc.enable()


def _load(path: Path) -> ClusterState:
    source = str(path)
    with snapshot_text.opened(path, MAX_BYTES) as text:
        try:
            state = _from_text(text, source)
        except snapshot_text.NotJson:
            state = None
        if state is None:  # text msgspec cannot cut, or damaged: json gives today's answer
            try:
                doc = json.loads(bytes(text))
            except (ValueError, UnicodeDecodeError):
                raise SnapshotError(
                    f"snapshot {path} is not valid JSON (truncated?)", "record it again"
                ) from None
            return from_document(doc, source)
    return state


def _from_text(text: snapshot_text.Buffer, source: str) -> ClusterState | None:
    """The state, its objects built one by one from the file's text (snapshot_text.py)."""
    kinds: dict[str, Any] | None  # each kind's text (msgspec.Raw), or its items cut already
    raw_objects: msgspec.Raw | None = None
    cut = snapshot_text.document(text, HEAD)
    if cut is not None:  # cut in one pass: each kind is a list of items
        parts, kinds = cut
    else:  # any other document: step by step, to find what is wrong with it
        top = snapshot_text.fields(text)
        if top is None:
            return None
        raw_objects = top.pop("objects", None)
        parts = top
        kinds = None if raw_objects is None else snapshot_text.fields(raw_objects)
    head = {key: snapshot_text.value(part) for key, part in parts.items()}
    taken = _head(head, source)
    if kinds is None:
        if raw_objects is not None and isinstance(snapshot_text.value(raw_objects), dict):
            return None  # a mapping with text msgspec refuses (NaN...): json reads it all
        raise SnapshotError(f"{source} has no objects mapping")
    del raw_objects, parts
    # Sharing equal texts is for files whose state would not fit otherwise (SHARE_FROM).
    same = snapshot_text.SameText() if len(text) >= snapshot_text.SHARE_FROM else None
    built = 0

    def released(build: Callable[[msgspec.Raw], Any]) -> Callable[[msgspec.Raw], Any]:
        def item(part: msgspec.Raw) -> Any:  # the pages behind the items read go back
            nonlocal built
            built += len(part)
            if built >= snapshot_text.RELEASE_EVERY:
                snapshot_text.release(text)
                built = 0
            return build(part)

        return item

    clean: dict[str, list[Obj]] = {}
    for plural in list(kinds):
        part = kinds.pop(plural)  # each kind's items go once built, not at the end
        items: Any = part if isinstance(part, list) else snapshot_text.elements(part)
        built_by = snapshot_text.value if same is None or plural in REDACT else same.item
        build = released(built_by)
        # Unshared, an item is built and checked in one pass by the table's Structs; its
        # values would be shared otherwise, and Secrets are stripped from a dict.
        decode = None if same is not None or plural in REDACT else schema_structs.decoder(plural)
        fast = None if decode is None else released(partial(schema_structs.checked, decode))
        if items is None and isinstance(part, msgspec.Raw):
            # Not a list (refused below), or text msgspec refuses (NaN...): json's reading.
            items, build, fast = snapshot_text.value(part), _as_is, None
        clean[plural] = _kind(source, plural, items, build, fast)
    del same, kinds
    snapshot_text.release(text)
    return _state(head, clean, taken, source)


def from_document(doc: Any, source: str = "snapshot") -> ClusterState:
    """Build a ``ClusterState`` from a parsed snapshot document."""
    taken = _head(doc, source)
    objects = doc.get("objects")
    if not isinstance(objects, dict):
        raise SnapshotError(f"{source} has no objects mapping")
    clean = {plural: _kind(source, plural, items, _as_is) for plural, items in objects.items()}
    return _state(doc, clean, taken, source)


def _as_is(item: Any) -> Any:
    return item


def _head(doc: Any, source: str) -> datetime:
    """The document's format, version and time, checked; the time."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SnapshotError(f"{source} is not a logos-doctor snapshot")
    if doc.get("version") != VERSION:
        raise SnapshotError(
            f"{source} has snapshot format version {doc.get('version')!r}; "
            f"this logos-doctor reads version {VERSION}",
            "use the logos-doctor version that recorded it",
        )
    taken = parse_time(doc.get("takenAt"))
    if taken is None:
        raise SnapshotError(f"{source} has no valid takenAt time")
    return taken


def _kind(
    source: str,
    plural: str,
    items: Any,
    build: Callable[[Any], Any],
    fast: Callable[[Any], Obj | None] | None = None,
) -> list[Obj]:
    """One kind's items, each built, checked against the schema and stripped of values.

    ``fast`` builds an item already checked (``schema_structs``), or answers None and leaves
    it to ``build`` and the schema pass, which give today's object or today's error.
    """
    if plural not in KINDS:
        raise SnapshotError(f"{source} holds unknown kind {plural!r}")
    if not isinstance(items, list):
        raise SnapshotError(f"{source}: objects.{plural} must be a list of objects")
    strip = REDACT.get(plural)
    clean = []
    for index, part in enumerate(items):
        if fast is not None and (done := fast(part)) is not None:
            clean.append(done)
            continue
        item = build(part)
        if not isinstance(item, dict):
            raise SnapshotError(f"{source}: objects.{plural} must be a list of objects")
        if not isinstance(item.get("metadata", {}), dict):
            raise SnapshotError(f"{source}: an item of objects.{plural} has malformed metadata")
        try:
            item = normalise(plural, item)
        except SchemaMismatch as exc:
            raise SnapshotError(
                f"{source}: objects.{plural}[{index}]: {exc}",
                "no API server sends that: the file was edited or corrupted; record it again",
            ) from None
        clean.append(strip(item) if strip else item)
    return clean


def _state(
    doc: dict[str, Any], clean: dict[str, list[Obj]], taken: datetime, source: str
) -> ClusterState:
    """The state of checked objects, with the document's scope, cluster and extras."""
    cluster = doc.get("cluster") or {}
    scope_doc = doc.get("scope") or {}
    namespaces = scope_doc.get("namespaces") if isinstance(scope_doc, dict) else None
    if namespaces is not None and not (
        isinstance(namespaces, list) and all(isinstance(n, str) for n in namespaces)
    ):
        raise SnapshotError(f"{source}: scope.namespaces must be a list of names")
    also_doc = scope_doc.get("also") or {} if isinstance(scope_doc, dict) else {}
    if not isinstance(also_doc, dict) or not all(
        isinstance(v, list) and all(isinstance(n, str) for n in v) for v in also_doc.values()
    ):
        raise SnapshotError(f"{source}: scope.also must map kinds to lists of namespaces")
    also = tuple((str(k), tuple(v)) for k, v in sorted(also_doc.items()))
    prometheus = doc.get("prometheus")
    if prometheus is not None and not isinstance(prometheus, dict):
        raise SnapshotError(f"{source}: malformed prometheus section")
    unavailable = doc.get("unavailable") or {}
    if not isinstance(unavailable, dict) or not isinstance(cluster, dict):
        raise SnapshotError(f"{source}: malformed cluster or unavailable section")
    try:
        return ClusterState.build(
            clean,
            now=taken,
            scope=Scope(tuple(namespaces) if namespaces else None, also),
            cluster=ClusterInfo(
                _opt_str(cluster.get("context")),
                _opt_str(cluster.get("server")),
                _opt_str(cluster.get("version")),
            ),
            unavailable={str(k): str(v) for k, v in unavailable.items()},
            prometheus=prometheus,
        )
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise SnapshotError(f"{source} holds malformed objects ({type(exc).__name__})") from None


def _opt_str(value: Any) -> str | None:
    return str(value) if value is not None else None
