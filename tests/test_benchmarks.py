"""The benchmark suite's correctness checks, at a tiny size (no timings are asserted)."""

# ruff: noqa: RUF001 - the report prints multiplication signs, and the tests read them

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import numpy as np
import pytest
from benchmarks.peers import C_DIR, PyPyBudget, find_cc, find_pypy, run_c, run_pypy
from benchmarks.report import _summary
from benchmarks.runner import main
from benchmarks.suite import KERNEL_DIR, KERNELS, check_kernels, numba_available, same

if TYPE_CHECKING:
    from pathlib import Path

C_KERNELS = [k for k in KERNELS if k.c_file]
NO_GCC = "gcc not installed: the C peers are reported 'not available'"


def test_benchmark_kernels_match_cpython() -> None:
    """Every kernel returns exactly CPython's value and type under fastimport (so does Numba's copy, if installed).

    Kernels expected native today must go native; the others (spectral_norm's float|float64
    store) run as bytecode until the compiler handles them, and still must match.
    """
    with_numba = numba_available()
    checks = check_kernels("tiny", with_numba=with_numba)
    assert [c.kernel for c in checks] == [k.name for k in KERNELS]
    for c in checks:
        if c.expected_native:
            assert c.fastimport_status == "native", (c.kernel, c.fastimport_reason)
        assert c.fastimport_ok, (c.kernel, c.expected, c.fastimport, c.fastimport_warm)
        if with_numba:
            assert c.numba_ok, (c.kernel, c.expected, c.numba)


def test_kernel_list_covers_the_issue() -> None:
    """The twelve kinds of kernel issue #3 asks for, every kernel file used, every C file a kernel's, C for >= 4."""
    names = {k.name for k in KERNELS}
    wanted = {
        "sum_squares_mod", "fib", "nbody", "spectral_norm", "mandelbrot", "julia", "pairwise_distances",
        "stencil3d", "black_scholes", "matmul", "sieve", "jacobi", "int_sum",
    }  # fmt: skip
    assert wanted <= names
    assert {k.file for k in KERNELS} == {p.name for p in KERNEL_DIR.glob("*.py")}
    assert {k.c_file for k in C_KERNELS} == {p.name for p in C_DIR.glob("*.c")}
    assert len(C_KERNELS) >= 4
    assert any(k.group == "array" for k in C_KERNELS)


def test_array_inputs_are_deterministic() -> None:
    """Two builds of a kernel's inputs are the same arrays (the peers get exactly CPython's inputs)."""
    for k in KERNELS:
        first, second = k.make_args("tiny"), k.make_args("tiny")
        assert all(same(a, b) for a, b in zip(first, second, strict=True)), k.name


def test_same_compares_arrays_bitwise() -> None:
    """`same` tells -0.0 from 0.0, dtypes and shapes apart, and sees nan payloads as bytes."""
    a = np.array([0.0, 1.0])
    assert same(a, a.copy())
    assert not same(np.array([-0.0, 1.0]), a)
    assert not same(a.astype(np.float32), a)
    assert not same(a.reshape(1, 2), a)
    assert not same(1.0, np.float64(1.0))
    nan, other_nan = np.array([np.nan]), np.array([np.nan])
    other_nan.view(np.int64)[0] ^= 1  # another payload
    assert not same(nan, other_nan)
    assert same(nan, nan.copy())
    assert same(np.zeros((0, 3)), np.zeros((0, 3)))
    assert not same(np.zeros((0, 3)), np.zeros((3, 0)))
    grid = np.arange(12.0).reshape(3, 4)
    assert same(grid.T, np.ascontiguousarray(grid.T))  # layouts aside, the elements in order
    assert same(np.array([True, False]), np.array([True, False]))
    assert not same(np.array([True, False]), np.array([True, True]))


@pytest.mark.skipif(shutil.which("gcc") is None, reason=NO_GCC)
def test_c_peers_match_cpython(tmp_path: Path) -> None:
    """Every C peer compiles (gcc -O3 -march=native -std=c11 -ffp-contract=off) and returns CPython's result."""
    from fastimport.testing import plain_module

    cc = find_cc(tmp_path)
    assert not isinstance(cc, str), cc
    for k in C_KERNELS:
        args = k.make_args("tiny")
        expected = getattr(plain_module(k.source()), k.entry)(*args)
        result = run_c(cc, k, args, expected, 1)
        assert result.status == "ok", (k.name, result.note)
        assert len(result.times_s) == 1


@pytest.mark.skipif(shutil.which("gcc") is None, reason=NO_GCC)
def test_c_peer_wrong_result_is_caught(tmp_path: Path) -> None:
    """A C result that differs from CPython's by one bit is 'wrong' and its times do not count."""
    cc = find_cc(tmp_path)
    assert not isinstance(cc, str), cc
    k = next(k for k in C_KERNELS if k.name == "pairwise_distances")
    args = k.make_args("tiny")
    from fastimport.testing import plain_module

    expected = getattr(plain_module(k.source()), k.entry)(*args)
    off = expected.copy()
    off.view(np.int64)[0, 1] ^= 1  # the last bit of one distance
    assert run_c(cc, k, args, off, 1).status == "wrong"
    assert run_c(cc, k, args, expected, 1).status == "ok"


