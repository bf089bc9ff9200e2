"""Bad input gets one clear line, a non-zero exit, and no traceback (unless --debug)."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: "{server}", insecure-skip-tls-verify: true}}
users:
- name: u
  user: {{token: abc}}
contexts:
- name: ctx
  context: {{cluster: c, user: u}}
current-context: ctx
"""


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "logos_doctor", *args], capture_output=True,
                          text=True, timeout=timeout)


def one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unknown_check_is_usage_error() -> None:
    result = run("check", "no-such-check", "--snapshot", "x.json")
    assert result.returncode == 2
    assert "unknown check 'no-such-check'" in one_clear_line(result)


def test_unknown_option_is_usage_error() -> None:
    result = run("check", "--frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--frobnicate" in result.stderr


def test_missing_kubeconfig(tmp_path: Path) -> None:
    result = run("check", "--all", "--kubeconfig", str(tmp_path / "nope"))
    assert result.returncode == 3
    assert "does not exist" in one_clear_line(result)


def test_malformed_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\nclusters: [oops\n")
    result = run("check", "--all", "--kubeconfig", str(path))
    assert result.returncode == 3
    assert "cannot load kubeconfig" in one_clear_line(result)


def test_unknown_context(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(server="https://127.0.0.1:1"))
    result = run("check", "--all", "--kubeconfig", str(path), "--context", "prod")
    assert result.returncode == 3
    assert "prod" in one_clear_line(result)


def test_unreachable_server_fails_fast(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    server = f"https://127.0.0.1:{closed_port()}"
    path.write_text(KUBECONFIG.format(server=server))
    result = run("check", "--all", "--kubeconfig", str(path), "--timeout", "5")
    assert result.returncode == 3
    line = one_clear_line(result)
    assert "connection refused" in line and server in line


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run("--debug", "check", "--all", "--kubeconfig", str(tmp_path / "nope"))
    assert result.returncode == 3
    assert "Traceback" in result.stderr


@pytest.mark.parametrize("content", ["{not json", ""])
def test_bad_snapshot(tmp_path: Path, content: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(content)
    result = run("check", "--all", "--snapshot", str(path))
    assert result.returncode == 3
    assert "not valid JSON" in one_clear_line(result)


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("storageClass: {nmae: x}\n")
    result = run("check", "--all", "--config", str(cfg), "--snapshot", "whatever.json")
    assert result.returncode == 3
    assert "storageClass.'nmae'" in one_clear_line(result)


@pytest.mark.parametrize("namespace", ["Logos", "../secrets", "a" * 64])
def test_bad_namespace_is_a_usage_error(namespace: str) -> None:
    result = run("check", "--all", "--snapshot", "x.json", "-n", namespace)
    assert result.returncode == 2
    assert "is not a namespace name" in one_clear_line(result)


# -- one wording across commands (issue 17) -------------------------------------------------


def test_unknown_context_names_the_contexts_there_are(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(server="https://127.0.0.1:1"))
    for command in (["check"], ["fix", "pvc", "--dry-run"], ["serve"], ["snapshot", "s.json"]):
        result = run(*command, "--kubeconfig", str(path), "--context", "prod-eu")
        assert result.returncode == 3, command
        line = one_clear_line(result)
        assert line == "logos-doctor: error: context prod-eu not found; contexts: ctx", command


def test_fix_dry_run_against_an_unreachable_server_says_so(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    server = f"https://127.0.0.1:{closed_port()}"
    path.write_text(KUBECONFIG.format(server=server))
    result = run("fix", "pvc", "--dry-run", "--kubeconfig", str(path), "--timeout", "5")
    assert result.returncode == 3
    line = one_clear_line(result)
    assert f"cannot connect to the API server {server}: connection refused" in line
    assert "internal error" not in line and "MaxRetryError" not in line
    assert "Nothing was changed" in line


@pytest.mark.parametrize(
    "command", [["fix", "pvc"], ["serve"], ["snapshot", "s.json"], ["check"]]
)  # fmt: skip
def test_only_check_suggests_a_snapshot(tmp_path: Path, command: list[str]) -> None:
    import os

    unset = ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["HOME"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-m", "logos_doctor", *command],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 3
    line = one_clear_line(result)
    assert "no kubeconfig found" in line
    assert ("--snapshot" in line) == (command == ["check"]), line


@pytest.mark.parametrize(
    ("command", "path"),
    [
        (["check", "--frobnicate"], "logos-doctor check"),
        (["check", "-o", "yaml"], "logos-doctor check"),
        (["fix", "pvc", "--bogus"], "logos-doctor fix pvc"),
        (["rbac", "--bogus"], "logos-doctor rbac"),
        (["serve", "--port", "x"], "logos-doctor serve"),
        (["no-such-command"], "logos-doctor"),
    ],
)
def test_click_usage_errors_are_one_line_with_a_help_hint(command: list[str], path: str) -> None:
    result = run(*command)
    assert result.returncode == 2
    line = one_clear_line(result)
    assert line.startswith("logos-doctor: error: ") and line.endswith(f"try '{path} --help'")
