"""Fuzzing what logos-doctor reads from files and from the cluster: never a traceback.

Every input a user or a cluster hands over is untrusted: a snapshot someone attached to a
ticket, a config file with a typo, a Helm values file from another chart, a runbook parameter
pasted from a chat, objects whose fields have the wrong type.  For each, the only exception
allowed out is a ``DoctorError`` (one line, exit 3); checks must not fail on odd field values
(a check that raises is reported as ``error``, which these tests treat as a bug), and no
renderer may fail on what the checks made of them.

Bounded for CI: every property has a modest ``max_examples`` and no per-example deadline;
the module runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import io
import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st
from rich.console import Console

from logos_doctor.cli.check import Outcome
from logos_doctor.cluster import snapshot
from logos_doctor.cluster.collect import Target
from logos_doctor.cluster.kinds import KINDS
from logos_doctor.config import Config, apply_config, apply_helm_values, load_config
from logos_doctor.errors import DoctorError
from logos_doctor.finding import Severity
from logos_doctor.fix.journal import FixRecord
from logos_doctor.registry import default_registry
from logos_doctor.render.formats import render_other
from logos_doctor.render.human import render_plain, render_rich
from logos_doctor.render.json_out import report_json
from logos_doctor.runbook import PARAM_TYPES, Param, Step, UsageError, heredoc_lines
from logos_doctor.runbook.transcript import transcript_path
from logos_doctor.runner import root_causes, run_checks

SNAPSHOTS = Path(__file__).resolve().parents[1] / "fixtures" / "snapshots"
RECORDED = sorted(SNAPSHOTS.glob("*.json.gz"))
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- value strategies ------------------------------------------------------------------------

HOSTILE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\x1b[2J\x1b[H",
        "\x1b]8;;http://evil\x07x\x1b]8;;\x07",
        "[bold red]CRITICAL[/]",
        "\u202eevil",
        "名前",
        "💥" * 50,
        "x" * 70_000,
        "-1",
        "1e309",
        "NaN",
        "9999-99-99T99:99:99Z",
        "2026-13-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "-5Gi",
        "1e400Ei",
        "Infinity",
        "null",
        "{{namespace}}",
        "../../etc/passwd",
        "$(touch /tmp/pwned)",
        "`id`",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    HOSTILE_TEXT,
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


# -- snapshot loader -------------------------------------------------------------------------


@FUZZ
@given(
    raw=st.one_of(
        st.binary(max_size=2000),
        st.binary(max_size=500).map(gzip.compress),
        JSON.map(lambda v: json.dumps(v).encode()),
    )
)
def test_snapshot_load_of_any_bytes(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    path = tmp_path_factory.mktemp("snap") / "s.json"
    path.write_bytes(raw)
    with contextlib.suppress(DoctorError):
        snapshot.load(path)


def _document_shaped() -> st.SearchStrategy[Any]:
    kinds = st.one_of(st.sampled_from(sorted(KINDS)), st.text(max_size=10))
    items = st.lists(
        st.one_of(
            JSON,
            st.dictionaries(
                st.sampled_from(
                    ["metadata", "spec", "status", "data", "dataKeys", "involvedObject", "type"]
                ),
                JSON,
                max_size=4,
            ),
        ),
        max_size=4,
    )
    return st.fixed_dictionaries(
        {
            "format": st.one_of(st.just(snapshot.FORMAT), SCALARS),
            "version": st.one_of(st.just(snapshot.VERSION), SCALARS),
        },
        optional={
            "takenAt": st.one_of(st.just("2026-11-01T03:00:00Z"), SCALARS),
            "objects": st.one_of(st.dictionaries(kinds, st.one_of(items, JSON), max_size=4), JSON),
            "cluster": JSON,
            "scope": st.one_of(
                st.fixed_dictionaries(
                    {"namespaces": st.one_of(st.lists(st.text(max_size=8), max_size=3), JSON)}
                ),
                JSON,
            ),
            "unavailable": JSON,
        },
    )


@FUZZ
@given(doc=st.one_of(JSON, _document_shaped()))
def test_snapshot_document_of_any_shape(doc: Any) -> None:
    try:
        state = snapshot.from_document(doc, "fuzz")
    except DoctorError:
        return
    _check_and_render(state, Config())


def test_snapshot_gzip_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "MAX_BYTES", 1024 * 1024)
    path = tmp_path / "bomb.json.gz"
    path.write_bytes(gzip.compress(b" " * (4 * 1024 * 1024)))
    with pytest.raises(DoctorError, match="inflates past"):
        snapshot.load(path)


# -- checks on recorded snapshots with adversarial field values -------------------------------


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield (*prefix, i)
            yield from _paths(value, (*prefix, i))


def _recorded() -> dict[str, tuple[dict[str, Any], list[tuple[Any, ...]], Config]]:
    out = {}
    for path in RECORDED:
        doc = json.loads(gzip.decompress(path.read_bytes()))
        paths = [("objects", *p) for p in _paths(doc["objects"]) if len(p) > 2]
        config = Config()
        cfg = path.with_name(path.name.replace(".json.gz", ".config.yaml"))
        if cfg.exists():
            config = apply_config(config, yaml.safe_load(cfg.read_text()) or {}, str(cfg))
        out[path.name] = (doc, paths, config)
    return out


_RECORDED = _recorded()


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _mutate(doc: dict[str, Any], path: tuple[Any, ...], value: Any, delete: bool) -> None:
    node = _get(doc, path[:-1])
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value


def _like(original: Any) -> st.SearchStrategy[Any]:
    """Adversarial values, mostly of the field's own type (other types the loader refuses)."""
    if isinstance(original, bool):
        same: st.SearchStrategy[Any] = st.booleans()
    elif isinstance(original, int):
        same = st.one_of(st.integers(-(2**63), 2**63), st.sampled_from([0, -1, 2**31]))
    elif isinstance(original, float):
        same = st.floats(allow_nan=True, allow_infinity=True)
    elif isinstance(original, str):
        same = st.one_of(HOSTILE_TEXT, st.text(max_size=20))
    elif isinstance(original, list):
        same = st.sampled_from([[], original[:1], original * 3])
    elif isinstance(original, dict):
        same = st.sampled_from([{}, {"x": "y"}])
    else:
        same = JSON
    return st.one_of(same, same, same, st.none(), JSON)


