"""``render.json_text.dumps`` writes exactly the text of ``json.dumps(doc, indent=2)``.

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

from logos_doctor.render import json_text
from logos_doctor.render.json_out import report_json
from logos_doctor.render.json_text import dumps
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
plain_text = st.text() | st.sampled_from(["\x7f", "é…→", "\U0001f600x", '\x1f"\\/', "\u2028"])
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
    encode = json_text._encode
    try:
        json_text._encode = lambda *a: calls.append(a) or encode(*a)  # type: ignore[assignment]
        text = dumps(doc)
    finally:
        json_text._encode = encode  # type: ignore[assignment]
    assert text == json.dumps(doc, indent=2)
    assert not calls  # nothing went the standard library's way


@settings(max_examples=300, deadline=None)
@given(mixed_documents)
def test_a_document_with_what_orjson_writes_otherwise_gives_the_standard_text(
    doc: object,
) -> None:
    assert dumps(doc) == json.dumps(doc, indent=2)


def test_what_is_not_plain_is_found_at_any_depth() -> None:
    assert json_text._plain({"a": [{"b": (1, "x", None, True)}], "c": {}})
    for odd_value in (1.0, Level.LOW, Text("x"), Items(), OrderedDict(), object(), b"x"):
        assert not json_text._plain({"a": [{"b": (1, odd_value)}]})
    # (an int key is of a plain type: orjson refuses it, and the document goes json's way)
    cycle: list[object] = []
    cycle.append(cycle)
    cycle.append(cycle)
    assert not json_text._plain(cycle)  # ends, although it doubles at every level


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


# Characters of ten first bytes in UTF-8, DEL and a character beyond the BMP among them:
# beyond ``_FEW`` first bytes, the text is escaped by run as it is decoded; up to it, each
# first byte is looked for in turn.
MANY_SCRIPTS = ["é", "ř", "Ж", "ש", "ع", "…", "日", "한", "\U0001f600", "\x7f", "ü"]


def test_text_in_many_scripts_and_in_few() -> None:
    assert len({c.encode()[0] for c in MANY_SCRIPTS}) > json_text._FEW
    for chars in (MANY_SCRIPTS, MANY_SCRIPTS[:3], ["…"], ["\x7f"], ["\x7f", "é"]):
        doc = {"m": [f"a{c}b{c}{c}" for c in chars], "n": "".join(chars), "k": {"".join(chars): 1}}
        assert dumps(doc) == json.dumps(doc, indent=2), chars


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(min_codepoint=0x7F, exclude_categories=["Cs"]))))
def test_any_characters_beyond_ascii(texts: list[str]) -> None:
    assert dumps(texts) == json.dumps(texts, indent=2)


def test_a_list_shared_by_many_findings_is_walked_once_and_still_read() -> None:
    shared = [{"kind": "Node", "name": f"n{i}"} for i in range(3)]
    doc = {"findings": [{"depends_on": shared} for _ in range(4)]}
    assert json_text._plain(doc)
    assert dumps(doc) == json.dumps(doc, indent=2)
    shared.append({"weight": 1.5})  # one float in the shared list: json's text for it
    assert not json_text._plain(doc)
    assert dumps(doc) == json.dumps(doc, indent=2)


def test_check_writes_the_pieces_in_order(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    from pathlib import Path

    from logos_doctor.cli import main

    example = Path(__file__).resolve().parents[2] / "examples/broken-logos.json.gz"
    with pytest.raises(SystemExit):
        main(["check", "--all", "--snapshot", str(example), "-o", "json"])
    out = capsysbinary.readouterr().out
    assert out.isascii() and out.endswith(b"}\n")
    doc = json.loads(out)
    assert "\u2026" in json.dumps(doc["findings"], ensure_ascii=False)  # an evidence line's
    assert out.decode("ascii") == json.dumps(doc, indent=2) + "\n"


def test_check_writes_to_a_text_only_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    from pathlib import Path

    from logos_doctor.cli import main

    example = Path(__file__).resolve().parents[2] / "examples/broken-logos.json.gz"
    out = io.StringIO()  # no binary buffer beneath, as redirect_stdout gives
    monkeypatch.setattr("sys.stdout", out)
    with pytest.raises(SystemExit):
        main(["check", "--all", "--snapshot", str(example), "-o", "json"])
    text = out.getvalue()
    assert text == json.dumps(json.loads(text), indent=2) + "\n"


# Top-level mappings with long lists: a report's shape, its findings many batches long.
long_documents = st.dictionaries(
    st.text(max_size=3),
    st.lists(documents | mixed_documents, max_size=7) | documents | mixed_documents,
    min_size=1,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(long_documents, st.integers(min_value=1, max_value=3))
def test_a_long_list_written_in_batches_gives_the_standard_text(doc: object, batch: int) -> None:
    kept = json_text._BATCH
    try:
        json_text._BATCH = batch  # lists of up to 7 items: one to seven batches
        assert dumps(doc) == json.dumps(doc, indent=2)
    finally:
        json_text._BATCH = kept


def test_a_long_list_is_never_written_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[int] = []
    real = json_text.orjson

    class Counted:  # orjson, each text it writes counted
        Fragment, JSONEncodeError = real.Fragment, real.JSONEncodeError
        OPT_INDENT_2 = real.OPT_INDENT_2

        @staticmethod
        def dumps(value: object, option: int = 0) -> bytes:
            text = real.dumps(value, option=option)
            written.append(len(text))
            return text

    monkeypatch.setattr(json_text, "orjson", Counted)
    findings = [{"n": i, "message": "é" * 50, "refs": [{"kind": "Node"}] * 3} for i in range(1000)]
    doc = {"version": 1, "findings": findings, "summary": {"total": 1000}}
    text = dumps(doc)
    assert text == json.dumps(doc, indent=2)
    assert len(written) >= 1000 // json_text._BATCH
    assert max(written) * 10 < len(text)


def test_the_pieces_are_made_as_they_are_read() -> None:
    doc = {"findings": [{"n": i} for i in range(200)] + [object()]}
    pieces = json_text.json_pieces(doc)
    head = b"".join(next(pieces) for _ in range(4))  # the key, "[" and the first batch
    assert head.startswith(b'{\n  "findings": [\n    {\n      "n": 0\n    },')
    with pytest.raises(TypeError):
        list(pieces)  # the last item is met only when its batch is made
