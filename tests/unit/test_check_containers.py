"""containers on states recorded from the test cluster (k8scluster/scenarios/kubelet_states.py).

The kubelet's side of ``kubelet_states`` was written by a stand-in in the words of the
kubelet v1.37.2 (each string's source is named in the scenario), on a node kwok does not
manage; the controllers, the scheduler and the EndpointSlice controller that reacted to it
are real.  Object names mislead on purpose: the missing ConfigMap is called
``readiness-probe-failed``, the missing volume's ``quota-exceeded-config``, the image
``.../nginx-tls:v1.403``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from logos_doctor.checks.containers import (
    CHECK,
    MULTI_ATTACH,
    PROBE,
    UNABLE,
    VOLUME_OP,
    describe_probe,
)
from logos_doctor.finding import Finding, Severity
from logos_doctor.registry import default_registry
from logos_doctor.runner import root_causes, run_checks
from logos_doctor.state import ClusterState
from recorded import recorded


def run(state: ClusterState, config: Any) -> dict[str, list[Finding]]:
    """Findings by the workload they hold up: a pod of it, or the ConfigMap it lacks."""
    report = run_checks(state, [CHECK], config)
    assert [r.status for r in report.results] in (["ok"], ["findings"]), report.results
    out: dict[str, list[Finding]] = {}
    for f in report.findings:
        assert f.parent is not None, f
        if f.resource.kind == "Pod":
            assert f.resource.name.startswith(f.parent.name + "-"), f
        else:
            assert f.resource.kind == "ConfigMap", f
            assert any(a.same_object(replace(f.parent, uid=None)) for a in f.affected), f
        out.setdefault(f.parent.name, []).append(f)
    return out


@pytest.fixture(scope="module")
def found() -> dict[str, list[Finding]]:
    return run(*recorded("kubelet_states"))


def one(found: dict[str, list[Finding]], workload: str) -> Finding:
    (finding,) = found[workload]
    return finding


def test_each_workload_gets_the_cause_the_kubelet_gave(found: dict[str, list[Finding]]) -> None:
    assert {w: sorted({f.cause for f in fs}) for w, fs in found.items()} == {
        "logos-chat": ["config-missing"],
        "logos-indexer": ["config-missing"],
        "logos-mailer": ["secret-missing"],
        "logos-docs": ["mount-failed"],
        "logos-web": ["readiness-failing"],
        "logos-worker": ["liveness-restarts"],
        "logos-search": ["startup-probe-failing"],
        "logos-migrate": ["init-stuck"],
        "logos-render": ["evicted"],
    }, "logos-healthy runs ready and is not mentioned"
    assert len(found["logos-web"]) == 2, "one finding per not-ready pod"


def test_a_missing_configmap_is_the_finding_named_by_its_name_not_by_what_it_says(
    found: dict[str, list[Finding]],
) -> None:
    chat = one(found, "logos-chat")
    assert chat.severity == Severity.CRITICAL
    assert str(chat.resource) == f"ConfigMap/{chat.resource.namespace}/readiness-probe-failed"
    assert chat.message == (
        "ConfigMap readiness-probe-failed does not exist: 1 pod(s) of Deployment logos-chat "
        "cannot start (CreateContainerConfigError)"
    )
    assert sorted({a.kind for a in chat.affected}) == ["Deployment", "Pod", "ReplicaSet"]
    assert any(e.endswith(': container chat: configmap "readiness-probe-failed" not found')
               for e in chat.evidence)  # fmt: skip
    assert any(e.startswith("Failed (x3") for e in chat.evidence), chat.evidence
    assert "Create ConfigMap readiness-probe-failed" in chat.remediation


def test_a_missing_key_names_the_key_and_the_keys_the_configmap_has(
    found: dict[str, list[Finding]],
) -> None:
    indexer = one(found, "logos-indexer")
    assert indexer.message.startswith("ConfigMap logos-settings has no key liveness: 1 pod(s)")
    assert "ConfigMap logos-settings exists with keys: readiness" in indexer.evidence
    assert "with key liveness" in indexer.remediation


def test_a_missing_secret_hangs_under_the_secrets_check() -> None:
    state, config = recorded("kubelet_states")
    checks = [c for c in default_registry() if c.id in ("containers", "secrets", "workloads")]
    report = run_checks(state, checks, config)
    mailer = next(f for f in report.findings if f.cause == "secret-missing")
    assert [(k.check, k.cause, k.resource.name) for k in mailer.caused_by] == [
        ("secrets", "missing-secret", "smtp-credentials")
    ]
    roots = {f.key for f, _ in root_causes(report.findings)}
    assert mailer.key not in roots, "the Secret is the root cause, not a second one"


def test_a_volume_that_cannot_mount_names_the_volume_and_the_configmap(
    found: dict[str, list[Finding]],
) -> None:
    docs = one(found, "logos-docs")
    assert docs.cause == "mount-failed" and docs.resource.name == "quota-exceeded-config"
    assert docs.message == (
        "ConfigMap quota-exceeded-config does not exist: 1 pod(s) of Deployment logos-docs "
        "cannot mount volume docs-config (FailedMount)"
    )
    assert "volume docs-config: ConfigMap quota-exceeded-config" in docs.evidence


def test_probe_failures_name_the_probe_and_what_it_answered(
    found: dict[str, list[Finding]],
) -> None:
    web = found["logos-web"][0]
    assert (
        "readiness probe HTTP GET :http/healthz fails: HTTP probe failed with statuscode: 503"
        in (web.message)
    )
    assert web.severity == Severity.CRITICAL, "no pod of logos-web is ready"
    worker = one(found, "logos-worker")
    assert "was restarted 1 time(s)" in worker.message
    assert "liveness probe TCP :8080 fails: dial tcp" in worker.message
    assert any("failed liveness probe, will be restarted" in e for e in worker.evidence)
    search = one(found, "logos-search")
    assert "startup probe HTTP GET :http/healthz fails: HTTP probe failed with statuscode: 500" in (
        search.message
    )


def test_an_init_container_that_never_finishes_is_named_with_its_command(
    found: dict[str, list[Finding]],
) -> None:
    migrate = one(found, "logos-migrate")
    assert "init container wait-for-db has been running for 2m" in migrate.message
    assert "until nc -z logos-postgresql 5432" in migrate.message
    assert migrate.severity == Severity.CRITICAL, "the workload has no ready pod"
    assert any("containers with incomplete status: [wait-for-db]" in e for e in migrate.evidence)


def test_an_init_container_running_briefly_is_quiet() -> None:
    state, config = recorded("kubelet_states")
    earlier = replace(state, now=state.now - timedelta(seconds=70))
    assert "logos-migrate" not in run(earlier, config)


def test_an_eviction_names_the_resource_the_node_condition_and_the_container(
    found: dict[str, list[Finding]],
) -> None:
    render = one(found, "logos-render")
    assert render.severity == Severity.WARNING, "the replacement runs: a warning, not an outage"
    assert "the node was low on memory (available 86432Ki, eviction threshold 100Mi)" in (
        render.message
    )
    assert "container render used 1722188Ki (request 256Mi)" in render.message
    assert "(MemoryPressure;" in render.remediation
    assert render.depends_on[0].kind == "Node", "a node finding about its pressure explains it"


def test_an_old_eviction_is_only_info() -> None:
    state, config = recorded("kubelet_states")
    later = replace(state, now=state.now + timedelta(hours=3))
    found = run(later, config)
    assert [f.severity for f in found["logos-render"]] == [Severity.INFO]
    # Still not ready three hours on: still failing, but its events are history.
    web = found["logos-web"][0]
    assert "(no Unhealthy event left to quote)" in web.message
    assert not any("statuscode: 503" in e for e in web.evidence)


def test_the_deployments_and_the_service_are_explained_by_these_findings() -> None:
    state, config = recorded("kubelet_states")
    wanted = ("containers", "workloads", "service-endpoints", "secrets")
    report = run_checks(state, [c for c in default_registry() if c.id in wanted], config)
    by_resource = {(f.check, f.resource.name): f for f in report.findings}
    service = by_resource[("service-endpoints", "logos-web")]
    assert {(k.check, k.cause) for k in service.caused_by} == {("containers", "readiness-failing")}
    for name, cause in (
        ("logos-chat", "config-missing"),
        ("logos-docs", "mount-failed"),
        ("logos-migrate", "init-stuck"),
        ("logos-worker", "liveness-restarts"),
        ("logos-search", "startup-probe-failing"),
    ):
        deployment = by_resource[("workloads", name)]
        assert {(k.check, k.cause) for k in deployment.caused_by} == {("containers", cause)}, name
    roots = {f.key.check for f, _ in root_causes(report.findings) if f.severity >= Severity.WARNING}
    assert "workloads" not in roots and "service-endpoints" not in roots


@pytest.mark.parametrize(
    ("message", "kind", "output"),
    [
        # pkg/kubelet/prober/prober.go, v1.37.2 and the older "errored" form
        ("Readiness probe failed: HTTP probe failed with statuscode: 503", "Readiness",
         "HTTP probe failed with statuscode: 503"),
        ("Liveness probe errored and resulted in unknown state: rpc error: code = Unknown",
         "Liveness", "rpc error: code = Unknown"),
        ("Startup probe errored: context deadline exceeded", "Startup",
         "context deadline exceeded"),
    ],
)  # fmt: skip
def test_probe_messages_of_each_shape(message: str, kind: str, output: str) -> None:
    match = PROBE.match(message)
    assert match is not None and match.group("kind") == kind
    assert (match.group("out") or match.group("err")) == output


def test_probes_are_described_from_the_spec() -> None:
    assert describe_probe({"tcpSocket": {"port": 5432}}) == "TCP :5432"
    assert describe_probe({"exec": {"command": ["pg_isready", "-U", "logos"]}}) == (
        "exec pg_isready -U logos"
    )
    assert describe_probe({"httpGet": {"port": 8443, "scheme": "HTTPS"}}) == "HTTPS GET :8443/"
    assert describe_probe(None) == "(not in the pod spec)"


def test_healthy_states_are_quiet() -> None:
    for scenario in ("healthy_logos", "rollout_in_progress", "crashloop_oom"):
        state, config = recorded(scenario)
        report = run_checks(state, [CHECK], config)
        assert [f for f in report.findings if f.severity >= Severity.WARNING] == [], scenario


# -- recordings from the real kubelet (k8s v1.37.2) on the test cluster's real node ----------
# Recorded by the real-node scenarios (issue 20): the strings are a kubelet's own.


def real(scenario: str, *ids: str) -> list[Finding]:
    state, config = recorded(scenario)
    checks = [c for c in default_registry() if c.id in ("containers", *ids)]
    return list(run_checks(state, checks, config).findings)


def test_real_kubelet_missing_configmap_is_the_root_of_the_deployment() -> None:
    found = real("real_env_configmap_missing", "workloads")
    (cm,) = [f for f in found if f.check == "containers"]
    assert (cm.cause, str(cm.resource).split("/")[-1]) == ("config-missing", "api-settings")
    (deployment,) = [f for f in found if f.check == "workloads"]
    assert [k.cause for k in deployment.caused_by] == ["config-missing"]


@pytest.mark.parametrize(
    ("scenario", "secret"),
    [
        ("real_env_secret_missing", "postgres-x509"),
        ("real_env_secret_key_missing", "api-credentials"),
    ],
)
def test_real_kubelet_missing_secret_hangs_under_the_secrets_finding(
    scenario: str, secret: str
) -> None:
    found = real(scenario, "secrets")
    (pod,) = [f for f in found if f.check == "containers"]
    assert pod.cause == "secret-missing" and f"Secret {secret}" in pod.message
    assert {(k.check, k.resource.name) for k in pod.caused_by} == {("secrets", secret)}


def test_real_kubelet_mount_failures_report_the_configmap_and_leave_the_secret_to_secrets() -> None:
    found = real("real_volume_missing", "secrets")
    by = {(f.check, f.cause): f for f in found}
    conf = by[("containers", "mount-failed")]
    assert conf.resource.kind == "ConfigMap" and conf.resource.name == "proxy-conf"
    assert not conf.caused_by, "the missing ConfigMap is a root cause of its own"
    assert ("secrets", "missing-secret") in {
        (k.check, k.cause) for k in by[("containers", "secret-missing")].caused_by
    }


def test_real_kubelet_claim_missing_on_a_bound_pod_names_the_claim() -> None:
    # A pod given spec.nodeName skips the scheduler; the kubelet's volume manager says
    # "Unable to attach or mount volumes: ... failed to process volumes=[data]: error
    # processing PVC ns/data-db-0: ... persistentvolumeclaims "data-db-0" not found".
    (mount,) = real("real_claim_missing_on_node")
    assert mount.cause == "mount-failed"
    assert mount.message.endswith("volume data: claim data-db-0 does not exist")
    assert [(d.kind, d.name) for d in mount.depends_on] == [("PersistentVolumeClaim", "data-db-0")]


def test_real_kubelet_readiness_failure_explains_the_service() -> None:
    found = real("real_readiness_failing", "service-endpoints")
    (probe,) = [f for f in found if f.check == "containers"]
    assert probe.cause == "readiness-failing"
    assert 'readiness probe HTTP GET :36085/ fails: Get "http://198.18.0.10:36085/": dial tcp' in (
        probe.message
    )
    (service,) = [f for f in found if f.check == "service-endpoints"]
    assert [k.cause for k in service.caused_by] == ["readiness-failing"]


def test_real_kubelet_liveness_kills_in_a_loop_are_critical_though_ready_between() -> None:
    (live,) = real("real_liveness_restarts")
    assert (live.cause, live.severity) == ("liveness-restarts", Severity.CRITICAL)
    assert (
        "liveness probe HTTP GET :36167/healthz fails: HTTP probe failed with statuscode: 404"
        in (live.message)
    )
    assert any("failed liveness probe, will be restarted" in e for e in live.evidence)


def test_real_kubelet_init_container_is_stuck_only_once_it_ran_for_minutes() -> None:
    state, config = recorded("real_init_stuck")
    assert run_checks(state, [CHECK], config).findings == (), "recorded 1 s after it started"
    later = replace(state, now=state.now + timedelta(minutes=5))
    (stuck,) = run_checks(later, [CHECK], config).findings
    assert stuck.cause == "init-stuck" and "init container wait-for-db" in stuck.message


@pytest.mark.parametrize(
    "scenario", ["real_healthy", "real_crashloop", "real_oom_killed", "real_image_tag_not_found"]
)
def test_real_kubelet_states_that_are_not_ours_stay_quiet(scenario: str) -> None:
    state, config = recorded(scenario)
    assert run_checks(state, [CHECK], config).findings == ()


# -- multi-attach, from the real attach/detach controller (scenario multi_attach) ------------


def test_a_volume_still_attached_elsewhere_names_the_volume_and_the_node_holding_it() -> None:
    state, config = recorded("multi_attach")
    checks = [c for c in default_registry() if c.id in ("containers", "workloads")]
    report = run_checks(state, checks, config)
    (attach,) = [f for f in report.findings if f.check == "containers"]
    ns = state.scope.namespaces[0] if state.scope.namespaces else ""
    volume, old_node, new_node = f"pv-{ns}-search-index", f"attach-a-{ns}", f"attach-b-{ns}"
    assert attach.cause == "multi-attach"
    assert attach.message == (
        f"pod {attach.resource.name} cannot attach volume {volume} on node {new_node}: "
        f"it is still attached to node {old_node}"
    )
    # kube-controller-manager v1.37.2 words it "Waiting for detach ... already used by pod(s)"
    assert any("Waiting for detach for volume" in e for e in attach.evidence)
    assert [(d.kind, d.name) for d in attach.depends_on] == [
        ("PersistentVolumeClaim", "search-index"),
        ("Node", old_node),  # a finding about that node (down, never detached) explains it
    ]
    assert attach.severity == Severity.WARNING, "the old pod still serves: a blocked rollout"
    (rollout,) = [f for f in report.findings if f.check == "workloads"]
    assert [k.cause for k in rollout.caused_by] == ["multi-attach"]


@pytest.mark.parametrize(
    "message",
    [
        # kube-controller-manager before 1.37 (reconciler.go reportMultiAttachError)
        'Multi-Attach error for volume "pvc-0a1b" Volume is already exclusively attached to one '
        "node and can't be attached to another",
        'Multi-Attach error for volume "pvc-0a1b" Volume is already used by pod(s) web-1, web-2',
        # v1.37.2
        'Waiting for detach for volume "pvc-0a1b" Volume is already exclusively attached to one '
        "node, waiting on detach before it can be attached to another node",
    ],
)
def test_multi_attach_messages_of_each_release(message: str) -> None:
    match = MULTI_ATTACH.match(message)
    assert match is not None and match.group("volume") == "pvc-0a1b"


@pytest.mark.parametrize(
    ("message", "volume", "error"),
    [
        (
            'MountVolume.SetUp failed for volume "docs-config" : configmap "x" not found',
            "docs-config",
            'configmap "x" not found',
        ),
        (
            'MountVolume.MountDevice failed for volume "pvc-9" : rpc error: code = Internal '
            "desc = could not format /dev/xvdba",
            "pvc-9",
            "rpc error: code = Internal desc = could not format /dev/xvdba",
        ),
        (
            'MountVolume.NewMounter initialization failed for volume "pvc-9" : kubernetes.io/csi: '
            "driver name ebs.csi.aws.com not found in the list of registered CSI drivers",
            "pvc-9",
            "kubernetes.io/csi: driver name ebs.csi.aws.com not found in the list of registered "
            "CSI drivers",
        ),
    ],
)
def test_volume_operation_messages(message: str, volume: str, error: str) -> None:
    match = VOLUME_OP.match(message)
    assert match is not None and (match.group("volume"), match.group("err")) == (volume, error)


def test_the_mount_summary_of_every_release() -> None:
    older = (
        "Unable to attach or mount volumes: unmounted volumes=[data config], unattached "
        "volumes=[data config kube-api-access-x]: timed out waiting for the condition"
    )
    v137 = (
        "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], "
        "failed to process volumes=[]: context deadline exceeded"
    )
    first, second = UNABLE.match(older), UNABLE.match(v137)
    assert first is not None and first.group("unmounted").split() == ["data", "config"]
    assert second is not None and second.group("err") == "context deadline exceeded"


@pytest.mark.parametrize(
    ("message", "resource", "condition"),
    [
        # pkg/kubelet/eviction/helpers.go evictionMessage
        (
            "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, "
            "available: 9876Mi. Container web was using 12Gi, request is 0, has larger "
            "consumption of ephemeral-storage. ",
            "ephemeral-storage",
            "DiskPressure",
        ),
        ("The node was low on resource: pids. ", "pids", "PIDPressure"),
        # the eviction manager's admission refusal: nodeConditionMessageFmt
        ("The node had condition: [DiskPressure]. ", "disk", "DiskPressure"),
    ],
)
def test_evictions_of_each_kind_name_the_resource_and_condition(
    message: str, resource: str, condition: str
) -> None:
    state, config = recorded("kubelet_states")
    doc = {k: [dict(o) for o in v] for k, v in state.objects.items()}
    for pod in doc["pods"]:
        if pod["status"].get("reason") == "Evicted":
            pod["status"] = {**pod["status"], "message": message}
    changed = ClusterState.build(doc, now=state.now, scope=state.scope)
    (render,) = run(changed, config)["logos-render"]
    assert f"({condition};" in render.remediation and f"low on {resource}" in render.remediation


def test_the_kubelets_mount_timeout_on_a_volume_held_elsewhere_is_not_a_second_cause() -> None:
    # Two minutes on, the kubelet adds its summary (pkg/kubelet/kubelet.go, volumemanager):
    # the volume is unattached because of the multi-attach, which stays the one cause.
    state, config = recorded("multi_attach")
    doc = {k: [dict(o) for o in v] for k, v in state.objects.items()}
    new = next(
        p
        for p in doc["pods"]
        if p["status"]["phase"] == "Pending" and p["metadata"]["name"].startswith("logos-search-")
    )
    when = state.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    doc["events"].append({
        "metadata": {"name": "x.1", "namespace": new["metadata"]["namespace"]},
        "involvedObject": {"kind": "Pod", "name": new["metadata"]["name"],
                           "namespace": new["metadata"]["namespace"],
                           "uid": new["metadata"]["uid"]},
        "reason": "FailedMount", "type": "Warning", "count": 1,
        "firstTimestamp": when, "lastTimestamp": when,
        "source": {"component": "kubelet", "host": new["spec"]["nodeName"]},
        "message": "Unable to attach or mount volumes: unmounted volumes=[index], unattached "
        "volumes=[index], failed to process volumes=[]: context deadline exceeded",
    })  # fmt: skip
    later = ClusterState.build(doc, now=state.now, scope=state.scope)
    assert [f.cause for f in run_checks(later, [CHECK], config).findings] == ["multi-attach"]


def test_a_csi_mount_error_names_the_claim_behind_the_persistent_volume() -> None:
    # operation_generator.go names a claim's volume by its PV ("volumeSpec.Name()"): the
    # finding must still depend on the claim, so that a pvc-pending finding explains it.
    state, config = recorded("multi_attach")
    doc = {k: [dict(o) for o in v] for k, v in state.objects.items()}
    doc["events"] = [e for e in doc["events"] if e.get("reason") != "FailedAttachVolume"]
    new = next(
        p
        for p in doc["pods"]
        if p["status"]["phase"] == "Pending" and p["metadata"]["name"].startswith("logos-search-")
    )
    pv = next(v["metadata"]["name"] for v in doc["persistentvolumes"])
    when = state.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    doc["events"].append({
        "metadata": {"name": "x.2", "namespace": new["metadata"]["namespace"]},
        "involvedObject": {"kind": "Pod", "name": new["metadata"]["name"],
                           "namespace": new["metadata"]["namespace"],
                           "uid": new["metadata"]["uid"]},
        "reason": "FailedMount", "type": "Warning", "count": 3,
        "firstTimestamp": when, "lastTimestamp": when,
        "source": {"component": "kubelet", "host": new["spec"]["nodeName"]},
        "message": f'MountVolume.MountDevice failed for volume "{pv}" : rpc error: code = '
        "Internal desc = could not format \"/dev/nvme1n1\" and mount it at \"/var/lib/kubelet/"
        'plugins/kubernetes.io/csi/ebs.csi.aws.com/1f/globalmount"',
    })  # fmt: skip
    later = ClusterState.build(doc, now=state.now, scope=state.scope)
    (mount,) = run_checks(later, [CHECK], config).findings
    assert mount.cause == "mount-failed"
    assert f"volume {pv}: rpc error: code = Internal desc = could not format" in mount.message
    assert [(d.kind, d.name) for d in mount.depends_on] == [
        ("PersistentVolumeClaim", "search-index")
    ]


def test_real_kubelet_startup_probe_kill() -> None:
    (startup,) = real("real_startup_probe")
    assert (startup.cause, startup.severity) == ("startup-probe-failing", Severity.CRITICAL)
    assert "startup probe TCP :" in startup.message and "connect: connection refused" in (
        startup.message
    )
    assert any("failed startup probe, will be restarted" in e for e in startup.evidence)


def test_real_kubelet_missing_configmap_keys_for_env_and_for_a_volume_item() -> None:
    found = {f.cause: f for f in real("real_configmap_keys_missing")}
    env, volume = found["config-missing"], found["mount-failed"]
    assert env.resource.name == volume.resource.name == "readiness-probe-failed"
    assert env.message.startswith("ConfigMap readiness-probe-failed has no key liveness")
    # pkg/volume/configmap/configmap.go: "configmap references non-existent config key: %s"
    assert volume.message.startswith("ConfigMap readiness-probe-failed has no key docs.yaml")
    assert "ConfigMap readiness-probe-failed exists with keys: present" in env.evidence


def test_a_liveness_restart_long_past_is_history_while_the_container_runs_ready() -> None:
    state, config = recorded("real_liveness_restarts")
    doc = {k: [dict(o) for o in v] for k, v in state.objects.items()}
    for e in doc["events"]:
        if e.get("reason") == "Killing":
            e["count"] = 1  # one kill, then the container ran ready
    once = ClusterState.build(doc, now=state.now, scope=state.scope)
    assert [f.severity for f in run_checks(once, [CHECK], config).findings] == [Severity.WARNING]
    later = replace(once, now=once.now + timedelta(minutes=30))
    assert [f.severity for f in run_checks(later, [CHECK], config).findings] == [Severity.INFO]


def test_real_kubelet_refusing_to_run_as_root_is_a_container_config_error() -> None:
    # pkg/kubelet/kuberuntime/security_context_others.go verifyRunAsNonRoot, on a Deployment
    # named "quota-exceeded" to mislead.
    found = real("real_run_as_root", "workloads")
    (config_error,) = [f for f in found if f.check == "containers"]
    assert config_error.cause == "container-config-error"
    assert "cannot start: container has runAsNonRoot and image will run as root" in (
        config_error.message
    )
    (deployment,) = [f for f in found if f.check == "workloads"]
    assert [k.cause for k in deployment.caused_by] == ["container-config-error"]


# -- a running pod whose events have expired (the API server keeps them an hour) ----------------
# Most running pods are passed over without reading them further; these are the two states
# of a running pod in which the status alone, with no event left, still names a cause.


def _events_expired(scenario: str) -> tuple[dict[str, list[Any]], ClusterState, Any]:
    state, config = recorded(scenario)
    doc = {k: [dict(o) for o in v] for k, v in state.objects.items()}
    doc["events"] = []
    return doc, state, config


def test_a_pod_running_unready_for_long_is_named_after_its_events_expired() -> None:
    doc, state, config = _events_expired("real_readiness_failing")
    later = ClusterState.build(doc, now=state.now + timedelta(hours=2), scope=state.scope)
    (probe,) = run_checks(later, [CHECK], config).findings
    assert (probe.cause, probe.resource.name) == ("readiness-failing", "web-67b589cfd4-thpw9")


def test_a_running_pod_whose_restart_needs_a_missing_configmap_is_named_without_events() -> None:
    # The container ran, exited, and cannot be created again: the kubelet keeps the pod
    # Running (pkg/kubelet/kubelet_pods.go getPhase counts a waiting container with a
    # lastState.terminated as stopped, and a stopped pod under restartPolicy Always as
    # Running), the waiting reason CreateContainerConfigError, the exit in lastState.
    doc, state, config = _events_expired("real_env_configmap_missing")
    (pod,) = doc["pods"]
    (status,) = pod["status"]["containerStatuses"]
    pod["status"] = {
        **pod["status"],
        "phase": "Running",
        "containerStatuses": [
            {
                **status,
                "restartCount": 1,
                "lastState": {
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": "2026-12-04T04:13:50Z",
                        "finishedAt": "2026-12-04T04:14:20Z",
                    }
                },
            }
        ],
    }
    later = ClusterState.build(doc, now=state.now + timedelta(hours=2), scope=state.scope)
    (config_missing,) = run_checks(later, [CHECK], config).findings
    assert config_missing.cause == "config-missing"
    assert config_missing.resource.name == "api-settings"
