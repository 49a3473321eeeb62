"""Int counters checked at signal checkpoints instead of at each step (frontend/counters.py).

Which locals count (and which must not: a parameter, a store of anything but a small
constant or a small step, a step outside a loop), and, against CPython, counters that
start at the largest constant allowed and take the largest step allowed, in one loop, in
nested loops and in loops that end before a checkpoint comes due. (No counter can leave
int64 within a test's time: that is the point. The checkpoints' deopts are what is tested.)
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.differential import assert_same, assert_same_native, native

from fastimport.compiler import front_end
from fastimport.frontend.counters import COUNTER_START_MAX, COUNTER_STEP_MAX
from fastimport.frontend.ir import Binary
from fastimport.frontend.types import Ty
from fastimport.runtime.dispatch import state_of
from fastimport.testing import compile_module, record_of


def _counters(source: str, fname: str, *arg_types: object) -> tuple[tuple[str, ...], list[bool]]:
    """(fn.counters, the no_overflow marks of its int adds and subs that read a user's local)."""
    module = compile_module(source)
    _specs, root = front_end(state_of(getattr(module, fname)), getattr(module, fname), arg_types)
    adds = [
        op.no_overflow
        for op in root.ir.all_ops()
        if isinstance(op, Binary) and op.kind in ("add", "sub") and op.type is Ty.INT
        and not any(getattr(v, "local", None) is not None and v.local.name.startswith("$") for v in (op.lhs, op.rhs))
    ]  # fmt: skip
    return root.ir.counters, adds


WHILE = """
def f(x, n):
    steps = {start}
    while x != n:
        x = x - 1
        {step}
    return steps
"""


def test_which_locals_count() -> None:
    """A counter: constants and small steps in a loop, nothing else, never a parameter."""
    assert _counters(WHILE.format(start=1, step="steps += 1"), "f", Ty.INT, Ty.INT) == (("steps",), [False, True])
    assert _counters(WHILE.format(start=0, step="steps -= 3"), "f", Ty.INT, Ty.INT)[0] == ("steps",)
    assert _counters(WHILE.format(start=0, step="steps = 2 + steps"), "f", Ty.INT, Ty.INT)[0] == ("steps",)
    big_start = WHILE.format(start=COUNTER_START_MAX + 1, step="steps += 1")
    assert _counters(big_start, "f", Ty.INT, Ty.INT) == ((), [False, False])
    big_step = WHILE.format(start=0, step=f"steps += {COUNTER_STEP_MAX + 1}")
    assert _counters(big_step, "f", Ty.INT, Ty.INT) == ((), [False, False])
    assert _counters(WHILE.format(start=0, step="steps += x"), "f", Ty.INT, Ty.INT)[0] == ()  # not a constant
    assert _counters(WHILE.format(start="n", step="steps += 1"), "f", Ty.INT, Ty.INT)[0] == ()  # starts anywhere
    assert _counters(WHILE.format(start=0, step="steps = 1 - steps"), "f", Ty.INT, Ty.INT)[0] == ()
    assert _counters(WHILE.format(start=0.0, step="steps += 1"), "f", Ty.INT, Ty.INT)[0] == ()  # a float
    param = "def f(x, n):\n    while x != n:\n        x = x - 1\n    return x\n"
    assert _counters(param, "f", Ty.INT, Ty.INT)[0] == ()  # a parameter starts anywhere
    outside = "def f(n):\n    s = 0\n    s += 1\n    for i in range(n):\n        s += 2\n    return s\n"
    assert _counters(outside, "f", Ty.INT)[0] == ()  # a step outside every loop
    reset = (
        "def f(n):\n    s = 0\n    for i in range(n):\n        s += 2\n"
        "        if s > 10:\n            s = -5\n    return s\n"
    )
    assert _counters(reset, "f", Ty.INT)[0] == ("s",)


SRC = f"""
def up(n):
    s = {COUNTER_START_MAX}
    for _ in range(n):
        s += {COUNTER_STEP_MAX}
    return s


def down(n):
    s = -{COUNTER_START_MAX}
    k = n
    while k > 0:
        s -= {COUNTER_STEP_MAX}
        k -= 1
    return s


def nested(n, m):
    s = {COUNTER_START_MAX - 2**40}
    for i in range(n):
        for j in range(m):
            s += {COUNTER_STEP_MAX}
        s += 1
    return s


def collatz(x):
    steps = 1
    while x != 1:
        if x % 2 == 0:
            x = x // 2
        else:
            x = 3 * x + 1
        steps += 1
    return steps
"""


@settings(max_examples=60, deadline=None)
@given(n=st.one_of(st.integers(0, 300), st.integers(16000, 70000)))
def test_counters_near_their_bound_like_cpython(n: int) -> None:
    """From the largest start, with the largest step: CPython's values, whether a checkpoint deopts or not."""
    for fname in ("up", "down"):
        assert_same(SRC, fname, n)
    assert_same(SRC, "nested", n // 100 + 1, 300)


def test_counters_stay_native_in_range() -> None:
    """A counter the checkpoints find in range costs no deopt; one past 2**62 deopts, and is right."""
    fast = native(SRC)
    fast.up(10)
    before = record_of(fast.up).deopts
    assert_same_native(SRC, "up", 16000)  # ends before a checkpoint: native
    assert record_of(fast.up).deopts == before
    assert_same_native(SRC, "up", 70000)  # past 2**62 at a checkpoint: it deopts, the bytecode goes on
    assert record_of(fast.up).deopts > before
    for x in (1, 2, 27, 97, 871, 77031, 2**62 - 1):
        assert_same_native(SRC, "collatz", x)
