"""Loops over NumPy arrays: fastimport beside Numba and `gcc -O3 -march=native`, warm, one process.

    PYTHONPATH=src python -m benchmarks.loops [--repeat 9] [--size full|quick|tiny] [--no-gcc] [--no-numba]
                                              [--reassociate]

(PYTHONPATH=src: this checkout's fastimport, not an installed one; the table's title says which.)

Five micro-kernels (the source below), each called on the same arrays by every
implementation; the figure is the median over `repeat` calls of one call's wall
time, implementations interleaved call by call (the machine is noisy: read the
ratios). Before timing, every implementation's result (return value and output
array, bit for bit) is checked against CPython's. The C copies are compiled with
`gcc -O3 -march=native` (no -ffast-math: same rounding as Python's) and called
through ctypes (~1 us of call overhead, negligible here).

Compile latency: what fastimport's report says the kernel's compile took.

`--reassociate` measures every implementation allowed to reorder float arithmetic:
fastimport with `[tool.fastimport] reassociate`, Numba with `fastmath={"reassoc"}`, gcc
with `-fassociative-math -fno-signed-zeros -fno-trapping-math`. Results are then checked
against CPython's to rounding (relative 1e-9), not bit for bit.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SRC = """
import numpy as np


def scale_into(a, out, k):
    for i in range(len(a)):
        out[i] = a[i] * k


def scale_new(a, k):
    n = len(a)
    out = np.empty(n)
    for i in range(n):
        out[i] = a[i] * k
    return out


def jacobi(u, out):
    n, m = u.shape
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])


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
"""

C_SRC = r"""
#include <stdint.h>
void scale_into(const double *a, double *out, int64_t n, double k) {
    for (int64_t i = 0; i < n; i++) out[i] = a[i] * k;
}
void scale_new(const double *a, double *out, int64_t n, double k) {  /* the caller allocates */
    for (int64_t i = 0; i < n; i++) out[i] = a[i] * k;
}
void jacobi(const double *u, double *out, int64_t n, int64_t m) {
    for (int64_t i = 1; i < n - 1; i++)
        for (int64_t j = 1; j < m - 1; j++)
            out[i * m + j] = 0.25 * (u[(i - 1) * m + j] + u[(i + 1) * m + j] + u[i * m + j - 1] + u[i * m + j + 1]);
}
double dot(const double *a, const double *b, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
int64_t isum(const int64_t *a, int64_t n) {
    int64_t s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i];
    return s;
}
"""

SIZES = {"tiny": (1_000, 30), "quick": (100_000, 300), "full": (1_000_000, 1_000)}
KERNELS = ("scale_into", "scale_new", "jacobi", "dot", "isum")


def make_args(size: str) -> dict[str, tuple[Any, ...]]:
    """The arguments of each kernel (fresh arrays; outputs start as zeros)."""
    n, m = SIZES[size]
    rng = np.random.default_rng(42)
    a, b = rng.random(n), rng.random(n)
    u = rng.random((m, m))
    ints = rng.integers(-(10**6), 10**6, n)
    return {
        "scale_into": (a, np.zeros(n), 1.5),
        "scale_new": (a, 1.5),
        "jacobi": (u, np.zeros((m, m))),
        "dot": (a, b),
        "isum": (ints,),
    }


def outcome(func: Any, args: tuple[Any, ...], *, exact_type: bool) -> tuple[Any, ...]:  # noqa: ANN401
    """What a call leaves: its result (an array's bytes; a number's bits, and type if `exact_type`), arrays' bytes.

    Numba returns a Python float or int where CPython returns a NumPy scalar, so only
    fastimport's results are compared with their type.
    """
    result = func(*args)
    if isinstance(result, np.ndarray):
        shown: Any = result.tobytes()
    elif result is None:
        shown = None
    else:
        shown = (
            type(result).__name__ if exact_type else "",
            float(result).hex(),
            int(result) if float(result).is_integer() else None,
        )
    return shown, *(x.tobytes() for x in args if isinstance(x, np.ndarray))


def close_outcome(func: Any, args: tuple[Any, ...]) -> list[Any]:  # noqa: ANN401
    """What a call leaves, as values: its result and its array arguments afterwards (for `agree`)."""
    result = func(*args)
    return [result, *(x.copy() for x in args if isinstance(x, np.ndarray))]


def agree(got: list[Any], want: list[Any]) -> bool:
    """Equal to rounding (relative 1e-9): what reassociated float arithmetic may differ by."""
    return len(got) == len(want) and all(
        (g is None and w is None) or (g is not None and w is not None and np.allclose(g, w, rtol=1e-9, atol=0.0))
        for g, w in zip(got, want, strict=True)
    )


REASSOCIATE_FLAGS = ["-fassociative-math", "-fno-signed-zeros", "-fno-trapping-math"]


def gcc_kernels(workdir: Path, *, reassociate: bool = False) -> dict[str, Any] | None:
    """The C copies as Python callables taking the kernels' arguments (None without gcc)."""
    if shutil.which("gcc") is None:
        return None
    c_file, so_file = workdir / "loops.c", workdir / "loops.so"
    c_file.write_text(C_SRC, encoding="utf-8")
    flags = REASSOCIATE_FLAGS if reassociate else []
    subprocess.run(  # noqa: S603
        ["gcc", "-O3", "-march=native", *flags, "-shared", "-fPIC", "-o", str(so_file), str(c_file)],  # noqa: S607
        check=True,
    )
    lib = ctypes.CDLL(str(so_file))
    ptr, i64, f64 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
    for name, argtypes, restype in (
        ("scale_into", [ptr, ptr, i64, f64], None),
        ("scale_new", [ptr, ptr, i64, f64], None),
        ("jacobi", [ptr, ptr, i64, i64], None),
        ("dot", [ptr, ptr, i64], f64),
        ("isum", [ptr, i64], i64),
    ):
        getattr(lib, name).argtypes, getattr(lib, name).restype = argtypes, restype

    def scale_new(a: np.ndarray, k: float) -> np.ndarray:
        out = np.empty(len(a))
        lib.scale_new(a.ctypes.data, out.ctypes.data, len(a), k)
        return out

    return {
        "scale_into": lambda a, out, k: lib.scale_into(a.ctypes.data, out.ctypes.data, len(a), k),
        "scale_new": scale_new,
        "jacobi": lambda u, out: lib.jacobi(u.ctypes.data, out.ctypes.data, *u.shape),
        "dot": lambda a, b: float(lib.dot(a.ctypes.data, b.ctypes.data, len(a))),
        "isum": lambda a: int(lib.isum(a.ctypes.data, len(a))),
    }


