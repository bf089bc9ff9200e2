"""``render.json_out.dumps`` writes exactly the text of ``json.dumps(doc, indent=2)``.

It encodes flat containers with the C encoder and walks only the levels above them, to
make ``-o json`` of tens of thousands of findings fast; scripts read that output, so it
must not change by a byte, for any JSON document and for real reports.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
