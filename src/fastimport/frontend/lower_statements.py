"""Statements -> IR blocks, and `lower_function`, the entry point of lowering.

Each `lower_<node>` reads like the control-flow graph it builds.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from fastimport.frontend.builder import Builder
from fastimport.frontend.errors import Unsupported
from fastimport.frontend.ir import (
    ArrayAttr,
    Binary,
    Builtin,
    CheckSignals,
    Compare,
    Const,
    FuncIR,
    Index,
    LoadLocal,
    MakeTuple,
    NewList,
    Param,
    Return,
    SetIndex,
    StoreLocal,
    Unary,
    Value,
)
from fastimport.frontend.lower_expressions import BINOPS, _constant_int, index_parts, lower_condition, lower_expr

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastimport.frontend.ir import BasicBlock, Local
    from fastimport.frontend.resolve import Resolver
    from fastimport.frontend.types import Ty


def lower_function(node: ast.FunctionDef, module: str, arg_types: tuple[Ty, ...], resolver: Resolver) -> FuncIR:
    """One specialization of `node` as IR (types are filled in later by `infer_types`)."""
    args = node.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    fn = FuncIR(module, node.name, [], arg_types)
    b = Builder(fn, resolver)
    for name in local_names(node):
        b.local(name)
    for index, arg in enumerate(params):
        local = b.local(arg.arg)
        local.is_param = True
        fn.params.append(local)
        b.add(StoreLocal(local, b.add(Param(index), arg)), arg)
    lower_body(b, node.body)
    if not b.terminated():
        b.add(Return(None), node)
    return fn


def local_names(node: ast.FunctionDef) -> list[str]:
    """Names Python treats as local to the function: anything bound in its body."""
    names: dict[str, None] = {}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            names[sub.id] = None
    return list(names)


def lower_body(b: Builder, body: list[ast.stmt]) -> None:
    """Each statement of `body` in order."""
    for stmt in body:
        lower = _STATEMENTS.get(type(stmt))
        if lower is None:
            raise Unsupported(stmt, f"statement {type(stmt).__name__}")
        lower(b, stmt)


def lower_assign(b: Builder, s: ast.Assign) -> None:
    """`a = b = value`: the value is evaluated once and stored to each name."""
    if len(s.targets) == 1 and _is_parallel_assignment(s.targets[0], s.value):
        _lower_parallel_assignment(b, s.targets[0], s.value)  # type: ignore[arg-type]
        return
    if len(s.targets) == 1 and _is_shape_unpacking(s.targets[0], s.value):
        _lower_shape_unpacking(b, s.targets[0], s.value)  # type: ignore[arg-type]
        return
    for target in s.targets:
        _check_target(target)
    value = lower_expr(b, s.value)
    for target in s.targets:  # left to right, each target's own expressions after the value (as CPython)
        store_target(b, target, value)


def _check_target(target: ast.expr) -> None:
    """Unsupported unless `target` is a name, a subscript, or a tuple/list of such (nested)."""
    if isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _check_target(element)
    elif not isinstance(target, (ast.Name, ast.Subscript)):
        raise Unsupported(target, f"assignment to {type(target).__name__}")


def store_target(b: Builder, target: ast.expr, value: Value) -> None:
    """`target = value` for a name, `a[i]`, or `x, (y, z)` (unpacked item by item, left to right)."""
    if isinstance(target, ast.Subscript):
        _lower_store_subscript(b, target, value)
    elif isinstance(target, ast.Name):
        if isinstance(value, NewList) and not value.items and value.element is None:
            b.empty_lists.setdefault(target.id, []).append(value)
        b.add(StoreLocal(b.local(target.id), value), target)
    elif isinstance(target, (ast.Tuple, ast.List)):
        # CPython unpacks every item first (checking the length), then stores left to right.
        count = len(target.elts)
        if isinstance(value, MakeTuple) and len(value.items) == count:  # `for i, x in enumerate(a)`
            for element, item in zip(target.elts, value.items, strict=True):
                store_target(b, element, item)  # the tuple itself is never seen: not built
            return
        items = [
            b.add(Index(value, [b.add(Const(k), target)], const_index=k, unpack=count), target) for k in range(count)
        ]
        for element, item in zip(target.elts, items, strict=True):
            store_target(b, element, item)
    else:
        raise Unsupported(target, f"assignment to {type(target).__name__}")


def _lower_store_subscript(b: Builder, target: ast.Subscript, value: Value) -> None:
    """`a[i, j] = value`, `a[i][j] = value`: one element of an array."""
    base = lower_expr(b, target.value)
    indices = [lower_expr(b, part) for part in index_parts(target)]
    b.add(SetIndex(base, indices, value), target)


def _is_parallel_assignment(target: ast.expr, value: ast.expr) -> bool:
    """`a, b = b, a + b`: names on the left, as many plain expressions on the right."""
    return (
        isinstance(target, (ast.Tuple, ast.List))
        and isinstance(value, ast.Tuple)
        and len(target.elts) == len(value.elts)
        and all(isinstance(t, ast.Name) for t in target.elts)
        and not any(isinstance(v, ast.Starred) for v in value.elts)
    )


def _lower_parallel_assignment(b: Builder, target: ast.Tuple, value: ast.Tuple) -> None:
    """Every right-hand value first, left to right, then the stores, left to right (as CPython).

    The tuple CPython builds in between is never visible, so none is made.
    """
    values = [lower_expr(b, element) for element in value.elts]
    for name, element in zip(target.elts, values, strict=True):
        b.add(StoreLocal(b.local(name.id), element), name)  # type: ignore[attr-defined]


def _is_shape_unpacking(target: ast.expr, value: ast.expr) -> bool:
    """`n, m = a.shape`: names on the left, an array's shape on the right."""
    return (
        isinstance(target, (ast.Tuple, ast.List))
        and all(isinstance(t, ast.Name) for t in target.elts)
        and isinstance(value, ast.Attribute)
        and value.attr == "shape"
    )