def _check_and_render(state: Any, config: Config) -> None:
    checks = list(default_registry())
    report = run_checks(state, checks, config)
    failed = [(r.id, r.detail) for r in report.results if r.status == "error"]
    assert not failed, failed
    _assert_findings_hold_together(state, report)
    doc = report_json(report, config)
    assert doc["version"] == 1 and len(doc["findings"]) == len(report.findings)
    json.dumps(doc)
    render_plain(report, verbose=True)
    render_rich(report, Console(file=io.StringIO(), width=120, force_terminal=True), verbose=True)
    outcome = Outcome(Target(None, None), report)
    for fmt in ("markdown", "junit", "prometheus"):
        render_other(fmt, [outcome], config)


def _assert_findings_hold_together(state: Any, report: Any) -> None:
    """What must hold of any report, whatever the input: not only "no exception".

    Every finding is of a check that ran and a cause it declares, about an object it listed,
    with a message; each ``caused_by`` names another finding of the same report; no finding
    is reported twice; and the chains are trees hanging from root causes (every finding is a
    root or reached from one: no cycle leaves findings without a root).
    """
    ran = {c.id: c for c in report.checks}
    keys = [f.key for f in report.findings]
    assert len(keys) == len(set(keys)), "a finding reported twice"
    known = set(keys)
    for f in report.findings:
        assert f.check in ran and f.cause in ran[f.check].causes, f.key
        assert isinstance(f.severity, Severity)
        assert f.message.strip(), f.key
        # In scope, or in a namespace listed beyond it (the monitoring namespace's
        # ServiceMonitors a -n run lists too).
        beyond = {n for _, names in state.scope.also for n in names}
        assert state.scope.includes(f.resource.namespace) or f.resource.namespace in beyond, f.key
        assert all(k in known and k != f.key for k in f.caused_by), f.key
    reached: set[Any] = set()
    for root, explained in root_causes(report.findings):
        assert not root.caused_by
        reached |= {root.key, *explained}
    assert reached == known, "findings that no root cause reaches: a cycle"


def _healthy_with(path: tuple[Any, ...], value: Any) -> tuple[dict[str, Any], Config]:
    doc, _, config = _RECORDED["healthy_logos.json.gz"]
    doc = copy.deepcopy(doc)
    _mutate(doc, path, value, delete=False)
    return doc, config


@pytest.mark.skipif("healthy_logos.json.gz" not in _RECORDED, reason="fixture not recorded")
@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("objects", "statefulsets", 0, "spec", "template"), None),
        (("objects", "statefulsets", 0, "spec", "replicas"), None),
        (("objects", "deployments", 0, "spec", "template", "spec", "containers"), None),
        (("objects", "pods", 0, "status", "conditions"), None),
    ],
)
def test_null_fields_read_as_absent(path: tuple[Any, ...], value: Any) -> None:
    # In the API, null and absent are the same; a check's .get(key, default) sees only one.
    doc, config = _healthy_with(path, value)
    _check_and_render(snapshot.from_document(doc, "null"), config)


