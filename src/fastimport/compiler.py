"""The pipeline: one specialization of a Python function -> a native entry point.

    source AST --lower--> IR --infer_types--> typed IR --emit--> LLVM IR --jit--> entry

A unit holds the requested specialization plus, transitively, a
specialization of every same-module function it calls (recursion included),
so each unit is self-contained: its entry point checks every global any of
its kernels reads.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import math
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastimport.config import reassociates
from fastimport.frontend.cfg import reaches, remove_unreachable_blocks
from fastimport.frontend.counters import mark_counters
from fastimport.frontend.divisors import mark_invariant_divisors
from fastimport.frontend.errors import Unsupported
from fastimport.frontend.fresh import check_no_view_returned, mark_logged_stores
from fastimport.frontend.ifconvert import if_convert
from fastimport.frontend.infer import infer_types
from fastimport.frontend.inline import all_loads_bound, inline_calls
from fastimport.frontend.ir import (
    Call,
    CheckSignals,
    FrameCheck,
    FuncIR,
    GlobalRef,
    LoadGlobal,
    LoopGuard,
    Op,
    Reenter,
    StoreLocal,
    Terminator,
)
from fastimport.frontend.lower_statements import lower_function
from fastimport.frontend.mirror import mark_mirrored
from fastimport.frontend.pprint import format_func
from fastimport.frontend.resolve import Resolver
from fastimport.frontend.tailcalls import jump_self_tail_calls
from fastimport.frontend.types import Array, Ty, signature_str
from fastimport.frontend.versioning import version_range_loops
from fastimport.runtime.debug import dump
from fastimport.runtime.dispatch import FunctionState, state_of
from fastimport.runtime.funcobject import layout, make_builtin, object_layout_ok
from fastimport.runtime.native import (
    CompiledEntry,
    DataBlock,
    Namespaces,
    builtins_of,
    fill_unit_vectorcall,
    world_table,
)
from fastimport.runtime.registry import add_setup_ms

if TYPE_CHECKING:
    import types

MAX_INFERENCE_ROUNDS = 100
# Callees up to this many IR ops are inlined (LLVM's own inliner would weigh ~225 LLVM
# instructions; one of our ops is one to a few of those).
INLINE_MAX_OPS = 120
_unit_ids = itertools.count()


@dataclass(eq=False)
class Spec:
    """One specialization in a unit: the function, its state and its IR."""

    state: FunctionState
    func: types.FunctionType
    ir: FuncIR


def compile_specialization(
    root: FunctionState,
    func: types.FunctionType,
    arg_types: tuple[Ty, ...],
    prev: CompiledEntry | None,
    *,
    own_vectorcall: bool = False,
) -> CompiledEntry:
    """Compile `func` for `arg_types`; raises Unsupported if it is outside the subset.

    `own_vectorcall`: a leaf unit gets a vectorcall of its own (see `emit_unit`).
    """
    t0 = time.perf_counter()
    unit = emit_unit(root, func, arg_types, own_vectorcall=own_vectorcall)
    t_front = time.perf_counter()
    from fastimport.backend.emit import global_slot_name
    from fastimport.backend.entry import code_way, shape_module_loaded
    from fastimport.backend.jit import jit

    shape = shape_module_loaded(unit.shape)
    module, objects, refs, root_spec = unit.module, unit.objects, unit.refs, unit.root

    # 5. optimize and link; fill in the object table, the world table and the data block
    engine = jit()
    engine.load(module, vectorize=unit.vectorize)
    for name, obj in zip(objects.names, objects.objects, strict=True):
        engine.set_pointer(name, id(obj))
    names = Namespaces(func.__globals__, builtins_of(func), module_namespaces([root_spec, *unit.callees]))
    world = world_table(refs, names, lambda ref: engine.global_address(global_slot_name(module, ref)))
    data = DataBlock(
        kernel=engine.address(root_spec.ir.symbol),
        world=ctypes.addressof(world) if refs else None,
        world_count=len(refs),
        handler=id(root),
        nests=unit.nests,
        log_free=unit.log_free,
        prev_core=prev.core_address if prev is not None else None,
        prev_data=ctypes.addressof(prev.data) if prev is not None else None,
    )
    # The shared entry code finds `data` as the builtin's `self`, or through co_extra (see dispatch._install).
    function, method = make_builtin(func.__name__, engine.address(shape.fastcall), data)
    vectorcall = engine.address(shape.vectorcall) if code_way() is not None else 0
    own, code_slot = 0, 0  # the unit's own vectorcall, if it has one (bind_vectorcall fills its code slot)
    if unit.vectorcall is not None:
        own, code_slot = fill_unit_vectorcall(engine.global_address, root_spec.ir.symbol, data, vectorcall)
    t_end = time.perf_counter()
    front_ms, llvm_ms = 1000 * (t_front - t0), 1000 * (t_end - t_front)
    dump("timing", f"{root_spec.ir.symbol}: front end and IR {front_ms:.1f} ms, LLVM {llvm_ms:.1f} ms")
    unit_object = engine.take_object(module.name)
    if unit_object is not None:
        _keep_artifact(unit, unit_object, engine)
    return CompiledEntry(
        function=function,
        ret_type=root_spec.ir.ret_type,  # type: ignore[arg-type]
        symbol=root_spec.ir.symbol,
        data=data,
        core_address=engine.address(shape.core),
        vectorcall_address=own or vectorcall,
        code_slot=code_slot,
        args=arg_types,
        leaf=unit.leaf,
        keepalive=[method, objects.objects, world, names, refs],
    )


@dataclass
class EmittedUnit:
    """A unit's LLVM module, before any code generation: what the JIT links or `fastimport compile` ships."""

    module: Any  # llvmlite.ir.Module
    objects: Any  # backend.objects.ObjectTable
    refs: list[GlobalRef]
    root: Spec
    callees: list[Spec]  # every other specialization of the unit (inlined ones too: for the report)
    shape: Any  # backend.entry.Shape
    vectorize: bool
    nests: bool
    log_free: bool  # no kernel of the unit uses the undo log: the entry may run it without one
    leaf: bool  # log-free, no loop, no call, numbers in and out: it may have a vectorcall of its own
    vectorcall: str | None = None  # the unit's own vectorcall (backend/entry.py: emit_unit_vectorcall)


