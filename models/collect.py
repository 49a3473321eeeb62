"""Collect the type predictor's training data: parameter types seen while third-party code runs.

    python models/collect.py --packages mpmath pyperformance   # re-collect these two
    python models/collect.py --list                             # the packages and what runs for each
    -> models/data/<package>.jsonl.gz, one function a line, and models/data/SOURCES.md

For each pinned package: a fresh venv under /tmp/collect/venvs, the package, pytest and what its tests
need; then its tests (or benchmarks) run under models/recorder.py, with a wall-clock cap, one process at
a time. The per-process observations are merged per function, joined with the function's source (from
the installed file, by line number) and written sorted by (module, lineno), so a re-run gives the same
file up to what the tests exercised.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

MODELS = Path(__file__).resolve().parent
DATA = MODELS / "data"
WORK = Path("/tmp/collect")  # noqa: S108 - a fixed scratch dir for venvs and raw output
PYTHON = os.environ.get("COLLECT_PYTHON") or str(Path.home() / ".pyenv/versions/3.12.1/bin/python")
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--continue-on-collection-errors"]
PYTEST += ["--rootdir", "{site}"]
RECORDER_ENV = (
    "PYTHONPATH",
    "FASTIMPORT_RECORD_OUT",
    "FASTIMPORT_RECORD_ROOTS",
    "FASTIMPORT_LABELS_FILE",
    "FASTIMPORT_RECORD_TESTS",
)
MAX_FUNCTIONS = 4000  # per package, the first by (module, lineno): keeps models/data/ small
TEST_FILE = re.compile(r"(^|/)(tests?|testing)/|(^|/)(test_[^/]*|conftest)\.py$")


@dataclass
class Package:
    """One package to collect from: what to install, which installed dirs to record, what to run."""

    name: str
    version: str
    roots: list[str]  # import paths under site-packages whose functions are recorded
    runs: list[list[str]]  # argv after the venv's python; {site} is site-packages
    extra: list[str] = field(default_factory=list)  # other requirements (pytest is always installed)
    cap: int = 480  # seconds of wall time for all of the package's runs
    what: str = ""  # what was run, for SOURCES.md
    expand: Callable[[Path], list[list[str]]] | None = None  # runs computed from the installed package
    note: str = ""  # anything a reader of SOURCES.md should know
    sdist_tests: str = ""  # a tests dir taken from the sdist (the wheel has none): {src} in runs
    # Keep the module-level functions of test files that are not tests themselves: numba's tests
    # call plain-Python reference kernels ("usecases") to check its compiled ones against.
    reference_functions_in_tests: bool = False
    env: dict[str, str] = field(default_factory=dict)  # for its runs (NUMBA_DISABLE_JIT=1: kernels run as Python)


# pyperformance benchmarks that need nothing but pyperf and the stdlib, and are about numbers, lists or objects
BENCHMARKS = (
    "barnes_hut",
    "bpe_tokeniser",
    "chaos",
    "comprehensions",
    "coroutines",
    "deepcopy",
    "deltablue",
    "fannkuch",
    "float",
    "generators",
    "go",
    "hexiom",
    "json_dumps",
    "mdp",
    "meteor_contest",
    "nbody",
    "nqueens",
    "pidigits",
    "pprint",
    "pyflate",
    "raytrace",
    "richards",
    "richards_super",
    "scimark",
    "spectral_norm",
    "typing_runtime_protocols",
    "unpack_sequence",
)


def _pyperformance_runs(site: Path) -> list[list[str]]:
    """One `run_benchmark.py --debug-single-value` per pure-Python benchmark that needs no other package."""
    runs = []
    for name in BENCHMARKS:
        bm = site / "pyperformance" / "data-files" / "benchmarks" / f"bm_{name}"
        script = bm / "run_benchmark.py"
        if not script.exists() or _extra_requirements(bm):
            continue
        # pyperf runs the benchmark in a worker process that inherits only the variables named here
        runs.append([str(script), "--debug-single-value", "--inherit-environ", ",".join(RECORDER_ENV)])
    return runs


def _extra_requirements(bm: Path) -> list[str]:
    """The benchmark's requirements besides pyperf (from requirements.txt or pyproject's dependencies)."""
    reqs: list[str] = []
    req_file = bm / "requirements.txt"
    if req_file.exists():
        reqs += [line.strip() for line in req_file.read_text().splitlines()]
    pyproject = bm / "pyproject.toml"
    if pyproject.exists():
        import tomllib

        reqs += tomllib.loads(pyproject.read_text()).get("project", {}).get("dependencies", [])
    return [r for r in reqs if r and not r.startswith("#") and not r.startswith("pyperf")]


def _tests(*dirs: str) -> list[list[str]]:
    return [[*PYTEST, *(f"{{site}}/{d}" for d in dirs)]]


PACKAGES = {
    p.name: p
    for p in [
        # Libraries whose numeric kernels are Numba functions: with NUMBA_DISABLE_JIT=1 their
        # tests run those kernels as plain Python, loops over ndarrays and all, which is the
        # code fastimport compiles.
        Package(
            "quantecon",
            "0.13.1",
            ["quantecon"],
            _tests("quantecon"),
            cap=240,
            what="quantecon's tests, with NUMBA_DISABLE_JIT=1",
            env={"NUMBA_DISABLE_JIT": "1"},
        ),
        Package(
            "interpolation",
            "2.2.7",
            ["interpolation"],
            _tests("interpolation"),
            cap=180,
            what="interpolation's tests (econforge), with NUMBA_DISABLE_JIT=1",
            env={"NUMBA_DISABLE_JIT": "1"},
        ),
        Package(
            "stumpy",
            "1.14.1",
            ["stumpy"],
            [[*PYTEST[:-2], "--rootdir", "{src}", "{src}/tests"]],
            cap=240,
            what="tests/ of the sdist (the wheel ships none), with NUMBA_DISABLE_JIT=1, until the cap",
            sdist_tests="tests",
            env={"NUMBA_DISABLE_JIT": "1"},
        ),
        Package(
            "pynndescent",
            "0.7.0",
            ["pynndescent"],
            [[*PYTEST[:-2], "--rootdir", "{src}", "{src}/pynndescent/tests"]],
            cap=240,
            what="pynndescent/tests of the sdist (the wheel ships none), with NUMBA_DISABLE_JIT=1, until the cap",
            sdist_tests="pynndescent/tests",
            env={"NUMBA_DISABLE_JIT": "1"},
        ),
        Package(
            "numba",
            "0.68.1",
            ["numba/tests"],
            _tests(
                *(
                    f"numba/tests/{name}.py"
                    for name in (
                        "test_usecases",
                        "test_operators",
                        "test_mathlib",
                        "test_range",
                        "test_indexing",
                        "test_array_iterators",
                        "test_array_attr",
                        "test_builtins",
                        "test_array_manipulation",
                        "test_array_exprs",
                        "test_sort",
                        "test_array_methods",
                    )
                )
            ),
            cap=420,
            what="the plain-Python reference kernels of numba/tests files, in this order until the cap "
            "(each test compiles with numba, so the cap stops it early): usecases, operators, math, range, "
            "indexing, array iteration and attributes, builtins, array manipulation, array expressions, sort, "
            "array methods",
            reference_functions_in_tests=True,
        ),
        Package(
            "pyperformance",
            "1.14.0",
            ["pyperformance/data-files/benchmarks"],
            [],
            extra=["pyperf==2.10.0"],
            cap=420,
            note="functions of the benchmark scripts only (pyperf is not recorded); one value per benchmark",
            what="bm_*/run_benchmark.py --debug-single-value for the pure-Python benchmarks without extra deps",
            expand=_pyperformance_runs,
        ),
        Package(
            "mpmath",
            "1.4.1",
            ["mpmath"],
            _tests("mpmath/tests"),
            extra=["hypothesis==6.170.15", "pexpect"],
            cap=420,
            note="the suite stops at the cap (about 3/4 through, alphabetically); 24 tests fail here "
            "with or without the recorder (precision and formatting checks of mpmath 1.4.1)",
            what="mpmath/tests (whole suite)",
        ),
        Package(
            "algorithms",
            "1.0.1",
            ["algorithms"],
            [[*PYTEST[:-2], "--rootdir", "{src}", "{src}/tests"]],
            cap=240,
            what="tests/ of the sdist (keon/algorithms; the wheel ships none)",
            sdist_tests="tests",
        ),
        Package(
            "numpy-financial",
            "1.0.0",
            ["numpy_financial"],
            _tests("numpy_financial/tests"),
            extra=["numpy==2.5.5"],
            cap=180,
            what="numpy_financial/tests",
        ),
        Package(
            "more-itertools",
            "11.2.1",
            ["more_itertools"],
            [[*PYTEST[:-2], "--rootdir", "{src}", "{src}/tests"]],
            cap=180,
            what="tests/ of the sdist (the wheel ships none)",
            sdist_tests="tests",
        ),
        Package(
            "networkx",
            "3.7",
            ["networkx"],
            _tests("networkx/algorithms", "networkx/generators"),
            extra=["numpy==2.5.5", "scipy==1.18.1"],
            cap=240,
            what="networkx/algorithms and networkx/generators tests (until the cap)",
        ),
        Package(
            "sympy",
            "1.14.0",
            ["sympy"],
            _tests("sympy/ntheory/tests", "sympy/combinatorics/tests", "sympy/discrete/tests"),
            extra=["mpmath<1.4", "hypothesis==6.170.15"],  # sympy 1.14 wants mpmath<1.4
            cap=180,
            what="sympy/ntheory, sympy/combinatorics, sympy/discrete tests",
        ),
        Package(
            "numpy",
            "2.5.5",
            ["numpy"],
            _tests("numpy/lib/tests", "numpy/linalg/tests"),
            extra=["hypothesis==6.170.15"],
            cap=180,
            what="numpy/lib/tests and numpy/linalg/tests",
        ),
        Package(
            "scipy",
            "1.18.1",
            ["scipy"],
            _tests(
                "scipy/signal/tests/test_windows.py",
                "scipy/signal/tests/test_waveforms.py",
                "scipy/signal/tests/test_filter_design.py",
                "scipy/interpolate/tests",
                "scipy/integrate/tests",
                "scipy/stats/tests/test_morestats.py",
                "scipy/stats/tests/test_mstats_basic.py",
            ),
            extra=["numpy==2.5.5", "hypothesis==6.170.15", "pooch"],
            cap=180,
            what="scipy/signal (windows, waveforms, filter_design), scipy/interpolate, scipy/integrate, "
            "scipy/stats (morestats, mstats_basic) tests",
        ),
        Package(
            "scikit-learn",
            "1.9.1",
            ["sklearn"],
            _tests("sklearn/metrics/tests", "sklearn/preprocessing/tests", "sklearn/utils/tests"),
            extra=["numpy==2.5.5", "scipy==1.18.1"],
            cap=180,
            note="about half the tests skip (optional dependencies such as pandas are not installed)",
            what="sklearn/metrics, sklearn/preprocessing, sklearn/utils tests",
        ),
    ]
}


def main(argv: list[str] | None = None) -> int:
    """Collect the chosen packages (all by default) and rewrite SOURCES.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", nargs="+", choices=sorted(PACKAGES), default=list(PACKAGES))
    parser.add_argument("--list", action="store_true", help="list the packages and what runs for each")
    parser.add_argument("--cap", type=int, help="override every package's wall-clock cap (seconds)")
    parser.add_argument("--sources-only", action="store_true", help="only rewrite SOURCES.md from the data")
    args = parser.parse_args(argv)
    if args.list:
        for p in PACKAGES.values():
            print(f"{p.name}=={p.version}  cap {p.cap}s  {p.what}")
        return 0
    DATA.mkdir(parents=True, exist_ok=True)
    if not args.sources_only:
        for name in args.packages:
            try:
                collect(PACKAGES[name], args.cap)
            except (subprocess.CalledProcessError, OSError) as e:  # noqa: PERF203 - one package's failure doesn't stop the rest
                print(f"[{name}] failed: {e}", file=sys.stderr, flush=True)
    write_sources()
    return 0


