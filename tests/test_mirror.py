"""Mirrored `list[list[float]]` parameters (frontend/mirror.py, backend/mirroremit.py).

A call works on an unboxed copy of the rows it reads and writes the changed floats back
when it leaves or reaches a signal checkpoint. Python must not be able to tell: the
lists afterwards, the rows' identities, other holders of the old floats, reference
counts, exceptions part-way and deopts are all CPython's.
"""

from __future__ import annotations

import copy
import signal
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.differential import call, modules, native, same_outcome
from tests.strategies import floats

from fastimport.compiler import front_end
from fastimport.frontend.types import List, Ty
from fastimport.runtime.dispatch import state_of
from fastimport.testing import compile_module, record_of

ROWS = List(List(Ty.FLOAT))
ROW = List(Ty.FLOAT)

SRC = """
import math

def advance(bodies, dt, steps):
    n = len(bodies)
    for _ in range(steps):
        for i in range(n):
            bi = bodies[i]
            for j in range(i + 1, n):
                bj = bodies[j]
                dx = bi[0] - bj[0]
                d2 = dx * dx + 0.01
                mag = dt / (d2 * math.sqrt(d2))
                bi[1] -= dx * bj[2] * mag
                bj[1] += dx * bi[2] * mag
        for b in bodies:
            b[0] += dt * b[1]
    return bodies[0][0]

def bump(rows, k):
    for r in range(k):
        for row in rows:
            for i in range(len(row)):
                row[i] += 1.0
    return rows[0][0]

def shift(rows, i, j, v):
    for _ in range(2):
        rows[i][j] = rows[i][-1] + v
    return rows[-1][j]

def divide(rows, d):
    for row in rows:
        row[0] = row[0] * 2.0
        row[1] = row[1] / d
    return rows[0][0]

def unpack(rows):
    s = 0.0
    for row in rows:
        x, y = row
        row[0] = y
        s += x - y
    return s

def scale(xs, k):
    for i in range(len(xs)):
        xs[i] = xs[i] * k
    return xs[-1]

def smooth(xs, out):
    for i in range(1, len(xs) - 1):
        out[i] = (xs[i - 1] + xs[i] + xs[i + 1]) / 3.0
    return out[1]

def into_row(rows, xs, i):
    for k in range(len(xs)):
        rows[i][k] = xs[k] * 2.0
        xs[k] = rows[0][k] + 1.0
    return rows[0][0]

def twice_then_read(xs, k, i):
    scale(xs, k)
    scale(xs, k)
    return xs[i]

def pair(rows, n):
    row = rows[0]
    for _ in range(n):
        row[0] += 1.0
        row[1] += 1.0
    return row[0]

def spin(rows, n):
    row = rows[0]
    for _ in range(n):
        row[0] += 1.0
    return row[0]
"""


def _after(fname: str, *args: object) -> tuple:
    """(fastimport outcome, its arguments after), (CPython's, its arguments after)."""
    fast, ref = modules(SRC)
    fast_args, ref_args = copy.deepcopy(args), copy.deepcopy(args)  # (deepcopy keeps the aliasing of rows)
    got = call(getattr(fast, fname), *fast_args)
    want = call(getattr(ref, fname), *ref_args)
    return (got, fast_args), (want, ref_args)


def _shape(rows: list) -> list[int]:
    """Which row each row is the same object as (the first index holding it)."""
    return [next(k for k, other in enumerate(rows) if other is row) for row in rows]


def _mirrored(source: str, fname: str, *arg_types: object) -> tuple[int, ...]:
    module = compile_module(source)
    _specs, root = front_end(state_of(getattr(module, fname)), getattr(module, fname), arg_types)
    return root.ir.mirrored


