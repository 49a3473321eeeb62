"""Source -> code object whose candidate functions carry a native-entry prologue.

Every candidate function gets, right after its docstring:

    def f(a, b):
        try:
            return <slot>(a, b)      # the function's FunctionState, later its native entry
        except (<Miss>, RecursionError):
            pass
        ...original body...

`<slot>` and `<Miss>` are objects patched into the code's constants (no name
is added to the module). The slot starts as the Python-level first-call
handler, which compiles a specialization and then swaps the constant for
the native entry point (a builtin taking the arguments). When native code
cannot run (a guard fails, an int leaves 64 bits...) it raises Miss and the
original body runs in the same frame, so tracebacks, `inspect` and
everything else about the function stay CPython's.

Why a prologue rather than replacing the function's vectorcall: CPython 3.11
inlines Python-to-Python calls without looking at `func->vectorcall`
(measured: a patched vectorcall is ignored there), so a prologue is the one
mechanism that works on 3.10-3.13 alike.
"""

from __future__ import annotations

import ast
import types
import warnings

from fastimport.frontend.eligibility import check_candidate
from fastimport.frontend.errors import Unsupported

_SLOT = "__fastimport_slot_{}__"
_MISS = "__fastimport_miss__"
_CAUGHT: tuple[type[BaseException], ...] = ()


def add_prologues(tree: ast.Module, path: str, module_name: str) -> types.CodeType:
    """Compile `tree`, giving every candidate function its prologue (see the module docstring)."""
    plain = compile(tree, path, "exec", dont_inherit=True)
    if not any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) for node in tree.body):
        return plain  # nothing to do: keep start-up free of the runtime's imports
    from fastimport.runtime.dispatch import Miss, new_state, reject

    # RecursionError too: near the recursion limit the call of the slot itself can
    # raise it; the body then raises CPython's own RecursionError, at its own place.
    global _CAUGHT  # noqa: PLW0603 - built once, on first use
    _CAUGHT = (Miss, RecursionError)

    plain_codes = {(c.co_name, c.co_firstlineno): c for c in plain.co_consts if isinstance(c, types.CodeType)}
    states = {}
    for index, node in enumerate(tree.body):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        try:
            check_candidate(node)
        except Unsupported as e:
            reject(module_name, node, path, e)
            continue
        key = _SLOT.format(index)
        original = _shallow_copy(node)  # lowering sees the body without the prologue
        original.body = list(node.body)
        node.body[_docstring_len(node) : _docstring_len(node)] = [_prologue(node, key)]
        states[key] = (original, plain_codes.get((node.name, _first_line(node))))
    if not states:
        return plain
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # '"str"(...)' is deliberate, see _prologue
        code = compile(tree, path, "exec", dont_inherit=True)
    consts = []
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            slot_key = next((c for c in const.co_consts if isinstance(c, str) and c in states), None)
            if slot_key is not None:
                node, plain_code = states[slot_key]
                state = new_state(module_name, node, path, plain_code)
                replaced = tuple(state if c == slot_key else _CAUGHT if c == _MISS else c for c in const.co_consts)
                const = const.replace(co_consts=replaced)  # noqa: PLW2901
                state.prologue_code = const
        consts.append(const)
    return code.replace(co_consts=tuple(consts))


def _shallow_copy(node: ast.FunctionDef) -> ast.FunctionDef:
    # Not copy.copy: the copy module costs more to import than this.
    clone = type(node)(**{name: getattr(node, name) for name in node._fields if hasattr(node, name)})
    for name in node._attributes:  # noqa: SLF001 - the AST node protocol: its position fields
        if hasattr(node, name):
            setattr(clone, name, getattr(node, name))
    return clone


def _docstring_len(node: ast.FunctionDef) -> int:
    first = node.body[0]
    is_doc = (
        isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
    )
    return 1 if is_doc else 0


def _first_line(node: ast.FunctionDef) -> int:
    return node.decorator_list[0].lineno if node.decorator_list else node.lineno


def _prologue(node: ast.FunctionDef, key: str) -> ast.stmt:
    """try: return "<slot>"(params...) except "<miss>": pass -- at the def's line."""
    args = node.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    call = ast.Call(func=ast.Constant(key), args=[ast.Name(p.arg, ast.Load()) for p in params], keywords=[])
    stmt = ast.Try(
        body=[ast.Return(call)],
        handlers=[ast.ExceptHandler(type=ast.Constant(_MISS), name=None, body=[ast.Pass()])],
        orelse=[],
        finalbody=[],
    )
    for sub in ast.walk(stmt):
        sub.lineno = sub.end_lineno = node.lineno  # type: ignore[attr-defined]
        sub.col_offset = sub.end_col_offset = node.col_offset  # type: ignore[attr-defined]
    return stmt
