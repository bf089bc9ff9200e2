"""workloads on states recorded from the test cluster (tests/k8scluster/scenarios/workloads.py).

The workload finding is the symptom; each test checks that it names the right pods (so the
runner hangs the root cause under it) and that healthy workloads and healthy rollouts are left
alone.  Pod names are random per recording, so expectations are computed from the recording.
"""

from __future__ import annotations

from logos_doctor.checks.image_pull import CHECK as IMAGE_PULL
from logos_doctor.checks.pvc_pending import CHECK as PVC_PENDING
from logos_doctor.checks.workloads import CHECK
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import name
from logos_doctor.pods import condition, is_ready
from logos_doctor.registry import Check
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterState
from recorded import recorded


def run(scenario: str, *checks: Check) -> tuple[ClusterState, list[Finding]]:
    state, config = recorded(scenario)
    report = run_checks(state, list(checks or (CHECK,)), config)
    assert all(r.status in ("ok", "findings") for r in report.results), report.results
    return state, list(report.findings)


def workload_findings(found: list[Finding]) -> dict[str, Finding]:
    out = {f.resource.name: f for f in found if f.check == "workloads"}
    assert len(out) == len([f for f in found if f.check == "workloads"]), "one per object"
    return out


def not_ready(state: ClusterState, prefix: str) -> set[str]:
    return {
        name(p) for p in state.list_of("pods") if name(p).startswith(prefix) and not is_ready(p)
    }


def test_broken_images_make_four_workloads_unavailable_each_linked_to_its_pods_cause() -> None:
    state, found = run("image_pull_faults", CHECK, IMAGE_PULL)
    wl = {n: f for n, f in workload_findings(found).items() if f.resource.kind != "Pod"}
    assert set(wl) == {"logos-chat", "logos-web", "logos-postgresql", "logos-redis-master"}
    for workload, f in wl.items():
        assert (f.cause, f.severity) == ("unavailable-replicas", Severity.CRITICAL)
        obj = state.get(f.resource.kind, f.resource.namespace, workload)
        assert obj is not None
        assert f.message.endswith(f"0/{obj['spec']['replicas']} replicas available")
        pods = {r.name for r in f.depends_on if r.kind == "Pod"}
        assert pods == not_ready(state, workload + "-")
        # The runner links the symptom to the image-pull finding of each of its pods.
        assert {k.check for k in f.caused_by} == {"image-pull"}
        assert {k.resource.name for k in f.caused_by} == pods


def test_a_bad_image_rollout_is_stuck_not_down_and_hangs_from_the_new_pod() -> None:
    _, found = run("chat_bad_image_rollout", CHECK, IMAGE_PULL)
    wl = workload_findings(found)
    assert set(wl) == {"logos-chat"}, "the old pods still serve; other workloads are fine"
    chat = wl["logos-chat"]
    assert (chat.cause, chat.severity) == ("rollout-stuck", Severity.WARNING)
    assert "3/3 replicas available" in chat.message
    assert "the controller declares it stuck in" in chat.message
    (pod,) = [r for r in chat.depends_on if r.kind == "Pod"]
    assert [(k.check, k.cause, k.resource.name) for k in chat.caused_by] == [
        ("image-pull", "image-not-found", pod.name)
    ]


def test_the_controllers_progress_deadline_verdict_is_reported_as_rollout_stuck() -> None:
    state, found = run("chat_rollout_deadline_exceeded")
    dep = state.get("Deployment", state.scope.namespaces[0], "logos-chat")  # type: ignore[index]
    assert dep is not None
    assert (condition(dep, "Progressing") or {}).get("reason") == "ProgressDeadlineExceeded"
    chat = workload_findings(found)["logos-chat"]
    assert (chat.cause, chat.severity) == ("rollout-stuck", Severity.WARNING)
    assert "exceeded its progress deadline" in chat.message
    assert any(x.startswith("Progressing=False: ") for x in chat.evidence)


