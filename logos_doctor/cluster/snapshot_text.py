"""A snapshot file's text, read one object at a time, each distinct JSON text built once.

``json.loads`` of a whole snapshot holds the file's text and then a new dict, list and string
for every value in it, even where the text repeats: at the Kubernetes scalability envelope
(5,000 nodes, 150,000 pods, 500,000 events; a 1.5 GB file) that came to 9.3 GiB.  Two things
keep the load near the size of what it keeps instead:

- The file is mapped, not read (a gzip file is inflated into memory, as before), and msgspec
  cuts the document into its top-level values and each kind into its items without building
  them (``msgspec.Raw``: a span of the text).  Each item is then built, validated and kept
  while the pages behind it are given back to the kernel (``release``).  A mapped file cut
  short in place while it is read would stop the process (SIGBUS); ``snapshot.save`` never
  does that (it writes a new file and renames it), only another program could.
- In a file of ``SHARE_FROM`` bytes of text or more, ``SameText`` builds each value once per
  distinct text: a value whose JSON text was met before in this file is the object built
  then.  The pods of one ReplicaSet carry the same containers, volumes, tolerations and
  conditions, the events of one object the same ``involvedObject`` and ``source``, the
  objects of a namespace the same namespace string.  Equal text decodes to equal values, so
  no reader can tell, as long as nothing changes an object after the load: the same rule
  that makes ``share.py`` safe for a live fetch.  An object and its ``metadata`` are always
  its own (an object is one object), only what lies below them is shared.  A smaller file
  is built item by item without sharing, which is faster on real clusters' text.

msgspec refuses a few texts ``json`` reads (``NaN``, a lone surrogate, a number beyond a
double): an item holding one is built by ``json`` instead, and a document msgspec cannot cut
at all goes back to ``json.loads`` as a whole (``snapshot._load``), so every file gives the
objects and the errors it gave before.
"""

from __future__ import annotations

import gzip
import io
import json
import mmap
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from hashlib import blake2b
from pathlib import Path
from typing import Any

import msgspec

from logos_doctor.errors import SnapshotError

Buffer = bytes | mmap.mmap

SPLIT = 128  # a container's text this long or longer is built from its parts' shared values
# A file with less text than this is built without sharing (``value`` per item): sharing
# costs Python work per value, and such a file's state stays under 2 GiB anyway (measured at
# 5.3 to 6.6 times the text, below ``json.load``'s peak on every file tried).  On snapshots of the
# seeded benchmark cluster, CPU shared -> unshared: 4.1 -> 3.3 s (56,823 objects, 81 MB) and
# 9.0 -> 7.2 s (121,147 objects, 168 MB); on synthesized copies, whose texts repeat far more,
# the same time both ways.  The envelope's 1.5 GB must share to fit in 2 GiB.
SHARE_FROM = 256 * 1024**2
RELEASE_EVERY = 64 * 1024**2  # bytes of text built between two ``release`` calls

_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_ANY = msgspec.json.Decoder()
_OPEN_BRACE, _OPEN_BRACKET = ord("{"), ord("[")


@contextmanager
def opened(path: Path, max_bytes: int) -> Iterator[Buffer]:
    """The file's text: mapped if it is plain, inflated if it is gzip."""
    text = _text(path, max_bytes)
    try:
        yield text
    finally:
        if isinstance(text, mmap.mmap):
            with suppress(BufferError):  # a span still refers to it: closed when that goes
                text.close()


def _text(path: Path, max_bytes: int) -> Buffer:
    try:
        with path.open("rb") as fh:
            if fh.read(2) == b"\x1f\x8b":
                fh.seek(0)
                return _inflated(path, fh.read(), max_bytes)
            try:
                return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # empty, or not a regular file
                fh.seek(0)
                return fh.read()
    except OSError as exc:
        raise SnapshotError(f"cannot read snapshot {path}: {exc.strerror or exc}") from None


def _inflated(path: Path, raw: bytes, max_bytes: int) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
            text = gz.read(max_bytes + 1)
    except (OSError, EOFError):
        raise SnapshotError(
            f"snapshot {path} is a truncated or corrupt gzip file", "record it again"
        ) from None
    if len(text) > max_bytes:
        raise SnapshotError(
            f"snapshot {path} inflates past {max_bytes // 1024**2:,} MiB; refusing to read it"
        )
    return text


