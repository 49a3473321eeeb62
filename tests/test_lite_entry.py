"""The entry's lite path (backend/entry.py): scalar units whose kernels never use the undo log.

Which units are log-free (compiler.py: `log_free` in the data block), and that calls
through the lite path, by the prologue's builtin (3.11) or the function's vectorcall
(3.10, 3.12+, and C callers everywhere), give CPython's values, types and errors,
count their native calls, send what the lite path does not take (big ints, changed
globals, deopts) where the core sends it, and return CPython's cached small ints with
the reference counts CPython's own code keeps.
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.differential import call, same_outcome

from fastimport.runtime.dispatch import state_of
from fastimport.runtime.funcobject import SMALL_INT_MAX, SMALL_INT_MIN
from fastimport.testing import compile_module, plain_module, record_of

SRC = """
import numpy as np

K = 3


def add(a, b):
    return a + b


def offset(x):
    return x + K


def flip(b, x):
    return -x if b else x


def positive(x):
    return x > 0


def nothing(x):
    y = x + 1


def count(n):
    s = 0
    for i in range(n):
        s += i
    return s


def accumulate(x, n):
    s = x
    for i in range(n):
        s += x
    return s


def allocates(n):
    a = np.zeros(n)
    a[0] = 1.0
    return a[0]


def squares(n):
    xs = [i * i for i in range(n)]
    return xs[n - 1]


def fills(n):
    a = np.zeros(n)
    for i in range(n):
        a[i] = i
    return a[n - 1]


def calls_a_filler(n):
    return fills(n) + 1.0