def test_the_progress_deadline_verdict_stands_while_the_counts_look_whole() -> None:
    # The deployment controller writes Progressing=False (ProgressDeadlineExceeded) and
    # changes it only at its next sync: a Deployment whose last pods just became available
    # still says so for that while. The verdict is reported as it stands, not second-guessed
    # from the replica counts (the workload is not passed over as whole).
    state, config = recorded("chat_rollout_deadline_exceeded")
    doc = {k: [dict(o) for o in v] for k, v in state.objects.items()}
    (chat,) = [d for d in doc["deployments"] if d["metadata"]["name"] == "logos-chat"]
    chat["status"] = {**chat["status"], "replicas": 3, "updatedReplicas": 3}
    chat["status"].pop("unavailableReplicas")
    whole = ClusterState.build(doc, now=state.now, scope=state.scope)
    found = workload_findings(list(run_checks(whole, [CHECK], config).findings))
    assert found["logos-chat"].cause == "rollout-stuck"
    assert "exceeded its progress deadline" in found["logos-chat"].message


def test_a_healthy_rollout_half_way_is_quiet() -> None:
    state, found = run("rollout_in_progress")
    dep = state.get("Deployment", state.scope.namespaces[0], "logos-chat")  # type: ignore[index]
    assert dep is not None
    status = dep["status"]
    # The recording really is mid-rollout and short of a replica ...
    assert (status.get("updatedReplicas"), status.get("availableReplicas")) == (1, 2)
    assert dep["spec"]["replicas"] == 3
    # ... which the strategy (maxUnavailable 1) allows: nothing to report.
    assert found == []


def test_the_healthy_stack_is_quiet() -> None:
    _, found = run("healthy_logos")
    assert found == []


def test_crash_loops_are_reported_on_each_pod_with_the_workload_as_parent() -> None:
    state, found = run("crashloop_oom")
    ns = state.scope.namespaces[0]  # type: ignore[index]
    crashes = [f for f in found if f.cause == "crash-loop"]
    assert {f.resource.name for f in crashes} == not_ready(state, "logos-chat-")
    assert len(crashes) == 3
    for f in crashes:
        assert (f.resource.kind, f.severity) == ("Pod", Severity.CRITICAL)
        assert f.parent is not None and (f.parent.kind, f.parent.namespace, f.parent.name) == (
            "Deployment",
            ns,
            "logos-chat",
        )
        assert any("last exit code 1 (Error)" in x for x in f.evidence)
        assert any(x.startswith("BackOff (x") and "Back-off restarting failed container chat"
                   in x for x in f.evidence)  # fmt: skip


def test_oom_kills_name_the_memory_limit() -> None:
    _, found = run("crashloop_oom")
    oom = [f for f in found if f.cause == "oom-killed"]
    assert [f.resource.name for f in oom] == ["logos-redis-master-0"]
    assert oom[0].parent is not None and oom[0].parent.name == "logos-redis-master"
    assert oom[0].severity == Severity.CRITICAL
    assert any("last exit code 137 (OOMKilled), memory limit 512Mi" in x for x in oom[0].evidence)


def test_unavailable_workloads_hang_from_their_crashing_pods() -> None:
    state, found = run("crashloop_oom")
    chat = next(f for f in found if f.resource.kind == "Deployment")
    redis = next(f for f in found if f.resource.kind == "StatefulSet")
    assert {chat.resource.name, redis.resource.name} == {"logos-chat", "logos-redis-master"}
    assert (chat.cause, chat.severity) == ("unavailable-replicas", Severity.CRITICAL)
    assert {(k.cause, k.resource.name) for k in chat.caused_by} == {
        ("crash-loop", n) for n in not_ready(state, "logos-chat-")
    }
    assert [(k.cause, k.resource.name) for k in redis.caused_by] == [
        ("oom-killed", "logos-redis-master-0")
    ]


def test_a_statefulset_waiting_for_its_claim_links_to_the_claims_finding() -> None:
    """Recorded by the storage scenarios: the StorageClass is missing, the claims Pending."""
    _, found = run("storage_class_missing", CHECK, PVC_PENDING)
    sts = {f.resource.name: f for f in found if f.resource.kind == "StatefulSet"}
    assert set(sts) == {"logos-postgresql", "logos-redis-master"}
    for workload, f in sts.items():
        assert f.cause == "unavailable-replicas"
        claims = {r.name for r in f.depends_on if r.kind == "PersistentVolumeClaim"}
        assert claims and all(c.endswith(f"-{workload}-0") for c in claims)
        assert {(k.check, k.resource.name) for k in f.caused_by} == {
            ("pvc-pending", c) for c in claims
        }
