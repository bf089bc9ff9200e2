"""The fix planner on states recorded from the real test cluster.

Each test reads like the on-call's situation: what the cluster looked like (a recorded
scenario), what logos-doctor proposes to do about it, and what it refuses to touch.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import timedelta

import pytest

from logos_doctor.checks.pvc_pending import CHECK as PVC_PENDING
from logos_doctor.checks.storage_class import CHECK as STORAGE_CLASS
from logos_doctor.config import ClaimSpec
from logos_doctor.fix.plan import Action, Applicability, FixPlan
from logos_doctor.fix.planner import PlanOptions, plan_pvc, plan_storageclass
from logos_doctor.fix.render import plan_text
from logos_doctor.fix.templates import recreated_statefulset
from logos_doctor.objects import meta
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterState
from recorded import recorded

POSTGRES = "logos-postgresql"


def planned(scenario: str, *, config_change=None, planner=plan_pvc, **options) -> FixPlan:
    state, config = recorded(scenario)
    if config_change:
        config = config_change(config)
    report = run_checks(state, [STORAGE_CLASS, PVC_PENDING], config)
    return planner(
        state,
        report.findings,
        config,
        PlanOptions(namespace=config.namespace, fix_dir="/fixes/x", **options),
    )


def actions(plan: FixPlan) -> list[str]:
    return [s.id.split("/")[0] for s in plan.steps]


def test_class_missing_creates_the_class_and_waits_for_the_claims():
    _, config = recorded("fix_class_missing")
    plan = planned("fix_class_missing")

    assert actions(plan) == ["create-storageclass", "wait-claims", "verify"]
    create = plan.steps[0]
    assert create.params["manifest"] == config.storage_class.manifest()
    assert (
        create.kubectl
        == f"kubectl create -f /fixes/x/storageclass-{config.storage_class.name}.yaml"
    )
    assert sorted(plan.steps[1].params["claims"]) == [
        "data-logos-postgresql-0",
        "redis-data-logos-redis-master-0",
    ]
    assert plan.applicability is Applicability.SAFE
    assert not any(
        s.action.writes and s.action is not Action.CREATE_STORAGECLASS for s in plan.steps
    )
    assert {p.cause for p in plan.problems} == {"storage-class-missing", "missing"}


def test_a_claim_on_a_typo_class_gets_the_orphan_cascade_with_a_corrected_template():
    state, config = recorded("fix_mixed")
    plan = planned("fix_mixed")

    assert actions(plan) == [
        "create-storageclass",
        "wait-claims",
        "delete-statefulset",
        "delete-pod",
        "delete-claim",
        "create-statefulset",
        "wait-statefulset",
        "verify",
    ]
    assert list(plan.steps[1].params["claims"]) == ["redis-data-logos-redis-master-0"]
    sts = state.get("StatefulSet", config.namespace, POSTGRES)
    delete = plan.step(f"delete-statefulset/{POSTGRES}")
    assert delete.params == {
        "name": POSTGRES,
        "uid": meta(sts)["uid"],
        "generation": meta(sts)["generation"],
    }
    assert "--cascade=orphan" in delete.kubectl
    pod = state.get("Pod", config.namespace, "logos-postgresql-0")
    assert plan.step("delete-pod/logos-postgresql-0").params["uid"] == meta(pod)["uid"]
    create = plan.step(f"create-statefulset/{POSTGRES}")
    assert create.params["corrections"] == {"data": {"storageClassName": config.storage_class.name}}
    assert "class ssd-rec-fix-mixed-premum -> ssd-rec-fix-mixed" in create.description
    assert plan.applicability is Applicability.SAFE


def test_the_recreated_statefulset_keeps_its_pod_template_and_drops_server_fields():
    state, config = recorded("fix_mixed")
    sts = state.get("StatefulSet", config.namespace, POSTGRES)

    body = recreated_statefulset(sts, {"data": {"storageClassName": "ssd-x", "storage": "300Gi"}})

    assert body["spec"]["template"] == sts["spec"]["template"]  # same revision: pods adopted
    assert body["spec"]["selector"] == sts["spec"]["selector"]
    assert set(body["metadata"]) <= {
        "name",
        "namespace",
        "labels",
        "annotations",
        "ownerReferences",
    }
    assert "status" not in body
    (tmpl,) = body["spec"]["volumeClaimTemplates"]
    assert tmpl["spec"]["storageClassName"] == "ssd-x"
    assert tmpl["spec"]["resources"]["requests"]["storage"] == "300Gi"
    assert "status" not in tmpl
    # the saved object itself is untouched
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"].endswith("-premum")


def test_the_running_replica_and_its_bound_claim_are_kept_and_adopted():
    state, config = recorded("fix_wrong_template_class")
    plan = planned("fix_wrong_template_class")

    assert actions(plan) == [
        "delete-statefulset",
        "delete-pod",
        "delete-claim",
        "create-statefulset",
        "wait-statefulset",
        "verify",
    ]
    touched = {(r.kind, r.name) for s in plan.steps if s.action.writes for r in s.touches}
    assert ("Pod", "logos-postgresql-0") not in touched
    assert ("PersistentVolumeClaim", "data-logos-postgresql-0") not in touched
    assert ("Pod", "logos-postgresql-1") in touched
    running = state.get("Pod", config.namespace, "logos-postgresql-0")
    wait = plan.step(f"wait-statefulset/{POSTGRES}")
    assert wait.params["keep"] == {"logos-postgresql-0": meta(running)["uid"]}
    assert wait.params["claims"] == ["data-logos-postgresql-1"]
    assert "adopt pod(s) logos-postgresql-0" in wait.description


def test_naming_a_bound_claim_is_refused():
    plan = planned("fix_wrong_template_class", claims=("data-logos-postgresql-0",))

    assert plan.steps == ()
    (refusal,) = plan.refusals
    assert refusal.resource.name == "data-logos-postgresql-0"
    assert "is Bound; logos-doctor never deletes" in refusal.reason


def test_a_wrong_size_in_the_template_is_corrected_too():
    def bigger(config):
        claims = tuple(
            replace(c, size="300Gi") if c.statefulset == POSTGRES else c for c in config.claims
        )
        return replace(config, claims=claims)

    plan = planned("fix_wrong_template_class", config_change=bigger)

    create = plan.step(f"create-statefulset/{POSTGRES}")
    assert create.params["corrections"]["data"]["storage"] == "300Gi"
    assert "size 200Gi -> 300Gi" in create.description


def test_a_statefulset_the_config_does_not_describe_is_an_unsafe_guess():
    plan = planned(
        "fix_wrong_template_class",
        config_change=lambda c: replace(
            c, claims=tuple(x for x in c.claims if x.statefulset != POSTGRES)
        ),
    )

    assert plan.applicability is Applicability.UNSAFE
    assert plan.step(f"delete-statefulset/{POSTGRES}").applicability is Applicability.UNSAFE
    assert "[unsafe]" in plan_text(plan, fix_dir="/fixes/x")


def test_a_configured_class_that_does_not_exist_either_is_refused():
    def elsewhere(config):
        claims = tuple(
            ClaimSpec(c.statefulset, c.template, c.size, "gp3-somewhere")
            if c.statefulset == POSTGRES
            else c
            for c in config.claims
        )
        return replace(config, claims=claims)

    plan = planned("fix_wrong_template_class", config_change=elsewhere)

    assert plan.steps == ()
    assert "gp3-somewhere" in plan.refusals[0].reason


def test_a_claim_whose_node_just_vanished_is_left_to_heal():
    # The external provisioner hands such a claim back to the scheduler by itself (it removes
    # volume.kubernetes.io/selected-node): recreating the StatefulSet would only add risk.
    plan = planned("fix_selected_node_gone")

    assert plan.steps == ()
    assert plan.refusals == ()
    assert any("heals itself" in n and "data-logos-postgresql-0" in n for n in plan.notes)


def _stuck_on_vanished_node(minutes: int):
    """fix_selected_node_gone with the provisioner's `node "X" not found` event on the claim
    (its shape copied from the one recorded in selected_node_gone_unplaceable), ``minutes``
    later, the claim still naming the node: the hand-back did not happen."""
    state, _ = recorded("fix_selected_node_gone")
    told, _ = recorded("selected_node_gone_unplaceable")
    objects = copy.deepcopy(state.objects)
    pvc = next(
        c for c in objects["persistentvolumeclaims"] if meta(c)["name"] == "data-logos-postgresql-0"
    )
    node = pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"]
    (event,) = copy.deepcopy(
        [e for e in told.objects["events"] if e["reason"] == "ProvisioningFailed"]
    )
    event["message"] = f'node "{node}" not found'
    event["metadata"]["namespace"] = meta(pvc)["namespace"]
    event["involvedObject"].update(
        name=meta(pvc)["name"], namespace=meta(pvc)["namespace"], uid=meta(pvc)["uid"]
    )
    event["firstTimestamp"] = event["lastTimestamp"] = state.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    objects["events"] = [*objects["events"], event]
    return ClusterState.build(
        objects, now=state.now + timedelta(minutes=minutes), scope=state.scope
    )


def test_a_claim_still_naming_a_vanished_node_past_the_hand_back_is_recreated():
    _, config = recorded("fix_selected_node_gone")
    state = _stuck_on_vanished_node(10)
    report = run_checks(state, [STORAGE_CLASS, PVC_PENDING], config)
    plan = plan_pvc(
        state,
        report.findings,
        config,
        PlanOptions(namespace=config.namespace, fix_dir="/fixes/x"),
    )

    assert "create-statefulset" in actions(plan)
    create = plan.step(f"create-statefulset/{POSTGRES}")
    assert create.params["corrections"] == {}
    assert "unchanged templates" in create.description
    assert {p.cause for p in plan.problems} >= {"selected-node-stuck"}


def test_a_healthy_namespace_needs_nothing():
    plan = planned("fix_databases_healthy")
    assert plan.steps == () and plan.problems == () and plan.refusals == ()

    storage = planned("fix_databases_healthy", planner=plan_storageclass)
    assert storage.steps == ()
    assert "exists and matches" in storage.notes[0]


def test_helm_upgrade_replaces_the_create_from_the_saved_object():
    helm = ("helm", "upgrade", "logos", "charts/logos", "-n", "logos")
    plan = planned(
        "fix_wrong_template_class", config_change=lambda c: replace(c, helm_upgrade=helm)
    )

    create = plan.step(f"create-statefulset/{POSTGRES}")
    assert create.params["helm"] == list(helm)
    assert create.kubectl == "helm upgrade logos charts/logos -n logos"


@pytest.mark.parametrize("recreate", [False, True])
def test_a_drifted_class_is_only_recreated_when_asked(recreate):
    def io2(config):
        params = {**config.storage_class.parameters, "type": "io2"}
        return replace(config, storage_class=replace(config.storage_class, parameters=params))

    plan = planned(
        "fix_databases_healthy", planner=plan_storageclass, config_change=io2, recreate=recreate
    )

    if not recreate:
        assert plan.steps == ()
        assert "parameters.type: expected 'io2', found 'gp3'" in plan.refusals[0].reason
        assert "--recreate" in plan.refusals[0].reason
    else:
        assert actions(plan) == ["delete-storageclass", "create-storageclass", "verify"]
        assert plan.applicability is Applicability.UNSAFE


def test_a_plan_survives_its_json_round_trip():
    plan = planned("fix_mixed")
    again = FixPlan.from_json(json.loads(json.dumps(plan.to_json())))
    assert again == plan


def test_the_plan_reads_in_ten_seconds():
    text = plan_text(planned("fix_mixed"), fix_dir="/fixes/x")
    lines = text.splitlines()
    assert len(lines) <= 30
    numbered = [line for line in lines if line.lstrip()[:2] in {f"{i}." for i in range(1, 10)}]
    assert len(numbered) == 8
    assert sum(1 for line in lines if line.strip().startswith("$ ")) == 8
    assert "Backups and journal: /fixes/x/" in text


def test_claims_behind_one_class_level_cause_are_refused_through_it():
    # pvc-pending reports an unknown EBS volume type once, on the class; fix pvc cannot
    # change a class's parameters, and says so instead of forgetting the claims.
    plan = planned("bad_volume_type_shared")

    assert plan.steps == ()
    assert [(r.resource.kind, r.resource.name) for r in plan.refusals] == [
        ("StorageClass", "gp9-rec-bad-volume-type-shared")
    ]
    assert "provisioning-failed" in plan.refusals[0].reason
    assert [p.cause for p in plan.problems] == ["provisioning-failed"]
