"""Golden IR: the typed IR of small functions, as the pretty-printer shows it.

Cases live in tests/data/*.test (mypyc's format):

    [case name]
    def f(a, b):
        return a + b
    [types]
    int, int
    [out]
    def f(a: int, b: int) -> int:
      ...

A refactor of the front end must leave these unchanged (tinygrad's "process
replay"); a deliberate change regenerates them with FASTIMPORT_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from fastimport.compiler import front_end
from fastimport.frontend.pprint import format_func
from fastimport.frontend.types import Array, Ty
from fastimport.runtime.dispatch import state_of
from fastimport.testing import compile_module

DATA = Path(__file__).parent / "data"
CASE = re.compile(r"^\[case (\S+)\]\n(.*?)\[types\]\n(.*?)\n\[out\]\n(.*?)(?=^\[case |\Z)", re.DOTALL | re.MULTILINE)
TYPES = {"int": Ty.INT, "float": Ty.FLOAT, "bool": Ty.BOOL}


def _cases() -> list[tuple[Path, str, str, str, str]]:
    found = []
    for path in sorted(DATA.glob("*.test")):
        for match in CASE.finditer(path.read_text(encoding="utf-8")):
            name, source, types, out = match.groups()
            found.append((path, name, source, types.strip(), out))
    return found


def _type(text: str) -> Ty | Array:
    """`int`, `float`, `bool`, or an array as `<Ty name>[<ndim>]` (`F64[2]`)."""
    array = re.fullmatch(r"(\w+)\[(\d)\]", text)
    if array:
        return Array(getattr(Ty, array.group(1)), int(array.group(2)))
    return TYPES[text]


def _ir_of(source: str, types: str) -> str:
    module = compile_module(source)
    func = module.f
    state = state_of(func)
    assert state is not None, "f must be a candidate function"
    arg_types = tuple(_type(t.strip()) for t in types.split(",") if t.strip())
    specs, _root = front_end(state, func, arg_types)
    return "\n\n".join(format_func(spec.ir) for spec in specs) + "\n"


@pytest.mark.parametrize(
    ("path", "name", "source", "types", "expected"), _cases(), ids=lambda v: getattr(v, "name", None)
)
def test_golden_ir(path: Path, name: str, source: str, types: str, expected: str) -> None:
    """The front end's typed IR for each case matches the recorded one."""
    actual = _ir_of(source, types)
    if os.environ.get("FASTIMPORT_UPDATE_GOLDEN") == "1":
        text = path.read_text(encoding="utf-8")
        text = text.replace(
            f"[case {name}]\n{source}[types]\n{types}\n[out]\n{expected}",
            f"[case {name}]\n{source}[types]\n{types}\n[out]\n{actual}",
        )
        path.write_text(text, encoding="utf-8")
        return
    assert actual == expected, f"{path.name}::{name}"


def test_golden_cases_exist() -> None:
    """The golden files are found and parsed (an empty match list would test nothing)."""
    assert len(_cases()) >= 5
