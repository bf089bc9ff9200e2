"""The text of a JSON document exactly as ``json.dumps(doc, indent=2)`` writes it, fast.

``-o json`` is a contract: scripts read its text, which must not change by a byte, and a
report of tens of thousands of findings is tens of MB of it.  orjson writes what it writes
as json does; the rest keeps json's own text (``_ready``, ``_encode``), and what orjson
leaves unescaped is escaped as json escapes it (``_ascii``).
"""

from __future__ import annotations

import codecs
import gc
import json
from collections.abc import Iterator
from functools import lru_cache
from itertools import compress
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

import orjson


def dumps(doc: Any) -> str:
    """``json.dumps(doc, indent=2)``, the same text (``json_pieces``')."""
    return b"".join(json_pieces(doc)).decode("ascii")


def json_pieces(doc: Any) -> Iterator[bytes | memoryview]:
    """``json.dumps(doc, indent=2)`` as ASCII bytes in pieces, mostly written by orjson.

    With ``indent``, the standard library encodes in pure Python, a generator per container
    (0.8 s for 19,000 findings).  orjson writes the same layout in one native pass, and
    its text is the standard library's for dicts with string keys, lists, tuples, strings,
    ints, booleans and None, once what it writes as it is (DEL and everything beyond ASCII)
    is escaped as ``json`` escapes it (``_ascii``).  Whatever else the document holds (a
    float, whose text orjson writes its own way; a non-string key; a subclass, which may
    change what json reads of it) is handed to orjson as the standard library's text, an
    ``orjson.Fragment`` written in place (``_ready``).  What orjson refuses (an int beyond
    64 bits, a lone surrogate, nesting beyond 255 levels) is encoded as before (``_encode``:
    the levels above the flat containers in Python, each flat one by json's C encoder).
    A report's only floats are the checks' timings: its findings go to orjson as they are.

    In pieces, to be written as they are, and made as they are asked for: a report is tens
    of MB, and each copy of it in fresh memory cost more than the copying (a 200 MB report
    spent 0.85 s in one ``bytes.replace``).  So the values of a top-level mapping are
    written one by one (``_inner``), and a long list among them (a report's findings)
    ``_BATCH`` items at a time (``_batches``), each batch's text given back before the next
    one is made.  At 93,000 objects, encoding the report took 0.25 -> 0.11 s, and
    0.49-0.90 -> 0.20 s where 4,000 findings list 334 nodes each (197 MB of text), with a
    peak memory 41 and 190 MiB lower.
    """
    if c_make_encoder is None:  # a Python without the json C accelerator
        yield json.dumps(doc, indent=2).encode("ascii")
    elif type(doc) is not dict or not doc or not all(type(key) is str for key in doc):
        try:
            yield from _ascii(orjson.dumps(_ready(doc, 0), option=orjson.OPT_INDENT_2))
        except orjson.JSONEncodeError:
            yield _encode(doc, 0).encode("ascii")
    else:
        before = b"{\n  "
        for key, value in doc.items():
            yield before + encode_basestring_ascii(key).encode("ascii") + b": "
            before = b",\n  "
            if type(value) in _SEQUENCES and len(value) > _BATCH:
                yield from _batches(value)
            else:
                yield from _inner(value, 0, 0)
        yield b"\n}"


def _inner(value: Any, head: int, tail: int) -> list[bytes | memoryview]:
    """``value``'s text at depth 1, without its first ``head`` and last ``tail`` bytes.

    orjson writes it inside a list, which puts it at depth 1 without a pass over its text
    to indent it again; the list's brackets are cut (``[\\n  `` and ``\\n]``).
    """
    try:
        pieces = _ascii(orjson.dumps(_ready([value], 0), option=orjson.OPT_INDENT_2))
        head, tail = head + 4, tail + 2
    except orjson.JSONEncodeError:
        pieces = [_encode(value, 1).encode("ascii")]
    # Only strings hold escapes, and there are no strings in what is cut.
    pieces[0] = memoryview(pieces[0])[head:]
    pieces[-1] = memoryview(pieces[-1])[: len(pieces[-1]) - tail]
    return pieces


