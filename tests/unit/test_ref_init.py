"""``ObjectRef``, ``FindingKey`` and ``Finding`` write their own ``__init__`` (faster than a frozen
dataclass's); they must still be the dataclasses they were: every field set, defaults,
keywords, ``replace``, frozen, equal, hashed, ordered and pickled alike.
"""

from __future__ import annotations

import copy
import inspect
import pickle
from dataclasses import MISSING, FrozenInstanceError, asdict, dataclass, fields, replace

import pytest

from logos_doctor.finding import Finding, FindingKey, Severity
from logos_doctor.objects import ObjectRef


@dataclass(frozen=True, order=True)
class PlainRef:  # ObjectRef as the dataclass would make it
    kind: str
    namespace: str | None
    name: str
    uid: str | None = None


ARGS = [
    ("Pod", "ns", "web-0", "u1"),
    ("Pod", "ns", "web-0"),
    ("Node", None, "n1"),
    ("Service", "a", "b", None),
    ("Pod", "ns", "web-1", "u0"),
]


def test_a_reference_is_the_dataclass_it_was() -> None:
    refs = [ObjectRef(*a) for a in ARGS]
    plain = [PlainRef(*a) for a in ARGS]
    for ref, twin in zip(refs, plain, strict=True):
        assert asdict(ref) == asdict(twin)
        assert [f.name for f in fields(ref)] == [f.name for f in fields(twin)]
        assert hash(ref) == hash(ObjectRef(**asdict(twin)))
        assert ref == ObjectRef(**asdict(twin)) and ref != twin
        assert replace(ref, name="x") == ObjectRef(ref.kind, ref.namespace, "x", ref.uid)
        assert pickle.loads(pickle.dumps(ref)) == ref
        assert copy.copy(ref) == ref and copy.deepcopy(ref) == ref
        assert repr(ref) == repr(twin).replace("PlainRef", "ObjectRef")
        with pytest.raises(FrozenInstanceError):
            ref.name = "y"  # type: ignore[misc]
    assert ObjectRef("Node", None, "n1").uid is None
    key = lambda r: (r.kind, r.namespace or "", r.name, r.uid or "")  # noqa: E731
    assert [asdict(r) for r in sorted(refs, key=key)] == [asdict(p) for p in sorted(plain, key=key)]
    assert [asdict(r) for r in sorted(refs[:1] + refs[4:])] == [
        asdict(p) for p in sorted(plain[:1] + plain[4:])
    ]


def test_a_finding_key_is_the_dataclass_it_was() -> None:
    ref = ObjectRef("Pod", "ns", "web-0", "u1")
    key = FindingKey("image-pull", "image-not-found", ref)
    assert (key.check, key.cause, key.resource) == ("image-pull", "image-not-found", ref)
    assert key == FindingKey(check="image-pull", cause="image-not-found", resource=ref)
    assert hash(key) == hash(FindingKey("image-pull", "image-not-found", ObjectRef(*ARGS[0])))
    assert replace(key, cause="x").cause == "x"
    assert pickle.loads(pickle.dumps(key)) == key
    assert sorted([key, replace(key, cause="b")]) == [replace(key, cause="b"), key]
    with pytest.raises(FrozenInstanceError):
        key.cause = "y"  # type: ignore[misc]


def test_a_finding_takes_its_fields_in_order_with_their_defaults() -> None:
    params = list(inspect.signature(Finding.__init__).parameters.values())[1:]
    assert [p.name for p in params] == [f.name for f in fields(Finding)]
    for param, field in zip(params, fields(Finding), strict=True):
        default = inspect.Parameter.empty if field.default is MISSING else field.default
        assert param.default == default
        assert param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD


def test_a_finding_is_the_dataclass_it_was() -> None:
    ref, node = ObjectRef("Pod", "ns", "web-0", "u1"), ObjectRef("Node", None, "n1")
    values = {
        "check": "gpu-nodes",
        "cause": "gpu-label-missing",
        "severity": Severity.CRITICAL,
        "resource": ref,
        "message": "m",
        "parent": ObjectRef("Deployment", "ns", "web"),
        "evidence": ("e1", "e2"),
        "remediation": "r",
        "fix": "logos-doctor fix x",
        "affected": (node,),
        "depends_on": (node, ref),
        "caused_by": (FindingKey("nodes", "not-ready", node),),
        "symptom": True,
    }
    finding = Finding(**values)
    assert {f.name: getattr(finding, f.name) for f in fields(Finding)} == values
    assert Finding(*values.values()) == finding and hash(Finding(**values)) == hash(finding)
    assert finding != replace(finding, message="other")
    bare = Finding("c", "x", Severity.INFO, ref, "m")
    assert {f.name: getattr(bare, f.name) for f in fields(Finding)[5:]} == {
        f.name: f.default for f in fields(Finding)[5:]
    }
    assert replace(finding, cause="y").cause == "y" and replace(finding, cause="y").message == "m"
    assert pickle.loads(pickle.dumps(finding)) == finding
    assert copy.deepcopy(finding) == finding
    assert finding.with_causes(()).caused_by == () and finding.with_causes(()) != finding
    with pytest.raises(FrozenInstanceError):
        finding.message = "y"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Finding("c", "x", Severity.INFO, ref)  # type: ignore[call-arg]
