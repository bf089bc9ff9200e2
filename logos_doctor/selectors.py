"""Label selectors, matched the way the API server matches them, in one place.

Services select with plain equality maps; Deployments, HPAs' targets, webhooks' namespace
selectors, pod affinity terms and ServiceMonitors with a ``metav1.LabelSelector``
(``matchLabels`` + ``matchExpressions``); node affinity with ``NodeSelectorRequirement``s,
which add ``Gt``/``Lt``.  Values are compared as strings; a malformed requirement (an
unknown operator, ``values`` that is not a list) matches nothing, as the API would refuse it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def equality_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a plain equality selector (a Service's, a ``matchLabels``) matches labels."""
    return all(labels.get(k) == str(v) for k, v in selector.items())


def requirement_matches(req: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """One ``matchExpressions`` / ``matchFields`` requirement against labels (or fields)."""
    key, op = str(req.get("key", "")), req.get("operator")
    raw = req.get("values")
    values = [str(v) for v in raw] if isinstance(raw, list) else []
    if op in ("Gt", "Lt"):
        try:
            have, limit = int(labels[key]), int(values[0])
        except (KeyError, IndexError, ValueError):
            return False
        return have > limit if op == "Gt" else have < limit
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


def label_selector_matches(
    selector: Mapping[str, Any] | None,
    labels: Mapping[str, str],
    *,
    empty_matches_all: bool = False,
) -> bool:
    """Whether a ``metav1.LabelSelector`` matches labels.

    A missing selector matches nothing.  An empty one matches everything in the API; most
    callers cannot tell empty from missing (both reach them as ``{}``) and a workload with an
    empty selector is refused by validation anyway, so empty matches nothing unless
    ``empty_matches_all`` says this selector is one where ``{}`` means "all" (a
    ServiceMonitor's, a webhook's namespaceSelector)."""
    if selector is None or (not selector and not empty_matches_all):
        return False
    match_labels = selector.get("matchLabels")
    if isinstance(match_labels, Mapping) and not equality_matches(match_labels, labels):
        return False
    expressions = selector.get("matchExpressions")
    if not isinstance(expressions, list):
        return True
    return all(requirement_matches(e, labels) for e in expressions if isinstance(e, Mapping))