def test_missing_peers_are_not_available(tmp_path: Path) -> None:
    """No PyPy, no gcc: the peers say why, and nothing fails."""
    k = next(k for k in KERNELS if k.name == "julia")
    budget = PyPyBudget(1, 1.0, 1, 1, 1.0)
    assert run_pypy("no pypy3 on PATH", k, k.make_args("tiny"), None, budget).status == "n/a"
    assert run_c("no gcc on PATH", k, k.make_args("tiny"), None, 1).status == "n/a"
    assert isinstance(find_pypy(str(tmp_path / "no-such-pypy")), str)


@pytest.mark.skipif(isinstance(find_pypy(), str), reason="no PyPy here: the PyPy column says 'not available'")
def test_pypy_peer_matches_cpython() -> None:
    """PyPy runs a scalar kernel (and an array kernel when it has NumPy) with CPython's result."""
    from fastimport.testing import plain_module

    pypy = find_pypy()
    assert not isinstance(pypy, str)
    budget = PyPyBudget(1, 1.0, 2, 1, 1.0)
    names = ["leibniz_pi"] + (["jacobi"] if pypy.numpy else [])
    for k in (k for k in KERNELS if k.name in names):
        args = k.make_args("tiny")
        expected = getattr(plain_module(k.source()), k.entry)(*args)
        result = run_pypy(pypy, k, args, expected, budget)
        assert result.status == "ok", (k.name, result.note)
    if not pypy.numpy:
        k = next(k for k in KERNELS if k.name == "jacobi")
        assert run_pypy(pypy, k, k.make_args("tiny"), None, budget).status == "n/a"


def test_summary_says_when_a_target_is_missed() -> None:
    """The summary reports each target as met or missed from the numbers, never hides a miss."""

    def kernel(name: str, cpython: float, fast: float, numba: float, c: float | None) -> dict:
        peer = {"status": "ok", "times_s": [c]} if c else {"status": "n/a", "times_s": []}
        return {
            "name": name, "group": "array", "fast_status": "native", "cpython_s": [cpython], "fast_warm_s": [fast],
            "fast_first_s": [fast + 0.01], "numba_warm_s": [numba], "numba_first_s": [numba + 0.1],
            "pypy": {"status": "n/a", "times_s": []}, "c": peer,
        }  # fmt: skip

    text = "\n".join(_summary([kernel("a", 1.0, 0.001, 0.002, 0.001), kernel("b", 1.0, 0.004, 0.002, 0.002)]))
    assert "all kernels: 500×: **met**" in text
    assert "faster or equal on 1 of 2; **missed** on 1: b 0.5×" in text
    assert "on 1 of the 2 kernels with a C version; **missed** on 1: b 2× C's time" in text
    text = "\n".join(_summary([kernel("a", 1.0, 0.1, 0.2, None)]))
    assert "10×: **missed**" in text
    assert "faster or equal on 1 of 1; **met**" in text
    assert "C version" not in text


def test_benchmark_report_renders(tmp_path: Path) -> None:
    """The runner's quick mode, restricted to two kernels and no subprocesses but C, renders the tables."""
    argv = ["--quick", "--no-numba", "--no-pypy", "--only", "fib", "julia", "--skip", "calls", "startup"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    text = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "| fib | loop | `fib(22)` |" in text
    assert "| julia | array | `julia(80, 60, -0.8, 0.156, 100)` |" in text
    assert "### Summary" in text
    assert "PyPy: not available: left out (--no-pypy)" in text
    assert "## Compile latency" in text
    assert "## Warm runs: the .pym cache" in text
    assert "In the warm run: 0 compilations, 12 specializations loaded" in text
    assert "(no .pym, observed types: compiles ahead)" in text
    assert "## Cold runs: compiling ahead from predicted types" in text
    assert "`python -m fastimport pipeline.py (cold, FASTIMPORT_PREDICT=1)`" in text


def test_icount_checks_its_arguments(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown kernel, or no valgrind: a one-line usage error, before anything runs."""
    from benchmarks import icount

    with pytest.raises(SystemExit):
        icount.main(["no_such_kernel"])
    assert "unknown kernel(s) no_such_kernel" in capsys.readouterr().err
    monkeypatch.setattr(icount.shutil, "which", lambda _name: None)
    with pytest.raises(SystemExit):
        icount.main(["fib"])
    assert "valgrind is not installed" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed (an optional benchmark tool)")
def test_icount_is_deterministic() -> None:
    """Two counts of the same warm calls agree exactly (what makes them usable for A/B)."""
    from benchmarks.icount import count

    first, second = (count("int_sum", numba=False, size="tiny", calls=2) for _ in range(2))
    assert first == second > 0


@pytest.mark.parametrize("reassociate", [False, True])
def test_loops_benchmark_checks_pass_at_a_tiny_size(reassociate: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/loops.py: every implementation agrees with CPython, bit for bit (or to rounding, `--reassociate`)."""
    from benchmarks import loops

    from fastimport import config

    monkeypatch.setattr(config, "_active", config.active_config())  # (measure sets the process's configuration)
    with_gcc = shutil.which("gcc") is not None
    results = loops.measure("tiny", 1, with_numba=numba_available(), with_gcc=with_gcc, reassociate=reassociate)
    assert results["mismatch"] == []
    assert set(results["ms"]) == set(loops.KERNELS)
    assert all(set(row) >= {"fastimport"} for row in results["ms"].values())
