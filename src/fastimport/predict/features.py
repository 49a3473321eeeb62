"""What the type predictor sees of a parameter: features drawn from its function's AST.

    params_of(node)                      -> ["n", "x"]   (the parameters a signature covers)
    parameter_features(node) -> [{"name=n": 1.0, "arg_of=range": 1.0, ...}, ...]   one per parameter
    vectorize(features) -> float32 array (n_params, DIM)    hashed, for the model

A feature is a string naming one fact, with a weight: how the parameter is used (arithmetic
with float or int literals, true or floor division, how it is subscripted, `.shape`, `len`,
`range(...)`, comparisons, calls to `math` or `numpy` functions, being returned, augmented
assignments, truth tests, iteration), its name and the pieces of it, the function's name,
its default and annotation, its position, and a few facts about the function as a whole
(loops, NumPy or math calls, a method). The strings are hashed into DIM columns (CRC-32:
stable across processes and versions, unlike `hash`), so the model needs no vocabulary file
and an unseen name costs nothing. FEATURE_VERSION is stored in the model: a model trained
on other features is refused rather than fed the wrong columns.

Only the standard library: the import hook builds features on the compile-ahead thread.
"""

from __future__ import annotations

import ast
import math
import re
import zlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    import numpy as np

FEATURE_VERSION = 1
DIM = 1 << 12

_SPLIT = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_MATH_MODULES = frozenset({"math", "cmath"})
_NUMPY_MODULES = frozenset({"np", "numpy", "numpy.linalg", "np.linalg", "npl"})
_LOOPS = (ast.For, ast.While, ast.AsyncFor)


