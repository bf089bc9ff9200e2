"""A fetch keeps glibc from carving page bodies out of the heap (``cluster/heap.py``).

Each case runs in a fresh interpreter: the threshold is process-wide and moves with what the
process has freed before.  The scenario is the fetch's: a large block freed (glibc then
raises its mmap threshold past it), a page body allocated, objects allocated after it, the
body freed.  Only when the threshold is fixed does the body's memory leave the process.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from logos_doctor.cluster.heap import glibc

pytestmark = pytest.mark.skipif(not glibc(), reason="the threshold is glibc's")

PROBE = """
import os, sys

def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

if sys.argv[1] == "fetcher":
    from logos_doctor.cluster.fetch import Fetcher
    Fetcher(None)
elif sys.argv[1] == "fixed":
    from logos_doctor.cluster.heap import map_large_blocks
    assert map_large_blocks() and map_large_blocks()
big = bytearray(16 << 20)
del big
body = bytearray(os.urandom(3 << 20))
after = [bytes(1000) + bytes([i % 256]) for i in range(2000)]
before = rss()
del body
print((before - rss()) / 2**20)
"""


def _returned_mib(mode: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=60, check=True
    )
    return float(done.stdout.strip())


def test_without_the_fix_a_freed_body_stays_with_the_process() -> None:
    # The premise: if glibc ever stops moving its threshold, this fails and the module can go.
    assert _returned_mib("default") < 1


def test_fixed_threshold_returns_a_freed_body() -> None:
    assert _returned_mib("fixed") >= 2.5


def test_a_fetcher_fixes_the_threshold_before_its_first_page() -> None:
    assert _returned_mib("fetcher") >= 2.5
