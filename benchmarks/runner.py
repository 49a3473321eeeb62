"""`python -m benchmarks`: every measurement side by side in one run, then RESULTS.md and speedup.png.

    python -m benchmarks             full run; writes benchmarks/RESULTS.md, results.json, speedup.png
    python -m benchmarks --quick     smoke mode: small sizes, few repeats, prints only (unless --out)
    python -m benchmarks --setup-pypy    once: a PyPy venv with NumPy (benchmarks/.venv-pypy)

Sections: kernels (CPython, fastimport warm/first call, Numba warm/first call, PyPy, C),
call overhead per Python version, compile latency, start-up overhead.
Every timing is a median over repeats; every result is checked against CPython's
before its time counts. Nothing here asserts a timing.
"""

# ruff: noqa: S603, S607 - subprocesses run fixed commands: Python interpreters, git

from __future__ import annotations

import argparse
import gc
import glob
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.peers import Compiler, Interpreter, PyPyBudget, find_cc, find_pypy, run_c, run_pypy, setup_pypy
from benchmarks.suite import KERNELS, Kernel, describe, numba_available, numba_module, peer_equal, same
from fastimport.testing import compile_module, plain_module, record_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastimport.runtime.registry import FunctionRecord

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent


@dataclass
class Plan:
    """Sizes and repeat counts for one run."""

    size: str
    cpython_repeats: int
    warm_repeats: int
    first_call_repeats: int
    call_number: int
    call_repeats: int
    startup_runs: int
    c_repeats: int
    pypy: PyPyBudget


FULL = Plan(
    "full",
    5,
    warm_repeats=9,
    first_call_repeats=5,
    call_number=1_000_000,
    call_repeats=7,
    startup_runs=21,
    c_repeats=9,
    # PyPy runs the array kernels 10-100x slower than CPython (each element access goes
    # through cpyext): a time budget keeps the whole run near 10 minutes.
    pypy=PyPyBudget(warmups=3, warmup_budget_s=2.0, repeats=7, min_repeats=3, budget_s=6.0),
)
QUICK = Plan(
    "quick",
    3,
    warm_repeats=3,
    first_call_repeats=2,
    call_number=100_000,
    call_repeats=3,
    startup_runs=5,
    c_repeats=3,
    pypy=PyPyBudget(warmups=1, warmup_budget_s=1.0, repeats=3, min_repeats=1, budget_s=2.0),
)


def log(msg: str) -> None:
    """Progress on stderr (stdout carries the report)."""
    print(msg, file=sys.stderr, flush=True)


