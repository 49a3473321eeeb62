"""Quick end-to-end checks, run on every supported Python by .ci/run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fastimport

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "nbody.py"

HELPER = """\
    def scale(x: float, k: int) -> float:
        return x * k
"""

PROGRAM = """\
    import sys
    import helper

    def fib(n: int) -> int:
        a, b = 0, 1
        for _ in range(n):
            a, b = b, a + b
        return a

    def mean(xs):
        total = 0.0
        for x in xs:
            total += x
        return total / len(xs)

    print(fib(90), fib(100), mean([0.1, 0.2, 0.3]), helper.scale(0.1, 3), sys.argv[1:])
    print(type(helper.__loader__).__name__)
"""


def run(args: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run `python *args` in `cwd`, testing the working tree (src/) like tests/conftest.py does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTIMPORT_")} | extra
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_import_and_version() -> None:
    """The package imports and has a version string."""
    assert isinstance(fastimport.__version__, str)
    assert fastimport.__version__.count(".") >= 1


def test_install_uninstall(tmp_path: Path) -> None:
    """install() puts one finder first on sys.meta_path and uninstall() removes it."""
    before = list(sys.meta_path)
    try:
        fastimport.install(fastimport.Config(project_root=tmp_path))
        fastimport.install(fastimport.Config(project_root=tmp_path))
        assert type(sys.meta_path[0]).__name__ == "FastImportFinder"
        assert len(sys.meta_path) == len(before) + 1
        fastimport.uninstall()
        assert sys.meta_path == before
    finally:
        sys.meta_path[:] = before


def test_program_output_matches_python(tmp_path: Path) -> None:
    """A small numeric program and its helper module print the same under fastimport as under python."""
    (tmp_path / "helper.py").write_text(textwrap.dedent(HELPER), encoding="utf-8")
    (tmp_path / "prog.py").write_text(textwrap.dedent(PROGRAM), encoding="utf-8")
    plain = run(["prog.py", "x"], tmp_path)
    fast = run(["-m", "fastimport", "--report", "prog.py", "x"], tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert fast.returncode == 0, fast.stderr
    # Same results; only the helper's loader differs (the hook took it over).
    assert fast.stdout == plain.stdout.replace("SourceFileLoader", "FastSourceLoader")
    assert fast.stdout.endswith("FastSourceLoader\n")


def test_every_function_called_goes_native_from_its_first_call(tmp_path: Path) -> None:
    """With nothing cached, each function's first signature compiles, the first compile of a process included.

    (On 3.13 the first compile asked sysconfig for the first time; its lazy import of
    _sysconfigdata came back through the hook's scope check, which asked sysconfig again,
    half initialized: an internal error, the script's first function stayed bytecode, and
    the next import of a module in scope raised AttributeError in the program. A script
    that imports a module of its own first hid it: that import set sysconfig up.)
    """
    import json

    (tmp_path / "helper.py").write_text(textwrap.dedent(HELPER), encoding="utf-8")
    solo = PROGRAM.replace("    import helper\n", "").replace(", helper.scale(0.1, 3)", "")
    solo = solo.replace(
        "    print(type(helper.__loader__).__name__)\n", "    import helper\n    print(helper.scale(0.1, 3))\n"
    )
    (tmp_path / "prog.py").write_text(textwrap.dedent(solo), encoding="utf-8")
    report = tmp_path / "report.json"
    fast = run(["-m", "fastimport", f"--report={report}", "prog.py"], tmp_path, FASTIMPORT_CACHE="0")
    assert fast.returncode == 0, fast.stderr
    assert fast.stdout == run(["prog.py"], tmp_path).stdout
    records = {r["qualname"]: r for r in json.loads(report.read_text(encoding="utf-8"))}
    assert records["fib"]["signatures"][0] == "(int) -> int (annotation)"  # (where each signature came from)
    # Its first call's types, or the same types read off its call site by the compile-ahead thread
    # if that thread compiled it before the call: which comes first is a race (CI on 3.10 saw both).
    assert records["mean"]["signatures"][0] in {
        "(list[float]) -> float",
        "(list[float]) -> float (predicted: compiled ahead)",
    }
    assert records["scale"]["signatures"][0] == "(float, int) -> float (annotation)"
    assert all(records[name]["native_calls"] >= 1 for name in ("fib", "mean", "scale"))


def test_example_output_matches_python(tmp_path: Path) -> None:
    """examples/nbody.py prints the same under `python -m fastimport` as under python."""
    if not EXAMPLE.exists():
        pytest.skip("examples/nbody.py is not there yet")
    plain = run([str(EXAMPLE)], tmp_path)
    fast = run(["-m", "fastimport", str(EXAMPLE)], tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert (fast.returncode, fast.stdout) == (0, plain.stdout), fast.stderr
