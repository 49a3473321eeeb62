"""List displays, `[x] * n`, list comprehensions and `lst.append(v)` -> IR.

    [a, b]                 NewList([a, b])
    [0.0] * n              NewList([0.0], repeat=n)
    [f(i) for i in s]      t = NewList([], element=v); for i in s: v = f(i); append t, v
    lst.append(v)          ListAppend(lst, v)

A comprehension has its own scope (its loop names are not the function's), so its
targets are bound to hidden locals while it is lowered. Its loops walk sequences
exactly as for statements do (frontend/lower_statements.py: `_sequence`).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from fastimport.frontend.errors import Unsupported
from fastimport.frontend.ir import (
    Binary,
    CheckSignals,
    Compare,
    Const,
    ListAppend,
    LoadLocal,
    NewList,
    StoreLocal,
    Value,
)

if TYPE_CHECKING:
    from fastimport.frontend.builder import Builder


def lower_list_display(b: Builder, node: ast.List) -> Value:
    """`[a, b, c]`: the items left to right, then a new list of them.

    `[]` gets its item type from the first `name.append(v)` after `name = []` (see
    `lower_append`); with none, it is not compiled.
    """
    from fastimport.frontend.lower_expressions import lower_expr

    if not node.elts:
        return b.add(NewList([]), node)
    if any(isinstance(item, ast.Starred) for item in node.elts):
        raise Unsupported(node, "*unpacking in a list display")
    return b.add(NewList([lower_expr(b, item) for item in node.elts]), node)


def lower_list_repeat(b: Builder, node: ast.BinOp) -> Value | None:
    """`[x] * n` or `n * [x]`: a new list of n copies (None if `node` is no such product)."""
    from fastimport.frontend.lower_expressions import lower_expr

    if not isinstance(node.op, ast.Mult):
        return None
    if isinstance(node.left, ast.List):
        display, count = node.left, node.right
        items = [lower_expr(b, item) for item in display.elts]
        repeat = lower_expr(b, count)
    elif isinstance(node.right, ast.List):
        display, count = node.right, node.left
        repeat = lower_expr(b, count)  # CPython evaluates the left operand first
        items = [lower_expr(b, item) for item in display.elts]
    else:
        return None
    if not display.elts:
        raise Unsupported(node, "an empty list display (its item type is unknown)")
    return b.add(NewList(items, repeat=repeat), node)


def lower_append(b: Builder, node: ast.Call, receiver: ast.expr) -> Value:
    """`receiver.append(value)`: returns None."""
    from fastimport.frontend.lower_expressions import lower_expr

    if len(node.args) != 1 or node.keywords:
        raise Unsupported(node, "append() with other than one argument")
    lst = lower_expr(b, receiver)
    value = lower_expr(b, node.args[0])
    if isinstance(receiver, ast.Name):  # `out = []` ... `out.append(v)`: the list holds v's type
        for empty in b.empty_lists.get(receiver.id, []):
            if empty.element is None:
                empty.element = value
    return b.add(ListAppend(lst, value), node)


def lower_listcomp(b: Builder, node: ast.ListComp) -> Value:
    """`[elt for t in s if c ...]`: loops (nested in generator order) appending to a new list."""
    from fastimport.frontend.lower_expressions import lower_condition, lower_expr
    from fastimport.frontend.lower_statements import _check_target, _sequence, store_target

    result = b.temp("listcomp")
    new = b.add(NewList([]), node)
    b.add(StoreLocal(result, new), node)
    rebound: dict[str, object] = {}
    try:
        for generator in node.generators:
            if generator.is_async:
                raise Unsupported(node, "async comprehension")
            _check_target(generator.target)
            for sub in ast.walk(generator.target):
                if isinstance(sub, ast.Name) and sub.id not in rebound:
                    rebound[sub.id] = b.fn.locals.get(sub.id)
                    b.fn.locals[sub.id] = b.temp(f"comp_{sub.id}")  # the comprehension's own scope
        exits = []
        for generator in node.generators:
            # The first iterable is evaluated in the enclosing scope, the others inside; the
            # names were rebound up front, which only matters for names used before being bound.
            seq = _sequence(b, generator.iter)
            index = b.temp("comp_index")
            b.add(StoreLocal(index, b.add(Const(0), generator.iter)), generator.iter)
            top, body, done = b.new_block(), b.new_block(), b.new_block()
            b.goto_and_activate(top)
            b.add(CheckSignals(), generator.iter)
            i = b.add(LoadLocal(index), generator.iter)
            b.branch(b.add(Compare("lt", i, seq.length(b)), generator.iter), body, done)
            b.activate(body)
            item = seq.item(b, i)
            nxt = b.add(Binary("add", i, b.add(Const(1), generator.iter)), generator.iter)
            nxt.no_overflow = True  # i < length <= INT64_MAX
            b.add(StoreLocal(index, nxt), node)
            store_target(b, generator.target, item)
            for condition in generator.ifs:
                keep = b.new_block()
                lower_condition(b, condition, keep, top)
                b.activate(keep)
            exits.append((top, done))
        element = lower_expr(b, node.elt)
        new.element = element
        b.add(ListAppend(b.add(LoadLocal(result), node), element), node)
        for top, done in reversed(exits):
            b.goto(top)
            b.activate(done)
    finally:
        for name, local in rebound.items():
            if local is None:
                del b.fn.locals[name]
            else:
                b.fn.locals[name] = local  # type: ignore[assignment]
    return b.add(LoadLocal(result), node)