def _lower_shape_unpacking(b: Builder, target: ast.Tuple, value: ast.Attribute) -> None:
    """One int per name; inference checks there are as many names as dimensions."""
    base = lower_expr(b, value.value)
    dims = [b.add(ArrayAttr("shape", base, axis, unpack=len(target.elts)), value) for axis in range(len(target.elts))]
    for name, dim in zip(target.elts, dims, strict=True):
        b.add(StoreLocal(b.local(name.id), dim), name)  # type: ignore[attr-defined]


def lower_annassign(b: Builder, s: ast.AnnAssign) -> None:
    """`name: T = value` stores like a plain assignment; without a value it does nothing."""
    if not isinstance(s.target, ast.Name):
        raise Unsupported(s.target, "annotated assignment to a non-name")
    if s.value is not None:
        b.add(StoreLocal(b.local(s.target.id), lower_expr(b, s.value)), s.target)


def lower_augassign(b: Builder, s: ast.AugAssign) -> None:
    """`target op= value` reads the target, applies the operator and stores the result.

    For `a[i] op= value`, `a` and `i` are evaluated once, then the element is read,
    then `value` is evaluated (CPython's order).
    """
    kind = BINOPS.get(type(s.op))
    if kind is None:
        raise Unsupported(s, f"operator {type(s.op).__name__}")
    if isinstance(s.target, ast.Subscript):
        base = lower_expr(b, s.target.value)
        indices = [lower_expr(b, part) for part in index_parts(s.target)]
        current = b.add(Index(base, indices), s.target)
        result = b.add(Binary(kind, current, lower_expr(b, s.value)), s)
        b.add(SetIndex(base, indices, result), s.target)
        return
    if not isinstance(s.target, ast.Name):
        raise Unsupported(s.target, f"augmented assignment to {type(s.target).__name__}")
    local = b.local(s.target.id)
    current = b.add(LoadLocal(local), s.target)
    value = lower_expr(b, s.value)
    b.add(StoreLocal(local, b.add(Binary(kind, current, value, inplace=True), s)), s.target)


def lower_return(b: Builder, s: ast.Return) -> None:
    """`return value`, or `return` alone (which returns None)."""
    if s.value is None or (isinstance(s.value, ast.Constant) and s.value.value is None):
        b.add(Return(None), s)
    else:
        b.add(Return(lower_expr(b, s.value)), s)


