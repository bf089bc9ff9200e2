"""The snapshot file read one object at a time (cluster/snapshot_text.py).

What it builds must be what ``json.loads`` of the whole file gave, value for value and key
for key, on any text: the values msgspec refuses (NaN, a number beyond a double, a lone
surrogate, an integer beyond 64 bits) included.  Sharing must reach below the objects and
never the objects or their metadata.
"""

import gzip
import json
import math
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logos_doctor.cluster import snapshot, snapshot_text

HEAD = {"format": snapshot.FORMAT, "version": snapshot.VERSION, "takenAt": "2026-11-01T03:00:00Z"}

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["\ud800", "é", "\U0001f600", "1e400", ""]),
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _monitor(name: str, spec: Any) -> dict[str, Any]:
    # ServiceMonitors are custom resources: their spec is free-form, so any JSON fits.
    return {
        "kind": "ServiceMonitor",
        "metadata": {"name": name, "namespace": "logos"},
        "spec": spec,
    }


def _as_json(state_objects: dict[str, Any]) -> str:
    return json.dumps(state_objects, allow_nan=True)  # NaN != NaN: compare the text


def _loaded_both_ways(path: Path, text: str) -> tuple[str, str]:
    by_json = snapshot.from_document(json.loads(text), "s")
    return _as_json(snapshot.load(path).objects), _as_json(by_json.objects)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    specs=st.lists(VALUES, min_size=1, max_size=5),
    indent=st.sampled_from([None, 1]),
    big=st.booleans(),
    share_from=st.sampled_from([0, snapshot_text.SHARE_FROM]),
)
def test_any_values_load_as_json_loads_them(
    tmp_path: Path, specs: list[Any], indent: int | None, big: bool, share_from: int
) -> None:
    # ``big`` repeats each spec in a long text, so containers are split and shared too.
    items = [
        _monitor(f"m{i}", [spec, "x" * 130] if big else spec)
        for i, spec in enumerate(specs + specs)
    ]
    text = json.dumps({**HEAD, "objects": {"servicemonitors": items}}, indent=indent)
    path = tmp_path / "s.json"
    path.write_text(text)
    # share_from 0: every file is built with equal texts shared, as a large one is.
    with mock.patch.object(snapshot_text, "SHARE_FROM", share_from):
        streamed, whole = _loaded_both_ways(path, text)
    assert streamed == whole


def _two_pods(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    containers = [
        {
            "name": "web",
            "image": "registry.example/logos-web:1.4.2",
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}},
        }
    ]
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"logos-web-{i}",
                "namespace": "logos",
                "labels": {"app": "logos-web"},
            },
            "spec": {"nodeName": f"node-{i}", "containers": containers},
        }
        for i in range(2)
    ]
    path = tmp_path / "s.json"
    path.write_text(json.dumps({**HEAD, "objects": {"pods": pods}}))
    return path, pods


def test_equal_text_is_one_object_below_each_object_and_its_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, pods = _two_pods(tmp_path)
    monkeypatch.setattr(snapshot_text, "SHARE_FROM", path.stat().st_size)  # just large enough
    a, b = snapshot.load(path).list_of("pods")
    assert a == pods[0] and b == pods[1]
    assert a["spec"]["containers"] is b["spec"]["containers"]  # 222 bytes of text: split
    assert a["metadata"]["labels"] is b["metadata"]["labels"]  # short: kept whole
    assert a["metadata"]["namespace"] is b["metadata"]["namespace"]
    assert a is not b and a["metadata"] is not b["metadata"] and a["spec"] is not b["spec"]


def test_a_file_below_the_sharing_size_is_built_without_sharing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, pods = _two_pods(tmp_path)
    monkeypatch.setattr(snapshot_text, "SHARE_FROM", path.stat().st_size + 1)
    a, b = snapshot.load(path).list_of("pods")
    assert a == pods[0] and b == pods[1]
    assert a["spec"]["containers"] is not b["spec"]["containers"]
    assert a["metadata"]["labels"] is not b["metadata"]["labels"]


def test_values_msgspec_refuses_are_read_as_json_reads_them(tmp_path: Path) -> None:
    text = json.dumps(
        {
            **HEAD,
            "objects": {
                "servicemonitors": [
                    _monitor("a", {"n": 1e400}),
                    _monitor("b", {"s": "\ud800", "i": 2**70}),
                    _monitor("c", {"x": float("nan")}),
                ]
            },
        }
    )
    assert "Infinity" in text and "NaN" in text
    path = tmp_path / "s.json"
    path.write_text(text)
    spec = [m["spec"] for m in snapshot.load(path).list_of("servicemonitors")]
    assert spec[0] == {"n": math.inf} and spec[1] == {"s": "\ud800", "i": 2**70}
    assert math.isnan(spec[2]["x"])


def test_a_gzip_file_and_a_plain_one_load_alike(tmp_path: Path) -> None:
    text = json.dumps({**HEAD, "objects": {"servicemonitors": [_monitor("a", {"k": [1, 2]})]}})
    plain, packed = tmp_path / "s.json", tmp_path / "s.json.gz"
    plain.write_text(text)
    packed.write_bytes(gzip.compress(text.encode()))
    assert snapshot.load(plain).objects == snapshot.load(packed).objects


def test_secret_values_are_stripped_when_read_one_by_one(tmp_path: Path) -> None:
    secret = {
        "metadata": {"name": "logos-db-credentials", "namespace": "logos"},
        "type": "Opaque",
        "data": {"password": "Y2FuYXJ5LXZhbHVl"},
    }
    pod = {
        "metadata": {"name": "p", "namespace": "logos"},
        "spec": {"containers": [], "nodeSelector": {"password": "Y2FuYXJ5LXZhbHVl"}},
    }
    path = tmp_path / "s.json"
    path.write_text(json.dumps({**HEAD, "objects": {"secrets": [secret], "pods": [pod]}}))
    state = snapshot.load(path)
    assert state.list_of("secrets")[0]["dataKeys"] == ["password"]
    assert "Y2FuYXJ5" not in json.dumps(state.list_of("secrets"))
    assert state.list_of("pods")[0]["spec"]["nodeSelector"] == {"password": "Y2FuYXJ5LXZhbHVl"}
