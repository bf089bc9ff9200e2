"""`logos-doctor rbac`: the least privilege the selected checks (and fixes) need, nothing more.

The roles are derived from what the checks declare they read, so these tests compare the
generated rules with the registry's own declarations (whatever checks are installed) and
with a few checks declared here to pin the Secrets and fix rules down.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
import yaml

from logos_doctor.cluster.collect import LISTED_BEYOND
from logos_doctor.cluster.kinds import KINDS
from logos_doctor.finding import Finding, Severity
from logos_doctor.rbac import FIX_GRANTS, Subject, plan_rbac, render_yaml
from logos_doctor.registry import Check, default_registry

SUBJECT = Subject("ops", "doctor")
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "escalate", "bind"}


def no_findings(state: Any, config: Any) -> Iterator[Finding]:
    return iter(())


def check(
    id: str, kinds: tuple[str, ...], optional: tuple[str, ...] = (), fix: str | None = None
) -> Check:
    return Check(
        id, id, Severity.WARNING, kinds, ("c",), no_findings, fix=fix, optional_kinds=optional
    )


def installed() -> list[Check]:
    checks = list(default_registry())
    assert checks, "no checks installed: the package is not installed in this venv"
    return checks


def grants(objects: Iterable[dict[str, Any]], kind: str) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) -> verbs over every object of ``kind``."""
    out: dict[tuple[str, str], set[str]] = {}
    for obj in objects:
        if obj["kind"] != kind:
            continue
        for rule in obj["rules"]:
            for group in rule["apiGroups"]:
                for res in rule["resources"]:
                    out.setdefault((group, res), set()).update(rule["verbs"])
    return out


def by_name(objects: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_read_roles_grant_get_list_watch_on_exactly_the_kinds_the_checks_read() -> None:
    checks = installed()
    plan = plan_rbac(checks, namespace="logos", cluster_wide=False, with_fix=False, subject=SUBJECT)
    read = {k for c in checks for k in (*c.kinds, *c.optional_kinds)}
    cluster = grants(plan.objects, "ClusterRole")
    role = grants(plan.objects, "Role")
    # ServiceMonitors are also listed in the monitoring namespace: granted cluster-wide.
    wide = {k for k in read if not KINDS[k].namespaced or k in LISTED_BEYOND}
    expected_cluster = {(KINDS[k].group, k) for k in wide}
    expected_role = {(KINDS[k].group, k) for k in read - wide}
    assert set(cluster) == expected_cluster
    assert set(role) == expected_role
    assert all(verbs == {"get", "list", "watch"} for verbs in (*cluster.values(), *role.values()))
    assert {o["kind"] for o in plan.objects} <= {
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
    }
    roles = [o for o in plan.objects if o["kind"] == "Role"]
    assert all(o["metadata"]["namespace"] == "logos" for o in roles)


def test_secrets_only_when_a_selected_check_reads_them() -> None:
    plain = check("plain", ("pods", "events"))
    optional = check("pulls", ("pods",), optional=("secrets",))
    required = check("secretive", ("secrets",))
    kw: dict[str, Any] = dict(namespace="ns", cluster_wide=False, with_fix=False, subject=SUBJECT)

    def reads_secrets(checks: list[Check]) -> bool:
        return ("", "secrets") in grants(plan_rbac(checks, **kw).objects, "Role")

    assert not reads_secrets([plain])
    assert reads_secrets([plain, optional])
    assert reads_secrets([required])
    installed_reader = any("secrets" in (*c.kinds, *c.optional_kinds) for c in installed())
    assert reads_secrets(installed()) == installed_reader


def test_a_check_on_namespaced_kinds_only_needs_no_cluster_role() -> None:
    plan = plan_rbac(
        [check("plain", ("pods",))],
        namespace="ns",
        cluster_wide=False,
        with_fix=False,
        subject=SUBJECT,
    )
    assert [(o["kind"], o["metadata"]["name"]) for o in plan.objects] == [
        ("Role", "logos-doctor"),
        ("RoleBinding", "logos-doctor"),
    ]


def test_bindings_name_the_service_account_and_their_own_role() -> None:
    plan = plan_rbac(
        [check("mixed", ("pods", "nodes"))],
        namespace="logos",
        cluster_wide=False,
        with_fix=False,
        subject=SUBJECT,
        prefix="doc",
    )
    objs = by_name(plan.objects)
    for binding_kind, role_kind, name in (
        ("ClusterRoleBinding", "ClusterRole", "doc-cluster"),
        ("RoleBinding", "Role", "doc"),
    ):
        binding = objs[(binding_kind, name)]
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": role_kind,
            "name": name,
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "doctor", "namespace": "ops"}
        ]
        assert (role_kind, name) in objs


