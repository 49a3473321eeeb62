"""Observed types (predict/observed.py): recorded per function source across runs, used by `fastimport compile`."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FUNCTIONS = """
def add(a, b):
    return a + b

def total(xs, k):
    s = 0.0
    for i in range(len(xs)):
        s += xs[i] * k
    return s
"""

PROG = (
    "\nimport numpy as np\n"
    + FUNCTIONS
    + """
def shout(s):
    return s + "!"

print(add(1, 2), add(1.5, 2), total(np.arange(5.0), 2), shout("x"))
"""
)


def run(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m fastimport *args` in `tmp`, its cache in `tmp/cache`; it must succeed."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "FASTIMPORT_CACHE_DIR": str(tmp / "cache"), **env}
    result = subprocess.run(
        [sys.executable, "-m", "fastimport", *args],
        cwd=tmp,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def rows(tmp: Path) -> list[tuple[str, str, str, str | None, int]]:
    """(module, function, shown args, ret, runs) of every observation, sorted."""
    (path,) = (tmp / "cache").glob("*/observed.sqlite3")
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT module, function, shown, ret, runs FROM observed").fetchall()
    return sorted(found)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory holding PROG as prog.py."""
    (tmp_path / "prog.py").write_text(PROG, encoding="utf-8")
    return tmp_path


def test_a_run_records_the_signatures_it_compiled_and_a_warm_run_writes_nothing(project: Path) -> None:
    """Argument and result types of each compiled signature, labels of a bytecode call (a str); nothing twice."""
    run(project, "prog.py")
    expected = [
        ("__main__", "add", "(float, int)", '"FLOAT"', 1),
        ("__main__", "add", "(int, int)", '"INT"', 1),
        ("__main__", "shout", "(str)", None, 1),
        ("__main__", "total", "(float64[:], int)", '["union", "FLOAT", "F64"]', 1),
    ]
    assert rows(project) == expected
    (database,) = (project / "cache").glob("*/observed.sqlite3")
    before = database.stat().st_mtime_ns
    result = run(project, "prog.py", FASTIMPORT_REPORT=str(project / "report.json"))
    assert "loaded" in (project / "report.json").read_text(encoding="utf-8")
    assert rows(project) == expected  # everything came from the .pym: no new observation
    assert database.stat().st_mtime_ns == before
    assert "fastimport:" not in result.stderr


def test_without_a_cache_nothing_is_recorded(project: Path) -> None:
    """FASTIMPORT_CACHE=0: no store is made."""
    run(project, "prog.py", FASTIMPORT_CACHE="0")
    assert not list(project.glob("cache/*/observed.sqlite3"))


def test_compile_uses_observed_signatures_and_says_so(project: Path) -> None:
    """`fastimport compile` after a run: the observed signatures compiled (first seen first), labelled [observed]."""
    run(project, "prog.py")
    result = run(project, "compile", "prog.py")
    compiled = "compiled: add(int, int) [observed], add(float, int) [observed], total(float64[:], int) [observed]"
    assert compiled in result.stdout
    assert "unsigned: shout" in result.stdout
    assert (project / "__pycache__" / f"prog.{sys.implementation.cache_tag}.pym").exists()


def test_an_annotation_comes_before_the_same_observed_signature(project: Path) -> None:
    """A signature both annotated and observed is compiled once, as the annotation's."""
    source = PROG.replace("def add(a, b):", "def add(a: int, b: int):")
    (project / "prog.py").write_text(source, encoding="utf-8")
    run(project, "prog.py")
    result = run(project, "compile", "prog.py")
    assert "add(int, int) [annotation], add(float, int) [observed]" in result.stdout
    assert "add(int, int) [observed]" not in result.stdout


def test_an_edited_function_does_not_inherit_the_old_observations(project: Path) -> None:
    """Observations belong to the source they were made on: edit `total`, and only `add` keeps its own."""
    run(project, "prog.py")
    edited = PROG.replace("s += xs[i] * k", "s += xs[i] * k + 1.0").replace("print(", "pass  # print(")
    (project / "prog.py").write_text(edited, encoding="utf-8")
    result = run(project, "compile", "prog.py")
    assert "unsigned: total" in result.stdout
    assert "add(int, int) [observed]" in result.stdout


