"""`logos-doctor fix pvc` and `fix storageclass` on the real test control plane.

The StatefulSet controller, the garbage collector, the PV controller and the scheduler are
the real ones; the EBS provisioner is the test stand-in.  Each test builds its scenario in a
fresh namespace with its own StorageClass name (``ssd-<ns>``), runs the CLI as an on-call
would, and checks what the cluster did.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from k8scluster.kube import wait_for
from k8scluster.scenarios import cleanup_cluster_scoped
from k8scluster.scenarios.fix_pvc import (
    POSTGRES,
    REDIS,
    fix_class_missing,
    fix_mixed,
    fix_wrong_template_class,
    typo_class,
)
from k8scluster.scenarios.storage import class_name, make_class

CLI = [sys.executable, "-m", "logos_doctor"]


# -- harness ----------------------------------------------------------------------------------


class Fixer:
    """Runs `logos-doctor fix ...` against the test cluster, with its own state dir."""

    def __init__(self, kubeconfig: Path, config: Path, state_dir: Path, namespace: str) -> None:
        self.kubeconfig = kubeconfig
        self.config = config
        self.state_dir = state_dir
        self.namespace = namespace

    def args(self, *args: str) -> list[str]:
        common = ["--kubeconfig", str(self.kubeconfig), "--state-dir", str(self.state_dir)]
        if args and args[0] in ("pvc", "storageclass"):
            return [*CLI, "fix", *args, "-n", self.namespace, "--config", str(self.config), *common]
        return [*CLI, "fix", *args, *common]

    def run(
        self, *args: str, crash_at: str | None = None, stdin: str = "", timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        env.pop("LOGOS_DOCTOR_FIX_CRASH_AT", None)
        if crash_at:
            env["LOGOS_DOCTOR_FIX_CRASH_AT"] = crash_at
        return subprocess.run(
            self.args(*args), input=stdin, capture_output=True, text=True, timeout=timeout, env=env
        )

    def start(self, *args: str, crash_at: str | None = None) -> subprocess.Popen[str]:
        env = dict(os.environ)
        env.pop("LOGOS_DOCTOR_FIX_CRASH_AT", None)
        if crash_at:
            env["LOGOS_DOCTOR_FIX_CRASH_AT"] = crash_at
        return subprocess.Popen(
            self.args(*args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def fixes(self) -> list[Path]:
        root = self.state_dir / "fixes"
        return sorted(root.iterdir()) if root.is_dir() else []

    def journal(self, fix: Path) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (fix / "journal.jsonl").read_text().splitlines()]


@pytest.fixture
def fixer(cluster, api, namespace, tmp_path):
    """A Fixer for this test's namespace; removes the cluster-scoped classes afterwards."""
    yield Fixer(cluster.kubeconfig, tmp_path / "logos-doctor.yaml", tmp_path / "state", namespace)
    storage = client.StorageV1Api(api)
    for name in (class_name(namespace), typo_class(namespace)):
        try:
            storage.delete_storage_class(name)
        except ApiException as exc:
            if exc.status != 404:
                raise
    cleanup_cluster_scoped(api, namespace)


def build(scenario, api, namespace: str, fixer: Fixer) -> None:
    overrides = scenario(api, namespace)
    fixer.config.write_text(yaml.safe_dump(overrides))