def lower_expr_stmt(b: Builder, s: ast.Expr) -> None:
    """An expression statement, evaluated for its effects (a string literal has none)."""
    if isinstance(s.value, ast.Constant) and isinstance(s.value.value, str):
        return  # a docstring or a bare string: no effect
    lower_expr(b, s.value)


def lower_pass(b: Builder, _s: ast.stmt) -> None:
    """`pass`: no op."""


def lower_if(b: Builder, s: ast.If) -> None:
    """`if`/`else`: both arms join in a new block."""
    then, orelse, done = b.new_block(), b.new_block(), b.new_block()
    lower_condition(b, s.test, then, orelse)
    b.activate(then)
    lower_body(b, s.body)
    b.goto(done)
    b.activate(orelse)
    lower_body(b, s.orelse)
    b.goto(done)
    b.activate(done)


def lower_while(b: Builder, s: ast.While) -> None:
    """`while`/`else`: the test is re-evaluated at the top of every iteration."""
    top, body, orelse, done = b.new_block(), b.new_block(), b.new_block(), b.new_block()
    b.goto_and_activate(top)
    b.add(CheckSignals(), s)
    lower_condition(b, s.test, body, orelse)
    b.activate(body)
    _lower_loop_rest(b, s, top, orelse, done)


def _lower_loop_rest(b: Builder, s: ast.While | ast.For, top: BasicBlock, orelse: BasicBlock, done: BasicBlock) -> None:
    """From inside the body block: the body (continue -> top, break -> done), then `else`."""
    b.loops.append((top, done))
    lower_body(b, s.body)
    b.loops.pop()
    b.goto(top)
    b.activate(orelse)
    lower_body(b, s.orelse)
    b.goto_and_activate(done)


def lower_for(b: Builder, s: ast.For) -> None:
    """The loop `for target in range(start, stop, step)`: the range is evaluated once, up front."""
    _check_target(s.target)
    if not _is_range_call(b, s.iter):
        _lower_for_each(b, s)
        return
    if not isinstance(s.target, (ast.Name, ast.Subscript)):
        raise Unsupported(s.target, "unpacking the ints of a range")
    call = _range_call(b, s)
    start, stop, step, ascending = _range_bounds(b, call)
    cur, end, inc = b.temp("range_cur"), b.temp("range_stop"), b.temp("range_step")
    b.add(StoreLocal(cur, start), call)
    b.add(StoreLocal(end, stop), call)
    b.add(StoreLocal(inc, step), call)

    top, body, orelse, done = b.new_block(), b.new_block(), b.new_block(), b.new_block()
    b.goto_and_activate(top)
    b.add(CheckSignals(), s)
    cur_v = b.add(LoadLocal(cur), call)
    end_v = b.add(LoadLocal(end), call)
    if ascending is None:
        up, down = b.new_block(), b.new_block()
        b.branch(b.add(Compare("gt", b.add(LoadLocal(inc), call), b.add(Const(0), call)), call), up, down)
        b.activate(up)
        b.branch(b.add(Compare("lt", cur_v, end_v), call), body, orelse)
        b.activate(down)
        b.branch(b.add(Compare("gt", cur_v, end_v), call), body, orelse)
    else:
        b.branch(b.add(Compare("lt" if ascending else "gt", cur_v, end_v), call), body, orelse)
    b.activate(body)
    store_target(b, s.target, cur_v)
    nxt = b.add(Binary("add", cur_v, b.add(LoadLocal(inc), call)), call)
    # A step of +-1 cannot leave int64: the test above put `cur` strictly inside the range.
    nxt.no_overflow = len(call.args) < 3 or _constant_int(call.args[2]) in (1, -1)  # noqa: PLR2004
    b.add(StoreLocal(cur, nxt), call)
    _lower_loop_rest(b, s, top, orelse, done)


