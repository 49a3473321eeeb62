"""A wheel that ships .pym artifacts: built, installed into a fresh venv, run with zero compilations.

The recipe of examples/shippkg/pyproject.toml, step by step: `fastimport compile` on the
package, `pip wheel`, then a new venv gets fastimport and the wheel (`pip install --no-deps`;
NumPy, llvmlite and the rest come from this environment through a .pth file, so no download
is needed), and the demo runs from a directory that does not hold the sources.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "shippkg"
TAG = sys.implementation.cache_tag

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        cmd, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the venv's python, a working directory): fastimport and the example's wheel installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    package = tmp / "shippkg"
    shutil.copytree(EXAMPLE, package, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    env = {"PYTHONPATH": str(ROOT / "src")}
    out = _run([sys.executable, "-m", "fastimport", "compile", str(package / "src" / "shippkg")], tmp, **env).stdout
    assert "5 specialization(s) compiled, 0 not compilable" in out
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(package), "-w", str(tmp / "dist")], tmp)
    (wheel,) = (tmp / "dist").glob("shippkg-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert f"shippkg/__pycache__/kernels.{TAG}.pym" in archive.namelist()
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp).stdout.strip())
    (site / "outer-env.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(ROOT), str(wheel)], tmp)
    work = tmp / "work"
    work.mkdir()
    shutil.copy(package / "demo.py", work / "demo.py")
    return python, work


def test_installed_wheel_runs_shipped_code_with_no_compilation(installed: tuple[Path, Path]) -> None:
    """Every kernel comes from the shipped .pym; the output is plain CPython's; LLVM is never loaded."""
    python, work = installed
    check = "import sys, runpy; runpy.run_path('demo.py'); print('llvmlite.binding' in sys.modules)"
    env = {"FASTIMPORT_CACHE_DIR": str(work / "cache"), "FASTIMPORT_REPORT": str(work / "report.json")}
    fast = _run([str(python), "-c", check], work, **env).stdout
    plain = _run([str(python), "-c", check], work, FASTIMPORT_DISABLE="1").stdout
    assert fast.splitlines()[:-1] == plain.splitlines()[:-1]
    assert fast.splitlines()[-1] == "False"
    records = {r["qualname"]: r for r in json.loads((work / "report.json").read_text(encoding="utf-8"))}
    assert set(records) == {"gcd", "collatz_steps", "smooth", "energy"}
    assert sum(r["compilations"] for r in records.values()) == 0
    assert sum(r["loaded"] for r in records.values()) == 5
    signatures = [s for r in records.values() for s in r["signatures"]]
    assert all(s.endswith("(from shipped .pym)") for s in signatures), signatures
    assert not list((work / "cache").rglob("*.pym"))  # nothing compiled, nothing cached


def test_shipped_artifact_for_another_source_is_not_used(installed: tuple[Path, Path]) -> None:
    """An installed module edited after the build: its artifact no longer fits, the kernels compile."""
    python, work = installed
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], work).stdout.strip()
    )
    kernels = site / "shippkg" / "kernels.py"
    original = kernels.read_text(encoding="utf-8")
    kernels.write_text(original.replace("steps += 1", "steps += 2"), encoding="utf-8")
    try:
        env = {"FASTIMPORT_CACHE": "0", "FASTIMPORT_REPORT": str(work / "edited.json")}
        out = _run([str(python), "demo.py"], work, **env).stdout
    finally:
        kernels.write_text(original, encoding="utf-8")
    assert out.splitlines()[0] == "21 222"  # the edited code ran
    records = json.loads((work / "edited.json").read_text(encoding="utf-8"))
    assert sum(r["loaded"] for r in records) == 0
    assert sum(r["compilations"] for r in records) == 5


