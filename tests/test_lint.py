"""The tool configuration in pyproject.toml is honest: ruff passes on the whole tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = ["src", "tests", "benchmarks", "examples", "models"]


def _ruff() -> list[str]:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert found, "ruff is part of the tests extra: pip install '.[tests]'"
    return [found]


def test_ruff_check_passes() -> None:
    """`ruff check` reports nothing with the project's rules."""
    result = subprocess.run([*_ruff(), "check", *PATHS], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    """`ruff format --check` finds nothing to reformat."""
    result = subprocess.run(
        [*_ruff(), "format", "--check", *PATHS], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