def test_a_damaged_store_costs_one_warning_and_is_started_afresh(project: Path) -> None:
    """A store that is not a database: the program runs, one warning, and the next run records in a new one."""
    tree = project / "cache" / sys.implementation.cache_tag
    tree.mkdir(parents=True, mode=0o700)
    (tree / "observed.sqlite3").write_bytes(b"not a database" * 100)
    result = run(project, "prog.py")
    assert result.stdout.split() == ["3", "3.5", "20.0", "x!"]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("fastimport:")]
    assert len(warnings) == 1
    assert "observed.sqlite3" in warnings[0]
    (project / "prog.py").write_text(PROG.replace("return a + b", "return b + a"), encoding="utf-8")
    assert "fastimport:" not in run(project, "prog.py").stderr  # compiled again, recorded in a new store
    assert ("__main__", "add", "(int, int)", '"INT"', 1) in rows(project)


WRITER = """
import ast, sys
sys.path.insert(0, {src!r})
from fastimport.frontend.types import Ty
from fastimport.predict import observed

class State:  # what `note` and `flush` read of a FunctionState
    module, path, source = "m", "m.py", b"def f(x):\\n    return x\\n"
    node = ast.parse(source).body[0]

for round in range(25):
    observed.note(State(), (Ty.INT,), Ty.INT)
    observed.note(State(), (Ty.FLOAT, Ty.INT if round % 2 else Ty.BOOL), None)
    observed.flush()
"""


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    """Eight processes recording 25 runs each into one store: every run is counted."""
    script = textwrap.dedent(WRITER).format(src=str(ROOT / "src"))
    env = {**os.environ, "FASTIMPORT_CACHE_DIR": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE) for _ in range(8)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    assert all(not e for e in errors), errors
    counted = {shown: runs for _, _, shown, _, runs in rows(tmp_path)}
    assert counted == {"(int)": 200, "(float, bool)": 8 * 13, "(float, int)": 8 * 12}


def test_cache_commands_show_prune_and_clear_the_observed_types(project: Path) -> None:
    """`cache info` counts them, `cache prune` drops those of a file that is gone, `cache clear` removes the store."""
    run(project, "prog.py")
    other = project / "other.py"
    other.write_text("def twice(x):\n    return 2 * x\n\nprint(twice(21))\n", encoding="utf-8")
    run(project, "other.py")
    assert "observed types: observed.sqlite3" in run(project, "cache", "info").stdout
    # add (int, int) and (float, int), total, twice; and shout's call with a str (run as bytecode)
    assert "5 signature(s) of 4 function(s)" in run(project, "cache", "info").stdout
    other.unlink()
    assert "observed types of 1 file(s) gone" in run(project, "cache", "prune").stdout
    assert {r[1] for r in rows(project)} == {"add", "total", "shout"}
    assert "removed the observed types" in run(project, "cache", "clear").stdout
    assert not list(project.glob("cache/*/observed.sqlite3"))


AHEAD = (
    "\nimport os, time\nimport numpy as np\n\ndef start():\n    return 0\n"
    + FUNCTIONS
    + """
start()  # the first call of the script's functions hands the others to the compile-ahead thread
if os.environ.get("WAIT_FOR_AHEAD"):  # (a test's stand-in for a program busy with other work)
    from fastimport.runtime import registry

    deadline = time.monotonic() + 120
    wanted = {"add", "total"}
    while time.monotonic() < deadline and any(
        r.status != "native" for r in registry.all_functions() if r.qualname in wanted
    ):
        time.sleep(0.01)
print(add(1, 2), add(2.5, 1), total(np.arange(5.0), 2))
"""
)


def _records(report: Path) -> dict[str, dict]:
    return {r["qualname"]: r for r in json.loads(report.read_text(encoding="utf-8"))}


