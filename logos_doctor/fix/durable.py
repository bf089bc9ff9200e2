"""Files a fix writes so that a kill at any instant leaves either the old file or the new one.

A fix may be killed between any two instructions (the resume tests do exactly that), and its
backups are what the StatefulSet is created again from: a half-written backup would be worse
than none.  So every file is written to a temporary name beside it, fsynced, renamed over
the target, and the directory fsynced.  The names themselves come from the cluster, so they
are made safe as one path component first.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
MAX_BASE = 180  # + extension + mkstemp's ".<name>.XXXXXXXX" stays under NAME_MAX (255)


def file_name(kind: str, name: str, ext: str) -> str:
    """``<kind>-<name><ext>``, safe as one path component and short enough for NAME_MAX.

    Names come from the cluster: anything but letters, digits, ``.``, ``_`` and ``-`` is
    replaced, and a name that had to be changed or cut gets a digest of the original, so two
    different names never share a file.
    """
    safe = _SAFE_NAME.sub("_", name)
    base = f"{_SAFE_NAME.sub('_', kind.lower())}-{safe}"
    if safe != name or len(base) > MAX_BASE:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        base = f"{base[: MAX_BASE - 17]}-{digest}"
    return base + ext


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename, both on disk before returning."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
