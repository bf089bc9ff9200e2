"""``render.json_out.dumps`` writes exactly the text of ``json.dumps(doc, indent=2)``.

It has orjson write what orjson writes as json does (plain containers, strings, ints,
booleans, None), with json's own text for the rest in place, and the standard library's way
when orjson refuses; all to make ``-o json`` of tens of thousands of findings fast.
Scripts read that output, so it must not change by a byte, for any JSON document and for
real reports; and the plain documents must really go through orjson.
"""

from __future__ import annotations

import enum
import json
import math
from collections import OrderedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logos_doctor.render import json_out
from logos_doctor.render.json_out import dumps, report_json
from logos_doctor.runner import run_checks

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.sampled_from(["", "ü", "\u2028", "\x00", '"\\', "日本", "\ud800"])
)
keys = st.text() | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(keys, inner, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_any_document_gives_the_standard_text(doc: object) -> None:
    assert dumps(doc) == json.dumps(doc, indent=2)


class Level(enum.IntEnum):
    LOW = 1


class Text(str):
    pass


class Items(dict):  # type: ignore[type-arg]
    pass


# What orjson writes as it is and json escapes (DEL, beyond ASCII, beyond the BMP), what
# both escape (controls, quotes), and ints at orjson's 64-bit edges.
plain_text = st.text() | st.sampled_from(["\x7f", "é…→", "\U0001f600x", "\x1f\"\\/", "\u2028"])
plain_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.sampled_from([2**63, 2**64 - 1, -(2**63)])
    | plain_text
)
plain_documents = st.recursive(
    plain_scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(plain_text, inner, max_size=5)
    ),
    max_leaves=40,
)
# Plain documents with, somewhere, something orjson must not write itself: a float, a
# non-string key, a subclass, an int beyond 64 bits or a lone surrogate.
odd = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([2**64, -(2**63) - 1, "\ud800", Level.LOW, Text("t\u00e9"), 1e16, 1e-5])
    | st.builds(OrderedDict, st.dictionaries(plain_text, plain_scalars, max_size=2))
    | st.builds(Items, st.dictionaries(plain_text, plain_scalars, max_size=2))
    | st.dictionaries(st.integers() | st.none(), plain_scalars, min_size=1, max_size=2)
)
mixed_documents = st.recursive(
    plain_scalars | odd,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(plain_text, inner, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(plain_documents)
def test_a_plain_document_is_written_by_orjson_alone(doc: object) -> None:
    calls = []
    encode = json_out._encode
    try:
        json_out._encode = lambda *a: calls.append(a) or encode(*a)  # type: ignore[assignment]
        text = dumps(doc)
    finally:
        json_out._encode = encode  # type: ignore[assignment]
    assert text == json.dumps(doc, indent=2)
    assert not calls  # nothing went the standard library's way


@settings(max_examples=300, deadline=None)
@given(mixed_documents)
def test_a_document_with_what_orjson_writes_otherwise_gives_the_standard_text(
    doc: object,
) -> None:
    assert dumps(doc) == json.dumps(doc, indent=2)


def test_what_is_not_plain_is_found_at_any_depth() -> None:
    assert json_out._plain({"a": [{"b": (1, "x", None, True)}], "c": {}})
    for odd_value in (1.0, Level.LOW, Text("x"), Items(), OrderedDict(), object(), b"x"):
        assert not json_out._plain({"a": [{"b": (1, odd_value)}]})
    # (an int key is of a plain type: orjson refuses it, and the document goes json's way)
    cycle: list[object] = []
    cycle.append(cycle)
    cycle.append(cycle)
    assert not json_out._plain(cycle)  # ends, although it doubles at every level


def test_a_float_deep_inside_keeps_its_indentation() -> None:
    doc = {"a": [{"b": [1.5, {"c": 1e16}], "d": "é"}, 2.0], "e": [[{}], float("nan")]}
    assert dumps(doc) == json.dumps(doc, indent=2)


def test_a_float_key_and_special_numbers() -> None:
    doc = {1.5: [math.inf, -math.inf, 1e300, -0.0], None: {True: {}}, "e": [[], {}, [[]]]}
    assert dumps(doc) == json.dumps(doc, indent=2)


def test_what_cannot_be_encoded_is_refused_alike() -> None:
    with pytest.raises(TypeError):
        json.dumps({"a": [object()]}, indent=2)
    with pytest.raises(TypeError):
        dumps({"a": [object()]})


def test_a_real_report() -> None:
    from logos_doctor.registry import default_registry
    from recorded import recorded

    state, config = recorded("image_pull_faults")
    report = run_checks(state, list(default_registry()), config)
    doc = report_json(report, config)
    assert doc["findings"]
    assert dumps(doc) == json.dumps(doc, indent=2)
