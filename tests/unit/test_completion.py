"""`logos-doctor completion bash|zsh|fish`: scripts that really complete commands and checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from logos_doctor.registry import default_registry

BIN = Path(sys.executable).parent
PROG = BIN / "logos-doctor"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROG), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def complete(words: str) -> list[str]:
    """What the bash protocol answers for the command line ``words`` (cursor at the end)."""
    parts = words.split(" ")
    result = run(
        env={
            "_LOGOS_DOCTOR_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(parts) - 1),
        }
    )
    assert result.returncode == 0, result.stderr
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if "," in line]


@pytest.mark.parametrize(
    ("shell", "markers"),
    [
        (
            "bash",
            ["_LOGOS_DOCTOR_COMPLETE=bash_complete", "-F _logos_doctor_completion logos-doctor"],
        ),
        ("zsh", ["#compdef logos-doctor", "_LOGOS_DOCTOR_COMPLETE=zsh_complete"]),
        ("fish", ["--command logos-doctor", "_LOGOS_DOCTOR_COMPLETE=fish_complete"]),
    ],
)
def test_script_is_clicks_for_that_shell(shell: str, markers: list[str]) -> None:
    result = run("completion", shell)
    assert result.returncode == 0, result.stderr
    for marker in markers:
        assert marker in result.stdout


def test_unknown_shell_is_a_usage_error() -> None:
    result = run("completion", "powershell")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "powershell" in result.stderr


def test_commands_complete() -> None:
    assert {"serve", "snapshot"} <= set(complete("logos-doctor s"))
    assert "rbac" in complete("logos-doctor r")


def test_options_complete() -> None:
    assert complete("logos-doctor serve --int") == ["--interval"]


def test_check_ids_complete_after_a_comma() -> None:
    ids = [c.id for c in default_registry()]
    assert complete("logos-doctor rbac --checks ") == ids
    first = ids[0]
    rest = complete(f"logos-doctor rbac --checks {first},")
    assert rest == [f"{first},{i}" for i in ids[1:]]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_through_the_sourced_script() -> None:
    script = run("completion", "bash").stdout
    probe = (
        script
        + "\nCOMP_WORDS=(logos-doctor com); COMP_CWORD=1\n"
        + "_logos_doctor_completion logos-doctor\n"
        + 'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["completion"]
