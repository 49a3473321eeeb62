"""Mirrored list parameters: their floats unboxed for the call (frontend/mirror.py).

A mixin of FunctionEmitter, before ListOps. In a function whose `fn.mirrored` is set,
the `list[list[float]]` value is the mirror itself and every `list[float]` value the
record of one list (a parameter, or a row of the list of lists: the front end made
sure), so the type says which is which.

    mirror = {list outer (or null), i64 n, row first, i64 mask, i64 last, i64 gap,
              row rows[n], row table[mask + 1]}
    row    = {list list, i64 len, row next, i64 bytes, double data[len], i8 dirty[len]}

    entry               fi_mirror_new: the mirror (no memory: deopt); fi_mirror_adopt for
                        each list[float] parameter: its floats copied (an item not a
                        float: deopt). One list object has one record however it is
                        reached: `table` is keyed by the list.
    bodies[i]           rows[i]; the first time, fi_mirror_row: the row adopted
    row[k], row[k] = v  data[k]; a store also sets dirty[k]
    len(...)            n, len (no list changes size while mirrored)
    return, exception   fi_mirror_flush: each dirty slot written back into its list, the
                        float object reused in place when only the list holds it (as
                        listemit.py does); the list is snapshotted first, for a deopt of a
                        caller, unless this is the entry point's own kernel
                        (`MirrorOps._surely_root`)
    signal checkpoint   fi_mirror_checkpoint, when `gap` ticks passed since `last`: flush
                        (other threads and signal handlers see the lists as CPython
                        would have left them), fi_checkpoint, then fi_mirror_reload reads
                        every list again and deopts if one changed its shape or holds
                        another type; `gap` becomes 32x what that cost
    deopt, retry        the mirror is dropped: the lists were not changed (or were
                        snapshotted at a checkpoint's flush, and the rollback puts them back)

The helpers are defined once per module, internal and never inlined: they run once per
list per call, not per access. Freed records are kept for the module's next calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from fastimport.backend.callscope import runtime_function
from fastimport.backend.capi import F64, I1, I8, I32, I64, PTR, declare, intrinsic
from fastimport.backend.listemit import (
    FLOAT_VALUE_OFFSET,
    LIST_ITEMS_OFFSET,
    LIST_SIZE_OFFSET,
    REFCNT_OFFSET,
    TYPE_OFFSET,
    tag_access,
)
from fastimport.frontend.mirror import ROW, ROWS

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastimport.frontend.ir import ArrayAttr, Index, SetIndex

# The mirror's fields (byte offsets).
M_OUTER, M_N, M_FIRST, M_MASK, M_LAST, M_GAP, M_ROWS = 0, 8, 16, 24, 32, 40, 48
# The fewest cycle-counter ticks between two checkpoints of a mirrored call (`_define_checkpoint`):
# ~0.35 ms of a 3 GHz x86 time-stamp counter, ~0.7 ms of a 24 MHz counter elsewhere.
MIN_GAP = {"x86_64": 1 << 20}
OTHER_MIN_GAP = 1 << 14
# ... and the most: ~0.35 s of a 3 GHz x86 counter, ~0.7 s of a 24 MHz one, so that Ctrl-C and
# other threads never wait longer, whatever the lists (ten million floats would ask for ~3 s;
# at the cap their checkpoints cost ~10% of the call instead of ~3%).
MAX_GAP = {"x86_64": 1 << 30}
OTHER_MAX_GAP = 1 << 24
GAP_PER_COST = 32  # checkpoints at most ~3% of a mirrored call's time
# What a checkpoint is expected to cost per float mirrored, in counter ticks, until one was
# measured: the first write-back snapshots the list and boxes every changed float (~10 ns
# each), the reading after it ~2 ns a float. The gap grows by GAP_PER_COST times this for
# every list read in (`_define_adopt`).
FLOAT_TICKS = {"x86_64": 32}
OTHER_FLOAT_TICKS = 1
# A row's fields.
R_LIST, R_LEN, R_NEXT, R_BYTES, R_DATA = 0, 8, 16, 24, 32
# Freed rows kept for the next calls, up to this many bytes in all (per compiled module):
# a fresh buffer of a large list comes from new pages, and faulting them in cost more
# than reading the list (`smooth(xs, out)` of 100,000 floats: 1.15 -> 0.45 ms).
SPARE_BYTES = 8 << 20
NULL = ir.Constant(PTR, None)
ZERO, ONE = ir.Constant(I64, 0), ir.Constant(I64, 1)

NEW = ir.FunctionType(PTR, [PTR, I64])  # (outer list or null, lists adopted besides its rows) -> mirror or null
ROW_OF = ir.FunctionType(PTR, [PTR, I64, PTR, PTR])  # (mirror, i, list type, float type) -> row or null
ADOPT = ir.FunctionType(PTR, [PTR, PTR, PTR])  # (mirror, list, float type) -> row or null
FLUSH = ir.FunctionType(I1, [PTR, PTR, PTR, I1])  # (scope, mirror or null, float type, snapshot first) -> ok
RELOAD = ir.FunctionType(I1, [PTR, PTR])  # (mirror or null, float type) -> ok
FREE = ir.FunctionType(ir.VoidType(), [PTR])  # (mirror or null)
CHECK = ir.FunctionType(I32, [PTR, PTR, PTR])  # (scope, mirror, float type) -> 0 ok, 1 raised, 2 deopt


def _at(bld: ir.IRBuilder, base: ir.Value, offset: int | ir.Value) -> ir.Value:
    return bld.gep(base, [offset if isinstance(offset, ir.Value) else ir.Constant(I64, offset)], source_etype=I8)


def _load(bld: ir.IRBuilder, base: ir.Value, offset: int | ir.Value, ty: ir.Type, field: str | None = None) -> ir.Value:
    load = bld.load(_at(bld, base, offset), typ=ty)
    if field is not None:
        tag_access(bld.module, load, field)
    return load


def _store(
    bld: ir.IRBuilder, value: ir.Value, base: ir.Value, offset: int | ir.Value, field: str | None = None
) -> None:
    store = bld.store(value, _at(bld, base, offset))
    if field is not None:
        tag_access(bld.module, store, field)


def _loop(bld: ir.IRBuilder, count: ir.Value, body: Callable[[ir.Value], None]) -> None:
    """`for k in range(count): body(k)`, emitted at the builder."""
    fn = bld.function
    start = bld.block
    head, inside, done = fn.append_basic_block("loop"), fn.append_basic_block("body"), fn.append_basic_block("done")
    bld.branch(head)
    bld.position_at_end(head)
    k = bld.phi(I64)
    k.add_incoming(ZERO, start)
    bld.cbranch(bld.icmp_signed("<", k, count), inside, done)
    bld.position_at_end(inside)
    body(k)
    k.add_incoming(bld.add(k, ONE), bld.block)
    bld.branch(head)
    bld.position_at_end(done)


def _rows_of(bld: ir.IRBuilder, mirror: ir.Value, body: Callable[[ir.Value], None]) -> None:
    """`for row in <the rows read so far>: body(row)`, emitted at the builder (the body may free the row)."""
    fn = bld.function
    start = bld.block
    head, inside, done = fn.append_basic_block("rows"), fn.append_basic_block("row"), fn.append_basic_block("no_more")
    first = _load(bld, mirror, M_FIRST, PTR)
    bld.branch(head)
    bld.position_at_end(head)
    row = bld.phi(PTR)
    row.add_incoming(first, start)
    bld.cbranch(bld.icmp_unsigned("==", row, NULL), done, inside)
    bld.position_at_end(inside)
    next_row = _load(bld, row, R_NEXT, PTR)  # (read first: the body may reuse R_NEXT)
    body(row)
    row.add_incoming(next_row, bld.block)
    bld.branch(head)
    bld.position_at_end(done)


def _return_if(bld: ir.IRBuilder, cond: ir.Value, value: ir.Value | None) -> None:
    with bld.if_then(cond, likely=False):
        if value is None:
            bld.ret_void()
        else:
            bld.ret(value)


def _item(bld: ir.IRBuilder, lst: ir.Value, k: ir.Value) -> ir.Value:
    """The address of item k of list `lst`."""
    return bld.gep(_load(bld, lst, LIST_ITEMS_OFFSET, PTR), [k], source_etype=PTR)


def _helper(module: ir.Module, name: str, ty: ir.FunctionType, define: Callable[[ir.IRBuilder], None]) -> ir.Function:
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    fn = ir.Function(module, ty, name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    fn.attributes.add("cold")
    define(ir.IRBuilder(fn.append_basic_block("entry")))
    return fn


def _raw_alloc(bld: ir.IRBuilder, nbytes: ir.Value) -> ir.Value:
    return bld.call(declare(bld.module, "PyMem_RawRealloc"), [NULL, nbytes])


def _zero(bld: ir.IRBuilder, pointer: ir.Value, nbytes: ir.Value) -> None:
    memset = intrinsic(bld.module, "llvm.memset.p0.i64", ir.VoidType(), [PTR, I8, I64, I1])
    bld.call(memset, [pointer, ir.Constant(I8, 0), nbytes, ir.Constant(I1, 0)])


def _define_new(bld: ir.IRBuilder) -> None:
    outer, extra = bld.function.args
    fn = bld.function
    entry, has_outer, counted = bld.block, fn.append_basic_block("outer"), fn.append_basic_block("counted")
    bld.cbranch(bld.icmp_unsigned("==", outer, NULL), counted, has_outer)
    bld.position_at_end(has_outer)
    size_of_outer = _load(bld, outer, LIST_SIZE_OFFSET, I64)
    bld.branch(counted)
    bld.position_at_end(counted)
    n = bld.phi(I64)
    n.add_incoming(ZERO, entry)
    n.add_incoming(size_of_outer, has_outer)
    # The table: a power of two at least twice the lists it may hold (at least 8), so probes stay short.
    lists = bld.add(n, extra)
    start, grow, sized = bld.block, fn.append_basic_block("grow"), fn.append_basic_block("sized")
    bld.branch(grow)
    bld.position_at_end(grow)
    size = bld.phi(I64)
    size.add_incoming(ir.Constant(I64, 8), start)
    size.add_incoming(bld.shl(size, ONE), grow)
    bld.cbranch(bld.icmp_signed("<", size, bld.shl(lists, ONE)), grow, sized)
    bld.position_at_end(sized)
    nbytes = bld.add(ir.Constant(I64, M_ROWS), bld.mul(bld.add(n, size), ir.Constant(I64, 8)))
    mirror = _raw_alloc(bld, nbytes)
    _return_if(bld, bld.icmp_unsigned("==", mirror, NULL), NULL)
    _zero(bld, mirror, nbytes)
    _store(bld, outer, mirror, M_OUTER)
    _store(bld, n, mirror, M_N)
    _store(bld, bld.sub(size, ONE), mirror, M_MASK)
    _store(bld, _now(bld), mirror, M_LAST)
    _store(bld, _ticks(MIN_GAP, OTHER_MIN_GAP), mirror, M_GAP)
    bld.ret(mirror)


def _now(bld: ir.IRBuilder) -> ir.Value:
    return bld.call(intrinsic(bld.module, "llvm.readcyclecounter", I64, []), [])


def _ticks(values: dict[str, int], other: int) -> ir.Constant:
    from fastimport.backend.jit import per_host  # (compiled for this machine, as the runtime is)

    return ir.Constant(I64, per_host(values, other))


def _clamped_gap(bld: ir.IRBuilder, gap: ir.Value) -> ir.Value:
    """`gap` within [MIN_GAP, MAX_GAP]."""
    least, most = _ticks(MIN_GAP, OTHER_MIN_GAP), _ticks(MAX_GAP, OTHER_MAX_GAP)
    gap = bld.select(bld.icmp_unsigned("<", gap, least), least, gap)
    return bld.select(bld.icmp_unsigned(">", gap, most), most, gap)


def _define_checkpoint(bld: ir.IRBuilder) -> None:
    """A signal checkpoint of a mirrored call: 0 went on, 1 a handler raised, 2 deopt (a list changed, no memory).

    The write-back before the checkpoint and the reading after it cost time in proportion
    to the lists mirrored (a million floats: ~3 ms), not to the work since the last one,
    so a mirrored call checkpoints only when GAP_PER_COST times the last one's cost (and
    at least MIN_GAP, at most MAX_GAP; before the first, the cost FLOAT_TICKS predicts)
    has passed: the lists cost at most ~3% more (up to a million floats or so), and Ctrl-C
    waits at most that long (~0.35 ms for a few floats, ~0.35 s at worst).
    """
    from fastimport.backend.emit import CHECKPOINT, CHECKPOINT_TYPE  # (emit.py imports this module)

    scope, mirror, float_type = bld.function.args
    status = {name: ir.Constant(I32, code) for code, name in enumerate(("ok", "raised", "deopt"))}
    start = _now(bld)
    waited = bld.sub(start, _load(bld, mirror, M_LAST, I64))
    _return_if(bld, bld.icmp_unsigned("<", waited, _load(bld, mirror, M_GAP, I64)), status["ok"])
    flushed = bld.call(helper(bld.module, "fi_mirror_flush"), [scope, mirror, float_type, ir.Constant(I1, 1)])
    _return_if(bld, bld.not_(flushed), status["deopt"])
    cost = bld.sub(_now(bld), start)
    checkpoint = bld.module.globals.get(CHECKPOINT) or ir.Function(bld.module, CHECKPOINT_TYPE, CHECKPOINT)
    raised = bld.call(checkpoint, [])
    _return_if(bld, bld.icmp_signed("!=", raised, ir.Constant(I32, 0)), status["raised"])
    before = _now(bld)
    reloaded = bld.call(helper(bld.module, "fi_mirror_reload"), [mirror, float_type])
    _return_if(bld, bld.not_(reloaded), status["deopt"])
    end = _now(bld)
    gap = bld.mul(bld.add(cost, bld.sub(end, before)), ir.Constant(I64, GAP_PER_COST))
    _store(bld, _clamped_gap(bld, gap), mirror, M_GAP)
    _store(bld, end, mirror, M_LAST)
    bld.ret(status["ok"])


def _read_floats(bld: ir.IRBuilder, row: ir.Value, float_type: ir.Value, failed: ir.Value) -> None:
    """Copy the floats of the row's list into its data (`bld.ret(failed)` at an item not a float)."""
    lst, length = _load(bld, row, R_LIST, PTR), _load(bld, row, R_LEN, I64)

    def copy(k: ir.Value) -> None:
        item = bld.load(_item(bld, lst, k), typ=PTR)
        _return_if(bld, bld.icmp_unsigned("!=", _load(bld, item, TYPE_OFFSET, PTR), float_type), failed)
        value = _load(bld, item, FLOAT_VALUE_OFFSET, F64)
        _store(bld, value, row, bld.add(ir.Constant(I64, R_DATA), bld.mul(k, ir.Constant(I64, 8))))

    _loop(bld, length, copy)