def test_observed_signatures_are_compiled_ahead_of_the_first_call(project: Path) -> None:
    """A run without a fitting .pym compiles what the last run observed on a thread; the first calls are native."""
    (project / "prog.py").write_text(AHEAD, encoding="utf-8")
    plain = subprocess.run([sys.executable, "prog.py"], cwd=project, capture_output=True, text=True, check=True)
    assert run(project, "prog.py").stdout == plain.stdout  # observes add (int, int), (float, int) and total
    for artifact in project.glob("cache/*/*.pym"):
        artifact.unlink()  # a cold run, with observations
    report = project / "report.json"
    result = run(project, "prog.py", WAIT_FOR_AHEAD="1", FASTIMPORT_REPORT=str(report))
    assert result.stdout == plain.stdout
    records = _records(report)
    assert records["add"]["signatures"] == [
        "(int, int) -> int (observed: compiled ahead)",
        "(float, int) -> float (observed: compiled ahead)",
    ]
    assert records["total"]["signatures"] == ["(float64[:], int) -> float|float64 (observed: compiled ahead)"]
    assert (records["add"]["native_calls"], records["add"]["deopts"]) == (2, 0)  # both first calls native
    assert records["total"]["native_calls"] == 1
    assert counts_loaded(run(project, "prog.py", FASTIMPORT_REPORT=str(report)), report) == 4  # saved at exit


def counts_loaded(_result: subprocess.CompletedProcess[str], report: Path) -> int:
    """Specializations loaded from the cache in the run that wrote `report`."""
    return sum(r["loaded"] for r in json.loads(report.read_text(encoding="utf-8")))


def test_a_wrong_observation_costs_a_specialization_never_a_result(project: Path) -> None:
    """Observed (float, int) and (float64[:], int), now called with (int, int) and a list: right results."""
    (project / "prog.py").write_text(AHEAD, encoding="utf-8")
    run(project, "prog.py")
    for artifact in project.glob("cache/*/*.pym"):
        artifact.unlink()
    changed = AHEAD.replace(
        "print(add(1, 2), add(2.5, 1), total(np.arange(5.0), 2))", "print(add(2, 3), total([1.0, 2.0], 3))"
    )
    (project / "prog.py").write_text(changed, encoding="utf-8")  # (the functions' own lines are unchanged)
    report = project / "report.json"
    result = run(project, "prog.py", WAIT_FOR_AHEAD="1", FASTIMPORT_REPORT=str(report))
    assert result.stdout.split() == ["5", "9.0"]
    records = _records(report)
    assert "(float, int) -> float (observed: compiled ahead)" in records["add"]["signatures"]
    assert "(list[float], int) -> float" in records["total"]["signatures"]


