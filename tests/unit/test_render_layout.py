"""What a person sees at 3 a.m., on the shipped example: the first screen and the ticket.

The report held the right facts but buried them: a 587-column table when piped or with
NO_COLOR, the same block once per pod, the root causes below the fold, markdown with the
root cause last.  These tests hold the layouts to what the issue asked for.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from logos_doctor.cluster.snapshot import load
from logos_doctor.config import Config
from logos_doctor.registry import default_registry
from logos_doctor.render.human import render_plain, with_scope
from logos_doctor.render.markdown import markdown
from logos_doctor.runner import run_checks
from terminal import run_in_pty

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "broken-logos.json.gz"
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def report():  # type: ignore[no-untyped-def]
    state = load(EXAMPLE)
    return run_checks(state, list(default_registry()), Config())


def doctor_piped(columns: int, *args: str) -> str:
    cmd = [sys.executable, "-m", "logos_doctor", "check", "--all", "--snapshot", str(EXAMPLE)]
    cmd += args
    env = {"COLUMNS": str(columns), "PATH": "/usr/bin:/bin"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60).stdout


@pytest.mark.parametrize("columns", [80, 200])
def test_plain_output_fits_the_columns(columns: int) -> None:
    out = doctor_piped(columns)
    assert "ROOT CAUSES" in out
    longest = max(len(line) for line in out.splitlines())
    assert longest <= columns, longest


def test_plain_root_block_fits_an_80_by_24_screen_and_names_the_label_command() -> None:
    out = doctor_piped(80)
    block = out.split("\n\n")[0].splitlines()
    assert block[0].startswith("cluster ") and any("ROOT CAUSES" in ln for ln in block)
    assert len(block) <= 24, "\n".join(block)
    text = " ".join(ln.strip() for ln in block)
    assert "kubectl label node kwok-gpu-0 kwok-gpu-1 nvidia.com/gpu=true" in text


def _screen(columns: int, no_color: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "logos_doctor", "check", "--all", "--snapshot", str(EXAMPLE)]
    code, out, err = run_in_pty(cmd, columns=columns, no_color=no_color)
    assert code == 1, err
    return ANSI.sub(b"", out).decode().replace("\r\n", "\n").splitlines()


@pytest.mark.parametrize("columns", [80, 200])
def test_the_terminal_tree_is_short_and_says_each_workloads_pods_once(columns: int) -> None:
    lines = _screen(columns)
    assert max(len(ln) for ln in lines) <= columns
    if columns == 200:
        assert len(lines) <= 60, len(lines)
    roots = lines[: next(i for i, ln in enumerate(lines) if ln.startswith("Details by"))]
    assert len(roots) <= 24, len(roots)
    text = "\n".join(lines)
    # three pods of logos-chat with one missing image: one entry, the pods named on one line
    assert text.count("image-pull/image-not-found 3 Pods of Deployment/logos/logos-chat") == 2
    assert text.count("cannot pull") <= 2


def test_no_color_keeps_the_layout_and_drops_only_colour() -> None:
    cmd = [sys.executable, "-m", "logos_doctor", "check", "--all", "--snapshot", str(EXAMPLE)]
    _, coloured, _ = run_in_pty(cmd, columns=120)
    _, plain, _ = run_in_pty(cmd, columns=120, no_color=True)
    assert re.search(rb"\x1b\[[0-9;]*3[0-9]m", coloured)  # colour there ...
    assert not re.search(rb"\x1b\[[0-9;]*3[0-9]m", plain)  # ... and gone with NO_COLOR
    # The same text and layout; only the snapshot's age may tick between the two runs.
    age = re.compile(rb"snapshot taken \S+ ago")
    assert age.sub(b"", ANSI.sub(b"", coloured)) == age.sub(b"", ANSI.sub(b"", plain))


def test_evidence_cuts_say_how_much_is_left_and_verbose_shows_it() -> None:
    rep = report()
    short = render_plain(rep, width=200)
    full = render_plain(rep, width=200, verbose=True)
    assert "more (-v)" in short
    assert "more (-v)" not in full
    assert len(full.splitlines()) > len(short.splitlines())


def test_markdown_for_the_ticket_starts_with_the_root_causes() -> None:
    text = markdown(report(), Config(runbook_base_url="https://git.example.com/runbooks"))
    headings = [ln for ln in text.splitlines() if ln.startswith("### ")]
    assert headings[0] == "### Root causes (fix these first)"
    roots = text.split("### Root causes (fix these first)")[1].split("\n### ")[0]
    assert "storage-class/missing" in roots and "gpu-nodes/gpu-label-missing" in roots
    assert "https://git.example.com/runbooks/storage-class.md#missing" in roots
    assert "file://" not in text


def test_hints_repeat_the_flags_that_chose_the_cluster() -> None:
    flags = ["--context", "prod-eu", "-n", "logos"]
    assert with_scope("logos-doctor fix pvc -n logos", flags) == (
        "logos-doctor fix pvc -n logos --context prod-eu"
    )
    out = render_plain(report(), width=200, scope_flags=flags)
    assert "fix: logos-doctor fix storageclass --context prod-eu -n logos" in out