def _define_row(bld: ir.IRBuilder) -> None:
    mirror, i, list_type, float_type = bld.function.args
    outer = _load(bld, mirror, M_OUTER, PTR)
    lst = bld.load(_item(bld, outer, i), typ=PTR)
    _return_if(bld, bld.icmp_unsigned("!=", _load(bld, lst, TYPE_OFFSET, PTR), list_type), NULL)
    row = bld.call(helper(bld.module, "fi_mirror_adopt"), [mirror, lst, float_type])
    with bld.if_then(bld.icmp_unsigned("!=", row, NULL)):
        _store(bld, row, mirror, bld.add(ir.Constant(I64, M_ROWS), bld.mul(i, ir.Constant(I64, 8))))
    bld.ret(row)


def _define_adopt(bld: ir.IRBuilder) -> None:
    """The record of list `lst`: the one in the table, else a new one with its floats read (null: not all floats)."""
    mirror, lst, float_type = bld.function.args
    fn = bld.function
    n, mask = _load(bld, mirror, M_N, I64), _load(bld, mirror, M_MASK, I64)
    table = _at(bld, mirror, bld.add(ir.Constant(I64, M_ROWS), bld.mul(n, ir.Constant(I64, 8))))
    address = bld.ptrtoint(lst, I64)
    mixed = bld.xor(bld.lshr(address, ir.Constant(I64, 4)), bld.lshr(address, ir.Constant(I64, 13)))
    first_probe = bld.and_(mixed, mask)
    start = bld.block
    probe, check, found, missing = (fn.append_basic_block(name) for name in ("probe", "check", "found", "missing"))
    bld.branch(probe)
    bld.position_at_end(probe)
    h = bld.phi(I64)
    h.add_incoming(first_probe, start)
    slot = bld.gep(table, [h], source_etype=PTR)
    seen = bld.load(slot, typ=PTR)
    bld.cbranch(bld.icmp_unsigned("==", seen, NULL), missing, check)
    bld.position_at_end(check)
    h.add_incoming(bld.and_(bld.add(h, ONE), mask), check)
    bld.cbranch(bld.icmp_unsigned("==", _load(bld, seen, R_LIST, PTR), lst), found, probe)
    bld.position_at_end(found)
    bld.ret(seen)
    bld.position_at_end(missing)
    length = _load(bld, lst, LIST_SIZE_OFFSET, I64)
    row = _take_spare_or_alloc(bld, bld.add(ir.Constant(I64, R_DATA), bld.mul(length, ir.Constant(I64, 9))))
    _return_if(bld, bld.icmp_unsigned("==", row, NULL), NULL)
    _store(bld, lst, row, R_LIST)
    _store(bld, length, row, R_LEN)
    _zero(bld, _dirty(bld, row, length, ZERO), length)
    # Linked before its floats are read: a row that fails is freed with the mirror.
    _store(bld, _load(bld, mirror, M_FIRST, PTR), row, R_NEXT)
    _store(bld, row, mirror, M_FIRST)
    _read_floats(bld, row, float_type, NULL)
    bld.store(row, slot)
    expected = bld.mul(length, bld.mul(_ticks(FLOAT_TICKS, OTHER_FLOAT_TICKS), ir.Constant(I64, GAP_PER_COST)))
    _store(bld, _clamped_gap(bld, bld.add(_load(bld, mirror, M_GAP, I64), expected)), mirror, M_GAP)
    bld.ret(row)


