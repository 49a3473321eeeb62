"""Every example prints the same bytes under `python -m fastimport` as under plain CPython."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def _run(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        timeout=300,
        check=False,
        cwd=ROOT,
        env=env,
    )


def test_there_are_examples() -> None:
    """The examples directory holds at least the four documented scripts."""
    names = {p.name for p in EXAMPLES}
    assert {"nbody.py", "primes.py", "integrate.py", "fib.py"} <= names


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_matches_cpython(script: Path) -> None:
    """`python -m fastimport examples/X.py` behaves like `python examples/X.py`.

    It prints the same output byte for byte and exits with the same code.
    """
    rel = str(script.relative_to(ROOT))
    plain = _run(rel)
    fast = _run("-m", "fastimport", rel)
    assert plain.returncode == 0, plain.stderr.decode()
    assert fast.stdout == plain.stdout, fast.stderr.decode()
    assert fast.returncode == plain.returncode, fast.stderr.decode()


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_with_small_size_matches_cpython(script: Path) -> None:
    """Each example also agrees with CPython when given a small size on the command line."""
    rel = str(script.relative_to(ROOT))
    plain = _run(rel, "7")
    fast = _run("-m", "fastimport", rel, "7")
    assert fast.stdout == plain.stdout, fast.stderr.decode()
    assert fast.returncode == plain.returncode, fast.stderr.decode()


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_functions_run_native(script: Path, tmp_path: Path) -> None:
    """Every function of an example except `main` is reported native after a run.

    The examples are written inside the compiled subset, so a bytecode one is a silent slowdown.
    """
    report = tmp_path / "report.json"
    rel = str(script.relative_to(ROOT))
    fast = _run("-m", "fastimport", f"--report={report}", rel)
    assert fast.returncode == 0, fast.stderr.decode()
    records = json.loads(report.read_text(encoding="utf-8"))
    stayed = {
        r["qualname"]: r["reason"]
        for r in records
        if r["file"] == str(script) and r["qualname"] != "main" and r["status"] != "native"
    }
    assert not stayed, stayed
