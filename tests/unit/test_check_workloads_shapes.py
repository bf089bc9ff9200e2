"""workloads on shapes only the real kubelet and controllers write (scenarios/workload_shapes.py).

``crash_shapes`` was recorded from the real node (kubelet v1.37.2 on containerd): a container
caught *running again* between two crashes, an init container in Init:CrashLoopBackOff, an
OOM kill (137), a container that restarted once and has run since, a Deployment scaled to
zero.  ``replicas_refused_by_quota`` was recorded from the real ReplicaSet controller and quota
admission, seconds after the refusal: inside the grace period an ambiguous shortfall gets.

Each test states first that the recording really holds the shape (so it cannot pass on a
recording that lost it), then what the check must make of it.
"""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from logos_doctor.checks.workloads import CHECK, GRACE
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import ObjectRef, meta, name, parse_time
from logos_doctor.pods import condition, container_states, exit_code_meaning
from logos_doctor.runner import correlate, root_causes, run_checks
from logos_doctor.state import ClusterState
from recorded import recorded


def run(state: ClusterState, scenario: str) -> list[Finding]:
    _, config = recorded(scenario)
    report = run_checks(state, [CHECK], config)
    assert [r.status for r in report.results] in (["ok"], ["findings"]), report.results
    return list(report.findings)


def later(state: ClusterState, by: timedelta) -> ClusterState:
    """The same objects, looked at ``by`` later (nothing else changed)."""
    return ClusterState.build(
        state.objects, now=state.now + by, scope=state.scope, cluster=state.cluster
    )


def pod(state: ClusterState, prefix: str) -> dict:
    (found,) = [p for p in state.list_of("pods") if name(p).startswith(prefix)]
    return found


def by_pod(found: list[Finding]) -> dict[str, Finding]:
    return {f.resource.name.rsplit("-", 2)[0]: f for f in found if f.resource.kind == "Pod"}


def test_a_crash_loop_caught_while_the_container_runs_again() -> None:
    state, _ = recorded("crash_shapes")
    (chat,) = container_states(pod(state, "logos-chat-"))
    # The kubelet wrote it running, restarted twice, the last run ended in exit 1 (Error).
    assert chat.running and chat.waiting_reason is None
    assert chat.restarts >= 2 and (chat.last_exit_code, chat.last_terminated_reason) == (1, "Error")
    found = by_pod(run(state, "crash_shapes"))
    f = found["logos-chat"]
    assert (f.cause, f.severity) == ("crash-loop", Severity.CRITICAL)
    assert f.parent is not None and (f.parent.kind, f.parent.name) == ("Deployment", "logos-chat")
    assert "running again now" in f.message
    assert any("last exit code 1 (Error)" in x and "exited with an error" in x for x in f.evidence)
    assert any(x.startswith("BackOff") and "failed container chat in pod" in x for x in f.evidence)


def test_the_running_crash_loop_is_forgotten_once_the_back_off_has_reset() -> None:
    """An hour on, the same restart count is history: no back-off event, no recent exit."""
    state, _ = recorded("crash_shapes")
    found = by_pod(run(later(state, timedelta(hours=1)), "crash_shapes"))
    assert "logos-chat" not in found


def test_an_init_container_in_crash_loop_blocks_the_pod() -> None:
    state, _ = recorded("crash_shapes")
    web = pod(state, "logos-web-")
    (init,) = [cs for cs in container_states(web) if cs.init]
    assert (init.name, init.waiting_reason, init.last_exit_code) == (
        "migrate",
        "CrashLoopBackOff",
        2,
    )
    (app,) = [cs for cs in container_states(web) if not cs.init]
    assert app.waiting_reason == "PodInitializing"
    found = run(state, "crash_shapes")
    f = by_pod(found)["logos-web"]
    assert f.cause == "crash-loop" and f.severity == Severity.CRITICAL
    assert "init container migrate" in f.message and "Init:CrashLoopBackOff" in f.message
    # The container printed "quota exceeded: 403 denied": no check reads logs or names.
    assert not any("quota" in x or "403" in x for x in (f.message, *f.evidence))
    deployment = next(
        x for x in found if (x.resource.kind, x.resource.name) == ("Deployment", "logos-web")
    )
    assert any("init container migrate CrashLoopBackOff" in x for x in deployment.evidence)
    linked = {f.key: f for f in correlate(found)}
    assert f.key in linked[deployment.key].caused_by