def timed_call(func: Callable[..., Any], args: tuple[Any, ...]) -> tuple[float, Any]:
    """(seconds, result) of one call, with the garbage collector off as timeit does."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        result = func(*args)
        t1 = time.perf_counter()
    finally:
        if enabled:
            gc.enable()
    return t1 - t0, result


def median(values: list[float]) -> float | None:
    """The median, or None for no values."""
    return statistics.median(values) if values else None


# --- 1. kernels ------------------------------------------------------------------------


@dataclass
class KernelResult:
    """All samples of one kernel (seconds; compile times in ms) and what the checks found."""

    name: str
    kind: str
    group: str
    call: str
    expected: str
    expected_native: bool
    cpython_s: list[float] = field(default_factory=list)
    fast_warm_s: list[float] = field(default_factory=list)
    fast_first_s: list[float] = field(default_factory=list)
    fast_compile_ms: list[float] = field(default_factory=list)
    fast_status: str = ""
    fast_reason: str | None = None
    fast_signatures: list[str] = field(default_factory=list)
    fast_ok: bool = True
    numba_warm_s: list[float] = field(default_factory=list)
    numba_first_s: list[float] = field(default_factory=list)
    numba_ok: bool | None = None  # None: Numba not measured
    numba_error: str | None = None
    pypy: dict[str, Any] = field(default_factory=dict)  # PeerResult.as_dict()
    c: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def warm_up_jits(*, with_numba: bool) -> None:
    """Pay LLVM's one-time set-up (and Numba's) outside every measurement."""
    compile_module("def warm_up(x):\n    return x + 1\n").warm_up(1)
    if with_numba:
        numba_module("def warm_up(x):\n    return x + 1\n").warm_up(1)


@dataclass(frozen=True)
class _Job:
    src: str
    file: str
    entry: str
    args: tuple[Any, ...]
    expected: Any


@dataclass(frozen=True)
class Peers:
    """The out-of-process peers of this run: each found, or why not."""

    pypy: Interpreter | str
    cc: Compiler | str


def bench_kernel(kernel: Kernel, plan: Plan, *, with_numba: bool, peers: Peers) -> KernelResult:
    """Time `kernel` under CPython, fastimport, Numba (optional), PyPy and C, checking every result.

    The inputs are built once, outside every timing; no kernel writes into its arguments
    (each allocates its outputs), so every call does the same work.
    """
    src = kernel.source()
    args = kernel.make_args(plan.size)
    plain = getattr(plain_module(src), kernel.entry)
    _, expected = timed_call(plain, args)  # the reference; also warms CPython's specializing interpreter
    res = KernelResult(
        kernel.name,
        kernel.kind,
        kernel.group,
        kernel.call_text(plan.size),
        describe(expected),
        kernel.expected_native,
    )
    for _ in range(plan.cpython_repeats):
        seconds, value = timed_call(plain, args)
        if same(value, expected):
            res.cpython_s.append(seconds)
        else:  # CPython against itself: a non-deterministic kernel
            res.problems.append(f"CPython returned {describe(value)} then {describe(expected)}")
    job = _Job(src, kernel.file, kernel.entry, args, expected)
    _bench_fastimport(res, job, plan)
    if with_numba:
        try:
            _bench_numba(res, job, plan)
        except Exception as e:  # noqa: BLE001 - Numba rejecting a kernel is a result, not a crash
            res.numba_ok = False
            res.numba_error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            res.problems.append(f"Numba failed: {res.numba_error}")
    pypy = run_pypy(peers.pypy, kernel, args, expected, plan.pypy)
    c = run_c(peers.cc, kernel, args, expected, plan.c_repeats)
    res.pypy, res.c = pypy.as_dict(), c.as_dict()
    for name, peer in (("PyPy", pypy), ("C", c)):
        if peer.status in {"wrong", "failed"}:
            res.problems.append(f"{name} {peer.status}: {peer.note}")
    return res


def _bench_fastimport(res: KernelResult, job: _Job, plan: Plan) -> None:
    def check(value: Any, what: str) -> bool:  # noqa: ANN401
        if same(value, job.expected):
            return True
        res.fast_ok = False
        res.problems.append(
            f"fastimport {what} returned {describe(value)} ({type(value).__name__}), CPython {describe(job.expected)}"
        )
        return False

    # Every repeat of the first call is a fresh module, so a fresh compile.
    fast = None
    for _ in range(plan.first_call_repeats):
        fast = getattr(compile_module(job.src), job.entry)
        seconds, value = timed_call(fast, job.args)
        if check(value, "first call"):
            res.fast_first_s.append(seconds)
            res.fast_compile_ms.append(record_of(fast).compile_ms)
    if fast is None:
        raise ValueError("first_call_repeats must be >= 1")
    for _ in range(plan.warm_repeats):
        seconds, value = timed_call(fast, job.args)
        if check(value, "warm call"):
            res.fast_warm_s.append(seconds)
    _record_status(res, record_of(fast), job)


def _record_status(res: KernelResult, record: FunctionRecord, job: _Job) -> None:
    res.fast_status, res.fast_reason, res.fast_signatures = record.status, record.reason, list(record.signatures)
    if res.fast_reason:  # the reason names compile_module's temporary copy of the kernel file
        res.fast_reason = re.sub(r"\S*/fi_native_\d+\.py", job.file, res.fast_reason)
    if record.deopts:
        res.problems.append(f"fastimport: {record.deopts} deopts")
    if (record.status == "native") != res.expected_native:
        res.problems.append(
            f"fastimport status {record.status}, expected {'native' if res.expected_native else 'bytecode'} "
            "(update expected_native in benchmarks/suite.py)"
        )


def _bench_numba(res: KernelResult, job: _Job, plan: Plan) -> None:
    def check(value: Any) -> bool:  # noqa: ANN401
        if peer_equal(value, job.expected):
            return True
        res.numba_ok = False
        res.problems.append(f"Numba returned {describe(value)}, CPython {describe(job.expected)}")
        return False

    res.numba_ok = True
    nb = None
    for _ in range(plan.first_call_repeats):
        nb = getattr(numba_module(job.src), job.entry)  # a fresh dispatcher: a fresh compile
        seconds, value = timed_call(nb, job.args)
        if check(value):
            res.numba_first_s.append(seconds)
    if nb is None:
        raise ValueError("first_call_repeats must be >= 1")
    for _ in range(plan.warm_repeats):
        seconds, value = timed_call(nb, job.args)
        if check(value):
            res.numba_warm_s.append(seconds)


def bench_kernels(plan: Plan, only: list[str] | None, *, with_numba: bool, peers: Peers) -> list[KernelResult]:
    """`bench_kernel` for every kernel (or those named in `only`), problems logged as they come."""
    warm_up_jits(with_numba=with_numba)
    out = []
    for kernel in KERNELS:
        if only and kernel.name not in only:
            continue
        log(f"  kernel {kernel.name} {kernel.call_text(plan.size)}")
        out.append(bench_kernel(kernel, plan, with_numba=with_numba, peers=peers))
        for problem in out[-1].problems:
            log(f"    {problem}")
    return out


# --- 2. call overhead per Python version ----------------------------------------------------


def find_pythons() -> list[str]:
    """This interpreter plus every CPython 3.10-3.13 under ~/.pyenv/versions, one per minor version."""
    found = {f"{sys.version_info.major}.{sys.version_info.minor}": sys.executable}
    for path in sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[0-9]*/bin/python"))):
        version = Path(path).parent.parent.name  # e.g. 3.12.1
        minor = ".".join(version.split(".")[:2])
        if minor in {"3.10", "3.11", "3.12", "3.13"}:
            found.setdefault(minor, path)
    return [found[k] for k in sorted(found, key=lambda v: tuple(map(int, v.split("."))))]


def subprocess_env() -> dict[str, str]:
    """This environment, with src/ and the repository on PYTHONPATH and no FASTIMPORT_* settings."""
    env = dict(os.environ)
    extra = [str(REPO / "src"), str(REPO)]
    env["PYTHONPATH"] = os.pathsep.join(extra + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    for var in list(env):
        if var.startswith("FASTIMPORT_"):
            del env[var]  # measure the defaults
    return env


def bench_call_overhead(plan: Plan) -> list[dict[str, Any]]:
    """`benchmarks.calloverhead` in a subprocess of every Python version found."""
    out = []
    for python in find_pythons():
        cmd = [python, "-m", "benchmarks.calloverhead", "--number", str(plan.call_number)]
        cmd += ["--repeat", str(plan.call_repeats)]
        log(f"  call overhead: {python}")
        env = subprocess_env()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False, timeout=900)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
            out.append({"executable": python, "error": tail})
            continue
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        data["executable"] = python
        out.append(data)
    return out


# --- 4. start-up overhead ------------------------------------------------------------------

STARTUP_SCRIPTS = {
    "empty.py": "x = 1\n",
    "uncalled.py": (
        "import math\n\n\n"
        "def area(r):\n    return math.pi * r * r\n\n\n"
        "def total(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n"
    ),
}
FIB_SCRIPT = "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\n\nprint(fib(27))\n"
FIB_NUMBA_SCRIPT = "from numba import njit\n\n\n@njit\n" + FIB_SCRIPT


def run_wall(cmd: list[str], cwd: str, env: dict[str, str]) -> tuple[float, str]:
    """(wall seconds, stdout) of one process; raises if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()[-500:]}")
    return seconds, proc.stdout