@pytest.mark.skipif("healthy_logos.json.gz" not in _RECORDED, reason="fixture not recorded")
@pytest.mark.parametrize("value", ["abc", "x%", "", "1e3", {}, [], 1.5, -3, "9" * 30 + "%"])
def test_odd_int_or_string_does_not_break_a_check(value: Any) -> None:
    # maxUnavailable is an IntOrString: the schema cannot say more than "anything".
    path = ("objects", "deployments", 0, "spec", "strategy", "rollingUpdate", "maxUnavailable")
    doc, config = _healthy_with(path, value)
    _check_and_render(snapshot.from_document(doc, "intorstring"), config)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("objects", "pods", 0, "spec"), True, "objects.pods[0]: spec must be an object"),
        (("objects", "pods", 0, "spec", "containers"), {}, "spec.containers must be a list"),
        (("objects", "pods", 0, "spec", "containers", 0), None, "containers[0] must not be null"),
        (("objects", "services", 0, "spec", "selector"), ["a"], "spec.selector must be a mapping"),
        (("objects", "deployments", 0, "spec", "replicas"), "3", "replicas must be an integer"),
        (("objects", "deployments", 0, "spec", "replicas"), True, "replicas must be an integer"),
        (("objects", "pods", 0, "metadata", "name"), 5, "pods[0]: metadata.name must be a string"),
        (
            ("objects", "pods", 0, "spec", "containers", 0, "image"),
            ["x"],
            "pods[0]: spec.containers[0].image must be a string",
        ),
        (
            ("objects", "pods", 0, "metadata", "labels", "app"),
            1,
            "pods[0]: metadata.labels['app'] must be a string",
        ),
    ],
)
def test_wrong_types_are_refused_naming_the_field(
    path: tuple[Any, ...], value: Any, message: str
) -> None:
    doc, _ = _healthy_with(path, value)
    with pytest.raises(DoctorError, match=re.escape(message)):
        snapshot.from_document(doc, "edited.json")


@pytest.mark.skipif(not _RECORDED, reason="no recorded snapshots")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_checks_survive_wrong_field_types_in_recorded_snapshots(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(_RECORDED)), label="snapshot")
    original, paths, config = _RECORDED[name]
    doc = copy.deepcopy(original)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        path = paths[data.draw(st.integers(0, len(paths) - 1))]
        note(f"path: {path}")
        try:
            original = _get(doc, path)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this path's parent
        _mutate(doc, path, data.draw(_like(original), label="value"), data.draw(st.booleans()))
    try:
        state = snapshot.from_document(doc, name)
    except DoctorError:
        return
    _check_and_render(state, config)


# -- config and Helm values ------------------------------------------------------------------

_CONFIG_KEYS = [
    "namespace",
    "storageClass",
    "claims",
    "secrets",
    "gpu",
    "thresholds",
    "runbookBaseUrl",
    "severity",
    "fix",
    "nmae",
]
_NESTED_KEYS = [
    "name",
    "provisioner",
    "parameters",
    "reclaimPolicy",
    "volumeBindingMode",
    "allowVolumeExpansion",
    "statefulSet",
    "template",
    "size",
    "storageClass",
    "keys",
    "type",
    "labels",
    "resource",
    "provisionerWaitSeconds",
    "helmUpgrade",
]
NESTED = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(st.sampled_from(_NESTED_KEYS), st.text(max_size=6)), inner, max_size=4
        ),
    ),
    max_leaves=10,
)
CONFIG_DATA = st.dictionaries(st.sampled_from(_CONFIG_KEYS), NESTED, max_size=5)


@FUZZ
@given(data=CONFIG_DATA)
def test_config_mapping_of_any_shape(data: dict[str, Any]) -> None:
    try:
        config = apply_config(Config(), data, "fuzz.yaml")
    except DoctorError:
        return
    assert isinstance(config, Config)