def _lower_for_each(b: Builder, s: ast.For) -> None:
    """`for x in seq`, `for i, x in enumerate(seq)`, `for x, y in zip(s, t)` (nested too): by index.

    Each sequence is an array, a tuple or a range(...), walked from index 0 to its
    length - 1 (an ndarray's or a tuple's length cannot change inside native code);
    zip stops at the shortest, as CPython's does when the first sequence runs out.
    """
    seq = _sequence(b, s.iter)
    index = b.temp("iter_index")
    b.add(StoreLocal(index, b.add(Const(0), s.iter)), s.iter)
    top, body, orelse, done = b.new_block(), b.new_block(), b.new_block(), b.new_block()
    b.goto_and_activate(top)
    b.add(CheckSignals(), s)
    i = b.add(LoadLocal(index), s.iter)
    b.branch(b.add(Compare("lt", i, seq.length(b)), s.iter), body, orelse)
    b.activate(body)
    item = seq.item(b, i)
    nxt = b.add(Binary("add", i, b.add(Const(1), s.iter)), s.iter)
    nxt.no_overflow = True  # i < length <= INT64_MAX
    b.add(StoreLocal(index, nxt), s.iter)
    store_target(b, s.target, item)
    _lower_loop_rest(b, s, top, orelse, done)


class _Sequence:
    """Something a for loop walks by index 0 .. length - 1: how to get its length, and the item at an index.

    An array, a tuple or a list (held in a temp; the length is read at every test, as
    CPython's iterators do: the loop may append to the list), a range(...), or
    enumerate/zip of sequences.
    """

    def __init__(
        self, node: ast.expr, length: Callable[[Builder], Value], item: Callable[[Builder, Value], Value]
    ) -> None:
        self.node = node
        self.length = length
        self.item = item


def _sequence(b: Builder, node: ast.expr) -> _Sequence:
    """Evaluate what `node` needs up front (as CPython does when the loop starts) and describe it."""
    if _is_builtin_call(b, node, "enumerate"):
        return _enumerate_sequence(b, node)  # type: ignore[arg-type]
    if _is_builtin_call(b, node, "zip"):
        return _zip_sequence(b, node)  # type: ignore[arg-type]
    if _is_range_call(b, node):
        return _range_sequence(b, _checked_range_call(b, node))
    seq = _temp_value(b, "iter_seq", lower_expr(b, node))
    return _Sequence(
        node,
        lambda b: b.add(ArrayAttr("len", b.add(LoadLocal(seq), node)), node),
        lambda b, i: b.add(Index(b.add(LoadLocal(seq), node), [i]), node),
    )


def _range_sequence(b: Builder, call: ast.Call) -> _Sequence:
    start, stop, step, _ = _range_bounds(b, call)
    first, inc = _temp_value(b, "range_start", start), _temp_value(b, "range_step", step)
    # len(range(start, stop, step)) = max(0, ceil((stop - start) / step)) for either sign of step
    diff = b.add(Binary("sub", start, stop), call)
    ceil = b.add(Unary(Unary.NEG, b.add(Binary("floordiv", diff, step), call)), call)
    length = _temp_value(b, "range_len", b.add(Builtin("max", [b.add(Const(0), call), ceil]), call))

    def item(b: Builder, i: Value) -> Value:  # start + i * step: never beyond the range's ends
        step = b.add(Binary("mul", i, b.add(LoadLocal(inc), call)), call)
        return b.add(Binary("add", b.add(LoadLocal(first), call), step), call)

    return _Sequence(call, lambda b: b.add(LoadLocal(length), call), item)


def _enumerate_sequence(b: Builder, call: ast.Call) -> _Sequence:
    if not 1 <= len(call.args) <= 2 or call.keywords:  # noqa: PLR2004
        raise Unsupported(call, "enumerate() other than enumerate(seq) or enumerate(seq, start)")
    inner = _sequence(b, call.args[0])
    start = None
    if len(call.args) == 2:  # noqa: PLR2004
        start = _temp_value(b, "enum_start", b.add(Builtin("$range_arg", [lower_expr(b, call.args[1])]), call))

    def item(b: Builder, i: Value) -> Value:
        value = inner.item(b, i)
        counter = i if start is None else b.add(Binary("add", b.add(LoadLocal(start), call), i), call)
        return b.add(MakeTuple([counter, value]), call)

    return _Sequence(call, inner.length, item)


