"""Running one step: bash in its own process group, output echoed and kept, a deadline, and
the cluster the steps talk to (``KUBECONFIG``, ``--context``)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from logos_doctor.errors import DoctorError, UsageError


@dataclass
class Result:
    """What a step did."""

    exit_code: int
    lines: list[str]
    seconds: float
    timed_out: bool


def execute(
    script: str,
    env: Mapping[str, str],
    timeout: float,
    echo: Callable[[str], None],
) -> Result:
    """Run one step, echoing and keeping its output (stdout and stderr interleaved).

    The step gets its own process group with no stdin (answers meant for us must never be
    eaten by a step); once bash exits, anything it left running in the background is
    terminated, so a forgotten ``kubectl port-forward &`` cannot hang the run.
    """
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as exc:
        raise DoctorError(f"cannot start bash: {exc}", "runbook steps need bash") from None
    lines: list[str] = []
    pipe: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(proc, pipe), daemon=True)
    reader.start()
    timed_out = False
    exited: float | None = None
    with _killing_group_on_exit(proc):
        deadline = start + timeout
        while True:
            try:
                line = pipe.get(timeout=0.1)
            except queue.Empty:
                now = time.monotonic()
                if proc.poll() is not None:
                    # bash is done; background leftovers still hold the pipe open
                    exited = exited or now
                    stubborn = now - exited > 2
                    _signal_group(proc, signal.SIGKILL if stubborn else signal.SIGTERM)
                elif now > deadline:
                    timed_out = True
                    _signal_group(proc, signal.SIGKILL)
                continue
            if line is None:
                break
            lines.append(line)
            echo(line)
        code = proc.wait()
    if timed_out:
        code = 124
    return Result(code, lines, time.monotonic() - start, timed_out)


def execute_on_terminal(script: str, env: Mapping[str, str], timeout: float) -> Result:
    """Run a step that needs the terminal (an editor): attached to it, output not kept."""
    start = time.monotonic()
    try:
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            env=dict(env),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Result(124, [], time.monotonic() - start, True)
    except OSError as exc:
        raise DoctorError(f"cannot start bash: {exc}", "runbook steps need bash") from None
    note = "(ran on the terminal, in an editor: its session is not recorded)"
    return Result(done.returncode, [note], time.monotonic() - start, False)


def _read_lines(proc: subprocess.Popen[bytes], pipe: queue.Queue[str | None]) -> None:
    assert proc.stdout is not None
    for raw in iter(proc.stdout.readline, b""):
        pipe.put(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
    pipe.put(None)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


@contextmanager
def _killing_group_on_exit(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    try:
        yield
    finally:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        else:
            _signal_group(proc, signal.SIGTERM)


@dataclass
class Target:
    """The cluster the steps talk to: their environment, and what the transcript says."""

    env: dict[str, str]
    context: str
    server: str | None
    kubeconfig: str | None  # as shown, without our temporary file
    temp: Path | None

    def close(self) -> None:
        """Remove the temporary context file."""
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)


def target(kubeconfig: str | None, context: str | None) -> Target:
    """The steps' environment pointing at the chosen cluster.

    kubectl has no environment variable for a context, so ``--context`` becomes a tiny
    kubeconfig that sets only ``current-context``, listed first in ``KUBECONFIG``: the first
    file that sets it wins when kubectl, helm or client-go merge the list.
    """
    env = dict(os.environ)
    paths: list[str] = []
    if kubeconfig:
        path = Path(kubeconfig).expanduser()
        if not path.is_file():
            raise UsageError(f"kubeconfig {kubeconfig} does not exist")
        paths = [str(path.resolve())]
    elif env.get("KUBECONFIG"):
        paths = [p for p in env["KUBECONFIG"].split(os.pathsep) if p]
    else:
        home = Path("~/.kube/config").expanduser()
        paths = [str(home)] if home.is_file() else []
    shown = os.pathsep.join(paths)
    tmp: Path | None = None
    if context:
        fd, name = tempfile.mkstemp(prefix="logos-doctor-context-", suffix=".yaml")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": context,
                    "clusters": [],
                    "contexts": [],
                    "users": [],
                    "preferences": {},
                },
                fh,
            )
        tmp = Path(name)
        paths = [name, *paths]
    if paths:
        env["KUBECONFIG"] = os.pathsep.join(paths)
    if kubeconfig:
        env["LOGOS_DOCTOR_KUBECONFIG"] = env["KUBECONFIG"]
    ctx_name, server = _current_context(paths, context)
    return Target(env, ctx_name, server, shown or None, tmp)


def _current_context(paths: Sequence[str], context: str | None) -> tuple[str, str | None]:
    """The context the steps will use and its server, read as kubectl merges the files."""
    current = context
    contexts: dict[str, Any] = {}
    clusters: dict[str, Any] = {}
    for path in paths:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(data, dict):
            continue
        current = current or data.get("current-context") or None
        for item in data.get("contexts") or []:
            if isinstance(item, dict) and item.get("name"):
                contexts.setdefault(item["name"], item.get("context") or {})
        for item in data.get("clusters") or []:
            if isinstance(item, dict) and item.get("name"):
                clusters.setdefault(item["name"], item.get("cluster") or {})
    if not current:
        return ("(none: no kubeconfig)" if not paths else "(no current context)"), None
    cluster = (contexts.get(current) or {}).get("cluster")
    server = (clusters.get(cluster) or {}).get("server") if cluster else None
    return str(current), str(server) if server else None