def document(
    text: Buffer, head: tuple[str, ...]
) -> tuple[dict[str, msgspec.Raw], dict[str, list[msgspec.Raw]]] | None:
    """A snapshot cut in one pass: the values of the ``head`` members (``null`` for one
    that is absent), and each kind's items, all unbuilt.  None when the text is not such a
    document, or not one msgspec can read: ``fields`` and ``elements`` then cut it step by
    step, and say where it goes wrong.

    Each step is a pass over the whole text (0.08 s per 121 MB); cut into the top's members,
    then the kinds, then the items, the file was read three times before any item was built.
    Members other than ``objects`` and ``head`` are passed over unread.
    """
    try:
        cut = _document(head).decode(text)
    except msgspec.DecodeError:  # ValidationError included: not that shape
        return None
    if cut.objects is None:
        return None
    return {key: getattr(cut, key) for key in head}, cut.objects


@cache
def _document(head: tuple[str, ...]) -> msgspec.json.Decoder[Any]:
    members: list[tuple[str, Any, Any]] = [(key, msgspec.Raw, _NULL) for key in head]
    members.append(("objects", dict[str, list[msgspec.Raw]] | None, None))
    return msgspec.json.Decoder(msgspec.defstruct("Document", members, gc=False))


_NULL = msgspec.Raw(b"null")


def fields(text: Buffer | msgspec.Raw) -> dict[str, msgspec.Raw] | None:
    """A JSON object's members, unbuilt; None if the text is not one msgspec can read."""
    try:
        return _OBJECT.decode(text)
    except msgspec.DecodeError:
        return None


def elements(text: msgspec.Raw) -> list[msgspec.Raw] | None:
    """A JSON array's elements, unbuilt; None if the text is not one msgspec can read."""
    try:
        return _ARRAY.decode(text)
    except msgspec.DecodeError:
        return None


def value(text: msgspec.Raw) -> Any:
    """One value, built with nothing shared (a Secret's or ConfigMap's: see ``SameText``)."""
    try:
        return _ANY.decode(text)
    except msgspec.DecodeError:
        return _by_json(text)


def release(text: Buffer) -> None:
    """Give back the pages of a mapped file read so far; they are read again if needed."""
    if isinstance(text, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        text.madvise(mmap.MADV_DONTNEED)


class SameText:
    """Builds the values of one file, each distinct text once (see the module's docstring).

    A text shorter than ``SPLIT`` is its own key; a longer one (most of them seen once: a
    pod's status, an event's ``involvedObject``) is known by its 128-bit BLAKE2b digest, as
    content-addressed stores know content, which keeps the table a fifth of the size it had
    with the texts as keys (at the envelope, 330 MiB of keys for 1.3 million containers)
    while it lives, to the end of the load.  Secrets and ConfigMaps are not built here: their
    values are stripped right after the load, and should not linger in this table or be
    shared with other objects.
    """

    def __init__(self) -> None:
        self._seen: dict[bytes, Any] = {}  # short texts
        self._digests: dict[bytes, Any] = {}  # long texts, by digest

    def item(self, text: msgspec.Raw) -> Any:
        """One object of a kind: a fresh dict, and a fresh metadata dict in it."""
        members = fields(text)
        if members is None:  # not an object, or text msgspec refuses: json says which
            return _by_json(text)
        try:
            return {
                key: self._fresh(part) if key == "metadata" else self._value(part)
                for key, part in members.items()
            }
        except msgspec.DecodeError:
            return _by_json(text)

    def _fresh(self, text: msgspec.Raw) -> Any:
        members = fields(text)
        if members is None:
            return self._value(text)
        return {key: self._value(part) for key, part in members.items()}

    def _value(self, raw: msgspec.Raw) -> Any:
        text = bytes(raw)
        if len(text) < SPLIT:
            seen = self._seen.get(text)
            if seen is None:
                seen = self._seen[text] = _ANY.decode(text)
            return seen
        key = blake2b(text, digest_size=16).digest()  # see the class's docstring
        seen = self._digests.get(key)
        if seen is not None:
            return seen
        first = text[0]
        built: Any
        if first == _OPEN_BRACE:
            built = {name: self._value(part) for name, part in _OBJECT.decode(text).items()}
        elif first == _OPEN_BRACKET:
            built = [self._value(part) for part in _ARRAY.decode(text)]
        else:
            built = _ANY.decode(text)
        self._digests[key] = built
        return built


class NotJson(ValueError):
    """A span of the file is not JSON even to ``json`` (a damaged file)."""


def _by_json(text: msgspec.Raw) -> Any:
    try:
        return json.loads(bytes(text))
    except (ValueError, UnicodeDecodeError):
        raise NotJson from None
