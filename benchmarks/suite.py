"""The kernels, their sizes, and the correctness check every timing depends on.

Each kernel is a plain Python file in `benchmarks/kernels/` holding module-level
functions a user could have written: scalar loops over int/float/bool, and array
kernels over NumPy arrays. The same source text is loaded three ways:

    plain_module(src)        CPython, the reference
    compile_module(src)      through fastimport (functions go native at their first call)
    numba_module(src)        plain_module(src) with every function replaced by numba.njit(function)

(PyPy and C, the out-of-process peers, are in peers.py.)

    kernel.make_args("tiny") -> (array(...), 30)     inputs built deterministically, outside any timing
    check_kernels("tiny")    -> [Check(kernel, expected, fastimport, numba, ...), ...]
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fastimport.testing import compile_module, plain_module, record_of

KERNEL_DIR = Path(__file__).resolve().parent / "kernels"
SIZES = ("tiny", "quick", "full")


@dataclass(frozen=True)
class Arr:
    """An array argument, made from `np.random.default_rng(0)` (shared by the call's arguments, in order).

    Floats are uniform in [low, high); ints are uniform integers in [low, high).
    """

    shape: tuple[int, ...]
    dtype: str = "float64"
    low: float = 0.0
    high: float = 1.0

    def build(self, rng: np.random.Generator) -> np.ndarray:
        """The array (C-contiguous, this dtype)."""
        if np.dtype(self.dtype).kind in "iu":
            return rng.integers(int(self.low), int(self.high), size=self.shape, dtype=self.dtype)
        return rng.uniform(self.low, self.high, size=self.shape).astype(self.dtype)

    def __repr__(self) -> str:
        return f"{self.dtype}[{', '.join(map(str, self.shape))}]"


@dataclass(frozen=True)
class Kernel:
    """One benchmark: a kernel file, the function called from Python, its arguments per size.

    `expected_native` says whether fastimport compiles it today; the test asserts native
    status for those that are, and exact results for all. `c_file` names a hand-written C
    equivalent in `benchmarks/c/` (the physical-limit peer), if there is one.
    """

    name: str
    file: str
    entry: str
    args: dict[str, tuple[Any, ...]]
    kind: str  # what it exercises: "float loop", "2-D array stencil", ...
    expected_native: bool = True
    c_file: str | None = None

    def source(self) -> str:
        """The kernel file's text."""
        return (KERNEL_DIR / self.file).read_text(encoding="utf-8")

    @property
    def path(self) -> Path:
        """The kernel file."""
        return KERNEL_DIR / self.file

    @property
    def uses_numpy(self) -> bool:
        """Whether the kernel needs NumPy (array arguments, or NumPy calls in its source)."""
        return any(isinstance(a, Arr) for size in self.args.values() for a in size) or "import numpy" in self.source()

    @property
    def group(self) -> str:
        """The kernel's group: "array" over NumPy arrays, "loop" for scalar loops, recursion and lists."""
        return "array" if self.uses_numpy else "loop"

    def make_args(self, size: str) -> tuple[Any, ...]:
        """The call's arguments at `size`, arrays built afresh (same values every time)."""
        rng = np.random.default_rng(0)
        return tuple(a.build(rng) if isinstance(a, Arr) else a for a in self.args[size])

    def call_text(self, size: str) -> str:
        """The call as source text, e.g. `fib(30)` or `matmul(float64[120, 120], float64[120, 120])`."""
        return f"{self.entry}({', '.join(map(repr, self.args[size]))})"


def _bs_args(n: int) -> tuple[Any, ...]:
    # Stock price, strike, years to expiry (the ranges of the classic Black-Scholes benchmark), rate, volatility.
    return (Arr((n,), low=5.0, high=30.0), Arr((n,), low=1.0, high=100.0), Arr((n,), low=0.25, high=10.0), 0.02, 0.3)


# Sizes are chosen so that no intermediate int leaves 64 bits (Numba would wrap
# silently) and a "full" CPython call takes roughly 0.1-0.5 s on a 2-core box.
KERNELS: list[Kernel] = [
    # --- scalar loops and recursion ---
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
        c_file="sum_squares.c",
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
        c_file="mandelbrot.c",
    ),
    # nbody keeps its bodies in lists of lists, as the classic benchmark does.
    Kernel(
        "nbody",
        "nbody.py",
        "nbody",
        {"tiny": (100,), "quick": (3_000,), "full": (30_000,)},
        "lists of lists of floats, float loops, helper calls",
    ),
    # --- NumPy arrays ---
    Kernel(
        "spectral_norm",
        "spectral_norm.py",
        "spectral_norm",
        {"tiny": (10,), "quick": (40,), "full": (130,)},
        "1-D arrays made inside, helper calls with arrays",
    ),
    Kernel(
        "julia",
        "julia.py",
        "julia",
        {"tiny": (16, 12, -0.8, 0.156, 50), "quick": (80, 60, -0.8, 0.156, 100), "full": (320, 240, -0.8, 0.156, 100)},
        "float loops writing a 2-D int32 array",
        c_file="julia.c",
    ),
    Kernel(
        "pairwise_distances",
        "pairwise.py",
        "pairwise_distances",
        {"tiny": (Arr((10, 3)),), "quick": (Arr((100, 3)),), "full": (Arr((400, 3)),)},
        "2-D array in, 2-D array out, math.sqrt",
        c_file="pairwise.c",
    ),
    Kernel(
        "stencil3d",
        "stencil3d.py",
        "stencil3d",
        {"tiny": (Arr((6, 5, 4)),), "quick": (Arr((24, 24, 24)),), "full": (Arr((60, 60, 60)),)},
        "3-D array, 7-point stencil",
        c_file="stencil3d.c",
    ),
    Kernel(
        "black_scholes",
        "black_scholes.py",
        "black_scholes",
        {"tiny": _bs_args(50), "quick": _bs_args(10_000), "full": _bs_args(100_000)},
        "1-D arrays, math.exp/log/sqrt, helper call",
        c_file="black_scholes.c",
    ),
    Kernel(
        "matmul",
        "matmul.py",
        "matmul",
        {
            "tiny": (Arr((7, 5)), Arr((5, 6))),
            "quick": (Arr((40, 40)), Arr((40, 40))),
            "full": (Arr((80, 80)), Arr((80, 80))),
        },
        "triple loop, c[i, j] += a[i, k] * b[k, j]",
        c_file="matmul.c",
    ),
    Kernel(
        "sieve",
        "sieve.py",
        "sieve",
        {"tiny": (1_000,), "quick": (100_000,), "full": (1_000_000,)},
        "bool array made inside, strided range",
        c_file="sieve.c",
    ),
    Kernel(
        "jacobi",
        "jacobi.py",
        "jacobi",
        {"tiny": (Arr((8, 7)), 3), "quick": (Arr((40, 40)), 10), "full": (Arr((100, 100)), 30)},
        "2-D Laplace stencil, arrays swapped",
        c_file="jacobi.c",
    ),
    Kernel(
        "int_sum",
        "int_sum.py",
        "int_sum",
        {
            "tiny": (Arr((100,), "int64", -1000, 1001),),
            "quick": (Arr((100_000,), "int64", -1000, 1001),),
            "full": (Arr((1_000_000,), "int64", -1000, 1001),),
        },
        "reduction over an int64 array",
        c_file="int_sum.c",
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


def same_array(value: np.ndarray, expected: np.ndarray) -> bool:
    """Same dtype, shape and bytes (so nan payloads and -0.0 count).

    Compared in place, through memoryviews: the runner checks each timed call's result
    before the next call, and copies of the two arrays there (`tobytes`) changed what the
    next call's own allocation cost (measured: pairwise_distances' 1.3 MB result, 0.49 ms
    warm for fastimport and 0.40 ms for Numba in a loop that only calls, 0.92 / 0.40 ms in
    the full run, where the copies left the allocator handing out pages never touched).
    """
    if value.dtype != expected.dtype or value.shape != expected.shape:
        return False
    if value.size == 0:
        return True  # (a memoryview of no bytes cannot be cast)
    a, b = np.ascontiguousarray(value), np.ascontiguousarray(expected)  # (no copy when already contiguous)
    return memoryview(a).cast("B") == memoryview(b).cast("B")


def same(value: Any, expected: Any) -> bool:  # noqa: ANN401
    """Same type and value; floats must have the same bits, arrays the same dtype, shape and bytes."""
    if type(value) is not type(expected):
        return False
    if isinstance(expected, np.ndarray):
        return same_array(value, expected)
    if isinstance(expected, float):  # numpy.float64 too (a float subclass)
        return value.hex() == expected.hex()
    return bool(value == expected)


def peer_equal(value: Any, expected: Any) -> bool:  # noqa: ANN401
    """A peer's value equals CPython's: arrays and floats bit for bit; scalar types not compared.

    (Numba returns a Python int where CPython's kernel returns numpy.int64, and a C program
    has no Python types at all.)
    """
    if isinstance(expected, np.ndarray):
        return isinstance(value, np.ndarray) and same_array(value, expected)
    if isinstance(expected, float):
        return isinstance(value, (float, np.floating)) and float(value).hex() == float(expected).hex()
    return bool(value == expected) and not isinstance(value, (float, np.floating, np.ndarray))


def describe(value: Any) -> str:  # noqa: ANN401
    """A short text for a result: repr for scalars, dtype/shape and a checksum for arrays."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype}[{', '.join(map(str, value.shape))}], sum {float(value.sum(dtype=np.float64))!r}"
    if isinstance(value, np.generic):
        return f"np.{type(value).__name__}({value.item()!r})"
    return repr(value)


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
    expected_native: bool
    numba: Any = None
    numba_checked: bool = False

    @property
    def fastimport_ok(self) -> bool:
        """Both calls return exactly CPython's value and type."""
        return same(self.fastimport, self.expected) and same(self.fastimport_warm, self.expected)

    @property
    def numba_ok(self) -> bool:
        """Numba's value equals CPython's (Numba may return other scalar types, so no type check)."""
        return self.numba_checked and peer_equal(self.numba, self.expected)


def check_kernel(kernel: Kernel, size: str, *, with_numba: bool) -> Check:
    """Run `kernel` at `size` under CPython, fastimport and (optionally) Numba; nothing is timed."""
    src = kernel.source()
    expected = getattr(plain_module(src), kernel.entry)(*kernel.make_args(size))
    fast = compile_module(src)
    # Fresh inputs for every call: a kernel that wrote into its arguments would show it.
    got = getattr(fast, kernel.entry)(*kernel.make_args(size))
    got_again = getattr(fast, kernel.entry)(*kernel.make_args(size))
    record = record_of(getattr(fast, kernel.entry))
    check = Check(
        kernel.name,
        kernel.call_text(size),
        expected,
        got,
        got_again,
        record.status,
        record.reason,
        kernel.expected_native,
    )
    if with_numba:
        check.numba = getattr(numba_module(src), kernel.entry)(*kernel.make_args(size))
        check.numba_checked = True
    return check


def check_kernels(size: str = "tiny", *, with_numba: bool | None = None) -> list[Check]:
    """`check_kernel` for every kernel; Numba is used when importable unless `with_numba` says otherwise."""
    if with_numba is None:
        with_numba = numba_available()
    return [check_kernel(kernel, size, with_numba=with_numba) for kernel in KERNELS]
