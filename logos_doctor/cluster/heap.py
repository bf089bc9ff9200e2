"""Large blocks kept out of the heap that the decoded objects live in (glibc's malloc only).

glibc serves a block above its mmap threshold (128 KiB at start) with a mapping of its own,
returned to the system when the block is freed.  But the threshold moves: freeing such a
block raises it to that block's size, up to 32 MiB.  A fetch frees large blocks all the time:
page bodies (0.4-2.8 MiB at 500 items on the benchmark cluster) and the arrays its sharing
table outgrows (5 and 10 MiB at scale 1).  Once the threshold has risen past them, they are
carved from the heap instead, between the small objects decoded around them, and when they
are freed the space stays with the process: the objects allocated after them pin the heap's
top.  On the benchmark cluster (55,657 objects) that was 32 MiB of a live run's 216 MiB peak.

Fixing the threshold (at glibc's own starting value) keeps every large block mapped, and
returned when freed, at the cost of a ``mmap``, ``munmap`` and fresh pages per block: about
0.1 s of CPU in that run (docs/performance.md, "Live: large blocks mapped, a smaller table,
and what no check reads").  It changes only where freed memory goes, never what a run
reads; with other C libraries it does nothing.
"""

from __future__ import annotations

import os

M_MMAP_THRESHOLD = -3  # <malloc.h>
THRESHOLD = 128 * 1024  # glibc's DEFAULT_MMAP_THRESHOLD_MIN, its value at start

_done = False


def glibc() -> bool:
    """Whether this process's C library is glibc (``confstr`` names it only there)."""
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):
        return False


def map_large_blocks() -> bool:
    """Fix glibc's mmap threshold (once per process); whether it is now fixed."""
    global _done
    if _done:
        return True
    if not glibc():
        return False
    import ctypes  # only here: the import costs a few milliseconds, and start-up counts

    try:
        libc = ctypes.CDLL(None)
        _done = bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):
        return False
    return _done