def bench_startup(plan: Plan, *, with_numba: bool) -> dict[str, Any]:
    """Wall time of whole processes, interleaved run by run; medians in ms (the scripts in a temporary directory)."""
    with tempfile.TemporaryDirectory(prefix="fastimport-bench-startup-") as tmp:
        return _bench_startup_in(tmp, plan, with_numba=with_numba)


def _bench_startup_in(tmp: str, plan: Plan, *, with_numba: bool) -> dict[str, Any]:
    env = subprocess_env()
    # An installed package has its bytecode (pip compiles it); with PYTHONDONTWRITEBYTECODE set
    # every run would compile fastimport's own sources again (~25 ms) and measure that instead.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["FASTIMPORT_CACHE"] = "0"  # fib27 includes its compile (warm runs: bench_warm)
    py = sys.executable
    for name, text in {**STARTUP_SCRIPTS, "fib27.py": FIB_SCRIPT, "fib27_numba.py": FIB_NUMBA_SCRIPT}.items():
        Path(tmp, name).write_text(text, encoding="utf-8")
    commands = {
        "python empty.py": [py, "empty.py"],
        "python -m fastimport empty.py": [py, "-m", "fastimport", "empty.py"],
        "python uncalled.py": [py, "uncalled.py"],
        "python -m fastimport uncalled.py": [py, "-m", "fastimport", "uncalled.py"],
        "python fib27.py": [py, "fib27.py"],
        "python -m fastimport fib27.py": [py, "-m", "fastimport", "fib27.py"],
    }
    if with_numba:
        commands["python fib27_numba.py (@njit)"] = [py, "fib27_numba.py"]
    samples: dict[str, list[float]] = {k: [] for k in commands}
    outputs: dict[str, set[str]] = {k: set() for k in commands}
    for cmd in commands.values():  # one untimed run each: warm the OS page cache and __pycache__
        run_wall(cmd, tmp, env)
    for _ in range(plan.startup_runs):
        for name, cmd in commands.items():
            seconds, stdout = run_wall(cmd, tmp, env)
            samples[name].append(seconds * 1000)
            outputs[name].add(stdout.strip())
    fib_outputs = {o for k, v in outputs.items() if "fib27" in k for o in v}
    return {
        "runs": plan.startup_runs,
        "median_ms": {k: statistics.median(v) for k, v in samples.items()},
        "samples_ms": samples,
        "fib_outputs_agree": fib_outputs == {"196418"},
    }