def test_which_parameters_are_mirrored() -> None:
    """List-of-float parameters only indexed, measured and stored into, in a loop that stores, with no calls."""
    loop = "def f(rows, k):\n    s = 0.0\n    for i in range(k):\n        {body}\n    return s\n"
    assert _mirrored(loop.format(body="rows[i][0] = s"), "f", ROWS, Ty.INT) == (0,)
    assert _mirrored(loop.format(body="rows[i][0] = s + len(rows) + len(rows[i])"), "f", ROWS, Ty.INT) == (0,)
    assert _mirrored(loop.format(body="rows[i] = s"), "f", ROW, Ty.INT) == (0,)
    assert _mirrored(loop.format(body="s += rows[i][0]"), "f", ROWS, Ty.INT) == ()  # reads only: checks are cheaper
    assert _mirrored("def f(rows, k):\n    rows[k][0] = 1.0\n", "f", ROWS, Ty.INT) == ()  # no loop
    assert _mirrored(loop.format(body="rows[i].append(s)"), "f", ROWS, Ty.INT) == ()
    assert _mirrored(loop.format(body="rows[i] = rows[0]"), "f", ROWS, Ty.INT) == ()
    assert _mirrored(loop.format(body="rows[i][0] = i"), "f", ROWS, Ty.INT) == ()  # an int into a float row
    # (g has a loop, so it is called, not copied into f: a copy's ops are f's own and are read as such)
    g = "def g(x):\n    t = 0.0\n    for k in range(2):\n        t += 1.0\n    return t\n\n"
    assert _mirrored(g + loop.format(body="rows[i] = g(rows)"), "f", ROW, Ty.INT) == ()  # passed on
    assert _mirrored(g + loop.format(body="rows[i] = g(s)"), "f", ROW, Ty.INT) == ()  # any call (a global may hold it)
    two = "def f(a, b):\n    for i in range(3):\n        a[i][0] = b[i][0]\n"
    assert _mirrored(two, "f", ROWS, ROWS) == ()  # two outer lists (one list, maybe): not mirrored
    one_of_each = "def f(a, b):\n    for i in range(3):\n        a[i][0] = b[i]\n"
    assert _mirrored(one_of_each, "f", ROWS, ROW) == (0, 1)  # b may be a row of a: one table finds it
    flat = "def f(a, b):\n    for i in range(3):\n        a[i] = b[i]\n"
    assert _mirrored(flat, "f", ROW, ROW) == (0, 1)
    assert _mirrored(flat, "f", ROW, List(Ty.INT)) == ()  # a list of ints beside them


@pytest.mark.parametrize(
    ("fname", "args"),
    [
        ("advance", ([[0.0, 0.5, 1.0], [1.0, -0.5, 2.0], [3.0, 0.0, 0.5]], 0.01, 20)),
        ("bump", ([[1.0, 2.0], [3.0]], 3)),
        ("shift", ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], -2, 0, 0.5)),
        ("divide", ([[1.0, 2.0], [3.0, 4.0]], 4.0)),
        ("unpack", ([[1.0, 2.0], [3.0, 0.5]],)),
        ("bump", ([[1.0], []], 2)),  # an empty row
        ("unpack", ([],)),  # no rows
        ("scale", ([1.0, -0.0, float("nan"), 2.5], 3.0)),
        ("smooth", ([1.0, 2.0, 4.0, 8.0, 16.0], [0.0] * 5)),
        ("into_row", ([[1.0, 2.0], [3.0, 4.0]], [0.5, 0.25], 1)),
        ("twice_then_read", ([1.0, 2.0], 3.0, -1)),  # scale's write-backs, natively called twice
    ],
)
def test_mirrored_calls_like_cpython(fname: str, args: tuple) -> None:
    """Values and the lists afterwards match CPython's, natively and without a deopt."""
    deopts = record_of(getattr(native(SRC), fname)).deopts
    (got, fast_args), (want, ref_args) = _after(fname, *args)
    assert same_outcome(got, want), (fname, got.describe(), want.describe())
    assert repr(fast_args) == repr(ref_args)
    record = record_of(getattr(native(SRC), fname))
    assert record.status == "native", record.reason
    assert record.deopts == deopts


