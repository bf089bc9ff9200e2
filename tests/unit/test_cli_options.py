"""The shared option group: same flags, same help, one ``ClusterOptions`` per command."""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner

from logos_doctor.cli import cli
from logos_doctor.cli.options import ClusterOptions, cluster_options
from logos_doctor.errors import UsageError


def _probe(**kw: Any) -> tuple[click.Command, list[ClusterOptions]]:
    seen: list[ClusterOptions] = []

    @click.command()
    @cluster_options(**kw)
    def probe(cluster: ClusterOptions) -> None:
        seen.append(cluster)

    return probe, seen


def test_every_part_lands_in_one_frozen_value() -> None:
    cmd, seen = _probe(checks=True, many_contexts=True)
    args = ["pods", "--checks", "nodes,storage-class", "--checks", "pods", "-n", "team-a"]
    args += ["--kubeconfig", "/k", "--context", "a", "--context", "b", "--timeout", "7"]
    args += ["--config", "c.yaml"]
    result = CliRunner().invoke(cmd, args)
    assert result.exit_code == 0, result.output
    (opts,) = seen
    assert opts == ClusterOptions(
        kubeconfig="/k",
        contexts=("a", "b"),
        timeout=7.0,
        namespace="team-a",
        config_path="c.yaml",
        check_ids=("pods", "nodes", "storage-class"),
    )
    with pytest.raises(AttributeError):
        opts.namespace = "x"  # type: ignore[misc]
    with pytest.raises(UsageError, match="give --context once"):
        opts.one_context("a fix")
    assert opts.hint_flags() == ["--kubeconfig", "/k", "-n", "team-a"]


def test_defaults_are_the_old_defaults() -> None:
    cmd, seen = _probe()
    assert CliRunner().invoke(cmd, []).exit_code == 0
    assert seen == [ClusterOptions()]
    assert seen[0].timeout == 30.0 and seen[0].one_context() is None


def test_a_one_cluster_command_refuses_a_second_context() -> None:
    cmd, seen = _probe()
    assert CliRunner().invoke(cmd, ["--context", "a", "--context", "b"]).exit_code == 0
    with pytest.raises(UsageError, match="serve works on one cluster"):
        seen[0].one_context("serve")
    cmd, seen = _probe(scope=False, config=False, timeout=False)
    result = CliRunner().invoke(cmd, ["-n", "x"])
    assert result.exit_code == 2 and not seen


SHARED = ("--kubeconfig", "--context", "--timeout", "--namespace", "--config", "--values")


def _options(path: list[str]) -> dict[str, click.Option]:
    ctx = click.Context(cli)
    cmd: click.Command | None = cli
    for name in path:
        assert isinstance(cmd, click.Group)
        cmd = cmd.get_command(ctx, name)
    assert cmd is not None
    return {o: p for p in cmd.params if isinstance(p, click.Option) for o in p.opts}


@pytest.mark.parametrize(
    "path", [["check"], ["serve"], ["snapshot"], ["fix", "pvc"], ["fix", "storageclass"]]
)
def test_commands_that_reach_a_cluster_share_the_same_flags(path: list[str]) -> None:
    reference = _options(["check"])
    mine = _options(path)
    for flag in SHARED:
        assert flag in mine, f"{' '.join(path)} lost {flag}"
        if flag not in ("--context", "--namespace"):
            assert mine[flag].help == reference[flag].help, flag
            assert mine[flag].default == reference[flag].default, flag


@pytest.mark.parametrize("path", [["check"], ["serve"], ["rbac"]])
def test_check_selection_is_spelled_the_same(path: list[str]) -> None:
    mine = _options(path)
    assert "--checks" in mine and "--all" in mine


COMMANDS = [
    ["check"], ["checks"], ["snapshot"], ["serve"], ["rbac"], ["fix", "pvc"],
    ["fix", "storageclass"], ["runbook", "list"], ["runbook", "show"], ["runbook", "run"],
    [], ["fix"], ["runbook"], ["completion"],
]  # fmt: skip


@pytest.mark.parametrize("path", COMMANDS)
def test_every_help_ends_with_two_to_four_examples(path: list[str]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    tail = result.output.rstrip().split("Examples:")[-1].strip().splitlines()
    assert "Examples:" in result.output and 2 <= len(tail) <= 4, result.output
    assert all("logos-doctor " in line for line in tail), tail


def test_check_help_lists_the_installed_check_ids() -> None:
    from logos_doctor.registry import default_registry

    out = CliRunner().invoke(cli, ["check", "--help"]).output
    listed = " ".join(out.split("Checks (CHECK):")[1].split("Examples:")[0].split())
    assert listed == ", ".join(c.id for c in default_registry())


def test_snapshot_takes_the_file_as_an_argument_and_o_still_works() -> None:
    out = CliRunner().invoke(cli, ["snapshot", "--help"]).output
    assert "[OPTIONS] FILE" in out and "-o, --output" not in out  # -o is a format elsewhere
    result = CliRunner().invoke(cli, ["snapshot", "a.json", "-o", "b.json"])
    assert isinstance(result.exception, UsageError) and "FILE once" in str(result.exception)