def read(api, kind: str, namespace: str, name: str) -> Any | None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    readers = {
        "sts": lambda: apps.read_namespaced_stateful_set(name, namespace),
        "pod": lambda: core.read_namespaced_pod(name, namespace),
        "pvc": lambda: core.read_namespaced_persistent_volume_claim(name, namespace),
        "sc": lambda: client.StorageV1Api(api).read_storage_class(name),
    }
    try:
        return readers[kind]()
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def end_state(api, namespace: str) -> dict[str, Any]:
    """What an on-call looks at afterwards: templates, claims, pods, the class."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    return {
        "statefulsets": {
            s.metadata.name: {
                t.metadata.name: t.spec.storage_class_name
                for t in s.spec.volume_claim_templates or []
            }
            for s in apps.list_namespaced_stateful_set(namespace).items
        },
        "claims": {
            p.metadata.name: (p.status.phase, p.spec.storage_class_name)
            for p in core.list_namespaced_persistent_volume_claim(namespace).items
        },
        "pods": {
            p.metadata.name: p.status.phase
            for p in core.list_namespaced_pod(namespace).items
            if p.metadata.deletion_timestamp is None
        },
        "class": read(api, "sc", None, class_name(namespace)) is not None,
    }


def healthy_databases(namespace: str) -> dict[str, Any]:
    """Both databases on the expected class, bound and running: where every fix must end."""
    cls = class_name(namespace)
    return {
        "statefulsets": {POSTGRES: {"data": cls}, REDIS: {"redis-data": cls}},
        "claims": {
            "data-logos-postgresql-0": ("Bound", cls),
            "redis-data-logos-redis-master-0": ("Bound", cls),
        },
        "pods": {"logos-postgresql-0": "Running", "logos-redis-master-0": "Running"},
        "class": True,
    }


def wait_state(api, namespace: str, expected: dict[str, Any], timeout: float = 60) -> None:
    last: list[Any] = [None]

    def same() -> bool:
        last[0] = end_state(api, namespace)
        return last[0] == expected

    wait_for(
        same,
        timeout,
        "the fixed end state",
        interval=0.5,
        describe=lambda: f"found {last[0]}\nwanted {expected}",
    )


def check_findings(cluster, fixer: Fixer) -> list[dict[str, Any]]:
    out = subprocess.run(
        [
            *CLI,
            "check",
            "storage-class",
            "pvc-pending",
            "-n",
            fixer.namespace,
            "-o",
            "json",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--config",
            str(fixer.config),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode in (0, 1), out.stderr
    ns, cls = fixer.namespace, class_name(fixer.namespace)
    return [
        f
        for f in json.loads(out.stdout)["findings"]
        if f["severity"] != "info"
        and (f["resource"]["namespace"] == ns or f["resource"]["name"] == cls)
    ]


def stopped(proc: subprocess.Popen[str], timeout: float = 60) -> None:
    """Wait until the process has sent itself SIGSTOP (the crash hook's ':stop')."""

    def state() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode}: {proc.communicate()}")
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0] == "T"

    wait_for(state, timeout, "the fix to stop at the hook", interval=0.1)


# -- the headline scenario ------------------------------------------------------------------------