# --- 5. warm runs: the .pym cache ----------------------------------------------------------

WARM_EXAMPLE = REPO / "examples" / "signal_stats.py"
AHEAD_EXAMPLE = REPO / "examples" / "pipeline.py"


def numba_variant(source: str) -> str:
    """The same program with `@njit(cache=True)` on every module-level function."""
    lines = ["from numba import njit"]
    for line in source.splitlines():
        if line.startswith("def "):
            lines.append("@njit(cache=True)")
        lines.append(line)
    return "\n".join(lines) + "\n"


def bench_warm(plan: Plan, *, with_numba: bool) -> dict[str, Any]:
    """Whole runs of examples/signal_stats.py (12 compiled functions): plain, cold, warm, Numba's cached run."""
    with tempfile.TemporaryDirectory(prefix="fastimport-bench-warm-") as tmp:
        return _bench_warm_in(Path(tmp), plan, with_numba=with_numba)


def _bench_warm_in(tmp: Path, plan: Plan, *, with_numba: bool) -> dict[str, Any]:
    env = subprocess_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode in __pycache__
    source = WARM_EXAMPLE.read_text(encoding="utf-8")
    (tmp / "signal_stats.py").write_text(source, encoding="utf-8")
    (tmp / "signal_stats_numba.py").write_text(numba_variant(source), encoding="utf-8")
    py = sys.executable
    fast = [py, "-m", "fastimport", "signal_stats.py"]
    warm_env = {**env, "FASTIMPORT_CACHE_DIR": str(tmp / "fi")}
    ahead_env = {**env, "FASTIMPORT_CACHE_DIR": str(tmp / "fa")}  # its .pym removed before each run (issue #5)
    numba_env = {**env, "NUMBA_CACHE_DIR": str(tmp / "nb")}
    commands: dict[str, tuple[list[str], dict[str, str]]] = {}
    # A short signal (start-up dominates: the overhead), then the default one (the work dominates).
    for args in (["300"], []):
        tail = "".join(f" {a}" for a in args)
        commands[f"python signal_stats.py{tail}"] = ([py, "signal_stats.py", *args], env)
        no_cache = {**env, "FASTIMPORT_CACHE": "0"}
        commands[f"python -m fastimport signal_stats.py{tail} (no cache: compiles)"] = ([*fast, *args], no_cache)
        commands[f"python -m fastimport signal_stats.py{tail} (warm .pym cache)"] = ([*fast, *args], warm_env)
        ahead = f"python -m fastimport signal_stats.py{tail} (no .pym, observed types: compiles ahead)"
        commands[ahead] = ([*fast, *args], ahead_env)
        if with_numba:
            numba = [py, "signal_stats_numba.py", *args]
            commands[f"python signal_stats_numba.py{tail} (@njit(cache=True), warm cache)"] = (numba, numba_env)
    samples: dict[str, list[float]] = {k: [] for k in commands}
    outputs: dict[str, set[str]] = {k: set() for k in commands}
    for cmd, cmd_env in commands.values():  # untimed: fills __pycache__ and both caches
        _run_env(cmd, tmp, cmd_env)
    for _ in range(plan.startup_runs):
        for name, (cmd, cmd_env) in commands.items():
            if cmd_env is ahead_env:  # a cold run that knows the types the earlier runs observed
                for artifact in (tmp / "fa").glob("*/*.pym"):
                    artifact.unlink()
            seconds, stdout = _run_env(cmd, tmp, cmd_env)
            samples[name].append(seconds * 1000)
            outputs[name].add(stdout.strip())
    report = tmp / "report.json"
    _run_env([*fast, "300"], tmp, {**warm_env, "FASTIMPORT_REPORT": str(report)})
    records = json.loads(report.read_text(encoding="utf-8"))
    return {
        "runs": plan.startup_runs,
        "functions": len(records),
        "compilations_warm": sum(r["compilations"] for r in records),
        "loaded_warm": sum(r["loaded"] for r in records),
        **_module_loads(tmp / "two", source, warm_env, plan.startup_runs),
        "median_ms": {k: statistics.median(v) for k, v in samples.items()},
        "samples_ms": samples,
        "outputs_agree": all(
            len({o for k, v in outputs.items() if (" 300" in k) == short for o in v}) == 1 for short in (True, False)
        ),
    }