def _batches(items: list[Any] | tuple[Any, ...]) -> Iterator[bytes | memoryview]:
    """A long list at depth 1, ``_BATCH`` items at a time: each batch is written as a list
    at depth 1, and its brackets are cut from its text (``[``, and ``\\n  ]`` at the end)."""
    yield b"["
    for start in range(0, len(items), _BATCH):
        if start:
            yield b","
        yield from _inner(items[start : start + _BATCH], 1, 4)
    yield b"\n  ]"


# The types whose text orjson writes as json.dumps does (exact types: a subclass may
# change what json reads of it).
_PLAIN = frozenset((dict, list, tuple, str, int, bool, type(None)))
_CONTAINERS = (dict, list, tuple)
_NESTED = frozenset(_CONTAINERS)
_SEQUENCES = frozenset((list, tuple))
# Items of a long top-level list written at a time: a report's findings are 1-25 KB of text
# each; 16 to 256 of them took the same time, and fewer hold less memory.
_BATCH = 64


def _ready(value: Any, depth: int) -> Any:
    """``value`` as orjson writes it as json.dumps does at ``depth``: itself when it is
    plain throughout, else a copy of each container above what is not, with that as a
    Fragment of json's own text (indented for its depth, as the fragment is written as it is)."""
    kind = type(value)
    if kind in _NESTED and _plain(value):
        return value
    if kind is dict and all(type(key) is str for key in value):
        return {key: _ready(item, depth + 1) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_ready(item, depth + 1) for item in value]
    if kind in _PLAIN:  # a plain scalar
        return value
    return orjson.Fragment(_encode(value, depth))


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only ``_PLAIN`` types, at every depth.

    Level by level, all in C: ``gc.get_referents`` gives every item of a list or tuple and
    every value of a dict (and every key, unless all of them are exact strings), the type
    test is a set's, and the next level is picked by ``compress``, each container in it
    once however often it is met there: the findings of one cause share their lists of
    references (``_refs_json``), 4,000 pending GPU pods the same 334 nodes.  A document
    that holds itself ends the walk at orjson's depth limit and goes the standard library's
    way; so does one with more than ``_MOST`` values in one level.
    """
    level = [value]
    for _ in range(_DEEPEST):
        found = gc.get_referents(*level)
        kinds = list(map(type, found))
        if len(found) > _MOST or not _PLAIN.issuperset(kinds):
            return False
        nested = list(compress(found, map(_NESTED.__contains__, kinds)))
        level = list(dict(zip(map(id, nested), nested, strict=True)).values())
        if not level:
            return True
    return False


_DEEPEST = 256  # orjson refuses a document nested deeper than 255 levels
_MOST = 1 << 24  # values in one level (128 MiB of references); beyond, json's way


def _ascii(text: bytes) -> list[bytes | memoryview]:
    """orjson's UTF-8 as ``json.dumps``' ASCII, in pieces: views of ``text`` between the
    escapes of DEL and of each character beyond ASCII (``\\uXXXX``, lower-case hex; a
    surrogate pair beyond the BMP).

    Such bytes can only be inside strings.  Which characters there are is learnt by deleting
    every ASCII byte (``bytes.translate``).  A report holds few distinct ones (an ellipsis, a
    name's accents), so each of their first bytes is looked for in turn (``bytes.find`` of
    one byte is ``memchr``): in UTF-8 such a byte only ever starts a character.  Many
    distinct first bytes (a report in several scripts) are escaped by run instead, as the
    text is decoded (``_beyond_ascii``), in Python's slower decoding loop.
    """
    swaps: dict[bytes, bytes] = {}
    if not text.isascii():
        beyond = set(text.translate(None, _ASCII_BYTES).decode("utf-8"))
        swaps = {part: _escaped(part) for part in (char.encode("utf-8") for char in beyond)}
    if b"\x7f" in text:
        swaps[b"\x7f"] = b"\\u007f"
    if not swaps:
        return [text]
    firsts = {part[0] for part in swaps}
    if len(firsts) > _FEW:
        decoded = text.decode("ascii", _BEYOND_ASCII).encode("ascii")
        return [decoded.replace(b"\x7f", b"\\u007f")]
    view, start, chunks = memoryview(text), 0, list[bytes | memoryview]()
    for at in sorted(at for first in firsts for at in _places(text, first)):
        found = text[at : at + _WIDTH[text[at] >> 4]]
        chunks += (view[start:at], swaps[found])
        start = at + len(found)
    chunks.append(view[start:])
    return chunks


def _places(text: bytes, byte: int) -> Iterator[int]:
    """Where ``byte`` is in ``text``, each place."""
    at = text.find(byte)
    while at >= 0:
        yield at
        at = text.find(byte, at + 1)


# The length of a UTF-8 character by the high half of its first byte (DEL's is 1).
_WIDTH = (1,) * 12 + (2, 2, 3, 4)
_ASCII_BYTES = bytes(range(0x80))
_FEW = 8  # distinct first bytes looked for one by one; more are escaped by run


def _beyond_ascii(error: UnicodeError) -> tuple[str, int]:
    """The codec error handler of ``_ascii``: the run of non-ASCII bytes from where the
    decoder stopped (whole UTF-8 characters: ASCII never continues one), escaped."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    data, end = error.object, error.start
    while end < len(data) and data[end] >= 0x80:
        end += 1
    return _escaped(data[error.start : end]).decode("ascii"), end


