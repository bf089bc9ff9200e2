"""Runbooks: every one parses, renders, covers its checks' causes, and can be run safely.

The on-call engineer reaches a runbook from a finding (``pvc-pending#storage-class-missing``)
and runs its steps with the finding's names filled in.  These tests hold the runbooks in the
package to that: a section per cause, every parameter declared, every ``logos-doctor``
command they show accepted by the real CLI, every step valid bash, and no value, however
hostile, ever turning into shell syntax.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import shlex
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from logos_doctor import runbook as rb
from logos_doctor.cli import cli
from logos_doctor.errors import UsageError
from logos_doctor.registry import default_registry
from logos_doctor.runbook.transcript import StepRecord, Transcript, transcript_path, trim
from logos_doctor.runbook_links import runbook_path, runbook_url

SNAPSHOTS = Path(__file__).resolve().parents[1] / "fixtures" / "snapshots"
RUNBOOK_IDS = rb.runbook_ids()
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "broken-logos.json.gz"
CHECKS = list(default_registry())

HOSTILE = [
    "x; rm -rf /",
    "$(id)",
    "`id`",
    "a b",
    "a\nb",
    "../../etc/passwd",
    "'quoted'",
    '"dq"',
    "name|cat",
    "-n kube-system",
    "--all-namespaces",
    "Upper",
    "a&&b",
    "${HOME}",
    "",
]


@functools.cache
def recorded_documents() -> dict[str, dict]:
    """``check --all -o json`` of the shipped example and of every recorded scenario."""
    docs = {}
    for snap in [EXAMPLE, *sorted(SNAPSHOTS.glob("*.json.gz"))]:
        name = snap.name.removesuffix(".json.gz")
        args = ["check", "--all", "--snapshot", str(snap), "-o", "json"]
        config = snap.with_name(f"{name}.config.yaml")
        if config.exists():
            args += ["--config", str(config)]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code in (0, 1), result.output
        docs[name] = json.loads(result.output)
    return docs


def recorded_findings() -> list[dict]:
    """Every finding of every recorded document, root causes first."""
    found = [f for doc in recorded_documents().values() for f in rb.findings_in(doc)]
    return sorted(found, key=lambda f: not f.get("root_cause"))


def parse_cli(args: list[str]) -> None:
    """Parse a command line with the real click group and subcommands, running nothing."""
    command: click.Command = cli
    ctx = command.make_context("logos-doctor", list(args))
    while isinstance(command, click.Group):
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            assert command.invoke_without_command, f"{args}: missing subcommand"
            return
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None and name is not None
        command = sub
        ctx = command.make_context(name, rest, parent=ctx)


# -- every packaged runbook ------------------------------------------------------------------


def test_the_on_call_procedures_of_the_guide_are_shipped() -> None:
    for rid in (
        "verify-deployment",
        "recover-pending-pvcs",
        "imagepullbackoff",
        "service-connectivity",
        "gpu-node-pool",
        "hpa-scaling",
        "postgresql-backup-restore",
        "redis-snapshot",
        "manual-scaling",
    ):
        assert rid in RUNBOOK_IDS


@pytest.mark.parametrize("rid", RUNBOOK_IDS)
def test_runbook_parses_and_lints_clean(rid: str) -> None:
    book = rb.load(rid)
    assert book.id == rid
    assert rb.lint(book) == []
    assert book.steps, "a runbook without a single step cannot be run"


@pytest.mark.parametrize("rid", RUNBOOK_IDS)
def test_every_step_is_valid_bash_once_filled_from_a_recorded_finding(rid: str) -> None:
    """What bash runs (values in the environment) and what the operator reads (values filled
    in) both parse, with the names of a real finding for this runbook where one exists."""
    book = rb.load(rid)
    finding = next((f for f in recorded_findings() if rb.runbook_of(f) == rid), None)
    from_finding = rb.params_from_finding(finding) if finding else {}
    for step in book.steps:
        values = rb.sample_values(book, step.params)
        for name in step.params:
            with contextlib.suppress(KeyError, UsageError):
                values[name] = book.params[name].validate(from_finding[name])
        for text in (step.script(values), step.show(values)):
            assert not rb.PLACEHOLDER.search(text), f"{rid}/{step.id} left a placeholder"
            result = subprocess.run(["bash", "-n", "-c", text], capture_output=True, text=True)
            assert result.returncode == 0, f"{rid}/{step.id}: {result.stderr}"
        for name in step.params:
            assert name in step.env(values)


@pytest.mark.parametrize("rid", RUNBOOK_IDS)
def test_every_logos_doctor_command_shown_parses_with_the_real_cli(rid: str) -> None:
    book = rb.load(rid)
    for line, command in rb.cli_commands(book):
        names = [m.group(1) for m in rb.PLACEHOLDER.finditer(command)]
        values = rb.sample_values(book, names)
        filled = rb.PLACEHOLDER.sub(lambda m, v=values: v[m.group(1)], command)
        args = shlex.split(filled)[1:]
        try:
            parse_cli(args)
        except click.exceptions.ClickException as exc:
            pytest.fail(f"{book.source}:{line}: {command!r} does not parse: {exc.format_message()}")


@pytest.mark.parametrize("rid", RUNBOOK_IDS)
def test_show_renders_the_runbook_and_each_cause(rid: str) -> None:
    book = rb.load(rid)
    runner = CliRunner()
    whole = runner.invoke(cli, ["runbook", "show", rid])
    assert whole.exit_code == 0, whole.output
    assert f"# {book.title}" in whole.output
    assert "{id=" not in whole.output  # step attributes are turned into labels
    for cause in book.causes:
        part = runner.invoke(cli, ["runbook", "show", rid, "--cause", cause])
        assert part.exit_code == 0, part.output
        assert f"### {cause}" in part.output
        assert "## Diagnosis" in part.output
        others = [c for c in book.causes if c != cause]
        assert not any(f"### {c}\n" in part.output for c in others)


def test_show_accepts_the_id_hash_cause_that_check_prints() -> None:
    result = CliRunner().invoke(cli, ["runbook", "show", "pvc-pending#storage-class-missing"])
    assert result.exit_code == 0
    assert "### storage-class-missing" in result.output
    assert "### provisioning-failed" not in result.output


def test_show_names_the_causes_when_one_is_unknown() -> None:
    result = CliRunner().invoke(cli, ["runbook", "show", "pvc-pending", "--cause", "nope"])
    assert result.exit_code != 0
    assert "storage-class-missing" in str(result.exception)


def test_list_shows_every_runbook_with_its_checks() -> None:
    result = CliRunner().invoke(cli, ["runbook", "list", "-o", "json"])
    assert result.exit_code == 0
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    loadable = set()
    for rid in RUNBOOK_IDS:
        try:
            rb.load(rid)
            loadable.add(rid)
        except rb.RunbookError:  # reported by test_runbook_parses_and_lints_clean
            assert f"runbook {rid} is broken" in result.stderr
    assert set(rows) == loadable
    assert rows["pvc-pending"]["checks"] == ["pvc-pending"]
    assert "storage-class-missing" in rows["pvc-pending"]["causes"]


# -- checks and their runbooks ---------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_every_check_has_a_runbook_with_a_section_per_cause(check) -> None:  # type: ignore[no-untyped-def]
    assert check.runbook in RUNBOOK_IDS, f"no runbooks/{check.runbook}.md for check {check.id}"
    book = rb.load(check.runbook)
    assert check.id in book.checks
    missing = [c for c in check.causes if book.section(c, parent="mitigation") is None]
    assert not missing, f"{book.source} lacks a '### <cause>' section for: {', '.join(missing)}"
    assert book.section("fix-safety") is not None, f"{book.source} lacks '## Fix safety'"


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_check_links_land_on_the_cause_heading(check) -> None:  # type: ignore[no-untyped-def]
    if check.runbook not in RUNBOOK_IDS:
        pytest.skip("runbook not written yet (see the test above)")
    path = runbook_path(check.runbook)
    assert path.is_file()
    headings = {
        rb.slugify(line.lstrip("#").strip())
        for line in path.read_text().splitlines()
        if line.startswith("### ")
    }
    for cause in check.causes:
        url = runbook_url(check.runbook, cause)
        assert url.endswith(f"{check.runbook}.md#{cause}")
        assert url.rpartition("#")[2] in headings


# -- the format's rules ----------------------------------------------------------------------

MINIMAL = """---
id: demo
title: Demo
params:
  namespace: {description: Namespace, default: logos}
  pod: {description: The pod}
