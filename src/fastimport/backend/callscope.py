"""What one native call owns until its entry point returns: the undo log and the arena.

The undo log: what native code overwrote in the caller's arrays, so a deopt can put it back.

A deopt re-runs the whole call as bytecode. That is exact only if the bytecode
starts from the state the call started from, so every store into memory the
caller can see (an element of an array argument, or a view of one) first
records the bytes it overwrites:

    log = {ptr entries, i64 len, i64 cap}          on the entry point's stack
    entry = {i64 address | size << 56, i64 old}   size: 1, 2, 4 or 8 bytes

The entry point passes a fresh, empty log to the kernel (kernels pass it on to
the kernels they call), and when the kernel returns:

    ok or exception  -> the log is dropped (the stores happened, as in CPython)
    deopt            -> the entries are written back, newest first, then dropped

The arena: every array the call allocates (np.zeros, ...) is one reference held
here, released when the entry point returns (after the rollback: nothing the log
points into is freed before it). So native code never counts references: a local,
a view or a callee's argument just borrows from the arena or from the caller. A
returned array gets its own reference first. An arena that grows past
ARENA_OBJECTS arrays or ARENA_BYTES bytes (allocation in a long loop) deopts: the
bytecode frees as it goes, and never needs more memory than CPython would.

    scope = {ptr entries, i64 len, i64 cap,       the undo log
             ptr objects, i64 count, i64 room,    the arena
             i64 bytes,
             ptr lists, i64 nlists, i64 lists_room}   list snapshots

Python lists are changed in place (backend/listemit.py). Before the first change a call
makes to a list, `fi_list_touch` takes a snapshot of it: a new list of the same items
(PyList_GetSlice), which holds a reference to each. A rollback puts every snapshot back
whole (PyList_SetSlice), which also drops appended items; either way the snapshots are
released when the entry point returns. Snapshots cost one copy of each list changed, once
per call, instead of a log entry per change; they also keep alive any item a local still
borrows after it was replaced in its list (`row = rows[0]; rows[0] = other; row[1]`).
A call that changes more than MAX_LISTS lists deopts (the lookup is a linear scan).

The scope lives on the stack of each entry, so threads (which may run while a
kernel offers the GIL at a signal check) and re-entrant calls never share one.
Buffers come from PyMem_RawRealloc; if that fails the kernel deopts, which
rolls back what was logged, and the bytecode does the work.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from llvmlite import ir

from fastimport.backend.capi import I1, I64, PTR, declare

if TYPE_CHECKING:
    from collections.abc import Iterator

LOG = ir.LiteralStructType([PTR, I64, I64, PTR, I64, I64, I64, PTR, I64, I64])
EMPTY = ir.Constant(
    LOG,
    [
        ir.Constant(PTR, None), *[ir.Constant(I64, 0)] * 2,
        ir.Constant(PTR, None), *[ir.Constant(I64, 0)] * 3,
        ir.Constant(PTR, None), *[ir.Constant(I64, 0)] * 2,
    ],
)  # fmt: skip
LISTS, NLISTS, LISTS_ROOM = 7, 8, 9  # fields: the {list, snapshot} pairs
MAX_LISTS = 4096
PY_SSIZE_T_MAX = (1 << 63) - 1
ARENA_OBJECTS = 1 << 14
ARENA_BYTES = 1 << 30
ENTRY_BYTES = 16
FIRST_CAPACITY = 256
SIZE_SHIFT = 56
GROW = ir.FunctionType(I1, [PTR])
KEEP = ir.FunctionType(I1, [PTR, PTR, I64])
FINISH = ir.FunctionType(ir.VoidType(), [PTR, I1])
TOUCH = ir.FunctionType(I1, [PTR, PTR])


def _field(bld: ir.IRBuilder, log: ir.Value, index: int) -> ir.Value:
    return bld.gep(log, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), index)], source_etype=LOG)


def grow_function(module: ir.Module) -> ir.Function:
    """The declaration of `fi_undo_grow` (defined once, in the runtime module)."""
    return module.globals.get("fi_undo_grow") or ir.Function(module, GROW, "fi_undo_grow")


def finish_function(module: ir.Module) -> ir.Function:
    """The declaration of `fi_undo_finish` (defined once, in the runtime module)."""
    return module.globals.get("fi_undo_finish") or ir.Function(module, FINISH, "fi_undo_finish")


def emit_new_log(bld: ir.IRBuilder) -> ir.Value:
    """An empty log on the current function's stack (call in its entry block)."""
    log = bld.alloca(LOG, name="undo")
    bld.store(EMPTY, log)
    return log