def emit_unit(
    root: FunctionState, func: types.FunctionType, arg_types: tuple[Ty, ...], *, own_vectorcall: bool = False
) -> EmittedUnit:
    """Steps 1-4: the typed IR of `func` and its callees, as one LLVM module (Unsupported if outside the subset).

    A *leaf* unit (log-free, no loop, no call, numbers in and a number or None out) may
    have a vectorcall of its own, with the kernel inlined (backend/entry.py
    `emit_unit_vectorcall`): asked for by `own_vectorcall`. It saves a few ns a call and
    costs ~6 ms of LLVM (the vectorcall's code, and the kernel's again), so a unit is
    compiled without it first and again with it once it is called often
    (runtime/dispatch.py `tier_up`); `fastimport compile` makes it at once.
    """
    if not object_layout_ok():
        raise Unsupported(root.node, "this CPython build's object layout (free-threaded or debug) is not supported")
    unit = next(_unit_ids)
    # 1-3. typed IR for the root and every function it calls natively
    every, root_spec = front_end(root, func, arg_types, unit)
    for spec in every:
        if spec is not root_spec:
            spec.state.note_native_callee(signature_str(spec.ir.arg_types, spec.ir.ret_type))
    specs = live_specs(root_spec)  # without the callees copied into every caller

    # 4. emit LLVM: the kernels (the entry code shared by this shape finds them through the data block)
    imports_start = time.perf_counter()
    from llvmlite import ir

    from fastimport.backend.emit import emit_kernel, kernel_type
    from fastimport.backend.entry import Shape, emit_unit_vectorcall, has_lite_path
    from fastimport.backend.objects import ObjectTable

    add_setup_ms((time.perf_counter() - imports_start) * 1000)  # importing llvmlite: once per process
    module = ir.Module(name=f"fi_unit_{unit}")
    kernels: dict[Spec, ir.Function] = {}
    # The vectorizer costs compile time; it pays off only in versioned loops over arrays. Such
    # a unit goes through LLVM's whole O2, whose inliner decides; any other is inlined by us.
    vectorize = any(isinstance(op, LoopGuard) for spec in specs for op in spec.ir.all_ops())
    graph = CallGraph(specs)
    graph.mark_recursive()
    inlined = set() if vectorize else _inlined_callees(graph, root_spec)
    for spec in specs:
        kernel = ir.Function(module, kernel_type(spec.ir), spec.ir.symbol)
        if spec is not root_spec:
            kernel.linkage = "internal"  # the root's address goes into the data block
        if spec in inlined:
            kernel.attributes.add("alwaysinline")
        kernels[spec] = kernel
    objects = ObjectTable(module, prefix=module.name)
    touches_log = {spec: emit_kernel(module, spec.ir, kernels[spec], kernels.__getitem__, objects) for spec in specs}
    log_free = not any(touches_log[spec] for spec in specs)
    nests = any(isinstance(op, (Call, FrameCheck, Reenter)) for spec in specs for op in spec.ir.all_ops())
    shape = Shape(arg_types, root_spec.ir.ret_type)  # type: ignore[arg-type]
    refs = _unit_globals(specs)
    vectorcall = None
    leaf = log_free and not nests and not any(isinstance(op, CheckSignals) for op in root_spec.ir.all_ops())
    leaf = leaf and has_lite_path(shape)
    if leaf and own_vectorcall:
        vectorcall = emit_unit_vectorcall(module, shape, objects, kernels[root_spec], world=bool(refs))
        if vectorcall is not None:
            kernels[root_spec].attributes.add("alwaysinline")  # (into the vectorcall; the data block keeps its own)
    if layout() is None and any(ref.kind == "defaults" for ref in refs):
        raise Unsupported(root.node, "default arguments on a CPython whose function layout is unknown")
    dump(f"LLVM {root_spec.ir.symbol}", module.__str__)  # formatted only under FASTIMPORT_DEBUG=2
    return EmittedUnit(
        module=module,
        objects=objects,
        refs=refs,
        root=root_spec,
        callees=[s for s in every if s is not root_spec],
        shape=shape,
        vectorize=vectorize,
        nests=nests,
        log_free=log_free,
        leaf=leaf,
        vectorcall=vectorcall,
    )


