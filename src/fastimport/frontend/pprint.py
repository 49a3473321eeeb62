"""A readable dump of the IR (FASTIMPORT_DEBUG=2 and golden tests).

    block0:
      %0 = param 0 : int
      store n <- %0
      ...

`format_func` prints the signature (with the specialization's types) above the blocks, one op a line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastimport.frontend.ir import (
    ArrayAttr,
    Binary,
    Branch,
    Builtin,
    Call,
    CheckSignals,
    Compare,
    Const,
    Deopt,
    DtypeQuery,
    FrameCheck,
    FuncIR,
    Goto,
    GuardBound,
    Index,
    ListAppend,
    LoadGlobal,
    LoadLocal,
    LogStores,
    LoopChunk,
    LoopGuard,
    MakeTuple,
    MathCall,
    NewArray,
    NewList,
    NoteFinite,
    NumpyCall,
    Op,
    OpVisitor,
    Param,
    PyCall,
    Reenter,
    Return,
    Select,
    SetIndex,
    Speculated,
    StoreLocal,
    Truth,
    Unary,
    Value,
)

if TYPE_CHECKING:
    from fastimport.frontend.ir import Access, RangeLoop


def format_func(fn: FuncIR) -> str:
    """The whole function: signature line, then each block with its ops."""
    printer = _Printer()
    args = ", ".join(f"{p.name}: {t}" for p, t in zip(fn.params, fn.arg_types, strict=False))
    mirrored = f"  # mirrored: {', '.join(fn.params[k].name for k in fn.mirrored)}" if fn.mirrored else ""
    counters = f"  # counters: {', '.join(fn.counters)}" if fn.counters else ""
    lines = [f"def {fn.name}({args}) -> {fn.ret_type}:{mirrored}{counters}"]
    for block in fn.blocks:
        lines.append(f"  block{block.label}:" + (" (vector body)" if block.vector_body else ""))
        lines.extend(f"    {printer.line(op)}" for op in block.ops)
    return "\n".join(lines)


class _Printer(OpVisitor[str]):
    def __init__(self) -> None:
        self.names: dict[Value, str] = {}

    def name(self, v: Value) -> str:
        if v not in self.names:
            self.names[v] = f"%{len(self.names)}"
        return self.names[v]

    def line(self, op: Op) -> str:
        text = op.accept(self)
        if op.type is not None and not isinstance(op, (StoreLocal, Return, Goto, Branch, Deopt)):
            return f"{self.name(op)} = {text} : {op.type}"
        return text

    def args(self, values: list[Value]) -> str:
        return ", ".join(self.name(v) for v in values)

    def visit_const(self, op: Const) -> str:
        return f"const {op.value!r}"

    def visit_param(self, op: Param) -> str:
        return f"param {op.index}"

    def visit_load_local(self, op: LoadLocal) -> str:
        return f"load {op.local.name}" + ("" if op.check_bound else " (unchecked)")

    def visit_store_local(self, op: StoreLocal) -> str:
        return f"store {op.local.name} <- {self.name(op.src)}"

    def visit_load_global(self, op: LoadGlobal) -> str:
        return f"global {op.ref.namespace}.{op.ref.name}"

    def visit_unary(self, op: Unary) -> str:
        return f"{op.kind} {self.name(op.src)}"

    def visit_binary(self, op: Binary) -> str:
        flags = " (no overflow)" if op.no_overflow else ""
        flags += " (bounded)" if op.bounded else " (strip checked)" if op.strip_checked else ""
        flags += " (invariant divisor)" if op.invariant_divisor else ""
        flags += " (speculative)" if op.speculative else ""
        if op.defer_events:
            flags += " (events absorbed)" if op.events_absorbed else " (events deferred)"
        return f"{op.kind} {self.name(op.lhs)}, {self.name(op.rhs)}{flags}"

    def visit_compare(self, op: Compare) -> str:
        return f"cmp {op.kind} {self.name(op.lhs)}, {self.name(op.rhs)}"

    def visit_truth(self, op: Truth) -> str:
        return f"truth {self.name(op.src)}"

    def visit_select(self, op: Select) -> str:
        return f"select {self.name(op.cond)}, {self.name(op.if_true)}, {self.name(op.if_false)}"

    def visit_speculated(self, op: Speculated) -> str:
        return f"speculated overflow {self.args(op.ops)}"

    def visit_builtin(self, op: Builtin) -> str:
        return f"builtin {op.name}({self.args(op.args)})"

    def visit_math_call(self, op: MathCall) -> str:
        return f"math.{op.name}({self.args(op.args)})"

    def visit_py_call(self, op: PyCall) -> str:
        return f"pycall {op.ref.namespace}.{op.ref.name}({self.args(op.args)})"

    def visit_call(self, op: Call) -> str:
        return f"call {op.callee}({self.args(op.args)})"

    def visit_index(self, op: Index) -> str:
        return f"index {self.name(op.base)}[{self.args(op.indices)}]" + ("" if op.checked else " (in bounds)")

    def visit_set_index(self, op: SetIndex) -> str:
        # Unchecked (a versioned loop's copy): not logged because fresh, or logged per strip.
        unlogged = " (fresh: not logged)" if op.checked else " (not logged) (in bounds)"
        notes = ("" if op.logged else unlogged) + ("" if op.checked or not op.logged else " (in bounds)")
        return f"set_index {self.name(op.base)}[{self.args(op.indices)}] = {self.name(op.value)}{notes}"

    def visit_new_array(self, op: NewArray) -> str:
        parts = [self.name(v) for v in op.shape]
        shape = f"({', '.join(parts)})" if op.tuple_shape else ", ".join(parts)
        if op.shape_of is not None:
            shape = f"{self.name(op.shape_of)}.shape"
        if op.like is not None:
            shape = self.name(op.like)
        fill = f", {self.name(op.fill)}" if op.fill is not None else ""
        dtype = f", dtype={op.dtype_given}" if op.dtype_given is not None else ""
        return f"numpy.{op.ref.name}({shape}{fill}{dtype})"

    def visit_make_tuple(self, op: MakeTuple) -> str:
        return f"tuple ({self.args(op.items)}{',' if len(op.items) == 1 else ''})"

    def visit_new_list(self, op: NewList) -> str:
        repeat = f" * {self.name(op.repeat)}" if op.repeat is not None else ""
        return f"list [{self.args(op.items)}]{repeat}"

    def visit_list_append(self, op: ListAppend) -> str:
        unlogged = "" if op.logged else " (fresh: not logged)"
        return f"append {self.name(op.lst)}, {self.name(op.value)}{unlogged}"

    def visit_array_attr(self, op: ArrayAttr) -> str:
        axis = f"[{op.axis}]" if op.kind == "shape" else ""
        return f"{op.kind}{axis} {self.name(op.base)}"

    def visit_numpy_call(self, op: NumpyCall) -> str:
        if op.kind == NumpyCall.FUNCTION:
            return f"numpy.{op.name}({self.args(op.args)})"
        if op.kind == NumpyCall.METHOD:
            return f"{self.name(op.args[0])}.{op.name}({self.args(op.args[1:])})"
        return f"numpy {op.name} {self.args(op.args)}"

    def visit_dtype_query(self, op: DtypeQuery) -> str:
        attrs = "".join(f".{a}" for a in op.attrs)
        text = f"dtype {self.name(op.base)}{attrs}"
        if op.compare is not None:
            other = op.other if op.other_value is None else f"dtype {self.name(op.other_value)}"
            text += f" {op.compare} {other!s}" + "".join(f".{a}" for a in op.other_attrs)
        return text if op.value is None else f"{text} -> {op.value!r}"

    def visit_frame_check(self, op: FrameCheck) -> str:
        return f"frame_check {op.level}"

    def visit_reenter(self, _op: Reenter) -> str:
        return "reenter"

    def visit_check_signals(self, _op: CheckSignals) -> str:
        return "check_signals"

    def range_loop(self, loop: RangeLoop) -> str:
        return f"range({self.name(loop.start)}, {self.name(loop.stop)}, {self.step(loop.step)})"

    def step(self, step: int | Value) -> str:
        return str(step) if isinstance(step, int) else self.name(step)

    def access(self, access: Access) -> str:
        def axis(coef: int, terms: list) -> str:
            parts = {1: ["i"], -1: ["-i"], 0: []}[coef]
            parts += [("+" if t.sign > 0 else "-") + self.name(t.value) for t in terms]
            return "".join(parts).lstrip("+") or "0"

        return f"{self.name(access.array)}[{', '.join(axis(a.coef, a.terms) for a in access.axes)}]"

    def visit_loop_guard(self, op: LoopGuard) -> str:
        events = " (checks deferred)" if op.defers_checks else ""
        return f"loop_guard {self.range_loop(op.loop)}: {', '.join(self.access(a) for a in op.accesses)}{events}"

    def visit_guard_bound(self, op: GuardBound) -> str:
        return f"guard_bound {op.which} of {self.name(op.guard)}"

    def visit_log_stores(self, op: LogStores) -> str:
        return f"log_stores {self.range_loop(op.loop)}: {', '.join(self.access(a) for a in op.stores)}"

    def visit_loop_chunk(self, op: LoopChunk) -> str:
        bounded = f" bounding {', '.join(self.name(v) for v in op.accumulators)}" if op.accumulators else ""
        strip = f"{self.name(op.cur)}, {self.name(op.stop)}, {self.step(op.step)}"
        return f"loop_chunk from {self.name(op.start)}: {strip}{bounded}"

    def visit_note_finite(self, op: NoteFinite) -> str:
        return f"note_finite {', '.join(self.name(v) for v in op.values)}"

    def visit_goto(self, op: Goto) -> str:
        return f"goto block{op.target.label}"

    def visit_branch(self, op: Branch) -> str:
        return f"branch {self.name(op.cond)} block{op.true.label} block{op.false.label}"

    def visit_return(self, op: Return) -> str:
        return "return" if op.value is None else f"return {self.name(op.value)}"

    def visit_deopt(self, op: Deopt) -> str:
        return f"deopt ({op.reason})"
