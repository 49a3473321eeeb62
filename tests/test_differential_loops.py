"""Versioned range loops (frontend/versioning.py) against CPython: values, exceptions, warnings, arrays.

A range loop whose array accesses a guard can prove in bounds for the whole range runs
a copy without bounds checks, logging its stores one strip at a time and testing the
overflow flag and signals once per strip. Every edge of that is compared with CPython
here: ranges that are empty, descending or with other steps, indices that leave the
array only at the last iteration or wrap (negative), offsets near the int64 limits,
aliasing and overlapping arrays, views and other layouts, and deopts after stores
(which must roll back every strip's run exactly).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.differential import assert_native, call, modules, native, same_outcome

from fastimport.compiler import front_end
from fastimport.frontend.ir import (
    Binary,
    GuardBound,
    Index,
    LoadLocal,
    LogStores,
    LoopGuard,
    NoteFinite,
    SetIndex,
    StoreLocal,
)
from fastimport.frontend.types import Array, Ty
from fastimport.frontend.versioning import ADDEND_BOUND, LOOP_CHUNK
from fastimport.runtime.dispatch import state_of
from fastimport.testing import record_of

ROOT = Path(__file__).resolve().parent.parent

SRC = """
import numpy as np

def scale_into(a, out, k):
    for i in range(len(a)):
        out[i] = a[i] * k

def shifted(a, out, start, stop, c, d):
    for i in range(start, stop):
        out[i + c] = a[i - d] * 2.0

def running(a):
    for i in range(1, len(a)):
        a[i] = a[i - 1] + a[i]

def reverse_into(a, out):
    n = len(a)
    for i in range(n):
        out[n - 1 - i] = a[i]

def stencil(u, out):
    n, m = u.shape
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])

def rows(a, out):
    n, m = a.shape
    for i in range(n):
        row = a[i]
        for j in range(m):
            out[i][j] = row[j] + 1.0

def dot(a, b):
    s = 0.0
    for i in range(len(a)):
        s += a[i] * b[i]
    return s

def isum(a):
    s = 0
    for i in range(len(a)):
        s += a[i]
    return s

def first_above(a, out, x):
    for i in range(len(a)):
        out[i] = a[i]
        if a[i] > x:
            return i
    return -1

def skip_odd(a, out):
    for i in range(len(a)):
        if i % 2:
            continue
        out[i] = a[i]

def around(a, b, x):
    a[0] = 5.0
    for i in range(len(a)):
        a[i] = a[i] * 2.0 + b[i]
    a[1] = 7.0
    return 1 // x

def fresh(a, k):
    out = np.empty(len(a))
    for i in range(len(a)):
        out[i] = a[i] * k
    return out

def each(a, out):
    j = 0
    for x in a:
        out[j] = x
        j += 1

def enumerated(a, b):
    s = 0.0
    for i, x in enumerate(a):
        s += x * b[i]
    return s

def zipped(a, b, out):
    for k, (x, y, j) in enumerate(zip(a, b, range(len(out)))):
        out[k] = x * y + j
    return out

def maybe_bound(a, flag, n):
    if flag:
        k = 1
    for i in range(n):
        if flag:
            a[i + k] = 1.0
    return n

def rebound(a, out):
    for i in range(len(a) - 1):
        i = i + 1
        out[i] = a[i]

def with_global(a, out):
    for i in range(len(a) - OFFSET):
        out[i] = a[i + OFFSET]

OFFSET = 2

def bordered(a, out, n):
    m = len(a)
    for i in range(m):
        if i == 0 or i == m - 1 or i == n * 2 + 1:
            out[i] = a[i]
        else:
            out[i] = 0.5 * (a[i - 1] + a[i + 1])

def moments(a, start):
    s = start
    q = 0
    d = 0
    count = 0
    for i in range(len(a)):
        x = a[i]
        s += x
        q += x * x
        d -= x * i
        if x > 0:
            count += 1
    return s, q, d, count

def nested_sum(a, reps):
    s = 0
    t = 0
    for i in range(len(a)):
        x = int(a[i])
        k = 0
        while k < reps:
            s += x
            t += a[i]
            k += 1
    return s, t

def appended_stencil(u, out, seen):
    seen.append(len(seen))
    stencil(u, out)
    seen.append(out[1, 1])
    return len(seen)

def scaled_sum(a, out, k):
    scale_into(a, out, k)
    return out[0] + 1.0
"""

STEP_SRC = """
def stepped(a, out, start, stop, c):
    for i in range(start, stop, {step}):
        out[i + c] = a[i] + 1.0
        a[i] = -a[i]
"""

# A step known only at run time: the copy takes ascending ranges, the checked loop the rest.
RUNTIME_STEP_SRC = """
def stepped_by(a, out, start, stop, step, c):
    for i in range(start, stop, step):
        out[i + c] = a[i] + 1.0
        a[i] = -a[i]

def mark_multiples(flags, n):
    i = 2
    while i * i <= n:
        if flags[i]:
            for j in range(i * i, n + 1, i):
                flags[j] = False
        i += 1
    return flags
