"""Runbooks: every one parses, renders, covers its checks' causes, and can be run safely.

The on-call engineer reaches a runbook from a finding (``pvc-pending#storage-class-missing``)
and runs its steps with the finding's names filled in.  These tests hold the runbooks in the
package to that: a section per cause, every parameter declared, every ``logos-doctor``
command they show accepted by the real CLI, every step valid bash, and no value, however
hostile, ever turning into shell syntax.
"""

from __future__ import annotations

import json
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
from logos_doctor.runbook_links import runbook_path, runbook_url
from logos_doctor.transcript import StepRecord, Transcript, transcript_path, trim

SNAPSHOTS = Path(__file__).resolve().parents[1] / "fixtures" / "snapshots"
RUNBOOK_IDS = rb.runbook_ids()
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
def test_every_step_is_valid_bash_once_filled(rid: str) -> None:
    book = rb.load(rid)
    for step in book.steps:
        command = step.fill(rb.sample_values(book, step.params))
        assert not rb.PLACEHOLDER.search(command), f"{rid}/{step.id} left a placeholder"
        result = subprocess.run(["bash", "-n", "-c", command], capture_output=True, text=True)
        assert result.returncode == 0, f"{rid}/{step.id}: {result.stderr}"


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
        (("kubectl get pod {{pod}} -n", "echo '{{pod}}' -n"), "single quoted"),
        (("kubectl get pod {{pod}} -n", 'echo "x {{pod}}" -n'), "double quoted"),
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


def test_placeholders_in_here_documents_and_comments_are_seen_in_their_context() -> None:
    code = "cat <<'EOF'\nname: {{a}}\nEOF\necho {{b}} # about {{c}}\necho \\'{{d}}\n"
    contexts = {p.name: p.context for p in rb.scan_placeholders(code)}
    assert contexts == {"a": "heredoc", "b": "word", "c": "comment", "d": "word"}


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


@pytest.mark.parametrize("value", [v for v in HOSTILE if v and "\n" not in v])
def test_quoting_alone_keeps_a_hostile_value_one_literal_word(value: str) -> None:
    """Even if validation were bypassed, a filled command passes the value as data."""
    step = rb.Step(
        "s",
        "diagnose",
        "printf '%s\\n' {{v}}",
        "diagnosis",
        0,
        rb.scan_placeholders("printf '%s\\n' {{v}}"),
    )
    out = subprocess.run(
        ["bash", "-c", step.fill({"v": value})], capture_output=True, text=True, check=True
    )
    assert out.stdout == value + "\n"


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


def test_a_recorded_finding_fills_namespace_pod_and_workload() -> None:
    doc = _check_json("image_pull_faults")
    finding = next(f for f in rb.findings_in(doc) if _chat_not_found(f))
    params = rb.params_from_finding(finding)
    assert params["namespace"] == finding["resource"]["namespace"]
    assert params["pod"] == finding["resource"]["name"]
    assert params["deployment"] == finding["parent"]["name"]


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
            "--yes",
            "--transcript",
            str(transcript),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"kubectl describe pod {pod} -n {ns}" in result.output
    assert "kubectl rollout undo deployment/logos-chat" in result.output  # the finding's cause
    text = transcript.read_text()
    assert "dry-run" in text and "exit 0" not in text


def test_run_without_index_lists_the_matching_findings(tmp_path: Path) -> None:
    source = tmp_path / "findings.json"
    source.write_text(json.dumps(_check_json("image_pull_faults")))
    result = CliRunner().invoke(
        cli, ["runbook", "run", "imagepullbackoff", "--finding-from", str(source), "--dry-run"]
    )
    assert result.exit_code != 0
    assert "--index" in str(result.exception)


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


def test_missing_parameters_are_asked_with_their_default(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["runbook", "run", "manual-scaling", "--dry-run", "--transcript", str(tmp_path / "t.md")],
        input="\nlogos-chat\n5\n\n",
    )
    assert result.exit_code == 0, result.output
    assert "kubectl scale deployment logos-chat --replicas=5 -n logos" in result.output


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
