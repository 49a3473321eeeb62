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
             i64 bytes}

The scope lives on the stack of each entry, so threads (which may run while a
kernel offers the GIL at a signal check) and re-entrant calls never share one.
Buffers come from PyMem_RawRealloc; if that fails the kernel deopts, which
rolls back what was logged, and the bytecode does the work.
"""

from __future__ import annotations

from llvmlite import ir

from fastimport.backend.capi import I1, I64, PTR, declare

LOG = ir.LiteralStructType([PTR, I64, I64, PTR, I64, I64, I64])
EMPTY = ir.Constant(
    LOG, [ir.Constant(PTR, None), *[ir.Constant(I64, 0)] * 2, ir.Constant(PTR, None), *[ir.Constant(I64, 0)] * 3]
)
ARENA_OBJECTS = 1 << 14
ARENA_BYTES = 1 << 30
ENTRY_BYTES = 16
FIRST_CAPACITY = 256
SIZE_SHIFT = 56
GROW = ir.FunctionType(I1, [PTR])
KEEP = ir.FunctionType(I1, [PTR, PTR, I64])
FINISH = ir.FunctionType(ir.VoidType(), [PTR, I1])


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
    """Define `fi_undo_grow`, `fi_arena_keep` and `fi_undo_finish` (in the runtime module)."""
    _emit_grow(module)
    _emit_keep(module)
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


def _emit_finish(module: ir.Module) -> None:
    """Void fi_undo_finish(log*, i1 roll_back): write the old bytes back, newest first; free."""
    fn = ir.Function(module, FINISH, "fi_undo_finish")
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
    switch = bld.switch(size, next_entry)
    for width in (1, 2, 4, 8):
        case = fn.append_basic_block(f"size{width}")
        switch.add_case(ir.Constant(I64, width), case)
        bld.position_at_end(case)
        value = old if width == 8 else bld.trunc(old, ir.IntType(width * 8))  # noqa: PLR2004
        bld.store(value, pointer, align=1)
        bld.branch(next_entry)
    bld.position_at_end(next_entry)
    left.add_incoming(index, next_entry)
    bld.branch(loop)
    bld.position_at_end(done)
    bld.call(declare(module, "PyMem_RawFree"), [entries])
    # Then the arena (after the rollback: the log may point into arrays it holds).
    objects = bld.load(_field(bld, log, 3), typ=PTR)
    count = bld.load(_field(bld, log, 4), typ=I64)
    release, release_body, released = (fn.append_basic_block(n) for n in ("release", "release_body", "released"))
    bld.branch(release)
    bld.position_at_end(release)
    k = bld.phi(I64)
    k.add_incoming(ir.Constant(I64, 0), done)
    bld.cbranch(bld.icmp_unsigned("<", k, count), release_body, released)
    bld.position_at_end(release_body)
    bld.call(declare(module, "Py_DecRef"), [bld.load(bld.gep(objects, [k], source_etype=PTR), typ=PTR)])
    k.add_incoming(bld.add(k, ir.Constant(I64, 1)), release_body)
    bld.branch(release)
    bld.position_at_end(released)
    bld.call(declare(module, "PyMem_RawFree"), [objects])
    bld.store(EMPTY, log)
    bld.ret_void()
