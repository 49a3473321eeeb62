"""`python -m fastimport` runs programs exactly as `python` does, plus the hook and the report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SRC = Path(__file__).resolve().parent.parent / "src"
HEAVY = "{'llvmlite', 'onnxruntime', 'numpy'}"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTIMPORT_")}
    env.pop("PYTHONSAFEPATH", None)
    # Test the working tree, like tests/conftest.py does in-process.
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `python *args` in `cwd` and capture its output."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=_env(**env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_fi(args: list[str], cwd: Path, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m fastimport *args` in `cwd`."""
    return run(["-m", "fastimport", *args], cwd, stdin, **env)


def write(path: Path, source: str) -> Path:
    """Write dedented `source` to `path` (creating directories)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def assert_same_run(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m fastimport *args` and `python *args` give the same status, stdout and stderr."""
    plain = run(args, cwd, stdin)
    fast = run_fi(args, cwd, stdin)
    assert (fast.returncode, fast.stdout, fast.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    return fast


IDENTITY = """\
    import sys
    print(sys.argv)
    print(__name__, __file__, __spec__, __package__, __cached__)
    print(type(__loader__).__name__, __loader__.name, __loader__.path)
    print(sys.path[0])
    print(sorted(globals()))
    print(sys.modules["__main__"].__dict__ is globals())
"""


def test_script_sees_argv_file_name_and_path_as_with_python(tmp_path: Path) -> None:
    """sys.argv, __file__, __name__, __spec__ and sys.path[0] match plain python."""
    write(tmp_path / "sub" / "prog.py", IDENTITY)
    fast = assert_same_run(["sub/prog.py", "a", "-x", "--y"], tmp_path)
    assert "['sub/prog.py', 'a', '-x', '--y']" in fast.stdout
    assert str(tmp_path / "sub") in fast.stdout


def test_arguments_after_the_script_belong_to_the_script(tmp_path: Path) -> None:
    """Options after the script name, even fastimport's own, are passed through untouched."""
    write(tmp_path / "prog.py", "import sys; print(sys.argv[1:])\n")
    result = run_fi(["prog.py", "--report", "-m", "x", "--version", "--", "-h"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['--report', '-m', 'x', '--version', '--', '-h']\n"
    assert result.stderr == ""


def test_double_dash_ends_fastimport_options(tmp_path: Path) -> None:
    """`--` separates fastimport's options from a script whose name starts with a dash."""
    write(tmp_path / "-odd.py", "import sys; print(sys.argv)\n")
    result = run_fi(["--", "-odd.py", "1"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['-odd.py', '1']\n"


@pytest.mark.parametrize("call", ["sys.exit(0)", "sys.exit(3)", "sys.exit('bad input')", "sys.exit()", "pass"])
def test_exit_status_and_message_match_python(tmp_path: Path, call: str) -> None:
    """sys.exit() gives the same status and stderr as under plain python."""
    write(tmp_path / "prog.py", f"import sys\nprint('out')\n{call}\n")
    assert_same_run(["prog.py"], tmp_path)


def test_exit_three_exits_three(tmp_path: Path) -> None:
    """sys.exit(3) makes the process exit with status 3."""
    write(tmp_path / "prog.py", "import sys\nsys.exit(3)\n")
    assert run_fi(["prog.py"], tmp_path).returncode == 3


def test_uncaught_exception_prints_the_same_traceback(tmp_path: Path) -> None:
    """An uncaught exception prints python's traceback, without fastimport frames, and exits 1."""
    write(
        tmp_path / "helper.py",
        """\
        def fail(x):
            try:
                return 1 / x
            except ZeroDivisionError as e:
                raise ValueError(f"bad x: {x}") from e
        """,
    )
    write(
        tmp_path / "prog.py",
        """\
        import helper

        def outer(x):
            return helper.fail(x) + 1

        print("before")
        outer(0)
        """,
    )
    fast = assert_same_run(["prog.py"], tmp_path)
    assert fast.returncode == 1
    assert "fastimport" not in fast.stderr
    assert fast.stderr.startswith("Traceback (most recent call last):")
    assert fast.stderr.endswith("ValueError: bad x: 0\n")


def test_syntax_error_is_reported_like_python(tmp_path: Path) -> None:
    """A syntax error in the script prints python's message (no traceback header) and exits 1."""
    write(tmp_path / "prog.py", "x = 1\ndef broken(:\n    pass\n")
    fast = assert_same_run(["prog.py"], tmp_path)
    assert fast.returncode == 1
    assert "SyntaxError" in fast.stderr


def test_missing_script_is_reported_like_python(tmp_path: Path) -> None:
    """A script that does not exist gives python's message and status 2."""
    fast = assert_same_run(["nothere.py"], tmp_path)
    assert fast.returncode == 2
    assert "can't open file" in fast.stderr


def test_excepthook_is_honoured(tmp_path: Path) -> None:
    """A sys.excepthook set by the script prints the uncaught exception."""
    write(
        tmp_path / "prog.py",
        """\
        import sys
        sys.excepthook = lambda t, v, tb: print("hooked", t.__name__, v, tb.tb_frame.f_code.co_name)
        raise KeyError("k")
        """,
    )
    assert_same_run(["prog.py"], tmp_path)


def test_script_functions_pickle_by_reference(tmp_path: Path) -> None:
    """Functions defined in the script live in sys.modules['__main__'] and pickle by reference."""
    write(
        tmp_path / "prog.py",
        """\
        import pickle

        def square(x):
            return x * x

        print(pickle.loads(pickle.dumps(square)) is square)
        """,
    )
    assert_same_run(["prog.py"], tmp_path)


def test_module_runs_like_python_dash_m(tmp_path: Path) -> None:
    """-m package.module sees the same argv, __name__, __file__, __package__ and sys.path[0] as python -m."""
    write(tmp_path / "pkg" / "__init__.py", "")
    write(
        tmp_path / "pkg" / "mod.py",
        """\
        import sys
        print(sys.argv, __name__, __file__, __package__, __spec__.name, __spec__.origin, __cached__)
        print(sys.path[0])
        print(sorted(globals()))
        """,
    )
    plain = run(["-m", "pkg.mod", "a", "--report"], tmp_path)
    fast = run_fi(["-m", "pkg.mod", "a", "--report"], tmp_path)
    assert (fast.returncode, fast.stdout, fast.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    assert f"{tmp_path / 'pkg' / 'mod.py'}', 'a', '--report']" in fast.stdout


def test_module_is_loaded_through_fastimport(tmp_path: Path) -> None:
    """The -m target and the modules it imports are loaded by FastSourceLoader."""
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "util.py", "")
    write(
        tmp_path / "pkg" / "mod.py",
        """\
        import sys
        import pkg.util
        print(type(__loader__).__name__, type(sys.modules["pkg.util"].__loader__).__name__)
        """,
    )
    result = run_fi(["-mpkg.mod"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "FastSourceLoader FastSourceLoader\n"


def test_package_with_main_runs_like_python_dash_m(tmp_path: Path) -> None:
    """-m package runs package/__main__.py as python -m does."""
    write(tmp_path / "app" / "__init__.py", "print('init', __name__)\n")
    write(tmp_path / "app" / "__main__.py", "import sys\nprint(__name__, __spec__.name, sys.argv[1:])\n")
    assert_same_run(["-m", "app", "x"], tmp_path)


@pytest.mark.parametrize("name", ["nothere", "app", "app.nothere", "os.path.nothere"])
def test_bad_module_is_reported_like_python(tmp_path: Path, name: str) -> None:
    """A -m target that cannot run gives python's message and status."""
    write(tmp_path / "app" / "__init__.py", "")
    plain = run(["-m", name], tmp_path)
    fast = run_fi(["-m", name], tmp_path)
    assert (fast.returncode, fast.stderr) == (plain.returncode, plain.stderr)
    assert fast.returncode == 1


def test_stdin_program_runs(tmp_path: Path) -> None:
    """`-` reads the program from stdin, as python does."""
    fast = assert_same_run(["-", "a"], tmp_path, stdin="import sys\nprint(__name__, sys.argv)\n")
    assert fast.stdout == "__main__ ['-', 'a']\n"


def test_scripts_imports_go_through_the_hook(tmp_path: Path) -> None:
    """A module imported by the script from its directory gets FastSourceLoader; stdlib does not."""
    write(tmp_path / "helper.py", "")
    write(
        tmp_path / "prog.py",
        """\
        import json, helper
        print(type(helper.__loader__).__name__, type(json.__loader__).__name__)
        """,
    )
    result = run_fi(["prog.py"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "FastSourceLoader SourceFileLoader\n"


REGISTERS = """\
    import sys
    from fastimport.runtime.registry import FunctionRecord, register
    register(FunctionRecord("__main__", "energy", __file__, 3, status="native", reason=None,
                            signatures=["(float, float) -> float"], deopts=2, compile_ms=1.5))
    register(FunctionRecord("__main__", "Body.step", __file__, 9, reason="while-else at prog.py:10:4"))
    print("done")
    {tail}
"""


def test_report_prints_a_table_of_functions(tmp_path: Path) -> None:
    """--report prints one line per function with location, status, reason and signatures."""
    write(tmp_path / "prog.py", REGISTERS.format(tail=""))
    result = run_fi(["--report", "prog.py"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done\n"
    lines = result.stderr.splitlines()
    energy = next(line for line in lines if line.startswith("energy"))
    step = next(line for line in lines if line.startswith("Body.step"))
    assert energy.split()[:6] == ["energy", "prog.py:3", "native", "0", "2", "1.5"]
    assert "(float, float) -> float" in energy
    assert step.split()[:3] == ["Body.step", "prog.py:9", "bytecode"]
    assert "while-else at prog.py:10:4" in step


@pytest.mark.parametrize(("tail", "status"), [("sys.exit(3)", 3), ("raise RuntimeError('boom')", 1)])
def test_report_is_printed_whatever_the_exit(tmp_path: Path, tail: str, status: int) -> None:
    """The report still appears when the script calls sys.exit() or raises, and the status is kept."""
    write(tmp_path / "prog.py", REGISTERS.format(tail=tail))
    result = run_fi(["--report", "prog.py"], tmp_path)
    assert result.returncode == status
    assert "Body.step" in result.stderr


def test_report_json_has_every_field(tmp_path: Path) -> None:
    """--report=FILE.json writes a JSON list of records with the documented fields."""
    write(tmp_path / "prog.py", REGISTERS.format(tail="import os; os.chdir('/')"))
    result = run_fi(["--report=out.json", "prog.py"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    records = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert [r["qualname"] for r in records] == ["energy", "Body.step"]
    assert set(records[0]) == {
        "module", "qualname", "file", "line", "status", "reason", "signatures", "rejected", "predicted",
        "native_calls", "deopts", "compile_ms", "compilations", "loaded", "load_ms", "tiered_up",
    }  # fmt: skip
    assert records[0]["file"] == str(tmp_path / "prog.py")
    assert (records[0]["line"], records[0]["status"], records[0]["deopts"]) == (3, "native", 2)


def test_report_lists_the_scripts_functions(tmp_path: Path) -> None:
    """Functions of the script and of imported modules appear in the JSON report."""
    write(tmp_path / "helper.py", "def twice(x: int) -> int:\n    return 2 * x\n")
    write(
        tmp_path / "prog.py",
        """\
        import helper

        def add(a: int, b: int) -> int:
            return a + b

        print(sum(add(i, helper.twice(i)) for i in range(100)))
        """,
    )
    result = run_fi(["--report=out.json", "prog.py"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "14850\n"
    records = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    if not records:
        pytest.skip("transform_source registers no functions yet (placeholder compiler)")
    by_name = {(r["module"], r["qualname"]): r for r in records}
    assert by_name["__main__", "add"]["line"] == 3
    assert by_name["helper", "twice"]["file"] == str(tmp_path / "helper.py")


def test_report_from_environment(tmp_path: Path) -> None:
    """FASTIMPORT_REPORT=1 prints the report without the --report flag."""
    write(tmp_path / "prog.py", REGISTERS.format(tail=""))
    result = run_fi(["prog.py"], tmp_path, FASTIMPORT_REPORT="1")
    assert "Body.step" in result.stderr


def test_disable_runs_without_the_hook(tmp_path: Path) -> None:
    """FASTIMPORT_DISABLE=1 runs the program correctly with no finder installed."""
    write(tmp_path / "helper.py", "")
    write(
        tmp_path / "prog.py",
        """\
        import sys, helper
        print(type(helper.__loader__).__name__, any("FastImport" in type(f).__name__ for f in sys.meta_path))
        print(sys.argv, __name__)
        """,
    )
    result = run_fi(["prog.py", "a"], tmp_path, FASTIMPORT_DISABLE="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "SourceFileLoader False\n['prog.py', 'a'] __main__\n"


def test_bad_config_file_exits_2_with_one_line(tmp_path: Path) -> None:
    """A bad [tool.fastimport] value exits 2 with one stderr line naming the key and the file."""
    write(tmp_path / "pyproject.toml", '[tool.fastimport]\nmax_specializations = "abc"\n')
    write(tmp_path / "prog.py", "print('ran')\n")
    result = run_fi(["prog.py"], tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "max_specializations" in result.stderr
    assert str(tmp_path / "pyproject.toml") in result.stderr


def test_bad_environment_variable_exits_2_with_one_line(tmp_path: Path) -> None:
    """A bad FASTIMPORT_* value exits 2 with one stderr line naming the variable."""
    write(tmp_path / "prog.py", "print('ran')\n")
    result = run_fi(["prog.py"], tmp_path, FASTIMPORT_MAX_SPECIALIZATIONS="many")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "FASTIMPORT_MAX_SPECIALIZATIONS" in result.stderr


def test_no_arguments_prints_usage_and_exits_2(tmp_path: Path) -> None:
    """With nothing to run, the usage goes to stderr and the status is 2."""
    result = run_fi([], tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("usage:")


def test_unknown_option_exits_2(tmp_path: Path) -> None:
    """An unknown option before the script is a usage error (status 2)."""
    write(tmp_path / "prog.py", "print('ran')\n")
    result = run_fi(["--bogus", "prog.py"], tmp_path)
    assert result.returncode == 2
    assert "ran" not in result.stdout


def test_empty_report_file_name_exits_2(tmp_path: Path) -> None:
    """--report= without a file name is a usage error (status 2)."""
    write(tmp_path / "prog.py", "print('ran')\n")
    result = run_fi(["--report=", "prog.py"], tmp_path)
    assert result.returncode == 2
    assert "ran" not in result.stdout


def test_keyboard_interrupt_exits_like_python(tmp_path: Path) -> None:
    """An uncaught KeyboardInterrupt ends the process with python's status and message."""
    write(tmp_path / "prog.py", "raise KeyboardInterrupt\n")
    plain = run(["prog.py"], tmp_path)
    fast = run_fi(["prog.py"], tmp_path)
    assert fast.returncode == plain.returncode != 0
    assert fast.stderr.endswith("KeyboardInterrupt\n")


def test_version(tmp_path: Path) -> None:
    """--version prints the package version."""
    import fastimport

    result = run_fi(["--version"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"fastimport {fastimport.__version__}"


def test_compile_subcommand_needs_a_path(tmp_path: Path) -> None:
    """`compile` with nothing to compile is a usage error (exit 2), like argparse's."""
    result = run_fi(["compile"], tmp_path)
    assert result.returncode == 2
    assert "the following arguments are required: PATH" in result.stderr


def test_startup_does_not_import_the_compiler(tmp_path: Path) -> None:
    """A script with nothing to compile runs without importing llvmlite, onnxruntime or numpy."""
    write(
        tmp_path / "prog.py",
        f"import sys\nprint(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY}))\n",
    )
    result = run_fi(["--report", "prog.py"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


def test_startup_imports_nothing_heavy_of_the_standard_library(tmp_path: Path) -> None:
    """Beyond what plain python imports for a script: not pathlib, re or fnmatch (each costs milliseconds)."""
    write(tmp_path / "prog.py", "import sys\nprint(' '.join(sorted(sys.modules)))\n")
    plain = subprocess.run([sys.executable, "prog.py"], cwd=tmp_path, capture_output=True, text=True, check=True)
    result = run_fi(["prog.py"], tmp_path)
    assert result.returncode == 0, result.stderr
    added = set(result.stdout.split()) - set(plain.stdout.split())
    assert any(name.startswith("fastimport") for name in added)  # (the probe sees our modules)
    assert added.isdisjoint({"pathlib", "re", "fnmatch", "urllib.parse", "typing", "dataclasses", "inspect"}), added


def test_console_script_runs_programs(tmp_path: Path) -> None:
    """The `fastimport` console script behaves like `python -m fastimport`."""
    script = Path(sys.executable).with_name("fastimport")
    if not script.exists():
        pytest.skip("the fastimport console script is not installed next to this python")
    write(tmp_path / "prog.py", "import sys\nprint(sys.argv, sys.path[0])\nsys.exit(4)\n")
    result = subprocess.run(
        [str(script), "prog.py", "x"], cwd=tmp_path, env=_env(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 4
    assert result.stdout == f"['prog.py', 'x'] {tmp_path}\n"