def emit_finish(bld: ir.IRBuilder, module: ir.Module, log: ir.Value, roll_back: ir.Value) -> None:
    """After the kernel: roll back if `roll_back`, release the arena, free the buffers (if any were made)."""
    null = ir.Constant(PTR, None)
    logged = bld.icmp_unsigned("!=", bld.load(_field(bld, log, 0), typ=PTR), null)
    used = bld.or_(logged, bld.icmp_unsigned("!=", bld.load(_field(bld, log, 3), typ=PTR), null))
    used = bld.or_(used, bld.icmp_unsigned("!=", bld.load(_field(bld, log, LISTS), typ=PTR), null))
    with bld.if_then(used, likely=False):
        bld.call(finish_function(module), [log, roll_back])


def emit_record(bld: ir.IRBuilder, log: ir.Value, pointer: ir.Value, size: int, *, full: ir.Block) -> None:
    """Log the `size` bytes at `pointer` before they are overwritten; a full log that cannot grow goes to `full`."""
    length_at, capacity_at = _field(bld, log, 1), _field(bld, log, 2)
    length = bld.load(length_at, typ=I64)
    fn = bld.function
    module = fn.module
    with bld.if_then(bld.icmp_unsigned("==", length, bld.load(capacity_at, typ=I64)), likely=False):
        grown = fn.append_basic_block()
        bld.cbranch(bld.call(grow_function(module), [log]), grown, full)
        bld.position_at_end(grown)
    entries = bld.load(_field(bld, log, 0), typ=PTR)
    entry = bld.gep(entries, [bld.mul(length, ir.Constant(I64, 2))], source_etype=I64)
    key = bld.or_(bld.ptrtoint(pointer, I64), ir.Constant(I64, size << SIZE_SHIFT))
    bld.store(key, entry)
    old = bld.load(pointer, typ=ir.IntType(size * 8), align=1)
    if size < 8:  # noqa: PLR2004
        old = bld.zext(old, I64)
    bld.store(old, bld.gep(entry, [ir.Constant(I64, 1)], source_etype=I64))
    bld.store(bld.add(length, ir.Constant(I64, 1)), length_at)


def touch_function(module: ir.Module) -> ir.Function:
    """The declaration of `fi_list_touch` (defined once, in the runtime module)."""
    return module.globals.get("fi_list_touch") or ir.Function(module, TOUCH, "fi_list_touch")


def keep_function(module: ir.Module) -> ir.Function:
    """The declaration of `fi_arena_keep` (defined once, in the runtime module)."""
    return module.globals.get("fi_arena_keep") or ir.Function(module, KEEP, "fi_arena_keep")


def emit_keep(bld: ir.IRBuilder, log: ir.Value, obj: ir.Value, nbytes: ir.Value, *, full: ir.Block) -> None:
    """Hand the new reference `obj` (an array of `nbytes`) to the arena; past its limits, go to `full`."""
    kept = bld.call(keep_function(bld.function.module), [log, obj, nbytes])
    cont = bld.function.append_basic_block()
    bld.cbranch(kept, cont, full)
    bld.position_at_end(cont)