# --- 6. compiling ahead from predicted types ------------------------------------------------


def bench_ahead(plan: Plan) -> dict[str, Any]:
    """Cold runs of examples/pipeline.py (no .pym, no observations): predictions off and on, and plain python.

    The program spends its first second in plain Python (parsing records), then calls five
    kernels once each: with predictions, they are compiled on the thread meanwhile.
    """
    with tempfile.TemporaryDirectory(prefix="fastimport-bench-ahead-") as tmp:
        return _bench_ahead_in(Path(tmp), plan)


def _bench_ahead_in(tmp: Path, plan: Plan) -> dict[str, Any]:
    env = subprocess_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    (tmp / "pipeline.py").write_text(AHEAD_EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    py = sys.executable
    args = ["20000"] if plan is QUICK else []  # (the default: 200,000 records)
    cold = {**env, "FASTIMPORT_CACHE": "0"}  # every run compiles, and none has observations to go on
    fast = [py, "-m", "fastimport", "pipeline.py", *args]
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "python pipeline.py": ([py, "pipeline.py", *args], env),
        "python -m fastimport pipeline.py (cold, FASTIMPORT_PREDICT=0)": (fast, {**cold, "FASTIMPORT_PREDICT": "0"}),
        "python -m fastimport pipeline.py (cold, FASTIMPORT_PREDICT=1)": (
            fast,
            {**cold, "FASTIMPORT_PREDICT": "1"},
        ),
    }
    samples: dict[str, list[float]] = {k: [] for k in commands}
    outputs: dict[str, set[str]] = {k: set() for k in commands}
    for cmd, cmd_env in commands.values():  # untimed: fills __pycache__
        _run_env(cmd, tmp, cmd_env)
    for _ in range(plan.startup_runs):
        for name, (cmd, cmd_env) in commands.items():
            seconds, stdout = _run_env(cmd, tmp, cmd_env)
            samples[name].append(seconds * 1000)
            outputs[name].add(stdout.strip())
    report = tmp / "report.json"
    _run_env(
        fast,
        tmp,
        {**cold, "FASTIMPORT_PREDICT": "1", "FASTIMPORT_REPORT": str(report)},
    )
    records = json.loads(report.read_text(encoding="utf-8"))
    return {
        "runs": plan.startup_runs,
        "records": int(args[0]) if args else 200_000,
        "functions": len(records),
        "predicted_ahead": sum(s.endswith("(predicted: compiled ahead)") for r in records for s in r["signatures"]),
        "signatures": {r["qualname"]: r["signatures"] for r in records},
        "median_ms": {k: statistics.median(v) for k, v in samples.items()},
        "samples_ms": samples,
        "outputs_agree": len({o for v in outputs.values() for o in v}) == 1,
    }


