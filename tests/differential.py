"""Differential checking: run one source under fastimport and under CPython, compare.

    assert_same(SRC, "f", 1, 2.5)         # same value and type (floats bit for bit),
                                          # or same exception type and message, same stdout
    assert_native(native(SRC), "f")       # f really runs native code (not silently bytecode)
    assert_same_native(SRC, "f", 1, 2.5)  # both of the above

Modules are built once per distinct source string (`modules(src)`), so hypothesis can
call the same functions thousands of times cheaply; sources are dedented first.
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastimport.testing import compile_module, plain_module, record_of

if TYPE_CHECKING:
    import types

_MODULES: dict[str, tuple[types.ModuleType, types.ModuleType]] = {}
_WARM: set[tuple[str, str, tuple[str, ...]]] = set()


def modules(src: str) -> tuple[types.ModuleType, types.ModuleType]:
    """(fastimport module, plain CPython module) for `src`, built once per source."""
    src = textwrap.dedent(src)
    if src not in _MODULES:
        _MODULES[src] = (compile_module(src), plain_module(src))
    return _MODULES[src]


def native(src: str) -> types.ModuleType:
    """The fastimport-compiled module for `src` (cached)."""
    return modules(src)[0]


def plain(src: str) -> types.ModuleType:
    """The plain CPython module for `src` (cached)."""
    return modules(src)[1]


@dataclass
class Outcome:
    """What one call did: its value or its exception, and what it printed."""

    value: Any = None
    error: BaseException | None = None
    stdout: str = ""

    def describe(self) -> str:
        """A one-line description for assertion messages."""
        if self.error is not None:
            return f"raised {type(self.error).__name__}({str(self.error)!r}) stdout={self.stdout!r}"
        return f"returned {type(self.value).__name__} {self.value!r} stdout={self.stdout!r}"


def call(func: Any, *args: Any, **kwargs: Any) -> Outcome:
    """Call `func`, capturing its result or exception and its stdout."""
    buf = io.StringIO()
    outcome = Outcome()
    with contextlib.redirect_stdout(buf):
        try:
            outcome.value = func(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every exception is part of the comparison
            outcome.error = exc
    outcome.stdout = buf.getvalue()
    return outcome


def same_value(a: Any, b: Any) -> bool:  # noqa: PLR0911 - one return per kind of value
    """Same type and value; floats bit-identical (any nan equals any nan); tuples recurse; arrays by bytes."""
    if type(a) is not type(b):
        return False
    if (getattr(getattr(a, "dtype", None), "kind", None) == "f" and not hasattr(a, "shape")) or (
        type(a).__name__ in ("float32", "float16")
    ):  # a NumPy float scalar that is not a Python float (float32, float16): bit for bit too
        if a != a or b != b:  # noqa: PLR0124 - nan test without importing numpy
            return a != a and b != b  # noqa: PLR0124
        return bool(a.tobytes() == b.tobytes())
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, complex):
        return same_value(a.real, b.real) and same_value(a.imag, b.imag)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if type(a).__name__ == "ndarray":  # same dtype and shape, contents bit for bit (a nan is any nan)
        return bool(a.dtype == b.dtype and a.shape == b.shape and _same_elements(a, b))
    return bool(a == b)


def _same_elements(a: Any, b: Any) -> bool:
    """Bit for bit, except that nans match whatever their sign and payload (as for scalars above).

    Neither IEEE arithmetic nor LLVM fixes which operand's nan an operation returns.
    """
    if a.dtype.kind not in "fc":
        return bool(a.tobytes() == b.tobytes())
    import numpy as np  # an ndarray is here: NumPy is imported already

    nan_a, nan_b = np.isnan(a), np.isnan(b)
    return bool(np.array_equal(nan_a, nan_b) and a[~nan_a].tobytes() == b[~nan_b].tobytes())


def same_outcome(got: Outcome, want: Outcome) -> bool:
    """Same value (see `same_value`) or same exception type and message; same stdout."""
    if got.stdout != want.stdout:
        return False
    if want.error is not None or got.error is not None:
        return (
            got.error is not None
            and want.error is not None
            and type(got.error) is type(want.error)
            and str(got.error) == str(want.error)
        )
    return same_value(got.value, want.value)


def assert_same(src: str, fname: str, *args: Any, **kwargs: Any) -> Any:
    """Call `fname` from `src` under fastimport and CPython; fail unless outcomes match.

    Returns CPython's value (or its exception object) so tests can go on from it.
    """
    fast, ref = modules(src)
    want = call(getattr(ref, fname), *args, **kwargs)
    got = call(getattr(fast, fname), *args, **kwargs)
    assert same_outcome(got, want), (
        f"{fname}{_args_repr(args, kwargs)}:\n"
        f"  fastimport {got.describe()}\n"
        f"  CPython    {want.describe()}\n"
        f"source:\n{textwrap.dedent(src)}"
    )
    return want.error if want.error is not None else want.value


def assert_native(m: types.ModuleType, fname: str) -> None:
    """`m.fname` has been compiled and runs native code (call it at least once first)."""
    rec = record_of(getattr(m, fname))
    assert rec.status == "native", f"{fname} is {rec.status}: {rec.reason}"


def assert_same_native(src: str, fname: str, *args: Any, **kwargs: Any) -> Any:
    """`assert_same`, then `assert_native` on the fastimport module."""
    value = assert_same(src, fname, *args, **kwargs)
    assert_native(native(src), fname)
    return value


def warm_up(src: str, fname: str, *args: Any) -> None:
    """Once per (src, fname, arg types), call with typical `args`.

    The first call, which picks the specialization, then sees ordinary values rather than a hypothesis edge.
    """
    key = (textwrap.dedent(src), fname, tuple(type(a).__name__ for a in args))
    if key in _WARM:
        return
    _WARM.add(key)
    assert_same(src, fname, *args)


def _args_repr(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return "(" + ", ".join(parts) + ")"