"""

_MODULES: dict[str, object] = {}


def _modules() -> tuple[object, object]:
    if not _MODULES:
        _MODULES["fast"], _MODULES["plain"] = compile_module(SRC), plain_module(SRC)
    return _MODULES["fast"], _MODULES["plain"]


def _log_free(func: object) -> bool:
    state = state_of(func)
    assert state is not None
    assert state.entries, "not compiled"
    return bool(state.entries[-1].data.log_free)


@pytest.mark.parametrize(
    ("name", "args", "log_free"),
    [
        ("add", (1, 2), True),
        ("offset", (1,), True),
        ("flip", (True, 2.5), True),
        ("positive", (2,), True),
        ("nothing", (1,), True),
        ("count", (10,), True),
        ("accumulate", (2, 5), True),
        ("allocates", (3,), False),  # the array is the call's, in the arena
        ("squares", (4,), False),  # so is the list
        ("fills", (4,), False),
        ("calls_a_filler", (4,), False),  # its callee (a loop: not inlined) uses the log
    ],
)
def test_units_are_log_free_only_when_no_kernel_uses_the_log(name: str, args: tuple, log_free: bool) -> None:
    """Arrays or lists the call makes, stores, a callee that does either: the log; plain numbers: none."""
    fast, plain = _modules()
    assert same_outcome(call(getattr(fast, name), *args), call(getattr(plain, name), *args))
    assert record_of(getattr(fast, name)).status == "native"
    assert _log_free(getattr(fast, name)) is log_free


EDGES = [SMALL_INT_MIN - 1, SMALL_INT_MIN, -1, 0, 1, SMALL_INT_MAX, SMALL_INT_MAX + 1, 2**30 - 1, 2**30, -(2**30)]


@pytest.mark.parametrize("path", ["direct", "map"])
def test_small_int_results_are_cpythons_cached_objects(path: str) -> None:
    """A result in CPython's small-int cache is the cached object itself, as CPython's `a + b` gives it."""
    fast, plain = _modules()
    for total in EDGES:
        pairs = [(total, 0), (0, total), (total - 7, 7)]
        for a, b in pairs:
            if path == "direct":
                got, want = fast.add(a, b), plain.add(a, b)
            else:
                (got,), (want,) = map(fast.add, [a], [b]), map(plain.add, [a], [b])
            assert type(got) is int
            assert got == want == total
            assert (got is want) == (SMALL_INT_MIN <= total <= SMALL_INT_MAX)  # CPython's own answer


@pytest.mark.parametrize("value", [SMALL_INT_MIN, 7, SMALL_INT_MAX])
def test_returned_small_ints_keep_their_reference_counts(value: int) -> None:
    """Each result is a new reference: the count of the cached object is where it was after the calls are dropped.

    (3.11 counts references to small ints; a missing or doubled increment shows here at once.)
    """
    fast, _ = _modules()
    obj = int(str(value))  # the cache's object
    fast.add(value, 0)
    before = sys.getrefcount(obj)
    for _ in range(1000):
        fast.add(value, 0)
    assert len(list(map(fast.add, [value] * 1000, [0] * 1000))) == 1000  # (the list and its items go at once)
    kept = [fast.add(value, 0) for _ in range(100)]
    assert sys.getrefcount(obj) == before + (100 if sys.version_info < (3, 12) else 0)
    assert all(k is obj for k in kept)
    del kept
    assert sys.getrefcount(obj) == before


def test_bool_results_are_the_singletons_with_their_reference_counts() -> None:
    """`True` and `False` themselves, one new reference each (3.11 counts them; 3.12+ they are immortal)."""
    fast, plain = _modules()
    for x in (5, -5, 0, 2**40, -(2**70), 1.5):
        assert fast.positive(x) is plain.positive(x)
        assert next(map(fast.positive, [x])) is plain.positive(x)
    before = (sys.getrefcount(True), sys.getrefcount(False))
    for _ in range(500):
        fast.positive(1)
        fast.positive(-1)
    assert len(list(map(fast.positive, [1, -1] * 500))) == 1000
    kept = [fast.positive(1) for _ in range(50)] + [fast.positive(-1) for _ in range(30)]
    grew = 1 if sys.version_info < (3, 12) else 0
    assert (sys.getrefcount(True), sys.getrefcount(False)) == (before[0] + 50 * grew, before[1] + 30 * grew)
    del kept
    assert (sys.getrefcount(True), sys.getrefcount(False)) == before


INTS = st.one_of(
    st.sampled_from([*EDGES, 2**62, -(2**62), 2**63 - 1, -(2**63), 2**63, 2**64]),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.integers(min_value=-300, max_value=300),
)


@settings(max_examples=300, deadline=None)
@given(a=INTS, b=INTS)
def test_int_calls_agree_and_count_as_native_exactly_when_they_fit(a: int, b: int) -> None:
    """Native iff both arguments and the sum fit int64 (one digit: the lite path; more: the core); else bytecode."""
    fast, plain = _modules()
    fits = all(-(2**63) <= v < 2**63 for v in (a, b, a + b))
    for run in (lambda f: f(a, b), lambda f: next(map(f, [a], [b]))):
        before = record_of(fast.add).native_calls
        got, want = call(run, fast.add), call(run, plain.add)
        assert same_outcome(got, want)
        assert record_of(fast.add).native_calls - before == int(fits)


FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1e308, -1e-308])


@settings(max_examples=200, deadline=None)
@given(b=st.booleans(), x=FLOATS)
def test_bool_and_float_arguments_through_the_lite_path(b: bool, x: float) -> None:
    """A bool and a float unboxed by the lite path, nan, infinities and -0.0 among them."""
    fast, plain = _modules()
    assert same_outcome(call(fast.flip, b, x), call(plain.flip, b, x))
    assert same_outcome(call(lambda: next(map(fast.flip, [b], [x]))), call(lambda: next(map(plain.flip, [b], [x]))))


def test_other_types_and_counts_go_where_the_core_sends_them() -> None:
    """An int argument to `flip` where a bool was compiled, a float to `add`, the wrong count, keywords."""
    fast, plain = _modules()
    fast.flip(True, 1.0)
    cases = [
        ("flip", (1, 1.0), {}),
        ("add", (1.5, 2), {}),
        ("add", (1,), {}),
        ("add", (1, 2, 3), {}),
        ("add", (), {"a": 1, "b": 2}),
    ]
    for name, args, kwargs in cases:
        assert same_outcome(call(getattr(fast, name), *args, **kwargs), call(getattr(plain, name), *args, **kwargs))


def test_none_result() -> None:
    """A function without a return: None, by both ways in, counted as native calls."""
    fast, _ = _modules()
    before = record_of(fast.nothing).native_calls
    assert fast.nothing(41) is None
    assert list(map(fast.nothing, [1, 2])) == [None, None]
    assert record_of(fast.nothing).native_calls - before == 3


def test_a_rebound_global_is_seen_through_the_lite_path() -> None:
    """The lite path runs the world check too: `K` rebound, to another int and to a float, is read at the next call."""
    source = SRC.replace("K = 3", "K = 4")  # a module of its own: the test rebinds its global
    fast, plain = compile_module(source), plain_module(source)
    assert fast.offset(1) == 5
    assert _log_free(fast.offset)
    for value in (10, -(2**40), 2.5):
        fast.K = plain.K = value
        for x in (1, 2**31):
            assert same_outcome(call(fast.offset, x), call(plain.offset, x))
            assert same_outcome(
                call(lambda v: next(map(fast.offset, [v])), x), call(lambda v: next(map(plain.offset, [v])), x)
            )


def test_a_deopt_in_the_kernel_gives_cpythons_result() -> None:
    """An int leaving int64 in the kernel (an expression, a loop): the call falls to bytecode, with CPython's result."""
    fast, plain = _modules()
    assert fast.accumulate(1, 3) == 4
    cases = [
        ("add", (2**62, 2**62)),
        ("add", (-(2**63), -1)),
        ("accumulate", (2**61, 10)),
        ("accumulate", (-(2**61), 10)),
    ]
    for name, args in cases:
        before = record_of(getattr(fast, name)).deopts
        for run in (lambda f, a=args: f(*a), lambda f, a=args: next(map(f, *([v] for v in a)))):
            got, want = call(run, getattr(fast, name)), call(run, getattr(plain, name))
            assert same_outcome(got, want), (name, args)
        assert record_of(getattr(fast, name)).deopts > before, name
