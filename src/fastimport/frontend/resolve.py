"""Name resolution at compile time: what a global name refers to now.

The answer is a `GlobalRef` the entry point re-checks at every call, so a
rebinding (monkeypatching, mock.patch) is seen at the next call:

    N = 10          ->  ("value", N: int)          read and unboxed at call time
    import math     ->  ("math", math)             guard: still the math module
    from math import sqrt -> ("mathfunc", "sqrt")  guard: still math.sqrt
    def helper()    ->  ("function", helper)       guard: still this function
    abs             ->  ("builtin", "abs")         guard: not shadowed, still builtins.abs
    import numpy as np  ->  ("numpy", numpy)       guard: still the numpy module
    from numpy import zeros -> ("numpyfunc", "zeros")  guard: still numpy.zeros
"""

from __future__ import annotations

import builtins
import math
import sys
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastimport.frontend.errors import Unsupported
from fastimport.frontend.ir import GlobalRef
from fastimport.frontend.mathlib import math_function_name
from fastimport.frontend.types import ty_of_value

if TYPE_CHECKING:
    import ast
    from collections.abc import Callable

SUPPORTED_BUILTINS = frozenset(
    {"abs", "min", "max", "int", "float", "bool", "round", "range", "len", "enumerate", "zip"}
)


@dataclass
class Resolved:
    """What a name refers to, and the global the entry point guards for it."""

    kind: str  # "value" | "math" | "mathfunc" | "function" | "builtin"
    ref: GlobalRef
    name: str = ""
    target: object = None


class Resolver:
    """Resolves the free names of one function against its module's namespace."""

    def __init__(
        self,
        namespace: dict[str, object],
        builtins_dict: dict[str, object],
        is_compiled: Callable[[object], bool],
        label: str = "globals",
    ) -> None:
        self.namespace = namespace
        self.builtins = builtins_dict
        self.is_compiled = is_compiled
        # The GlobalRef namespace of this module's globals: "globals" for the compiled function's
        # own module, "module:<name>" for a callee's from another module (its builtins are then
        # "builtins@module:<name>": shadowed by a global of that module, not the caller's).
        self.label = label
        self.builtins_label = "builtins" if label == "globals" else f"builtins@{label}"

    def resolve(self, name: str, node: ast.AST) -> Resolved:
        """What `name` refers to in the function's module, or Unsupported if it cannot be compiled."""
        if name in self.namespace:
            return self._resolve_value(name, self.namespace[name], node)
        if name in self.builtins:
            obj = self.builtins[name]
            if name in SUPPORTED_BUILTINS and obj is getattr(builtins, name):
                return Resolved("builtin", GlobalRef(self.builtins_label, name, "callable", obj), name)
            raise Unsupported(node, f"builtin '{name}'")
        raise Unsupported(node, f"name '{name}' is not defined")

    def _resolve_value(self, name: str, obj: object, node: ast.AST) -> Resolved:
        ty = ty_of_value(obj)
        if ty is not None and obj is not None:
            if type(obj) is int and not -(2**63) <= obj < 2**63:
                raise Unsupported(node, f"global '{name}' is an int beyond 64 bits")
            return Resolved("value", GlobalRef(self.label, name, "value", type=ty), name)
        if obj is math:
            return Resolved("math", GlobalRef(self.label, name, "module", math), name)
        numpy = sys.modules.get("numpy")
        if numpy is not None and obj is numpy:
            return Resolved("numpy", GlobalRef(self.label, name, "module", numpy), name)
        if numpy is not None and getattr(obj, "__module__", None) == "numpy" and callable(obj):
            attr = getattr(obj, "__name__", "")
            if getattr(numpy, attr, None) is obj:  # np.zeros, np.float64: guarded as themselves
                return Resolved("numpyfunc", GlobalRef(self.label, name, "callable", obj), attr)
        fname = math_function_name(obj)
        if fname is not None:
            return Resolved("mathfunc", GlobalRef(self.label, name, "callable", obj), fname)
        if isinstance(obj, types.FunctionType) and self.is_compiled(obj):
            return Resolved("function", GlobalRef(self.label, name, "callable", obj), name, obj)
        raise Unsupported(node, f"global '{name}' of type {type(obj).__name__}")