def test_missing_class_is_created_and_the_claims_bind(cluster, api, namespace, fixer):
    build(fix_class_missing, api, namespace, fixer)
    assert check_findings(cluster, fixer), "the scenario should start broken"

    out = fixer.run("pvc", "--yes")

    assert out.returncode == 0, out.stdout + out.stderr
    assert f"1. Create StorageClass {class_name(namespace)}" in out.stdout
    assert "kubectl create -f" in out.stdout
    assert "After:  clean" in out.stdout
    sc = read(api, "sc", None, class_name(namespace))
    assert sc.provisioner == "ebs.csi.aws.com"
    assert sc.volume_binding_mode == "WaitForFirstConsumer"
    wait_state(api, namespace, healthy_databases(namespace))
    assert check_findings(cluster, fixer) == []

    again = fixer.run("pvc", "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Nothing to do." in again.stdout
    (fix,) = fixer.fixes()
    resumed = fixer.run("--resume", fix.name)
    assert resumed.returncode == 0
    assert "already finished; nothing to do" in resumed.stdout


# -- the orphan-cascade recreation ----------------------------------------------------------------


def test_wrong_template_class_recreates_the_statefulset_around_its_running_pod(
    cluster, api, namespace, fixer
):
    build(fix_wrong_template_class, api, namespace, fixer)
    old_sts = read(api, "sts", namespace, POSTGRES)
    running = read(api, "pod", namespace, "logos-postgresql-0")
    bound = read(api, "pvc", namespace, "data-logos-postgresql-0")
    assert running.status.phase == "Running" and bound.status.phase == "Bound"
    assert old_sts.spec.volume_claim_templates[0].spec.storage_class_name == typo_class(namespace)

    out = fixer.run("pvc", "--yes")

    assert out.returncode == 0, out.stdout + out.stderr
    assert "--cascade=orphan" in out.stdout
    new_sts = read(api, "sts", namespace, POSTGRES)
    assert new_sts.metadata.uid != old_sts.metadata.uid
    assert new_sts.spec.volume_claim_templates[0].spec.storage_class_name == class_name(namespace)
    assert new_sts.spec.replicas == 2
    adopted = read(api, "pod", namespace, "logos-postgresql-0")
    assert adopted.metadata.uid == running.metadata.uid  # adopted, not recreated
    assert adopted.metadata.owner_references[0].uid == new_sts.metadata.uid
    assert read(api, "pvc", namespace, "data-logos-postgresql-0").metadata.uid == bound.metadata.uid
    wait_for(
        lambda: read(api, "pvc", namespace, "data-logos-postgresql-1").status.phase == "Bound",
        60,
        "the new claim to bind",
    )
    new_claim = read(api, "pvc", namespace, "data-logos-postgresql-1")
    assert new_claim.spec.storage_class_name == class_name(namespace)
    wait_for(
        lambda: read(api, "pod", namespace, "logos-postgresql-1").status.phase == "Running",
        60,
        "the new replica to run",
    )

    (fix,) = fixer.fixes()
    saved = json.loads((fix / "backup" / f"statefulset-{POSTGRES}.json").read_text())
    assert saved["metadata"]["uid"] == old_sts.metadata.uid
    done = [e["step"] for e in fixer.journal(fix) if e["event"] == "step-done"]
    assert done == [
        f"delete-statefulset/{POSTGRES}",
        "delete-pod/logos-postgresql-1",
        "delete-claim/data-logos-postgresql-1",
        f"create-statefulset/{POSTGRES}",
        f"wait-statefulset/{POSTGRES}",
        "verify",
    ]
    assert check_findings(cluster, fixer) == []


# -- interrupted anywhere, resumed ----------------------------------------------------------------

_WRITES = (
    "create-storageclass/{cls}",
    f"delete-statefulset/{POSTGRES}",
    "delete-pod/logos-postgresql-0",
    "delete-claim/data-logos-postgresql-0",
    f"create-statefulset/{POSTGRES}",
)
_WAITS = ("wait-claims", f"wait-statefulset/{POSTGRES}", "verify")
CRASH_POINTS = [f"{s}:{m}" for s in _WRITES for m in ("before-write", "after-write", "end")] + [
    f"{s}:{m}" for s in _WAITS for m in ("start", "end")
]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_killed_at_any_point_then_resumed_ends_fixed(cluster, api, namespace, fixer, point):
    build(fix_mixed, api, namespace, fixer)
    redis_claim = read(api, "pvc", namespace, "redis-data-logos-redis-master-0").metadata.uid
    point = point.format(cls=class_name(namespace))

    killed = fixer.run("pvc", "--yes", crash_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    (fix,) = fixer.fixes()
    step = point.rsplit(":", 1)[0]
    assert {"event": "step-started", "step": step}.items() <= fixer.journal(fix)[-1].items()

    listed = fixer.run("--list")
    assert fix.name in listed.stdout and "interrupted" in listed.stdout

    resumed = fixer.run("--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"Resuming fix {fix.name}" in resumed.stdout
    assert read(api, "sts", namespace, POSTGRES) is not None  # never left absent
    wait_state(api, namespace, healthy_databases(namespace))
    # The Bound claim was never deleted: it is the one that existed from the start.
    assert (
        read(api, "pvc", namespace, "redis-data-logos-redis-master-0").metadata.uid == redis_claim
    )
    assert fixer.journal(fix)[-1]["event"] == "finished"


def test_uninterrupted_run_reaches_the_same_end_state(cluster, api, namespace, fixer):
    build(fix_mixed, api, namespace, fixer)
    out = fixer.run("pvc", "--yes")
    assert out.returncode == 0, out.stdout + out.stderr
    wait_state(api, namespace, healthy_databases(namespace))


# -- dry run ------------------------------------------------------------------------------------


def _versions(api, namespace: str) -> dict[str, str]:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    listed = [
        *core.list_namespaced_pod(namespace).items,
        *core.list_namespaced_persistent_volume_claim(namespace).items,
        *core.list_namespaced_service(namespace).items,
        *core.list_namespaced_secret(namespace).items,
        *apps.list_namespaced_stateful_set(namespace).items,
        *apps.list_namespaced_controller_revision(namespace).items,
        *client.CoordinationV1Api(api).list_namespaced_lease(namespace).items,
    ]
    return {f"{type(o).__name__}/{o.metadata.name}": o.metadata.resource_version for o in listed}


def test_dry_run_changes_no_resource_version(cluster, api, namespace, fixer):
    build(fix_mixed, api, namespace, fixer)
    seen: list[dict[str, str]] = [_versions(api, namespace)]

    def settled() -> bool:  # the controllers have stopped writing status
        time.sleep(2)
        seen.append(_versions(api, namespace))
        return seen[-1] == seen[-2]

    wait_for(settled, 60, "the scenario to settle", interval=0)
    before = seen[-1]

    out = fixer.run("pvc", "--dry-run")

    assert out.returncode == 0, out.stdout + out.stderr
    assert "server-side dry run" in out.stdout
    assert "the server validated it (dry run" in out.stdout
    assert _versions(api, namespace) == before
    assert read(api, "sc", None, class_name(namespace)) is None
    assert fixer.fixes() == []


# -- guard rails ----------------------------------------------------------------------------------


def test_a_bound_claim_is_refused(cluster, api, namespace, fixer):
    build(fix_wrong_template_class, api, namespace, fixer)
    claim = read(api, "pvc", namespace, "data-logos-postgresql-0")
    sts = read(api, "sts", namespace, POSTGRES)

    out = fixer.run("pvc", "data-logos-postgresql-0", "--yes")

    assert out.returncode == 1, out.stdout + out.stderr
    assert "data-logos-postgresql-0: is Bound; logos-doctor never deletes" in out.stdout
    assert read(api, "pvc", namespace, "data-logos-postgresql-0").metadata.uid == claim.metadata.uid
    assert read(api, "sts", namespace, POSTGRES).metadata.uid == sts.metadata.uid


def test_a_pod_that_starts_running_mid_fix_is_not_deleted_and_the_statefulset_comes_back(
    cluster, api, namespace, fixer
):
    build(fix_wrong_template_class, api, namespace, fixer)
    pod = read(api, "pod", namespace, "logos-postgresql-1")
    claim = read(api, "pvc", namespace, "data-logos-postgresql-1")

    proc = fixer.start("pvc", "--yes", crash_at="delete-pod/logos-postgresql-1:before-write:stop")
    stopped(proc)
    # The StatefulSet is gone and the fix is about to delete the Pending pod.  Meanwhile
    # someone creates the class the claim names: the pod gets its volume and runs.
    assert read(api, "sts", namespace, POSTGRES) is None
    make_class(api, typo_class(namespace), namespace)
    wait_for(
        lambda: read(api, "pod", namespace, "logos-postgresql-1").status.phase == "Running",
        60,
        "logos-postgresql-1 to run",
    )
    os.kill(proc.pid, signal.SIGCONT)
    stdout, stderr = proc.communicate(timeout=120)

    assert proc.returncode == 3, stdout + stderr
    assert "Running" in stderr and "never deletes a pod that is not Pending" in stderr
    assert "restoring StatefulSet logos-postgresql" in stdout
    assert read(api, "pod", namespace, "logos-postgresql-1").metadata.uid == pod.metadata.uid
    kept = read(api, "pvc", namespace, "data-logos-postgresql-1")
    assert kept.metadata.uid == claim.metadata.uid and kept.status.phase == "Bound"
    assert read(api, "sts", namespace, POSTGRES) is not None
    (fix,) = fixer.fixes()
    assert fixer.journal(fix)[-1]["event"] == "aborted"


def test_a_held_lock_is_refused_and_a_stale_one_taken_over(cluster, api, namespace, fixer):
    build(fix_class_missing, api, namespace, fixer)
    coord = client.CoordinationV1Api(api)
    now = datetime.now(UTC)
    coord.create_namespaced_lease(
        namespace,
        {
            "metadata": {"name": "logos-doctor-fix"},
            "spec": {
                "holderIdentity": "oncall@bastion-2/4242",
                "leaseDurationSeconds": 300,
                "acquireTime": now,
                "renewTime": now,
            },
        },
    )

    held = fixer.run("pvc", "--yes")

    assert held.returncode == 3, held.stdout + held.stderr
    assert "oncall@bastion-2/4242" in held.stderr
    assert read(api, "sc", None, class_name(namespace)) is None
    assert fixer.fixes() == []

    lease = coord.read_namespaced_lease("logos-doctor-fix", namespace)
    lease.spec.renew_time = now - timedelta(minutes=10)
    coord.replace_namespaced_lease("logos-doctor-fix", namespace, lease)

    stale = fixer.run("pvc", "--yes")

    assert stale.returncode == 0, stale.stdout + stale.stderr
    assert "took over the stale fix lock of oncall@bastion-2/4242" in stale.stderr
    assert read(api, "sc", None, class_name(namespace)) is not None
    assert coord.list_namespaced_lease(namespace).items == []  # released at the end


def test_a_change_between_plan_and_confirmation_aborts_before_any_write(
    cluster, api, namespace, fixer
):
    build(fix_wrong_template_class, api, namespace, fixer)
    sts = read(api, "sts", namespace, POSTGRES)
    claim = read(api, "pvc", namespace, "data-logos-postgresql-1")
    proc = fixer.start("pvc")
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(lambda: proc.stdout.read(1), "")))
    reader.start()
    wait_for(lambda: "Apply this plan?" in "".join(output), 60, "the confirmation prompt")

    client.AppsV1Api(api).patch_namespaced_stateful_set(
        POSTGRES, namespace, {"spec": {"replicas": 3}}
    )
    proc.stdin.write("y\n")
    proc.stdin.flush()
    proc.wait(timeout=60)
    reader.join(timeout=10)
    stderr = proc.stderr.read()

    assert proc.returncode == 3, "".join(output) + stderr
    assert "changed since the plan (generation 1 -> 2)" in stderr
    assert read(api, "sts", namespace, POSTGRES).metadata.uid == sts.metadata.uid
    assert read(api, "pvc", namespace, "data-logos-postgresql-1").metadata.uid == claim.metadata.uid


def test_a_change_between_read_and_delete_is_refused_by_the_server(cluster, api, namespace, fixer):
    build(fix_wrong_template_class, api, namespace, fixer)
    sts = read(api, "sts", namespace, POSTGRES)

    proc = fixer.start("pvc", "--yes", crash_at=f"delete-statefulset/{POSTGRES}:before-write:stop")
    stopped(proc)
    client.AppsV1Api(api).patch_namespaced_stateful_set(
        POSTGRES, namespace, {"metadata": {"labels": {"touched-by": "someone-else"}}}
    )
    os.kill(proc.pid, signal.SIGCONT)
    stdout, stderr = proc.communicate(timeout=120)

    assert proc.returncode == 3, stdout + stderr
    assert "changed between our last read and the delete" in stderr
    now = read(api, "sts", namespace, POSTGRES)
    assert now.metadata.uid == sts.metadata.uid and now.metadata.deletion_timestamp is None


def test_two_fixes_at_once_exactly_one_proceeds(cluster, api, namespace, fixer):
    build(fix_mixed, api, namespace, fixer)

    procs = [fixer.start("pvc", "--yes") for _ in range(2)]
    results = [(p.communicate(timeout=180), p.returncode) for p in procs]
    results = [(code, out, err) for (out, err), code in results]

    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 3], results
    loser = next(err for code, _, err in results if code == 3)
    assert "another logos-doctor fix holds the lock" in loser
    assert len(fixer.fixes()) == 1
    wait_state(api, namespace, healthy_databases(namespace))


