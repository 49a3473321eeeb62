"""Whole programs print the same bytes under `python -m fastimport` as under `python`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = sorted((Path(__file__).parent / "programs").glob("*.py"))


def _run(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, *args], capture_output=True, timeout=300, check=False, env=env)


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_program_output_is_unchanged(program: Path) -> None:
    """Stdout, stderr and the exit status match plain CPython's."""
    plain = _run(str(program))
    fast = _run("-m", "fastimport", str(program))
    assert plain.returncode == 0, plain.stderr.decode()
    assert (fast.stdout, fast.stderr, fast.returncode) == (plain.stdout, plain.stderr, plain.returncode)


def test_there_are_programs() -> None:
    """The programs directory is not empty (an empty parametrization would test nothing)."""
    assert PROGRAMS