"""


def run_both(fname: str, *args: object, src: str = SRC) -> None:
    """`fname` under fastimport and CPython on copies of `args`: same outcome, warnings and arrays.

    Arrays that share memory (the same array twice, overlapping views of one base) are
    copied together, so each run sees the same aliasing: see `copies`.
    """
    fast, ref = modules(src)
    results = []
    for module in (ref, fast):
        argv = copies(args)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = call(getattr(module, fname), *argv)
        if isinstance(outcome.value, np.ndarray):  # a returned array: by its bytes
            outcome.value = (outcome.value.dtype.str, outcome.value.shape, outcome.value.tobytes())
        arrays = [a.tobytes() for a in argv if isinstance(a, np.ndarray)]
        results.append((outcome, [str(w.message) for w in caught], arrays))
    (want, want_w, want_a), (got, got_w, got_a) = results
    assert same_outcome(got, want), f"{fname}{args!r}: fastimport {got.describe()}, CPython {want.describe()}"
    assert got_w == want_w, f"{fname}{args!r}: warnings {got_w} != {want_w}"
    assert got_a == want_a, f"{fname}{args!r}: arrays differ"


def copies(args: tuple[object, ...]) -> list[object]:
    """`args` with every array replaced by the same view of a copy of its base (shared bases stay shared)."""
    bases: dict[int, np.ndarray] = {}
    out: list[object] = []
    for a in args:
        if not isinstance(a, np.ndarray):
            out.append(a)
            continue
        base = a if a.base is None else a.base
        assert isinstance(base, np.ndarray), "an array over a foreign buffer"
        assert base.base is None, "views of views: pass views of the base"
        if id(base) not in bases:
            bases[id(base)] = base.copy(order="A")
            bases[id(base)].flags.writeable = base.flags.writeable
        new_base = bases[id(base)]
        offset = a.__array_interface__["data"][0] - base.__array_interface__["data"][0]
        view = np.ndarray(
            a.shape,
            a.dtype,
            buffer=new_base if new_base.flags.writeable else new_base.data,
            offset=offset,
            strides=a.strides,
        )
        view.flags.writeable = a.flags.writeable
        out.append(view)
    return out


def typed_ir(src: str, fname: str, arg_types: tuple) -> list:
    """The ops of `fname`'s specialization for `arg_types`, after the front end (versioning included)."""
    fast, _ = modules(src)
    state = state_of(getattr(fast, fname))
    assert state is not None
    _specs, root = front_end(state, getattr(fast, fname), arg_types)
    return root.ir.all_ops()


F1 = Array(Ty.F64, 1)


# --- the pass applies where it should, and only there ------------------------------------


@pytest.mark.parametrize(
    ("fname", "arg_types", "guarded", "logged_runs"),
    [
        ("scale_into", (F1, F1, Ty.FLOAT), 2, 1),
        ("running", (F1,), 3, 1),
        ("reverse_into", (F1, F1), 2, 1),
        ("stencil", (Array(Ty.F64, 2), Array(Ty.F64, 2)), 5, 1),
        ("rows", (Array(Ty.F64, 2), Array(Ty.F64, 2)), 3, 1),
        ("dot", (F1, F1), 2, 0),
        ("fresh", (F1, Ty.FLOAT), 2, 0),  # a fresh array's stores need no log at all
        ("with_global", (F1, F1), 2, 1),
        ("each", (F1, F1), 1, 0),  # `for x in a`: its length hoisted (lowering re-reads it, for lists)
        ("enumerated", (F1, F1), 2, 0),
        ("zipped", (F1, F1, F1), 3, 1),  # zip(a, b, range(...)): the min of the lengths hoisted too
        ("scale_into", (Array(Ty.F64, 1, "A"), Array(Ty.F64, 1, "A"), Ty.FLOAT), 2, 0),  # strided: logged per store
    ],
)
def test_loops_are_versioned(fname: str, arg_types: tuple, guarded: int, logged_runs: int) -> None:
    """The versioned copy has its accesses unchecked and its contiguous stores logged per strip."""
    ops = typed_ir(SRC, fname, arg_types)
    guards = [op for op in ops if isinstance(op, LoopGuard)]
    assert len(guards) == 1
    unchecked = [op for op in ops if isinstance(op, (Index, SetIndex)) and not op.checked]
    assert len(unchecked) == guarded
    assert sum(len(op.stores) for op in ops if isinstance(op, LogStores)) == logged_runs


@pytest.mark.parametrize(
    ("fname", "arg_types", "interleaved"),
    [
        ("isum", (Array(Ty.I64, 1),), True),  # an int reduction: its vector sums chain
        ("scale_into", (F1, F1, Ty.FLOAT), False),
        ("stencil", (Array(Ty.F64, 2), Array(Ty.F64, 2)), False),
        ("dot", (F1, F1), False),  # a float reduction is not vectorized at all
    ],
)
def test_int_reductions_ask_for_interleaving(fname: str, arg_types: tuple, interleaved: bool) -> None:
    """Only a copy reducing into an int asks LLVM to interleave it (emitted as llvm.loop metadata)."""
    fast, _ = modules(SRC)
    _specs, root = front_end(state_of(getattr(fast, fname)), getattr(fast, fname), arg_types)
    assert any(block.copy_header for block in root.ir.blocks) is interleaved


