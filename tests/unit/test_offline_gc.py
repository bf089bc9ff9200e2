"""A one-shot ``check``, live or offline, keeps the cyclic collector off to the output.

The state, the findings and the report live until the run ends and hold no reference
cycles; the collections the checks and the report triggered only walked them
(docs/performance.md, issue 19).  The collector must be as it was afterwards, for the
callers that go on in the same process (these tests, ``bench/same_findings.py``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logos_doctor import gather
from logos_doctor.cli import check as check_cli
from logos_doctor.cli import main
from logos_doctor.cluster import snapshot as snapshots
from logos_doctor.cluster.fetch import _gc_paused
from logos_doctor.state import ClusterState

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "broken-logos.json.gz"


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    gc.unfreeze()  # snapshot.load froze the example's state
    if was:
        gc.enable()


def test_the_checks_and_the_output_of_an_offline_run_see_no_collector(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, bool] = {}
    run_checks, render = gather.run_checks, check_cli.render

    def checks(*args: Any, **kwargs: Any) -> Any:
        seen["checks"] = gc.isenabled()
        return run_checks(*args, **kwargs)

    def output(*args: Any, **kwargs: Any) -> Any:
        seen["render"] = gc.isenabled()
        return render(*args, **kwargs)

    monkeypatch.setattr(gather, "run_checks", checks)
    monkeypatch.setattr(check_cli, "render", output)
    gc.enable()
    with pytest.raises(SystemExit) as exit_:
        main(["check", "--all", "--snapshot", str(EXAMPLE), "-o", "json"])
    assert exit_.value.code == 1  # the example's findings
    assert '"findings"' in capsys.readouterr().out
    assert seen == {"checks": False, "render": False}
    assert gc.isenabled()  # on again for whoever goes on in this process


def test_a_live_run_sees_no_collector_from_the_fetch_to_the_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, bool] = {}
    run_checks, render = gather.run_checks, check_cli.render

    def fetch_one(*args: Any, **kwargs: Any) -> ClusterState:
        # As a live fetch: its own pause (which must not turn the collector on at its end,
        # since the command had it off first) and its state frozen.
        with _gc_paused(freeze=True):
            seen["fetch"] = gc.isenabled()
            return snapshots.load(EXAMPLE)

    def checks(*args: Any, **kwargs: Any) -> Any:
        seen["checks"] = gc.isenabled()
        return run_checks(*args, **kwargs)

    def output(*args: Any, **kwargs: Any) -> Any:
        seen["render"] = gc.isenabled()
        return render(*args, **kwargs)

    monkeypatch.setattr(gather, "fetch_one", fetch_one)
    monkeypatch.setattr(gather, "run_checks", checks)
    monkeypatch.setattr(check_cli, "render", output)
    gc.enable()
    with pytest.raises(SystemExit) as exit_:
        main(["check", "--all", "-A", "-o", "json"])
    assert exit_.value.code == 1  # the example's findings
    assert '"findings"' in capsys.readouterr().out
    assert seen == {"fetch": False, "checks": False, "render": False}
    assert gc.isenabled()  # on again for whoever goes on in this process


def test_the_pause_leaves_the_collector_as_it_found_it() -> None:
    gc.enable()
    with check_cli._collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with check_cli._collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # it was off before: not turned on by the run
