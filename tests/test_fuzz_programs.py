"""Random small functions in the compiled subset: fastimport against CPython.

Hypothesis writes the source of one function `f` per example (1-3 parameters, locals, arithmetic,
bit operations, comparisons, `and`/`or`, conditional expressions, builtins, `math`, `if`/`elif`,
bounded `while` and `for ... in range(...)` loops, `break`/`continue`, returns of different types)
and calls it under CPython and under fastimport with a typical argument tuple first (the one that
picks the specialization), then with edge values. Value, type, float bits and exception type and
message must be the same.

Every loop is bounded by construction (small constant or clamped range bounds, a counter bumped
first thing in each `while` body), and the CPython run is watched line by line: a call whose ints
grow past `BIG_INT_BITS` is skipped, so no generated program can make CPython compute huge powers.

    FUZZ_EXAMPLES=3000 python3 -m pytest -q -p no:cacheprovider tests/test_fuzz_programs.py
    FUZZ_STATS=1 ...    # also print how many functions went native and why the others did not

A failure prints the source and the arguments; `REGRESSIONS` keeps the ones found so far.
"""

from __future__ import annotations

import math
import os
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.differential import Outcome, call, modules, same_outcome
from tests.strategies import INT_EDGES, TYPICAL, bools, floats, int64s, ints, small_ints

from fastimport.testing import record_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastimport.runtime.registry import FunctionRecord

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "250"))
PRINT_STATS = bool(os.environ.get("FUZZ_STATS"))

# A CPython call whose int locals grow past this many bits is not compared (see `_reference`).
BIG_INT_BITS = 4096

# Static types of generated expressions: I is int or bool (fit for `&`, `<<`, `range`), F float,
# N any of int, float and bool.
I, F, N = "I", "F", "N"  # noqa: E741 - short names keep the grammar below readable
INT_TYPES = (I, "B")

SMALL_INT_LITERALS = ["0", "1", "2", "3", "-1", "5", "7", "10", "-3", "100"]
BIG_INT_LITERALS = ["2147483648", "-2147483648", "4611686018427387904", "9223372036854775807", "9007199254740993"]
FLOAT_LITERALS = ["0.0", "-0.0", "0.5", "1.5", "2.0", "-2.5", "0.1", "3.0", "1e300", "1e-300", "-1.0", "2.5"]
FLOAT_LITERALS += ["9007199254740992.0", "4.5", "1e16", "-0.5"]
FLOAT_CONSTANTS = ["math.pi", "math.e", "math.inf", "math.nan", "-math.inf"]
ARITH = ["+", "-", "*", "//", "%"]
BITOPS = ["&", "|", "^"]
COMPARE = ["<", "<=", ">", ">=", "==", "!="]
MATH_FLOAT_1 = ["sqrt", "fabs", "exp", "log", "sin", "cos", "atan", "tanh", "log2", "log10", "expm1", "log1p"]
MATH_FLOAT_1 += ["tan", "asin", "acos", "sinh", "cosh", "atanh", "erf", "gamma", "lgamma", "degrees", "radians"]
MATH_INT_1 = ["floor", "ceil", "trunc"]
MATH_FLOAT_2 = ["copysign", "atan2", "hypot", "fmod", "pow", "remainder"]
MATH_BOOL_1 = ["isnan", "isinf", "isfinite"]

MAX_DEPTH = 3


@dataclass
class Scope:
    """Variables that can be read (name -> static type) and those that can be assigned (name -> kind)."""

    readable: dict[str, str] = field(default_factory=dict)
    assignable: dict[str, str] = field(default_factory=dict)