def test_rebound_loop_variable_keeps_its_checks() -> None:
    """A loop variable reassigned in the body is not the range's value: no versioned copy."""
    ops = typed_ir(SRC, "rebound", (F1, F1))
    assert not any(isinstance(op, LoopGuard) for op in ops)


def test_guard_reads_a_maybe_unbound_local() -> None:
    """An index through a local bound on one path only is still versioned: the guard reads it without a check."""
    ops = typed_ir(SRC, "maybe_bound", (F1, Ty.BOOL, Ty.INT))
    assert any(isinstance(op, LoopGuard) for op in ops)
    assert any(isinstance(op, SetIndex) and not op.checked for op in ops)


# --- differential -------------------------------------------------------------------------


def test_scale_into_and_aliasing() -> None:
    """Into another array, into the same array, and into an overlapping view: CPython's order of stores."""
    a = np.arange(40000, dtype=np.float64) / 7
    run_both("scale_into", a, np.zeros_like(a), 1.5)
    run_both("scale_into", a, a, 1.5)
    base = np.arange(50001, dtype=np.float64)
    run_both("scale_into", base[:-1], base[1:], 3.0)  # out overlaps a, shifted by one
    run_both("scale_into", base[1:], base[:-1], 3.0)
    run_both("running", base.copy())  # a loop-carried dependence through memory
    assert_native(modules(SRC)[0], "scale_into")


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(0, 12),
    m=st.integers(0, 12),
    start=st.integers(-14, 14),
    stop=st.integers(-14, 14),
    c=st.integers(-14, 14),
    d=st.integers(-14, 14),
)
def test_shifted_indices_match(n: int, m: int, start: int, stop: int, c: int, d: int) -> None:  # noqa: PLR0913, PLR0917 - one per edge
    """`out[i + c] = a[i - d]` for any range and offsets: in bounds, negative (wrapping) or out at either end."""
    a = np.arange(n, dtype=np.float64) + 0.5
    run_both("shifted", a, np.zeros(m), start, stop, c, d)


@pytest.mark.parametrize("step", [1, 2, 3, -1, -2, -3])
@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 10), start=st.integers(-12, 12), stop=st.integers(-12, 12), c=st.integers(-3, 3))
def test_steps_match(step: int, n: int, start: int, stop: int, c: int) -> None:
    """Literal steps up and down, empty ranges included; stores into two arrays, one of them read too."""
    a = np.arange(n, dtype=np.float64) + 1.0
    run_both("stepped", a, np.zeros(n + 2), start, stop, c, src=STEP_SRC.format(step=step))


def test_runtime_steps_are_versioned() -> None:
    """`range(start, stop, step)` with a step only known at run time gets a guarded copy too."""
    ops = typed_ir(RUNTIME_STEP_SRC, "stepped_by", (F1, F1, Ty.INT, Ty.INT, Ty.INT, Ty.INT))
    assert len([op for op in ops if isinstance(op, LoopGuard)]) == 1
    # out[i + c] and a[i] stored, a[i] read twice: all unchecked in the copy
    assert len([op for op in ops if isinstance(op, (Index, SetIndex)) and not op.checked]) == 4


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(0, 10),
    start=st.integers(-12, 12),
    stop=st.integers(-12, 12),
    step=st.integers(-5, 5),
    c=st.integers(-3, 3),
)
def test_runtime_steps_match(n: int, start: int, stop: int, step: int, c: int) -> None:
    """Run-time steps up and down (and 0: CPython's ValueError), empty ranges, out of bounds at either end."""
    a = np.arange(n, dtype=np.float64) + 1.0
    run_both("stepped_by", a, np.zeros(n + 2), start, stop, step, c, src=RUNTIME_STEP_SRC)


@pytest.mark.parametrize(
    ("start", "stop", "step", "c"),
    [
        (2**63 - 3, 2**63 - 1, 2, -(2**63) + 3),  # i + step leaves int64 after the last value
        (0, 9, 2**63 - 1, 0),  # one value, then i + step is the int64 maximum
        (1, 9, 2**63 - 1, 0),  # i + step would leave int64: the loop still runs its one value
        (0, 9, 2**62, 0),
        (-(2**63), 2**63 - 1, 2**62, 2**63 - 1),  # indices wrap through int64
        (8, -(2**63), -(2**62), 0),
    ],
)
def test_runtime_step_int64_edges(start: int, stop: int, step: int, c: int) -> None:
    """Huge run-time steps: the strip arithmetic and the guard's counts stay in int64."""
    a = np.arange(10, dtype=np.float64)
    run_both("stepped_by", a, np.zeros(10), start, stop, step, c, src=RUNTIME_STEP_SRC)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 400))
def test_sieve_marking_matches(n: int) -> None:
    """The sieve's inner loop `range(i * i, n + 1, i)` over a bool array."""
    run_both("mark_multiples", np.ones(n + 1, dtype=np.bool_), n, src=RUNTIME_STEP_SRC)
    assert_native(modules(RUNTIME_STEP_SRC)[0], "mark_multiples")


