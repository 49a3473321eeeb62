"""What one native call owns until its entry point returns: the undo log and the arena.

The undo log: what native code overwrote in the caller's arrays, so a deopt can put it back.

A deopt re-runs the whole call as bytecode. That is exact only if the bytecode
starts from the state the call started from, so every store into memory the
caller can see (an element of an array argument, or a view of one) first
records the bytes it overwrites:

    log = {ptr entries, i64 len, i64 cap}          on the entry point's stack
    entry = {i64 address | size << 56, i64 old}   size: 1, 2, 4 or 8 bytes
    run   = <the old bytes, in ceil(n/16) entries> {i64 address | 0 << 56, i64 n}

A run (`emit_record_run`) logs n contiguous bytes at once: a versioned loop
(frontend/versioning.py) logs everything its stores can overwrite in a strip before
the strip starts, and its stores log nothing. Its trailing entry is read first when
rolling back, newest first, so it says how many entries of bytes precede it. A run
may cover bytes no store then changes: writing their old bytes back is harmless.

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
             ptr lists, i64 nlists, i64 lists_room,   list snapshots
             i64 precise}                             1: a re-run after RETRY (see below)

Python lists are changed in place (backend/listemit.py). Before the first change a call
makes to a list, `fi_list_touch` takes a snapshot of it: a new list of the same items
(PyList_GetSlice), which holds a reference to each. A rollback puts every snapshot back
whole (PyList_SetSlice), which also drops appended items; either way the snapshots are
released when the entry point returns. Snapshots cost one copy of each list changed, once
per call, instead of a log entry per change; they also keep alive any item a local still
borrows after it was replaced in its list (`row = rows[0]; rows[0] = other; row[1]`).
A call that changes more than MAX_LISTS lists deopts (the lookup is a linear scan).

`precise`: a kernel that returns RETRY (a versioned loop saw a non-finite NumPy float
result, frontend/versioning.py) is rolled back like a deopt, and the entry point runs
it again on a fresh scope with `precise` set, where those loops take their checked
copies (`emit_is_precise`).

The scope lives on the stack of each entry, so threads (which may run while a
kernel offers the GIL at a signal check) and re-entrant calls never share one.
Buffers come from PyMem_RawRealloc; if that fails the kernel deopts, which
rolls back what was logged, and the bytecode does the work. The last log buffer
(up to SPARE_BYTES) is kept for the next call instead of being freed.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from llvmlite import ir

from fastimport.backend.capi import I1, I64, PTR, declare, intrinsic

if TYPE_CHECKING:
    from collections.abc import Iterator

LOG = ir.LiteralStructType([PTR, I64, I64, PTR, I64, I64, I64, PTR, I64, I64, I64])


def _empty(precise: int) -> ir.Constant:
    null, zero = ir.Constant(PTR, None), ir.Constant(I64, 0)
    return ir.Constant(LOG, [null, zero, zero, null, zero, zero, zero, null, zero, zero, ir.Constant(I64, precise)])


EMPTY, EMPTY_PRECISE = _empty(0), _empty(1)
LISTS, NLISTS, LISTS_ROOM = 7, 8, 9  # fields: the {list, snapshot} pairs
PRECISE = 10  # field: nonzero in a call re-run after a kernel returned RETRY
MAX_LISTS = 4096
PY_SSIZE_T_MAX = (1 << 63) - 1
ARENA_OBJECTS = 1 << 14
ARENA_BYTES = 1 << 30
ENTRY_BYTES = 16
FIRST_CAPACITY = 256
# A log buffer up to this size is kept for the next call (one per process, see `_keep_or_free`).
SPARE_BYTES = 16 << 20
SIZE_SHIFT = 56
GROW = ir.FunctionType(I1, [PTR])
RUN = ir.FunctionType(I1, [PTR, PTR, I64])
KEEP = ir.FunctionType(I1, [PTR, PTR, I64])
FINISH = ir.FunctionType(ir.VoidType(), [PTR, I1])
TOUCH = ir.FunctionType(I1, [PTR, PTR])


def _field(bld: ir.IRBuilder, log: ir.Value, index: int) -> ir.Value:
    return bld.gep(log, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), index)], source_etype=LOG)


# The functions of the runtime module (defined once by `emit_undo_runtime`, declared where used).
RUNTIME = {
    "fi_undo_grow": GROW,
    "fi_undo_run": RUN,
    "fi_arena_keep": KEEP,
    "fi_list_touch": TOUCH,
    "fi_undo_finish": FINISH,
}


def runtime_function(module: ir.Module, name: str) -> ir.Function:
    """The declaration of the runtime function `name` in `module` (made once)."""
    return module.globals.get(name) or ir.Function(module, RUNTIME[name], name)


def emit_call_or(bld: ir.IRBuilder, name: str, args: list[ir.Value], *, failed: ir.Block) -> None:
    """Call the runtime function `name` (an i1 result); go to `failed` when it returns 0."""
    ok = bld.call(runtime_function(bld.function.module, name), args)
    cont = bld.function.append_basic_block()
    bld.cbranch(ok, cont, failed)
    bld.position_at_end(cont)


def emit_new_log(bld: ir.IRBuilder) -> ir.Value:
    """An empty log on the current function's stack (call in its entry block)."""
    log = bld.alloca(LOG, name="undo")
    bld.store(EMPTY, log)
    return log