def emit_undo_runtime(module: ir.Module) -> None:
    """Define `fi_undo_grow`, `fi_arena_keep`, `fi_list_touch` and `fi_undo_finish` (in the runtime module)."""
    _emit_grow(module)
    _emit_keep(module)
    _emit_touch(module)
    _emit_finish(module)


def _emit_keep(module: ir.Module) -> None:
    """i1 fi_arena_keep(scope*, obj, nbytes): take the reference; 0 (still taken) past the limits or out of memory.

    The reference is released by `fi_undo_finish` either way, except when even the
    arena's buffer cannot grow: then it is released here.
    """
    fn = ir.Function(module, KEEP, "fi_arena_keep")
    log, obj, nbytes = fn.args
    bld = ir.IRBuilder(fn.append_basic_block("entry"))
    count = bld.load(_field(bld, log, 4), typ=I64)
    room = bld.load(_field(bld, log, 5), typ=I64)
    with bld.if_then(bld.icmp_unsigned("==", count, room), likely=False):
        new_room = bld.select(
            bld.icmp_unsigned("==", room, ir.Constant(I64, 0)), ir.Constant(I64, 16), bld.mul(room, ir.Constant(I64, 2))
        )
        old = bld.load(_field(bld, log, 3), typ=PTR)
        buffer = bld.call(declare(module, "PyMem_RawRealloc"), [old, bld.mul(new_room, ir.Constant(I64, 8))])
        with bld.if_then(bld.icmp_unsigned("==", buffer, ir.Constant(PTR, None)), likely=False):
            bld.call(declare(module, "Py_DecRef"), [obj])
            bld.ret(ir.Constant(I1, 0))
        bld.store(buffer, _field(bld, log, 3))
        bld.store(new_room, _field(bld, log, 5))
    objects = bld.load(_field(bld, log, 3), typ=PTR)
    bld.store(obj, bld.gep(objects, [count], source_etype=PTR))
    bld.store(bld.add(count, ir.Constant(I64, 1)), _field(bld, log, 4))
    total = bld.add(bld.load(_field(bld, log, 6), typ=I64), nbytes)
    bld.store(total, _field(bld, log, 6))
    within = bld.and_(
        bld.icmp_unsigned("<", count, ir.Constant(I64, ARENA_OBJECTS)),
        bld.icmp_unsigned("<=", total, ir.Constant(I64, ARENA_BYTES)),
    )
    bld.ret(within)


def _emit_grow(module: ir.Module) -> None:
    """i1 fi_undo_grow(log*): double the capacity; 0 if memory ran out (the log is unchanged)."""
    fn = ir.Function(module, GROW, "fi_undo_grow")
    (log,) = fn.args
    bld = ir.IRBuilder(fn.append_basic_block("entry"))
    capacity = bld.load(_field(bld, log, 2), typ=I64)
    empty = bld.icmp_unsigned("==", capacity, ir.Constant(I64, 0))
    new_capacity = bld.select(empty, ir.Constant(I64, FIRST_CAPACITY), bld.mul(capacity, ir.Constant(I64, 2)))
    old = bld.load(_field(bld, log, 0), typ=PTR)
    buffer = bld.call(declare(module, "PyMem_RawRealloc"), [old, bld.mul(new_capacity, ir.Constant(I64, ENTRY_BYTES))])
    with bld.if_then(bld.icmp_unsigned("==", buffer, ir.Constant(PTR, None)), likely=False):
        bld.ret(ir.Constant(I1, 0))
    bld.store(buffer, _field(bld, log, 0))
    bld.store(new_capacity, _field(bld, log, 2))
    bld.ret(ir.Constant(I1, 1))