def unit_record(unit: EmittedUnit) -> dict[str, Any]:
    """The unit's entry in its artifact's `meta` (runtime/artifacts.py); Unloadable if it cannot be kept."""
    from fastimport.backend.emit import global_slot_name
    from fastimport.runtime import artifacts

    root = unit.root
    return artifacts.describe_unit(
        root.state,
        root.ir.arg_types,
        root.ir.ret_type,  # type: ignore[arg-type]
        root.ir.symbol,
        shape=unit.shape.name,
        nests=unit.nests,
        log_free=unit.log_free,
        leaf=unit.leaf,
        reassociate=unit.root.ir.reassociate,
        objects=list(zip(unit.objects.names, unit.objects.objects, strict=True)),
        refs=unit.refs,
        slots={k: global_slot_name(unit.module, ref) for k, ref in enumerate(unit.refs) if ref.kind == "value"},
        callees=[(s.state.node.name, signature_str(s.ir.arg_types, s.ir.ret_type)) for s in unit.callees],
        uses_numpy=any(_is_numpy(op.type) for spec in (root, *unit.callees) for op in spec.ir.all_ops())
        or any(_is_numpy(t) for t in root.ir.arg_types),
    )


def _keep_artifact(unit: EmittedUnit, unit_object: bytes, engine: Any) -> None:  # noqa: ANN401
    """Save the unit into its module's .pym (runtime/artifacts.py), unless caching is off; never raises."""
    from fastimport.runtime import artifacts
    from fastimport.runtime.debug import internal_error, log

    state = unit.root.state
    if artifacts.artifact_path(state) is None:
        return
    shared = ["runtime", f"shape:{unit.shape.name}"]
    try:
        record = unit_record(unit)
        sections = {"unit": unit_object, **{name: engine.objects[_module_of(name)] for name in shared}}
        artifacts.save(state, record, sections, artifacts.shared_tables(shared))
    except artifacts.Unloadable as e:
        log(f"{state.module}.{state.node.name}: not cached ({e})")
    except Exception as e:  # noqa: BLE001 - contract: caching never breaks the program
        internal_error(f"saving {state.module}.{state.node.name} to the cache", e)


