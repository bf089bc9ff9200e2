"""On-call incidents run end to end on the real test cluster: `check -o json`, then `runbook
run --finding-from` with the answers fed on stdin, then `check` again.

Each incident is built by the same scenario the unit fixtures were recorded from.  The run
must fill every name from the finding, its diagnose steps must print the evidence that names
the cause (a failing diagnose step is evidence too, and the run goes on), its change steps
must fix it, the final `check` must no longer report the cause, and no Secret value may reach
the output or the transcript.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from k8scluster.cluster import build_binaries
from k8scluster.scenarios import cleanup_cluster_scoped, load_all
from k8scluster.scenarios.networking_gpu_hpa import gpu_label, stop_adapter

pytestmark = pytest.mark.integration

PROG = Path(sys.executable).parent / "logos-doctor"


@pytest.fixture(scope="module")
def child_env() -> dict[str, str]:
    """PATH with the cluster's own kubectl first: runbook steps call `kubectl`."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(build_binaries()), str(PROG.parent), env.get("PATH", "")])
    env.pop("KUBECONFIG", None)
    env.pop("LOGOS_DOCTOR_KUBECONFIG", None)
    env["NO_COLOR"] = "1"
    return env


@pytest.fixture
def incident(
    cluster: Any, api: Any, namespace: str, tmp_path: Path, child_env: dict[str, str]
) -> Iterator[Any]:
    """Build a scenario; ``check`` and ``run`` against it; clean up what it made cluster-wide."""
    scenarios = load_all()

    class Incident:
        config = tmp_path / "logos-doctor.yaml"

        def build(self, name: str) -> None:
            overrides = scenarios[name](api, namespace)
            self.config.write_text(yaml.safe_dump(overrides or {}))

        def check(self) -> list[dict[str, Any]]:
            done = self.doctor(
                "check", "--all", "-n", namespace, "--config", str(self.config), "-o", "json"
            )
            assert done.returncode in (0, 1), done.stderr
            (tmp_path / "findings.json").write_text(done.stdout)
            return list(json.loads(done.stdout)["findings"])

        def run(self, ref: str, *args: str, stdin: str = "") -> tuple[str, str]:
            transcript = tmp_path / f"{ref.replace('#', '-')}.md"
            done = self.doctor(
                "runbook",
                "run",
                ref,
                "--finding-from",
                str(tmp_path / "findings.json"),
                "--transcript",
                str(transcript),
                *args,
                stdin=stdin,
            )
            self.last = done
            return done.stdout + done.stderr, transcript.read_text()

        def doctor(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(PROG), *args, "--kubeconfig", str(cluster.kubeconfig)],
                input=stdin,
                capture_output=True,
                text=True,
                env=child_env,
                timeout=300,
                check=False,
            )

    try:
        yield Incident()
    finally:
        stop_adapter(namespace)
        cleanup_cluster_scoped(api, namespace)


def section(transcript: str, step_id: str) -> str:
    """The transcript's section for one step."""
    start = transcript.index(f". {step_id} (")
    end = transcript.find("\n### ", start)
    return transcript[start : end if end >= 0 else None]


def causes(findings: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(f["check"], f["cause"]) for f in findings}


def test_gpu_label_missing_labelled_from_the_finding(incident: Any, namespace: str) -> None:
    incident.build("gpu_label_missing")
    before = incident.check()
    [root] = [f for f in before if f["root_cause"] and f["cause"] == "gpu-label-missing"][:1]
    nodes = [d["name"] for d in root["depends_on"] if d["kind"] == "Node"]
    key, value = gpu_label(namespace)
    # the one thing the finding cannot know: the label this cluster's GPU pods select
    output, text = incident.run(
        "gpu-nodes#gpu-label-missing",
        "--yes",
        "--yes-changes",
        "--param",
        f"gpu_label={key}={value}",
    )
    assert incident.last.returncode == 0, output
    assert f"| node | `{nodes[0]}` | finding |" in text
    assert f"| pod | `{root['resource']['name']}` | finding |" in text
    # the diagnosis shows the GPUs on nodes without the label
    assert nodes[0] in section(text, "nodes-with-gpus")
    assert f"node/{nodes[0]} labeled" in section(text, "label-node")
    after = incident.check()
    assert ("gpu-nodes", "gpu-label-missing") not in causes(after), after