@contextmanager
def _newest_first(bld: ir.IRBuilder, count: ir.Value) -> Iterator[ir.Value]:
    """A loop over k = count - 1 down to 0, its body emitted inside the `with` block."""
    fn = bld.function
    start = bld.block
    head, body, done = (fn.append_basic_block(n) for n in ("newest_first", "entry_body", "all_done"))
    bld.branch(head)
    bld.position_at_end(head)
    left = bld.phi(I64)
    left.add_incoming(count, start)
    bld.cbranch(bld.icmp_unsigned("==", left, ir.Constant(I64, 0)), done, body)
    bld.position_at_end(body)
    k = bld.sub(left, ir.Constant(I64, 1))
    yield k
    left.add_incoming(k, bld.block)
    bld.branch(head)
    bld.position_at_end(done)


def _emit_finish(module: ir.Module) -> None:
    """Void fi_undo_finish(log*, i1 roll_back): write the old bytes back, newest first; free."""
    fn = ir.Function(module, FINISH, "fi_undo_finish")
    log, roll_back = fn.args
    bld = ir.IRBuilder(fn.append_basic_block("entry"))
    entries = bld.load(_field(bld, log, 0), typ=PTR)
    length = bld.select(roll_back, bld.load(_field(bld, log, 1), typ=I64), ir.Constant(I64, 0))
    with _newest_first(bld, length) as index:
        record = bld.gep(entries, [bld.mul(index, ir.Constant(I64, 2))], source_etype=I64)
        key = bld.load(record, typ=I64)
        old = bld.load(bld.gep(record, [ir.Constant(I64, 1)], source_etype=I64), typ=I64)
        pointer = bld.inttoptr(bld.and_(key, ir.Constant(I64, (1 << SIZE_SHIFT) - 1)), PTR)
        size = bld.lshr(key, ir.Constant(I64, SIZE_SHIFT))
        next_entry = fn.append_basic_block("next")
        switch = bld.switch(size, next_entry)
        for width in (1, 2, 4, 8):
            case = fn.append_basic_block(f"size{width}")
            switch.add_case(ir.Constant(I64, width), case)
            bld.position_at_end(case)
            value = old if width == 8 else bld.trunc(old, ir.IntType(width * 8))  # noqa: PLR2004
            bld.store(value, pointer, align=1)
            bld.branch(next_entry)
        bld.position_at_end(next_entry)
    bld.call(declare(module, "PyMem_RawFree"), [entries])
    _emit_list_finish(bld, log, roll_back)
    # Then the arena (after the rollback: the log may point into arrays it holds).
    objects = bld.load(_field(bld, log, 3), typ=PTR)
    count = bld.load(_field(bld, log, 4), typ=I64)
    release, release_body, released = (fn.append_basic_block(n) for n in ("release", "release_body", "released"))
    before = bld.block
    bld.branch(release)
    bld.position_at_end(release)
    k = bld.phi(I64)
    k.add_incoming(ir.Constant(I64, 0), before)
    bld.cbranch(bld.icmp_unsigned("<", k, count), release_body, released)
    bld.position_at_end(release_body)
    bld.call(declare(module, "Py_DecRef"), [bld.load(bld.gep(objects, [k], source_etype=PTR), typ=PTR)])
    k.add_incoming(bld.add(k, ir.Constant(I64, 1)), release_body)
    bld.branch(release)
    bld.position_at_end(released)
    bld.call(declare(module, "PyMem_RawFree"), [objects])
    bld.store(EMPTY, log)
    bld.ret_void()


