"""Object images (backend/objdigest.py, backend/objload.py): LLVM's object code runs when placed without LLVM.

The objects are made by the JIT's own target machine, so they have the sections and
relocations a `.pym` artifact will carry: code, constants, zeroed and initialised data,
a jump table, and calls out to libm and the C-API. They are digested into images as an
artifact is written, and placed from them. A damaged ELF object or image must be refused
with ObjectFormatError, never crash the process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import random

import pytest
from llvmlite import ir

from fastimport.backend.jit import jit
from fastimport.backend.objdigest import digest
from fastimport.backend.objgroup import merge, split
from fastimport.backend.objload import (
    IMAGE_FIXUP,
    IMAGE_HEADER,
    IMAGE_RUN,
    IMAGE_SYMBOL,
    LoadedObject,
    ObjectFormatError,
    place,
    place_members,
    read_image,
)

F64, I64 = ir.DoubleType(), ir.IntType(64)
LIBM = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")


def _module() -> ir.Module:
    """f(i, x) = sin(x) * TABLE[i & 3] + pick(i), counting its calls; g() = the count; box(x) = PyFloat(x)."""
    module = ir.Module(name="objload_test")
    table = ir.GlobalVariable(module, ir.ArrayType(F64, 4), "table")
    table.initializer = ir.Constant(ir.ArrayType(F64, 4), [1.5, -2.0, 0.25, 3.0])
    table.global_constant = True
    table.linkage = "internal"
    count = ir.GlobalVariable(module, I64, "count")
    count.initializer = ir.Constant(I64, 0)
    count.linkage = "internal"
    sin = ir.Function(module, ir.FunctionType(F64, [F64]), "sin")

    f = ir.Function(module, ir.FunctionType(F64, [I64, F64]), "f")
    entry, *cases, done = (f.append_basic_block(n) for n in ("entry", "c0", "c1", "c2", "c3", "c4", "done"))
    bld = ir.IRBuilder(entry)
    i, x = f.args
    bld.store(bld.add(bld.load(count), ir.Constant(I64, 1)), count)
    slot = bld.gep(table, [ir.Constant(I64, 0), bld.and_(i, ir.Constant(I64, 3))])
    product = bld.fmul(bld.call(sin, [x]), bld.load(slot))
    switch = bld.switch(i, cases[-1])  # dense cases: a jump table in read-only data
    picks = []
    for k, block in enumerate(cases):
        if k < len(cases) - 1:
            switch.add_case(ir.Constant(I64, k), block)
        bld.position_at_end(block)
        picks.append((ir.Constant(F64, 0.5 * k + 0.125), block))
        bld.branch(done)
    bld.position_at_end(done)
    pick = bld.phi(F64)
    for value, block in picks:
        pick.add_incoming(value, block)
    bld.ret(bld.fadd(product, pick))

    g = ir.Function(module, ir.FunctionType(I64, []), "g")
    bld = ir.IRBuilder(g.append_basic_block())
    bld.ret(bld.load(count))

    ptr = ir.PointerType(ir.IntType(8))
    from_double = ir.Function(module, ir.FunctionType(ptr, [F64]), "PyFloat_FromDouble")
    box = ir.Function(module, ir.FunctionType(ptr, [F64]), "box")
    bld = ir.IRBuilder(box.append_basic_block())
    bld.ret(bld.call(from_double, [box.args[0]]))
    return module


def _object() -> bytes:
    from llvmlite import binding as llvm

    machine = jit().target_machine
    mod = llvm.parse_assembly(str(_module()))
    mod.verify()
    return machine.emit_object(mod)


def _resolve(name: str) -> int | None:
    if name == "sin":
        return ctypes.cast(LIBM.sin, ctypes.c_void_p).value
    if name == "PyFloat_FromDouble":
        return ctypes.cast(ctypes.pythonapi.PyFloat_FromDouble, ctypes.c_void_p).value
    return None


def load_object(elf: bytes, resolve: object) -> LoadedObject:
    """Digest `elf` and place its image alone."""
    (loaded,) = place([read_image(digest(elf))], resolve)  # type: ignore[arg-type]
    return loaded


def _pick(i: int) -> float:
    return 0.5 * min(i, 4) + 0.125 if 0 <= i <= 3 else 0.5 * 4 + 0.125


def test_placed_code_runs() -> None:
    """Code, constants, data, a jump table and external calls all relocated: the results of the source."""
    loaded = load_object(_object(), _resolve)
    f = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_int64, ctypes.c_double)(loaded.symbols["f"])
    g = ctypes.CFUNCTYPE(ctypes.c_int64)(loaded.symbols["g"])
    box = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_double)(loaded.symbols["box"])
    table = [1.5, -2.0, 0.25, 3.0]
    for i in (0, 1, 2, 3, 4, 7, -1):
        for x in (0.0, 0.5, -3.25):
            assert f(i, x) == math.sin(x) * table[i & 3] + _pick(i)
    assert g() == 21  # the counter lives in the object's own writable data
    assert box(2.75) == 2.75
    assert type(box(2.75)) is float
    # Each load is a separate copy with its own data.
    again = load_object(_object(), _resolve)
    assert ctypes.CFUNCTYPE(ctypes.c_int64)(again.symbols["g"])() == 0


def test_an_unknown_symbol_is_refused() -> None:
    """A symbol the resolver does not know: ObjectFormatError naming it."""
    with pytest.raises(ObjectFormatError, match="PyFloat_FromDouble"):
        load_object(_object(), lambda name: _resolve(name) if name != "PyFloat_FromDouble" else None)


def test_images_placed_together_keep_their_own_code_and_data() -> None:
    """Several images in one mapping: each runs, with its own counter, and its symbols point into the mapping."""
    image = digest(_object())
    first, second = place([read_image(image), read_image(image)], _resolve)
    f = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_int64, ctypes.c_double)(second.symbols["f"])
    assert f(2, 0.5) == math.sin(0.5) * 0.25 + _pick(2)
    assert ctypes.CFUNCTYPE(ctypes.c_int64)(second.symbols["g"])() == 1
    assert ctypes.CFUNCTYPE(ctypes.c_int64)(first.symbols["g"])() == 0
    assert first.base == second.base
    assert all(first.base <= address < first.base + first.size for address in second.symbols.values())


def test_a_merged_image_places_each_member_with_its_own_symbols() -> None:
    """Two members defining the same names, merged into one image: each member's f and g are its own."""
    image = digest(_object())
    merged, table = merge({"unit:0": image, "unit:1": image})
    placed = place_members(read_image(merged), table, _resolve)
    assert set(placed) == {"unit:0", "unit:1"}
    first, second = placed["unit:0"], placed["unit:1"]
    assert set(first.symbols) == set(second.symbols) == {"f", "g", "box"}
    assert first.symbols["f"] != second.symbols["f"]
    f = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_int64, ctypes.c_double)(second.symbols["f"])
    for i in (0, 3, 9):
        assert f(i, 0.5) == math.sin(0.5) * [1.5, -2.0, 0.25, 3.0][i & 3] + _pick(i)
    assert ctypes.CFUNCTYPE(ctypes.c_int64)(second.symbols["g"])() == 3
    assert ctypes.CFUNCTYPE(ctypes.c_int64)(first.symbols["g"])() == 0  # the other member's counter
    box = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_double)(first.symbols["box"])
    assert box(-0.0).hex() == "-0x0.0p+0"


