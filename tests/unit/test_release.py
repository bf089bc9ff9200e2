"""Expectations belong where Logos is deployed, not to whatever namespace a run looks at.

``check --all -n kube-system`` used to demand the Logos StorageClass (and Secrets) there.
The configured namespace counts when it exists, and so do namespaces holding workloads
labelled as the release; the run's scope limits both.
"""

from __future__ import annotations

from dataclasses import replace

from logos_doctor.registry import default_registry
from logos_doctor.release import logos_namespaces
from logos_doctor.runner import run_checks
from logos_doctor.state import Scope
from recorded import recorded

STORAGE = [default_registry().get("storage-class")]


def test_the_configured_namespace_counts_only_when_it_exists() -> None:
    state, config = recorded("healthy_logos")  # recorded with the namespace list
    assert logos_namespaces(state, config) == ("rec-healthy-logos",)
    absent = replace(config, namespace="logos", release_labels={})
    assert logos_namespaces(replace(state, scope=Scope(None)), absent) == ()


def test_labelled_workloads_show_where_the_release_runs() -> None:
    state, config = recorded("healthy_logos")
    elsewhere = replace(config, namespace="logos")  # not on this cluster
    assert logos_namespaces(replace(state, scope=Scope(None)), elsewhere) == ("rec-healthy-logos",)


def test_a_scope_without_logos_gets_no_logos_expectations() -> None:
    state, config = recorded("storage_class_missing")
    config = replace(config, namespace="logos")
    found = run_checks(replace(state, scope=Scope(("kube-system",))), STORAGE, config).findings
    assert not [f for f in found if f.cause == "missing"]
    # ... while the Logos namespace itself still gets the diagnosis.
    logos = replace(config, namespace=state.scope.namespaces[0])  # type: ignore[index]
    found = run_checks(state, STORAGE, logos).findings
    assert [f.cause for f in found if f.cause == "missing"] == ["missing"]
