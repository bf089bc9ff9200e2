"""When the real node cannot start, `scripts/testcluster up` still succeeds: the reason is
recorded where the tests that need the node read it (tests/k8scluster/realnode.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from k8scluster import realnode
from k8scluster.cluster import State


class MemoryState(State):
    """A cluster state that is never written to disk."""

    def save(self) -> None:
        pass


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOGOS_TESTCLUSTER_DIR", str(tmp_path))
    return tmp_path


def test_a_node_that_cannot_start_is_recorded_not_raised(state_dir: Path) -> None:
    state = MemoryState({"server": "https://127.0.0.1:1", "procs": {}})
    rec: dict[str, Any] = realnode.up(state, state_dir / "no-such-bin", quiet=True)
    assert rec["ready"] is False
    assert state.data["realnode"] is rec
    why = rec["reason"]
    if os.geteuid() == 0:
        bin_dir = state_dir / "no-such-bin"
        assert why == f"no kubelet in {bin_dir} (scripts/build-k8s-binaries builds it)"
    else:
        assert why.startswith("needs root")
    assert (state_dir / "logs" / "realnode.txt").read_text().startswith(why)
    assert not (state_dir / "realnode").exists(), "nothing was set up before the preflight"


def test_without_a_cluster_the_skip_reason_says_how_to_start_it(state_dir: Path) -> None:
    why = realnode.unavailable_reason()
    assert why is not None and "scripts/testcluster realnode up" in why