@pytest.mark.parametrize(
    ("start", "stop", "step", "c"),
    [
        (2**63 - 3, 2**63 - 1, 1, -(2**63) + 3),  # i near the int64 maximum, i + c in bounds
        (2**63 - 3, 2**63 - 1, 2, -(2**63) + 3),  # i + step leaves int64 after the last value
        (-(2**63), -(2**63) + 2, 1, 2**63 - 1),  # i + c overflows on the way (the sum is in bounds)
        (-(2**63) + 2, -(2**63), -1, 2**63 - 1),
        (0, 3, 1, 2**63 - 1),  # i + c leaves int64: the bytecode's IndexError
        (-5, 3, 2, 2**62),
    ],
)
def test_int64_edges(start: int, stop: int, step: int, c: int) -> None:
    """Ranges and offsets at the int64 limits: no wrapped index is ever used; CPython's result or error."""
    a = np.arange(8, dtype=np.float64)
    run_both("stepped", a, np.zeros(10), start, stop, c, src=STEP_SRC.format(step=step))


def test_out_of_bounds_only_at_the_end() -> None:
    """The last iteration's index is out of bounds: the checked loop stores all before it, then IndexError."""
    a = np.arange(10, dtype=np.float64)
    run_both("shifted", a, np.zeros(9), 0, 10, 0, 0)  # out[9] is out of bounds
    run_both("shifted", a, np.zeros(12), 0, 10, 0, -1)  # a[10] is out of bounds
    run_both("shifted", a, np.zeros(12), 0, 10, 0, 1)  # a[-1] wraps: NumPy allows it


def test_deopt_in_the_middle_rolls_back_every_strip() -> None:
    """A float overflow after several strips of stores: warned once, or raised, with CPython's arrays."""
    n = 5 * LOOP_CHUNK + 123
    a = np.linspace(0.0, 1.0, n)
    a[4 * LOOP_CHUNK + 7] = 1e308
    run_both("scale_into", a, np.ones(n), 10.0)
    run_both("scale_into", a, a, 10.0)
    with np.errstate(over="raise"):
        run_both("scale_into", a, np.ones(n), 10.0)
        run_both("scale_into", a, a, 10.0)
    b = np.ones(n)
    run_both("around", b.copy(), b, 0)  # stores before, in and after the loop, then ZeroDivisionError
    run_both("around", b.copy(), b, 3)


def test_int_overflow_in_a_versioned_sum() -> None:
    """An int64 sum that wraps in the third strip: NumPy's warning and wrapped result, through the bytecode."""
    a = np.zeros(3 * LOOP_CHUNK, dtype=np.int64)
    a[2 * LOOP_CHUNK + 5] = 2**62
    a[2 * LOOP_CHUNK + 9] = 2**62
    run_both("isum", a)
    run_both("isum", np.arange(1000, dtype=np.int64))


def test_early_exits_and_continue() -> None:
    """`return` and `continue` in a versioned loop; the logged strip covers elements never stored."""
    a = np.arange(3000, dtype=np.float64)
    for x in (-1.0, 0.5, 300.5, 2999.5, 1e9):
        run_both("first_above", a, np.zeros(3000), x)
    run_both("skip_odd", a, np.full(3000, 9.0))


def test_layouts_and_views() -> None:
    """Strided, Fortran-order and read-only arrays, and 2-d rows through a view or a chain of indices."""
    u = np.arange(35, dtype=np.float64).reshape(5, 7) ** 1.5
    for layout in (u, np.asfortranarray(u), u[:, ::-1], u.T.copy().T):
        run_both("stencil", layout, np.zeros((5, 7)))
        run_both("rows", layout, np.zeros((5, 7)))
        run_both("rows", layout, np.zeros((4, 7)))  # the last row is out of bounds
    ro = np.arange(100, dtype=np.float64)
    ro.flags.writeable = False
    run_both("dot", ro, ro[::-1])
    run_both("scale_into", ro[::2], np.zeros(50), 2.0)
    run_both("scale_into", ro[::-2], np.zeros(50)[::-1], 2.0)
    run_both("reverse_into", ro, np.zeros(100))
    x = np.arange(10, dtype=np.float64)
    run_both("reverse_into", x, x)  # in place, overlapping in reverse
    run_both("each", x, np.zeros(10))
    run_both("each", x, np.zeros(9))
    run_both("fresh", x, 3.0)
    run_both("with_global", x, np.zeros(8))
    run_both("with_global", x, np.zeros(7))


def test_locals_the_guard_cannot_rely_on() -> None:
    """A local unbound before the loop (read by the guard as zero) and a rebound loop variable."""
    a = np.zeros(5)
    run_both("maybe_bound", a, True, 4)
    run_both("maybe_bound", a, False, 4)
    run_both("maybe_bound", a, True, 5)
    run_both("rebound", np.arange(6.0), np.zeros(6))