def emit_is_precise(bld: ir.IRBuilder, log: ir.Value) -> ir.Value:
    """Whether this call is the precise re-run after a RETRY (i1)."""
    return bld.icmp_unsigned("!=", bld.load(_field(bld, log, PRECISE), typ=I64), ir.Constant(I64, 0))


def emit_precise_scope(bld: ir.IRBuilder, log: ir.Value) -> None:
    """Make `log` a fresh, empty scope for the precise re-run (after `emit_finish` rolled back)."""
    bld.store(EMPTY_PRECISE, log)


def emit_finish(bld: ir.IRBuilder, module: ir.Module, log: ir.Value, roll_back: ir.Value) -> None:
    """After the kernel: roll back if `roll_back`, release the arena, free the buffers (if any were made)."""
    null = ir.Constant(PTR, None)
    logged = bld.icmp_unsigned("!=", bld.load(_field(bld, log, 0), typ=PTR), null)
    used = bld.or_(logged, bld.icmp_unsigned("!=", bld.load(_field(bld, log, 3), typ=PTR), null))
    used = bld.or_(used, bld.icmp_unsigned("!=", bld.load(_field(bld, log, LISTS), typ=PTR), null))
    with bld.if_then(used, likely=False):
        bld.call(runtime_function(module, "fi_undo_finish"), [log, roll_back])


def emit_record(bld: ir.IRBuilder, log: ir.Value, pointer: ir.Value, size: int, *, full: ir.Block) -> None:
    """Log the `size` bytes at `pointer` before they are overwritten; a full log that cannot grow goes to `full`."""
    length_at, capacity_at = _field(bld, log, 1), _field(bld, log, 2)
    length = bld.load(length_at, typ=I64)
    fn = bld.function
    module = fn.module
    with bld.if_then(bld.icmp_unsigned("==", length, bld.load(capacity_at, typ=I64)), likely=False):
        grown = fn.append_basic_block()
        bld.cbranch(bld.call(runtime_function(module, "fi_undo_grow"), [log]), grown, full)
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


def emit_record_run(bld: ir.IRBuilder, log: ir.Value, pointer: ir.Value, nbytes: ir.Value, *, full: ir.Block) -> None:
    """Log the `nbytes` contiguous bytes at `pointer` as one run; if the log cannot grow, go to `full`."""
    emit_call_or(bld, "fi_undo_run", [log, pointer, nbytes], failed=full)


def _memcpy(module: ir.Module) -> ir.Function:
    return intrinsic(module, "llvm.memcpy.p0.p0.i64", ir.VoidType(), [PTR, PTR, I64, I1])