---
# Demo
## Meaning
m
## Impact
i
## Diagnosis
```sh {id=look kind=diagnose}
kubectl get pod {{pod}} -n {{namespace}}
```
## Mitigation
general
### broken
```sh {id=mend kind=change}
kubectl delete pod {{pod}} -n {{namespace}}
```
"""


def test_a_run_walks_diagnosis_then_the_cause() -> None:
    book = rb.parse(MINIMAL, "demo.md")
    assert [s.id for s in book.steps_for("broken")] == ["look", "mend"]
    assert [s.id for s in book.steps_for(None)] == ["look"]
    assert [s.kind for s in book.steps_for("broken")] == ["diagnose", "change"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("kubectl get pod {{pod}}", "kubectl get pod {{pdo}}"), "not declared"),
        (("kind=diagnose}", "kind=diagnose expect=x}"), "expect must be"),
        (("kind=change}", "kind=change may-fail=true}"), "may not fail unnoticed"),
        (("kind=diagnose}", "kind=diagnose sudo=yes}"), "unknown step attribute"),
        (("kind=diagnose}", "kind=destroy}"), "kind must be"),
        (("{id=mend kind", "{id=look kind"), "used twice"),
        (("## Impact\n", "## Impakt\n"), "missing section"),
        (("id: demo", "id: ../demo"), "id must be"),
    ],
)
def test_malformed_runbooks_are_refused_with_the_reason(
    change: tuple[str, str], message: str
) -> None:
    text = MINIMAL.replace(*change)
    with pytest.raises(rb.RunbookError, match=message):
        rb.parse(text, "demo.md")


def test_values_travel_in_the_environment_except_in_here_documents() -> None:
    code = "cat <<'EOF'\nname: {{a}}\nEOF\necho {{b}} # about {{c}}\necho \"x {{d}}\"\n"
    step = rb.Step("s", "diagnose", code, "diagnosis", 0, heredoc_lines=rb.heredoc_lines(code))
    values = {"a": "sc-1", "b": "pod-1", "c": "c-1", "d": "d-1"}
    assert step.script(values) == (
        'cat <<\'EOF\'\nname: sc-1\nEOF\necho "${b}" # about "${c}"\necho "x "${d}""\n'
    )
    assert (
        step.show(values)
        == "cat <<'EOF'\nname: sc-1\nEOF\necho pod-1 # about c-1\necho \"x d-1\"\n"
    )
    out = subprocess.run(
        ["bash", "-c", step.script(values)], env=step.env(values), capture_output=True, text=True
    )
    assert out.stdout == "name: sc-1\npod-1\nx d-1\n"
    with pytest.raises(UsageError, match="here-document"):
        step.script({**values, "a": "two words"})


def test_lint_flags_a_placeholder_bash_would_never_expand() -> None:
    text = MINIMAL.replace("kubectl get pod {{pod}} -n", "echo '{{pod}}' -n")
    assert any("single quotes" in p for p in rb.lint(rb.parse(text, "demo.md")))
    fine = MINIMAL.replace("kubectl get pod {{pod}} -n", "echo \"{{pod}}\" \\'x\\' -n")
    assert not [p for p in rb.lint(rb.parse(fine, "demo.md")) if "single quotes" in p]


def test_lint_catches_steps_that_would_print_secret_values() -> None:
    for bad in (
        "kubectl get secret regcred -n {{namespace}} -o yaml",
        "kubectl get secrets -n {{namespace}} -o json",
        "kubectl get secret regcred -n {{namespace}} -o jsonpath='{.data}'",
        "kubectl get secret regcred -n {{namespace}} -o go-template='{{range .data}}{{.}}{{end}}'",
        "kubectl exec {{pod}} -n {{namespace}} -- env",
        "kubectl get secret x -n {{namespace}} -o jsonpath='{.type}' | base64 -d",
        "kubectl create secret generic x -n {{namespace}} --from-literal=password=hunter2",
    ):
        text = MINIMAL.replace("kubectl get pod {{pod}} -n {{namespace}}", bad)
        try:
            book = rb.parse(text, "demo.md")
        except rb.RunbookError:
            continue  # refused even earlier: fine
        assert rb.lint(book), bad
    fine = "kubectl get secret regcred -n {{namespace}} -o jsonpath='{.type}'"
    book = rb.parse(MINIMAL.replace("kubectl get pod {{pod}} -n {{namespace}}", fine), "d.md")
    assert not [p for p in rb.lint(book) if "secret" in p.lower()]


# -- parameters: validated, then quoted --------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_names_are_refused(value: str) -> None:
    with pytest.raises(UsageError):
        rb.Param("pod", "The pod").validate(value)


@pytest.mark.parametrize("value", [v for v in HOSTILE if v])
def test_a_hostile_value_reaches_bash_as_data_only(value: str) -> None:
    """Even if validation were bypassed, the value is an environment variable: bash never
    parses it, in a word, next to other text, or in a comment."""
    code = "printf '%s\\n' {{v}} x{{v}}y # {{v}}\n"
    step = rb.Step("s", "diagnose", code, "diagnosis", 0)
    out = subprocess.run(
        ["bash", "-c", step.script({"v": value})],
        env={"PATH": "/usr/bin:/bin", **step.env({"v": value})},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == f"{value}\nx{value}y\n"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_accepted_value_is_a_single_plain_shell_word(text: str) -> None:
    for kind in rb.PARAM_TYPES:
        try:
            value = rb.Param("p", "d", type=kind).validate(text)
        except UsageError:
            continue
        assert shlex.quote(value) == value
        assert shlex.split(value) == [value]


def test_parameter_types_accept_what_the_runbooks_need() -> None:
    accept = {
        "name": ["logos", "data-logos-postgresql-0", "ebs.csi.aws.com"],
        "int": ["0", "180"],
        "port": ["80", "65535"],
        "label": ["nvidia.com/gpu=true"],
        "image": ["registry.logos.example/logos/web:1.0", "logos/web@sha256:" + "a" * 64],
        "path": ["backup.sql", "/tmp/x.sql"],
    }
    for kind, values in accept.items():
        for value in values:
            assert rb.Param("p", "d", type=kind).validate(value) == value
    with pytest.raises(UsageError):
        rb.Param("p", "d", type="port").validate("70000")
    home = rb.Param("p", "d", type="path").validate("~/backup.sql")
    assert home.startswith("/") and home.endswith("/backup.sql")


# -- from a finding to parameters --------------------------------------------------------------


def _check_json(name: str) -> dict:
    result = CliRunner().invoke(
        cli,
        [
            "check",
            "--snapshot",
            str(SNAPSHOTS / f"{name}.json.gz"),
            "--config",
            str(SNAPSHOTS / f"{name}.config.yaml"),
            "-o",
            "json",
        ],
    )
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


def _chat_not_found(finding: dict) -> bool:
    return finding["check"] == "image-pull" and finding["cause"] == "image-not-found"


def test_a_recorded_finding_fills_namespace_pod_workload_image_and_container() -> None:
    doc = _check_json("image_pull_faults")
    finding = next(f for f in rb.findings_in(doc) if _chat_not_found(f))
    params = rb.params_from_finding(finding)
    assert params["namespace"] == finding["resource"]["namespace"]
    assert params["pod"] == finding["resource"]["name"]
    assert params["deployment"] == params["workload"] == finding["parent"]["name"]
    assert params["workload_kind"] == "deployment"
    # the image as the kubelet wrote it ("Failed to pull image ..."), with its misleading path
    assert params["image"] == "registry.logos-test.invalid/notfound/forbidden-api/logos/chat:1.0"
    assert params["registry"] == "registry.logos-test.invalid"
    assert params["container"] == "chat"


def test_a_finding_fills_what_it_depends_on_blocks_and_is_caused_by() -> None:
    finding = {
        "check": "pvc-pending",
        "cause": "storage-class-missing",
        "resource": {"kind": "PersistentVolumeClaim", "namespace": "ns", "name": "data-db-0"},
        "parent": {"kind": "StatefulSet", "namespace": "ns", "name": "db"},
        "caused_by": [
            {"check": "storage-class", "resource": {"kind": "StorageClass", "name": "fast"}}
        ],
        "affected": [{"kind": "Pod", "namespace": "ns", "name": "db-0"}],
        "depends_on": [{"kind": "ResourceQuota", "namespace": "ns", "name": "quota-exceeded"}],
        "message": "claim data-db-0 is Pending",
        "evidence": [],
    }
    params = rb.params_from_finding(finding)
    assert params == {
        "pvc": "data-db-0",
        "namespace": "ns",
        "statefulset": "db",
        "workload": "db",
        "workload_kind": "statefulset",
        "storage_class": "fast",
        "quota": "quota-exceeded",
        "pod": "db-0",
    }


def test_run_from_a_finding_shows_the_commands_filled_in(tmp_path: Path) -> None:
    doc = _check_json("image_pull_faults")
    findings = rb.findings_in(doc)
    index = next(i for i, f in enumerate(findings) if _chat_not_found(f))
    pod, ns = findings[index]["resource"]["name"], findings[index]["resource"]["namespace"]
    source = tmp_path / "findings.json"
    source.write_text(json.dumps(doc))
    transcript = tmp_path / "t.md"
    result = CliRunner().invoke(
        cli,
        [
            "runbook",
            "run",
            "imagepullbackoff",
            "--finding-from",
            str(source),
            "--index",
            str(index),
            "--dry-run",
            "--transcript",
            str(transcript),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"kubectl describe pod {pod} -n {ns}" in result.output
    assert "deployment/logos-chat" in result.output  # the finding's parent
    text = transcript.read_text()
    assert "dry-run" in text and "exit 0" not in text
    assert f"| pod | `{pod}` | finding |" in text


def test_run_without_index_takes_the_first_root_cause(tmp_path: Path) -> None:
    doc = _check_json("image_pull_faults")
    first_root = next(f for f in rb.findings_in(doc) if f["root_cause"])
    source = tmp_path / "findings.json"
    source.write_text(json.dumps(doc))
    result = CliRunner().invoke(
        cli,
        [
            "runbook",
            "run",
            "--finding-from",
            str(source),
            "--dry-run",
            "--transcript",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"Runbook {first_root['runbook']['id']}, cause {first_root['cause']}" in result.output
    assert f"pod = {first_root['resource']['name']}  (finding)" in result.output


def test_on_a_terminal_the_root_causes_are_listed_to_pick_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from logos_doctor.cli import runbook as cli_runbook

    monkeypatch.setattr(cli_runbook, "_interactive", lambda: True)
    doc = _check_json("image_pull_faults")
    findings = rb.findings_in(doc)
    roots = [i for i, f in enumerate(findings) if f["root_cause"]]
    pick = [i for i in roots if findings[i]["resource"]["kind"] == "Pod"][-1]
    assert pick != roots[0]
    source = tmp_path / "findings.json"
    source.write_text(json.dumps(doc))
    result = CliRunner().invoke(
        cli,
        [
            "runbook",
            "run",
            "--finding-from",
            str(source),
            "--dry-run",
            "--transcript",
            str(tmp_path),
        ],
        input=f"{pick}\n",
    )
    assert result.exit_code == 0, result.output
    listing = result.output.split("Which one")[0]
    for i in roots:  # one short line each: index, severity, check/cause, resource
        line = next(ln for ln in listing.splitlines() if ln.strip().startswith(f"{i} "))
        assert rb.finding_line(findings[i], message=False) in line and len(line) < 160
    assert f"pod = {findings[pick]['resource']['name']}  (finding)" in result.output


# Parameters no finding can hold: files on the operator's machine, numbers the operator
# decides, and a few names a finding does not carry yet (said why).
OPERATOR_KNOWS = {
    "config_file",
    "cert_file",
    "key_file",
    "env_file",
    "docker_config",
    "max_replicas",
    "min_replicas",
    "replicas",
    "memory_limit",
    "backup_file",
}
NOT_IN_FINDING_YET = {
    # a node to compare with, chosen by the operator
    ("scheduling", "node"),
    ("containers", "node"),
    ("image-pull", "node"),
    # ConfigMap missing altogether: there is no key to name
    ("containers", "key"),
    # a claim template names the class; the claim's name depends on the ordinal
    ("storage-class", "pvc"),
    # the other default class is in the evidence only
    ("storage-class", "extra_default"),
    # checks that do not list the objects yet (reported to their owners)
    ("scheduling", "pvc"),
    ("scheduling", "deployment"),
    ("admission", "deployment"),
    ("admission", "replicaset"),
    ("gpu-nodes", "pod"),
    ("containers", "volumeattachment"),
}


def _root_cause_cases() -> list[tuple[str, int]]:
    cases = []
    for name, doc in recorded_documents().items():
        for i, finding in enumerate(rb.findings_in(doc)):
            if finding.get("root_cause"):
                cases.append((name, i))
    return cases


@pytest.mark.parametrize(("snapshot", "index"), _root_cause_cases())
def test_every_root_cause_runs_dry_and_without_a_terminal_asking_nothing_it_holds(
    snapshot: str, index: int, tmp_path: Path
) -> None:
    doc = recorded_documents()[snapshot]
    finding = rb.findings_in(doc)[index]
    source = tmp_path / "f.json"
    source.write_text(json.dumps(doc))
    base = ["runbook", "run", "--finding-from", str(source), "--transcript", str(tmp_path)]
    first_root = next(i for i, f in enumerate(rb.findings_in(doc)) if f.get("root_cause"))
    args = base if index == first_root else [*base, "--index", str(index)]
    dry = CliRunner().invoke(cli, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"cause {finding['cause']}" in dry.output.splitlines()[0]
    # no terminal, no answers: defaults taken, and only what the finding cannot know missing
    real = CliRunner().invoke(cli, args, input="")
    if real.exit_code != 0:
        assert isinstance(real.exception, UsageError), real.output
        message = str(real.exception)
        assert message.count("needs values for") == 1
        named = set(re.findall(r"(?:: |, )([a-z_]+) \(", message))
        runbook = rb.runbook_of(finding)
        unexpected = {
            n for n in named if n not in OPERATOR_KNOWS and (runbook, n) not in NOT_IN_FINDING_YET
        }
        assert not unexpected, f"{runbook}#{finding['cause']} asks for {unexpected}: {message}"
    else:
        assert any(s in real.output for s in ("Nothing was run", "no steps", "was not run"))


def test_dry_run_never_insists_and_names_what_is_missing(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["runbook", "run", "manual-scaling", "--dry-run", "--transcript", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "kubectl scale deployment logos-web --replicas={{replicas}} -n logos" in result.output
    assert "replicas = {{replicas}}  (not known" in result.output
    assert "--param replicas=VALUE" in result.output


def test_without_a_terminal_defaults_are_taken_and_missing_values_named_once(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(
        cli, ["runbook", "run", "pvc-pending", "--transcript", str(tmp_path)], input=""
    )
    assert isinstance(result.exception, UsageError)
    message = str(result.exception)
    assert "runbook pvc-pending needs values for: pvc (" in message
    assert "namespace" not in message and "storage_class" not in message  # defaults
    assert "\n" not in message


def test_on_a_terminal_missing_parameters_are_asked_with_their_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from logos_doctor.cli import runbook as cli_runbook

    monkeypatch.setattr(cli_runbook, "_interactive", lambda: True)
    result = CliRunner().invoke(
        cli,
        ["runbook", "run", "manual-scaling", "--transcript", str(tmp_path / "t.md")],
        input="\nlogos-chat\n5\n\nn\n",
    )
    assert result.exit_code == 0, result.output
    assert "kubectl scale deployment logos-chat --replicas=5 -n logos" in result.output


def test_run_refuses_hostile_and_unknown_parameters(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(
        cli,
        [
            "runbook",
            "run",
            "pvc-pending",
            "--pvc",
            "x;id",
            "-n",
            "logos",
            "--dry-run",
            "--transcript",
            str(tmp_path),
        ],
    )
    assert isinstance(bad.exception, UsageError) and "pvc" in str(bad.exception)
    unknown = runner.invoke(
        cli,
        [
            "runbook",
            "run",
            "redis-snapshot",
            "--pvc",
            "x",
            "--dry-run",
            "--transcript",
            str(tmp_path),
        ],
    )
    assert isinstance(unknown.exception, UsageError)
    assert "no parameter pvc" in str(unknown.exception)


# -- transcripts -----------------------------------------------------------------------------


def test_transcript_names_stay_in_their_folder(tmp_path: Path) -> None:
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = transcript_path(str(tmp_path), "pvc-pending", "lost", when)
    second = transcript_path(str(tmp_path), "pvc-pending", "lost", when)
    assert first.parent == second.parent == tmp_path.resolve()
    assert first != second
    assert first.name == "20250102T030405Z-pvc-pending-lost.md"
    for evil in ("../x", "a/b", "..", "x\n"):
        with pytest.raises(UsageError):
            transcript_path(str(tmp_path), evil, None, when)


def test_long_output_is_trimmed_in_the_middle() -> None:
    lines = [f"line {i}" for i in range(1000)]
    shown, omitted = trim(lines, 10)
    assert omitted == 990
    assert shown[0] == "line 0" and shown[-1] == "line 999"
    assert "990 lines omitted" in shown[5]


def test_transcript_fences_survive_backticks_in_output(tmp_path: Path) -> None:
    record = Transcript("demo", "Demo", None, "me", "host", datetime.now(UTC), "ctx", None, None)
    step = StepRecord(1, "look", "diagnose", "diagnosis", "echo hi", "ok", 0, 0.1, ["```", "x"])
    record.steps.append(step)
    text = record.markdown()
    assert "````text\n```\nx\n````" in text


# -- the walk: a failing diagnose step is evidence, a failing change step stops ---------------

WALK = """---
id: walk
title: Walk
params:
  namespace: {description: Namespace, default: logos}
