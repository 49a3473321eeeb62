"""The two ways into native code agree with CPython: the prologue's builtin and the function's vectorcall.

C callers (`map`, `sorted(key=...)`) and, from 3.12, every call go through the function's
vectorcall, which finds the native data block through `__code__` (co_extra); keywords, a
replaced `__code__` or another function's code must all fall back to CPython's behaviour.
"""

from __future__ import annotations

import sys

import pytest
from tests.differential import call, same_outcome

from fastimport.backend.entry import code_way
from fastimport.testing import compile_module, plain_module, record_of

SRC = """
def f(x):
    return x * 2 + 1

def g(a, b):
    return a / b

def h(x):
    return -x
"""


def _pair() -> tuple[object, object]:
    fast, plain = compile_module(SRC), plain_module(SRC)
    assert fast.f(3.0) == 7.0  # compile f: float -> float
    assert fast.g(1.0, 4.0) == 0.25  # compile g: (float, float) -> float
    assert record_of(fast.f).status == record_of(fast.g).status == "native"
    return fast, plain


def _frames_of(name: str, thunk: object) -> tuple[object, int]:
    """(thunk(), how many Python frames of a function called `name` it entered)."""
    entered = 0

    def profile(frame: object, event: str, _arg: object) -> None:
        nonlocal entered
        if event == "call" and frame.f_code.co_name == name:  # type: ignore[attr-defined]
            entered += 1

    sys.setprofile(profile)
    try:
        return thunk(), entered  # type: ignore[operator]
    finally:
        sys.setprofile(None)


def test_calls_from_c_run_native_without_a_frame() -> None:
    """`map` calls through the vectorcall: native, no bytecode frame, CPython's results."""
    fast, plain = _pair()
    before = record_of(fast.f).native_calls
    xs = [x / 4 for x in range(-20, 20)]
    got, frames = _frames_of("f", lambda: list(map(fast.f, xs)))
    assert got == list(map(plain.f, xs))
    assert all(type(v) is float for v in got)
    assert record_of(fast.f).native_calls - before == 40
    if code_way() is not None:
        assert frames == 0  # the vectorcall ran the kernel itself


def test_keywords_and_guard_failures_fall_back_to_cpython() -> None:
    """Keyword arguments and other types take CPython's vectorcall, which still gives CPython's answers."""
    fast, plain = _pair()
    for args, kwargs in [((), {"x": 5.0}), ((2**70,), {}), ((2,), {}), (("ab",), {})]:
        assert same_outcome(call(fast.f, *args, **kwargs), call(plain.f, *args, **kwargs))
    assert same_outcome(call(fast.g, a=1.0, b=0.0), call(plain.g, a=1.0, b=0.0))  # ZeroDivisionError
    assert list(map(fast.f, [1, 2.5, "x"][:2])) == list(map(plain.f, [1, 2.5]))


@pytest.mark.parametrize("donor", ["f", "h"])
def test_another_functions_code_runs_as_cpython_runs_it(donor: str) -> None:
    """`g.__code__ = f.__code__` (compiled, another shape) or a plain function's code: g behaves like that code."""
    fast, plain = _pair()
    for m in (fast, plain):
        m.g.__code__ = getattr(m, donor).__code__
    # (5.0, 2.0) has g's shape: only the check that the data block is g's keeps f's kernel from running
    for args in [(5.0,), (5.0, 2.0), (-3,), (2**70,)]:
        assert same_outcome(call(fast.g, *args), call(plain.g, *args)), args
        got = call(lambda *a: list(map(fast.g, *([v] for v in a))), *args)
        want = call(lambda *a: list(map(plain.g, *([v] for v in a))), *args)
        assert same_outcome(got, want), args


def test_restored_code_runs_native_again() -> None:
    """Swapping `__code__` away and back: the native path follows the code object."""
    fast, plain = _pair()
    native = fast.f.__code__
    fast.f.__code__ = fast.h.__code__
    plain.f.__code__ = plain.h.__code__
    assert list(map(fast.f, [1.0, 2.0])) == list(map(plain.f, [1.0, 2.0])) == [-1.0, -2.0]
    fast.f.__code__ = native
    before = record_of(fast.f).native_calls
    assert list(map(fast.f, [1.0, 2.0])) == [3.0, 5.0]
    assert record_of(fast.f).native_calls - before == 2


CUBE_SRC = """
def cube(x):
    return x * x * x
"""


def test_misses_after_the_kernel_and_down_the_chain_through_the_vectorcall() -> None:
    """Two specializations chained; a kernel's deopt (int overflow) and a miss of both, called from C.

    A miss in the shared core ends in CPython's vectorcall from the core itself (with the
    arguments as the caller passed them): the results and errors are CPython's.
    """
    fast, plain = compile_module(CUBE_SRC), plain_module(CUBE_SRC)
    assert fast.cube(3) == 27
    assert fast.cube(1.5) == 3.375  # int, then float: the float core chains to int's
    assert len(record_of(fast.cube).signatures) == 2
    before = record_of(fast.cube).native_calls
    args = [3, 1.5, 2**40, -(2**21), True, 2**70, 0.0]  # 2**40 ** 3 leaves int64 inside the kernel
    got, want = list(map(fast.cube, args)), list(map(plain.cube, args))
    assert got == want
    assert [type(v) for v in got] == [type(v) for v in want]
    assert record_of(fast.cube).native_calls - before >= 4  # 3, 1.5, -(2**21), 0.0 at least
    assert same_outcome(call(lambda: list(map(fast.cube, [2, "ab"]))), call(lambda: list(map(plain.cube, [2, "ab"]))))
    assert record_of(fast.cube).deopts > 0
