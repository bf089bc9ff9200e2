"""An ignore file followed over time, for the long-running exporter (``serve``).

``check`` reads its ignore file once (known.py) and applies it once (annotate.py).  The
exporter runs for weeks, with the file mounted from a ConfigMap that the team edits: each
run it is read again if it changed on disk, and an invalid new text keeps the previous
entries (a typo must not un-silence every known finding at 3 a.m., nor stop the exporter).
Its warnings (expired entries, entries naming nothing installed) are logged when they
change, not at every run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from logos_doctor.annotate import apply_known, installed_causes
from logos_doctor.errors import ConfigError
from logos_doctor.known import IgnoreFile, load_ignore
from logos_doctor.runner import Report

log = logging.getLogger("logos_doctor.serve")


@dataclass
class Silencer:
    """The current entries of one ignore file, and what was last said about them."""

    ignore: IgnoreFile
    catalog: dict[str, list[str]] = field(default_factory=installed_causes)
    _stamp: tuple[int, int] | None = field(init=False, default=None)
    _warned: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        self._stamp = self._read_stamp()

    def apply(self, report: Report, today: date) -> Report:
        """``report`` with the file's entries (read again first if it changed) applied."""
        self._reload()
        out = apply_known(report, self.ignore, today, self.catalog)
        lines = tuple(out.known.warnings()) if out.known is not None else ()
        if lines != self._warned:
            for line in lines:
                log.warning("%s", line.removeprefix("warning: "))
            self._warned = lines
        return out

    def _read_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.ignore.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _reload(self) -> None:
        stamp = self._read_stamp()
        if stamp is None:
            if self._stamp is not None:
                log.warning("ignore file %s: cannot read; keeping its entries", self.ignore.path)
            self._stamp = None
            return
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self.ignore = load_ignore(self.ignore.path)
        except ConfigError as exc:
            log.warning("%s; keeping the previous entries", exc)
            return
        log.info(
            "ignore file %s read again: %d entries", self.ignore.path, len(self.ignore.entries)
        )
