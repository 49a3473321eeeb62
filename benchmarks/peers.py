"""The out-of-process peers: PyPy (the same kernel file, run by pypy3) and C (a hand-written equivalent).

Both get exactly CPython's inputs (arrays through files), time the kernel inside their own
process and print JSON; their result is compared with CPython's before any time counts.
A peer that is missing (no pypy3, no NumPy under PyPy, no gcc, no C file) is "n/a" with
the reason, never an error of the run.

    pypy = find_pypy()                        -> Interpreter(executable, version, numpy) | str (why not)
    run_pypy(pypy, kernel, args, expected, budget)   -> PeerResult
    cc = find_cc(build_dir)                   -> Compiler(path, version, build_dir, flags) | str (why not)
    run_c(cc, kernel, args, expected, repeats)       -> PeerResult

C is compiled with `-O3 -march=native -std=c11 -ffp-contract=off`: in GNU modes GCC
contracts `a * b + c` into one FMA instruction on FMA hardware, which rounds once instead
of twice and changes the bits; ISO C11 mode (and the explicit flag) keeps every operation
the IEEE operation Python performs, so the C results can be compared bit for bit.
"""

# ruff: noqa: S603 - subprocesses run the benchmark's own fixed commands

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.suite import describe, peer_equal, same

if TYPE_CHECKING:
    from benchmarks.suite import Kernel

BENCH_DIR = Path(__file__).resolve().parent
C_DIR = BENCH_DIR / "c"
PYPY_VENV = BENCH_DIR / ".venv-pypy"  # made by `python -m benchmarks --setup-pypy`
C_FLAGS = ["-O3", "-march=native", "-std=c11", "-ffp-contract=off"]
PYPY_TIMEOUT_S = 900
C_TIMEOUT_S = 300


@dataclass
class PeerResult:
    """One peer's run of one kernel: "ok" (times count), "n/a", "wrong" (result differs) or "failed"."""

    status: str
    note: str | None = None
    times_s: list[float] = field(default_factory=list)
    warmup_s: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """For results.json."""
        return asdict(self)


@dataclass(frozen=True)
class Interpreter:
    """A PyPy found on this machine."""

    executable: str
    version: str
    numpy: str | None  # NumPy's version under this PyPy, None if not importable


@dataclass(frozen=True)
class Compiler:
    """A C compiler found on this machine, and the directory it builds the peers into (once each)."""

    path: str
    version: str
    build_dir: Path
    flags: tuple[str, ...] = tuple(C_FLAGS)


_PROBE = (
    "import json, platform, sys\n"
    "try:\n    import numpy\n    v = numpy.__version__\nexcept Exception:\n    v = None\n"
    "print(json.dumps({'version': 'PyPy %s (Python %s)' % ("
    "'.'.join(map(str, sys.pypy_version_info[:3])), platform.python_version()), 'numpy': v}))\n"
)