def _dirty(bld: ir.IRBuilder, row: ir.Value, length: ir.Value, k: ir.Value) -> ir.Value:
    """The address of dirty[k] of a row of `length` slots."""
    return _at(bld, row, bld.add(ir.Constant(I64, R_DATA), bld.add(bld.mul(length, ir.Constant(I64, 8)), k)))


def _define_flush(bld: ir.IRBuilder) -> None:
    scope, mirror, float_type, snapshot = bld.function.args
    module = bld.module
    _return_if(bld, bld.icmp_unsigned("==", mirror, NULL), ir.Constant(I1, 1))
    touched = bld.alloca(I1)

    def flush_row(row: ir.Value) -> None:
        lst, length = _load(bld, row, R_LIST, PTR), _load(bld, row, R_LEN, I64)
        bld.store(bld.not_(snapshot), touched)  # (no snapshot wanted: as if taken already)

        def flush_slot(k: ir.Value) -> None:
            dirty = _dirty(bld, row, length, k)
            with bld.if_then(bld.icmp_unsigned("!=", bld.load(dirty, typ=I8), ir.Constant(I8, 0))):
                with bld.if_then(bld.not_(bld.load(touched, typ=I1))):
                    ok = bld.call(runtime_function(module, "fi_list_touch"), [scope, lst])
                    _return_if(bld, bld.not_(ok), ir.Constant(I1, 0))
                    bld.store(ir.Constant(I1, 1), touched)
                value = _load(bld, row, bld.add(ir.Constant(I64, R_DATA), bld.mul(k, ir.Constant(I64, 8))), F64)
                slot = _item(bld, lst, k)
                old = bld.load(slot, typ=PTR)
                alone = bld.icmp_unsigned("==", _load(bld, old, REFCNT_OFFSET, I64), ONE)
                is_float = bld.icmp_unsigned("==", _load(bld, old, TYPE_OFFSET, PTR), float_type)
                with bld.if_else(bld.and_(alone, is_float)) as (reuse, box):
                    with reuse:
                        _store(bld, value, old, FLOAT_VALUE_OFFSET)
                    with box:
                        new = bld.call(declare(module, "PyFloat_FromDouble"), [value])
                        with bld.if_then(bld.icmp_unsigned("==", new, NULL), likely=False):
                            # Snapshotted: the caller deopts and the rollback undoes this
                            # write-back, so the MemoryError goes. Not snapshotted: part of
                            # the lists is written back for good, so the call must raise it.
                            with bld.if_then(snapshot):
                                bld.call(declare(module, "PyErr_Clear"), [])
                            bld.ret(ir.Constant(I1, 0))
                        bld.store(new, slot)
                        bld.call(declare(module, "Py_DecRef"), [old])
                bld.store(ir.Constant(I8, 0), dirty)

        _loop(bld, length, flush_slot)

    _rows_of(bld, mirror, flush_row)
    bld.ret(ir.Constant(I1, 1))


