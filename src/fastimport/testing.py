"""Helpers for tests: load a source string as a module, plainly or through fastimport.

    m = compile_module(SRC)        # functions go native at their first call
    p = plain_module(SRC)          # the same source under plain CPython
    record_of(m.f).status          # "native" or "bytecode"

Each source is written to a file in a temporary directory first, so tracebacks show its lines.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
import types
from pathlib import Path

from fastimport.frontend.transform import transform_source
from fastimport.runtime.registry import FunctionRecord, all_functions

_counter = itertools.count()
_tmpdir: Path | None = None


def _write(source: str, name: str) -> str:
    global _tmpdir  # noqa: PLW0603 - one temp dir per process
    if _tmpdir is None:
        _tmpdir = Path(tempfile.mkdtemp(prefix="fastimport-test-"))
    path = _tmpdir / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    return str(path)


def _new_module(source: str, name: str | None, prefix: str) -> tuple[types.ModuleType, str]:
    name = name or f"{prefix}_{next(_counter)}"
    path = _write(source, name)
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module  # pickling by reference needs the module importable by name
    return module, path


def compile_module(source: str, name: str | None = None) -> types.ModuleType:
    """Execute `source` as a new module through fastimport's transform."""
    module, path = _new_module(source, name, "fi_native")
    exec(transform_source(source, path, module.__name__), module.__dict__)  # noqa: S102
    return module


def plain_module(source: str, name: str | None = None) -> types.ModuleType:
    """Execute `source` as a new module under plain CPython (the reference)."""
    module, path = _new_module(source, name, "fi_plain")
    exec(compile(source, path, "exec", dont_inherit=True), module.__dict__)  # noqa: S102
    return module


def record_of(func: types.FunctionType) -> FunctionRecord:
    """The registry record fastimport keeps for `func` (KeyError if it has none)."""
    for record in all_functions():
        if record.module == func.__module__ and record.qualname == func.__qualname__:
            return record
    raise KeyError(f"{func.__module__}.{func.__qualname__}")