---
# Walk
## Meaning
m
## Impact
i
## Diagnosis
```sh {id=looks-fine kind=diagnose}
echo looking in {{namespace}}
```
```sh {id=api-missing kind=diagnose expect=0,1}
echo 'Error from server (NotFound): apiservices "v1beta1.metrics.k8s.io" not found'; exit 1
```
```sh {id=top-fails kind=diagnose may-fail=true}
echo 'error: Metrics API not available'; exit 1
```
```sh {id=surprise kind=diagnose}
exit 7
```
## Mitigation
### broken
```sh {id=mend kind=change}
echo mending; exit 2
```
```sh {id=after kind=change}
echo never
```
"""


def _walk(tmp_path: Path, text: str) -> tuple[int, Transcript, str]:
    from logos_doctor.runbook.walker import Walker

    book = rb.parse(text, "walk.md")
    record = Transcript("walk", "Walk", "broken", "me", "host", datetime.now(UTC), "c", None, None)
    path = tmp_path / "walk.md"
    walker = Walker(book, record, path, {"PATH": "/usr/bin:/bin"}, 30, yes=True, yes_changes=True)
    runner = CliRunner()
    with runner.isolation() as (out, _err, _):
        code = walker.walk(book.steps_for("broken"), {"namespace": "logos"}, dry_run=False)
        printed = out.getvalue().decode()
    return code, record, printed


def test_a_failing_diagnose_step_is_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    code, record, printed = _walk(tmp_path, WALK)
    status = {s.step_id: (s.status, s.exit_code) for s in record.steps}
    assert status["looks-fine"] == ("ok", 0)
    assert status["api-missing"] == ("ok", 1)  # expected: the missing API is the diagnosis
    assert status["top-fails"] == ("failed (allowed to)", 1)
    assert status["surprise"] == ("failed", 7)  # recorded, and the run went on
    assert status["mend"] == ("failed", 2)  # a change that fails stops the run
    assert status["after"] == ("not run", None)
    assert code == 1
    assert "stopped: change step mend failed (exit 2)" in record.outcome
    assert "Metrics API not available" in (tmp_path / "walk.md").read_text()
    assert "looking in logos" in printed


def test_diagnose_failures_alone_complete_the_run_with_status_1(tmp_path: Path) -> None:
    text = WALK.replace("echo mending; exit 2", "echo mending")
    code, record, _ = _walk(tmp_path, text)
    assert [s.status for s in record.steps][-2:] == ["ok", "ok"]
    assert record.outcome == "completed; diagnose step(s) failed: surprise"
    assert code == 1


def test_show_never_wraps_a_command_in_a_terminal() -> None:
    import io

    from rich.console import Console

    from logos_doctor.runbook.display import print_markdown

    book = rb.load("gpu-nodes")
    longest = max(
        (line for s in book.steps for line in s.code.splitlines()), key=len
    )  # a long kubectl line of the runbook
    assert len(longest) > 60
    out = io.StringIO()
    console = Console(file=out, width=60, force_terminal=True, color_system=None)
    print_markdown(console, book.excerpt(None, labelled=True))
    assert longest in out.getvalue()


def test_list_says_what_each_runbook_is_for() -> None:
    result = CliRunner().invoke(cli, ["runbook", "list"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0].split() == ["ID", "USE", "FOR", "CHECKS"]
    rows = json.loads(CliRunner().invoke(cli, ["runbook", "list", "-o", "json"]).stdout)
    assert all(row["use"] for row in rows)


def test_an_editor_step_without_a_terminal_fails_at_once_instead_of_hanging(
    tmp_path: Path,
) -> None:
    text = WALK.replace("echo mending; exit 2", '"${KUBE_EDITOR:-vi}" /dev/null && echo edited')
    book = rb.parse(text, "walk.md")
    assert [s.id for s in book.steps if s.needs_terminal] == ["mend"]
    code, record, _ = _walk(tmp_path, text)
    mend = next(s for s in record.steps if s.step_id == "mend")
    assert (mend.status, mend.exit_code, mend.seconds < 5) == ("failed", 1, True)
    assert code == 1


def test_lint_flags_a_backslash_bash_would_eat() -> None:
    bad = "kubectl get nodes -o custom-columns=GPUS:.status.allocatable.nvidia\\.com/gpu"
    book = rb.parse(MINIMAL.replace("kubectl get pod {{pod}} -n {{namespace}}", bad), "d.md")
    assert any("drops the backslash" in p for p in rb.lint(book))
    fine = "kubectl get nodes -o custom-columns='GPUS:.status.allocatable.nvidia\\.com/gpu'"
    book = rb.parse(MINIMAL.replace("kubectl get pod {{pod}} -n {{namespace}}", fine), "d.md")
    assert not [p for p in rb.lint(book) if "backslash" in p]
