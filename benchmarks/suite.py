"""The kernels, their sizes, and the correctness check every timing depends on.

Each kernel is a plain Python file in `benchmarks/kernels/` holding module-level
functions a user could have written (scalar int/float/bool only). The same
source text is loaded three ways:

    plain_module(src)        CPython, the reference
    compile_module(src)      through fastimport (functions go native at their first call)
    numba_module(src)        plain_module(src) with every function replaced by numba.njit(function)

    check_kernels("tiny")    -> [Check(kernel, expected, fastimport, numba, ...), ...]
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastimport.testing import compile_module, plain_module, record_of

KERNEL_DIR = Path(__file__).resolve().parent / "kernels"
SIZES = ("tiny", "quick", "full")


@dataclass(frozen=True)
class Kernel:
    """One benchmark: a kernel file, the function called from Python, its arguments per size."""

    name: str
    file: str
    entry: str
    args: dict[str, tuple[Any, ...]]
    kind: str  # "float loop", "int loop", "recursion", ...

    def source(self) -> str:
        """The kernel file's text."""
        return (KERNEL_DIR / self.file).read_text(encoding="utf-8")

    def call_text(self, size: str) -> str:
        """The call as source text, e.g. `fib(30)`."""
        return f"{self.entry}({', '.join(map(repr, self.args[size]))})"


# Sizes are chosen so that no intermediate int leaves 64 bits (Numba would wrap
# silently) and a "full" CPython call takes roughly 0.1-0.5 s on a 2-core box.
KERNELS: list[Kernel] = [
    Kernel(
        "integrate_poly",
        "integrate_poly.py",
        "integrate_poly",
        {"tiny": (0.0, 2.0, 1_000), "quick": (0.0, 2.0, 200_000), "full": (0.0, 2.0, 1_000_000)},
        "float loop + helper call",
    ),
    Kernel(
        "integrate_sin",
        "integrate_sin.py",
        "integrate_sin",
        {"tiny": (0.0, 3.0, 1_000), "quick": (0.0, 3.0, 200_000), "full": (0.0, 3.0, 2_000_000)},
        "float loop, math.sin",
    ),
    Kernel(
        "leibniz_pi",
        "leibniz.py",
        "leibniz_pi",
        {"tiny": (1_000,), "quick": (300_000,), "full": (3_000_000,)},
        "float loop",
    ),
    Kernel(
        "sum_squares_mod",
        "sum_squares.py",
        "sum_squares_mod",
        {"tiny": (1_000, 1_000_003), "quick": (300_000, 1_000_003), "full": (3_000_000, 1_000_003)},
        "int loop, %",
    ),
    Kernel(
        "collatz_longest",
        "collatz.py",
        "collatz_longest",
        {"tiny": (1_000,), "quick": (10_000,), "full": (50_000,)},
        "int while loop + helper call",
    ),
    Kernel(
        "count_primes",
        "primes.py",
        "count_primes",
        {"tiny": (1_000,), "quick": (30_000,), "full": (200_000,)},
        "int loop, early exit, bool helper",
    ),
    Kernel("fib", "fib.py", "fib", {"tiny": (15,), "quick": (22,), "full": (30,)}, "recursion"),
    Kernel(
        "mandelbrot",
        "mandelbrot.py",
        "mandelbrot",
        {"tiny": (20, 20, 50), "quick": (80, 60, 100), "full": (240, 180, 200)},
        "nested float loops, int counter",
    ),
]


def numba_available() -> bool:
    """Whether Numba is importable (it is optional: the bench extra)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def numba_module(source: str) -> types.ModuleType:
    """`source` under CPython with every module-level function replaced by `numba.njit(function)`.

    The functions are swapped in the module's namespace before any call, so a
    kernel calling a helper (fib calling fib, count_primes calling is_prime)
    resolves the helper's dispatcher when Numba compiles it.
    """
    import numba  # optional

    module = plain_module(source)
    for name, value in list(vars(module).items()):
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            setattr(module, name, numba.njit(value))
    return module


@dataclass
class Check:
    """The result of one kernel at one size under each implementation, compared with CPython's."""

    kernel: str
    call: str
    expected: Any
    fastimport: Any  # the first call (compiles, then runs native)
    fastimport_warm: Any  # the second call (the native entry point as installed)
    fastimport_status: str
    fastimport_reason: str | None
    numba: Any = None
    numba_checked: bool = False

    @property
    def fastimport_ok(self) -> bool:
        """Both calls return exactly CPython's value and type."""
        return same(self.fastimport, self.expected) and same(self.fastimport_warm, self.expected)

    @property
    def numba_ok(self) -> bool:
        """Numba's value equals CPython's (Numba may return numpy scalars, so no type check)."""
        if not self.numba_checked:
            return False
        if isinstance(self.expected, float):
            return float(self.numba).hex() == self.expected.hex()
        return bool(self.numba == self.expected)


def same(value: Any, expected: Any) -> bool:  # noqa: ANN401
    """Same type and value; floats must have the same bits."""
    if type(value) is not type(expected):
        return False
    if isinstance(expected, float):
        return value.hex() == expected.hex()
    return bool(value == expected)


def check_kernel(kernel: Kernel, size: str, *, with_numba: bool) -> Check:
    """Run `kernel` at `size` under CPython, fastimport and (optionally) Numba; nothing is timed."""
    src = kernel.source()
    args = kernel.args[size]
    expected = getattr(plain_module(src), kernel.entry)(*args)
    fast = compile_module(src)
    got = getattr(fast, kernel.entry)(*args)
    got_again = getattr(fast, kernel.entry)(*args)
    record = record_of(getattr(fast, kernel.entry))
    check = Check(
        kernel.name,
        kernel.call_text(size),
        expected,
        got,
        got_again,
        record.status,
        record.reason,
    )
    if with_numba:
        check.numba = getattr(numba_module(src), kernel.entry)(*args)
        check.numba_checked = True
    return check


def check_kernels(size: str = "tiny", *, with_numba: bool | None = None) -> list[Check]:
    """`check_kernel` for every kernel; Numba is used when importable unless `with_numba` says otherwise."""
    if with_numba is None:
        with_numba = numba_available()
    return [check_kernel(kernel, size, with_numba=with_numba) for kernel in KERNELS]
