"""The fetch keeps the cyclic collector out of parsing, and freezes the result only on request.

A one-shot ``check`` freezes its state so that collections during the checks do not walk it;
the exporter and the fix's polling must not, or every run's garbage cycles alive at that
moment would stay in the permanent generation for the life of the process.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from logos_doctor.cluster.fetch import _gc_paused


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    gc.unfreeze()
    gc.enable()
    yield
    gc.unfreeze()
    gc.enable()


def _cycle() -> list[object]:
    garbage: list[object] = []
    garbage.append(garbage)
    return garbage


@pytest.mark.parametrize("freeze", [False, True])
def test_collector_paused_during_the_fetch_and_frozen_only_on_request(freeze: bool) -> None:
    gc.collect()
    with _gc_paused(freeze=freeze):
        assert not gc.isenabled()
        _cycle()
    assert gc.isenabled()
    assert (gc.get_freeze_count() > 0) is freeze
    # Not frozen: the cycle made during the fetch is collectable garbage.
    assert (gc.collect() > 0) is not freeze


def test_concurrent_fetches_resume_and_freeze_once_the_last_ends() -> None:
    outer = _gc_paused(freeze=False)
    inner = _gc_paused(freeze=True)
    outer.__enter__()
    inner.__enter__()
    inner.__exit__(None, None, None)
    assert not gc.isenabled() and gc.get_freeze_count() == 0
    outer.__exit__(None, None, None)
    assert gc.isenabled() and gc.get_freeze_count() > 0


def test_the_collector_stays_off_if_it_was_off() -> None:
    gc.disable()
    with _gc_paused(freeze=False):
        pass
    assert not gc.isenabled()
