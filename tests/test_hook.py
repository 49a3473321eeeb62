"""The import hook: install/uninstall, which modules get FastSourceLoader, and no .pyc for them."""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
import subprocess
import sys
import textwrap
import types
from importlib.machinery import SourceFileLoader
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import fastimport
from fastimport.config import Config
from fastimport.hook import FastImportFinder, FastSourceLoader

if TYPE_CHECKING:
    from collections.abc import Iterator

SRC = Path(__file__).resolve().parent.parent / "src"
_names = itertools.count()


def ours() -> list[object]:
    """The fastimport finders currently on sys.meta_path."""
    return [f for f in sys.meta_path if isinstance(f, FastImportFinder)]


@pytest.fixture(autouse=True)
def restore_import_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Each test leaves sys.meta_path, sys.path and sys.modules as it found them.

    Only the modules the test imported from its own temporary project are dropped: a module
    of the venv or the standard library first imported during a test (llvmlite at a first
    compile, sqlite3...) must stay, or the next import makes a second copy of it (llvmlite's
    IR types that our backend no longer recognizes, say) and breaks whichever test runs next
    in this process (test_cache's did).
    """
    base = os.path.realpath(tmp_path_factory.getbasetemp()) + os.sep
    meta_path, path, modules = list(sys.meta_path), list(sys.path), set(sys.modules)
    yield
    sys.meta_path[:] = meta_path
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        module = sys.modules[name]
        places = [getattr(module, "__file__", None), *(getattr(module, "__path__", None) or [])]
        if any(isinstance(p, str) and os.path.realpath(p).startswith(base) for p in places):
            del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory on sys.path, with fastimport installed for it."""
    root = tmp_path / "proj"
    root.mkdir()
    sys.path.insert(0, str(root))
    fastimport.install(Config(project_root=root))
    return root


def unique(prefix: str) -> str:
    """A module name no other test uses."""
    return f"{prefix}_{os.getpid()}_{next(_names)}"


def write(path: Path, source: str = "") -> Path:
    """Write dedented `source` to `path` (creating directories)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_install_is_idempotent(tmp_path: Path) -> None:
    """Installing twice leaves exactly one finder, first on sys.meta_path."""
    fastimport.install(Config(project_root=tmp_path))
    fastimport.install(Config(project_root=tmp_path, max_specializations=2))
    assert len(ours()) == 1
    assert isinstance(sys.meta_path[0], FastImportFinder)
    assert sys.meta_path[0].config.max_specializations == 2


def test_uninstall_is_idempotent(tmp_path: Path) -> None:
    """Uninstalling removes the finder; uninstalling again is harmless."""
    others = [f for f in sys.meta_path if not isinstance(f, FastImportFinder)]
    fastimport.install(Config(project_root=tmp_path))
    fastimport.uninstall()
    fastimport.uninstall()
    assert ours() == []
    assert sys.meta_path == others


def test_install_with_disabled_config_installs_nothing(tmp_path: Path) -> None:
    """A disabled configuration removes the finder instead of adding it."""
    fastimport.install(Config(project_root=tmp_path))
    fastimport.install(Config(project_root=tmp_path, disable=True))
    assert ours() == []


def test_in_scope_module_gets_fast_loader(project: Path) -> None:
    """A module under the project root is loaded by FastSourceLoader and runs normally."""
    name = unique("kernels")
    write(project / f"{name}.py", "def add(a, b):\n    return a + b\n")
    module = importlib.import_module(name)
    assert isinstance(module.__spec__.loader, FastSourceLoader)
    assert module.__loader__ is module.__spec__.loader
    assert module.add(2, 3) == 5
    assert module.__file__ == str(project / f"{name}.py")


def test_packages_and_submodules_get_fast_loader(project: Path) -> None:
    """A package's __init__.py and its submodules are loaded by FastSourceLoader."""
    name = unique("pkg")
    write(project / name / "__init__.py", "from . import sub\nVALUE = sub.VALUE + 1\n")
    write(project / name / "sub.py", "VALUE = 41\n")
    package = importlib.import_module(name)
    assert package.VALUE == 42
    assert isinstance(package.__spec__.loader, FastSourceLoader)
    assert package.__spec__.submodule_search_locations == [str(project / name)]
    assert isinstance(sys.modules[f"{name}.sub"].__loader__, FastSourceLoader)


@pytest.mark.usefixtures("project")
def test_stdlib_modules_keep_cpython_loader() -> None:
    """Standard library modules are not claimed by the finder."""
    finder = ours()[0]
    assert finder.find_spec("colorsys", None) is None
    assert finder.find_spec("json.decoder", sys.modules["json"].__path__ if "json" in sys.modules else None) is None
    sys.modules.pop("colorsys", None)
    assert type(importlib.import_module("colorsys").__loader__) is SourceFileLoader


@pytest.mark.usefixtures("project")
def test_modules_outside_the_project_are_left_alone(tmp_path: Path) -> None:
    """A module outside the project root is loaded by CPython's own loader."""
    outside = tmp_path / "outside"
    name = unique("outside")
    write(outside / f"{name}.py")
    sys.path.insert(0, str(outside))
    assert type(importlib.import_module(name).__loader__) is SourceFileLoader


def test_site_packages_excluded_by_default(tmp_path: Path) -> None:
    """Modules in a site-packages directory, even inside the project, are left alone unless enabled."""
    site = tmp_path / ".venv" / "lib" / "python3" / "site-packages"
    name = unique("thirdparty")
    write(site / f"{name}.py")
    assert FastImportFinder(Config(project_root=tmp_path)).find_spec(name, [str(site)]) is None
    spec = FastImportFinder(Config(project_root=tmp_path, site_packages=True)).find_spec(name, [str(site)])
    assert spec is not None
    assert isinstance(spec.loader, FastSourceLoader)


def test_exclude_pattern_is_honoured(tmp_path: Path) -> None:
    """Excluded modules are not claimed."""
    name = unique("excluded")
    write(tmp_path / f"{name}.py")
    finder = FastImportFinder(Config(project_root=tmp_path, exclude=("excluded_*",)))
    assert finder.find_spec(name, [str(tmp_path)]) is None


def test_missing_module_is_not_found(tmp_path: Path) -> None:
    """The finder returns None for a module that does not exist."""
    assert FastImportFinder(Config(project_root=tmp_path)).find_spec("nothere_xyz", [str(tmp_path)]) is None


def test_no_pyc_is_written_and_spec_cached_is_cpythons(project: Path) -> None:
    """Transformed modules leave __pycache__ alone; spec.cached is still CPython's path."""
    name = unique("nopyc")
    path = write(project / f"{name}.py", "X = 1\n")
    module = importlib.import_module(name)
    assert module.__spec__.cached == importlib.util.cache_from_source(str(path))
    assert module.__cached__ == module.__spec__.cached
    assert not Path(module.__spec__.cached).exists()
    assert not (project / "__pycache__").exists()


def test_stale_pyc_is_not_read(project: Path) -> None:
    """A .pyc in __pycache__ is ignored: the module runs its current source."""
    name = unique("stale")
    path = write(project / f"{name}.py", "X = 'old'\n")
    sys.modules.pop(name, None)
    # Plant a valid .pyc for different code, as if written by plain CPython earlier.
    import py_compile

    before = path.stat()
    py_compile.compile(str(path), cfile=importlib.util.cache_from_source(str(path)), doraise=True)
    write(path, "X = 'new'\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size and mtime as the .pyc records
    stale = types.ModuleType(name)
    exec(SourceFileLoader(name, str(path)).get_code(name), stale.__dict__)  # noqa: S102
    assert stale.X == "old"  # CPython's own loader trusts the stale .pyc
    assert importlib.import_module(name).X == "new"


def test_loader_compiles_with_transform_source(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FastSourceLoader gets its code from transform_source(source bytes, path, module name)."""
    import fastimport.hook.loader as loader_module

    calls: list[tuple[bytes | str, str, str]] = []

    def spy(source: bytes | str, path: str, module_name: str) -> types.CodeType:
        calls.append((source, path, module_name))
        return compile(source, path, "exec", dont_inherit=True)

    monkeypatch.setattr(loader_module, "transform_source", spy)
    name = unique("spied")
    path = write(project / f"{name}.py", "Y = 2\n")
    assert importlib.import_module(name).Y == 2
    assert calls == [(b"Y = 2\n", str(path), name)]


def test_syntax_error_propagates_like_python(project: Path) -> None:
    """A module with a syntax error raises SyntaxError on import, as under CPython."""
    name = unique("broken")
    write(project / f"{name}.py", "def f(:\n")
    with pytest.raises(SyntaxError):
        importlib.import_module(name)


def test_reload_keeps_fast_loader(project: Path) -> None:
    """importlib.reload re-runs the module through FastSourceLoader with the new source."""
    name = unique("reloaded")
    path = write(project / f"{name}.py", "X = 1\n")
    module = importlib.import_module(name)
    write(path, "X = 22\n")
    importlib.invalidate_caches()
    reloaded = importlib.reload(module)
    assert reloaded.X == 22
    assert isinstance(reloaded.__loader__, FastSourceLoader)


def test_source_is_available_to_inspect(project: Path) -> None:
    """The inspect module still finds the source of transformed modules."""
    import inspect

    name = unique("inspected")
    write(project / f"{name}.py", "def f():\n    return 1\n")
    module = importlib.import_module(name)
    assert inspect.getsource(module.f) == "def f():\n    return 1\n"


# --- in a fresh interpreter ---------------------------------------------------------------------


def python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `python -c code` in `cwd` with a clean FASTIMPORT_* environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FASTIMPORT_")}
    clean["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=clean, capture_output=True, text=True, timeout=60, check=False
    )


HAS_FINDER = "import sys; print(sum(type(f).__name__ == 'FastImportFinder' for f in sys.meta_path))"


@pytest.mark.slow
def test_import_fastimport_install_installs_once(tmp_path: Path) -> None:
    """`import fastimport.install` installs one finder; fastimport.install() stays callable after it."""
    result = python(f"import fastimport.install, fastimport; fastimport.install(); {HAS_FINDER}", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1\n"


@pytest.mark.slow
def test_import_fastimport_install_honours_disable(tmp_path: Path) -> None:
    """With FASTIMPORT_DISABLE=1, `import fastimport.install` installs nothing."""
    result = python(f"import fastimport.install; {HAS_FINDER}", tmp_path, FASTIMPORT_DISABLE="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0\n"


@pytest.mark.slow
def test_import_fastimport_install_survives_bad_config(tmp_path: Path) -> None:
    """A bad configuration prints one line and the program goes on without fastimport."""
    result = python(f"import fastimport.install; {HAS_FINDER}", tmp_path, FASTIMPORT_DEBUG="7")
    assert result.returncode == 0
    assert result.stdout == "0\n"
    assert len(result.stderr.splitlines()) == 1
    assert "FASTIMPORT_DEBUG" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("statement", ["import fastimport", "import fastimport.install", "import fastimport.cli"])
def test_import_is_cheap(tmp_path: Path, statement: str) -> None:
    """Importing fastimport does not import llvmlite, numpy or onnxruntime."""
    heavy = "{'llvmlite', 'numpy', 'onnxruntime'}"
    code = f"{statement}; import sys; print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy}))"
    result = python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


@pytest.mark.slow
def test_import_fastimport_install_keeps_an_installed_configuration(tmp_path: Path) -> None:
    """A package's `import fastimport.install` under `python -m fastimport`: the program's settings stay."""
    code = (
        "import fastimport, fastimport.config as c; "
        "fastimport.install(c.Config(project_root='.', max_specializations=3)); "
        "import fastimport.install; print(c.active_config().max_specializations)"
    )
    result = python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "3\n"