def test_invariant_int_arithmetic_is_hoisted() -> None:
    """`m - 1` and `n * 2 + 1` are computed once before the copy; the copy reads them from locals."""
    ops = typed_ir(SRC, "bordered", (F1, F1, Ty.INT))
    stored = {op.local.name for op in ops if isinstance(op, StoreLocal) and op.local.name.startswith("$invariant")}
    loaded = {op.local.name for op in ops if isinstance(op, LoadLocal) and op.local.name.startswith("$invariant")}
    assert len(stored) == 3  # m - 1, n * 2 and n * 2 + 1
    assert loaded == stored
    # The copy's index arithmetic stays in the body (it varies with i), unchecked.
    assert any(isinstance(op, Binary) and op.type is Ty.INT and op.no_overflow for op in ops)


@pytest.mark.parametrize("n", [3, -1, 2**61, 2**62, -(2**62) - 1, 2**63 - 1])
def test_hoisted_arithmetic_matches(n: int) -> None:
    """A hoisted `n * 2 + 1` that overflows int64 deopts (CPython's ints do not wrap); same arrays either way."""
    a = np.linspace(0.0, 1.0, 3000)
    run_both("bordered", a, np.zeros_like(a), n)
    run_both("bordered", a[:1], np.zeros(1), n)
    run_both("bordered", a[:0], np.zeros(0), n)


# --- int arithmetic the vectorizer can take: bounded accumulators, sign-checked adds ---------


def test_bounded_accumulators_in_the_copy() -> None:
    """`s += x`, `q += x * x`, `d -= x * i`, `count += 1` accumulate unchecked; the strip bounds them."""
    ops = typed_ir(SRC, "moments", (Array(Ty.I64, 1), Ty.INT))
    (guard,) = [op for op in ops if isinstance(op, LoopGuard)]
    assert guard.defers_checks
    assert sum(1 for op in ops if isinstance(op, Binary) and op.bounded) == 4
    assert sum(1 for op in ops if isinstance(op, Binary) and op.strip_checked and op.kind == "mul") == 2
    (chunk,) = [op for op in ops if type(op).__name__ == "LoopChunk"]
    assert len(chunk.accumulators) == 4


_BIG = [0, 1, -1, 2**31 - 1, 2**31, -(2**31), ADDEND_BOUND - 1, ADDEND_BOUND, -ADDEND_BOUND, 2**62, 2**63 - 1, -(2**63)]


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.sampled_from(_BIG) | st.integers(-(2**63), 2**63 - 1) | st.integers(-1000, 1000), max_size=40),
    start=st.sampled_from([0, 5, -(2**62), 2**62 + 7, 2**63 - 1, 2**70]),
    repeat=st.sampled_from([1, 300]),
)
def test_bounded_sums_match(values: list[int], start: int, repeat: int) -> None:
    """Prefix sums that leave int64 (and come back), accumulators past the bound, big addends: CPython's outcome.

    NumPy's values, types and overflow warnings, or Python's big ints.
    """
    run_both("moments", np.array(values * repeat, dtype=np.int64), start)


def test_accumulators_in_an_inner_loop_are_checked_exactly() -> None:
    """`s += x` in a `while` inside the versioned body runs any number of times per strip: not bounded.

    (It once was, and wrapped silently: 3 * 40000 additions of 2**47 came out negative.)
    """
    ops = typed_ir(SRC, "nested_sum", (Array(Ty.I64, 1), Ty.INT))
    assert any(isinstance(op, LoopGuard) for op in ops)
    assert not any(isinstance(op, Binary) and op.bounded for op in ops)
    big = np.full(3, 2**47, dtype=np.int64)
    run_both("nested_sum", big, 40000)  # past int64: Python's big int, NumPy's warning and wrap
    run_both("nested_sum", big, 10)
    run_both("nested_sum", np.arange(5, dtype=np.int64), 3)


def test_retry_rolls_back_a_callers_list() -> None:
    """A RETRY after an append to the caller's list: the precise re-run starts from the list as it was."""
    fast, ref = modules(SRC)
    u = np.linspace(0.0, 1.0, 20 * 50).reshape(20, 50)
    u[7, 9] = float("inf")  # quiet in NumPy; makes the stencil's strip ask for the precise re-run
    results = []
    for module in (ref, fast):
        seen: list = [0.5]
        out = np.zeros_like(u)
        n = module.appended_stencil(u, out, seen)
        results.append((n, seen, out.tobytes()))
    assert results[0] == results[1]
    assert_native(fast, "appended_stencil")


def test_empty_loop_with_a_big_accumulator() -> None:
    """The precise re-run never takes a copy, not even an empty one (whose strip start would ask again)."""
    for start in (2**62 + 7, -(2**63), 2**63 - 1):
        run_both("moments", np.zeros(0, dtype=np.int64), start)
        run_both("moments", np.ones(3, dtype=np.int64), start)