def find_pypy(explicit: str | None = None) -> Interpreter | str:
    """PyPy: `explicit`, else benchmarks/.venv-pypy (has NumPy), else `pypy3` on PATH; or why there is none."""
    candidates = [explicit] if explicit else [str(PYPY_VENV / "bin" / "pypy3"), shutil.which("pypy3") or ""]
    why = "no pypy3 on PATH"
    for exe in filter(None, candidates):
        if not Path(exe).exists() and not shutil.which(exe):
            why = f"{exe} not found"
            continue
        try:
            proc = subprocess.run([exe, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=False)
            info = json.loads(proc.stdout.strip().splitlines()[-1])
        except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
            why = f"{exe} does not run"
            continue
        return Interpreter(exe, info["version"], info["numpy"])
    return why


def setup_pypy() -> int:
    """Make benchmarks/.venv-pypy: a PyPy venv with NumPy from the package index, for the array kernels."""
    pypy = shutil.which("pypy3")
    if pypy is None:
        print("no pypy3 on PATH (Debian: apt-get install -y pypy3)", file=sys.stderr)
        return 1
    if subprocess.run([pypy, "-m", "venv", str(PYPY_VENV)], check=False).returncode != 0:
        return 1
    exe = str(PYPY_VENV / "bin" / "pypy3")
    return subprocess.run([exe, "-m", "pip", "install", "--only-binary=:all:", "numpy"], check=False).returncode


def find_cc(build_dir: Path) -> Compiler | str:
    """The C compiler, GCC (the peers' flags are GCC's) building into `build_dir`, or why there is none."""
    path = shutil.which("gcc")
    if path is None:
        return "no gcc on PATH"
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return f"{path} does not run"
    return Compiler(path, (proc.stdout.splitlines() or ["?"])[0], build_dir)


def pypy_skip_reason(pypy: Interpreter | str, kernel: Kernel) -> str | None:
    """Why PyPy does not run `kernel` (no PyPy, or an array kernel without NumPy under PyPy), or None."""
    if isinstance(pypy, str):
        return f"not available: {pypy}"
    if kernel.uses_numpy and pypy.numpy is None:
        return "not available: NumPy not importable under PyPy (`python -m benchmarks --setup-pypy` installs it)"
    return None


@dataclass(frozen=True)
class PyPyBudget:
    """How long PyPy may take for one kernel: warm-up calls, then timed calls within a time budget."""

    warmups: int
    warmup_budget_s: float
    repeats: int
    min_repeats: int
    budget_s: float


def run_pypy(
    pypy: Interpreter | str,
    kernel: Kernel,
    args: tuple[Any, ...],
    expected: Any,  # noqa: ANN401
    budget: PyPyBudget,
) -> PeerResult:
    """Time `kernel(*args)` in a PyPy process (peer_pypy.py) and check its result against `expected`."""
    skip = pypy_skip_reason(pypy, kernel)
    if skip or isinstance(pypy, str):
        return PeerResult("n/a", skip)
    with tempfile.TemporaryDirectory(prefix="fastimport-bench-pypy-") as tmp:
        specs: list[dict[str, Any]] = []
        for i, arg in enumerate(args):
            if isinstance(arg, np.ndarray):
                path = str(Path(tmp, f"arg{i}.npy"))
                np.save(path, arg)
                specs.append({"npy": path})
            else:
                specs.append({"value": arg})
        job = {
            "kernel": str(kernel.path),
            "entry": kernel.entry,
            "args": specs,
            "result": str(Path(tmp, "result.npy")),
            **asdict(budget),
        }
        job_path = Path(tmp, "job.json")
        job_path.write_text(json.dumps(job), encoding="utf-8")
        cmd = [pypy.executable, str(BENCH_DIR / "peer_pypy.py"), str(job_path)]
        out = _run_json(cmd, PYPY_TIMEOUT_S)
        if isinstance(out, str):
            return PeerResult("failed", out)
        value = _decode_pypy(out["result"])
    if not out["consistent"]:
        return PeerResult("wrong", "PyPy's calls returned different results", out["times_s"], out["warmup_s"])
    if not same(value, expected):
        note = f"PyPy returned {describe(value)} ({type(value).__name__}), CPython {describe(expected)}"
        return PeerResult("wrong", note, out["times_s"], out["warmup_s"])
    return PeerResult("ok", None, out["times_s"], out["warmup_s"])


def _decode_pypy(encoded: dict[str, Any]) -> Any:  # noqa: ANN401
    if "npy" in encoded:
        array = np.load(encoded["npy"])
        return array[()] if encoded["scalar"] else array
    if "float" in encoded:
        return float.fromhex(encoded["float"])
    if "int" in encoded:
        return int(encoded["int"])
    if "bool" in encoded:
        return bool(encoded["bool"])
    return encoded.get("repr")


def c_skip_reason(cc: Compiler | str, kernel: Kernel) -> str | None:
    """Why there is no C time for `kernel`, or None."""
    if kernel.c_file is None:
        return "no C version written"
    if isinstance(cc, str):
        return f"not available: {cc}"
    return None


def build_c(cc: Compiler, kernel: Kernel) -> Path | str:
    """Compile the kernel's C file into the build directory; the executable, or the compiler's complaint."""
    if kernel.c_file is None:
        raise ValueError(f"{kernel.name} has no C version")
    source = C_DIR / kernel.c_file
    exe = cc.build_dir / source.stem
    if exe.exists():
        return exe
    cmd = [cc.path, *cc.flags, "-o", str(exe), str(source), "-lm"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=C_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{' '.join(cmd)}: {e}"
    if proc.returncode != 0:
        return f"{' '.join(cmd)} failed: {proc.stderr.strip()[-300:]}"
    return exe


def c_words(args: tuple[Any, ...], tmp: Path) -> list[str]:
    """The C program's arguments for the Python call's: numbers as words, arrays as file + dimensions."""
    words: list[str] = []
    for i, arg in enumerate(args):
        if isinstance(arg, np.ndarray):
            path = tmp / f"arg{i}.bin"
            np.ascontiguousarray(arg).tofile(path)
            words += [str(path), *map(str, arg.shape)]
        elif isinstance(arg, bool):
            words.append(str(int(arg)))
        else:  # int, or a float whose repr strtod reads back to the same double
            words.append(repr(arg))
    return words


def run_c(
    cc: Compiler | str,
    kernel: Kernel,
    args: tuple[Any, ...],
    expected: Any,  # noqa: ANN401
    repeats: int,
) -> PeerResult:
    """Compile (once per build directory) and time the kernel's C version; check its result against `expected`."""
    skip = c_skip_reason(cc, kernel)
    if skip or isinstance(cc, str):
        return PeerResult("n/a", skip)
    exe = build_c(cc, kernel)
    if isinstance(exe, str):
        return PeerResult("failed", exe)
    with tempfile.TemporaryDirectory(prefix="fastimport-bench-c-") as tmp:
        out_path = Path(tmp, "result.bin")
        cmd = [str(exe), str(repeats), str(out_path), *c_words(args, Path(tmp))]
        out = _run_json(cmd, C_TIMEOUT_S)
        if isinstance(out, str):
            return PeerResult("failed", out)
        try:
            value = _decode_c(out["result"], out_path)
        except (OSError, ValueError) as e:
            return PeerResult("failed", f"unreadable C result: {e}")
    if not peer_equal(value, expected):
        return PeerResult("wrong", f"C returned {describe(value)}, CPython {describe(expected)}", out["times_s"])
    return PeerResult("ok", None, out["times_s"])


def _decode_c(encoded: dict[str, Any], out_path: Path) -> Any:  # noqa: ANN401
    if "array" in encoded:
        shape = tuple(encoded["shape"])
        return np.fromfile(out_path, dtype=encoded["array"]).reshape(shape)
    if "float" in encoded:
        return float.fromhex(encoded["float"])
    return int(encoded["int"])


def _run_json(cmd: list[str], timeout: float) -> dict[str, Any] | str:
    """The JSON object a peer prints as its last line, or what went wrong."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    except OSError as e:
        return f"{cmd[0]}: {e}"
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return f"exit status {proc.returncode}: {tail[-300:]}"
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return f"no JSON on stdout: {proc.stdout.strip()[-200:]!r}"