def measure(size: str, repeat: int, *, with_numba: bool, with_gcc: bool, reassociate: bool = False) -> dict[str, Any]:
    """Median ms per call of each kernel under each implementation, checked against CPython first."""
    from fastimport import config
    from fastimport.testing import compile_module, plain_module, record_of

    if reassociate:  # (before anything is compiled: the process's configuration)
        config.set_active_config(config.active_config().replace(reassociate=True))
    plain, fast = plain_module(SRC), compile_module(SRC)
    impls: dict[str, dict[str, Any]] = {"fastimport": {k: getattr(fast, k) for k in KERNELS}}
    if with_numba:
        import numba

        jit = numba.njit(fastmath={"reassoc"}) if reassociate else numba.njit
        impls["numba"] = {k: jit(getattr(plain_module(SRC), k)) for k in KERNELS}
    workdir = Path(tempfile.mkdtemp(prefix="fi-loops-"))
    c_kernels = gcc_kernels(workdir, reassociate=reassociate) if with_gcc else None
    if c_kernels is not None:
        impls["gcc -O3"] = c_kernels
    results: dict[str, Any] = {
        "size": size,
        "repeat": repeat,
        "reassociate": reassociate,
        "ms": {},
        "compile_ms": {},
        "mismatch": [],
    }
    for name in KERNELS:
        args = make_args(size)[name]
        _check(name, impls, plain, args, results["mismatch"], reassociate=reassociate)
        record = record_of(impls["fastimport"][name])
        if record.status != "native":
            results["mismatch"].append(f"{name}: fastimport {record.status} ({record.reason})")
        results["compile_ms"][name] = record.compile_ms
        times: dict[str, list[float]] = {impl: [] for impl in impls}
        for _ in range(repeat):
            for impl, funcs in impls.items():
                start = time.perf_counter()
                funcs[name](*args)
                times[impl].append(1000 * (time.perf_counter() - start))
        results["ms"][name] = {impl: statistics.median(t) for impl, t in times.items()}
    return results


def _check(  # noqa: PLR0913 - what one kernel's check needs
    name: str,
    impls: dict[str, dict[str, Any]],
    plain: Any,  # noqa: ANN401 - the plain module
    args: tuple[Any, ...],
    mismatch: list[str],
    *,
    reassociate: bool,
) -> None:
    """Each implementation's outcome against CPython's: bit for bit, or to rounding where float math is reordered."""

    def fresh() -> tuple[Any, ...]:
        return tuple(x.copy() if isinstance(x, np.ndarray) else x for x in args)

    if reassociate:
        close = close_outcome(getattr(plain, name), fresh())
    else:
        want = {exact: outcome(getattr(plain, name), fresh(), exact_type=exact) for exact in (True, False)}
    for impl, funcs in impls.items():
        if reassociate:
            if not agree(close_outcome(funcs[name], fresh()), close):
                mismatch.append(f"{name}: {impl} differs from CPython beyond rounding")
        elif outcome(funcs[name], fresh(), exact_type=impl == "fastimport") != want[impl == "fastimport"]:
            mismatch.append(f"{name}: {impl} differs from CPython")


def render(results: dict[str, Any]) -> str:
    """A markdown table: ms per call, and fastimport's time over Numba's and over gcc's."""
    impls = list(next(iter(results["ms"].values())))
    lines = [
        f"| kernel | {' | '.join(f'{i} ms' for i in impls)} | fi/numba | fi/gcc | compile ms |",
        f"| --- | {' | '.join('---:' for _ in impls)} | ---: | ---: | ---: |",
    ]
    for name, row in results["ms"].items():
        ratios = [f"{row['fastimport'] / row[i]:.2f}" if i in row else "-" for i in ("numba", "gcc -O3")]
        cells = " | ".join(f"{row[i]:.3f}" for i in impls)
        lines.append(f"| {name} | {cells} | {' | '.join(ratios)} | {results['compile_ms'][name]:.1f} |")
    lines.extend(f"\n**mismatch**: {m}" for m in results["mismatch"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table (and write JSON if asked); 1 if any result differs from CPython's."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--no-numba", action="store_true")
    parser.add_argument("--no-gcc", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--reassociate", action="store_true", help="every implementation may reorder float math")
    args = parser.parse_args(argv)
    import fastimport

    results = measure(
        args.size, args.repeat, with_numba=not args.no_numba, with_gcc=not args.no_gcc, reassociate=args.reassociate
    )
    mode = ", float arithmetic reassociated (every implementation)" if args.reassociate else ""
    print(f"fastimport from {Path(fastimport.__file__).parent}, size {args.size}, median of {args.repeat}{mode}\n")
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 1 if results["mismatch"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
