"""Running the CLI with its stdout on a pseudo-terminal: what an on-call engineer sees.

Rich output (colours, trees) is only produced when stdout is a terminal, so tests of what
reaches a terminal must give the tool a real one rather than a pipe.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import struct
import subprocess
import termios
from collections.abc import Mapping


def run_in_pty(
    args: list[str],
    *,
    env: Mapping[str, str] | None = None,
    columns: int = 400,
    no_color: bool = False,
) -> tuple[int, bytes, bytes]:
    """``(exit status, terminal output, stderr)``; stderr is piped, stdin is /dev/null."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, columns, 0, 0))
    base = dict(os.environ if env is None else env)
    for name in ("NO_COLOR", "COLUMNS", "LINES"):
        base.pop(name, None)
    base.update(TERM="xterm-256color", COLUMNS=str(columns))
    if no_color:
        base["NO_COLOR"] = "1"
    proc = subprocess.Popen(
        args, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=base
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError as exc:  # EIO: the child closed its end of the terminal
            if exc.errno != errno.EIO:
                raise
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    stderr = proc.stderr.read() if proc.stderr else b""
    proc.wait(timeout=60)
    return proc.returncode, b"".join(chunks), stderr
