"""The sharing walk in C (cluster/_share.c) makes what the walk in Python makes.

share.py's walk is the definition; the C one must give the same objects, with the same
containers made one and the same strings filed, on every recorded snapshot shared as a fetch
shares it, and on generated JSON that repeats itself as the items of a LIST do, including
twins that only ``==`` confuses (``True`` and ``1``, ``0.0`` and ``-0.0``, NaN).  Objects
are also equal to what they replace wherever neither walk trusts ``==``.
"""

import copy
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logos_doctor.cluster import share
from logos_doctor.cluster.decode import TOP_FIELDS
from tests.recorded import SNAPSHOTS, recorded
from tests.shared_values import exact, identities, share_as_a_fetch

NAMES = sorted(p.name.removesuffix(".json.gz") for p in SNAPSHOTS.glob("*.json.gz"))
NATIVE = share.NATIVE
needs_c = pytest.mark.skipif(NATIVE is None, reason="the walk in C was not built")


def test_the_walk_in_c_was_built() -> None:
    # Optional at install (an install without a compiler still works, on the Python walk),
    # but the test environment must have it, or the C tests here and in test_share.py are
    # skipped unseen.
    if os.environ.get("LOGOS_DOCTOR_NO_NATIVE"):
        pytest.skip("LOGOS_DOCTOR_NO_NATIVE is set")
    assert NATIVE is not None, (
        "logos_doctor/cluster/_share.c was not built, or its module is older than the source "
        "or built for another share.NATIVE_VERSION: reinstall (pip install -e '.[test]') on "
        "a machine with a C compiler"
    )


def _both_ways(
    objects: dict[str, list[Any]],
) -> tuple[dict[str, list[Any]], dict[Any, Any], dict[str, list[Any]], dict[Any, Any]]:
    """A copy of ``objects`` shared as a fetch shares them by each walk, and each's table."""
    out: list[Any] = []
    for how in (NATIVE, None):
        copied, table = copy.deepcopy(objects), {}
        share.NATIVE = how
        try:
            share_as_a_fetch(copied, table)
        finally:
            share.NATIVE = NATIVE
        out += [copied, table]
    return out[0], out[1], out[2], out[3]


def _same(objects: dict[str, list[Any]]) -> None:
    """Both walks make equal objects, shared alike, and file the same strings."""
    in_c, c_table, in_python, python_table = _both_ways(objects)
    assert exact(in_c) == exact(in_python)
    # Equal to what they replace, but where ``==`` was trusted: items of the API server's
    # own kinds take a part of the item before that ``==`` finds equal, and it cannot tell
    # ``True`` from ``1`` (share.py says why no built-in kind has such twins).
    walked = [k for k in objects if k not in TOP_FIELDS]
    assert exact({k: in_c[k] for k in walked}) == exact({k: objects[k] for k in walked})
    assert identities(in_c) == identities(in_python)
    # Strings are filed as themselves; containers under hashes that hold addresses, which
    # differ from one copy to the other, so only their number must agree.
    assert {k for k in c_table if type(k) is str} == {k for k in python_table if type(k) is str}
    assert sum(type(k) is int for k in c_table) == sum(type(k) is int for k in python_table)


@pytest.mark.parametrize("name", NAMES)
@needs_c
def test_the_walks_in_c_and_python_make_the_same_objects(name: str) -> None:
    state, _ = recorded(name)
    _same({k: list(v) for k, v in state.objects.items()})


# JSON values as an API server (or a custom resource's author) could write them, in few
# words, so that siblings repeat each other's parts as the items of one LIST do.
_WORDS = st.sampled_from(["a", "b", "web", "True", "1", ""])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, -1, 2**70]),
    st.sampled_from([0.0, -0.0, 1.0, float("nan")]),
    _WORDS,
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_WORDS, inner, max_size=4)
    ),
    max_leaves=12,
)
_ITEM = st.fixed_dictionaries(
    {
        "metadata": st.fixed_dictionaries({"name": _WORDS, "resourceVersion": _WORDS}),
        "spec": _VALUES,
        "status": _VALUES,
    }
)


@needs_c
@settings(max_examples=300, deadline=None)
@given(st.lists(_ITEM, max_size=6), st.lists(_ITEM, max_size=3))
def test_the_walks_agree_on_any_json(pods: list[Any], others: list[Any]) -> None:
    # Pods are shared like the item before, with ``==``; a custom resource is walked.
    _same({"pods": pods, "certificates": others, "events": copy.deepcopy([*pods, *others])})


# Scalars ``==`` takes for one another, though JSON and the walk tell them apart.
_ONES = (1, True, 1.0)
_ZEROS = (0, False, 0.0, -0.0)


def _retyped(value: Any, draw: Any) -> Any:
    """``value`` with some of its scalars swapped for ones ``==`` to them of another type."""
    if isinstance(value, dict):
        return {k: _retyped(v, draw) for k, v in value.items()}
    if isinstance(value, list):
        return [_retyped(v, draw) for v in value]
    if type(value) in (int, bool, float) and value in (0, 1):
        return draw(st.sampled_from(_ONES if value == 1 else _ZEROS))
    return value


@needs_c
@settings(max_examples=300, deadline=None)
@given(_ITEM, st.data())
def test_the_walks_agree_on_values_that_differ_only_in_type(item: Any, data: Any) -> None:
    # Twins that only ``==`` confuses must stay apart in both walks, wherever they meet:
    # as a custom resource's items (walked) and as pods (taken like the item before).
    twin = _retyped(item, data.draw)
    items = [item, twin]
    _same(
        {"certificates": items, "pods": copy.deepcopy(items), "events": copy.deepcopy(items[::-1])}
    )