def _define_reload(bld: ir.IRBuilder) -> None:
    mirror, float_type = bld.function.args
    no = ir.Constant(I1, 0)
    _return_if(bld, bld.icmp_unsigned("==", mirror, NULL), ir.Constant(I1, 1))
    outer, n = _load(bld, mirror, M_OUTER, PTR), _load(bld, mirror, M_N, I64)
    with bld.if_then(bld.icmp_unsigned("!=", outer, NULL)):
        _return_if(bld, bld.icmp_unsigned("!=", _load(bld, outer, LIST_SIZE_OFFSET, I64), n), no)

    def same_row(i: ir.Value) -> None:
        row = _load(bld, mirror, bld.add(ir.Constant(I64, M_ROWS), bld.mul(i, ir.Constant(I64, 8))), PTR)
        with bld.if_then(bld.icmp_unsigned("!=", row, NULL)):
            lst = bld.load(_item(bld, outer, i), typ=PTR)
            _return_if(bld, bld.icmp_unsigned("!=", lst, _load(bld, row, R_LIST, PTR)), no)

    _loop(bld, n, same_row)

    def reread(row: ir.Value) -> None:
        lst = _load(bld, row, R_LIST, PTR)
        resized = bld.icmp_unsigned("!=", _load(bld, lst, LIST_SIZE_OFFSET, I64), _load(bld, row, R_LEN, I64))
        _return_if(bld, resized, no)
        _read_floats(bld, row, float_type, no)

    _rows_of(bld, mirror, reread)
    bld.ret(ir.Constant(I1, 1))