class Writer:
    """Writes one random function, drawing every choice from hypothesis (so examples shrink)."""

    def __init__(
        self,
        draw: Callable[[st.SearchStrategy[Any]], Any],
        params: list[tuple[str, str]],
        *,
        helper: list[str] | None = None,
        global_kind: str | None = None,
    ) -> None:
        """`params` are (name, kind) pairs; `helper` the kinds of `g`'s parameters; `global_kind` K's kind."""
        self.draw = draw
        self.params = [name for name, _ in params]
        self.scope = Scope()
        for name, kind in params:
            self.scope.readable[name] = kind
            self.scope.assignable[name] = kind
        self.helper = helper
        self.global_kind = global_kind
        self.maybe_unbound: dict[str, str] = {}  # assigned on one path only
        self.lines: list[str] = []
        self.names = 0
        self.loops = 0  # loops enclosing the statement being written
        self.small = False  # a helper: fewer and simpler statements

    # Choices.

    def pick(self, options: list[Any]) -> Any:
        """One of `options`; hypothesis shrinks towards the first."""
        return self.draw(st.sampled_from(options))

    def chance(self, p: float) -> bool:
        """True with probability about `p` (shrinks towards False: hypothesis favours small draws)."""
        return self.draw(st.integers(0, 99)) >= 100 - round(p * 100)

    def fresh(self, prefix: str) -> str:
        """A new local name."""
        self.names += 1
        return f"{prefix}{self.names}"

    # Expressions: `expr(need, depth)` is source text whose static type is `need`.

    def expr(self, need: str, depth: int = MAX_DEPTH) -> str:
        """An expression of type `need` (I, F or N), at most `depth` operators deep."""
        if depth <= 0 or self.chance(0.25):
            return self.leaf(need)
        if need == I:
            return self.int_expr(depth - 1)
        if need == F:
            return self.float_expr(depth - 1)
        return self.any_expr(depth - 1)

    def leaf(self, need: str) -> str:  # noqa: PLR0911 - one return per kind of leaf
        """A variable or a literal of type `need`."""
        if self.global_kind is not None and (need in (N, self.global_kind)) and self.chance(0.1):
            return "K"
        maybe = [n for n, t in self.maybe_unbound.items() if need in (N, t)]
        if maybe and self.chance(0.04):
            return self.pick(maybe)
        names = [n for n, t in self.scope.readable.items() if need in (N, t)]
        if names and self.chance(0.7):
            return self.pick(names)
        if need == N:
            need = self.pick([I, F])
        if need == I:
            if self.chance(0.08):
                return self.pick(["True", "False"])
            if self.chance(0.06):
                return self.pick(BIG_INT_LITERALS)
            return self.pick(SMALL_INT_LITERALS)
        if self.chance(0.06):
            return self.pick(FLOAT_CONSTANTS)
        return self.pick(FLOAT_LITERALS)

    def paren(self, text: str) -> str:
        """`text` in parentheses unless it is a plain name or a non-negative literal."""
        return text if text.replace(".", "").replace("_", "").isalnum() else f"({text})"

    def shift_count(self, depth: int, *, left: bool) -> str:
        """A shift count: small for `<<` (the result stays small), any size for `>>`."""
        if self.chance(0.5):
            if left:
                return self.pick(["1", "3", "0", "7", "-1"] if self.chance(0.1) else ["1", "3", "0", "7", "16"])
            return self.pick(
                ["1", "2", "0", "31", "63", "64", "100", "-1"]
                if self.chance(0.1)
                else ["1", "2", "0", "31", "63", "64", "100"]
            )
        if not left and self.chance(0.2):
            return f"abs({self.expr(I, depth)})"  # any size: `x >> 2**62` is 0 or -1
        mask = "7" if left else "127"
        return f"({self.paren(self.expr(I, depth))} & {mask})"

    def int_expr(self, depth: int) -> str:  # noqa: C901, PLR0911, PLR0912 - one branch per production
        """An expression of type int (or bool)."""
        e = self.expr
        kind = self.pick(
            [
                *("arith", "arith", "bit", "shl", "shr", "pow", "unary", "abs", "minmax", "conv", "cond", "boolop"),
                *("compare", "not", "math", "isx", "bool", "roundn", "gcd"),
            ]
        )
        match kind:
            case "arith":
                return f"{self.paren(e(I, depth))} {self.pick(ARITH)} {self.paren(e(I, depth))}"
            case "bit":
                return f"{self.paren(e(I, depth))} {self.pick(BITOPS)} {self.paren(e(I, depth))}"
            case "shl":
                return f"{self.paren(e(I, depth))} << {self.shift_count(depth, left=True)}"
            case "shr":
                return f"{self.paren(e(I, depth))} >> {self.shift_count(depth, left=False)}"
            case "pow":
                exponent = self.pick(["2", "0", "1", "3"]) if self.chance(0.8) else f"({self.paren(e(I, depth))} % 4)"
                return f"{self.paren(e(I, depth))} ** {exponent}"
            case "unary":
                return f"{self.pick(['-', '~', '+'])}{self.paren(e(I, depth))}"
            case "abs":
                return f"abs({e(I, depth)})"
            case "minmax":
                args = [e(I, depth) for _ in range(self.pick([2, 3]))]
                return f"{self.pick(['min', 'max'])}({', '.join(args)})"
            case "conv":
                return f"{self.pick(['int', 'round'])}({e(self.pick([F, N, I]), depth)})"
            case "cond":
                return f"{self.paren(e(I, depth))} if {self.cond(depth)} else {self.paren(e(I, depth))}"
            case "boolop":
                return f"{self.paren(e(I, depth))} {self.pick(['and', 'or'])} {self.paren(e(I, depth))}"
            case "compare":
                return self.compare(depth)
            case "not":
                return f"not {self.paren(e(N, depth))}"
            case "math":
                return f"math.{self.pick(MATH_INT_1)}({e(self.pick([F, N, I]), depth)})"
            case "isx":
                return f"math.{self.pick(MATH_BOOL_1)}({e(F, depth)})"
            case "roundn":
                return self.round_int(depth)
            case "gcd":
                return f"math.gcd({e(I, depth)}, {e(I, depth)})"
            case _:
                return f"bool({e(N, depth)})"

    def float_expr(self, depth: int) -> str:  # noqa: C901, PLR0911, PLR0912 - one branch per production
        """An expression of type float."""
        e = self.expr
        kind = self.pick(
            [
                *("arith", "arith", "div", "pow", "unary", "abs", "minmax", "float", "cond", "boolop"),
                *("math1", "math2", "round", "ldexp"),
            ]
        )
        match kind:
            case "ldexp":
                return f"math.ldexp({e(F, depth)}, {self.paren(e(I, depth))} % 2100 - 1075)"
            case "arith":
                left, right = (e(F, depth), e(N, depth)) if self.chance(0.5) else (e(N, depth), e(F, depth))
                return f"{self.paren(left)} {self.pick([*ARITH, '/'])} {self.paren(right)}"
            case "div":
                return f"{self.paren(e(N, depth))} / {self.paren(e(N, depth))}"
            case "pow":
                if self.chance(0.7):
                    exponent = self.pick(["2", "-1", "0", "3", "-2", "0.5", "2.0", "-1.5"])
                    return f"{self.paren(e(F, depth))} ** {exponent}"
                if self.chance(0.3):
                    return f"{self.paren(e(I, depth))} ** {self.pick(['-1', '-2', '0.5', '-0.5'])}"
                return f"{self.paren(e(F, depth))} ** ({self.paren(e(I, depth))} % 5 - 2)"
            case "unary":
                return f"{self.pick(['-', '+'])}{self.paren(e(F, depth))}"
            case "abs":
                return f"abs({e(F, depth)})"
            case "minmax":
                args = [e(F, depth) for _ in range(self.pick([2, 3]))]
                return f"{self.pick(['min', 'max'])}({', '.join(args)})"
            case "float":
                return f"float({e(N, depth)})"
            case "cond":
                return f"{self.paren(e(F, depth))} if {self.cond(depth)} else {self.paren(e(F, depth))}"
            case "boolop":
                return f"{self.paren(e(F, depth))} {self.pick(['and', 'or'])} {self.paren(e(F, depth))}"
            case "math1":
                return f"math.{self.pick(MATH_FLOAT_1)}({e(N, depth)})"
            case "math2":
                return f"math.{self.pick(MATH_FLOAT_2)}({e(N, depth)}, {e(N, depth)})"
            case _:
                return f"round({e(F, depth)}, {self.pick(['1', '0', '2', '-1'])})"

    def round_int(self, depth: int) -> str:
        """`round(int, n)`: an int."""
        return f"round({self.expr(I, depth)}, {self.pick(['-1', '0', '2', '-2'])})"

    def any_expr(self, depth: int) -> str:  # noqa: PLR0911 - one branch per production
        """An expression whose type may be int, float or bool, known only at run time."""
        e = self.expr
        kind = self.pick(["int", "float", "arith", "minmax", "cond", "boolop", "call"])
        match kind:
            case "call" if self.helper is not None:
                args = [self.expr(k, depth) for k in self.helper]
                if len(args) == 2 and self.chance(0.3):
                    args[1] = f"y={args[1]}"
                elif len(args) == 2 and self.chance(0.2):
                    args.pop()  # y's default
                return f"g({', '.join(args)})"
            case "int":
                return self.int_expr(depth)
            case "float":
                return self.float_expr(depth)
            case "arith":
                return f"{self.paren(e(N, depth))} {self.pick(ARITH)} {self.paren(e(N, depth))}"
            case "minmax":
                args = [e(self.pick([I, F, N]), depth) for _ in range(self.pick([2, 3]))]
                return f"{self.pick(['min', 'max'])}({', '.join(args)})"
            case "cond":
                return f"{self.paren(e(I, depth))} if {self.cond(depth)} else {self.paren(e(F, depth))}"
            case "boolop":
                return f"{self.paren(e(N, depth))} {self.pick(['and', 'or'])} {self.paren(e(N, depth))}"
            case _:
                return self.int_expr(depth)

    def compare(self, depth: int) -> str:
        """A comparison, sometimes chained."""
        operands = [self.paren(self.expr(self.pick([N, I, F]), depth)) for _ in range(self.pick([2, 2, 3]))]
        text = operands[0]
        for operand in operands[1:]:
            text += f" {self.pick(COMPARE)} {operand}"
        return text

    def cond(self, depth: int = 2) -> str:
        """A condition for `if`, `while` or a conditional expression."""
        kind = self.pick(["compare", "compare", "truth", "not", "boolop"])
        match kind:
            case "compare":
                return self.compare(depth)
            case "truth":
                return self.paren(self.expr(N, depth))
            case "not":
                return f"not {self.paren(self.compare(depth))}"
            case _:
                return f"{self.paren(self.compare(depth))} {self.pick(['and', 'or'])} {self.paren(self.cond(0))}"

    # Statements.

    def emit(self, indent: int, text: str) -> None:
        """Append one line of the body."""
        self.lines.append("    " * indent + text)

    def block(self, indent: int, count: int, nesting: int) -> bool:
        """`count` statements at `indent`; True if the block always leaves (return/break/continue)."""
        return any(self.statement(indent, nesting) for _ in range(count))

    def statement(self, indent: int, nesting: int) -> bool:  # noqa: C901 - one branch per statement
        """One statement; True if it always leaves the block."""
        kinds = ["assign", "assign", "augassign", "augassign", "parallel"]
        if nesting < (1 if self.small else 2):
            kinds += ["if", "if", "for", "while"]
        if self.loops:
            kinds += ["break", "continue"]
        if indent > 1:
            kinds += ["return"]
        match self.pick(kinds):
            case "assign":
                self.assign(indent)
            case "augassign":
                self.augassign(indent)
            case "parallel":
                self.parallel(indent)
            case "if":
                self.if_statement(indent, nesting)
            case "for":
                self.for_loop(indent, nesting)
            case "while":
                self.while_loop(indent, nesting)
            case "break" | "continue" as word:
                if self.chance(0.8):
                    self.emit(indent, f"if {self.cond()}:")
                    self.emit(indent + 1, word)
                    return False
                self.emit(indent, word)
                return True
            case _:
                self.emit(indent, f"return {self.expr(self.pick([N, I, F]))}")
                return True
        return False

    def assign(self, indent: int) -> None:
        """`v = expr` to a new or an existing variable."""
        if self.chance(0.3) or not self.scope.assignable:
            name, kind = self.fresh("v"), self.pick([I, F, N])
            if indent > 1:  # assigned on one path only: read rarely afterwards (UnboundLocalError)
                self.emit(indent, f"{name} = {self.expr(kind)}")
                self.maybe_unbound[name] = kind
                return
        else:
            name = self.pick(sorted(self.scope.assignable))
            kind = self.scope.assignable[name]
        self.emit(indent, f"{name} = {self.expr(kind)}")
        self.scope.assignable[name] = kind
        self.scope.readable[name] = kind

    def augassign(self, indent: int) -> None:
        """`v op= expr`, keeping v's static type."""
        if not self.scope.assignable:
            self.assign(indent)
            return
        name = self.pick(sorted(self.scope.assignable))
        kind = self.scope.assignable[name]
        if kind == I:
            op = self.pick([*ARITH, *BITOPS, "<<", ">>", "**"])
            if op in ("<<", ">>"):
                rhs = self.shift_count(1, left=op == "<<")
            elif op == "**":
                rhs = self.pick(["2", "0", "1"])
            else:
                rhs = self.expr(I, 2)
        elif kind == F:
            op = self.pick([*ARITH, "/", "**"])
            rhs = self.pick(["2", "-1", "3", "0"]) if op == "**" else self.expr(N, 2)
        else:
            op = self.pick([*ARITH, "/"])
            rhs = self.expr(N, 2)
        self.emit(indent, f"{name} {op}= {rhs}")

    def parallel(self, indent: int) -> None:
        """`x, y = y, x + y` style assignment of two existing variables."""
        names = sorted(self.scope.assignable)
        if len(names) < 2:
            self.assign(indent)
            return
        x = self.pick(names)
        y = self.pick([n for n in names if n != x])
        kx, ky = self.scope.assignable[x], self.scope.assignable[y]
        self.emit(indent, f"{x}, {y} = {self.expr(kx, 2)}, {self.expr(ky, 2)}")

    def if_statement(self, indent: int, nesting: int) -> None:
        """`if` with optional `elif` and `else` branches."""
        self.emit(indent, f"if {self.cond()}:")
        self.block(indent + 1, self.pick([1, 2, 3]), nesting + 1)
        for _ in range(self.pick([0, 0, 1, 2])):
            self.emit(indent, f"elif {self.cond()}:")
            self.block(indent + 1, self.pick([1, 2]), nesting + 1)
        if self.chance(0.5):
            self.emit(indent, "else:")
            self.block(indent + 1, self.pick([1, 2, 3]), nesting + 1)

    def loop_body(self, indent: int, nesting: int) -> None:
        """The body of a loop and its optional `else` clause."""
        self.loops += 1
        self.block(indent + 1, self.pick([1, 2, 3, 4]), nesting + 1)
        self.loops -= 1
        if self.chance(0.15):
            self.emit(indent, "else:")
            self.block(indent + 1, 1, nesting + 1)

    def range_args(self) -> str:
        """Arguments of `range` giving at most a dozen iterations."""
        match self.pick(["const", "two", "step", "clamped", "clamped_two", "huge_step"]):
            case "huge_step":  # bounds anywhere in int64, a step so large there are at most 8 iterations
                bound = "max(min({}, 9223372036854775807), -9223372036854775807 - 1)"
                step = self.pick(
                    ["2305843009213693952", "-2305843009213693952", "4611686018427387904", "9223372036854775807"]
                )
                return f"{bound.format(self.expr(I, 1))}, {bound.format(self.expr(I, 1))}, {step}"
            case "const":
                return self.pick(["3", "0", "1", "5", "8"])
            case "two":
                return f"{self.pick(['0', '1', '-2', '4'])}, {self.pick(['5', '3', '0', '7'])}"
            case "step":
                lo, hi = self.pick(["0", "6", "-4", "2"]), self.pick(["6", "0", "-3", "9"])
                return f"{lo}, {hi}, {self.pick(['1', '-1', '2', '-2', '3'])}"
            case "clamped":
                return f"min(max({self.expr(I, 1)}, -2), 6)"
            case _:
                return f"max(min({self.expr(I, 1)}, 4), -4), {self.pick(['5', '2', '8'])}"

    def for_loop(self, indent: int, nesting: int) -> None:
        """`for i in range(...)`: the loop variable is readable inside the body only."""
        var = self.fresh("i")
        self.emit(indent, f"for {var} in range({self.range_args()}):")
        self.scope.readable[var] = I
        self.loop_body(indent, nesting)
        del self.scope.readable[var]

    def while_loop(self, indent: int, nesting: int) -> None:
        """A `while` loop whose counter is bumped first thing in the body, so `continue` cannot skip it."""
        counter = self.fresh("w")
        bound = self.pick(["4", "1", "6"]) if self.chance(0.7) else f"min(max({self.expr(I, 1)}, 0), 6)"
        self.emit(indent, f"{counter} = 0")
        self.scope.readable[counter] = I
        if self.chance(0.25):
            self.emit(indent, "while True:")
            self.emit(indent + 1, f"{counter} += 1")
            self.emit(indent + 1, f"if {counter} > {bound}:")
            self.emit(indent + 2, "break")
        else:
            extra = f" and {self.paren(self.cond(1))}" if self.chance(0.4) else ""
            self.emit(indent, f"while {counter} < {bound}{extra}:")
            self.emit(indent + 1, f"{counter} += 1")
        self.loop_body(indent, nesting)
        if indent > 1:  # defined on one path only
            del self.scope.readable[counter]

    def function(self, header: str) -> str:
        """`header` (the `def` line) and a body."""
        for _ in range(self.pick([0, 1] if self.small else [1, 1, 2, 3])):
            name, kind = self.fresh("v"), self.pick([I, F, N])
            self.emit(1, f"{name} = {self.expr(kind, 2)}")
            self.scope.readable[name] = kind
            self.scope.assignable[name] = kind
        if not self.block(1, self.pick([1, 2] if self.small else [2, 3, 4, 5]), 0):
            if self.chance(0.05) and self.chance(0.2):
                self.emit(1, "pass")  # falls off the end: returns None
            else:
                self.emit(1, f"return {self.expr(self.pick([N, I, F]))}")
        return header + "\n" + "\n".join(self.lines) + "\n"


