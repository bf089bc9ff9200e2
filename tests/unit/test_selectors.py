"""The one label-selector matcher, against the API server's semantics
(k8s.io/apimachinery/pkg/labels selector.go and pkg/apis/meta/v1 LabelSelectorAsSelector)."""

from __future__ import annotations

import pytest

from logos_doctor.selectors import equality_matches, label_selector_matches, requirement_matches

LABELS = {"app": "logos-web", "tier": "web", "gpu-count": "4"}


@pytest.mark.parametrize(
    ("req", "expected"),
    [
        ({"key": "app", "operator": "In", "values": ["logos-web", "x"]}, True),
        ({"key": "app", "operator": "In", "values": ["logos-chat"]}, False),
        ({"key": "absent", "operator": "In", "values": ["a"]}, False),
        ({"key": "app", "operator": "NotIn", "values": ["logos-web"]}, False),
        ({"key": "absent", "operator": "NotIn", "values": ["a"]}, True),  # absent key: matches
        ({"key": "tier", "operator": "Exists"}, True),
        ({"key": "tier", "operator": "DoesNotExist"}, False),
        ({"key": "gpu-count", "operator": "Gt", "values": ["3"]}, True),
        ({"key": "gpu-count", "operator": "Lt", "values": ["4"]}, False),
        ({"key": "app", "operator": "Gt", "values": ["3"]}, False),  # not an integer
        ({"key": "app", "operator": "Equals", "values": ["logos-web"]}, False),  # unknown op
        ({"key": "app", "operator": "In", "values": "logos-web"}, False),  # values not a list
    ],
)
def test_requirements(req: dict[str, object], expected: bool) -> None:
    assert requirement_matches(req, LABELS) is expected


def test_label_selector_needs_every_part() -> None:
    both = {
        "matchLabels": {"app": "logos-web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}],
    }
    assert label_selector_matches(both, LABELS)
    assert not label_selector_matches(both, {"app": "logos-web", "tier": "api"})
    assert not label_selector_matches({"matchLabels": {"app": "logos-chat"}}, LABELS)


def test_missing_and_empty_selectors() -> None:
    assert not label_selector_matches(None, LABELS)
    assert not label_selector_matches(None, LABELS, empty_matches_all=True)
    assert not label_selector_matches({}, LABELS)  # a workload's {} cannot be told from None
    assert label_selector_matches({}, LABELS, empty_matches_all=True)  # a ServiceMonitor's {}


def test_equality_selector_compares_strings() -> None:
    assert equality_matches({"gpu-count": 4}, LABELS)
    assert not equality_matches({"app": "logos-web", "tier": "api"}, LABELS)
    assert equality_matches({}, LABELS)