@FUZZ
@given(
    text=st.one_of(
        st.text(max_size=300), CONFIG_DATA.map(lambda d: yaml.safe_dump(d, allow_unicode=True))
    )
)
def test_config_file_of_any_text(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("cfg") / "logos-doctor.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(DoctorError):
        load_config(path)


def test_config_yaml_cannot_execute_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "logos-doctor.yaml"
    path.write_text(f'namespace: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(DoctorError, match="not valid YAML"):
        load_config(path)
    assert not marker.exists()


HELM_KEYS = [
    "storageClass",
    "postgresql",
    "redis",
    "primary",
    "master",
    "persistence",
    "size",
    "storageClass",
    "name",
    "provisioner",
    "type",
    "iops",
    "throughput",
    "encrypted",
]
HELM = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(HELM_KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(values=st.dictionaries(st.sampled_from(HELM_KEYS), HELM, max_size=4))
def test_helm_values_of_any_shape(values: dict[str, Any]) -> None:
    try:
        config = apply_helm_values(Config(), values, "values.yaml")
    except DoctorError:
        return
    assert all(isinstance(c.size, str) and isinstance(c.storage_class, str) for c in config.claims)


# -- runbook parameters: never shell syntax ---------------------------------------------------

ARG_TEXT = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=40
)


@FUZZ
@given(kind=st.sampled_from(sorted(PARAM_TYPES)), value=st.one_of(ARG_TEXT, HOSTILE_TEXT))
def test_a_valid_parameter_is_always_one_plain_shell_word(kind: str, value: str) -> None:
    try:
        accepted = Param("p", "fuzz", type=kind).validate(value)
    except DoctorError:
        return
    if kind != "path":  # ~ expansion may bring in the home directory's characters
        assert shlex.quote(accepted) == accepted


STEP = "printf '%s\\n' {{a}} x{{a}}y\nprintf '%s\\n' {{b}} # {{a}}\n"


@settings(max_examples=40, deadline=None)
@example(a="\n", b="")  # a newline in a value must not end the comment it was put in
@example(a="x\nid #", b="$(id)")
@given(a=ARG_TEXT, b=st.one_of(ARG_TEXT, HOSTILE_TEXT.filter(lambda s: "\x00" not in s)))
def test_filled_step_gives_bash_the_values_as_literal_words(a: str, b: str) -> None:
    # values bash never parses: they travel in the environment, valid or not
    step = Step("s", "diagnose", STEP, "diagnosis", 1)
    values = {"a": a, "b": b}
    out = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", step.script(values)],
        capture_output=True,
        timeout=10,
        env={"PATH": "/usr/bin:/bin", **step.env(values)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode("utf-8", "surrogateescape") == f"{a}\nx{a}y\n{b}\n"


@FUZZ
@given(value=st.one_of(ARG_TEXT, HOSTILE_TEXT))
def test_heredoc_placeholders_take_only_plain_values(value: str) -> None:
    code = "cat <<EOF\nname: {{a}}\nEOF\n"
    step = Step("s", "diagnose", code, "diagnosis", 1, heredoc_lines=heredoc_lines(code))
    assert step.heredoc_lines == frozenset({1})
    try:
        filled = step.script({"a": value})
    except UsageError:
        assert shlex.quote(value) != value
        return
    assert filled == f"cat <<EOF\nname: {value}\nEOF\n"
    assert shlex.quote(value) == value


# -- files written: never outside their directory --------------------------------------------

ID_TEXT = st.one_of(st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,20}\Z"), ARG_TEXT, HOSTILE_TEXT)


@FUZZ
@given(runbook=ID_TEXT, cause=st.one_of(st.none(), ID_TEXT))
def test_transcript_paths_stay_in_their_directory(
    tmp_path_factory: pytest.TempPathFactory, runbook: str, cause: str | None
) -> None:
    folder = tmp_path_factory.mktemp("transcripts")
    try:
        path = transcript_path(str(folder), runbook, cause, datetime(2026, 11, 1, tzinfo=UTC))
    except DoctorError:
        return
    assert path.resolve().parent == folder.resolve()


K8S_NAME = st.from_regex(r"\A[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\Z")


@FUZZ
@given(
    kind=st.sampled_from(sorted({k.kind for k in KINDS.values()})),
    name=st.one_of(
        K8S_NAME,
        ARG_TEXT,
        HOSTILE_TEXT.filter(lambda s: len(s) <= 253),
        st.sampled_from(["..", "../../x", "a/../../b", "/etc/passwd"]),
    ),
)
def test_fix_backup_paths_stay_in_the_fix_directory(
    tmp_path_factory: pytest.TempPathFactory, kind: str, name: str
) -> None:
    root = tmp_path_factory.mktemp("fix")
    record = FixRecord(root)
    backup = record.backup_path(kind, name).resolve()
    assert backup.parent == (root / "backup").resolve()
    manifest = record.save_manifest(kind, name, {"kind": kind}).resolve()
    assert manifest.parent == root.resolve()


def test_fix_backup_of_the_longest_valid_claim_name(tmp_path: Path) -> None:
    # A PersistentVolumeClaim name may be 253 characters; the file name must still fit in
    # NAME_MAX (255 bytes on Linux) rather than fail with "File name too long".
    record = FixRecord(tmp_path)
    name = "a" * 253
    assert record.save_backup("PersistentVolumeClaim", name, {"kind": "PersistentVolumeClaim"})
    assert record.load_backup("PersistentVolumeClaim", name) == {"kind": "PersistentVolumeClaim"}
    manifest = record.save_manifest("PersistentVolumeClaim", name, {"kind": "x"})
    assert manifest.parent == tmp_path
