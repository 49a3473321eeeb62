"""Deep recursion near CPython's limit, and globals rebound to another type, agree with CPython."""

from __future__ import annotations

import sys

import pytest

from fastimport.testing import compile_module, plain_module, record_of

RECURSIVE = """
def depth(n):
    if n == 0:
        return 0
    return 1 + depth(n - 1)

def even(n):
    if n == 0:
        return True
    return odd(n - 1)

def odd(n):
    if n == 0:
        return False
    return even(n - 1)
"""


def _at_depth(frames: int, func: object, arg: int) -> object:
    """Call `func(arg)` from `frames` Python frames deeper; a RecursionError becomes its type."""
    if frames:
        return _at_depth(frames - 1, func, arg)
    try:
        return func(arg)  # type: ignore[operator]
    except RecursionError:
        return RecursionError


@pytest.mark.parametrize("name", ["depth", "even"])
@pytest.mark.parametrize("frames", [0, 300, 800])
@pytest.mark.parametrize("n", [100, 600, 900, 990, 1200])
def test_recursion_limit_is_cpythons(name: str, frames: int, n: int) -> None:
    """Native recursion succeeds exactly where CPython's does and raises RecursionError where it does."""
    fast, plain = compile_module(RECURSIVE), plain_module(RECURSIVE)
    getattr(fast, name)(3)  # compile first
    assert _at_depth(frames, getattr(fast, name), n) == _at_depth(frames, getattr(plain, name), n)


def test_recursion_beyond_default_limit_runs_native() -> None:
    """With a raised recursion limit, deep native recursion gives CPython's result."""
    fast, plain = compile_module(RECURSIVE), plain_module(RECURSIVE)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(20000)
    try:
        assert fast.depth(12000) == plain.depth(12000) == 12000
    finally:
        sys.setrecursionlimit(old)
    assert record_of(fast.depth).native_calls >= 1


REBOUND = """
SCALE = 10

def scaled(x):
    return x * SCALE
"""


def test_global_rebound_to_another_type_is_seen_and_recompiled() -> None:
    """`SCALE = 2.5` after an int: results and types follow CPython, and the function goes native again."""
    fast, plain = compile_module(REBOUND), plain_module(REBOUND)
    assert fast.scaled(3) == plain.scaled(3) == 30
    fast.SCALE = plain.SCALE = 2.5
    for _ in range(10):
        got, want = fast.scaled(3), plain.scaled(3)
        assert got == want
        assert type(got) is type(want) is float
    record = record_of(fast.scaled)
    assert "(int) -> float" in record.signatures
    calls_before = record.native_calls
    fast.scaled(3)
    assert record.native_calls == calls_before + 1
    fast.SCALE = plain.SCALE = "ab"  # not a number: bytecode, with CPython's result
    assert fast.scaled(3) == plain.scaled(3) == "ababab"


PARALLEL = """
def fib_iter(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a

def swap_diff(x, y):
    x, y = y, x
    return x - y
"""


@pytest.mark.parametrize(
    ("name", "args"),
    [("fib_iter", (10,)), ("fib_iter", (92,)), ("fib_iter", (100,)), ("swap_diff", (1, 2.5)), ("swap_diff", (True, 3))],
)
def test_parallel_assignment_is_native_and_exact(name: str, args: tuple[object, ...]) -> None:
    """`a, b = b, a + b` evaluates the right side first, compiles, and overflows into CPython's big int."""
    fast, plain = compile_module(PARALLEL), plain_module(PARALLEL)
    got, want = getattr(fast, name)(*args), getattr(plain, name)(*args)
    assert got == want
    assert type(got) is type(want)
    assert record_of(getattr(fast, name)).status == "native"


def test_report_says_why_a_function_called_with_strings_stays_bytecode() -> None:
    """A candidate called only with non-numbers keeps CPython's result and says what it was called with."""
    src = "def shout(s):\n    return s + '!'\n"
    fast, plain = compile_module(src), plain_module(src)
    assert fast.shout("hi") == plain.shout("hi") == "hi!"
    record = record_of(fast.shout)
    assert record.status == "bytecode"
    assert "called with (str)" in (record.reason or "")


