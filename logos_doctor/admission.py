"""Why the API server refused to create a controller's pod, read from the controller's words.

A ReplicaSet, Job or DaemonSet controller that cannot create a pod records a ``FailedCreate``
event ``Error creating: <error>`` (k8s.io/kubernetes pkg/controller/controller_utils.go,
``RealPodControl.createPods``); the StatefulSet controller records ``Create Pod <pod> in
StatefulSet <set> failed error: <error>`` or ``Create Claim <claim> for Pod <pod> in StatefulSet
<set> failed error: <error>`` (pkg/controller/statefulset/stateful_pod_control.go); the
ReplicaSet controller also keeps the bare ``<error>`` as the message of its ``ReplicaFailure``
condition (pkg/controller/replicaset/replica_set_utils.go).  ``<error>`` is the API server's
status message, whose shape says which admission step refused the object.

The message is parsed by its structure, anchored at the start, never searched for words:
object, quota and webhook names are free text to the classifier (a quota named
``webhook-quota`` or a pod ``exceeded-quota-7f9c-`` must not change the verdict).  Quoted names
are read as Go ``%q`` strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Controller wrappers around the API server's error.
_RS_JOB_DS = re.compile(r"^Error creating: (?P<error>.*)$", re.S)  # controller_utils.go
_STS = re.compile(  # stateful_pod_control.go recordPodEvent / recordClaimEvent
    r"^Create (?:Pod (?P<pod>\S+)|Claim (?P<claim>\S+) for Pod \S+) in StatefulSet \S+ "
    r"failed error: (?P<error>.*)$",
    re.S,
)
_QUOTED = r'"(?:[^"\\]|\\.)*"'  # a Go %q string
# apimachinery pkg/api/errors/errors.go NewForbidden, as admission.NewForbidden calls it
# (k8s.io/apiserver pkg/admission/errors.go: a generateName pod is named by its prefix).
_FORBIDDEN = re.compile(rf"^(?P<resource>[a-z][a-z0-9.]*)(?: (?P<name>{_QUOTED}))? is forbidden: ")

# k8s.io/apiserver pkg/admission/plugin/resourcequota/controller.go checkRequest
_EXCEEDED = re.compile(
    r"^exceeded quota: (?P<quota>[a-z0-9.-]+), requested: (?P<requested>\S*), "
    r"used: (?P<used>\S*), limited: (?P<limited>\S*)$"
)
# controller.go checkQuotas: "failed quota: %s: %v" around the pod evaluator's Constraints
# error, pkg/quota/v1/evaluator/core/pods.go: "must specify %s" of "%s for: %s" joined by "; "
_MUST_SPECIFY = re.compile(r"^failed quota: (?P<quota>[a-z0-9.-]+): must specify (?P<what>.+)$")
_MISSING = re.compile(r"^(?P<resource>\S+) for: (?P<containers>\S+)$")

# kubernetes plugin/pkg/admission/limitranger/admission.go minConstraint, maxConstraint,
# limitRequestRatioConstraint; several are joined as an aggregate "[a, b]"
# (apimachinery pkg/util/errors/errors.go).
_LIMIT = (
    r"(?:(?:minimum|maximum) \S+ usage per \S+ is \S+?"
    r"(?:\.  No (?:request|limit) is specified|, but (?:request|limit) is [^,\]\s]+)"
    r"|\S+ max limit to request ratio per \S+ is \S+?, but (?:no (?:request|limit) is "
    r"specified or (?:request|limit) is 0|provided ratio is [0-9.]+))"
)
_LIMITS = re.compile(rf"^\[?{_LIMIT}(?:, {_LIMIT})*\]?$")
_LIMIT_ITEM = re.compile(
    r"(?P<bound>minimum|maximum) (?P<resource>\S+) usage per (?P<per>\S+) is (?P<enforced>\S+?)"
    r"(?:\.  No (?P<absent>request|limit) is specified|, but (?P<field>request|limit) is "
    r"(?P<found>[^,\]\s]+))"
    r"|(?P<rresource>\S+) max limit to request ratio per (?P<rper>\S+) is (?P<ratio>\S+?), but "
)

# k8s.io/pod-security-admission admission/admission.go EvaluatePod: "violates PodSecurity %q: %s"
# with policy/checks.go ForbiddenDetail: "reason (detail), reason (detail)".
_POD_SECURITY = re.compile(
    r'^violates PodSecurity "(?P<level>[a-z]+):(?P<version>[^"]+)": (?P<detail>.+)$', re.S
)

# k8s.io/apiserver pkg/admission/plugin/webhook/errors/statuserror.go ToStatusErr
_DENIED = re.compile(
    rf"^admission webhook (?P<hook>{_QUOTED}) denied the request"
    r"(?:: (?P<reason>.*)| without explanation)$",
    re.S,
)
# pkg/util/webhook/error.go ErrCallingWebhook, wrapped by the dispatchers' NewInternalError
# (validating/dispatcher.go, mutating/dispatcher.go) when failurePolicy is Fail.
_CALLING = re.compile(
    rf"^Internal error occurred: failed calling webhook (?P<hook>{_QUOTED})"
    r"(?:: (?P<reason>.*)|; no further details available)$",
    re.S,
)


@dataclass(frozen=True)
class QuotaUse:
    """One resource over its quota: what the pod asked, what was used, the hard limit."""

    resource: str
    requested: str
    used: str
    limited: str


@dataclass(frozen=True)
class LimitViolation:
    """One LimitRange bound a pod or claim broke."""

    bound: str  # minimum, maximum or maxLimitRequestRatio
    resource: str
    per: str  # Container, Pod or PersistentVolumeClaim
    enforced: str
    text: str


@dataclass(frozen=True)
class Refusal:
    """One creation refused by admission, classified.

    ``cause`` is the admission check's cause id; ``error`` the API server's message as the
    controller quoted it.  The other fields are set for the causes they belong to.
    """

    cause: str
    error: str
    kind: str = "pods"  # what could not be created: pods or persistentvolumeclaims
    quota: str = ""
    over: tuple[QuotaUse, ...] = ()
    missing: tuple[tuple[str, tuple[str, ...]], ...] = ()  # resource -> containers
    limits: tuple[LimitViolation, ...] = ()
    level: str = ""
    version: str = ""
    violations: tuple[str, ...] = ()
    webhook: str = ""
    reason: str = ""


# client-go tools/record/events_cache.go EventAggregatorByReasonMessageFunc: the recorder
# merges over 10 similar events in 10 minutes (here: one per generated pod name) into one.
_COMBINED = "(combined from similar events): "


def api_error(message: str) -> tuple[str, str]:
    """``(what, error)``: the API server's error inside a controller's FailedCreate message
    (or a ReplicaFailure condition's bare error), and ``pods`` or ``persistentvolumeclaims``."""
    text = message.strip()
    text = text.removeprefix(_COMBINED)
    if m := _RS_JOB_DS.match(text):
        return "pods", m["error"]
    if m := _STS.match(text):
        return ("persistentvolumeclaims" if m["claim"] else "pods"), m["error"]
    return "pods", text


def classify(message: str) -> Refusal:
    """Classify a FailedCreate message or a ReplicaFailure condition message."""
    kind, error = api_error(message)
    if m := _DENIED.match(error):
        return Refusal("webhook-denied", error, kind, webhook=_unquote(m["hook"]),
                       reason=(m["reason"] or "without explanation").strip())  # fmt: skip
    if m := _CALLING.match(error):
        return Refusal("webhook-unavailable", error, kind, webhook=_unquote(m["hook"]),
                       reason=(m["reason"] or "no further details available").strip())  # fmt: skip
    forbidden = _FORBIDDEN.match(error)
    if forbidden is None:
        return Refusal("unrecognised", error, kind)
    detail = error[forbidden.end() :].strip()
    if m := _EXCEEDED.match(detail):
        values = [_resources(m[g]) for g in ("requested", "used", "limited")]
        over = tuple(
            QuotaUse(r, values[0].get(r, "?"), values[1].get(r, "?"), values[2].get(r, "?"))
            for r in values[2] or values[0]
        )
        return Refusal("quota-exceeded", error, kind, quota=m["quota"], over=over)
    if m := _MUST_SPECIFY.match(detail):
        missing = []
        for part in m["what"].split("; "):
            item = _MISSING.match(part.strip())
            if item is None:
                return Refusal("unrecognised", error, kind)
            missing.append((item["resource"], tuple(item["containers"].split(","))))
        return Refusal("quota-must-specify", error, kind, quota=m["quota"], missing=tuple(missing))
    if _LIMITS.match(detail):
        return Refusal("limitrange-violation", error, kind, limits=_limit_items(detail))
    if m := _POD_SECURITY.match(detail):
        return Refusal("pod-security", error, kind, level=m["level"], version=m["version"],
                       violations=tuple(split_top_level(m["detail"])))  # fmt: skip
    return Refusal("unrecognised", error, kind)


def _unquote(quoted: str) -> str:
    return re.sub(r"\\(.)", r"\1", quoted[1:-1])


def _resources(text: str) -> dict[str, str]:
    """``limits.memory=1Gi,pods=3`` (controller.go prettyPrint) as a mapping."""
    out = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if sep:
            out[key] = value
    return out


def _limit_items(detail: str) -> tuple[LimitViolation, ...]:
    body = detail[1:-1] if detail.startswith("[") and detail.endswith("]") else detail
    out = []
    matches = list(_LIMIT_ITEM.finditer(body))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() - 2 if i + 1 < len(matches) else len(body)
        text = body[m.start() : end]
        if m["rresource"]:
            out.append(
                LimitViolation("maxLimitRequestRatio", m["rresource"], m["rper"], m["ratio"], text)
            )
        else:
            out.append(LimitViolation(m["bound"], m["resource"], m["per"], m["enforced"], text))
    return tuple(out)


def split_top_level(text: str) -> list[str]:
    """Split ``a (x, y), b`` at the commas outside parentheses and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0 and text[i + 1 : i + 2] == " ":
            parts.append(text[start:i].strip())
            start = i + 2
        i += 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]