@pytest.mark.parametrize("shape", ["running", "terminated"])
def test_between_two_back_offs_the_deployment_is_still_short_of_a_failing_pod(shape: str) -> None:
    """The kubelet writes a crashing init container running again (its last run kept in
    lastState), then terminated, then waiting CrashLoopBackOff.  The recording caught the
    third; the first two are written here as the kubelet writes them, on the same pod, a
    second after the restart.  The Deployment is short of that pod in all three."""
    state, _ = recorded("crash_shapes")
    objects = {k: copy.deepcopy(list(v)) for k, v in state.objects.items()}
    web = next(p for p in objects["pods"] if name(p).startswith("logos-web-"))
    (init,) = web["status"]["initContainerStatuses"]
    assert init["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert init["lastState"]["terminated"]["exitCode"] == 2
    restarted = (state.now - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    init["restartCount"] += 1  # the instance started after the back-off
    if shape == "running":
        init["state"] = {"running": {"startedAt": restarted}}
    else:
        init["state"] = {
            "terminated": {
                **init["lastState"]["terminated"],
                "startedAt": restarted,
                "finishedAt": restarted,
            }
        }
    between = ClusterState.build(objects, now=state.now, scope=state.scope, cluster=state.cluster)
    born = parse_time(meta(web).get("creationTimestamp"))
    assert born is not None and state.now - born < GRACE  # young: no grace to lean on
    found = run(between, "crash_shapes")
    deployment = next(
        x for x in found if (x.resource.kind, x.resource.name) == ("Deployment", "logos-web")
    )
    assert deployment.cause == "unavailable-replicas"
    said = "restarted after exit 2 (Error)" if shape == "running" else "exited 2 (Error)"
    assert any(f"init container migrate {said}" in x for x in deployment.evidence)


def test_oom_kills_read_the_exit_code_and_the_limit() -> None:
    state, _ = recorded("crash_shapes")
    (redis,) = container_states(pod(state, "logos-redis-master-"))
    assert (redis.last_exit_code, redis.last_terminated_reason) == (137, "OOMKilled")
    f = by_pod(run(state, "crash_shapes"))["logos-redis"]
    assert (f.cause, f.severity) == ("oom-killed", Severity.CRITICAL)
    assert f.parent is not None and (f.parent.kind, f.parent.name) == (
        "StatefulSet",
        "logos-redis-master",
    )
    assert any("last exit code 137 (OOMKilled), memory limit 24Mi" in x for x in f.evidence)
    assert any("OOM killer" in x for x in f.evidence)
    assert "(24Mi)" in f.remediation


def test_one_old_restart_and_a_deployment_scaled_to_zero_are_quiet() -> None:
    state, _ = recorded("crash_shapes")
    (completion,) = container_states(pod(state, "logos-completion-"))
    assert completion.running and completion.ready and completion.restarts == 1
    assert completion.last_exit_code == 143
    indexer = state.get("Deployment", state.scope.namespaces[0], "logos-indexer")  # type: ignore[index]
    assert indexer is not None and indexer["spec"]["replicas"] == 0
    names = {f.resource.name for f in run(state, "crash_shapes")}
    assert not any(n.startswith(("logos-completion", "logos-indexer")) for n in names)


def test_exit_codes_are_read_as_signals() -> None:
    assert "SIGKILL" in exit_code_meaning(137, "Error")
    assert "OOM killer" in exit_code_meaning(137, "OOMKilled")
    assert "SIGTERM" in exit_code_meaning(143, "Error")
    assert "error" in exit_code_meaning(1, "Error")
    assert "must not exit" in exit_code_meaning(0, "Completed")
    assert exit_code_meaning(130) == "ended by signal 2"


def test_pods_refused_by_quota_are_reported_at_once_depending_on_the_replicaset() -> None:
    state, _ = recorded("replicas_refused_by_quota")
    ns = state.scope.namespaces[0]  # type: ignore[index]
    dep = state.get("Deployment", ns, "logos-chat")
    assert dep is not None
    (rs,) = state.children(dep, "ReplicaSet")
    # The real controller said so, and the recording was taken inside the grace period.
    assert (condition(rs, "ReplicaFailure") or {}).get("status") == "True"
    created = parse_time(meta(dep).get("creationTimestamp"))
    assert created is not None and state.now - created < GRACE
    events = [e for e in state.events_for("ReplicaSet", rs) if e.reason == "FailedCreate"]
    assert events and events[0].message.startswith("Error creating: ")

    (f,) = [f for f in run(state, "replicas_refused_by_quota") if f.resource.kind == "Deployment"]
    assert f.cause == "unavailable-replicas"
    assert f.severity == Severity.WARNING, "one pod of three runs"
    assert "pods are refused creation" in f.message
    assert ObjectRef.of("ReplicaSet", rs) in f.depends_on
    assert any("FailedCreate" in x and "exceeded quota: compute-resources" in x for x in f.evidence)

    # Whatever check explains the refusal puts the ReplicaSet in its `affected`: then it is
    # the root cause, and the Deployment hangs from it.
    quota = Finding(
        check="admission",
        cause="quota-exceeded",
        severity=Severity.WARNING,
        resource=ObjectRef("ResourceQuota", ns, "compute-resources"),
        message="quota exhausted",
        affected=(ObjectRef.of("ReplicaSet", rs),),
    )
    linked = correlate([f, quota])
    roots = root_causes(linked)
    assert [r.key for r, _ in roots] == [quota.key]
    assert next(x for x in linked if x.key == f.key).caused_by == (quota.key,)


def test_a_refusal_that_has_healed_is_not_reported() -> None:
    """The same FailedCreate event, once the ReplicaSet has all its pods, is history."""
    state, _ = recorded("replicas_refused_by_quota")
    objects = {k: list(v) for k, v in state.objects.items()}
    objects["replicasets"] = [
        {**rs, "status": {**rs["status"], "conditions": []}, "spec": {**rs["spec"], "replicas": 1}}
        for rs in objects["replicasets"]
    ]
    objects["deployments"] = [
        {**d, "spec": {**d["spec"], "replicas": 1}, "status": {**d["status"], "conditions": []}}
        for d in objects["deployments"]
    ]
    healed = ClusterState.build(objects, now=state.now, scope=state.scope)
    assert [f for f in run(healed, "replicas_refused_by_quota")] == []


# -- recordings from the real node (scenarios/kubelet.py, by the real-node work) -------------


def real(scenario: str) -> ClusterState:
    from recorded import SNAPSHOTS

    if not (SNAPSHOTS / f"{scenario}.json.gz").exists():
        pytest.skip(f"{scenario} not recorded")
    return recorded(scenario)[0]


def test_real_crash_loop_with_the_kubelets_back_off() -> None:
    state = real("real_crashloop")
    (worker,) = [cs for p in state.list_of("pods") for cs in container_states(p)]
    assert worker.waiting_reason == "CrashLoopBackOff" and worker.last_exit_code == 1
    (f,) = [f for f in run(state, "real_crashloop") if f.resource.kind == "Pod"]
    assert (f.cause, f.severity) == ("crash-loop", Severity.CRITICAL)
    assert any("last exit code 1 (Error)" in x for x in f.evidence)


def test_real_oom_kill_running_again_is_a_loop_and_later_a_warning() -> None:
    state = real("real_oom_killed")
    (cache,) = [cs for p in state.list_of("pods") for cs in container_states(p)]
    assert (cache.last_exit_code, cache.last_terminated_reason) == (137, "OOMKilled")
    assert cache.restarts >= 2
    (f,) = [f for f in run(state, "real_oom_killed") if f.resource.kind == "Pod"]
    assert (f.cause, f.severity) == ("oom-killed", Severity.CRITICAL)
    # Half an hour on, running since its last restart (the kubelet's shape after a back-off:
    # state.running.startedAt, lastState.terminated kept), it has recovered: a warning while
    # the kill is recent, nothing once it is old.
    objects = copy.deepcopy({k: list(v) for k, v in state.objects.items()})
    for pod in objects["pods"]:
        for cs in pod["status"]["containerStatuses"]:
            finished = cs["lastState"]["terminated"]["finishedAt"]
            cs["state"] = {"running": {"startedAt": finished}}
            cs["ready"] = cs["started"] = True
    recovered = ClusterState.build(objects, now=state.now, scope=state.scope)
    (g,) = [
        f
        for f in run(later(recovered, timedelta(minutes=30)), "real_oom_killed")
        if f.resource.kind == "Pod"
    ]
    assert (g.cause, g.severity) == ("oom-killed", Severity.WARNING)
    assert "runs again" in g.message
    old = run(later(recovered, timedelta(hours=2)), "real_oom_killed")
    assert [f for f in old if f.resource.kind == "Pod"] == []


def test_restarts_by_a_failing_liveness_probe_are_not_called_a_crash() -> None:
    """The kubelet kills the container itself ("failed liveness probe, will be restarted"):
    that is the probe's finding (the containers check), not a crash of the application."""
    state = real("real_liveness_restarts")
    kills = [
        e
        for p in state.list_of("pods")
        for e in state.events_for("Pod", p)
        if e.reason == "Killing" and "failed liveness probe, will be restarted" in e.message
    ]
    assert kills
    assert [f for f in run(state, "real_liveness_restarts") if f.cause == "crash-loop"] == []


def test_a_statefulset_refused_pods_by_quota_is_reported_at_once() -> None:
    state, _ = recorded("statefulset_refused_by_quota")
    ns = state.scope.namespaces[0]  # type: ignore[index]
    sts = state.get("StatefulSet", ns, "logos-redis-master")
    assert sts is not None
    created = parse_time(meta(sts).get("creationTimestamp"))
    assert created is not None and state.now - created < GRACE
    (event,) = {
        e.message for e in state.events_for("StatefulSet", sts) if e.reason == "FailedCreate"
    }
    assert "in StatefulSet logos-redis-master failed error:" in event and "exceeded quota" in event
    (f,) = [
        f for f in run(state, "statefulset_refused_by_quota") if f.resource.kind == "StatefulSet"
    ]
    assert (f.cause, f.severity) == ("unavailable-replicas", Severity.WARNING)
    assert f.message.endswith("1/2 replicas available; pods are refused creation")
    assert f.resource not in f.depends_on
    quota = Finding(
        check="admission",
        cause="quota-exceeded",
        severity=Severity.WARNING,
        resource=ObjectRef("ResourceQuota", ns, "redis-pods"),
        message="quota exhausted",
        affected=(f.resource,),
    )
    assert next(x for x in correlate([f, quota]) if x.key == f.key).caused_by == (quota.key,)


def test_a_pod_the_kubelet_cannot_mount_blocks_its_deployment_at_once() -> None:
    """FailedMount is the kubelet's verdict, not a pod on its way: no grace period."""
    from logos_doctor.checks.secrets import CHECK as SECRETS

    state, config = recorded("secret_blocks_chat")
    report = run_checks(state, [CHECK, SECRETS], config)
    (dep,) = [
        f
        for f in report.findings
        if (f.resource.kind, f.resource.name) == ("Deployment", "logos-completion")
    ]
    assert any("ContainerCreating: FailedMount" in x for x in dep.evidence)
    assert {(k.check, k.resource.name) for k in dep.caused_by} == {
        ("secrets", "logos-tls"),
        ("secrets", "logos-s3-credentials"),
    }


def test_the_controllers_deadline_verdict_depends_on_the_new_replicaset() -> None:
    state, _ = recorded("chat_rollout_deadline_exceeded")
    ns = state.scope.namespaces[0]  # type: ignore[index]
    dep = state.get("Deployment", ns, "logos-chat")
    assert dep is not None
    newest = max(
        state.children(dep, "ReplicaSet"),
        key=lambda rs: int(meta(rs)["annotations"]["deployment.kubernetes.io/revision"]),
    )
    (f,) = [
        f for f in run(state, "chat_rollout_deadline_exceeded") if f.resource.kind == "Deployment"
    ]
    assert f.cause == "rollout-stuck"
    assert ObjectRef.of("ReplicaSet", newest) in f.depends_on
