"""The benchmark suite's correctness check, at a tiny size (no timings are asserted)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmarks.runner import main
from benchmarks.suite import KERNELS, check_kernels, numba_available

if TYPE_CHECKING:
    from pathlib import Path


def test_benchmark_kernels_match_cpython() -> None:
    """Every kernel goes native and returns exactly CPython's value and type (so does Numba's copy, if installed)."""
    with_numba = numba_available()
    checks = check_kernels("tiny", with_numba=with_numba)
    assert [c.kernel for c in checks] == [k.name for k in KERNELS]
    for c in checks:
        assert c.fastimport_status == "native", (c.kernel, c.fastimport_reason)
        assert c.fastimport_ok, (c.kernel, c.expected, c.fastimport, c.fastimport_warm)
        if with_numba:
            assert c.numba_ok, (c.kernel, c.expected, c.numba)


def test_benchmark_report_renders(tmp_path: Path) -> None:
    """The runner's quick mode, restricted to one kernel and no subprocesses, renders a kernel table."""
    assert main(["--quick", "--no-numba", "--only", "fib", "--skip", "calls", "startup", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "| fib | `fib(22)` |" in text
    assert "## Compile latency" in text
