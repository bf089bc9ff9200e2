"""Fixtures shared by the integration tests (the cluster fixtures are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from k8scluster.scenarios import cleanup_cluster_scoped, load_all


@pytest.fixture
def build(api: Any, namespace: str) -> Iterator[Callable[[str], Any]]:
    """Build a named scenario in the test's namespace; clean up what it made cluster-wide."""
    scenarios = load_all()
    try:
        yield lambda name: scenarios[name](api, namespace)
    finally:
        cleanup_cluster_scoped(api, namespace)