def params_of(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    """The named parameters, in signature order (*args and **kwargs are not typed by the predictor)."""
    args = node.args
    return [*args.posonlyargs, *args.args, *args.kwonlyargs]


def parameter_features(
    node: ast.FunctionDef | ast.AsyncFunctionDef, *, is_method: bool = False
) -> list[dict[str, float]]:
    """One feature dict per parameter of `node` (see the module docstring)."""
    params = params_of(node)
    names = [p.arg for p in params]
    usage = _Usage(set(names), _range_targets(node))
    for stmt in node.body:
        usage.visit(stmt)
    common = _function_features(node, is_method=is_method)
    defaults = _defaults(node)
    result = []
    for position, param in enumerate(params):
        f: dict[str, float] = dict(common)
        _name_features(f, param.arg, "name")
        f[f"pos={min(position, 4)}"] = 1.0
        f[f"pos_from_end={min(len(params) - 1 - position, 3)}"] = 1.0
        if position == 0 and is_method:
            f["self_param"] = 1.0
        f[f"default={defaults.get(param.arg, 'absent')}"] = 1.0
        if param.annotation is not None:
            f[f"annotation={_annotation_text(param.annotation)}"] = 1.0
        uses = usage.uses.get(param.arg, {})
        for key, count in uses.items():
            f[key] = 1.0 + math.log(count)  # a fact seen many times weighs a little more
        if not uses:
            f["unused"] = 1.0
        for other, fact in usage.pairs.get(param.arg, ()):
            f[f"{fact}_with_param_named={other}"] = 1.0
        result.append(f)
    return result


def vectorize(rows: list[dict[str, float]]) -> np.ndarray:
    """Hash feature dicts into a (len(rows), DIM) float32 matrix (colliding features add up)."""
    import numpy as np

    matrix = np.zeros((len(rows), DIM), dtype=np.float32)
    for i, row in enumerate(rows):
        for key, value in row.items():
            matrix[i, column(key)] += value
    return matrix


def column(key: str) -> int:
    """The column a feature string hashes to."""
    return zlib.crc32(key.encode()) % DIM


def _name_features(f: dict[str, float], name: str, prefix: str) -> None:
    lowered = name.lower().strip("_")
    f[f"{prefix}={lowered}"] = 1.0
    for token in _SPLIT.findall(name):
        f[f"{prefix}_tok={token.lower()}"] = 1.0
    f[f"{prefix}_len={min(len(lowered), 8)}"] = 1.0
    if lowered:
        f[f"{prefix}_first={lowered[0]}"] = 1.0
        f[f"{prefix}_last={lowered[-1]}"] = 1.0
    if len(lowered) > 2 and lowered.endswith("s") and not lowered.endswith("ss"):  # noqa: PLR2004 - "xs" is no plural
        f[f"{prefix}_plural"] = 1.0
    if any(c.isdigit() for c in lowered):
        f[f"{prefix}_digit"] = 1.0
    if name[:1].isupper():
        f[f"{prefix}_upper"] = 1.0


def _function_features(  # noqa: C901 - one fact per kind of node, in one walk
    node: ast.FunctionDef | ast.AsyncFunctionDef, *, is_method: bool
) -> dict[str, float]:
    f: dict[str, float] = {}
    _name_features(f, node.name, "fn")
    n_params = len(params_of(node))
    f[f"n_params={min(n_params, 6)}"] = 1.0
    if is_method:
        f["method"] = 1.0
    # (No decorator features: fastimport compiles undecorated functions only, while much of the
    # numeric training code is decorated with numba.njit, which would teach the model a fact it
    # never sees when it serves.)
    if node.returns is not None:
        f[f"returns_annotation={_annotation_text(node.returns)}"] = 1.0
    for sub in ast.walk(node):
        if isinstance(sub, _LOOPS):
            f["fn_loop"] = 1.0
        elif isinstance(sub, ast.Call):
            callee = _dotted(sub.func)
            module = callee.rpartition(".")[0]
            if module in _NUMPY_MODULES:
                f["fn_calls_numpy"] = 1.0
            elif module in _MATH_MODULES:
                f["fn_calls_math"] = 1.0
        elif isinstance(sub, (ast.Yield, ast.YieldFrom)):
            f["fn_generator"] = 1.0
        elif isinstance(sub, ast.Raise):
            f["fn_raises"] = 1.0
        elif isinstance(sub, ast.Constant) and type(sub.value) is float:
            f["fn_float_literal"] = 1.0
        elif isinstance(sub, ast.Constant) and type(sub.value) is str and not isinstance(sub.value, bool):
            f["fn_str_literal"] = 1.0
    return f


def _defaults(node: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, str]:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True))
    pairs += [(p, d) for p, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
    return {p.arg: _kind(d, set()) for p, d in pairs}


def _annotation_text(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "np.ndarray" in quotes
        return node.value.replace(" ", "")
    return ast.unparse(node).replace(" ", "")


def _dotted(node: ast.expr) -> str:
    """`np.linalg.norm` for an attribute chain on a name; `?` for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return "?." + ".".join(reversed(parts)) if parts else "?"


def _kind(node: ast.expr | None, params: set[str]) -> str:  # noqa: C901, PLR0911 - one answer per kind of node
    """What kind of expression stands next to a parameter: a literal's type, a call's callee..."""
    if node is None:
        return "none"
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None:
            return "None"
        return f"{type(value).__name__}_lit"
    if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
        return _kind(node.operand, params)
    if isinstance(node, ast.Name):
        return "param" if node.id in params else "name"
    if isinstance(node, ast.Call):
        return f"call:{_dotted(node.func)}"
    if isinstance(node, ast.Attribute):
        return f"attr:{node.attr}"
    if isinstance(node, (ast.List, ast.ListComp)):
        return "list"
    if isinstance(node, (ast.Tuple,)):
        return "tuple"
    if isinstance(node, (ast.Dict, ast.DictComp)):
        return "dict"
    return type(node).__name__


def _range_targets(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The loop variables of `for i in range(...)` loops (an index into an array, or a list)."""
    return {
        n.target.id
        for n in ast.walk(node)
        if isinstance(n, ast.For)
        and isinstance(n.target, ast.Name)
        and isinstance(n.iter, ast.Call)
        and _dotted(n.iter.func) == "range"
    }


def _header(statement: ast.stmt) -> list[ast.AST]:
    """The part of a statement that is its own (a loop's header, not its body): linear work per use."""
    if isinstance(statement, (ast.For, ast.AsyncFor)):
        return [statement.target, statement.iter]
    if isinstance(statement, (ast.While, ast.If)):
        return [statement.test]
    if isinstance(statement, (ast.With, ast.AsyncWith)):
        return [item.context_expr for item in statement.items]
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Try)):
        return []
    return [statement]


def _op(op: ast.AST) -> str:
    return type(op).__name__