def _spares(module: ir.Module) -> tuple[ir.GlobalVariable, ir.GlobalVariable]:
    """The module's list of spare rows (linked through R_NEXT) and their bytes in all."""
    found = module.globals.get("fi_mirror_spares")
    if found is None:
        found = ir.GlobalVariable(module, PTR, "fi_mirror_spares")
        found.linkage, found.initializer = "internal", NULL
        total = ir.GlobalVariable(module, I64, "fi_mirror_spare_bytes")
        total.linkage, total.initializer = "internal", ZERO
    return found, module.globals["fi_mirror_spare_bytes"]


def _take_spare_or_alloc(bld: ir.IRBuilder, nbytes: ir.Value) -> ir.Value:
    """A row buffer of at least `nbytes`: the first spare that big (unlinked), else a new one (null: no memory)."""
    fn = bld.function
    spares, total = _spares(bld.module)
    start = bld.block
    scan, check, take, fresh, done = (fn.append_basic_block(n) for n in ("scan", "check", "take", "fresh", "got"))
    bld.branch(scan)
    bld.position_at_end(scan)
    link = bld.phi(PTR)  # the address holding the candidate: the list's head, or a spare's R_NEXT
    link.add_incoming(spares, start)
    candidate = bld.load(link, typ=PTR)
    bld.cbranch(bld.icmp_unsigned("==", candidate, NULL), fresh, check)
    bld.position_at_end(check)
    size = _load(bld, candidate, R_BYTES, I64)
    link.add_incoming(_at(bld, candidate, R_NEXT), check)
    bld.cbranch(bld.icmp_unsigned(">=", size, nbytes), take, scan)
    bld.position_at_end(take)
    bld.store(_load(bld, candidate, R_NEXT, PTR), link)
    bld.store(bld.sub(bld.load(total, typ=I64), size), total)
    bld.branch(done)
    bld.position_at_end(fresh)
    new = _raw_alloc(bld, nbytes)
    with bld.if_then(bld.icmp_unsigned("!=", new, NULL)):
        _store(bld, nbytes, new, R_BYTES)
    fresh_end = bld.block
    bld.branch(done)
    bld.position_at_end(done)
    row = bld.phi(PTR)
    row.add_incoming(candidate, take)
    row.add_incoming(new, fresh_end)
    return row


