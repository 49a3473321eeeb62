"""Which module-level functions are candidates for native code.

A cheap syntactic check at import time; the full check happens when a
specialization is lowered. A function that fails here gets no prologue at
all (zero overhead) and a reason in the report.

    def f(x): return x + 1        -> candidate
    @cache def g(x): ...          -> "decorated function at m.py:3:1"
"""

from __future__ import annotations

import ast

from fastimport.frontend.errors import Unsupported

_FORBIDDEN: dict[type[ast.AST], str] = {
    ast.Lambda: "lambda",
    ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension",
    ast.GeneratorExp: "generator expression",
    ast.Yield: "yield",
    ast.YieldFrom: "yield from",
    ast.Await: "await",
    ast.FunctionDef: "nested function",
    ast.AsyncFunctionDef: "nested async function",
    ast.ClassDef: "nested class",
    ast.Global: "global statement",
    ast.Nonlocal: "nonlocal statement",
    ast.Try: "try statement",
    ast.With: "with statement",
    ast.Raise: "raise statement",
    ast.Delete: "del statement",
    ast.Import: "import statement",
    ast.ImportFrom: "import statement",
    ast.Assert: "assert statement",
    ast.Match: "match statement",
    ast.NamedExpr: "assignment expression",
}
if hasattr(ast, "TryStar"):
    _FORBIDDEN[ast.TryStar] = "try statement"


def check_candidate(node: ast.stmt) -> None:
    """Raise Unsupported if `node` (a module-level statement defining a function) can never be native."""
    if isinstance(node, ast.AsyncFunctionDef):
        raise Unsupported(node, "async function")
    if not isinstance(node, ast.FunctionDef):
        raise Unsupported(node, "not a function")
    if node.decorator_list:
        raise Unsupported(node.decorator_list[0], "decorated function")
    if node.args.vararg or node.args.kwarg:
        raise Unsupported(node, "*args or **kwargs parameters")
    if getattr(node, "type_params", None):
        raise Unsupported(node, "type parameters")
    for sub in ast.walk(node):
        if sub is node:
            continue
        reason = _FORBIDDEN.get(type(sub))
        if reason is not None:
            raise Unsupported(sub, reason)