@dataclass
class Case:
    """One generated function and the argument tuples it is called with (the first picks the specialization)."""

    source: str
    calls: list[tuple[Any, ...]]
    global_value: Any = None  # K's value at the start, if the module has a global K
    rebinds: list[Any] = field(default_factory=list)  # K's new value before each call (None: unchanged)
    keywords: bool = False  # pass the arguments by keyword

    def __repr__(self) -> str:
        return (
            f"Case(source={self.source!r}, calls={self.calls!r}, global_value={self.global_value!r}, "
            f"rebinds={self.rebinds!r}, keywords={self.keywords!r})"
        )


def arg_ints() -> st.SearchStrategy[int]:
    """Int arguments: mostly int64 (native), with the int64 and 2**53 edges often, sometimes bigger."""
    edges = [
        0, 1, -1, 2, 3, 2**31, -(2**31), 2**53 + 1, 2**53 - 1, -(2**53) - 1,
        2**62, -(2**62), 2**63 - 1, -(2**63), 3037000500,
    ]  # fmt: skip
    return st.one_of(st.sampled_from(edges), small_ints(-20, 20), int64s(), st.sampled_from(INT_EDGES), ints())


ARGS = {"int": arg_ints, "float": floats, "bool": bools}


@st.composite
def cases(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Case:
    """A random function and 3-5 argument tuples, the first typical (3, 2.5, True)."""
    param_types = draw(st.lists(st.sampled_from(["int", "float", "bool"]), min_size=1, max_size=3))
    kinds = [I if t in ("int", "bool") else F for t in param_types]
    parts = ["import math\n"]
    global_value = None
    if draw(st.integers(0, 9)) >= 7:
        global_value = draw(st.sampled_from([3, 2.5, True, -1, 0.0]))
        parts.append(f"K = {global_value!r}\n")
    global_kind = None if global_value is None else (F if type(global_value) is float else I)
    helper = None
    if draw(st.integers(0, 9)) >= 7:
        helper = draw(st.sampled_from([[I], [F], [I, F], [F, I], [I, I]]))
        names = ["x", "y"][: len(helper)]
        signature = ", ".join(f"{n}=2" if n == "y" else n for n in names)
        writer = Writer(draw, list(zip(names, helper, strict=True)), global_kind=global_kind)
        writer.small = True
        parts.append(writer.function(f"def g({signature}):"))
    params = ["a", "b", "c"][: len(param_types)]
    if draw(st.integers(0, 9)) >= 8:
        signature = ", ".join(f"{n}: {t}" for n, t in zip(params, param_types, strict=True))
    else:
        signature = ", ".join(params)
    writer = Writer(draw, list(zip(params, kinds, strict=True)), helper=helper, global_kind=global_kind)
    parts.append(writer.function(f"def f({signature}):"))
    source = "\n\n".join(parts)
    calls = [tuple(TYPICAL[t] for t in param_types)]
    rebinds: list[Any] = [None]
    for _ in range(draw(st.integers(2, 4))):
        args = []
        for declared in param_types:
            kind = declared if draw(st.integers(0, 9)) < 8 else draw(st.sampled_from(["int", "float", "bool"]))
            args.append(draw(ARGS[kind]()))
        calls.append(tuple(args))
        rebind = None
        if global_value is not None and draw(st.integers(0, 9)) >= 7:
            rebind = draw(st.sampled_from([7, -2, 0.5, False, 2**63, float("nan")]))
        rebinds.append(rebind)
    keywords = draw(st.integers(0, 9)) >= 8
    return Case(source, calls, global_value, rebinds, keywords=keywords)


class _TooBig(Exception):  # noqa: N818 - not an error: the call is left out
    """Raised in CPython's run when an int local grows past BIG_INT_BITS."""


def _reference(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Outcome | None:
    """CPython's outcome, or None if its ints grew too big to compare cheaply."""
    code = func.__code__

    def local(frame: Any, event: str, _arg: Any) -> Any:
        if event == "line":
            for value in frame.f_locals.values():
                if type(value) is int and value.bit_length() > BIG_INT_BITS:
                    raise _TooBig
        return local

    def global_(frame: Any, _event: str, _arg: Any) -> Any:
        return local if frame.f_code is code or frame.f_code.co_name == "g" else None

    previous = sys.gettrace()
    sys.settrace(global_)
    try:
        outcome = call(func, *args, **kwargs)
    finally:
        sys.settrace(previous)
    return None if isinstance(outcome.error, _TooBig) else outcome


def _describe(outcome: Outcome) -> str:
    if outcome.error is None and type(outcome.value) is int and outcome.value.bit_length() > 10000:
        return f"returned an int of {outcome.value.bit_length()} bits"
    return outcome.describe()


STATS: Counter[str] = Counter()
REASONS: Counter[str] = Counter()


def check(case: Case) -> FunctionRecord:
    """Call `f` from `case.source` under CPython and fastimport with each argument tuple; compare."""
    fast, ref = modules(case.source)
    if case.global_value is not None:  # the modules are cached: an earlier case may have rebound K
        fast.K = ref.K = case.global_value
    for i, args in enumerate(case.calls):
        rebind = case.rebinds[i] if i < len(case.rebinds) else None
        if rebind is not None:
            fast.K = ref.K = rebind
        kwargs = dict(zip("abc", args, strict=False)) if case.keywords else {}
        positional = () if case.keywords else args
        want = _reference(ref.f, positional, kwargs)
        if want is None:
            STATS["calls skipped (big ints)"] += 1
            continue
        got = call(fast.f, *positional, **kwargs)
        STATS["calls"] += 1
        assert same_outcome(got, want), (
            f"f{args!r} (K={getattr(ref, 'K', None)!r}, keywords={case.keywords}):\n"
            f"  fastimport {_describe(got)}\n  CPython    {_describe(want)}\n{case!r}\nsource:\n{case.source}"
        )
    return record_of(fast.f)


def _note(record: FunctionRecord) -> None:
    STATS["functions"] += 1
    STATS[record.status] += 1
    STATS["native calls"] += record.native_calls
    if record.status != "native":
        reason = str(record.reason)
        # "<construct> at file:line:col": the construct, without the place
        REASONS[reason.split(" at ", maxsplit=1)[0]] += 1


# Mismatches the fuzzer found, minimized, and seeds for the edges it is meant to reach:
# (source, argument tuples; the first picks the specialization).
REGRESSIONS: list[tuple[str, list[tuple[Any, ...]]]] = [
    (  # a global read only in dead code: typed by inference, its block dropped, it had no slot (a crash)
        """
        import math


        K = 3


        def f(a):
            v1 = float(a)
            for i2 in range(8):
                continue
            else:
                return 1
                v4 = math.copysign(K, v1)
        """,
        [(2.5,), (3,)],
    ),
    (  # a range near the int64 limits whose counter would overflow past the last iteration
        """
        def f(a, b):
            n = 0
            for i in range(a, b, 4611686018427387904):
                n = n * 10 + i % 7
            return n
        """,
        [(0, 5), (9223372036854775806, 9223372036854775807), (-9223372036854775808, 9223372036854775807)],
    ),
    (  # int64 min by -1: the one int64 division that overflows (and srem is undefined in LLVM)
        """
        def f(a, b):
            return a % b + a // b
        """,
        [(7, 2), (-(2**63), -1), (-(2**63), 1), (2**63 - 1, -1)],
    ),
    (  # a local assigned on one path only, read on every path
        """
        def f(a):
            if a > 0:
                v = a * 2
            return v
        """,
        [(3,), (-1,), (2**62,), (2.5,)],
    ),
    (  # mixed int/float/bool values flowing through a loop, a shift by any count
        """
        import math


        def f(a, b):
            s = 0
            for i in range(min(max(a, -2), 6)):
                s += b if i % 2 else i
                if s > 3:
                    s = math.floor(s) >> abs(a)
            return s or b
        """,
        [(3, 2.5), (5, -0.0), (5, math.nan), (6, math.inf), (True, False), (2**62, 1.5)],
    ),
]


@pytest.mark.parametrize(("source", "calls"), REGRESSIONS)
def test_regressions(source: str, calls: list[tuple[Any, ...]]) -> None:
    """Programs on which fastimport once differed from CPython."""
    check(Case(textwrap.dedent(source), calls))


def test_random_programs() -> None:
    """Random functions behave exactly as under CPython, and most of them really run native code."""
    STATS.clear()
    REASONS.clear()

    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case=cases())
    @example(case=Case("import math\n\n\ndef f(a, b):\n    return a // b + math.floor(b)\n", [(3, 2.5), (7, -0.0)]))
    def run(case: Case) -> None:
        _note(check(case))

    run()
    if PRINT_STATS:
        print(f"\n{dict(STATS)}")
        for reason, count in REASONS.most_common(15):
            print(f"{count:6d}  {reason}")
    # The generator must stay in the compiled subset, or it tests nothing but the fallback.
    assert STATS["native"] >= STATS["functions"] // 2, (dict(STATS), REASONS.most_common(5))


def test_generated_source_is_valid() -> None:
    """The writer's output compiles (a cheap check that the generator itself is sound)."""

    @settings(max_examples=50, deadline=None)
    @given(case=cases())
    def run(case: Case) -> None:
        compile(case.source, "<generated>", "exec")
        assert "\ndef f(" in case.source
        assert len(case.calls) >= 3

    run()