# -- fix storageclass -----------------------------------------------------------------------------


def test_fix_storageclass_creates_then_recreates_only_when_asked(cluster, api, namespace, fixer):
    cls = class_name(namespace)
    fixer.config.write_text(yaml.safe_dump({"storageClass": {"name": cls}}))

    created = fixer.run("storageclass", "--yes")
    assert created.returncode == 0, created.stdout + created.stderr
    first = read(api, "sc", None, cls)
    assert first.parameters["type"] == "gp3"

    same = fixer.run("storageclass", "--yes")
    assert same.returncode == 0 and "Nothing to do." in same.stdout

    fixer.config.write_text(
        yaml.safe_dump(
            {
                "storageClass": {
                    "name": cls,
                    "parameters": {
                        "type": "io2",
                        "iops": "3000",
                        "throughput": "125",
                        "encrypted": "true",
                    },
                }
            }
        )
    )
    drifted = fixer.run("storageclass", "--yes")
    assert drifted.returncode == 1
    assert "parameters.type: expected 'io2', found 'gp3'" in drifted.stdout
    assert "--recreate" in drifted.stdout

    unattended = fixer.run("storageclass", "--recreate", "--yes")
    assert unattended.returncode == 2
    assert "--unsafe" in unattended.stderr
    assert read(api, "sc", None, cls).metadata.uid == first.metadata.uid

    recreated = fixer.run("storageclass", "--recreate", "--yes", "--unsafe")
    assert recreated.returncode == 0, recreated.stdout + recreated.stderr
    second = read(api, "sc", None, cls)
    assert second.metadata.uid != first.metadata.uid
    assert second.parameters["type"] == "io2"
    backups = list((fixer.fixes()[-1] / "backup").iterdir())
    assert [b.name for b in backups] == [f"storageclass-{cls}.json"]