def emit_keep(bld: ir.IRBuilder, log: ir.Value, obj: ir.Value, nbytes: ir.Value, *, full: ir.Block) -> None:
    """Hand the new reference `obj` (an array of `nbytes`) to the arena; past its limits, go to `full`."""
    emit_call_or(bld, "fi_arena_keep", [log, obj, nbytes], failed=full)


def emit_undo_runtime(module: ir.Module) -> None:
    """Define `fi_undo_grow`, `fi_undo_run`, `fi_arena_keep`, `fi_list_touch` and `fi_undo_finish` (runtime module)."""
    _emit_grow(module)
    _emit_run(module)
    _emit_keep(module)
    _emit_touch(module)
    _emit_finish(module)


def _emit_keep(module: ir.Module) -> None:
    """i1 fi_arena_keep(scope*, obj, nbytes): take the reference; 0 (still taken) past the limits or out of memory.

    The reference is released by `fi_undo_finish` either way, except when even the
    arena's buffer cannot grow: then it is released here.
    """
    fn = ir.Function(module, RUNTIME["fi_arena_keep"], "fi_arena_keep")
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
    fn = ir.Function(module, RUNTIME["fi_undo_grow"], "fi_undo_grow")
    (log,) = fn.args
    bld = ir.IRBuilder(fn.append_basic_block("entry"))
    _take_spare(bld, module, log)
    capacity = bld.load(_field(bld, log, 2), typ=I64)
    with bld.if_then(bld.icmp_unsigned("<", bld.load(_field(bld, log, 1), typ=I64), capacity)):
        bld.ret(ir.Constant(I1, 1))  # the spare had room
    empty = bld.icmp_unsigned("==", capacity, ir.Constant(I64, 0))
    new_capacity = bld.select(empty, ir.Constant(I64, FIRST_CAPACITY), bld.mul(capacity, ir.Constant(I64, 2)))
    old = bld.load(_field(bld, log, 0), typ=PTR)
    buffer = bld.call(declare(module, "PyMem_RawRealloc"), [old, bld.mul(new_capacity, ir.Constant(I64, ENTRY_BYTES))])
    with bld.if_then(bld.icmp_unsigned("==", buffer, ir.Constant(PTR, None)), likely=False):
        bld.ret(ir.Constant(I1, 0))
    bld.store(buffer, _field(bld, log, 0))
    bld.store(new_capacity, _field(bld, log, 2))
    bld.ret(ir.Constant(I1, 1))


def _spare(module: ir.Module) -> ir.GlobalVariable:
    """The one spare log buffer of the process (null, or a buffer whose first word is its capacity)."""
    slot = module.globals.get("fi_undo_spare")
    if slot is None:
        slot = ir.GlobalVariable(module, PTR, "fi_undo_spare")
        slot.initializer = ir.Constant(PTR, None)
        slot.linkage = "internal"
    return slot


def _take_spare(bld: ir.IRBuilder, module: ir.Module, log: ir.Value) -> None:
    """A log without a buffer adopts the spare one, if there is one (taken atomically: threads)."""
    null = ir.Constant(PTR, None)
    with bld.if_then(bld.icmp_unsigned("==", bld.load(_field(bld, log, 0), typ=PTR), null)):
        spare = bld.atomic_rmw("xchg", _spare(module), null, "acq_rel")
        with bld.if_then(bld.icmp_unsigned("!=", spare, null)):
            bld.store(spare, _field(bld, log, 0))
            bld.store(bld.load(spare, typ=I64), _field(bld, log, 2))