@pytest.mark.parametrize(
    ("fname", "args"),
    [
        ("bump", ([[1.0, 2.0], [3.0, 1]], 2)),  # an int in a row: deopt, CPython's int + float
        ("bump", ([[1.0, 2.0], (3.0,)], 2)),  # a tuple row: TypeError from the bytecode
        ("bump", ([[1.0, 2.0], [3.0, "x"]], 2)),  # TypeError part-way in CPython
        ("shift", ([[1.0, 2.0]], 0, 5, 1.0)),  # IndexError on a row
        ("shift", ([[1.0, 2.0]], 3, 0, 1.0)),  # IndexError on the outer list
        ("divide", ([[1.0, 2.0], [3.0, 4.0]], 0.0)),  # ZeroDivisionError after the first row's stores
        ("divide", ([[1.0, 2.0], [3.0]], 2.0)),  # IndexError in the second row, after the first row's stores
        ("unpack", ([[1.0, 2.0], [3.0, 0.5, 1.0]],)),  # ValueError: too many values to unpack
        ("scale", ([1.0, 2, 3.0], 2.0)),  # an int in the list: deopt
        ("smooth", ([1.0, 2.0, 3.0], [0.0])),  # IndexError on out
        # IndexError after two native calls wrote back into xs: the rollback must put it
        # back (a kernel called natively snapshots before its write-back), or the bytecode
        # re-run would scale it four times
        ("twice_then_read", ([1.0, 2.0], 3.0, 5)),
    ],
)
def test_leaving_part_way_leaves_the_lists_as_cpython_does(fname: str, args: tuple) -> None:
    """A deopt drops the mirror (the bytecode re-runs from the caller's lists); an exception keeps the stores made."""
    warm = {
        "bump": ([[1.0]], 1),
        "shift": ([[1.0, 2.0]], 0, 0, 1.0),
        "divide": ([[1.0, 2.0]], 2.0),
        "scale": ([1.0, 2.0], 2.0),
        "smooth": ([1.0, 2.0, 3.0], [0.0] * 3),
        "twice_then_read": ([1.0, 2.0], 3.0, 0),
    }
    _after(fname, *warm.get(fname, ([[1.0, 2.0]],)))
    (got, fast_args), (want, ref_args) = _after(fname, *args)
    assert same_outcome(got, want), (fname, got.describe(), want.describe())
    assert repr(fast_args) == repr(ref_args)


def test_a_row_met_twice_is_one_row() -> None:
    """`rows = [r, r, s]`: a store through one index is seen through the other, as in CPython."""
    r, s = [1.0, 2.0], [5.0]
    (got, fast_args), (want, ref_args) = _after("bump", [r, r, s, r], 2)
    assert same_outcome(got, want), (got.describe(), want.describe())
    assert repr(fast_args) == repr(ref_args)
    assert _shape(fast_args[0]) == _shape(ref_args[0]) == [0, 0, 2, 0]
    big = [[float(k)] for k in range(100)]
    aliased = [big[k % 37] for k in range(300)]  # more rows than the first table size, many repeats
    (got, fast_args), (want, ref_args) = _after("bump", aliased, 3)
    assert same_outcome(got, want)
    assert repr(fast_args) == repr(ref_args)
    assert _shape(fast_args[0]) == _shape(ref_args[0])


def test_one_list_passed_twice_is_one_list() -> None:
    """`smooth(xs, xs)`: the stores through `out` are read back through `xs`, as in CPython."""
    xs = [float(k * k) for k in range(12)]
    (got, fast_args), (want, ref_args) = _after("smooth", xs, xs)
    assert same_outcome(got, want), (got.describe(), want.describe())
    assert repr(fast_args) == repr(ref_args)
    assert fast_args[0] is fast_args[1]
    rows = [[1.0, 2.0], [3.0, 4.0]]
    (got, fast_args), (want, ref_args) = _after("into_row", rows, rows[0], 1)  # a row passed beside its list
    assert same_outcome(got, want), (got.describe(), want.describe())
    assert repr(fast_args) == repr(ref_args)
    assert fast_args[0][0] is fast_args[1]


