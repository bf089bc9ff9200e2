"""Snapshots: round trip, and one clear SnapshotError for every kind of bad file."""

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from logos_doctor.cluster import snapshot
from logos_doctor.cluster.fetch import _clean
from logos_doctor.cluster.kinds import KINDS
from logos_doctor.cluster.redact import strip_secret
from logos_doctor.errors import SnapshotError
from logos_doctor.state import ClusterInfo, ClusterState, Scope

SECRET = {
    "metadata": {"name": "logos-db-credentials", "namespace": "logos",
                 "annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                                 '{"data":{"password":"Y2FuYXJ5LXZhbHVl"}}', "team": "db"}},
    "type": "Opaque",
    "data": {"password": "Y2FuYXJ5LXZhbHVl", "postgres-password": "Y2FuYXJ5LXZhbHVl"},
}


def state_with(objects: dict) -> ClusterState:
    return ClusterState.build(objects, now=datetime(2026, 11, 1, 3, 0, tzinfo=UTC),
                              scope=Scope(("logos",)),
                              cluster=ClusterInfo("ctx", "https://x", "v1.37.2"))


def test_round_trip_keeps_time_scope_and_cluster(tmp_path: Path) -> None:
    path = tmp_path / "s.json.gz"
    snapshot.save(state_with({"pods": [], "nodes": []}), path)
    loaded = snapshot.load(path)
    assert loaded.now == datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    assert loaded.scope.namespaces == ("logos",)
    assert loaded.cluster.version == "v1.37.2"
    assert loaded.has("pods") and not loaded.has("services")


def test_secret_values_never_reach_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    snapshot.save(state_with({"secrets": [strip_secret(SECRET)]}), path)
    text = path.read_text()
    assert "Y2FuYXJ5LXZhbHVl" not in text and "canary" not in text
    loaded = snapshot.load(path)
    assert loaded.list_of("secrets")[0]["dataKeys"] == ["password", "postgres-password"]
    assert loaded.list_of("secrets")[0]["metadata"]["annotations"] == {"team": "db"}


def test_configmap_values_are_dropped_at_parse_and_on_load(tmp_path: Path) -> None:
    cm = {"metadata": {"name": "logos-config", "namespace": "logos",
                       "annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                                       '{"data":{"app.yaml":"token: cm-canary"}}'}},
          "data": {"app.yaml": "token: cm-canary"}, "binaryData": {"logo.png": "Y20tY2FuYXJ5"}}
    kept = _clean(KINDS["configmaps"], json.loads(json.dumps(cm)))
    assert kept["dataKeys"] == ["app.yaml", "logo.png"] and "cm-canary" not in json.dumps(kept)
    doc = snapshot.to_document(state_with({}))
    doc["objects"]["configmaps"] = [cm]
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(doc))
    loaded = snapshot.load(path).list_of("configmaps")
    assert loaded[0]["dataKeys"] == ["app.yaml", "logo.png"]
    assert "canary" not in json.dumps(loaded) and "Y20t" not in json.dumps(loaded)


def test_a_foreign_file_with_secret_values_is_stripped_on_load(tmp_path: Path) -> None:
    doc = snapshot.to_document(state_with({}))
    doc["objects"]["secrets"] = [SECRET]
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(doc))
    assert "Y2FuYXJ5" not in json.dumps(snapshot.load(path).list_of("secrets"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not valid JSON"),
        (b'{"format": "logos-doctor-snapshot", "version": 1, "takenAt": "2026-', "not valid JSON"),
        (b'{"kind": "List"}', "not a logos-doctor snapshot"),
        (b'{"format": "logos-doctor-snapshot", "version": 9}', "format version 9"),
        (b'{"format": "logos-doctor-snapshot", "version": 1, "takenAt": "x", "objects": {}}',
         "no valid takenAt"),
        (b'{"format": "logos-doctor-snapshot", "version": 1, "takenAt": "2026-11-01T00:00:00Z",'
         b' "objects": {"gizmos": []}}', "unknown kind 'gizmos'"),
        (b'{"format": "logos-doctor-snapshot", "version": 1, "takenAt": "2026-11-01T00:00:00Z",'
         b' "objects": {"pods": [1, 2]}}', "must be a list of objects"),
        (b'{"format": "logos-doctor-snapshot", "version": 1, "takenAt": "2026-11-01T00:00:00Z",'
         b' "objects": {"pods": [{"metadata": 5}]}}', "malformed metadata"),
        (gzip.compress(b'{"format": "logos-doctor-snapshot"}')[:-6], "truncated or corrupt gzip"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(SnapshotError, match=message.replace("(", r"\(").replace("[", r"\[")):
        snapshot.load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="cannot read snapshot"):
        snapshot.load(tmp_path / "absent.json")


def test_every_member_written_beside_the_objects_is_cut_in_one_pass() -> None:
    state = ClusterState.build(
        {"pods": []},
        now=datetime(2026, 11, 1, 3, 0, tzinfo=UTC),
        scope=Scope(("logos",), (("nodes", ("logos",)),)),
        cluster=ClusterInfo("ctx", "https://x", "v1.37.2"),
        unavailable={"secrets": "forbidden"},
        prometheus={"up": 1},
    )
    written = set(snapshot.to_document(state)) - {"objects"}
    assert written == set(snapshot.HEAD)  # a member missing from HEAD would read as null


def _everything(state: ClusterState) -> str:
    return json.dumps(
        [state.objects, str(state.now), state.scope, state.cluster, state.unavailable,
         state.prometheus],
        default=str,
        sort_keys=True,
    )


RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "snapshots"


@pytest.mark.parametrize(
    "path",
    [
        Path(__file__).resolve().parents[2] / "examples" / "broken-logos.json.gz",
        *sorted(RECORDED.glob("*.json.gz"))[::20],
    ],
    ids=lambda p: p.name,
)
def test_a_snapshot_cut_in_one_pass_is_the_one_cut_step_by_step(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from logos_doctor.cluster import snapshot_text

    cut = snapshot_text.document
    seen: list[object] = []
    monkeypatch.setattr(snapshot_text, "document", lambda *a: seen.append(cut(*a)) or seen[-1])
    one_pass = snapshot.load(path)
    assert seen and seen[0] is not None  # the file went the one-pass way
    monkeypatch.setattr(snapshot_text, "document", lambda *a: None)
    assert _everything(snapshot.load(path)) == _everything(one_pass)


def test_a_head_member_out_of_order_absent_or_unknown_reads_as_json_reads_it(
    tmp_path: Path,
) -> None:
    for head in (
        b'"takenAt": "2026-11-01T00:00:00Z", "version": 1, "format": "logos-doctor-snapshot"',
        b'"format": "logos-doctor-snapshot", "version": 1, "takenAt": "2026-11-01T00:00:00Z",'
        b' "notes": {"x": [1, NaN]}, "cluster": null, "scope": {"namespaces": ["a"]}',
        b'"format": "logos-doctor-snapshot", "version": 1, "version": 1,'
        b' "takenAt": "2026-11-01T00:00:00Z", "unavailable": {"pods": "forbidden"}',
    ):
        text = b"{" + head + b', "objects": {"nodes": [{"metadata": {"name": "n"}}]}}'
        path = tmp_path / "s.json"
        path.write_bytes(text)
        by_json = snapshot.from_document(json.loads(text), str(path))
        assert _everything(snapshot.load(path)) == _everything(by_json), head