def _zip_sequence(b: Builder, call: ast.Call) -> _Sequence:
    if not call.args or call.keywords:
        raise Unsupported(call, "zip() without arguments or with keywords")
    inners = [_sequence(b, arg) for arg in call.args]

    def length(b: Builder) -> Value:
        lengths = [inner.length(b) for inner in inners]
        return lengths[0] if len(lengths) == 1 else b.add(Builtin("min", lengths), call)

    return _Sequence(call, length, lambda b, i: b.add(MakeTuple([inner.item(b, i) for inner in inners]), call))


def _temp_value(b: Builder, hint: str, value: Value) -> Local:
    """A hidden local holding `value` (evaluated once, here)."""
    local = b.temp(hint)
    b.add(StoreLocal(local, value), None)
    return local


def _is_builtin_call(b: Builder, node: ast.expr, name: str) -> bool:
    """`node` is a call of the builtin `name` (not shadowed by a local or, checked by a guard, a global)."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == name
        and name not in b.fn.locals
        and not any(isinstance(a, ast.Starred) for a in node.args)
    ):
        return False
    resolved = b.resolver.resolve(name, node.func)
    if resolved.kind != "builtin" or resolved.name != name:
        return False
    b.global_ref(resolved.ref)
    return True


def _is_range_call(b: Builder, node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
        and node.func.id not in b.fn.locals
    )


def _range_call(b: Builder, s: ast.For) -> ast.Call:
    """The `range(...)` call a for loop iterates over (Unsupported for any other iterable)."""
    return _checked_range_call(b, s.iter)


def _checked_range_call(b: Builder, call: ast.expr) -> ast.Call:
    """`call`, a call of the builtin range with one to three positional arguments (else Unsupported)."""
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id not in b.fn.locals
        and not call.keywords
        and 1 <= len(call.args) <= 3  # noqa: PLR2004
    ):
        raise Unsupported(call, "range() other than range(stop), range(start, stop) or range(start, stop, step)")
    resolved = b.resolver.resolve(call.func.id, call.func)
    if resolved.kind != "builtin" or resolved.name != "range":
        raise Unsupported(call, "a call of something other than the builtin range()")
    b.global_ref(resolved.ref)
    return call


def _range_bounds(b: Builder, call: ast.Call) -> tuple[Value, Value, Value, bool | None]:
    """Start, stop and step of `call`, and whether the range ascends (None: known only at run time)."""
    args = [_range_arg(b, arg) for arg in call.args]
    if len(args) == 1:
        start, stop, step = b.add(Const(0), call), args[0], None
    else:
        start, stop, step = args[0], args[1], (args[2] if len(args) == 3 else None)  # noqa: PLR2004
    ascending: bool | None = True
    if step is None:
        step = b.add(Const(1), call)
    elif (literal := _constant_int(call.args[2])) is not None:  # `2`, `-1`: the direction is known
        ascending = literal > 0
        if literal == 0:
            b.deopt("range() arg 3 must not be zero")
    else:
        ascending = None  # the direction is known only at run time
        zero, nonzero = b.new_block(), b.new_block()
        b.branch(b.add(Compare("eq", step, b.add(Const(0), call)), call), zero, nonzero)
        b.activate(zero)
        b.deopt("range() arg 3 must not be zero")
        b.activate(nonzero)
    return start, stop, step, ascending


def _range_arg(b: Builder, node: ast.expr) -> Value:
    # range() accepts ints and bools; int(x) normalizes bool to int (a no-op for int).
    return b.add(Builtin("$range_arg", [lower_expr(b, node)]), node)


def lower_break(b: Builder, _s: ast.Break) -> None:
    """`break`: jump to the block after the innermost loop."""
    b.goto(b.loops[-1][1])


def lower_continue(b: Builder, _s: ast.Continue) -> None:
    """`continue`: jump to the top of the innermost loop."""
    b.goto(b.loops[-1][0])


_STATEMENTS = {
    ast.Assign: lower_assign,
    ast.AnnAssign: lower_annassign,
    ast.AugAssign: lower_augassign,
    ast.Return: lower_return,
    ast.Expr: lower_expr_stmt,
    ast.Pass: lower_pass,
    ast.If: lower_if,
    ast.While: lower_while,
    ast.For: lower_for,
    ast.Break: lower_break,
    ast.Continue: lower_continue,
}