def collect(pkg: Package, cap: int | None = None) -> None:
    """Install, run under the recorder, merge: models/data/<name>.jsonl.gz and <name>.meta.json."""
    venv = WORK / "venvs" / pkg.name
    out = WORK / "out" / pkg.name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    python, site = _venv(venv, [f"{pkg.name}=={pkg.version}", "pytest", *pkg.extra])
    runs = pkg.expand(site) if pkg.expand else pkg.runs
    src = _sdist_tests(pkg) if pkg.sdist_tests else site
    env = {
        **os.environ,
        "PYTHONPATH": str(MODELS),
        "FASTIMPORT_RECORD_OUT": str(out),
        "FASTIMPORT_RECORD_ROOTS": os.pathsep.join(str(site / r) for r in pkg.roots),
        "PYTHONHASHSEED": "0",
        "FASTIMPORT_RECORD_TESTS": "1" if pkg.reference_functions_in_tests else "0",
        **pkg.env,
        "MPLBACKEND": "Agg",
    }
    start = time.monotonic()
    deadline = start + (cap or pkg.cap)
    (WORK / "logs").mkdir(parents=True, exist_ok=True)
    log = (WORK / "logs" / f"{pkg.name}.log").open("w")
    ran = []
    for run in runs:
        left = int(deadline - time.monotonic())
        if left < 5:  # noqa: PLR2004 - not worth starting a run in the last seconds
            break
        argv = [python, *(a.replace("{site}", str(site)).replace("{src}", str(src)) for a in run)]
        cwd = Path(argv[1]).parent if argv[1].endswith(".py") else src
        print(f"[{pkg.name}] {' '.join(argv[1:])[:150]} (cap {left}s)", flush=True)
        log.write(f"$ {' '.join(argv)}\n")
        log.flush()
        # SIGINT first: pytest and pyperf stop cleanly and the recorder writes its data at exit
        cmd = ["timeout", "-s", "INT", "-k", "30", str(left), *argv]
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)  # noqa: S603
        rc = proc.returncode
        ran.append({"argv": [os.path.relpath(a, site) if a.startswith(str(site)) else a for a in run], "rc": rc})
    wall = time.monotonic() - start
    records = merge(pkg, site, out)
    truncated = len(records) > MAX_FUNCTIONS
    records = records[:MAX_FUNCTIONS]
    with gzip.GzipFile(DATA / f"{pkg.name}.jsonl.gz", "wb", mtime=0) as f:
        f.writelines((json.dumps(r, sort_keys=False) + "\n").encode() for r in records)
    meta = {
        "package": pkg.name,
        "version": pkg.version,
        "licence": _licence(python, pkg.name),
        "python": _python_version(python),
        "what": pkg.what,
        "note": pkg.note,
        "runs": len(ran),
        "ran": [" ".join(a for a in r["argv"] if not a.startswith("-") and a not in PYTEST) for r in ran],
        "runs_planned": len(runs),
        "failed_runs": [r["argv"][0] for r in ran if r["rc"] not in (0, 1)] if pkg.expand else [],
        "wall_seconds": round(wall),
        "cap_seconds": cap or pkg.cap,
        "truncated_to": MAX_FUNCTIONS if truncated else None,
        **summarize(records),
    }
    (DATA / f"{pkg.name}.meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"[{pkg.name}] {meta['functions']} functions, {meta['params']} params in {wall:.0f}s", flush=True)


def _venv(venv: Path, requirements: list[str]) -> tuple[str, Path]:
    """A venv with `requirements` installed (reused if it already has them): its python and site-packages."""
    python = venv / "bin" / "python"
    stamp = venv / "collect-requirements.txt"
    wanted = "\n".join(requirements)
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True)  # noqa: S603
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *requirements], check=True)  # noqa: S603
        stamp.write_text(wanted)
    site = subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])  # noqa: S603
    return str(python), Path(site.decode().strip())


