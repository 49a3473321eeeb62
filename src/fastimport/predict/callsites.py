"""What a module's own code passes to its functions: argument labels read off its call sites.

    evidence = read(ast.parse(module_source))
    evidence.sites["mean"]        -> {"a": ["ndarray:float64:1", "ndarray:float64:1"]}
    evidence.sites["advance"]     -> {"bodies": ["list[list[float]]"], "steps": ["int"], "dt": ["float"]}
    agreed(evidence.sites["mean"]["a"]) -> "ndarray:float64:1"
    evidence.flows["variance"]    -> {"a": [("mean", "a")]}      (variance passes its `a` to mean)

A script usually says what its functions get: `signal = make_signal(20000, 7)` then
`mean(signal)`, with `make_signal` returning `np.empty(n)`. This module reads that off the
module's AST, with a small abstract evaluation that gives an expression the label
(predict/labels.py) its value would have, or None when it cannot tell: literals, arithmetic
with Python's promotion rules, `int()`/`float()`/`len()`, `math` functions, NumPy
constructors (`np.zeros((n, m))`, `np.empty(n, dtype=np.int64)`, `np.arange`, `np.array` of
a literal), list literals and comprehensions, subscripts of arrays and lists, names bound
once (or always to the same label) in the module or in the calling function, and the
return labels of the module's own functions. Parameters of the module's functions take the
labels their own call sites agree on, so evidence flows down a chain of calls
(`main` -> `simulate(steps, 0.01)` -> `advance(bodies, steps, dt)`) in a few rounds.

Every call of a module-level function by name, anywhere in the module, is a call site; one
argument whose label cannot be told is recorded as None, so `agreed` takes a label only
when every call site shows it. The predictor (predict/predictor.py) trusts an agreed label
over its model, at the precision models/evaluate.py measures for such labels.

Only the standard library, and no execution: the module's code is read, never run.
"""

from __future__ import annotations

import ast
import bisect
import json
from dataclasses import dataclass, field

from fastimport.predict.labels import INDEX

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_GENERATOR = "numpy.random.Generator"  # np.random.default_rng(): a value of our own, "other" at a call site
_EMPTY_LIST = "<empty list>"  # `[]`: a list whose items its appends tell ("other" at a call site, as at run time)
_DICT = "dict:"  # + JSON of {key: label or null}: a dict literal with constant str keys ("other" at a call site)
ROUNDS = 8  # at most this many rounds of passing labels down call chains (main -> run -> kernel)
_INT_MATH = frozenset({"floor", "ceil", "trunc", "factorial", "gcd", "lcm", "isqrt", "comb", "perm"})
_BOOL_MATH = frozenset({"isnan", "isinf", "isfinite", "isclose"})
_FLOAT_CONSTANTS = frozenset({"pi", "e", "tau", "inf", "nan"})
_DTYPES = {
    "float64": "float64", "float_": "float64", "double": "float64", "float": "float64",
    "float32": "float32", "single": "float32",
    "int64": "int64", "int_": "int64", "intp": "int64", "int": "int64",
    "int32": "int32", "intc": "int32",
    "bool_": "bool", "bool": "bool",
    "complex128": "complex128", "complex": "complex128", "complex_": "complex128",
}  # fmt: skip
_MAX_NDIM = 3  # (predict/labels.py NDIMS)
# builtins that only read the lists they are given (a list passed to anything else may be appended to there)
_READING_BUILTINS = frozenset({
    "len", "sum", "min", "max", "sorted", "print", "list", "tuple", "set", "enumerate", "zip", "reversed",
    "iter", "any", "all", "str", "repr", "isinstance", "int", "float", "bool", "abs", "round", "map", "filter",
})  # fmt: skip
_DICT_STORING_METHODS = frozenset({"setdefault", "__setitem__"})  # d.setdefault("key", v): "key" may change
_ARRAY_LIKE = {"int": "int64", "float": "float64", "bool": "bool"}  # element label -> dtype of np.array/np.full


@dataclass(frozen=True)
class Evidence:
    """What a module's own calls say about its functions' parameters."""

    # function -> parameter -> the label at each of its call sites (None: not told)
    sites: dict[str, dict[str, list[str | None]]] = field(default_factory=dict)
    # function -> parameter -> the (function, parameter) pairs it is passed to unchanged:
    # `def nbody(steps): advance(bodies, 0.01, steps)` -> {"nbody": {"steps": [("advance", "steps")]}}.
    # At that call the callee's parameter holds the very value, so the predictor weighs both
    # parameters' code together.
    flows: dict[str, dict[str, list[tuple[str, str]]]] = field(default_factory=dict)


def read(tree: ast.Module, importer: ast.Module | None = None, name: str = "") -> Evidence:
    """The call-site labels and the parameter flows of a module.

    With `importer` (the main script, say) and the module's `name`, the importer's calls of
    the module's functions (`import kernels; kernels.smooth(x, 5)`, `from kernels import
    smooth`) are call sites too.
    """
    try:
        external = None
        if importer is not None and name:
            external = _Module(importer).calls_into(name, module_functions(tree))
        module = _Module(tree, external)
        return Evidence(module.run(), module.flows())
    except RecursionError:  # an expression nested too deep to read: no evidence, as for no call site
        return Evidence()


def agreed(seen: list[str | None]) -> str | None:
    """The label every call site shows, or None (no call site, one not told, or two that differ)."""
    if not seen or None in seen:
        return None
    first = seen[0]
    return first if all(s == first for s in seen) else None


def module_functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """The module-level plain functions (a name bound twice keeps its last def, as at run time)."""
    found: dict[str, ast.FunctionDef] = {}
    for stmt in _flat(tree.body):
        if isinstance(stmt, ast.FunctionDef):
            found[stmt.name] = stmt
    return found


def _flat(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements of a scope's body, into if/for/while/with/try blocks but not into defs or classes."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for block in ("body", "orelse", "finalbody"):
            yield from _flat(getattr(stmt, block, []))
        for handler in getattr(stmt, "handlers", []):
            yield from _flat(handler.body)


_BLOCKS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})  # the fields of statements that hold blocks


def _blocks(stmt: ast.stmt) -> Iterator[list[ast.stmt]]:
    """The blocks of a compound statement: bodies, else and finally blocks, except handlers' and cases' bodies."""
    for field_name in _BLOCKS:
        for item in getattr(stmt, field_name, None) or []:
            if isinstance(item, (ast.ExceptHandler, ast.match_case)):
                yield item.body
        value = getattr(stmt, field_name, None)
        if value and isinstance(value[0], ast.stmt):
            yield value


def _reads(node: ast.AST, name: str) -> bool:
    return any(isinstance(sub, ast.Name) and sub.id == name for sub in ast.walk(node))