def test_accumulators_past_the_bound_stay_exact() -> None:
    """Sums beyond ACCUMULATOR_BOUND that never leave int64: re-run precisely, natively, without a warning."""
    a = np.full(3 * LOOP_CHUNK, ADDEND_BOUND // 2, dtype=np.int64)  # the sum: 1.5 * 2**62
    src = SRC + "# fresh records: past the bound\n"  # no other test's deopts counted
    fast, _ref = modules(src)
    run_both("isum", a[:10], src=src)  # compiles
    record = record_of(fast.isum)
    deopts, calls = record.deopts, record.native_calls
    run_both("isum", a, src=src)  # past 2**62 in the last strip: its check fails
    assert (record.deopts, record.native_calls) == (deopts, calls + 1)
    run_both("isum", np.arange(5 * LOOP_CHUNK, dtype=np.int64), src=src)


# --- NumPy float events deferred to the strip (RETRY, then the precise re-run) ---------------


def test_deferred_events_in_the_copy() -> None:
    """The copy's NumPy float ops note non-finite results in a flag; its guard says so; the original keeps its tests."""
    ops = typed_ir(SRC, "stencil", (Array(Ty.F64, 2), Array(Ty.F64, 2)))
    (guard,) = [op for op in ops if isinstance(op, LoopGuard)]
    assert guard.defers_checks
    deferred = [op for op in ops if isinstance(op, Binary) and op.defer_events]
    exact = [op for op in ops if isinstance(op, Binary) and op.type is Ty.F64 and not op.defer_events]
    assert len(deferred) == len(exact) == 4  # three adds and a multiply, in each copy
    assert not any(isinstance(op, Binary) and op.defer_events for op in typed_ir(SRC, "isum", (Array(Ty.I64, 1),)))


@pytest.mark.parametrize("special", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_inputs_rerun_natively(special: float) -> None:
    """Non-finite inputs are quiet in NumPy (inf + 1, nan * 2): the precise re-run gives CPython's arrays, natively."""
    u = np.linspace(0.0, 1.0, 40 * 300).reshape(40, 300)
    u[17, 123] = special
    src = SRC + "# fresh records: non-finite inputs\n"  # no other test's deopts counted
    fast, _ref = modules(src)
    run_both("stencil", u, np.zeros_like(u), src=src)  # compiles
    record = record_of(fast.stencil)
    deopts, calls = record.deopts, record.native_calls
    run_both("stencil", u, np.zeros_like(u), src=src)
    assert (record.deopts, record.native_calls) == (deopts, calls + 1)  # re-run natively, not deopted
    a = np.linspace(0.0, 1.0, 3 * LOOP_CHUNK)
    a[LOOP_CHUNK + 3] = special
    run_both("scale_into", a, np.ones_like(a), 2.0)  # logged stores, rolled back before the re-run
    run_both("scale_into", a, a, 2.0)
    run_both("scaled_sum", a, np.ones_like(a), 2.0)  # RETRY from a native callee


def test_deferred_overflow_warns_like_numpy() -> None:
    """A real overflow in a versioned stencil: RETRY, then the precise run deopts; NumPy's warning and arrays."""
    u = np.ones((30, 200))
    u[11, 57] = 1e308
    run_both("stencil", u, np.zeros_like(u))
    with np.errstate(over="raise"):
        run_both("stencil", u, np.zeros_like(u))
    a = np.linspace(0.0, 1.0, 2 * LOOP_CHUNK + 9)
    a[LOOP_CHUNK + 5] = 1e308
    a[7] = float("nan")  # quiet, in an earlier strip
    run_both("scaled_sum", a, np.ones_like(a), 10.0)
    with np.errstate(over="ignore"):
        run_both("scaled_sum", a, np.ones_like(a), 10.0)


# A deferred difference stored into a local, then squared: its event is noted by the sum.
DIFF_SRC = """
def into_cell(a, b, out, i):
    for k in range(len(a)):
        out[i] += a[k] * b[k]

def into_cell_minus(a, out, i, j):
    for k in range(len(a)):
        out[i, j] -= a[k]

def cell_and_row(a, out, i):
    for k in range(len(a)):
        out[i] += a[k]
        out[k] = 1.0

def cell_per_k(a, out):
    for k in range(len(a)):
        out[k] += a[k]

def reset(out, i):
    for _ in range(1):
        out[i] = 0.0
    return 0

def cell_reset_by_call(a, out, i):
    for k in range(len(a)):
        out[i] += a[k]
        if k == 5:
            reset(out, i)

def dist2(a, b):
    s = 0.0
    for k in range(len(a)):
        t = a[k] - b[k]
        s += t * t
    return s

def diff_kept(a, b, out):
    t = 0.0
    for k in range(len(a)):
        out[k] = t * 3.0
        t = a[k] - b[k]
    return t

def minus_dot(a, b):
    s = 0.0
    for k in range(len(a)):
        s -= a[k] * b[k]
    return s

def total_until(a):
    s = 0.0
    for k in range(len(a)):
        s += a[k]
        if a[k] < 0.0:
            break
    return s
"""


def test_events_absorbed_through_a_local() -> None:
    """`t = a[k] - b[k]; s += t * t`: no step notes its result, the sum is noted per strip.

    A value read before it is stored keeps its note.
    """
    ops = typed_ir(DIFF_SRC, "dist2", (F1, F1))
    noted = [op for op in ops if isinstance(op, Binary) and op.defer_events and not op.events_absorbed]
    assert noted == []
    sums = [op for op in ops if isinstance(op, NoteFinite)]
    assert len(sums) == 1  # where each strip ends
    assert all(isinstance(v, LoadLocal) and v.local.name == "s" for op in sums for v in op.values)
    ops = typed_ir(DIFF_SRC, "diff_kept", (F1, F1, F1))
    noted = [op for op in ops if isinstance(op, Binary) and op.defer_events and not op.events_absorbed]
    assert [op.kind for op in noted] == ["sub"]  # t is read only before it is stored: noted


@pytest.mark.parametrize(
    ("x", "y"),
    [(1e200, -1e200), (1.7e308, -1.7e308), (float("inf"), 1.0), (float("nan"), 0.0), (float("inf"), float("inf"))],
)
def test_events_through_a_local_match(x: float, y: float) -> None:
    """Overflow in the square, in the difference itself, inf - inf, quiet nan: NumPy's values and warnings."""
    a = np.linspace(0.0, 1.0, 3 * LOOP_CHUNK)
    b = np.linspace(1.0, 0.0, 3 * LOOP_CHUNK)
    for k in (LOOP_CHUNK + 11, len(a) - 1):  # in a strip; at the last value, read after the loop
        a[k], b[k] = x, y
        run_both("dist2", a, b, src=DIFF_SRC)
        run_both("diff_kept", a, b, np.zeros_like(a), src=DIFF_SRC)


@pytest.mark.parametrize(
    ("x", "y"),
    [(1e308, 1e308), (float("inf"), float("-inf")), (float("inf"), 1.0), (float("nan"), 1.0), (1e308, -1e308)],
)
def test_float_accumulators_match(x: float, y: float) -> None:
    """A sum noted once per strip: overflow in its own add, inf - inf, inf and nan inputs; mid-strip and at the end."""
    n = 3 * LOOP_CHUNK
    for k in (LOOP_CHUNK + 11, n - 2):  # two steps in a strip; the last two, read only after the loop
        a, b = np.full(n, 0.5), np.full(n, -1.0)
        a[k], a[k + 1] = x, y
        run_both("dot", a, -b)
        run_both("minus_dot", a, b, src=DIFF_SRC)
        run_both("dot", a[: k + 1], -b[: k + 1])  # the sum is non-finite from the last strip on
        a[k + 2 if k + 2 < n else 0] = -1.0  # a break in the same strip as the event
        run_both("total_until", a, src=DIFF_SRC)


@pytest.mark.parametrize(
    ("fname", "noted_by_strip"),
    [
        ("into_cell", True),
        ("into_cell_minus", True),
        ("cell_and_row", False),
        ("cell_per_k", False),
        ("cell_reset_by_call", False),
    ],
)
def test_element_accumulators(fname: str, noted_by_strip: bool) -> None:
    """`out[i] += x` at fixed indices, the copy's only store: its sum noted per strip, not per step.

    Not with a second store or a call (either could overwrite the element) nor with an index that moves.
    """
    arg_types = {
        "into_cell": (F1, F1, F1, Ty.INT),
        "into_cell_minus": (F1, Array(Ty.F64, 2), Ty.INT, Ty.INT),
        "cell_and_row": (F1, F1, Ty.INT),
        "cell_reset_by_call": (F1, F1, Ty.INT),
        "cell_per_k": (F1, F1),
    }
    ops = typed_ir(DIFF_SRC, fname, arg_types[fname])
    absorbed = [op for op in ops if isinstance(op, Binary) and op.kind in ("add", "sub") and op.events_absorbed]
    assert bool(absorbed) is noted_by_strip
    assert any(isinstance(op, NoteFinite) for op in ops) is noted_by_strip


@pytest.mark.parametrize(
    ("x", "y"),
    [(1e308, 1e308), (float("inf"), float("-inf")), (float("inf"), 1.0), (float("nan"), 1.0), (1e308, -1e308)],
)
def test_element_accumulators_match(x: float, y: float) -> None:
    """Overflow in the element's add, inf - inf, inf and nan inputs, mid-strip and at the end: NumPy's warnings."""
    n = 3 * LOOP_CHUNK
    for k in (LOOP_CHUNK + 11, n - 2):
        a, b = np.full(n, 0.5), np.full(n, 2.0)
        a[k], a[k + 1] = x, y
        run_both("into_cell", a, b, np.zeros(4), 2, src=DIFF_SRC)
        run_both("into_cell", a[: k + 1], b[: k + 1], np.full(4, -1.0), -1, src=DIFF_SRC)
        run_both("into_cell_minus", a, np.zeros((3, 3)), 1, 2, src=DIFF_SRC)
        run_both("cell_per_k", a, np.full(n, 1e308), src=DIFF_SRC)  # each element its own sum
    row = np.full(60, 0.5)
    row[10], row[11] = x, y
    run_both("cell_and_row", row, np.zeros(60), 20, src=DIFF_SRC)  # the sum overwritten at k = 20
    early = np.full(60, 0.5)
    early[0], early[1] = x, y
    run_both("cell_reset_by_call", early, np.zeros(3), 1, src=DIFF_SRC)  # the sum reset by a call at k = 5
    run_both("into_cell", np.full(5, 1.0), np.full(5, 1.0), np.zeros(2), 7, src=DIFF_SRC)  # IndexError


@pytest.mark.parametrize("special", [3e38, float("inf"), float("nan"), 1.0])
def test_deferred_float32_events(special: float) -> None:
    """float32 results (their own deferred bound): an overflow past 3.4e38 warns; inf and nan inputs are quiet."""
    a = np.linspace(0.0, 1.0, 2 * LOOP_CHUNK + 3).astype(np.float32)
    a[LOOP_CHUNK + 1] = special
    run_both("scale_into", a, np.zeros_like(a), np.float32(4.0))
    run_both("scale_into", a[:100], np.zeros(100, dtype=np.float32), np.float32(4.0))


def test_reductions_are_exact() -> None:
    """Float sums keep Python's order (no reassociation: bit-identical), int sums their types."""
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(100_003), rng.standard_normal(100_003)
    run_both("dot", a, b)
    run_both("dot", a[:0], b[:0])
    run_both("isum", rng.integers(-(10**12), 10**12, 77_777))


INTERRUPT = r"""
import _thread, signal, sys, threading
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path[:0] = [{src!r}]
import numpy as np
from fastimport.testing import compile_module, record_of
m = compile_module('''
def spin(a, rounds):
    r = 0
    while r < rounds:
        for i in range(len(a)):
            a[i] = a[i] * 0.5 + 1.0
        r += 1
    return r
''')
a = np.zeros({size})
m.spin(a, 1)
threading.Timer(0.5, _thread.interrupt_main).start()
try:
    m.spin(a, 10**12)
    print("finished")
except KeyboardInterrupt:
    print("interrupted")
print(record_of(m.spin).status)
"""


@pytest.mark.parametrize("size", [100_000, 3])
def test_ctrl_c_reaches_a_versioned_loop(size: int) -> None:
    """The strips' signal checkpoints let KeyboardInterrupt into a long-running versioned loop.

    Size 3: every strip is short, and only counts its iterations; the `while` header tests the count.
    """
    script = INTERRUPT.format(src=str(ROOT / "src"), size=size)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.stdout.split() == ["interrupted", "native"], (out.stdout, out.stderr)


RECURRENCE_SRC = """
def weighted(a, k):
    s = 0.0
    for i in range(len(a)):
        s += a[i] * (i * k + 1)
    return s

def weighted_ints(a, k):
    s = 0
    for i in range(len(a)):
        s += a[i] * (i * k + 1)
    return s
"""


def test_float_recurrence_keeps_plain_overflow_checks() -> None:
    """A loop carrying a float (`s += ...`) never vectorizes: its int ops keep their exact checks.

    The same loop over an int sum strip-checks them (the vectorizer can take it).
    """
    ops = typed_ir(RECURRENCE_SRC, "weighted", (F1, Ty.INT))
    assert any(isinstance(op, LoopGuard) for op in ops)
    assert not any(isinstance(op, Binary) and (op.strip_checked or op.bounded) for op in ops)
    ops = typed_ir(RECURRENCE_SRC, "weighted_ints", (Array(Ty.I64, 1), Ty.INT))
    assert any(isinstance(op, Binary) and op.strip_checked for op in ops)


@pytest.mark.parametrize("k", [3, -7, 2**40, 2**62, -(2**62), 2**63 - 1])
def test_float_recurrence_with_int_overflow_matches(k: int) -> None:
    """`i * k + 1` past int64 in a float loop: CPython's big int, converted as CPython converts it."""
    a = np.linspace(-1.0, 1.0, 700)
    run_both("weighted", a, k, src=RECURRENCE_SRC)
    run_both("weighted", a[:3], k, src=RECURRENCE_SRC)
    run_both("weighted_ints", np.arange(-5, 600, dtype=np.int64), k, src=RECURRENCE_SRC)


SPLIT_SRC = """
def smooth(a, out):
    n = len(a)
    for k in range(n):
        if k == 0 or k == n - 1:
            out[k] = a[k]
        else:
            out[k] = 0.5 * a[k] + 0.25 * (a[k - 1] + a[k + 1])
    return out

def wrap_sum(a, start, stop):
    s = 0.0
    for k in range(start, stop):
        if a[k] < 0:
            break
        s += a[k] + a[k + 1]
    else:
        s = -s
    return s
"""


def test_out_of_bounds_ends_split_the_range() -> None:
    """`a[k - 1]`, `a[k + 1]` over the whole range: the copy takes the middle, the checked loop the ends.

    (Before, the guard failed for the whole range, so such a stencil never ran its copy.)
    """
    ops = typed_ir(SPLIT_SRC, "smooth", (F1, F1))
    assert sorted(op.which for op in ops if isinstance(op, GuardBound)) == ["end", "limit"]
    for n in (0, 1, 2, 3, 5, 40, 1000):
        a = np.linspace(-1.0, 1.0, n)
        run_both("smooth", a, np.zeros(n), src=SPLIT_SRC)
    assert_native(native(SPLIT_SRC), "smooth")


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.sampled_from([0.5, 1.0, -1.0, 2.0]), max_size=12),
    start=st.integers(-14, 14),
    stop=st.integers(-14, 14),
)
def test_split_range_with_break_and_else(values: list, start: int, stop: int) -> None:
    """A break in the prefix, the middle or the suffix; wrapping indices before it, IndexError after it."""
    run_both("wrap_sum", np.array(values, dtype=np.float64), start, stop, src=SPLIT_SRC)
