"""Ops over Union values: one op becomes one case per run-time type of its operands.

    r = add s, x        s: int|float|bool, x: float
        -> case s is int:   r = add (int) s, x    : float
           case s is float: r = add (float) s, x  : float
           case s is bool:  r = add (bool) s, x   : float
    result: float (all cases agree); cases CPython would reject deopt

`substitute` makes the per-case copy of an op, its Union operands replaced by
`Shadow` values of one concrete type; inference (`result_type`) and the
emitter (`FunctionEmitter.split`) share it.
"""

from __future__ import annotations

import copy
import itertools
from typing import TYPE_CHECKING

from fastimport.frontend.errors import Unsupported
from fastimport.frontend.ir import Binary, Builtin, Compare, MathCall, NumpyCall, Op, PyCall, Truth, Unary, Value
from fastimport.frontend.types import Ty, TypeConflictError, Union, join

if TYPE_CHECKING:
    from collections.abc import Callable

SPLIT_OPS = (Unary, Binary, Compare, Truth, Builtin, MathCall, PyCall, NumpyCall)


class Shadow(Value):
    """An operand of known concrete type standing in for a Union value in one case."""

    def __init__(self, ty: Ty, llvm: object = None) -> None:
        self.type = ty
        self.llvm = llvm


def dynamic_sources(op: Op) -> list[Value]:
    """The distinct operands of `op` whose type is a Union, in order."""
    seen: list[Value] = []
    for src in op.sources():
        if isinstance(src.type, Union) and all(src is not s for s in seen):
            seen.append(src)
    return seen


def cases(sources: list[Value]) -> list[tuple[Ty, ...]]:
    """Every combination of concrete types for the Union `sources`, one tuple per case."""
    return list(itertools.product(*(src.type.members for src in sources)))  # type: ignore[union-attr]


def substitute(op: Op, mapping: dict[int, Value]) -> Op:
    """A copy of `op` with operands replaced per `mapping` (keyed by id of the operand)."""
    clone = copy.copy(op)
    pick = lambda v: mapping.get(id(v), v)  # noqa: E731
    if isinstance(clone, (Unary, Truth)):
        clone.src = pick(clone.src)
    elif isinstance(clone, (Binary, Compare)):
        clone.lhs, clone.rhs = pick(clone.lhs), pick(clone.rhs)
    else:
        clone.args = [pick(a) for a in clone.args]  # type: ignore[attr-defined]
    return clone


def result_type(op: Op, concrete_type: Callable[[Op], Ty]) -> Ty:
    """The type of `op`, trying every run-time type of its Union operands.

    Cases that would raise TypeError in CPython are dropped (they deopt at run
    time); if none is left the op is unsupported.
    """
    sources = dynamic_sources(op)
    if not sources:
        return concrete_type(op)
    result: Ty | None = None
    error: Unsupported | None = None
    for case in cases(sources):
        clone = substitute(op, {id(s): Shadow(t) for s, t in zip(sources, case, strict=True)})
        try:
            result = join(result, concrete_type(clone))
        except Unsupported as e:
            error = e
        except TypeConflictError as e:  # an array of another dtype per case, say
            raise Unsupported(_At(op), f"result is {e}") from None
    if result is None:
        raise error or Unsupported(None, "no operand type is supported")
    return result


class _At:
    def __init__(self, op: Op) -> None:
        self.lineno = op.line
        self.col_offset = op.col