def _module_loads(tmp: Path, source: str, env: dict[str, str], runs: int) -> dict[str, Any]:
    """The report's `load_ms` per module, in warm runs of a program importing two copies of the example.

    The first module pays for importing the loader and for what is set up once per process
    (the runtime's code, the C-API names); the second is what each further module costs.
    """
    tmp.mkdir()
    for stem in ("stats_a", "stats_b"):
        (tmp / f"{stem}.py").write_text(source, encoding="utf-8")
    (tmp / "main.py").write_text("import stats_a\nimport stats_b\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "fastimport", "main.py", "300"]
    _run_env(cmd, tmp, env)  # untimed: fills __pycache__ and the cache
    samples: dict[str, list[float]] = {"stats_a": [], "stats_b": []}
    all_loaded = True
    for _ in range(runs):
        report = tmp / "report.json"
        _run_env(cmd, tmp, {**env, "FASTIMPORT_REPORT": str(report)})
        for module, values in samples.items():
            records = [r for r in json.loads(report.read_text(encoding="utf-8")) if r["module"] == module]
            all_loaded &= bool(records) and all(r["compilations"] == 0 and r["loaded"] > 0 for r in records)
            values.append(sum(r["load_ms"] for r in records))
    return {
        "module_load_ms": statistics.median(samples["stats_a"]),
        "further_module_load_ms": statistics.median(samples["stats_b"]),
        "module_load_samples_ms": samples,
        "modules_all_loaded": all_loaded,
    }


def _run_env(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    return run_wall(cmd, str(cwd), env)


# --- machine -------------------------------------------------------------------------------


def machine_info(*, with_numba: bool, peers: Peers | None = None) -> dict[str, Any]:
    """CPU, OS and the versions of everything measured."""
    import llvmlite  # imported by fastimport only when it compiles
    import llvmlite.binding as llvm

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        "llvmlite": llvmlite.__version__,
        "llvm": ".".join(map(str, llvm.llvm_version_info)),
        "numba": None,
        "numpy": None,
        "fastimport_commit": _git(["rev-parse", "--short", "HEAD"]),
        "fastimport_path": str(Path(sys.modules["fastimport"].__file__ or "?").parent),
        "fastimport_tree_dirty": bool(_git(["status", "--porcelain", "--untracked-files=no"])),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "pypy": None,
        "cc": None,
    }
    if peers is not None:
        p = peers.pypy
        info["pypy"] = p if isinstance(p, str) else {"executable": p.executable, "version": p.version, "numpy": p.numpy}
        c = peers.cc
        info["cc"] = c if isinstance(c, str) else {"path": c.path, "version": c.version, "flags": " ".join(c.flags)}
    try:
        import numpy as np  # reported only

        info["numpy"] = np.__version__
    except ImportError:
        pass
    if with_numba:
        import numba  # optional peer

        info["numba"] = numba.__version__
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _git(args: list[str]) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def loadavg() -> str:
    """The 1/5/15-minute load averages."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


# --- main ----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (a smoke test)")
    parser.add_argument("--no-numba", action="store_true", help="leave Numba out even if it is importable")
    parser.add_argument("--no-pypy", action="store_true", help="leave PyPy out even if pypy3 is found")
    parser.add_argument("--no-c", action="store_true", help="leave the C peers out even if gcc is found")
    parser.add_argument("--pypy", metavar="EXECUTABLE", help="the PyPy to use (default: benchmarks/.venv-pypy, pypy3)")
    parser.add_argument(
        "--setup-pypy", action="store_true", help="make benchmarks/.venv-pypy (PyPy + NumPy from the index) and stop"
    )
    parser.add_argument(
        "--out", help="where RESULTS.md, results.json, speedup.png go (default: benchmarks/, none with --quick)"
    )
    parser.add_argument("--only", nargs="*", help="kernel names to run (default: all)")
    parser.add_argument(
        "--render", metavar="RESULTS_JSON", help="only re-render RESULTS.md and the plot from a saved run"
    )
    sections = ["kernels", "calls", "startup", "warm", "ahead"]
    parser.add_argument("--skip", nargs="*", default=[], choices=sections, help="sections to leave out")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the suite; 1 if any fastimport result differed from CPython's."""
    parser = _parser()
    opts = parser.parse_args(argv)
    if opts.setup_pypy:
        return setup_pypy()
    if opts.render:
        return _render_only(Path(opts.render), Path(opts.out) if opts.out else BENCH_DIR)
    plan = QUICK if opts.quick else FULL
    with_numba = numba_available() and not opts.no_numba
    out_dir = Path(opts.out) if opts.out else (None if opts.quick else BENCH_DIR)
    command = "python -m benchmarks" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()

    log(f"fastimport benchmarks ({plan.size}); Numba {'on' if with_numba else 'off'}; load {loadavg()}")
    results: dict[str, Any] = {"command": command, "plan": asdict(plan), "load_before": loadavg()}
    t_start = time.perf_counter()

    kernels: list[KernelResult] = []
    with tempfile.TemporaryDirectory(prefix="fastimport-bench-c-build-") as build_dir:
        peers = Peers(
            "left out (--no-pypy)" if opts.no_pypy else find_pypy(opts.pypy),
            "left out (--no-c)" if opts.no_c else find_cc(Path(build_dir)),
        )
        log(f"  PyPy: {peers.pypy}\n  C: {peers.cc}")
        if "kernels" not in opts.skip:
            kernels = bench_kernels(plan, opts.only, with_numba=with_numba, peers=peers)
    results["kernels"] = [asdict(k) for k in kernels]
    results["calls"] = bench_call_overhead(plan) if "calls" not in opts.skip else []
    if "startup" not in opts.skip:
        log("  start-up")
        results["startup"] = bench_startup(plan, with_numba=with_numba)
    if "warm" not in opts.skip:
        log("  warm runs")
        results["warm"] = bench_warm(plan, with_numba=with_numba)
    if "ahead" not in opts.skip:
        log("  compiling ahead from predictions")
        results["ahead"] = bench_ahead(plan)
    results["machine"] = machine_info(with_numba=with_numba, peers=peers)
    results["load_after"] = loadavg()
    results["elapsed_s"] = time.perf_counter() - t_start

    from benchmarks.report import render_markdown, write_plot  # matplotlib only at the end

    text = render_markdown(results)
    print(text)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
        plot = write_plot(results, out_dir / "speedup.png")
        if plot is None:
            log("  matplotlib not importable: no speedup.png")
        (out_dir / "RESULTS.md").write_text(text, encoding="utf-8")
        log(f"wrote {out_dir / 'RESULTS.md'}")
    bad = [k.name for k in kernels if not k.fast_ok]  # (the run itself never fails on a timing)
    if bad:
        log(f"fastimport results differ from CPython's: {', '.join(bad)}")
        return 1
    return 0


def _render_only(results_json: Path, out_dir: Path) -> int:
    from benchmarks.report import render_markdown, write_plot  # matplotlib only here

    results = json.loads(results_json.read_text(encoding="utf-8"))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "RESULTS.md").write_text(render_markdown(results), encoding="utf-8")
    write_plot(results, out_dir / "speedup.png")
    log(f"wrote {out_dir / 'RESULTS.md'}")
    return 0
