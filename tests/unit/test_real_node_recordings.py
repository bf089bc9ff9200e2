"""What a real kubelet (v1.37.2, on containerd 1.6.20) wrote in each recorded ``real_*``
scenario (tests/k8scluster/scenarios/kubelet.py).

These are facts about real kubelet output that the checks rely on, read straight from the
recorded JSON (not through the package), so that a re-recording by a different kubelet or
runtime that words things differently fails here, naming the field, before any check
silently stops matching.  Ports, pod names and namespaces vary per recording; everything
else is compared verbatim.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest

SNAPSHOTS = Path(__file__).resolve().parents[1] / "fixtures" / "snapshots"


def load(name: str) -> dict[str, Any]:
    with gzip.open(SNAPSHOTS / f"{name}.json.gz", "rt") as f:
        return json.load(f)["objects"]


def the_pod(objects: dict[str, Any], prefix: str) -> dict[str, Any]:
    pods = [p for p in objects["pods"] if p["metadata"]["name"].startswith(prefix)]
    assert len(pods) == 1, [p["metadata"]["name"] for p in objects["pods"]]
    return pods[0]


def container(pod: dict[str, Any], key: str = "containerStatuses") -> dict[str, Any]:
    return pod["status"][key][0]


def messages(objects: dict[str, Any], pod: dict[str, Any], reason: str) -> list[str]:
    return [e["message"] for e in objects["events"]
            if e["involvedObject"].get("uid") == pod["metadata"]["uid"]
            and e["reason"] == reason]


def condition(pod: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in pod["status"]["conditions"] if c["type"] == kind)


def test_every_real_scenario_ran_on_the_real_node() -> None:
    names = sorted(p.name.removesuffix(".json.gz") for p in SNAPSHOTS.glob("real_*.json.gz"))
    assert len(names) >= 16, names
    for name in names:
        objects = load(name)
        node = next(n for n in objects["nodes"] if n["metadata"]["name"] == "real-node-0")
        assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.37.2", name
        assert node["status"]["nodeInfo"]["containerRuntimeVersion"] == "containerd://1.6.20"
        for pod in objects["pods"]:
            if name != "real_claim_missing":  # the scheduler never places that one
                assert pod["spec"]["nodeName"] == "real-node-0", (name, pod["metadata"]["name"])


# --------------------------------------------------------------------------- image pulls

PULL = {  # scenario -> (deployment, image pattern, the containerd error at the end)
    "real_image_tag_not_found": (
        "web", r"127\.0\.0\.1:\d+/acme/nginx-tls:v1\.403",
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{img}\": "
        "failed to resolve reference \"{img}\": {img}: not found"),
    "real_image_unauthorized": (
        "exporter", r"127\.0\.0\.1:(\d+)/acme/x509-exporter:v2\.0\.1",
        "failed to pull and unpack image \"{img}\": failed to resolve reference \"{img}\": "
        "pulling from host {host} failed with status code [manifests v2.0.1]: 401 Unauthorized"),
    "real_registry_refused": (
        "web", r"127\.0\.0\.1:(\d+)/acme/nginx-tls:v1\.2",
        "failed to pull and unpack image \"{img}\": failed to resolve reference \"{img}\": "
        "failed to do request: Head \"http://{host}/v2/acme/nginx-tls/manifests/v1.2\": "
        "dial tcp {host}: connect: connection refused"),
    "real_registry_unresolvable": (
        "web", r"registry\.invalid/acme/nginx-tls:v1\.2",
        "failed to pull and unpack image \"{img}\": failed to resolve reference \"{img}\": "
        "failed to do request: Head \"https://registry.invalid/v2/acme/nginx-tls/manifests/"
        "v1.2\": dial tcp: lookup registry.invalid on {dns}:53: no such host"),
}


@pytest.mark.parametrize("scenario", sorted(PULL))
def test_pull_failures_as_the_kubelet_words_them(scenario: str) -> None:
    app, pattern, error = PULL[scenario]
    objects = load(scenario)
    pod = the_pod(objects, app + "-")
    cs = container(pod)
    img = cs["image"]
    assert re.fullmatch(pattern, img), img
    host = img.split("/", 1)[0]
    dns = ""
    if "registry.invalid" in img:
        found = re.search(r"lookup registry\.invalid on (127\.[\d.]+):53", json.dumps(cs))
        assert found, cs
        dns = found.group(1)
    want = error.format(img=img, host=host, dns=dns)
    waiting = cs["state"]["waiting"]
    assert waiting["reason"] == "ImagePullBackOff"
    assert waiting["message"] == f'Back-off pulling image "{img}": ErrImagePull: {want}'
    assert set(messages(objects, pod, "Failed")) == {
        f'Failed to pull image "{img}": {want}', "Error: ErrImagePull",
        "Error: ImagePullBackOff"}
    assert messages(objects, pod, "BackOff") == [f'Back-off pulling image "{img}"']


def test_a_pull_secret_makes_the_private_image_pull() -> None:
    objects = load("real_image_pull_secret")
    pod = the_pod(objects, "exporter-")
    assert pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    cs = container(pod)
    assert cs["ready"] is True and "running" in cs["state"]
    image = pod["spec"]["containers"][0]["image"]
    assert re.fullmatch(r"127\.0\.0\.1:\d+/acme/x509-exporter:v2\.0\.1", image)
    # containerd names a running image by the first reference it holds for it: the same
    # busybox image also came from the open registry, so status.image and imageID may name
    # acme/nginx-tls there instead of the spec's acme/x509-exporter (same digest).
    assert cs["image"].split("/", 1)[1] in ("acme/nginx-tls:v1.2", "acme/x509-exporter:v2.0.1")
    assert re.fullmatch(r"127\.0\.0\.1:\d+/acme/(nginx-tls|x509-exporter)@sha256:[0-9a-f]{64}",
                        cs["imageID"]), cs["imageID"]
    (pulled,) = messages(objects, pod, "Pulled")
    assert re.fullmatch(rf'Successfully pulled image "{re.escape(image)}" in \d+m?s '
                        r"\(\d+m?s including waiting\)\. Image size: \d+ bytes\.", pulled)


# --------------------------------------------------------------------------- config

CONFIG = {  # scenario -> the message, {ns} standing for the namespace
    "real_env_secret_missing": 'secret "postgres-x509" not found',
    "real_env_secret_key_missing": "couldn't find key password in Secret {ns}/api-credentials",
    "real_env_configmap_missing": 'configmap "api-settings" not found',
}


@pytest.mark.parametrize("scenario", sorted(CONFIG))
def test_create_container_config_errors(scenario: str) -> None:
    objects = load(scenario)
    pod = the_pod(objects, "api-")
    want = CONFIG[scenario].format(ns=pod["metadata"]["namespace"])
    waiting = container(pod)["state"]["waiting"]
    assert waiting == {"reason": "CreateContainerConfigError", "message": want}
    assert set(messages(objects, pod, "Failed")) == {f"Error: {want}"}
    assert pod["status"]["phase"] == "Pending"


def test_missing_volume_sources_are_failed_mounts() -> None:
    objects = load("real_volume_missing")
    pod = the_pod(objects, "proxy-")
    assert container(pod)["state"]["waiting"] == {"reason": "ContainerCreating"}
    assert set(messages(objects, pod, "FailedMount")) == {
        'MountVolume.SetUp failed for volume "conf" : configmap "proxy-conf" not found',
        'MountVolume.SetUp failed for volume "certs" : secret "tls-403" not found',
    }


# --------------------------------------------------------------------------- probes


def test_readiness_probe_on_a_closed_port() -> None:
    objects = load("real_readiness_failing")
    pod = the_pod(objects, "web-")
    cs = container(pod)
    assert "running" in cs["state"] and cs["ready"] is False and cs["restartCount"] == 0
    ready = condition(pod, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "ContainersNotReady", "containers with unready status: [server]")
    (msg,) = set(messages(objects, pod, "Unhealthy"))
    assert re.fullmatch(r'Readiness probe failed: Get "http://198\.18\.0\.10:(\d+)/": '
                        r"dial tcp 198\.18\.0\.10:\1: connect: connection refused", msg), msg
    (eps,) = [s["endpoints"] for s in objects["endpointslices"]]
    assert [(e["addresses"], e["conditions"]["ready"]) for e in eps] == [(["198.18.0.10"],
                                                                          False)]


GATE = "target-health.elbv2.k8s.aws/k8s-web-7c1e9a"


@pytest.mark.parametrize(("scenario", "message"), [
    ("real_readiness_gate_absent",
     f'corresponding condition of pod readiness gate "{GATE}" does not exist.'),
    ("real_readiness_gate_false",
     f'the status of pod readiness gate "{GATE}" is not "True", but False'),
])
def test_readiness_gate_not_true(scenario: str, message: str) -> None:
    objects = load(scenario)
    pod = the_pod(objects, "web-")
    assert pod["spec"]["readinessGates"] == [{"conditionType": GATE}]
    assert container(pod)["ready"] is True
    assert condition(pod, "ContainersReady")["status"] == "True"
    ready = condition(pod, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "ReadinessGatesNotReady", message)
    # No event of the kubelet's names the gate.
    assert not [e for e in objects["events"] if GATE in e["message"]]
    (eps,) = [s["endpoints"] for s in objects["endpointslices"]]
    assert [e["conditions"]["ready"] for e in eps] == [False]


def test_readiness_gate_true_makes_the_pod_ready() -> None:
    objects = load("real_readiness_gate_true")
    pod = the_pod(objects, "web-")
    assert condition(pod, GATE)["status"] == "True"
    ready = condition(pod, "Ready")
    assert ready["status"] == "True" and "reason" not in ready
    (eps,) = [s["endpoints"] for s in objects["endpointslices"]]
    assert [e["conditions"]["ready"] for e in eps] == [True]


def test_liveness_probe_restarts() -> None:
    objects = load("real_liveness_restarts")
    pod = the_pod(objects, "web-")
    cs = container(pod)
    assert cs["restartCount"] >= 2
    # The server exits 0 on SIGTERM, so the kubelet's kill shows as Completed.
    assert {k: v for k, v in cs["lastState"]["terminated"].items()
            if k in ("exitCode", "reason")} == {"exitCode": 0, "reason": "Completed"}
    assert set(messages(objects, pod, "Unhealthy")) == {
        "Liveness probe failed: HTTP probe failed with statuscode: 404"}
    assert set(messages(objects, pod, "Killing")) == {
        "Container server failed liveness probe, will be restarted"}


# --------------------------------------------------------------------------- exits


def test_crash_loop_exit_1() -> None:
    objects = load("real_crashloop")
    pod = the_pod(objects, "worker-")
    cs = container(pod)
    ns, name, uid = pod["metadata"]["namespace"], pod["metadata"]["name"], pod["metadata"]["uid"]
    waiting = cs["state"]["waiting"]
    assert waiting["reason"] == "CrashLoopBackOff"
    assert re.fullmatch(rf"back-off \d+s restarting failed container=worker "
                        rf"pod={name}_{ns}\({uid}\)", waiting["message"]), waiting["message"]
    last = cs["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (1, "Error")
    assert set(messages(objects, pod, "BackOff")) == {
        f"Back-off restarting failed container worker in pod {name}_{ns}({uid})"}


def test_oom_kill_under_a_memory_limit() -> None:
    objects = load("real_oom_killed")
    pod = the_pod(objects, "cache-")
    cs = container(pod)
    assert cs["restartCount"] >= 2
    last = cs["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (137, "OOMKilled")
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert pod["spec"]["containers"][0]["resources"]["limits"] == {"memory": "32Mi"}


def test_init_container_that_never_finishes() -> None:
    objects = load("real_init_stuck")
    pod = the_pod(objects, "app-")
    init = container(pod, "initContainerStatuses")
    assert init["name"] == "wait-for-db" and "running" in init["state"]
    assert container(pod)["state"]["waiting"] == {"reason": "PodInitializing"}
    initialized = condition(pod, "Initialized")
    assert (initialized["status"], initialized["reason"], initialized["message"]) == (
        "False", "ContainersNotInitialized", "containers with incomplete status: [wait-for-db]")


# --------------------------------------------------------------------------- claims


def test_missing_claim_keeps_the_pod_unscheduled() -> None:
    objects = load("real_claim_missing")
    pod = the_pod(objects, "db-")
    scheduled = condition(pod, "PodScheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    assert re.fullmatch(r'0/\d+ nodes are available: persistentvolumeclaim "data-db-0" not '
                        r"found\. not found", scheduled["message"]), scheduled["message"]
    assert "containerStatuses" not in pod["status"]


def test_missing_claim_on_a_bound_pod_is_a_kubelet_failed_mount() -> None:
    objects = load("real_claim_missing_on_node")
    pod = the_pod(objects, "db")
    ns = pod["metadata"]["namespace"]
    assert container(pod)["state"]["waiting"] == {"reason": "ContainerCreating"}
    sandbox = condition(pod, "PodReadyToStartContainers")
    assert (sandbox["status"], sandbox["reason"]) == ("False", "PodSandboxNotReady")
    assert set(messages(objects, pod, "FailedMount")) == {
        "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], "
        f"failed to process volumes=[data]: error processing PVC {ns}/data-db-0: failed to "
        'fetch PVC from API server: persistentvolumeclaims "data-db-0" not found'}


def test_healthy_baseline() -> None:
    objects = load("real_healthy")
    pod = the_pod(objects, "web-")
    assert container(pod)["ready"] is True
    assert [e["conditions"]["ready"] for s in objects["endpointslices"]
            for e in s["endpoints"]] == [True]
    assert not [e for e in objects["events"] if e["type"] == "Warning"]
