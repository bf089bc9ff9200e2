"""The installed commands leave the process once a one-shot command's output is written
(``cli/leave.py``), without freeing the run's objects one by one; ``main`` called in-process
ends with the ordinary exit.

Each run below is a fresh interpreter with an exit handler that writes a mark: the mark shows
whether the interpreter's own shutdown ran.  What the command wrote, and its exit status,
must not depend on which way it left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "broken-logos.json.gz"
MARK = "interpreter shutdown ran"
# Buffered as a command's output is when nobody set PYTHONUNBUFFERED (this machine's shells
# do): unbuffered, nothing would be left for the flush before os._exit to write.
BUFFERED = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}

RUN = """
import atexit, sys
atexit.register(lambda: print({mark!r}, file=sys.stderr))
from logos_doctor.cli import {entry}
sys.argv[1:] = {args!r}
{entry}({call})
"""


def _run(entry: str, *args: str) -> subprocess.CompletedProcess[str]:
    call = "sys.argv[1:]" if entry == "main" else ""
    code = RUN.format(mark=MARK, entry=entry, args=list(args), call=call)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=BUFFERED
    )


@pytest.mark.parametrize("fmt", ["json", "table", "markdown"])
def test_the_installed_command_leaves_at_once_with_the_same_output(fmt: str) -> None:
    args = ("check", "--all", "--snapshot", str(EXAMPLE), "-o", fmt)
    fast, slow = _run("script", *args), _run("main", *args)
    assert MARK in slow.stderr and MARK not in fast.stderr
    assert fast.returncode == slow.returncode == 1  # the example's findings
    if fmt == "json":
        mine, theirs = json.loads(fast.stdout), json.loads(slow.stdout)
        for doc in (mine, theirs):  # how long each check took is the one thing that differs
            for result in doc["checks"]:
                result.pop("seconds", None)
        assert mine == theirs and mine["findings"]
    else:
        assert fast.stdout == slow.stdout and len(fast.stdout) > 1000
    assert fast.stderr == slow.stderr.replace(MARK + "\n", "")


def test_errors_and_other_commands_leave_the_ordinary_way() -> None:
    bad = _run("script", "check", "--all", "--snapshot", "/nonexistent.json")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "logos-doctor: error:" in bad.stderr and MARK in bad.stderr
    listed = _run("script", "checks")
    assert listed.returncode == 0 and "image-pull" in listed.stdout and MARK in listed.stderr


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_a_reader_that_went_away_gets_no_traceback(fmt: str) -> None:
    # The reader closes the pipe before the command writes (its output, 46 KB, would fit in
    # a pipe's buffer otherwise, and a reader that read part of it would see no error):
    # the write fails with EPIPE, and either entry leaves the same way, quietly.
    statuses = []
    for entry in ("script", "main"):
        code = RUN.format(
            mark=MARK,
            entry=entry,
            args=["check", "--all", "--snapshot", str(EXAMPLE), "-o", fmt],
            call="sys.argv[1:]" if entry == "main" else "",
        )
        shell = f"{sys.executable} -c {_quote(code)} | (exec 0<&-; sleep 2)" + "\n"
        shell += 'echo "status ${PIPESTATUS[0]}" >&2'
        done = subprocess.run(
            ["bash", "-c", shell], capture_output=True, text=True, timeout=120, env=BUFFERED
        )
        lines = done.stderr.replace(MARK + "\n", "").splitlines()
        assert len(lines) == 1 and lines[0].startswith("status "), done.stderr
        statuses.append(lines[0])
    assert statuses[0] == statuses[1] != "status 0"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def test_what_is_still_buffered_is_written_before_leaving() -> None:
    code = f"""
import atexit, sys
atexit.register(lambda: print({MARK!r}, file=sys.stderr))
from logos_doctor.cli import leave
leave.at_once()
sys.stdout.write("still in the buffer")
sys.stderr.write("and on stderr, with no newline")
leave.done(3)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=BUFFERED
    )
    assert done.returncode == 3 and done.stdout == "still in the buffer"
    assert done.stderr == "and on stderr, with no newline"


SNAPSHOT = """
import atexit, sys
atexit.register(lambda: print({mark!r}, file=sys.stderr))
from pathlib import Path
from logos_doctor.cli import {entry}
import logos_doctor.cli.snapshot as command
from logos_doctor.cluster import snapshot
command.fetch_one = lambda *args, **kwargs: snapshot.load(Path({example!r}))  # no cluster
sys.argv[1:] = ["snapshot", {out!r}, "-A"]
{entry}({call})
"""


@pytest.mark.parametrize("entry", ["script", "main"])
def test_snapshot_leaves_once_its_file_is_written(entry: str, tmp_path: Path) -> None:
    from logos_doctor.cluster import snapshot

    out = tmp_path / "cluster.json.gz"
    code = SNAPSHOT.format(
        mark=MARK,
        entry=entry,
        example=str(EXAMPLE),
        out=str(out),
        call="sys.argv[1:]" if entry == "main" else "",
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=BUFFERED
    )
    assert done.returncode == 0, done.stderr
    assert (MARK in done.stderr) is (entry == "main")
    assert f"wrote {out}:" in done.stderr
    written, example = snapshot.load(out), snapshot.load(EXAMPLE)
    assert written.objects == example.objects and written.objects["pods"]