def test_splitting_gives_the_members_back() -> None:
    """split(merge(members)) is the members, byte for byte; merging them again gives the same image."""
    image = digest(_object())
    other = digest(_object_without_data())
    members = {"unit:0": image, "shape:x": other, "unit:1": image}
    merged, table = merge(members)
    assert split(merged, table) == members
    assert merge(split(merged, table)) == (merged, table)
    assert [row[0] for row in table] == list(members)


def test_member_tables_that_do_not_fit_are_refused() -> None:
    """A member table out of bounds, or sharing out the wrong number of symbols: ObjectFormatError."""
    merged, table = merge({"unit:0": digest(_object()), "unit:1": digest(_object())})
    code_size = IMAGE_HEADER.unpack_from(merged)[3]
    bad_tables = [
        [table[0]],  # a member missing: its symbols are nobody's
        [table[0], [*table[1][:7], table[1][7] + 1]],
        [table[0], ["unit:1", code_size, 1, *table[1][3:]]],  # code past the end
        [table[0], ["unit:1", *table[1][1:7], -1]],
        [table[0], table[1][:5]],
        [[0, *table[0][1:]], table[1]],
    ]
    for bad in bad_tables:
        with pytest.raises(ObjectFormatError):
            split(merged, bad)  # type: ignore[arg-type]
    for bad in bad_tables:
        with pytest.raises(ObjectFormatError):
            place_members(read_image(merged), bad, _resolve)  # type: ignore[arg-type]