def _emit_touch(module: ir.Module) -> None:
    """i1 fi_list_touch(scope*, list): snapshot `list` unless this call already did; 0 if that failed.

    0 (the kernel deopts) also past MAX_LISTS lists, or with no memory for the snapshot.
    """
    fn = ir.Function(module, TOUCH, "fi_list_touch")
    log, lst = fn.args
    entry, scan, check, found, missing = (fn.append_basic_block(n) for n in ("entry", "scan", "check", "found", "new"))
    bld = ir.IRBuilder(entry)
    pairs = bld.load(_field(bld, log, LISTS), typ=PTR)
    count = bld.load(_field(bld, log, NLISTS), typ=I64)
    bld.branch(scan)
    bld.position_at_end(scan)
    k = bld.phi(I64)
    k.add_incoming(ir.Constant(I64, 0), entry)
    bld.cbranch(bld.icmp_unsigned("<", k, count), check, missing)
    bld.position_at_end(check)
    seen = bld.load(bld.gep(pairs, [bld.mul(k, ir.Constant(I64, 2))], source_etype=PTR), typ=PTR)
    k.add_incoming(bld.add(k, ir.Constant(I64, 1)), check)
    bld.cbranch(bld.icmp_unsigned("==", seen, lst), found, scan)
    bld.position_at_end(found)
    bld.ret(ir.Constant(I1, 1))
    bld.position_at_end(missing)
    with bld.if_then(bld.icmp_unsigned(">=", count, ir.Constant(I64, MAX_LISTS)), likely=False):
        bld.ret(ir.Constant(I1, 0))
    room = bld.load(_field(bld, log, LISTS_ROOM), typ=I64)
    with bld.if_then(bld.icmp_unsigned("==", count, room), likely=False):
        new_room = bld.select(
            bld.icmp_unsigned("==", room, ir.Constant(I64, 0)), ir.Constant(I64, 8), bld.mul(room, ir.Constant(I64, 2))
        )
        buffer = bld.call(declare(module, "PyMem_RawRealloc"), [pairs, bld.mul(new_room, ir.Constant(I64, 16))])
        with bld.if_then(bld.icmp_unsigned("==", buffer, ir.Constant(PTR, None)), likely=False):
            bld.ret(ir.Constant(I1, 0))
        bld.store(buffer, _field(bld, log, LISTS))
        bld.store(new_room, _field(bld, log, LISTS_ROOM))
    snapshot = bld.call(
        declare(module, "PyList_GetSlice"), [lst, ir.Constant(I64, 0), ir.Constant(I64, PY_SSIZE_T_MAX)]
    )
    with bld.if_then(bld.icmp_unsigned("==", snapshot, ir.Constant(PTR, None)), likely=False):
        bld.call(declare(module, "PyErr_Clear"), [])
        bld.ret(ir.Constant(I1, 0))
    pair = bld.gep(bld.load(_field(bld, log, LISTS), typ=PTR), [bld.mul(count, ir.Constant(I64, 2))], source_etype=PTR)
    bld.store(lst, pair)
    bld.store(snapshot, bld.gep(pair, [ir.Constant(I64, 1)], source_etype=PTR))
    bld.store(bld.add(count, ir.Constant(I64, 1)), _field(bld, log, NLISTS))
    bld.ret(ir.Constant(I1, 1))


def _emit_list_finish(bld: ir.IRBuilder, log: ir.Value, roll_back: ir.Value) -> None:
    """Each list snapshot: put back whole if `roll_back`; released either way (newest first)."""
    fn = bld.function
    module = fn.module
    pairs = bld.load(_field(bld, log, LISTS), typ=PTR)
    count = bld.load(_field(bld, log, NLISTS), typ=I64)
    with _newest_first(bld, count) as k:
        pair = bld.gep(pairs, [bld.mul(k, ir.Constant(I64, 2))], source_etype=PTR)
        lst = bld.load(pair, typ=PTR)
        snapshot = bld.load(bld.gep(pair, [ir.Constant(I64, 1)], source_etype=PTR), typ=PTR)
        with bld.if_then(roll_back):
            whole = [ir.Constant(I64, 0), ir.Constant(I64, PY_SSIZE_T_MAX)]
            failed = bld.call(declare(module, "PyList_SetSlice"), [lst, *whole, snapshot])
            with bld.if_then(bld.icmp_signed("!=", failed, ir.Constant(ir.IntType(32), 0)), likely=False):
                bld.call(declare(module, "PyErr_Clear"), [])  # no memory to grow the list back: nothing safer to do
        bld.call(declare(module, "Py_DecRef"), [snapshot])
    bld.call(declare(module, "PyMem_RawFree"), [pairs])