class _Usage(ast.NodeVisitor):
    """Collects, for each parameter, the facts of how the function body uses it."""

    def __init__(self, params: set[str], range_targets: set[str]) -> None:
        self.params = params
        self.range_targets = range_targets  # names bound by `for <name> in range(...)`
        self.uses: dict[str, dict[str, int]] = {}
        self.pairs: dict[str, list[tuple[str, str]]] = {}
        self.stack: list[ast.AST] = []  # the ancestors of the node being visited

    def add(self, name: str, fact: str) -> None:
        facts = self.uses.setdefault(name, {})
        facts[fact] = facts.get(fact, 0) + 1

    def param(self, node: ast.expr | None) -> str | None:
        """The parameter `node` reads, if it is a bare parameter name."""
        return node.id if isinstance(node, ast.Name) and node.id in self.params else None

    def generic_visit(self, node: ast.AST) -> None:
        self.stack.append(node)
        for child in ast.iter_child_nodes(node):
            self._facts(child, node)
            self.visit(child)
        self.stack.pop()

    def _facts(self, node: ast.AST, parent: ast.AST) -> None:
        name = self.param(node) if isinstance(node, ast.expr) else None
        if name is None:
            return
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            self.add(name, "reassigned")
            return
        self._context(name)
        handler = getattr(self, f"_in_{type(parent).__name__}", None)
        if handler is not None:
            handler(name, node, parent)
        else:
            self.add(name, f"in:{type(parent).__name__}")

    def _context(self, name: str) -> None:
        """Facts of the expressions further up: `-m1 * m2` is arithmetic for m1 too, and literals nearby."""
        for depth, ancestor in enumerate(reversed(self.stack[:-1])):
            if isinstance(ancestor, ast.stmt) or depth > 3:  # noqa: PLR2004 - a few levels up
                break
            if isinstance(ancestor, ast.BinOp):
                self.add(name, f"in_arith:{_op(ancestor.op)}")
            elif isinstance(ancestor, ast.Call):
                self.add(name, f"inside_call={_dotted(ancestor.func)}")
        statement = next((a for a in reversed(self.stack) if isinstance(a, ast.stmt)), None)
        if statement is not None:
            self.add(name, f"stmt={type(statement).__name__}")
            for part in _header(statement):
                for sub in ast.walk(part):
                    if isinstance(sub, ast.Constant) and sub.value is not None:
                        self.add(name, f"stmt_literal={type(sub.value).__name__}")

    # One method per kind of parent node: how the parameter `node` appears in it.

    def _in_BinOp(self, name: str, node: ast.expr, parent: ast.BinOp) -> None:  # noqa: N802
        other = parent.right if parent.left is node else parent.left
        side = "left" if parent.left is node else "right"
        op = _op(parent.op)
        kind = _kind(other, self.params)
        self.add(name, f"binop:{op}")
        self.add(name, f"binop:{op}:{kind}")
        self.add(name, f"binop_with:{kind}")
        self.add(name, f"binop:{op}:{side}")
        if (other_name := self.param(other)) is not None and other_name != name:
            self.pairs.setdefault(name, []).append((other_name, f"binop_{op}"))

    def _in_AugAssign(self, name: str, node: ast.expr, parent: ast.AugAssign) -> None:  # noqa: N802
        op = _op(parent.op)
        if parent.target is node:
            self.add(name, f"augassigned:{op}:{_kind(parent.value, self.params)}")
        else:
            self.add(name, f"augassign_value:{op}:{_kind(parent.target, self.params)}")

    def _in_UnaryOp(self, name: str, node: ast.expr, parent: ast.UnaryOp) -> None:  # noqa: N802, ARG002
        self.add(name, f"unary:{_op(parent.op)}")

    def _in_Compare(self, name: str, node: ast.expr, parent: ast.Compare) -> None:  # noqa: N802
        operands = [parent.left, *parent.comparators]
        at = next(i for i, o in enumerate(operands) if o is node)
        neighbours = [(parent.ops[i - 1], operands[i - 1]) for i in (at,) if i > 0]
        neighbours += [(parent.ops[i], operands[i + 1]) for i in (at,) if i < len(parent.ops)]
        for op, other in neighbours:
            self.add(name, f"compare:{_op(op)}:{_kind(other, self.params)}")
            self.add(name, f"compare_with:{_kind(other, self.params)}")

    def _in_Subscript(self, name: str, node: ast.expr, parent: ast.Subscript) -> None:  # noqa: N802
        if parent.value is node:
            index = parent.slice
            items = index.elts if isinstance(index, ast.Tuple) else [index]
            self.add(name, f"subscripted:{min(len(items), 4)}")
            for item in items:
                kind = "slice" if isinstance(item, ast.Slice) else _kind(item, self.params)
                self.add(name, f"subscript_item:{kind}")
                if any(isinstance(n, ast.Name) and n.id in self.range_targets for n in ast.walk(item)):
                    self.add(name, "indexed_by_range_loop")
            if not isinstance(parent.ctx, ast.Load):
                self.add(name, "subscript_stored")
        else:
            self.add(name, "used_as_index")
            self.add(name, f"index_into:{_kind(parent.value, self.params)}")

    def _in_Slice(self, name: str, node: ast.expr, parent: ast.Slice) -> None:  # noqa: N802, ARG002
        self.add(name, "slice_bound")

    def _in_Attribute(self, name: str, node: ast.expr, parent: ast.Attribute) -> None:  # noqa: N802, ARG002
        self.add(name, f"attr={parent.attr}")
        self.add(name, "has_attr")

    def _in_Call(self, name: str, node: ast.expr, parent: ast.Call) -> None:  # noqa: N802
        if parent.func is node:
            self.add(name, "called")
            return
        callee = _dotted(parent.func)
        self.add(name, f"arg_of={callee}")
        module, _, function = callee.rpartition(".")
        if module in _NUMPY_MODULES:
            self.add(name, "arg_of_numpy")
            self.add(name, f"arg_of=numpy.{function}")
        elif module in _MATH_MODULES:
            self.add(name, "arg_of_math")
        elif module and not module.startswith("?"):
            self.add(name, "arg_of_method")
        position = next((i for i, a in enumerate(parent.args) if a is node), None)
        if position is not None:
            self.add(name, f"arg_of={callee}#{min(position, 3)}")
        if callee == "isinstance" and len(parent.args) == 2:  # noqa: PLR2004 - isinstance(x, T)
            for t in parent.args[1].elts if isinstance(parent.args[1], ast.Tuple) else [parent.args[1]]:
                self.add(name, f"isinstance={_dotted(t)}")

    def _in_keyword(self, name: str, node: ast.expr, parent: ast.keyword) -> None:  # noqa: ARG002
        self.add(name, f"keyword_arg={parent.arg}")

    def _in_For(self, name: str, node: ast.expr, parent: ast.For) -> None:  # noqa: N802
        self.add(name, "iterated" if parent.iter is node else "for_target")

    def _in_comprehension(self, name: str, node: ast.expr, parent: ast.comprehension) -> None:
        self.add(name, "iterated" if parent.iter is node else "comprehension_if")

    def _in_Return(self, name: str, node: ast.expr, parent: ast.Return) -> None:  # noqa: N802, ARG002
        self.add(name, "returned")

    def _in_If(self, name: str, node: ast.expr, parent: ast.If) -> None:  # noqa: N802, ARG002
        self.add(name, "truth")

    def _in_While(self, name: str, node: ast.expr, parent: ast.While) -> None:  # noqa: N802, ARG002
        self.add(name, "truth")

    def _in_IfExp(self, name: str, node: ast.expr, parent: ast.IfExp) -> None:  # noqa: N802
        self.add(name, "truth" if parent.test is node else "ifexp_value")

    def _in_BoolOp(self, name: str, node: ast.expr, parent: ast.BoolOp) -> None:  # noqa: N802, ARG002
        self.add(name, f"boolop:{_op(parent.op)}")

    def _in_Assign(self, name: str, node: ast.expr, parent: ast.Assign) -> None:  # noqa: N802, ARG002
        self.add(name, "assigned_to_name" if all(isinstance(t, ast.Name) for t in parent.targets) else "assigned_to")

    def _in_FormattedValue(self, name: str, node: ast.expr, parent: ast.FormattedValue) -> None:  # noqa: N802, ARG002
        self.add(name, "formatted")

    def _in_Tuple(self, name: str, node: ast.expr, parent: ast.Tuple) -> None:  # noqa: N802, ARG002
        self.add(name, "in_tuple")

    def _in_List(self, name: str, node: ast.expr, parent: ast.List) -> None:  # noqa: N802, ARG002
        self.add(name, "in_list")

    def _in_Assert(self, name: str, node: ast.expr, parent: ast.Assert) -> None:  # noqa: N802, ARG002
        self.add(name, "truth")