def _module_of(section: str) -> str:
    """The LLVM module whose object code a shared section holds."""
    return "fi_runtime" if section == "runtime" else "fi_shape_" + section.removeprefix("shape:")


def _is_numpy(t: object) -> bool:
    return isinstance(t, Array) or (isinstance(t, Ty) and t.is_numpy)


def front_end(
    root: FunctionState, func: types.FunctionType, arg_types: tuple[Ty, ...], unit: int = 0
) -> tuple[list[Spec], Spec]:
    """Steps 1-3: lower, infer and check; returns every specialization of the unit and the root's.

    Raises Unsupported if anything is outside the subset. (Also what the golden IR
    tests print, through `frontend.pprint.format_func`.)
    """
    specs: dict[tuple[FunctionState, tuple[Ty, ...]], Spec] = {}
    reassociate = reassociates()  # ([tool.fastimport] reassociate: the user's opt-in)

    def spec_for(state: FunctionState, fn: types.FunctionType, types_: tuple[Ty, ...]) -> Spec:
        key = (state, types_)
        if key not in specs:
            ir_fn = lower_function(state.node, state.module, types_, _resolver(fn, func))
            remove_unreachable_blocks(ir_fn)
            ir_fn.symbol = f"fi_{_mangle(state.module)}_{state.node.name}_{unit}_{len(specs)}"
            ir_fn.reassociate = reassociate
            specs[key] = Spec(state, fn, ir_fn)
        return specs[key]

    def resolve_call(caller: Spec, name: str, types_: tuple[Ty, ...], _op: Op) -> tuple[object, Ty | None]:
        callee = caller.func.__globals__[name]  # the name as the caller's module binds it
        state = state_of(callee)
        if state is None:  # the resolver admitted it as a compiled function
            raise AssertionError(name)
        spec = spec_for(state, callee, types_)  # type: ignore[arg-type]
        return spec, spec.ir.ret_type

    # 1. lower the root; callees are lowered as inference discovers their argument types
    root_spec = spec_for(root, func, arg_types)
    # 2. infer types over all specializations to a fixpoint (recursion converges through joins)
    for _ in range(MAX_INFERENCE_ROUNDS):
        changed = False
        for spec in list(specs.values()):
            changed |= infer_types(spec.ir, functools.partial(resolve_call, spec))
        if not changed:
            break
    # 3. every value must have a type now
    for spec in specs.values():
        _check_typed(spec)
        check_no_view_returned(spec.ir)
    # 4. small callees copied into their callers, before the loops are versioned
    _inline_small_callees(list(specs.values()))
    for spec in specs.values():
        jump_self_tail_calls(spec.ir, spec)  # after inlining: a function that loops is not copied
        mark_logged_stores(spec.ir)
        mark_invariant_divisors(spec.ir)  # after inlining: an inlined helper's `%` is in the caller's loop
        # after inference (index types, array layouts) and the store marks (which the copy keeps)
        version_range_loops(spec.ir)
        mark_counters(spec.ir)  # after versioning: a versioned copy's loop counts in strips, and is left alone
        if_convert(spec.ir)  # after the counters: a counter's step is exact already, not speculative
        mark_mirrored(spec.ir)  # after versioning: it sees every op the function ends with
        dump(f"IR {spec.ir.symbol}", lambda fn=spec.ir: format_func(fn))
    return list(specs.values()), root_spec


def _resolver(fn: types.FunctionType, root: types.FunctionType) -> Resolver:
    """Name resolution in `fn`'s own module: its globals are "globals" if it shares the root's, else "module:<name>"."""
    label = "globals" if fn.__globals__ is root.__globals__ else f"module:{fn.__module__}"
    return Resolver(fn.__globals__, builtins_of(fn), lambda obj: state_of(obj) is not None, label)


def module_namespaces(specs: Any) -> dict[str, dict[str, Any]]:  # noqa: ANN401
    """The dicts behind "module:<name>" namespaces: math, numpy, and each callee's module of another module."""
    modules = {"math": vars(math)}
    if "numpy" in sys.modules:
        modules["numpy"] = vars(sys.modules["numpy"])
    root = specs[0].func
    for spec in specs:
        if spec.func.__globals__ is not root.__globals__:
            modules[spec.func.__module__] = spec.func.__globals__
    return modules