def test_compile_command_reports_what_it_could_not_compile(tmp_path: Path) -> None:
    """Unsigned functions and functions outside the subset are listed; the summary counts them."""
    (tmp_path / "mod.py").write_text(
        "def add(a: int, b: int) -> int:\n    return a + b\n\n"
        "def unsigned(x):\n    return x\n\n"
        "def text(n: int) -> int:\n    return len(str(n))\n",
        encoding="utf-8",
    )
    result = _run([sys.executable, "-m", "fastimport", "compile", "mod.py"], tmp_path, PYTHONPATH=str(ROOT / "src"))
    assert "compiled: add(int, int)" in result.stdout
    assert "unsigned: unsigned (annotate it" in result.stdout
    assert "failed: text(int) [annotation]:" in result.stdout
    assert "1 specialization(s) compiled, 1 not compilable, 1 function(s) without a signature" in result.stdout
    assert (tmp_path / "__pycache__" / f"mod.{TAG}.pym").is_file()


def test_compile_command_rejects_a_missing_path(tmp_path: Path) -> None:
    """A path that is neither a file, a directory nor an installed module: exit 2 and a message."""
    result = subprocess.run(
        [sys.executable, "-m", "fastimport", "compile", "no_such_thing_xyz"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "no such file, directory or installed module" in result.stderr


def test_the_best_fitting_variant_is_loaded(tmp_path: Path) -> None:
    """With --cpu both, the host variant is loaded; one needing a CPU flag this host lacks is passed over."""
    from fastimport.runtime import pym

    (tmp_path / "mod.py").write_text("def add(a: int, b: int) -> int:\n    return a + b\n", encoding="utf-8")
    (tmp_path / "main.py").write_text("import mod\n\nprint(mod.add(2, 3))\n", encoding="utf-8")
    env = {"PYTHONPATH": str(ROOT / "src")}
    _run([sys.executable, "-m", "fastimport", "compile", "--cpu", "both", "mod.py"], tmp_path, **env)
    run_env = {**env, "FASTIMPORT_CACHE": "0", "FASTIMPORT_DEBUG": "1"}
    host = tmp_path / "__pycache__" / f"mod.{TAG}.host.pym"
    result = _run([sys.executable, "-m", "fastimport", "main.py"], tmp_path, **run_env)
    assert result.stdout == "5\n"
    assert f"loaded from {host}" in result.stderr
    artifact = pym.decode(host.read_bytes())
    header = {k: v for k, v in artifact.header.items() if k != "sections"}
    host.write_bytes(pym.encode({**header, "features": [*header["features"], "fi_no_such_flag"]}, artifact.sections))
    result = _run([sys.executable, "-m", "fastimport", "main.py"], tmp_path, **run_env)
    assert result.stdout == "5\n"
    assert f"loaded from {host.with_name(f'mod.{TAG}.pym')} (x86-64-v3)" in result.stderr


def test_compile_command_takes_an_installed_package_by_name(installed: tuple[Path, Path]) -> None:
    """`fastimport compile shippkg --cpu host` finds the installed package and writes its host variant there."""
    python, work = installed
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(_run([str(python), "-c", purelib], work).stdout.strip())
    host = site / "shippkg" / "__pycache__" / f"kernels.{TAG}.host.pym"
    # The wheel has no pyproject.toml: the signatures of the unannotated kernels come from the current project.
    pyproject = EXAMPLE / "pyproject.toml"
    signatures = pyproject.read_text(encoding="utf-8").partition("[tool.fastimport.signatures]")[2]
    (work / "pyproject.toml").write_text("[tool.fastimport.signatures]" + signatures, encoding="utf-8")
    try:
        out = _run([str(python), "-m", "fastimport", "compile", "--cpu", "host", "shippkg"], work).stdout
        assert "5 specialization(s) compiled" in out
        assert host.is_file()
        env = {"FASTIMPORT_CACHE": "0", "FASTIMPORT_DEBUG": "1"}
        err = _run([str(python), "demo.py"], work, **env).stderr
        assert f"loaded from {host}" in err
    finally:
        host.unlink(missing_ok=True)
        (work / "pyproject.toml").unlink()
