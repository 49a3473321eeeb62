"""What a function's own code rules out: the array dimensions its subscripts and shape unpacking need.

    ndims(node)            -> {"a": (3, 3)}    a parameter's ndim if it is an array: (at least, at most)
    allowed(label, (3, 3)) -> False for "ndarray:float64:1"

Some uses of an array fail for every array of the wrong number of dimensions, whatever its
values: `nx, ny, nz = a.shape` raises ValueError unless `a.ndim == 3`; `a[i, j, k]` raises
IndexError ("too many indices") when `a.ndim < 3`, whatever the three indices are (an int,
a slice or an index array each take up at least one dimension); `a.shape[2]` raises when
`a.ndim < 3`; `a[i][j]`, with int indices, when `a.ndim < 2`. A model trained on few 3-D
arrays may still spread its belief over 1-D ones (`stencil3d(a)` got float64:3 0.49 and
float64:1 0.47); the predictor (predict/predictor.py) drops the array labels such code rules
out and renormalizes. Labels that are not arrays are left alone (`d[i, j]` may be a dict).

A parameter is left alone where these facts may hold on one path only: when the function
reads its `.ndim` or `len(x.shape)` (it dispatches on the number of dimensions), indexes it
with `...`, `None` or `np.newaxis` (code written for any number of dimensions), rebinds it,
or uses it in ways that disagree (`a[i, j]` in one place and `nx, ny, nz = a.shape` in
another).

Only the standard library: it runs on the compile-ahead thread, with the features.
"""

from __future__ import annotations

import ast

from fastimport.predict.features import params_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

_NO_LIMIT = 64  # (NumPy's NPY_MAXDIMS)


def ndims(node: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, tuple[int, int]]:
    """Each parameter's (least, greatest) ndim its code requires of an array; parameters with no facts left out."""
    params = {p.arg for p in params_of(node)}
    ints = _LoopInts(node)
    facts: dict[str, list[tuple[int, int]]] = {}
    spoilt: set[str] = set()
    for sub in ast.walk(node):
        for name, fact in _facts(sub, params, ints):
            if fact is None:
                spoilt.add(name)
            else:
                facts.setdefault(name, []).append(fact)
    result = {}
    for name, found in facts.items():
        if name in spoilt:
            continue
        low, high = max(lo for lo, _ in found), min(hi for _, hi in found)
        if low <= high:  # (disagreeing uses: no fact)
            result[name] = (low, high)
    return result


def allowed(label: str, bounds: tuple[int, int]) -> bool:
    """Whether a label is possible under these ndim bounds (only array labels can be ruled out)."""
    if not label.startswith("ndarray:"):
        return True
    ndim = int(label.rsplit(":", 1)[1])
    return bounds[0] <= ndim <= bounds[1]


def _facts(sub: ast.AST, params: set[str], ints: _LoopInts) -> Iterator[tuple[str, tuple[int, int] | None]]:
    """(parameter, its ndim bounds) for what one node requires; (parameter, None): no facts for it at all."""
    if isinstance(sub, ast.Name) and sub.id in params and not isinstance(sub.ctx, ast.Load):
        yield sub.id, None  # rebound: the facts may be about another value
    elif isinstance(sub, ast.Attribute) and sub.attr == "ndim" and _param(sub.value, params):
        yield sub.value.id, None  # type: ignore[attr-defined] - dispatches on its ndim
    elif isinstance(sub, ast.Call) and _callee(sub.func) == "len" and sub.args and _is_shape(sub.args[0], params):
        yield sub.args[0].value.id, None  # type: ignore[attr-defined] - len(a.shape)
    elif isinstance(sub, ast.Assign) and len(sub.targets) == 1 and _is_shape(sub.value, params):
        target = sub.targets[0]
        if isinstance(target, (ast.Tuple, ast.List)):
            starred = any(isinstance(t, ast.Starred) for t in target.elts)
            count = len(target.elts)
            yield sub.value.value.id, (count - 1, _NO_LIMIT) if starred else (count, count)  # type: ignore[attr-defined]
    elif isinstance(sub, ast.Subscript):
        yield from _subscript_facts(sub, params, ints)