def test_service_selector_typo_restored_from_the_finding(
    incident: Any, api: Any, namespace: str
) -> None:
    incident.build("service_no_matching_pods")
    before = incident.check()
    assert ("service-endpoints", "no-matching-pods") in causes(before)
    output, text = incident.run("service-endpoints#no-matching-pods", stdin="y\ny\n")
    assert incident.last.returncode == 0, output
    assert "| service | `logos-web` | finding |" in text
    assert "web-frontend" in section(text, "service-selector")  # the typo, as the API has it
    assert ": ok, exit 0" in section(text, "restore-selector")
    selector = client.CoreV1Api(api).read_namespaced_service("logos-web", namespace).spec.selector
    assert selector["app.kubernetes.io/component"] == "web"
    after = incident.check()
    assert ("service-endpoints", "no-matching-pods") not in causes(after), after


def test_missing_metrics_api_is_diagnosed_by_the_steps_that_fail(incident: Any) -> None:
    incident.build("hpa_no_metrics_server")
    before = incident.check()
    assert ("hpa", "metrics-unavailable") in causes(before)
    output, text = incident.run("hpa#metrics-unavailable", stdin="y\n")
    # what cannot be found is the diagnosis: recorded, and the run went on to the end
    assert "not found" in section(text, "metrics-apiservice")
    assert "not found" in section(text, "metrics-server")
    assert "Metrics API not available" in section(text, "top-pods")
    assert ": not run" not in text
    assert incident.last.returncode == 0, output


def test_secret_missing_key_rewritten_without_printing_a_value(
    cluster: Any, incident: Any, api: Any, namespace: str, tmp_path: Path
) -> None:
    from k8scluster import realnode

    if cluster.source != "testcluster" or realnode.unavailable_reason():
        pytest.skip("needs the real kubelet node of the local test cluster")
    incident.build("real_env_secret_key_missing")
    before = incident.check()
    assert ("secrets", "missing-key") in causes(before)
    values = {"username": "logos", "password": "canary-3f9a-never-in-a-transcript"}
    env_file = tmp_path / "api-credentials.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    output, text = incident.run(
        # diagnose: yes; the general restart of every Logos Deployment: skip; the rewrite: yes
        "secrets#missing-key",
        "--param",
        f"env_file={env_file}",
        stdin="y\ns\ny\n",
    )
    assert incident.last.returncode == 0, output
    assert "| secret | `api-credentials` | finding |" in text
    assert "secret/api-credentials configured" in section(text, "rewrite-secret")
    secret = client.CoreV1Api(api).read_namespaced_secret("api-credentials", namespace)
    assert base64.b64decode(secret.data["password"]).decode() == values["password"]
    for leaked in values.values():
        if len(leaked) >= 8:
            assert leaked not in output and leaked not in text

    def started() -> bool:
        after = incident.check()
        return ("secrets", "missing-key") not in causes(after)

    from k8scluster.kube import wait_for

    wait_for(started, 120, "the kubelet to start the container once the key exists")


# -- every read-only kubectl step of every runbook, once, against the cluster ------------------

# kubectl's own words when it cannot parse a command line (k8s.io/kubectl/pkg/cmd/util/helpers.go
# and cobra): a step that says one of them is a wrong command, whatever its exit code
PARSE_ERRORS = (
    "unknown flag",
    "unknown shorthand flag",
    "unknown command",
    "flag needs an argument",
    "invalid argument",
    "error: unable to parse",
    "error: error parsing",
    "error parsing jsonpath",
    "option cannot be used with",
    "Usage:",
    "unexpected args",
    "accepts at most",
    "requires at least",
    "you must specify",
)


def _kubectl_only(code: str) -> bool:
    lines = [
        ln.strip() for ln in code.splitlines() if ln.strip() and not ln.strip().startswith("#")
    ]
    blocked = ("|", ";", "$(", "&&", "port-forward", " -f -", " cp ")
    return all(ln.startswith("kubectl ") for ln in lines) and not any(b in code for b in blocked)


def test_every_read_only_kubectl_step_parses_and_returns(
    cluster: Any, namespace: str, child_env: dict[str, str]
) -> None:
    from logos_doctor import runbook as rb
    from logos_doctor.runbook.shell import execute

    env = {**child_env, "KUBECONFIG": str(cluster.kubeconfig)}
    ran, wrong = 0, []
    for book in rb.load_all():
        for step in book.steps:
            if step.kind != "diagnose" or not _kubectl_only(step.code):
                continue
            values = rb.sample_values(book, step.params)
            values.update({n: "1" for n in step.params if book.params[n].type == "int"})
            if "namespace" in values:
                values["namespace"] = namespace
            result = execute(step.script(values), {**env, **step.env(values)}, 30, lambda _: None)
            ran += 1
            said = "\n".join(result.lines)
            if result.timed_out or any(p in said for p in PARSE_ERRORS):
                wrong.append(f"{book.id}/{step.id}: {step.show(values)!r} -> {said[:300]}")
    assert ran > 40
    assert not wrong, "\n".join(wrong)