def _define_free(bld: ir.IRBuilder) -> None:
    (mirror,) = bld.function.args
    free = declare(bld.module, "PyMem_RawFree")
    _return_if(bld, bld.icmp_unsigned("==", mirror, NULL), None)
    spares, total = _spares(bld.module)

    def release(row: ir.Value) -> None:
        size, kept = _load(bld, row, R_BYTES, I64), bld.load(total, typ=I64)
        with bld.if_else(bld.icmp_unsigned("<=", bld.add(kept, size), ir.Constant(I64, SPARE_BYTES))) as (keep, drop):
            with keep:  # onto the spares
                _store(bld, bld.load(spares, typ=PTR), row, R_NEXT)
                bld.store(row, spares)
                bld.store(bld.add(kept, size), total)
            with drop:
                bld.call(free, [row])

    _rows_of(bld, mirror, release)
    bld.call(free, [mirror])
    bld.ret_void()


HELPERS = {
    "fi_mirror_new": (NEW, _define_new),
    "fi_mirror_row": (ROW_OF, _define_row),
    "fi_mirror_adopt": (ADOPT, _define_adopt),
    "fi_mirror_flush": (FLUSH, _define_flush),
    "fi_mirror_reload": (RELOAD, _define_reload),
    "fi_mirror_free": (FREE, _define_free),
    "fi_mirror_checkpoint": (CHECK, _define_checkpoint),
}


def helper(module: ir.Module, name: str) -> ir.Function:
    """The module's definition of mirror helper `name` (made at its first use)."""
    ty, define = HELPERS[name]
    return _helper(module, name, ty, define)