def _keep_or_free(bld: ir.IRBuilder, module: ir.Module, entries: ir.Value, capacity: ir.Value) -> None:
    """A finished call's buffer becomes the spare, unless there is one or it is over SPARE_BYTES.

    So the log of a big loop is not faulted in again at every call.
    """
    free = declare(module, "PyMem_RawFree")
    with bld.if_then(bld.icmp_unsigned("!=", entries, ir.Constant(PTR, None))):
        small = bld.icmp_unsigned("<=", capacity, ir.Constant(I64, SPARE_BYTES // ENTRY_BYTES))
        with bld.if_else(small) as (keep, drop):
            with keep:
                bld.store(capacity, entries)
                kept = bld.cmpxchg(_spare(module), ir.Constant(PTR, None), entries, "acq_rel", "monotonic")
                with bld.if_then(bld.not_(bld.extract_value(kept, 1))):
                    bld.call(free, [entries])
            with drop:
                bld.call(free, [entries])


def _emit_run(module: ir.Module) -> None:
    """i1 fi_undo_run(log*, ptr, nbytes): append a run (the bytes, then its entry); 0 if memory ran out."""
    fn = ir.Function(module, RUNTIME["fi_undo_run"], "fi_undo_run")
    log, pointer, nbytes = fn.args
    bld = ir.IRBuilder(fn.append_basic_block("entry"))
    _take_spare(bld, module, log)
    length = bld.load(_field(bld, log, 1), typ=I64)
    capacity = bld.load(_field(bld, log, 2), typ=I64)
    slots = bld.lshr(bld.add(nbytes, ir.Constant(I64, ENTRY_BYTES - 1)), ir.Constant(I64, 4))
    need = bld.add(bld.add(length, slots), ir.Constant(I64, 1))
    with bld.if_then(bld.icmp_unsigned(">", need, capacity), likely=False):
        doubled = bld.mul(capacity, ir.Constant(I64, 2))
        new_capacity = bld.select(bld.icmp_unsigned(">", need, doubled), need, doubled)
        old = bld.load(_field(bld, log, 0), typ=PTR)
        bytes_ = bld.mul(new_capacity, ir.Constant(I64, ENTRY_BYTES))
        buffer = bld.call(declare(module, "PyMem_RawRealloc"), [old, bytes_])
        with bld.if_then(bld.icmp_unsigned("==", buffer, ir.Constant(PTR, None)), likely=False):
            bld.ret(ir.Constant(I1, 0))
        bld.store(buffer, _field(bld, log, 0))
        bld.store(new_capacity, _field(bld, log, 2))
    entries = bld.load(_field(bld, log, 0), typ=PTR)
    data = bld.gep(entries, [bld.mul(length, ir.Constant(I64, 2))], source_etype=I64)
    _copy_streaming(bld, data, pointer, nbytes)
    trailer = bld.gep(entries, [bld.mul(bld.add(length, slots), ir.Constant(I64, 2))], source_etype=I64)
    bld.store(bld.ptrtoint(pointer, I64), trailer)  # size 0: a run
    bld.store(nbytes, bld.gep(trailer, [ir.Constant(I64, 1)], source_etype=I64))
    bld.store(need, _field(bld, log, 1))
    bld.ret(ir.Constant(I1, 1))


def _copy_streaming(bld: ir.IRBuilder, dest: ir.Value, src: ir.Value, nbytes: ir.Value) -> None:
    """Copy `nbytes` into the log with non-temporal stores (`dest` is 16-byte aligned: an entry).

    The log is read back only by a rollback: its lines need not be read into the cache
    first, nor evict the array the loop is about to write.
    """
    fn = bld.function
    module = fn.module
    vec = ir.VectorType(I64, 2)
    count = bld.lshr(nbytes, ir.Constant(I64, 4))  # whole entries
    entry = bld.block
    loop, done = fn.append_basic_block("copy"), fn.append_basic_block("copied")
    bld.cbranch(bld.icmp_unsigned("==", count, ir.Constant(I64, 0)), done, loop)
    bld.position_at_end(loop)
    k = bld.phi(I64)
    k.add_incoming(ir.Constant(I64, 0), entry)
    value = bld.load(bld.gep(src, [k], source_etype=vec), typ=vec, align=1)
    store = bld.store(value, bld.gep(dest, [k], source_etype=vec), align=16)
    store.set_metadata("nontemporal", module.add_metadata([ir.Constant(ir.IntType(32), 1)]))
    following = bld.add(k, ir.Constant(I64, 1))
    k.add_incoming(following, loop)
    bld.cbranch(bld.icmp_unsigned("<", following, count), loop, done)
    bld.position_at_end(done)
    copied = bld.shl(count, ir.Constant(I64, 4))
    tail = [bld.gep(p, [copied], source_etype=ir.IntType(8)) for p in (dest, src)]
    bld.call(_memcpy(module), [*tail, bld.and_(nbytes, ir.Constant(I64, 15)), ir.Constant(I1, 0)])


def _emit_finish(module: ir.Module) -> None:
    """Void fi_undo_finish(log*, i1 roll_back): write the old bytes back, newest first; free."""
    fn = ir.Function(module, RUNTIME["fi_undo_finish"], "fi_undo_finish")
    log, roll_back = fn.args
    entry, loop, body, done = (fn.append_basic_block(n) for n in ("entry", "loop", "body", "done"))
    bld = ir.IRBuilder(entry)
    entries = bld.load(_field(bld, log, 0), typ=PTR)
    length = bld.select(roll_back, bld.load(_field(bld, log, 1), typ=I64), ir.Constant(I64, 0))
    bld.branch(loop)
    bld.position_at_end(loop)
    left = bld.phi(I64)
    left.add_incoming(length, entry)
    bld.cbranch(bld.icmp_unsigned("==", left, ir.Constant(I64, 0)), done, body)
    bld.position_at_end(body)
    index = bld.sub(left, ir.Constant(I64, 1))
    record = bld.gep(entries, [bld.mul(index, ir.Constant(I64, 2))], source_etype=I64)
    key = bld.load(record, typ=I64)
    old = bld.load(bld.gep(record, [ir.Constant(I64, 1)], source_etype=I64), typ=I64)
    pointer = bld.inttoptr(bld.and_(key, ir.Constant(I64, (1 << SIZE_SHIFT) - 1)), PTR)
    size = bld.lshr(key, ir.Constant(I64, SIZE_SHIFT))
    next_entry = fn.append_basic_block("next")
    run = fn.append_basic_block("run")
    switch = bld.switch(size, run)
    for width in (1, 2, 4, 8):
        case = fn.append_basic_block(f"size{width}")
        switch.add_case(ir.Constant(I64, width), case)
        bld.position_at_end(case)
        value = old if width == 8 else bld.trunc(old, ir.IntType(width * 8))  # noqa: PLR2004
        bld.store(value, pointer, align=1)
        bld.branch(next_entry)
    bld.position_at_end(run)  # size 0: `old` bytes, in the entries before this one
    slots = bld.lshr(bld.add(old, ir.Constant(I64, ENTRY_BYTES - 1)), ir.Constant(I64, 4))
    first = bld.sub(index, slots)
    data = bld.gep(entries, [bld.mul(first, ir.Constant(I64, 2))], source_etype=I64)
    bld.call(_memcpy(module), [pointer, data, old, ir.Constant(I1, 0)])
    bld.branch(next_entry)
    bld.position_at_end(next_entry)
    after = bld.phi(I64)
    for width_block in switch.cases:
        after.add_incoming(index, width_block[1])
    after.add_incoming(first, run)
    left.add_incoming(after, next_entry)
    bld.branch(loop)
    bld.position_at_end(done)
    _keep_or_free(bld, module, entries, bld.load(_field(bld, log, 2), typ=I64))
    _emit_list_finish(bld, log, roll_back)
    # Then the arena (after the rollback: the log may point into arrays it holds).
    _release_arena(bld, module, log)
    bld.store(EMPTY, log)
    bld.ret_void()


def _release_arena(bld: ir.IRBuilder, module: ir.Module, log: ir.Value) -> None:
    """One Py_DecRef per array the call allocated, then the arena's buffer is freed."""
    fn = bld.function
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


def _emit_touch(module: ir.Module) -> None:
    """i1 fi_list_touch(scope*, list): snapshot `list` unless this call already did; 0 if that failed.

    0 (the kernel deopts) also past MAX_LISTS lists, or with no memory for the snapshot.
    """
    fn = ir.Function(module, RUNTIME["fi_list_touch"], "fi_list_touch")
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