def _names_bound(node: ast.AST) -> tuple[str, ...]:
    if isinstance(node, ast.Name):
        return () if isinstance(node.ctx, ast.Load) else (node.id,)
    if isinstance(node, ast.alias):
        return (node.asname or node.name.partition(".")[0],)
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return tuple(node.names)
    found = getattr(node, "name", None)  # defs, classes, `except E as name`, `case [*name]`, `case x as name`
    return (found,) if isinstance(found, str) and not isinstance(node, ast.alias) else ()


def _shallow(node: ast.AST) -> Iterator[ast.AST]:
    """`node` and everything in it but its blocks, handlers and cases (and nested defs, classes, lambdas)."""
    yield node
    for field_name, value in ast.iter_fields(node):
        if field_name in _BLOCKS:
            continue
        yield from _walk_scope([v for v in (value if isinstance(value, list) else [value]) if isinstance(v, ast.AST)])


def _walk_scope(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of a body, not descending into nested defs, classes or lambdas."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


class _Module:
    def __init__(self, tree: ast.Module, external: dict[str, dict[str, list[str | None]]] | None = None) -> None:
        self.tree = tree
        self.external = external or {}  # call sites in an importing module (read)
        self.functions = module_functions(tree)
        self.modules: dict[str, str] = {}  # local name -> "math" / "numpy" / "numpy.random" / "sys"
        self.rebound_globals: set[str] = set()
        # constant keys stored into any subscript of the module (`d["a"] = v`; "*": some `.update(...)` not told),
        # so `d["a"]` of a dict literal is told only for keys nothing stores again
        self.stored_keys: set[str] = set()
        self.mutated_in_functions: set[str] = set()  # names stored into (xs[i] = v) in the module's functions
        _read_imports_and_globals(tree, self)
        self._bound_by: dict[int, tuple[set[str], set[str]]] = {}  # id(statement) -> (names it may bind, walruses)
        self._binders: dict[int, dict[str, list[int]]] = {}  # id(block) -> name -> where it may be bound in it
        # (each body is walked once; a round only forgets the labels worked out in the last one)
        self.scopes = {name: _Scope(self, node.body, node) for name, node in self.functions.items()}
        for scope in self.scopes.values():
            self.mutated_in_functions.update(scope.mutations)
        self.globals = _Scope(self, tree.body, None)
        self.calls = [
            (scope, call, callee)
            for scope in (self.globals, *self.scopes.values())
            for call in scope.call_nodes
            if (callee := self.functions.get(call.func.id)) is not None  # type: ignore[attr-defined]
            and not _shadowed(call.func.id, scope, self.globals)  # type: ignore[attr-defined]
        ]
        self.params: dict[str, dict[str, str | None]] = {name: {} for name in self.functions}
        self.returns: dict[str, str | None] = {}
        self._returning: set[str] = set()

    def run(self) -> dict[str, dict[str, list[str | None]]]:
        result: dict[str, dict[str, list[str | None]]] = {}
        for _ in range(ROUNDS):
            result = self._collect()
            params = {f: {p: agreed(seen) for p, seen in by_param.items()} for f, by_param in result.items()}
            if params == self.params:
                break
            self.params = params
            self.returns = {}
            self.globals.forget({})
            for name, scope in self.scopes.items():
                scope.forget({p: label for p, label in params[name].items() if label is not None})
        return result

    def _collect(self) -> dict[str, dict[str, list[str | None]]]:
        result: dict[str, dict[str, list[str | None]]] = {
            name: {p.arg: list(self.external.get(name, {}).get(p.arg, ())) for p in _params(node)}
            for name, node in self.functions.items()
        }
        for scope, call, callee in self.calls:
            _bind(callee, call, scope, result[callee.name])
        return result

    def calls_into(self, target: str, functions: dict[str, ast.FunctionDef]) -> dict[str, dict[str, list[str | None]]]:
        """The labels this module's calls pass to `functions` of the module `target` (after its own rounds)."""
        self.run()
        found: dict[str, dict[str, list[str | None]]] = {name: {} for name in functions}
        for scope in (self.globals, *self.scopes.values()):
            for call in scope.call_nodes + scope.attribute_calls:
                path = scope.module_path(call.func)
                module, _, name = (path or "").rpartition(".")
                if module == target and name in functions:
                    into = found[name]
                    for param in (p.arg for p in _params(functions[name])):
                        into.setdefault(param, [])
                    _bind(functions[name], call, scope, into)
        return found

    def flows(self) -> dict[str, dict[str, list[tuple[str, str]]]]:
        """Evidence.flows: parameters passed unchanged, as bare names, to the module's functions."""
        found: dict[str, dict[str, list[tuple[str, str]]]] = {}
        for scope, call, callee in self.calls:
            if scope.node is None:
                continue
            for param, arg in _arguments(callee, call):
                if not isinstance(arg, ast.Name) or arg.id not in scope.params or arg.id in scope.bindings:
                    continue
                if callee is not scope.node or param != arg.id:  # (f(n - 1) passes n to n: nothing learnt)
                    found.setdefault(scope.node.name, {}).setdefault(arg.id, []).append((callee.name, param))
        return found

    def binds(self, stmt: ast.stmt, name: str, *, walrus: bool = False) -> bool:
        """Whether anything in `stmt` may bind `name` (stores, del, imports, defs, handlers, for targets, walruses).

        With `walrus`, whether a `(name := ...)` in it does.
        """
        return name in self._bound_by[id(stmt)][walrus]

    def note_binds(self, stmt: ast.stmt, names: set[str], walruses: set[str]) -> None:
        self._bound_by[id(stmt)] = (names, walruses)

    def last_binding(self, block: list[ast.stmt], k: int, name: str) -> ast.stmt | None:
        """The last statement before `block[k]` that may bind `name`.

        (A bisection: a long module calling `f(a)` 3,000 times after one `a = 1` must not walk
        back 3,000 times.)
        """
        index = self._binders.get(id(block))
        if index is None:
            index = self._binders[id(block)] = {}
            for j, stmt in enumerate(block):
                for bound in self._bound_by[id(stmt)][0]:
                    index.setdefault(bound, []).append(j)
        found = index.get(name, ())
        at = bisect.bisect_left(found, k) - 1
        return block[found[at]] if at >= 0 else None

    def return_label(self, name: str) -> str | None:
        """The label every `return` of the module's function `name` agrees on (None: not told)."""
        if name in self.returns:
            return self.returns[name]
        if name in self._returning:  # (recursion: not told)
            return None
        self._returning.add(name)
        scope = self.scopes[name]
        found = [scope.label(r.value) if r.value is not None else "None" for r in scope.returns()]
        self._returning.discard(name)
        self.returns[name] = agreed(found)
        return self.returns[name]


def _shadowed(name: str, scope: _Scope, module_scope: _Scope) -> bool:
    """Whether `name` called in `scope` may not be the module's function: a parameter or a name bound again."""
    return name in scope.params or name in scope.bindings or name in module_scope.bindings


def _params(node: ast.FunctionDef) -> list[ast.arg]:
    return [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]


def _bind(callee: ast.FunctionDef, call: ast.Call, scope: _Scope, into: dict[str, list[str | None]]) -> None:
    """Add the labels of one call's arguments to its callee's parameters (defaults are not call-site facts)."""
    for param, arg in _arguments(callee, call):
        label = None if arg is None else scope.label_at(call, arg)
        if label == _EMPTY_LIST:  # f([]): the parameter's other call sites say what its lists hold
            label = None
        into[param].append(label if label is None or label in INDEX else "other")  # (a Generator is "other")


def _arguments(callee: ast.FunctionDef, call: ast.Call) -> Iterator[tuple[str, ast.expr | None]]:
    """(callee's parameter, the argument expression given for it) of one call; None where not told."""
    positional = [*callee.args.posonlyargs, *callee.args.args]
    names = {p.arg for p in _params(callee)}
    for i, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):  # f(*xs): which parameters get what is not told
            for p in positional[i:]:
                yield p.arg, None
            return
        if i < len(positional):
            yield positional[i].arg, arg
    for kw in call.keywords:
        if kw.arg is None:  # f(**kw)
            for p in _params(callee):
                yield p.arg, None
        elif kw.arg in names:
            yield kw.arg, kw.value