def test_a_program_that_exits_while_compiling_ahead_exits_cleanly(project: Path) -> None:
    """Exit right after the thread starts: the compile under way ends, no crash, the program's exit status."""
    source = AHEAD.replace("print(add(1, 2)", "import sys\nsys.exit(3)\nprint(add(1, 2)")
    (project / "prog.py").write_text(AHEAD, encoding="utf-8")
    run(project, "prog.py")
    for artifact in project.glob("cache/*/*.pym"):
        artifact.unlink()
    (project / "prog.py").write_text(source, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "FASTIMPORT_CACHE_DIR": str(project / "cache")}
    for _ in range(3):
        result = subprocess.run(
            [sys.executable, "-m", "fastimport", "prog.py"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 3, result.stderr
        assert "fastimport:" not in result.stderr


def test_compiling_ahead_can_be_turned_off(project: Path) -> None:
    """FASTIMPORT_AHEAD=0: observed signatures are compiled at their first call, as without observations."""
    (project / "prog.py").write_text(AHEAD, encoding="utf-8")
    run(project, "prog.py")
    for artifact in project.glob("cache/*/*.pym"):
        artifact.unlink()
    report = project / "report.json"
    run(project, "prog.py", FASTIMPORT_AHEAD="0", FASTIMPORT_REPORT=str(report))
    signatures = [s for r in _records(report).values() for s in r["signatures"]]
    assert signatures
    assert not [s for s in signatures if "ahead" in s]


def test_a_fork_while_compiling_ahead_leaves_both_processes_working(project: Path) -> None:
    """The parent forks as the thread starts: no thread across the fork; both processes run right."""
    (project / "prog.py").write_text(AHEAD, encoding="utf-8")
    run(project, "prog.py")
    hook = (
        "import os, _thread\n"
        "seen = []  # the program's own fork hook runs after fastimport's: threads other than the main one\n"
        "os.register_at_fork(before=lambda: seen.append(_thread._count()))\n"
    )
    source = hook + AHEAD.replace(
        "print(add(1, 2), add(2.5, 1), total(np.arange(5.0), 2))",
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    print('child', add(1, 2), total(np.arange(3.0), 1), flush=True)\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
        "print('parent', add(2.5, 1), total(np.arange(5.0), 2), seen)",
    )
    (project / "prog.py").write_text(source, encoding="utf-8")
    for _ in range(3):
        for artifact in project.glob("cache/*/*.pym"):
            artifact.unlink()
        result = run(project, "prog.py")
        assert result.stdout.splitlines() == ["child 3 3.0", "parent 3.5 20.0 [0]"]


def test_a_warm_run_starts_no_thread(project: Path) -> None:
    """With a .pym that fits, nothing is compiled ahead: no thread, no GIL hand-offs for the program."""
    probe = "import _thread\nprint(_thread._count())  # threads other than the main one\n"
    source = AHEAD.replace("start()  # the first call", probe + "start()  # the first call")
    source = source.replace("print(add(1, 2)", probe + "print(add(1, 2)")
    (project / "prog.py").write_text(source, encoding="utf-8")
    run(project, "prog.py")  # compiles, observes, writes the .pym
    result = run(project, "prog.py")
    assert result.stdout.splitlines()[:2] == ["0", "0"]
    assert len(list(project.glob("cache/*/observed.sqlite3"))) == 1  # (there are observations to use)


def test_an_observation_that_cannot_be_written_is_skipped_never_raised(tmp_path: Path) -> None:
    """At exit nothing may raise: a type the store cannot encode is left out, and the others are written."""
    script = textwrap.dedent(
        """
        import ast, sys
        sys.path.insert(0, {src!r})
        from fastimport.frontend.types import Ty
        from fastimport.predict import observed

        class State:
            module, path, source = "m", "m.py", b"def f(x):\\n    return x\\n"
            node = ast.parse(source).body[0]

        class Strange:  # not a type of ours: type_to_json cannot encode it
            pass

        observed.note(State(), (Strange(),), None)
        observed.note(State(), (Ty.FLOAT,), Ty.FLOAT)
        """
    ).format(src=str(ROOT / "src"))
    env = {**os.environ, "FASTIMPORT_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert (result.returncode, result.stderr) == (0, "")
    assert [r[2] for r in rows(tmp_path)] == ["(float)"]


def test_the_program_does_not_see_the_compile_ahead_thread(project: Path) -> None:
    """While it compiles: threading's view (count, names) is plain CPython's, and no settrace hook sees our frames."""
    program = AHEAD.replace(
        "start()  # the first call",
        "import sys, threading, _thread\n"
        "traced = []\n"
        "threading.settrace(lambda frame, event, arg: traced.append(frame.f_code.co_filename))\n"
        "start()  # the first call",
    ).replace(
        'if os.environ.get("WAIT_FOR_AHEAD"):',
        "facts = (threading.active_count(), [t.name for t in threading.enumerate()])\n"
        "print(_thread._count(), file=sys.stderr)  # the compile-ahead thread is there\n"
        'if os.environ.get("WAIT_FOR_AHEAD"):',
    )
    program = program.replace("print(add(1, 2)", "print(facts, traced)\nprint(add(1, 2)")
    (project / "prog.py").write_text(AHEAD, encoding="utf-8")
    run(project, "prog.py")  # observes
    for artifact in project.glob("cache/*/*.pym"):
        artifact.unlink()
    (project / "prog.py").write_text(program, encoding="utf-8")
    plain = subprocess.run([sys.executable, "prog.py"], cwd=project, capture_output=True, text=True, check=True)
    result = run(project, "prog.py", WAIT_FOR_AHEAD="1")
    assert result.stdout == plain.stdout
    assert result.stdout.splitlines()[0] == "(1, ['MainThread']) []"
    assert result.stderr.strip() == "1"  # (the probe ran while the thread compiled)