# -- a configured helm upgrade --------------------------------------------------------------------

HELM_STAND_IN = """
import json, sys
from kubernetes import client, config
api = config.new_client_from_config(config_file=sys.argv[1])
body = json.load(open(sys.argv[2]))
client.AppsV1Api(api).create_namespaced_stateful_set(body["metadata"]["namespace"], body)
"""


@pytest.mark.parametrize("helm_works", [True, False])
def test_a_configured_helm_upgrade_recreates_the_statefulset(
    cluster, api, namespace, fixer, tmp_path, helm_works
):
    build(fix_wrong_template_class, api, namespace, fixer)
    sts = read(api, "sts", namespace, POSTGRES)
    running = read(api, "pod", namespace, "logos-postgresql-0")
    chart = api.sanitize_for_serialization(sts)
    chart.pop("status")
    chart["metadata"] = {
        "name": POSTGRES,
        "namespace": namespace,
        "labels": {**sts.metadata.labels, "deployed-by": "helm-stand-in"},
    }
    chart["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] = class_name(namespace)
    (tmp_path / "chart.json").write_text(json.dumps(chart))
    (tmp_path / "helm.py").write_text(HELM_STAND_IN)
    command = (
        [
            sys.executable,
            str(tmp_path / "helm.py"),
            str(cluster.kubeconfig),
            str(tmp_path / "chart.json"),
        ]
        if helm_works
        else [sys.executable, "-c", "import sys; sys.exit('Error: chart not found')"]
    )
    config = yaml.safe_load(fixer.config.read_text())
    fixer.config.write_text(yaml.safe_dump({**config, "fix": {"helmUpgrade": command}}))

    out = fixer.run("pvc", "--yes")

    assert out.returncode == 0, out.stdout + out.stderr
    recreated = read(api, "sts", namespace, POSTGRES)
    assert recreated.metadata.uid != sts.metadata.uid
    assert recreated.spec.volume_claim_templates[0].spec.storage_class_name == class_name(namespace)
    assert read(api, "pod", namespace, "logos-postgresql-0").metadata.uid == running.metadata.uid
    if helm_works:
        assert recreated.metadata.labels.get("deployed-by") == "helm-stand-in"
    else:
        assert "deployed-by" not in recreated.metadata.labels
        assert "failed with status 1: Error: chart not found" in out.stdout