def _read_imports_and_globals(tree: ast.Module, module: _Module) -> None:
    aliases, rebound = module.modules, module.rebound_globals
    for node in ast.walk(tree):
        if isinstance(node, _KEY_STORING):
            module.stored_keys.update(_stored_keys(node))
        if isinstance(node, ast.Global):
            rebound.update(node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    aliases[a.asname] = a.name
                else:
                    aliases[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for a in node.names:  # from math import sqrt: `sqrt` names "math.sqrt"
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"


_KEY_STORING = (ast.Assign, ast.Delete, ast.AugAssign, ast.AnnAssign, ast.Call)  # (what _stored_keys reads)
# nodes that bind nothing, store nothing and call nothing, but a Name's store
_LEAVES = (ast.Name, ast.Constant, ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop, ast.Attribute)


def _stored_keys(node: ast.AST) -> Iterator[str]:
    """The constant keys a statement or call may store a new value under (see _Module.stored_keys).

    A store under a computed key (`counts[word] += 1`, `xs[i] = v`) is not counted: nearly every
    module has one, and a literal's keys are rarely computed elsewhere (measured: models/evaluate.py).
    """
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in _DICT_STORING_METHODS and node.args:
            yield from _key(node.args[0])
        elif node.func.attr == "update":  # d.update(a=1), d.update({"a": 1}): their keys; d.update(other): any
            yield from (kw.arg or "*" for kw in node.keywords)
            for arg in node.args:
                yield from (k or "*" for k in _literal_keys(arg)) if isinstance(arg, ast.Dict) else "*"
        return
    if isinstance(node, (ast.Assign, ast.Delete)):
        targets = node.targets
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        targets = [node.target]
    else:
        return
    for target in targets:  # (`a, d["k"] = ...` too)
        for sub in ast.walk(target):
            if isinstance(sub, ast.Subscript):
                yield from _key(sub.slice)


def _key(node: ast.expr | None) -> list[str]:
    return [node.value] if isinstance(node, ast.Constant) and isinstance(node.value, str) else []


def _literal_keys(node: ast.Dict) -> list[str | None]:
    """A dict literal's keys: the constant str ones, None for any other (`**other` included)."""
    return [k.value if isinstance(k, ast.Constant) and isinstance(k.value, str) else None for k in node.keys]


_STORING_METHODS = {"append": 0, "insert": 1}  # list method -> the position of the item it stores
_GROWING_METHODS = frozenset({"extend", "__setitem__", "__iadd__"})  # (what they store is not read)


def _stored(node: ast.AST) -> list[tuple[str, int, ast.expr | None]]:
    """What a statement or call stores into a name's items (see the two below)."""
    if isinstance(node, ast.Call):
        found = _stored_by_method(node)
        return [found] if found is not None else []
    if isinstance(node, (ast.Assign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [s for t in targets if (s := _stored_by_subscript(t, node.value)) is not None]
    return []


def _stored_by_method(call: ast.Call) -> tuple[str, int, ast.expr | None] | None:
    """`xs.append(v)` -> ("xs", 1, v); `xs[i].append(v)` -> ("xs", 2, v); `xs.extend(ys)` -> ("xs", 0, None)."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    base, depth = _subscript_base(func.value)
    if base is None:
        return None
    if func.attr in _STORING_METHODS:
        at = _STORING_METHODS[func.attr]
        return base, depth + 1, call.args[at] if len(call.args) > at else None
    return (base, 0, None) if func.attr in _GROWING_METHODS else None


def _stored_by_subscript(target: ast.expr, value: ast.expr) -> tuple[str, int, ast.expr | None] | None:
    """`xs[i] = v` -> ("xs", 1, v); `xs[i][j] += v` -> ("xs", 2, v); a slice store -> ("xs", 0, None)."""
    if not isinstance(target, ast.Subscript):
        return None
    base, depth = _subscript_base(target)
    if base is None:
        return None
    return (base, 0, None) if isinstance(target.slice, ast.Slice) else (base, depth, value)


def _subscript_base(node: ast.expr) -> tuple[str | None, int]:
    """`xs[i][j]` -> ("xs", 2); `xs` -> ("xs", 0); anything else -> (None, 0)."""
    depth = 0
    while isinstance(node, ast.Subscript):
        node, depth = node.value, depth + 1
    return (node.id, depth) if isinstance(node, ast.Name) else (None, 0)


class _Scope:
    """One body (the module's or a function's): its names' labels, evaluated on demand."""

    def __init__(self, module: _Module, body: list[ast.stmt], node: ast.FunctionDef | None) -> None:
        self.module = module
        self.body = body
        self.node = node
        self.bound: dict[str, str] = {}  # parameter -> label its call sites agree on
        self.params = {p.arg for p in _params(node)} if node is not None else set()
        self.bindings: dict[str, list[ast.expr | None]] = {}  # name -> what it is bound to (None: not told)
        for stmt in _flat(body):
            self._note(stmt)
        self.call_nodes: list[ast.Call] = []  # calls by plain name in this body
        self.attribute_calls: list[ast.Call] = []  # calls of anything else (kernels.smooth(...))
        # name -> (depth, the value stored) for `xs[i] = v`, `xs[i][j] += v`, `xs.append(v)`...:
        # a list that gets a float where it had ints is no list[int] any more
        self.mutations: dict[str, list[tuple[int, ast.expr | None]]] = {}
        # names another object may come to hold (`ys = xs`, `holder.add(xs)`): their appends here are not all of
        # them; and the calls of the module's functions each name is passed to (`fill(xs)`: see may_fill)
        self.escaping: set[str] = set()
        self.passed: dict[str, list[ast.Call]] = {}
        # id(call) -> (block, index) of the statement holding it, innermost first, then of each around it
        self.places: dict[int, list[tuple[list[ast.stmt], int]]] = {}
        self._note_inner(body, [])
        if node is None:  # a global some function rebinds, or stores into, is not told
            for name in module.rebound_globals:
                self._bind(name, None)
            for name in module.mutated_in_functions:
                self.mutations.setdefault(name, []).append((0, None))
        self.labels: dict[str, str | None] = {}
        self.reached: dict[tuple[int, str], str | None] = {}  # (id(statement), name) -> _reaching's label
        self._evaluating: set[str] = set()

    def forget(self, bound: dict[str, str]) -> None:
        """Start a new round with these parameter labels."""
        self.bound = bound
        self.labels = {}
        self.reached = {}

    def _note(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                self._bind_target(target, stmt.value)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self._bind_target(stmt.target, stmt.value)
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            self._bind(stmt.target.id, ast.BinOp(ast.Name(stmt.target.id, ast.Load()), stmt.op, stmt.value))
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            self._bind_target(stmt.target, _Element(stmt.iter))
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if self.node is not None:  # (a module-level def is a function, not a value, here)
                self._bind(stmt.name, None)
        elif isinstance(stmt, (ast.Global, ast.Nonlocal)):  # (imports are read by _module_aliases)
            for name in stmt.names:
                self._bind(name, None)

    def _note_inner(self, block: list[ast.stmt], around: list[tuple[list[ast.stmt], int]]) -> set[str]:
        """Names bound inside statements (`(x := ...)`, `with ... as x`, `except E as x`), calls, and where they are.

        Returns the names the block may bind; what each statement may bind goes to _Module.binds.
        """
        in_block: set[str] = set()
        for k, stmt in enumerate(block):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.module.note_binds(stmt, {stmt.name}, set())
                in_block.add(stmt.name)
                continue
            chain = [(block, k), *around]
            names: set[str] = set()
            walruses: set[str] = set()
            for node in _shallow(stmt):
                self._note_node(node, names, walruses)
                if isinstance(node, ast.Call):
                    self.places[id(node)] = chain
            for part in (*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())):
                for node in _shallow(part):  # (`except f(x) as e`: not placed, it runs after the try block)
                    self._note_node(node, names, walruses)
            for inner in _blocks(stmt):
                names |= self._note_inner(inner, chain)
            self.module.note_binds(stmt, names, walruses)
            in_block |= names
        return in_block

    def _note_node(self, node: ast.AST, names: set[str], walruses: set[str]) -> None:
        if isinstance(node, _LEAVES):  # (most nodes: answered without the checks below)
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                names.add(node.id)
            return
        names.update(_names_bound(node))
        for name, depth, value in _stored(node):
            self.mutations.setdefault(name, []).append((depth, value))
        self._note_escaping(node)
        if isinstance(node, ast.Call):
            calls = self.call_nodes if isinstance(node.func, ast.Name) else self.attribute_calls
            calls.append(node)
        elif isinstance(node, ast.NamedExpr):
            self._bind(node.target.id, node.value)
            walruses.add(node.target.id)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    self._bind_target(item.optional_vars, None)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self._bind(node.name, None)

    def _note_escaping(self, node: ast.AST) -> None:
        """`fill(xs)`, `ys = xs`: xs is in self.escaping."""
        if isinstance(node, ast.Call) and not self._only_reads(node.func):
            values = [*node.args, *(kw.value for kw in node.keywords)]
            names = [v.id for v in values if isinstance(v, ast.Name)]
            if isinstance(node.func, ast.Name) and node.func.id in self.module.functions:
                for name in names:
                    self.passed.setdefault(name, []).append(node)
            else:
                self.escaping.update(names)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            self.escaping.add(node.value.id)

    def _only_reads(self, func: ast.expr) -> bool:
        """Whether a callee only reads the lists it is given (a builtin like `len`, or NumPy or math)."""
        if isinstance(func, ast.Name) and func.id in _READING_BUILTINS:
            return func.id not in self.bindings and func.id not in self.module.functions
        path = self.module_path(func)
        return path is not None and path.partition(".")[0] in {"numpy", "math", "statistics"}

    def _bind_target(self, target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)):  # unpacking: what each name gets is not told
            for elt in target.elts:
                self._bind_target(elt.value if isinstance(elt, ast.Starred) else elt, None)

    def _bind(self, name: str, value: ast.expr | None) -> None:
        self.bindings.setdefault(name, []).append(value)

    def returns(self) -> Iterator[ast.Return]:
        for stmt in _flat(self.body):
            if isinstance(stmt, ast.Return):
                yield stmt

    def name_label(self, name: str) -> str | None:
        if name in self.labels:
            return self.labels[name]
        if name in self.params and name not in self.bindings:
            return self.bound.get(name)
        if name not in self.bindings:
            outer = self.module.globals
            if outer is self or name in self.module.functions:
                return None
            return outer.name_label(name)
        label = self._label_of(name, self.bindings[name], param=name in self.params)
        if label is not _CYCLE:  # (met again while its own bindings are read: not its label)
            self.labels[name] = label
        return label

    def _label_of(self, name: str, values: list[ast.expr | None], *, param: bool) -> str | None:
        """The label `name` has when bound to one of `values` (or passed in, with `param`), its stores checked."""
        if name in self._evaluating:  # s = s + x: decided by the other bindings
            return _CYCLE
        self._evaluating.add(name)
        try:  # (everything below may meet `name` again: `xs.append(xs[0] * 2)`)
            found = [self.label(v) if v is not None else None for v in values]
            if param:
                found.append(self.bound.get(name))
            if _EMPTY_LIST in found:
                filled = self._filled(name)
                found = [filled if f == _EMPTY_LIST else f for f in found]
            label = agreed([f for f in found if f is not _CYCLE])
            if label is not None and label.startswith("list[") and name in self.mutations:
                label = label if all(self._keeps(label, *m) for m in self.mutations[name]) else None
            return label
        finally:
            self._evaluating.discard(name)

    def label_at(self, call: ast.Call, arg: ast.expr) -> str | None:
        """The label of an argument of `call`; a bare name by the last binding that reaches the call, if told.

        `a = line.split(",")` ... `a = np.array(xs)` then `smooth(a)`: only the second reaches. The
        binding is looked for backwards in the call's block, then in the blocks around it, passing out
        only through statements that do not bind the name (a loop that rebinds it may come back round).
        """
        if not isinstance(arg, ast.Name) or arg.id in self.module.rebound_globals:
            return self.label(arg)
        name = arg.id
        module = self.module
        for depth, (block, k) in enumerate(self.places.get(id(call), ())):
            here = block[k]
            if module.binds(here, name, walrus=depth == 0 and not isinstance(here, ast.While)):
                return self.name_label(name)
            if (before := module.last_binding(block, k, name)) is not None:
                return self._reaching(name, before)
        if name in self.params:
            return self._label_of(name, [], param=True)
        return self.name_label(name)

    def _reaching(self, name: str, stmt: ast.stmt) -> str | None:
        """The label `stmt` binds `name` to: told for `name = value` only (`a, b = ...` and the rest: as a whole)."""
        key = (id(stmt), name)
        if key in self.reached:
            return self.reached[key]
        label = self._reached(name, stmt)
        if label is not _CYCLE:
            self.reached[key] = label
        return label

    def _reached(self, name: str, stmt: ast.stmt) -> str | None:
        simple = isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets)
        if simple and not self.module.binds(stmt, name, walrus=True) and not _reads(stmt.value, name):
            return self._label_of(name, [stmt.value], param=False)
        return self.name_label(name)  # (`b = b * 2`: what b was before is the other bindings' question)

    def _filled(self, name: str) -> str | None:
        """`xs = []` then `xs.append(v)`: the list its appends (or item stores) make, None if one is not told."""
        stores = self.mutations.get(name, [])
        if not stores or self.may_fill(name, frozenset()):
            return None
        return _list_of([self.label(v) if depth == 1 and v is not None else None for depth, v in stores])

    def may_fill(self, name: str, checking: frozenset[str]) -> bool:
        """Whether anything but this scope's own stores may add to the list `name` holds.

        Passing it to a function of the module is safe when that function neither stores into
        its parameter nor passes it on to something that may (`checking`: the functions on the way).
        """
        if name in self.escaping:
            return True
        for call in self.passed.get(name, ()):
            callee = self.module.functions[call.func.id]  # type: ignore[attr-defined]
            if callee.name in checking:
                continue
            if _shadowed(callee.name, self, self.module.globals):
                return True
            given = sum(
                isinstance(v, ast.Name) and v.id == name for v in [*call.args, *(k.value for k in call.keywords)]
            )
            params = [p for p, arg in _arguments(callee, call) if isinstance(arg, ast.Name) and arg.id == name]
            if len(params) < given or any(arg is None for _, arg in _arguments(callee, call)):  # (*args, **kwargs)
                return True
            scope = self.module.scopes[callee.name]
            if any(p in scope.mutations or scope.may_fill(p, checking | {callee.name}) for p in params):
                return True
        return False

    def _keeps(self, label: str, depth: int, value: ast.expr | None) -> bool:
        """Whether storing `value` `depth` levels into a list labelled `label` keeps that label."""
        inner = label
        for _ in range(depth):
            if not inner.startswith("list["):
                return False
            inner = inner[5:-1]
        return value is not None and depth > 0 and self.label(value) == inner

    def label(self, node: ast.expr) -> str | None:
        """The label `node`'s value would have, or None if this reading cannot tell."""
        rule = _RULES.get(type(node))
        return rule(self, node) if rule is not None else None

    def module_path(self, node: ast.expr) -> str | None:
        """`np.random` -> "numpy.random", `math` -> "math": the module an expression names."""
        if isinstance(node, ast.Name) and node.id not in self.bindings:
            return self.module.modules.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.module_path(node.value)
            return f"{base}.{node.attr}" if base is not None else None
        return None


_CYCLE = "<cycle>"  # a name met again while its own bindings are evaluated


class _Element(ast.expr):
    """The value of one item of an iterable (a for target): a synthetic node for the rules."""

    def __init__(self, iterable: ast.expr) -> None:
        super().__init__()
        self.iterable = iterable


# -- the rules: node type -> its label ---------------------------------------------------------


def _constant(_scope: _Scope, node: ast.Constant) -> str | None:
    return {bool: "bool", int: "int", float: "float", str: "str", type(None): "None"}.get(type(node.value))


def _name(scope: _Scope, node: ast.Name) -> str | None:
    return scope.name_label(node.id)


_NUMERIC_RANK = {"bool": 0, "int": 1, "float": 2}


def _numeric(*found: str | None) -> str | None:
    """The label of arithmetic on these scalars (bool counts as int), or None if one is not a number."""
    if any(f not in _NUMERIC_RANK for f in found):
        return None
    return "float" if "float" in found else "int"


def _binop(scope: _Scope, node: ast.BinOp) -> str | None:  # noqa: PLR0911 - one return per rule
    left, right = scope.label(node.left), scope.label(node.right)
    if left is _CYCLE or right is _CYCLE:  # s + x while s's bindings are read: as x (s = 0.0; s += a[i])
        left = right = right if left is _CYCLE else left
        if left is _CYCLE:
            return _CYCLE
    if (sequence := _sequence_arithmetic(node.op, left, right)) is not None:
        return sequence
    if _is_array(left) or _is_array(right):
        return _array_arithmetic(node.op, left, right)
    kind = _numeric(left, right)
    if kind is None:
        return None
    if isinstance(node.op, ast.Div):
        return "float"
    if isinstance(node.op, (ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift)):
        return "int" if kind == "int" else None
    if isinstance(node.op, ast.Pow) and kind == "int":
        exponent = node.right
        negative = isinstance(exponent, ast.UnaryOp) and isinstance(exponent.op, ast.USub)
        return None if negative or not isinstance(exponent, ast.Constant) else "int"
    return kind


def _sequence_arithmetic(op: ast.operator, left: str | None, right: str | None) -> str | None:
    """`[0.0] * n` (a list repeated) and `xs + ys` or `s + t` (concatenated): the sequence's label."""
    if isinstance(op, ast.Mult) and {left, right} & {"int", "bool"}:
        seq = left if left not in _NUMERIC_RANK else right
        return seq if seq is not None and seq.startswith("list[") else None
    if isinstance(op, ast.Add) and left == right and left is not None and left.startswith(("list[", "str")):
        return left
    return None


def _array_arithmetic(op: ast.operator, left: str | None, right: str | None) -> str | None:
    """The label of `a * 2.0` or `a + b` with an array: the broadcast array, for plain dtypes."""
    arrays = [_split_array(x) for x in (left, right) if _is_array(x)]
    scalars = [x for x in (left, right) if not _is_array(x)]
    if any(s not in _NUMERIC_RANK for s in scalars):
        return None
    ndim = max(n for _, n in arrays)
    dtypes = {d for d, _ in arrays}
    if dtypes == {"float64"} or (dtypes <= {"float64", "int64"} and (isinstance(op, ast.Div) or "float" in scalars)):
        return f"ndarray:float64:{ndim}"
    if dtypes == {"int64"} and not isinstance(op, ast.Div) and "float" not in scalars:
        return f"ndarray:int64:{ndim}"
    return None


def _is_array(label: str | None) -> bool:
    return label is not None and label.startswith("ndarray:")


def _split_array(label: str) -> tuple[str, int]:
    _, dtype, ndim = label.split(":")
    return dtype, int(ndim)


def _unaryop(scope: _Scope, node: ast.UnaryOp) -> str | None:
    if isinstance(node.op, ast.Not):
        return "bool"
    inner = scope.label(node.operand)
    if _is_array(inner) and not isinstance(node.op, ast.Invert):
        return inner
    if inner not in _NUMERIC_RANK:
        return None
    if isinstance(node.op, ast.Invert):
        return "int"
    return "int" if inner == "bool" else inner


def _compare(scope: _Scope, node: ast.Compare) -> str | None:
    sides = [scope.label(x) for x in (node.left, *node.comparators)]
    return None if any(_is_array(s) for s in sides) else "bool"


def _boolop(scope: _Scope, node: ast.BoolOp) -> str | None:
    return agreed([scope.label(v) for v in node.values])  # `a or b` is one of them


def _ifexp(scope: _Scope, node: ast.IfExp) -> str | None:
    return agreed([scope.label(node.body), scope.label(node.orelse)])


def _tuple(_scope: _Scope, _node: ast.Tuple) -> str | None:
    return "tuple"


def _list(scope: _Scope, node: ast.List) -> str | None:
    from fastimport.predict.labels import LIST_SAMPLE

    return _list_of([scope.label(x) for x in node.elts[:LIST_SAMPLE]]) if node.elts else _EMPTY_LIST


def _list_of(items: list[str | None]) -> str | None:
    """The label of a list with items of these labels (predict/labels.py `_list_label`)."""
    if not items or None in items:
        return None
    if all(i == "int" for i in items):
        return "list[int]"
    if all(i == "float" for i in items):
        return "list[float]"
    if len(set(items)) == 1 and (items[0] in {"list[int]", "list[float]"} or items[0].startswith(_DICT)):
        return f"list[{items[0]}]"  # (a list of dicts is "other" at a call site; its items' items are told)
    return "other"


def _dict(scope: _Scope, node: ast.Dict) -> str | None:
    """A dict literal with constant str keys: the label of each value, for `d["key"]` (json: keys may be anything)."""
    keys = _literal_keys(node)
    if None in keys:
        return None
    values = [scope.label(v) for v in node.values]
    return _DICT + json.dumps({k: (v if v != _CYCLE else None) for k, v in zip(keys, values, strict=True)})


def _listcomp(scope: _Scope, node: ast.ListComp) -> str | None:
    inner = _Scope(scope.module, [], scope.node)  # the comprehension's names, over the scope's
    inner.bound = scope.bound
    inner.bindings = {**scope.bindings}
    inner.mutations, inner.escaping, inner.passed = scope.mutations, scope.escaping, scope.passed
    inner._evaluating = scope._evaluating  # noqa: SLF001 - (a name met again through a comprehension is a cycle too)
    for gen in node.generators:
        if gen.ifs:
            pass  # (a filter keeps the element type)
        _bind_comprehension(inner, gen.target, gen.iter)
    return _list_of([inner.label(node.elt)])


def _bind_comprehension(inner: _Scope, target: ast.expr, iterable: ast.expr) -> None:
    if isinstance(target, ast.Name):
        inner.bindings[target.id] = [_Element(iterable)]
    else:
        for name in (n.id for n in ast.walk(target) if isinstance(n, ast.Name)):
            inner.bindings[name] = [None]


def _element(scope: _Scope, node: _Element) -> str | None:
    """What iterating `node.iterable` gives: ints from range, items of a list or a tuple literal."""
    it = node.iterable
    if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range":
        return "int" if "range" not in scope.bindings and "range" not in scope.module.globals.bindings else None
    if isinstance(it, (ast.Tuple, ast.List, ast.Set)):
        return agreed([scope.label(x) for x in it.elts])
    whole = scope.label(it)
    if whole is None:
        return None
    if whole.startswith("list["):
        return whole[5:-1]
    if whole.startswith("ndarray:"):
        dtype, ndim = _split_array(whole)
        return _indexed_array(dtype, ndim - 1)
    return None


def _indexed_array(dtype: str, ndim: int) -> str | None:
    """The label of an array item with `ndim` dimensions left (0: a NumPy scalar, labelled as its number)."""
    if ndim > 0:
        return f"ndarray:{dtype}:{ndim}"
    return {"float64": "float", "float32": "float", "int64": "int", "int32": "int", "bool": "bool"}.get(dtype)


def _subscript(scope: _Scope, node: ast.Subscript) -> str | None:  # noqa: PLR0911 - one return per case
    path = scope.module_path(node.value) if isinstance(node.value, ast.Attribute) else None
    if path == "sys.argv":
        return "str" if not isinstance(node.slice, ast.Slice) else None
    if isinstance(node.value, ast.Attribute) and node.value.attr == "shape":  # a.shape[0], whatever `a` is
        return "int" if _index_kind(scope, node.slice) == "int" else None
    base = scope.label(node.value)
    if base is None:
        return None
    index = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    if base.startswith("ndarray:"):
        dtype, ndim = _split_array(base)
        if len(index) > ndim:
            return None
        kinds = [_index_kind(scope, i) for i in index]
        if None in kinds:
            return None
        return _indexed_array(dtype, ndim - kinds.count("int"))
    if base.startswith(_DICT):
        key = node.slice.value if isinstance(node.slice, ast.Constant) else None
        if not isinstance(key, str) or key in scope.module.stored_keys or "*" in scope.module.stored_keys:
            return None
        return json.loads(base[len(_DICT) :]).get(key)
    if base.startswith("list[") and len(index) == 1:
        kind = _index_kind(scope, index[0])
        return base if kind == "slice" else base[5:-1] if kind == "int" else None
    return None


def _index_kind(scope: _Scope, index: ast.expr) -> str | None:
    if isinstance(index, ast.Slice):
        return "slice"
    return "int" if scope.label(index) in {"int", "bool"} else None


def _attribute(scope: _Scope, node: ast.Attribute) -> str | None:
    path = scope.module_path(node.value)
    if path in {"math", "numpy"} and node.attr in _FLOAT_CONSTANTS:
        return "float"
    if path is not None:
        return None
    base = scope.label(node.value)
    if _is_array(base):
        return {"shape": "tuple", "size": "int", "ndim": "int", "T": base}.get(node.attr)
    if base in {"float", "int"} and node.attr in {"real", "imag"}:
        return base
    return None


def _call(scope: _Scope, node: ast.Call) -> str | None:  # noqa: PLR0911 - one return per kind of callee
    func = node.func
    path = scope.module_path(func)
    if path is not None:
        if path.startswith("math."):
            return _math_call(path[5:])
        rule = _MODULE_CALLS.get(path)
        return rule(scope, node) if rule is not None else None
    if isinstance(func, ast.Name):
        if func.id in scope.bindings or func.id in scope.module.globals.bindings:
            return None  # (a local or global callable: not told)
        if func.id in scope.module.functions:
            return scope.module.return_label(func.id)
        rule = _BUILTINS.get(func.id)
        return rule(scope, node) if rule is not None else None
    if isinstance(func, ast.Attribute):
        base = scope.label(func.value)
        if _is_array(base):
            return _array_method(scope, base, func.attr, node)
        if base == _GENERATOR:  # rng.random(n), rng.normal(0, 1, size=(n, m)), rng.integers(0, 9, n)
            return _np_random_sized(scope, node)
        if base is not None and base.startswith("list[") and func.attr == "copy":
            return base
    return None


def _math_call(name: str) -> str | None:
    if name in _INT_MATH:
        return "int"
    if name in _BOOL_MATH:
        return "bool"
    return "float" if not name.startswith("_") else None


def _array_method(scope: _Scope, base: str, name: str, node: ast.Call) -> str | None:
    if name == "copy":
        return base
    if name in {"ravel", "flatten"} and not node.args:
        return f"ndarray:{_split_array(base)[0]}:1"
    if name == "reshape" and node.args and not node.keywords:
        shape = node.args[0] if len(node.args) == 1 else ast.Tuple(node.args)  # a.reshape((n, m)), a.reshape(n, m)
        ndim = _ndim_of_shape(scope, shape)
        return _array(_split_array(base)[0], ndim)
    if name == "astype" and node.args:
        dtype = _dtype(scope, node.args[0])
        return f"ndarray:{dtype}:{_split_array(base)[1]}" if dtype else None
    if name in {"sum", "mean", "min", "max", "std", "var"} and not node.args and not node.keywords:
        return "float" if name in {"mean", "std", "var"} else _indexed_array(_split_array(base)[0], 0)
    return None


def _dtype(scope: _Scope, node: ast.expr) -> str | None:
    """`np.int64`, `float`, `"float32"` as a dtype argument -> its dtype name."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _DTYPES.get(node.value)
    if isinstance(node, ast.Name) and node.id in {"int", "float", "bool", "complex"}:
        return _DTYPES[node.id]
    if isinstance(node, ast.Attribute) and scope.module_path(node.value) == "numpy":
        return _DTYPES.get(node.attr)
    return None


def _keyword(node: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in node.keywords if kw.arg == name), None)


def _ndim_of_shape(scope: _Scope, shape: ast.expr) -> int | None:
    if isinstance(shape, (ast.Tuple, ast.List)):
        return len(shape.elts) if all(scope.label(x) in {"int", "bool"} for x in shape.elts) else None
    label = scope.label(shape)
    return 1 if label == "int" else None


def _array(dtype: str | None, ndim: int | None) -> str | None:
    if dtype is None or ndim is None or not 1 <= ndim <= _MAX_NDIM:
        return None
    return f"ndarray:{dtype}:{ndim}"


def _np_filled(default: str) -> Callable[[_Scope, ast.Call], str | None]:
    """np.zeros/ones/empty(shape, dtype=...): float64 unless told; np.full from its fill value."""

    def rule(scope: _Scope, node: ast.Call) -> str | None:
        if not node.args:
            return None
        given = _keyword(node, "dtype")
        if given is None and len(node.args) > (2 if default == "fill" else 1):
            given = node.args[2 if default == "fill" else 1]
        if given is not None:
            dtype = _dtype(scope, given)
        elif default == "fill":
            dtype = _ARRAY_LIKE.get(scope.label(node.args[1])) if len(node.args) > 1 else None
        else:
            dtype = default
        return _array(dtype, _ndim_of_shape(scope, node.args[0]))

    return rule


def _np_like(scope: _Scope, node: ast.Call) -> str | None:
    """np.zeros_like(a, dtype=...): `a`'s label, or its ndim with the given dtype."""
    if not node.args:
        return None
    base = scope.label(node.args[0])
    if base is None or not base.startswith("ndarray:"):
        return None
    given = _keyword(node, "dtype")
    if given is None:
        return base
    return _array(_dtype(scope, given), _split_array(base)[1])


def _np_arange(scope: _Scope, node: ast.Call) -> str | None:
    given = _keyword(node, "dtype")
    if given is not None:
        return _array(_dtype(scope, given), 1)
    kinds = [scope.label(a) for a in node.args]
    if not kinds or any(k not in _NUMERIC_RANK for k in kinds):
        return None
    return "ndarray:float64:1" if "float" in kinds else "ndarray:int64:1"


def _np_linspace(_scope: _Scope, node: ast.Call) -> str | None:
    return "ndarray:float64:1" if _keyword(node, "dtype") is None else None


def _np_random(scope: _Scope, node: ast.Call) -> str | None:
    """np.random.rand(n, m) -> float64 with one dimension per argument; no argument -> a float."""
    if any(scope.label(a) not in {"int", "bool"} for a in node.args) or node.keywords:
        return None
    return _array("float64", len(node.args)) if node.args else "float"


# NumPy's random functions and Generator methods: where `size` comes positionally
_SIZE_AT = {"random": 0, "random_sample": 0, "standard_normal": 0, "exponential": 1}
_SIZE_AT |= {"uniform": 2, "normal": 2, "randint": 2, "integers": 2}
_INTEGER_DRAWS = frozenset({"randint", "integers"})


def _np_random_sized(scope: _Scope, node: ast.Call) -> str | None:
    """The label of np.random.random(size), rng.normal(0, 1, n) and the like.

    A float64 array (int64 for integer draws) of the size's ndim; without a size, one number.
    """
    name = getattr(node.func, "attr", getattr(node.func, "id", ""))
    size = _keyword(node, "size")
    if size is None:
        at = _SIZE_AT.get(name, -1)
        size = node.args[at] if 0 <= at < len(node.args) else None
    integer = name in _INTEGER_DRAWS
    if size is None:
        return "int" if integer else "float"
    return _array("int64" if integer else "float64", _ndim_of_shape(scope, size))


def _np_array(scope: _Scope, node: ast.Call) -> str | None:
    """np.array of a (nested) list literal, or of an array; its dtype from the items or `dtype=`."""
    if not node.args:
        return None
    given = _keyword(node, "dtype")
    source = node.args[0]
    if isinstance(source, (ast.List, ast.Tuple)):
        found = _nested_items(scope, source)
        if found is None:
            return None
        kinds, ndim = found
        dtype = _dtype(scope, given) if given is not None else _promoted_dtype(kinds)
        return _array(dtype, ndim)
    base = scope.label(source)
    if _is_array(base):
        return base if given is None else _array(_dtype(scope, given), _split_array(base)[1])
    if base in {"list[int]", "list[float]", "list[list[int]]", "list[list[float]]"}:
        ndim = base.count("list[")
        dtype = _dtype(scope, given) if given is not None else _ARRAY_LIKE[base.rstrip("]").split("[")[-1]]
        return _array(dtype, ndim)
    return None


def _nested_items(scope: _Scope, node: ast.expr) -> tuple[set[str], int] | None:
    if not isinstance(node, (ast.List, ast.Tuple)):
        label = scope.label(node)
        return ({label}, 0) if label in _NUMERIC_RANK else None
    if not node.elts:
        return None
    parts = [_nested_items(scope, x) for x in node.elts]
    if None in parts or len({p[1] for p in parts}) != 1:  # type: ignore[index]
        return None
    kinds = set().union(*(p[0] for p in parts))  # type: ignore[index]
    return kinds, parts[0][1] + 1  # type: ignore[index]


def _promoted_dtype(kinds: set[str]) -> str:
    return "float64" if "float" in kinds else "int64" if "int" in kinds else "bool"


def _np_ufunc(scope: _Scope, node: ast.Call) -> str | None:
    """np.sqrt(a) and the like: a float64 array of `a`'s ndim, or a float for a number."""
    if len(node.args) != 1:
        return None
    base = scope.label(node.args[0])
    if _is_array(base):
        return _array("float64", _split_array(base)[1])
    return "float" if base in _NUMERIC_RANK else None


def _same_as_first(scope: _Scope, node: ast.Call) -> str | None:
    return scope.label(node.args[0]) if len(node.args) == 1 and not node.keywords else None


def _abs(scope: _Scope, node: ast.Call) -> str | None:
    inner = _same_as_first(scope, node)
    return "int" if inner == "bool" else inner


def _round(scope: _Scope, node: ast.Call) -> str | None:
    if len(node.args) == 1:
        return "int" if scope.label(node.args[0]) in _NUMERIC_RANK else None
    return _numeric(scope.label(node.args[0])) if node.args else None


def _min_max(scope: _Scope, node: ast.Call) -> str | None:
    if len(node.args) < 2 or node.keywords:  # noqa: PLR2004 - min(xs) of one iterable: not told
        return None
    found = [scope.label(a) for a in node.args]
    if agreed(found) in _NUMERIC_RANK:
        return found[0]
    return None  # min(1, 2.0) is one of them: int or float, not told


def _list_call(scope: _Scope, node: ast.Call) -> str | None:
    if len(node.args) != 1:
        return None
    if _element(scope, _Element(node.args[0])) == "int" and isinstance(node.args[0], ast.Call):
        return "list[int]"  # list(range(n))
    inner = scope.label(node.args[0])
    return inner if inner is not None and inner.startswith("list[") else None


def _const(label: str) -> Callable[[_Scope, ast.Call], str | None]:
    return lambda _scope, _node: label


_BUILTINS: dict[str, Callable[[_Scope, ast.Call], str | None]] = {
    "int": _const("int"),
    "float": _const("float"),
    "bool": _const("bool"),
    "str": _const("str"),
    "len": _const("int"),
    "abs": _abs,
    "round": _round,
    "min": _min_max,
    "max": _min_max,
    "list": _list_call,
    "tuple": _const("tuple"),
}


def _np_reduction(scope: _Scope, node: ast.Call) -> str | None:
    """np.sum(a), np.mean(a)... of a whole array: one number."""
    base = scope.label(node.args[0]) if len(node.args) == 1 and not node.keywords else None
    if not _is_array(base):
        return None
    name = getattr(node.func, "attr", getattr(node.func, "id", ""))
    return "float" if name in {"mean", "std", "var"} else _indexed_array(_split_array(base)[0], 0)


def _np_eye(scope: _Scope, node: ast.Call) -> str | None:
    given = _keyword(node, "dtype")
    return _array("float64" if given is None else _dtype(scope, given), 2)


_MODULE_CALLS: dict[str, Callable[[_Scope, ast.Call], str | None]] = {
    "numpy.zeros": _np_filled("float64"),
    "numpy.ones": _np_filled("float64"),
    "numpy.empty": _np_filled("float64"),
    "numpy.full": _np_filled("fill"),
    "numpy.zeros_like": _np_like,
    "numpy.ones_like": _np_like,
    "numpy.empty_like": _np_like,
    "numpy.copy": _np_like,
    "numpy.arange": _np_arange,
    "numpy.linspace": _np_linspace,
    "numpy.array": _np_array,
    "numpy.asarray": _np_array,
    "numpy.random.rand": _np_random,
    "numpy.random.randn": _np_random,
    "numpy.random.random": _np_random_sized,
    "numpy.random.random_sample": _np_random_sized,
    "numpy.random.uniform": _np_random_sized,
    "numpy.random.normal": _np_random_sized,
    "numpy.random.standard_normal": _np_random_sized,
    "numpy.random.exponential": _np_random_sized,
    "numpy.random.randint": _np_random_sized,
    "numpy.random.default_rng": _const(_GENERATOR),
    "numpy.eye": _np_eye,
    "numpy.identity": _np_eye,
    **{f"numpy.{f}": _np_reduction for f in ("sum", "mean", "min", "max", "std", "var")},
    **{f"random.{f}": _const("float") for f in ("random", "uniform", "gauss", "normalvariate", "expovariate")},
    **{f"random.{f}": _const("int") for f in ("randint", "randrange", "getrandbits")},
    **{f"time.{f}": _const("float") for f in ("time", "perf_counter", "monotonic", "process_time")},
    **{f"time.{f}": _const("int") for f in ("time_ns", "perf_counter_ns", "monotonic_ns")},
    **{f"numpy.{f}": _np_ufunc for f in ("sqrt", "exp", "log", "sin", "cos", "tan", "tanh", "log1p", "expm1")},
}

_RULES: dict[type, Callable] = {
    ast.Constant: _constant,
    ast.Name: _name,
    ast.BinOp: _binop,
    ast.UnaryOp: _unaryop,
    ast.Compare: _compare,
    ast.BoolOp: _boolop,
    ast.IfExp: _ifexp,
    ast.Tuple: _tuple,
    ast.List: _list,
    ast.Dict: _dict,
    ast.ListComp: _listcomp,
    ast.Subscript: _subscript,
    ast.Attribute: _attribute,
    ast.Call: _call,
    _Element: _element,
}