def test_function_mostly_called_with_big_ints_goes_back_to_bytecode() -> None:
    """Deopts that outnumber native calls remove the native path; results stay CPython's throughout."""
    src = "def f(x):\n    return x * 3 + 1\n"
    fast, plain = compile_module(src), plain_module(src)
    assert fast.f(1) == 4
    big = 2**70
    for _ in range(3000):
        assert fast.f(big) == plain.f(big)
    record = record_of(fast.f)
    assert record.status == "bytecode"
    assert "deopts outnumber native calls" in (record.reason or "")
    assert fast.f(5) == plain.f(5) == 16


# A chain of helpers, each copied into its caller (frontend/inline.py), and a recursion ending in it.
CHAIN = (
    "".join(f"def h{k}(n):\n    return h{k + 1}(n) + 1\n\n" for k in range(1, 10))
    + "def h10(n):\n    return n + 1\n\n"
    + "def top(n):\n    return h1(n) * 2\n\n"
    + "def down(n):\n    if n == 0:\n        return top(0)\n    return 1 + down(n - 1)\n"
)


def _outcome(func: object, arg: int) -> object:
    try:
        return func(arg)  # type: ignore[operator]
    except RecursionError:
        return RecursionError


@pytest.mark.parametrize(("name", "arg"), [("top", 1), ("down", 3)])
def test_inlined_helpers_count_their_frames(name: str, arg: int) -> None:
    """Copied helpers still take their frames of the recursion limit: RecursionError exactly where CPython's is.

    The limit is lowered one frame at a time, from room to spare to past the point
    where CPython's eleventh nested call fails; the native code must agree at every step.
    """
    fast, plain = compile_module(CHAIN), plain_module(CHAIN)
    getattr(fast, name)(arg)  # compile first
    assert record_of(getattr(fast, name)).status == "native"
    frame, depth = sys._getframe(), 0  # this test's own stack depth
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    old, seen = sys.getrecursionlimit(), set()
    try:
        for room in range(30, 0, -1):
            try:
                sys.setrecursionlimit(depth + room)
            except RecursionError:  # 3.12+: not below the current depth
                continue
            got, want = _outcome(getattr(fast, name), arg), _outcome(getattr(plain, name), arg)
            sys.setrecursionlimit(old)
            assert got == want, (room, got, want)
            seen.add(want)
    finally:
        sys.setrecursionlimit(old)
    assert RecursionError in seen  # the sweep crossed the limit
    assert len(seen) == 2


def test_a_function_of_another_module_reads_its_own_globals() -> None:
    """`from b import f`, called natively: f's globals and builtins are b's, not the caller's, at every call."""
    helper_src = "K = 5\n\ndef f(x, y=2):\n    return x + K * y + abs(-1)\n"
    helper = compile_module(helper_src)
    caller_src = (
        f"from {helper.__name__} import f\nK = 100\n\ndef abs(x):\n    return 1000\n\ndef g(x):\n    return f(x) + 1\n"
    )
    fast = compile_module(caller_src)
    assert fast.g(3) == 3 + 5 * 2 + 1 + 1
    assert record_of(fast.g).status == "native"
    assert record_of(fast.g).native_calls == 1
    helper.K = 7  # rebinding the callee module's global is seen at the next call
    assert fast.g(3) == 3 + 7 * 2 + 1 + 1
    helper.abs = lambda _: 50  # so is shadowing a builtin in the callee's module
    assert fast.g(3) == 3 + 7 * 2 + 50 + 1
    del helper.abs
    helper.K = 2.5  # and a value of another type
    assert fast.g(3) == 3 + 2.5 * 2 + 1 + 1
    helper.f.__defaults__ = (3,)  # and the callee's new defaults
    assert fast.g(3) == 3 + 2.5 * 3 + 1 + 1