def _inline_small_callees(specs: list[Spec]) -> None:
    """Copy each call of a small function without loops or recursion into its caller (frontend/inline.py).

    Loop-free only: the helpers worth copying are the ones called inside a loop, whose
    arithmetic the caller's loop versioning can then see (`eval_a` in spectral_norm).
    Measured: also copying functions with loops (`mult_av` into `mult_atav`, both into
    `spectral_norm`) doubled spectral_norm's compile time (169 -> 323 ms) for no speed.
    """
    graph = CallGraph(specs)
    copyable = {
        spec
        for spec in specs
        if sum(len(b.ops) for b in spec.ir.blocks) <= INLINE_MAX_OPS
        and not any(isinstance(op, CheckSignals) for op in spec.ir.all_ops())  # every loop header has one
        and not graph.reaches(spec, spec)
        and all_loads_bound(spec.ir)
    }
    for spec in specs:
        inline_calls(spec.ir, lambda call: call.target.ir if call.target in copyable else None)  # type: ignore[attr-defined]


def live_specs(root: Spec) -> list[Spec]:
    """The root and every specialization its IR still calls (directly or not): the ones to emit."""
    live, todo = [root], [root]
    while todo:
        for op in todo.pop().ir.all_ops():
            if isinstance(op, Call) and op.target not in live:
                live.append(op.target)  # type: ignore[arg-type]
                todo.append(op.target)  # type: ignore[arg-type]
    return live


class CallGraph:
    """Which specializations of a unit call which, natively."""

    def __init__(self, specs: list[Spec]) -> None:
        self.calls = {spec: {op.target for op in spec.ir.all_ops() if isinstance(op, Call)} for spec in specs}

    def reaches(self, start: Spec, goal: Spec) -> bool:
        """True if `start` calls `goal`, directly or through others."""
        return reaches(self.calls[start], goal, lambda spec: self.calls.get(spec, ()))

    def mark_recursive(self) -> None:
        """Set each specialization's `recursive`: True if it can call itself, directly or not."""
        for spec in self.calls:
            spec.ir.recursive = self.reaches(spec, spec)


def _inlined_callees(graph: CallGraph, root: Spec) -> set[Spec]:
    """The callees LLVM inlines into their callers (backend/jit.py runs no cost-model inliner).

    Small ones only (INLINE_MAX_OPS), and none on a cycle of the unit's call graph
    (recursion stays a call).
    """
    return {
        spec
        for spec in graph.calls
        if spec is not root and sum(1 for _ in spec.ir.all_ops()) <= INLINE_MAX_OPS and not graph.reaches(spec, spec)
    }


def _check_typed(spec: Spec) -> None:
    fn = spec.ir
    if fn.ret_type is None:
        raise Unsupported(spec.state.node, "return type cannot be inferred (does it ever return?)")
    if any(isinstance(t, Array) for t in (fn.ret_type, *fn.arg_types, *(op.type for op in fn.all_ops()))):
        from fastimport.runtime.ndarray import layout

        if layout() is None:
            raise Unsupported(spec.state.node, "ndarrays on a NumPy whose array layout is unknown")
    for op in fn.all_ops():
        if isinstance(op, (StoreLocal, CheckSignals, Terminator)):
            continue
        if op.type is None:
            raise Unsupported(_At(op), "expression type cannot be inferred")
        if isinstance(op, Call) and op.target is None:
            raise Unsupported(_At(op), f"call of '{op.callee}'")


def _unit_globals(specs: Any) -> list[GlobalRef]:  # noqa: ANN401
    refs: dict[tuple[str, str], GlobalRef] = {}
    read: set[tuple[str, str]] = set()  # value globals a live op reads (each has a slot in the module)
    for spec in specs:
        for key, ref in spec.ir.globals.items():
            known = refs.setdefault(key, ref)
            if known.type is None:
                known.type = ref.type
        read.update((op.ref.namespace, op.ref.name) for op in spec.ir.all_ops() if isinstance(op, LoadGlobal))
    # A value global read only in dead code (typed by inference, then dropped with its block)
    # has no slot to unbox into: it is not part of the world.
    return [ref for key, ref in refs.items() if ref.kind != "value" or (ref.type is not None and key in read)]


def _mangle(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


class _At:
    def __init__(self, op: Op) -> None:
        self.lineno = op.line
        self.col_offset = op.col
