"""Small helpers around the official kubernetes client."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kubernetes import client, config

T = TypeVar("T")


def api_client(kubeconfig: str | Path) -> client.ApiClient:
    """A kubernetes.client.ApiClient for the given kubeconfig file (its current context)."""
    return config.new_client_from_config(config_file=str(kubeconfig))


def wait_for(
    check: Callable[[], T],
    timeout: float,
    what: str,
    interval: float = 0.25,
    describe: Callable[[], str] | None = None,
) -> T:
    """Poll `check` until it returns something truthy; return that value.

    Raises TimeoutError naming `what` (and `describe()`'s output, if given) on timeout.
    Exceptions raised by `check` count as "not yet"; the last one is chained.
    """
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = ""
            if describe is not None:
                try:
                    detail = "\n" + describe()
                except Exception as exc:
                    detail = f"\n(describe failed: {exc})"
            raise TimeoutError(
                f"timed out after {timeout:g}s waiting for {what}{detail}") from last_exc
        time.sleep(interval)