def test_floats_someone_else_holds_keep_their_values() -> None:
    """The write-back reuses a float object only when its list alone holds it."""
    m = native(SRC)
    m.bump([[1.0]], 1)
    mine = 10.0**10 + 0.5
    rows = [[mine, 2.0], [mine]]
    before, deopts = sys.getrefcount(mine), record_of(m.bump).deopts
    assert m.bump(rows, 3) == mine + 3.0
    assert mine == 10.0**10 + 0.5
    assert rows == [[mine + 3.0, 5.0], [mine + 3.0]]
    assert sys.getrefcount(mine) == before - 2  # both list slots let go of it, once each
    assert record_of(m.bump).deopts == deopts


def test_reference_counts_after_a_deopt() -> None:
    """A deopt part-way releases nothing twice and leaks nothing."""
    m = native(SRC)
    m.bump([[1.0]], 1)
    mine = 10.0**10 + 1.5
    rows = [[mine, 2.0], [mine, "x"]]
    before = sys.getrefcount(mine)
    with pytest.raises(TypeError):
        m.bump(rows, 1)
    assert rows == [[mine + 1.0, 3.0], [mine + 1.0, "x"]]  # CPython's stores before the TypeError
    assert sys.getrefcount(mine) == before - 2


@given(
    st.lists(st.lists(floats(), min_size=0, max_size=4), min_size=1, max_size=4),
    st.lists(st.integers(0, 3), min_size=0, max_size=6),
    st.integers(-5, 4),
    st.integers(-5, 4),
    floats(),
)
@settings(max_examples=300, deadline=None)
def test_stores_and_reads_like_cpython(pool: list, picks: list, i: int, j: int, v: float) -> None:
    """Rows drawn from a pool (so some are one object), any indices, any floats: CPython's outcome and lists."""
    _after("shift", [[1.0, 2.0]], 0, 0, 1.0)
    rows = [pool[k % len(pool)] for k in picks] or [pool[0]]
    (got, fast_args), (want, ref_args) = _after("shift", rows, i, j, v)
    assert same_outcome(got, want), (got.describe(), want.describe())
    assert repr(fast_args) == repr(ref_args)
    assert _shape(fast_args[0]) == _shape(ref_args[0])


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM timers (POSIX)")
def test_a_signal_handler_sees_and_changes_the_lists_as_in_cpython() -> None:
    """A handler runs at a checkpoint: it sees the floats stored so far, and the loop goes on from what it stores.

    The handler reads the row part-way through a long loop (if the stores were only
    written back at the end it would read 0.0) and takes 1000.0 off; CPython's loop
    would then end 1000.0 short of n, and so must the native one (the rows are read
    again after the checkpoint).
    """
    m = native(SRC)
    m.spin([[0.0]], 10)
    deopts = record_of(m.spin).deopts
    n = 100_000_000
    rows = [[0.0]]
    seen: list[float] = []

    def handler(_signum: int, _frame: object) -> None:
        seen.append(rows[0][0])
        rows[0][0] -= 1000.0

    previous = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.02)
        result = m.spin(rows, n)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert len(seen) == 1
    assert 0 < seen[0] < n, seen  # the loop takes ~0.3 s; the handler runs after ~0.02 s
    assert seen[0] == int(seen[0])
    assert result == rows[0][0] == float(n - 1000)
    assert record_of(m.spin).deopts == deopts


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM timers (POSIX)")
def test_an_exception_from_a_signal_handler_leaves_the_stores_made() -> None:
    """A handler that raises at a checkpoint: the exception leaves the call, and the list holds what the loop stored.

    CPython runs the handler at the loop's back edge, so both slots have been bumped the
    same number of times; the native call must leave the same, and leave with the
    handler's exception rather than deopt and run the loop again as bytecode.
    """

    class StopError(Exception):
        pass

    m = native(SRC)
    m.pair([[0.0, 0.0]], 10)
    deopts = record_of(m.pair).deopts
    n = 100_000_000
    rows = [[0.0, 0.0]]

    def handler(_signum: int, _frame: object) -> None:
        raise StopError

    previous = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.02)
        with pytest.raises(StopError):
            m.pair(rows, n)  # ~0.3 s; the handler runs after ~0.02 s
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    done = rows[0][0]
    assert 0 < done < n, done
    assert done == int(done)
    assert rows[0][1] == done
    assert record_of(m.pair).deopts == deopts  # an exception, not a deopt and a re-run