def test_cluster_wide_reads_become_cluster_roles_but_fixes_stay_in_the_namespace() -> None:
    checks = [check("sc", ("storageclasses", "persistentvolumeclaims"), fix="pvc")]
    plan = plan_rbac(checks, namespace="logos", cluster_wide=True, with_fix=True, subject=SUBJECT)
    objs = by_name(plan.objects)
    assert ("Role", "logos-doctor") not in objs
    read = objs[("ClusterRole", "logos-doctor")]
    assert {r for rule in read["rules"] for r in rule["resources"]} == {"persistentvolumeclaims"}
    fix_role = objs[("Role", "logos-doctor-fix")]
    assert fix_role["metadata"]["namespace"] == "logos"
    assert ("ClusterRole", "logos-doctor-fix") not in objs
    cluster_writes = grants(
        [o for o in plan.objects if o["metadata"]["name"].endswith("-fix-cluster")], "ClusterRole"
    )
    assert cluster_writes == {("storage.k8s.io", "storageclasses"): {"create", "delete"}}


def test_without_fix_no_role_can_write() -> None:
    plan = plan_rbac(
        installed(), namespace="logos", cluster_wide=False, with_fix=False, subject=SUBJECT
    )
    for kind in ("Role", "ClusterRole"):
        for verbs in grants(plan.objects, kind).values():
            assert not verbs & WRITE_VERBS


def test_fix_verbs_follow_the_selected_checks_fixes() -> None:
    kw: dict[str, Any] = dict(namespace="logos", cluster_wide=False, with_fix=True, subject=SUBJECT)
    sc_only = plan_rbac([check("sc", ("storageclasses",), fix="storageclass")], **kw)
    role = grants(sc_only.objects, "Role")
    assert role == {("coordination.k8s.io", "leases"): {"get", "create", "update", "delete"}}
    assert grants(sc_only.objects, "ClusterRole")[("storage.k8s.io", "storageclasses")] == {
        "get",
        "list",
        "watch",
        "create",
        "delete",
    }

    pvc = plan_rbac([check("pvc", ("persistentvolumeclaims", "pods"), fix="pvc")], **kw)
    fix_role = by_name(pvc.objects)[("Role", "logos-doctor-fix")]
    writes = grants([fix_role], "Role")
    assert writes[("apps", "statefulsets")] == {"get", "list", "create", "delete"}
    assert writes[("", "persistentvolumeclaims")] == {"delete"}
    assert writes[("", "pods")] == {"delete"}
    assert writes[("coordination.k8s.io", "leases")] == {"get", "create", "update", "delete"}
    # The read role is untouched by --with-fix.
    read_role = by_name(pvc.objects)[("Role", "logos-doctor")]
    assert all(set(rule["verbs"]) == {"get", "list", "watch"} for rule in read_role["rules"])


def test_installed_fixes_have_known_needs() -> None:
    fixes = {c.fix for c in installed() if c.fix}
    assert fixes <= set(FIX_GRANTS), f"fixes without RBAC rules: {fixes - set(FIX_GRANTS)}"


def test_a_fix_of_unknown_needs_is_named_not_guessed() -> None:
    plan = plan_rbac(
        [check("third-party", ("pods",), fix="reboot-cluster")],
        namespace="ns",
        cluster_wide=False,
        with_fix=True,
        subject=SUBJECT,
    )
    assert any("reboot-cluster" in note for note in plan.notes)
    assert "reboot-cluster" in render_yaml(plan)
    assert ("Role", "logos-doctor-fix") not in by_name(plan.objects)


def test_yaml_is_one_document_per_object() -> None:
    plan = plan_rbac(
        installed(), namespace="logos", cluster_wide=False, with_fix=True, subject=SUBJECT
    )
    docs = list(yaml.safe_load_all(render_yaml(plan)))
    assert docs == list(plan.objects)


# -- the command ---------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "logos_doctor", "rbac", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_command_prints_roles_for_the_named_checks_in_the_named_namespace() -> None:
    chosen = installed()[0]
    result = run("--checks", chosen.id, "-n", "team-a", "--service-account", "ops/doc")
    assert result.returncode == 0, result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    resources = {r for d in docs if "rules" in d for rule in d["rules"] for r in rule["resources"]}
    assert resources == set(chosen.kinds) | set(chosen.optional_kinds)
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] == "Role"} == {"team-a"}
    subjects = [s for d in docs if "subjects" in d for s in d["subjects"]]
    assert subjects and all(
        s == {"kind": "ServiceAccount", "name": "doc", "namespace": "ops"} for s in subjects
    )


def test_command_accepts_comma_separated_checks() -> None:
    ids = [c.id for c in installed()][:2]
    result = run("--checks", ",".join(ids))
    assert result.returncode == 0, result.stderr
    assert f"# checks: {', '.join(sorted(ids))}" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--checks", "no-such-check"), "unknown check 'no-such-check'"),
        (("--service-account", "Bad_Name"), "invalid service account"),
        (("--name", "UPPER"), "invalid --name"),
    ],
)
def test_command_rejects_bad_input_with_one_line(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.stderr