def _subscript_facts(
    sub: ast.Subscript, params: set[str], ints: _LoopInts
) -> Iterator[tuple[str, tuple[int, int] | None]]:
    if _is_shape(sub.value, params) and (k := _constant_int(sub.slice)) is not None:
        # a.shape[2]: at least 3 dimensions; a.shape[-2]: at least 2
        yield sub.value.value.id, (k + 1 if k >= 0 else -k, _NO_LIMIT)  # type: ignore[attr-defined]
        return
    if _param(sub.value, params):
        items = sub.slice.elts if isinstance(sub.slice, ast.Tuple) else [sub.slice]
        if any(_any_ndim(i) for i in items):  # code written for any number of dimensions: no facts
            yield sub.value.id, None  # type: ignore[attr-defined]
        elif len(items) > 1:
            yield sub.value.id, (len(items), _NO_LIMIT)  # type: ignore[attr-defined]
        return
    chain, base = [], sub  # a[i][j][k] with int indices: each takes away one dimension
    while isinstance(base, ast.Subscript):
        chain.append(base.slice)
        base = base.value
    if len(chain) > 1 and _param(base, params):
        depth = next((k for k, index in enumerate(reversed(chain)) if not _is_int(index, ints)), len(chain))
        if depth > 1:
            yield base.id, (depth, _NO_LIMIT)  # type: ignore[attr-defined]


def _constant_int(node: ast.AST) -> int | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _constant_int(node.operand)
        return None if inner is None else -inner
    return node.value if isinstance(node, ast.Constant) and type(node.value) is int else None


def _any_ndim(index: ast.AST) -> bool:
    """`...`, `None`, `np.newaxis`, `*idx`: an index that takes or adds any number of dimensions."""
    if isinstance(index, ast.Constant):
        return index.value is None or index.value is Ellipsis
    return isinstance(index, ast.Starred) or (isinstance(index, ast.Attribute) and index.attr == "newaxis")


def _param(node: ast.AST, params: set[str]) -> bool:
    return isinstance(node, ast.Name) and node.id in params


def _is_shape(node: ast.AST, params: set[str]) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "shape" and _param(node.value, params)


def _is_int(node: ast.AST, ints: _LoopInts) -> bool:
    """An int for sure: an int literal, a name only bound by `for name in range(...)`, or `+ - *` of those."""
    if isinstance(node, ast.Constant):
        return type(node.value) is int
    if isinstance(node, ast.Name):
        return node.id in ints
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _is_int(node.operand, ints)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
        return _is_int(node.left, ints) and _is_int(node.right, ints)
    return False


class _LoopInts:
    """`name in ints`: the function's range-loop names (_int_names), worked out at the first question."""

    def __init__(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.node = node
        self.names: set[str] | None = None

    def __contains__(self, name: str) -> bool:
        if self.names is None:  # (most functions never ask: no chained subscript of a parameter)
            self.names = _int_names(self.node)
        return name in self.names


def _int_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Names bound only as `for name in range(...)` targets in the function (ints, always)."""
    loops: set[str] = set()
    other: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.For) and isinstance(sub.target, ast.Name) and _is_range(sub.iter):
            loops.add(sub.target.id)
            continue
        for child in ast.iter_child_nodes(sub):
            if isinstance(child, ast.Name) and not isinstance(child.ctx, ast.Load):
                other.add(child.id)
        if isinstance(sub, ast.NamedExpr):
            other.add(sub.target.id)
    params = {p.arg for p in params_of(node)}
    return loops - other - params


def _is_range(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _callee(node.func) == "range"


def _callee(func: ast.AST) -> str:
    """The name a call is made by (`len`, `range`); "" for `obj.method` and anything else."""
    return func.id if isinstance(func, ast.Name) else ""