def _sdist_tests(pkg: Package) -> Path:
    """A dir holding only pkg.sdist_tests from the sdist, so that the sdist's sources can't shadow the install."""
    dest = WORK / "src" / pkg.name
    if (dest / pkg.sdist_tests).is_dir():
        return dest
    download = WORK / "src" / f"{pkg.name}-sdist"
    shutil.rmtree(download, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", str(download)]
    subprocess.run([*pip, f"{pkg.name}=={pkg.version}"], check=True)  # noqa: S603
    (archive,) = download.iterdir()
    shutil.unpack_archive(archive, download)
    (top,) = (p for p in download.iterdir() if p.is_dir())
    shutil.copytree(top / pkg.sdist_tests, dest / pkg.sdist_tests)
    return dest


def _python_version(python: str) -> str:
    argv = [python, "-c", "import platform; print(platform.python_version())"]
    return subprocess.check_output(argv, text=True).strip()  # noqa: S603


def _licence(python: str, dist: str) -> str:
    """The licence the installed distribution declares: License-Expression, else its classifiers, else License."""
    code = (
        "import sys, importlib.metadata as m; d = m.metadata(sys.argv[1]); "
        "c = [x.split(' :: ')[-1] for x in d.get_all('Classifier') or [] if x.startswith('License ::')]; "
        "print(d.get('License-Expression') or '; '.join(c) or (d.get('License') or 'unknown').splitlines()[0][:80])"
    )
    return subprocess.check_output([python, "-c", code, dist], text=True).strip()  # noqa: S603


# -- merging -----------------------------------------------------------------------------------------


def merge(pkg: Package, site: Path, out: Path) -> list[dict[str, Any]]:
    """One record per function seen by any process, with its source, sorted by (module, lineno)."""
    seen: dict[tuple[str, int, str], dict[str, Any]] = {}
    for path in sorted(out.glob("*.json")):
        with contextlib.suppress(ValueError, OSError):
            for fn in json.loads(path.read_text())["functions"]:
                key = (os.path.realpath(fn["file"]), fn["firstlineno"], fn["qualname"])
                into = seen.setdefault(key, {"params": None, "returns": Counter(), "calls": 0})
                into["calls"] += fn["calls"]
                into["returns"].update(fn["returns"])
                if into["params"] is None:
                    into["params"] = [[name, kind, Counter()] for name, kind, _ in fn["params"]]
                for mine, (_, _, counts) in zip(into["params"], fn["params"], strict=True):
                    mine[2].update(counts)
    site_real = os.path.realpath(site)
    defs_by_file: dict[str, dict[int, tuple[ast.AST, bool, str]]] = {}
    records = []
    for (file, lineno, qualname), fn in seen.items():
        rel = os.path.relpath(file, site_real)
        in_test_file = bool(TEST_FILE.search(rel))
        if rel.startswith("..") or (in_test_file and not pkg.reference_functions_in_tests):
            continue
        if file not in defs_by_file:
            defs_by_file[file] = _defs(file)
        found = defs_by_file[file].get(lineno)
        if found is None or found[0].name != qualname.rsplit(".", 1)[-1]:  # type: ignore[attr-defined]
            continue
        _, is_method, source = found
        if in_test_file and (is_method or "." in qualname or qualname.startswith("test")):
            continue  # a test, a test case's method, or a helper nested in one: not a reference kernel
        module = rel.removesuffix(".py").replace(os.sep, ".").removesuffix(".__init__")
        records.append(
            {
                "package": pkg.name,
                "version": pkg.version,
                "module": module,
                "qualname": qualname,
                "file": rel,
                "lineno": lineno,
                "source": source,
                "params": [{"name": n, "kind": k, "labels": _sorted(c)} for n, k, c in fn["params"]],
                "returns": _sorted(fn["returns"]),
                "calls": fn["calls"],
                "is_method": is_method,
            }
        )
    records.sort(key=lambda r: (r["module"], r["lineno"], r["qualname"]))
    return records


def _sorted(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _defs(file: str) -> dict[int, tuple[ast.AST, bool, str]]:
    """Every def in `file` by its code object's first line (its first decorator's): node, is_method, source."""
    try:
        text = Path(file).read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return {}
    lines = text.splitlines(keepends=True)
    found = {}
    for parent in ast.walk(tree):
        for node in ast.iter_child_nodes(parent):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                source = textwrap.dedent("".join(lines[first - 1 : node.end_lineno]))
                found[first] = (node, isinstance(parent, ast.ClassDef), source)
    return found


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts for SOURCES.md: functions, parameters, and how often each label was seen (params, returns)."""
    params: Counter[str] = Counter()
    returns: Counter[str] = Counter()
    for r in records:
        for p in r["params"]:
            params.update(p["labels"])
        returns.update(r["returns"])
    return {
        "functions": len(records),
        "params": sum(len(r["params"]) for r in records),
        "param_labels": _sorted(params),
        "return_labels": _sorted(returns),
    }


def write_sources() -> None:
    """models/data/SOURCES.md from every <package>.meta.json present."""
    metas = [json.loads(p.read_text()) for p in sorted(DATA.glob("*.meta.json"))]
    out = [
        "# Training data for the type predictor: where it comes from",
        "",
        "Each `<package>.jsonl.gz` holds one JSON object per function of that package that its tests or",
        "benchmarks called, with the labels (`fastimport.predict.labels.label_of`) of its parameters and",
        "return values as seen at run time by `models/recorder.py` (at most 200 calls per code object and",
        "process; functions defined in test files are left out). Regenerate with",
        "`python models/collect.py --packages <name> ...` (`--list` shows what runs for each).",
        "Label counts below are summed over all recorded calls.",
        "",
        "| package | version | licence | python | wall (s) | functions | params |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    out += [
        f"| {m['package']} | {m['version']} | {m['licence']} | {m['python']} | {m['wall_seconds']} "
        f"| {m['functions']} | {m['params']} |"
        for m in metas
    ]
    total = summarize_metas(metas)
    out.append(f"| all | | | | {total['wall_seconds']} | {total['functions']} | {total['params']} |")
    out += ["", f"All packages, parameter labels: {_fmt(total['param_labels'])}"]
    out += ["", f"All packages, return labels: {_fmt(total['return_labels'])}"]
    for m in metas:
        out += ["", f"## {m['package']} {m['version']}", "", f"- licence: {m['licence']}", f"- ran: {m['what']}"]
        out.append(
            f"- runs: {m['runs']} of {m['runs_planned']} planned, {m['wall_seconds']} s (cap {m['cap_seconds']} s)"
        )
        if m.get("ran") and len(m["ran"]) > 1:
            names = [Path(r.split()[0]).parent.name if "run_benchmark" in r else r.split()[0] for r in m["ran"]]
            out.append(f"- what ran: {', '.join(names)}")
        if m.get("failed_runs"):
            out.append(f"- runs that failed or timed out (data kept up to that point): {', '.join(m['failed_runs'])}")
        if m.get("truncated_to"):
            out.append(f"- truncated to the first {m['truncated_to']} functions by (module, lineno)")
        if m.get("note"):
            out.append(f"- note: {m['note']}")
        out.append(f"- {m['functions']} functions, {m['params']} parameters")
        out.append(f"- parameter labels: {_fmt(m['param_labels'])}")
        out.append(f"- return labels: {_fmt(m['return_labels'])}")
    (DATA / "SOURCES.md").write_text("\n".join(out) + "\n")


def summarize_metas(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-package counts added up."""
    total: dict[str, Any] = {"wall_seconds": 0, "functions": 0, "params": 0}
    params: Counter[str] = Counter()
    returns: Counter[str] = Counter()
    for m in metas:
        for key in total:
            total[key] += m[key]
        params.update(m["param_labels"])
        returns.update(m["return_labels"])
    return {**total, "param_labels": _sorted(params), "return_labels": _sorted(returns)}


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"`{k}` {v}" for k, v in counts.items()) or "none"


if __name__ == "__main__":
    sys.exit(main())