def test_a_fixup_past_the_end_of_its_part_is_refused() -> None:
    """A relocation's eight bytes must lie inside its part: one byte over is refused, not written past it."""
    good = digest(_object())
    _magic, _v, _f, code_size, _ca, data_size, _da, n_symbols, _r, _n = IMAGE_HEADER.unpack_from(good)
    runs_at = IMAGE_HEADER.size + code_size + data_size + n_symbols * IMAGE_SYMBOL.size
    part, _kind, rtype, _target, count = IMAGE_RUN.unpack_from(good, runs_at)
    assert rtype == 1  # R_X86_64_64: what the large code model emits
    assert count >= 1
    room = (code_size, data_size)[part]
    fixup_at = runs_at + IMAGE_RUN.size
    _offset, addend = IMAGE_FIXUP.unpack_from(good, fixup_at)
    for offset, fits in ((room - 8, True), (room - 7, False), (room, False), (1 << 31, False)):
        image = bytearray(good)
        IMAGE_FIXUP.pack_into(image, fixup_at, offset, addend)
        if fits:
            place([read_image(bytes(image))], _resolve)  # (patched where it said: never run)
        else:
            with pytest.raises(ObjectFormatError, match="out of bounds"):
                place([read_image(bytes(image))], _resolve)


def _object_without_data() -> bytes:
    """An object of one function and no data at all: g() = 7."""
    from llvmlite import binding as llvm

    module = ir.Module(name="objload_plain")
    g = ir.Function(module, ir.FunctionType(I64, []), "g")
    ir.IRBuilder(g.append_basic_block()).ret(ir.Constant(I64, 7))
    return jit().target_machine.emit_object(llvm.parse_assembly(str(module)))


def test_digesting_is_deterministic_and_drops_what_is_not_loaded() -> None:
    """The same object gives the same image; no unwind tables, and smaller than the ELF it came from."""
    elf = _object()
    assert digest(elf) == digest(elf)
    assert b".eh_frame" not in digest(elf)
    assert len(digest(elf)) < len(elf)


def test_damaged_objects_are_refused_never_crash() -> None:
    """Truncations, byte flips and garbage in the ELF object: ObjectFormatError (or an image that places)."""
    good = _object()
    rng = random.Random(1234)  # noqa: S311 - reproducible damage, not secrets
    cases = [b"", b"\x7fELF", good[:64], bytes(len(good)), rng.randbytes(len(good))]
    cases += [good[: rng.randrange(len(good))] for _ in range(300)]
    for _ in range(1500):
        damaged = bytearray(good)
        for _ in range(rng.choice((1, 1, 2, 8))):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        cases.append(bytes(damaged))
    refused = sum(_refused(data) for data in cases)
    assert refused >= 300  # every truncation and the garbage at least


def test_damaged_images_are_refused_never_crash() -> None:
    """Truncations and byte flips in the image's header, symbols, relocations and names: refused or placed in bounds."""
    good = digest(_object())
    rng = random.Random(4321)  # noqa: S311 - reproducible damage, not secrets
    cases = [good[:size] for size in range(0, len(good), 7)]
    code_size = int.from_bytes(good[12:16], "little")
    data_size = int.from_bytes(good[20:24], "little")
    tables = 36 + code_size + data_size  # where the symbols begin (IMAGE_HEADER is 36 bytes)
    for _ in range(2000):
        damaged = bytearray(good)
        for _ in range(rng.choice((1, 1, 2, 4))):
            # the header and the tables: flips inside the code would only be code (never run here)
            position = rng.choice((rng.randrange(36), rng.randrange(tables, len(good))))
            damaged[position] = rng.randrange(256)
        cases.append(bytes(damaged))
    refused = 0
    for data in cases:
        try:
            loaded = place([read_image(data)], _resolve)[0]
        except ObjectFormatError:  # noqa: PERF203 - each case on its own
            refused += 1
        else:
            assert all(loaded.base <= a <= loaded.base + loaded.size for a in loaded.symbols.values())
    assert refused >= len(good) // 7  # every truncation at least


def _refused(data: bytes) -> bool:
    try:
        load_object(data, _resolve)  # a flipped byte inside the code still loads: it is never run
    except ObjectFormatError:
        return True
    return False
