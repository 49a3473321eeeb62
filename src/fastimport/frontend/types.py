"""The value types of compiled code, and how they meet.

    INT    Python int, held as a checked int64 (overflow deopts)
    FLOAT  Python float, an IEEE double
    BOOL   Python bool, an i1
    NUM    one of int, float, bool, decided at run time (a tag and a payload), for
           variables that hold more than one: `s = 0` then `s += 0.5`
    NONE   only as a return type

`join` is the lattice used by inference: `None` (not yet known) is bottom;
different numeric types join to NUM; None and a number do not join (the
function is not compiled for those argument types).
"""

from __future__ import annotations

import enum


class Ty(enum.Enum):
    """A value type known to native code."""

    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    NUM = "int|float|bool"
    NONE = "None"

    def __str__(self) -> str:
        return self.value


# Python type objects to our types; exact types only (a subclass of int is not INT).
PY_TYPES: dict[type, Ty] = {int: Ty.INT, float: Ty.FLOAT, bool: Ty.BOOL, type(None): Ty.NONE}
# The types a NUM value can have at run time; its tag is the index in this tuple.
CONCRETE = (Ty.INT, Ty.FLOAT, Ty.BOOL)
NUMERIC = frozenset({*CONCRETE, Ty.NUM})


class TypeConflictError(Exception):
    """Two different types met where native code needs one."""


def join(a: Ty | None, b: Ty | None) -> Ty | None:
    """Least upper bound of two types; raises TypeConflictError when they differ."""
    if a is None:
        return b
    if b is None or a is b:
        return a
    if a in NUMERIC and b in NUMERIC:
        return Ty.NUM
    raise TypeConflictError(f"{a} and {b}")


def ty_of_value(value: object) -> Ty | None:
    """The type of a Python value as native code would hold it, or None if it cannot."""
    return PY_TYPES.get(type(value))


def signature_str(args: tuple[Ty, ...], ret: Ty | None) -> str:
    """`(int, float) -> float`, the form the report shows."""
    return f"({', '.join(map(str, args))}) -> {ret}"