_BEYOND_ASCII = "logos_doctor.json_text.beyond_ascii"
codecs.register_error(_BEYOND_ASCII, _beyond_ascii)


@lru_cache(maxsize=4096)
def _escaped(run: bytes) -> bytes:
    out = []
    for char in run.decode("utf-8"):
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out).encode("ascii")


_FLAT: dict[int, Any] = {}  # depth -> the C encoder of a flat container at that depth


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _flat(value: Any, depth: int) -> str:
    encode = _FLAT.get(depth)
    if encode is None:
        encode = _FLAT[depth] = c_make_encoder(  # json.encoder's own, as json.dumps builds it
            None, _refuse, encode_basestring_ascii, None, ": ", ",\n" + "  " * (depth + 1),
            False, False, True,
        )  # fmt: skip
    return "".join(encode(value, 0))


def _encode(value: Any, depth: int) -> str:
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = "\n" + "  " * (depth + 1)
        for item in value.values():
            if isinstance(item, _CONTAINERS):
                break
        else:
            return "{" + inner + _flat(value, depth)[1:-1] + "\n" + "  " * depth + "}"
        parts = [f"{_key(k)}: {_encode(v, depth + 1)}" for k, v in value.items()]
        return "{" + inner + ("," + inner).join(parts) + "\n" + "  " * depth + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        inner = "\n" + "  " * (depth + 1)
        for item in value:
            if isinstance(item, _CONTAINERS):
                break
        else:
            return "[" + inner + _flat(value, depth)[1:-1] + "\n" + "  " * depth + "]"
        parts = [_encode(v, depth + 1) for v in value]
        return "[" + inner + ("," + inner).join(parts) + "\n" + "  " * depth + "]"
    if value is None:  # the common scalars without a json.dumps call each (an encoder
        return "null"  # object is built per call: 0.2 s at 19,000 findings)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)  # what json.dumps writes for an int
    scalar: str = json.dumps(value)  # other numbers: the C encoder's own text
    return scalar


def _key(key: Any) -> str:
    if isinstance(key, str):
        return encode_basestring_ascii(key)
    text: str = json.dumps({key: 0})  # the standard library's rules for non-string keys
    return text[1 : text.rindex(":")]