class MirrorOps:
    """Index, SetIndex and len on a mirrored parameter and its rows; the mirror's set-up and exits."""

    def begin_mirror(self) -> None:
        """In the entry block: the mirror of the parameters `fn.mirrored` (an item not a float, no memory: deopt)."""
        self.mirror_slot: ir.Value | None = None
        self.mirror_values: dict[int, ir.Value] = {}
        params = self.fn.mirrored  # type: ignore[attr-defined]
        if not params:
            return
        bld = self.builder  # type: ignore[attr-defined]
        args = self.func.args  # type: ignore[attr-defined]
        self.mirror_slot = bld.alloca(PTR, name="mirror")
        bld.store(NULL, self.mirror_slot)
        outer = next((k for k in params if self.fn.arg_types[k] == ROWS), None)  # type: ignore[attr-defined]
        rows = [k for k in params if k != outer]
        new_args = [NULL if outer is None else args[outer], ir.Constant(I64, len(rows))]
        mirror = bld.call(helper(self.module, "fi_mirror_new"), new_args)  # type: ignore[attr-defined]
        bld.store(mirror, self.mirror_slot)
        self.deopt_if(bld.icmp_unsigned("==", mirror, NULL))  # type: ignore[attr-defined]
        if outer is not None:
            self.mirror_values[outer] = mirror
        for k in rows:  # (one list passed twice gets one record: the table finds it)
            row = bld.call(helper(self.module, "fi_mirror_adopt"), [mirror, args[k], self.load_object(float)])  # type: ignore[attr-defined]
            self.deopt_if(bld.icmp_unsigned("==", row, NULL))  # type: ignore[attr-defined]
            self.mirror_values[k] = row

    def mirror_param(self, index: int) -> ir.Value | None:
        """The value of parameter `index` when it is mirrored: the mirror, or its record of the list."""
        return self.mirror_values.get(index)

    def _mirrored(self, ty: object) -> bool:
        return self.mirror_slot is not None and ty in (ROWS, ROW)

    def drop_mirror(self) -> None:
        """At a deopt or retry exit: the mirror freed, nothing written back."""
        if self.mirror_slot is not None:
            bld = self.builder  # type: ignore[attr-defined]
            bld.call(helper(self.module, "fi_mirror_free"), [bld.load(self.mirror_slot, typ=PTR)])  # type: ignore[attr-defined]

    def flush_mirror(self, *, leaving: bool = False) -> ir.Value | None:
        """The changed floats written back into their lists; an i1, 0 if that failed (no memory).

        Each list is snapshotted first (a deopt later in the call, or in a caller, puts it
        back), unless the call is `leaving` and is the entry point's own kernel: then nothing
        can deopt any more, and a float only the list holds is overwritten in place.
        """
        if self.mirror_slot is None:
            return None
        bld = self.builder  # type: ignore[attr-defined]
        mirror = bld.load(self.mirror_slot, typ=PTR)
        snapshot = bld.not_(self._surely_root()) if leaving else ir.Constant(I1, 1)
        args = [self.undo, mirror, self.load_object(float), snapshot]  # type: ignore[attr-defined]
        return bld.call(helper(self.module, "fi_mirror_flush"), args)  # type: ignore[attr-defined]

    def _surely_root(self) -> ir.Value:
        """Whether this kernel is the one the entry point called (i1; False may also mean "not known").

        The entry point gives its kernel MAX_NATIVE_DEPTH as its depth budget when the kernel
        calls no other (a mirrored one never does) or when the recursion limit leaves that
        much, and never more; a kernel called by another gets less. So a depth of
        MAX_NATIVE_DEPTH is the entry point's own kernel: when it returns, no native caller can
        deopt any more, and what it changes on its way out needs no snapshot.
        """
        from fastimport.backend.emit import MAX_NATIVE_DEPTH  # (emit.py imports this module)

        return self.builder.icmp_signed("==", self.depth, ir.Constant(I32, MAX_NATIVE_DEPTH))  # type: ignore[attr-defined]

    def leave_mirror(self) -> None:
        """Before a return: written back, then freed.

        A write-back that fails (no memory for a float) deopts when the lists were
        snapshotted first, so the rollback undoes it. The entry point's own kernel writes back
        without snapshots: a list half written back must not be run again, so it raises the
        MemoryError instead.
        """
        from fastimport.backend.emit import DEOPT, ERROR, kernel_result  # (emit.py imports this module)

        ok = self.flush_mirror(leaving=True)
        if ok is None:
            return
        bld = self.builder  # type: ignore[attr-defined]
        with bld.if_then(bld.not_(ok), likely=False):
            self.drop_mirror()
            status = bld.select(self._surely_root(), ERROR, DEOPT)
            bld.ret(kernel_result(bld, self.fn.ret_type, None, status))  # type: ignore[attr-defined]
        self.drop_mirror()

    def mirror_checkpoint(self) -> bool:
        """At a due signal checkpoint: the mirror's own (`_define_checkpoint`); False if there is no mirror."""
        if self.mirror_slot is None:
            return False
        bld = self.builder  # type: ignore[attr-defined]
        mirror = bld.load(self.mirror_slot, typ=PTR)
        args = [self.undo, mirror, self.load_object(float)]  # type: ignore[attr-defined]
        status = bld.call(helper(self.module, "fi_mirror_checkpoint"), args)  # type: ignore[attr-defined]
        self.deopt_if(bld.icmp_unsigned("==", status, ir.Constant(I32, 2)))  # type: ignore[attr-defined]
        self.raise_if(bld.icmp_unsigned("==", status, ir.Constant(I32, 1)))  # type: ignore[attr-defined]
        return True

    def _position(self, index: ir.Value, size: ir.Value) -> ir.Value:
        """`index` counted from the start (negative from the end); out of range deopts (IndexError)."""
        bld = self.builder  # type: ignore[attr-defined]
        i = bld.select(bld.icmp_signed("<", index, ZERO), bld.add(index, size), index)
        self.deopt_if(bld.icmp_unsigned(">=", i, size))  # type: ignore[attr-defined]
        return i

    def _length(self, ty: object, value: ir.Value) -> ir.Value:
        """The length of a row (`ty` ROW) or of the mirrored list of lists: fixed while mirrored."""
        offset, field = (R_LEN, "fi.row.len") if ty == ROW else (M_N, "fi.mirror.n")
        return _load(self.builder, value, offset, I64, field)  # type: ignore[attr-defined]

    def _data_offset(self, k: ir.Value) -> ir.Value:
        return self.builder.add(ir.Constant(I64, R_DATA), self.builder.mul(k, ir.Constant(I64, 8)))  # type: ignore[attr-defined]

    def visit_index(self, op: Index) -> None:
        """`bodies[i]` (the row, read at its first use in the call) or `row[k]` (a double of its data)."""
        if not self._mirrored(op.base.type):
            super().visit_index(op)  # type: ignore[misc]
            return
        bld = self.builder  # type: ignore[attr-defined]
        base = self.value(op.base)  # type: ignore[attr-defined]
        size = self._length(op.base.type, base)
        if op.unpack is not None:  # `x, y = row`: CPython raises ValueError for another length
            self.deopt_if(bld.icmp_signed("!=", size, ir.Constant(I64, op.unpack)))  # type: ignore[attr-defined]
        i = self._position(self.as_int_value(op.indices[0]), size)  # type: ignore[attr-defined]
        if op.base.type == ROW:
            self.values[op] = _load(bld, base, self._data_offset(i), F64, "fi.row.data[]")  # type: ignore[attr-defined]
            return
        slot = bld.add(ir.Constant(I64, M_ROWS), bld.mul(i, ir.Constant(I64, 8)))
        row = _load(bld, base, slot, PTR, "fi.mirror.rows[]")
        here = bld.block
        with bld.if_then(bld.icmp_unsigned("==", row, NULL), likely=False):
            args = [base, i, self.load_object(list), self.load_object(float)]  # type: ignore[attr-defined]
            read = bld.call(helper(self.module, "fi_mirror_row"), args)  # type: ignore[attr-defined]
            self.deopt_if(bld.icmp_unsigned("==", read, NULL))  # type: ignore[attr-defined]
            read_block = bld.block
        result = bld.phi(PTR)
        result.add_incoming(row, here)
        result.add_incoming(read, read_block)
        self.values[op] = result  # type: ignore[attr-defined]

    def visit_set_index(self, op: SetIndex) -> None:
        """`row[k] = v`: into the row's data, marked dirty for the write-back."""
        if not self._mirrored(op.base.type):
            super().visit_set_index(op)  # type: ignore[misc]
            return
        bld = self.builder  # type: ignore[attr-defined]
        row = self.value(op.base)  # type: ignore[attr-defined]
        size = self._length(ROW, row)
        k = self._position(self.as_int_value(op.indices[0]), size)  # type: ignore[attr-defined]
        _store(bld, self.value(op.value), row, self._data_offset(k), "fi.row.data[]")  # type: ignore[attr-defined]
        _store(bld, ir.Constant(I8, 1), _dirty(bld, row, size, k), 0, "fi.row.dirty[]")

    def visit_array_attr(self, op: ArrayAttr) -> None:
        """`len(bodies)`, `len(row)`: fixed while mirrored."""
        if not self._mirrored(op.base.type):
            super().visit_array_attr(op)  # type: ignore[misc]
            return
        self.values[op] = self._length(op.base.type, self.value(op.base))  # type: ignore[attr-defined]
