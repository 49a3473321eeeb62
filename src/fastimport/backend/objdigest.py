"""Turning LLVM's ELF object code into the image a `.pym` carries (backend/objload.py places it).

    digest(elf) -> bytes
        the ELF64 x86-64 relocatable object MCJIT or `fastimport compile` produced, laid out
        once, when the artifact is written: the code sections back to back, the data
        sections back to back, the exported symbols by offset, the relocations in runs by
        what they point at (the code or data part, or a name the loader resolves), each
        fixup by the offset it patches. `.eh_frame` is dropped (nothing unwinds through kernels: they
        return status codes), and so are the sections nothing loads.

Parsing ELF, symbol names and section layout is the slow part of placing an object
(~0.1 ms each in Python); doing it here, at write time, leaves a warm run a memmove and
the relocations. Everything read is bounds-checked: a malformed object is an
ObjectFormatError.
"""

from __future__ import annotations

import struct

from fastimport.backend.objload import (
    CODE,
    DATA,
    EXTERNAL,
    IMAGE_FIXUP,
    IMAGE_HEADER,
    IMAGE_MAGIC,
    IMAGE_RUN,
    IMAGE_SYMBOL,
    IMAGE_VERSION,
    MAX_IMAGE,
    PAGE,
    RELOCATIONS,
    ObjectFormatError,
    round_up,
)

# ELF constants (System V gABI, x86-64 psABI).
ELF_MAGIC = b"\x7fELF"
ELFCLASS64, ELFDATA2LSB, ET_REL, EM_X86_64 = 2, 1, 1, 62
SHT_SYMTAB, SHT_RELA, SHT_NOBITS = 2, 4, 8
SHT_X86_64_UNWIND = 0x70000001
SHF_ALLOC, SHF_EXECINSTR = 0x2, 0x4
SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2
STB_LOCAL = 0
STT_SECTION = 3

_HEADER = struct.Struct("<4sBBBBB7xHHIQQQIHHHHHH")
_SECTION = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")


class _Section:
    __slots__ = ("align", "flags", "info", "link", "name", "offset", "part", "size", "start", "type")

    def __init__(self, name: str, *fields: int) -> None:  # type, flags, offset, size, link, info, align
        self.name = name
        self.type, self.flags, self.offset, self.size, self.link, self.info, self.align = fields
        self.part = -1  # CODE or DATA once laid out (-1: not loaded)
        self.start = 0  # its offset in that part


def digest(data: bytes) -> bytes:
    """The image of the ELF relocatable object `data` (its format: backend/objload.py)."""
    sections, symbols = _parse(data)
    placed = [s for s in sections if s.flags & SHF_ALLOC and s.type != SHT_X86_64_UNWIND and s.name != ".eh_frame"]
    parts = [bytearray(), bytearray()]
    aligns = [16, 16]
    for section in placed:
        part = CODE if section.flags & SHF_EXECINSTR else DATA
        align = max(section.align, 1)
        aligns[part] = max(aligns[part], align)
        start = round_up(len(parts[part]), align)
        if start + section.size > MAX_IMAGE:
            raise ObjectFormatError(f"sections too large to place ({start + section.size} bytes)")
        parts[part].extend(bytes(start - len(parts[part])))
        if section.type == SHT_NOBITS:
            parts[part].extend(bytes(section.size))
        else:
            parts[part].extend(data[section.offset : section.offset + section.size])
        section.part, section.start = part, start
    targets = [_target(symbol, sections) for symbol in symbols]
    exported = [
        (name, sections[shndx].part, sections[shndx].start + value)
        for name, bind, _kind, shndx, value in symbols
        if name and bind != STB_LOCAL and shndx not in (SHN_UNDEF, SHN_ABS) and sections[shndx].part >= 0
    ]
    relocations = []
    for rela in sections:
        if rela.type == SHT_RELA and sections[rela.info].part >= 0:
            relocations += _relocations(data, rela, sections[rela.info], targets)
    return pack_image((bytes(parts[CODE]), bytes(parts[DATA])), (aligns[CODE], aligns[DATA]), exported, relocations)


# A relocation before it is packed: the part and offset patched, the target kind, the type,
# the target (an offset in the code or data part, or a name), the addend.
Relocation = tuple[int, int, int, int, "int | str", int]


def pack_image(
    parts: tuple[bytes, bytes],
    aligns: tuple[int, int],
    symbols: list[tuple[str, int, int]],
    relocations: list[Relocation],
) -> bytes:
    """An image's bytes: its parts, `symbols` (name, part, offset) and `relocations`, in runs.

    One run per (part, target kind, type, target), sorted by those: a target in the code
    or data part moves into the addend (an offset from the part's start), so all the
    relocations against one part or one name share a run, and the fixups of a run keep
    the order they came in. The same symbols and relocations give the same bytes, whatever
    order the runs came in (backend/objgroup.py relies on it).
    """
    grouped: dict[tuple[int, int, int, str], list[bytes]] = {}
    for part, kind, rtype, offset, target, addend in relocations:
        if kind == EXTERNAL:
            key = (part, kind, rtype, target)
        else:
            key, addend = (part, kind, rtype, ""), addend + target  # type: ignore[operator]  # noqa: PLW2901
        grouped.setdefault(key, []).append(IMAGE_FIXUP.pack(offset, addend))  # type: ignore[arg-type]
    names = _Names()
    table = [IMAGE_SYMBOL.pack(names.offset(name), part, offset) for name, part, offset in symbols]
    packed_runs = b"".join(
        IMAGE_RUN.pack(part, kind, rtype, names.offset(target) if kind == EXTERNAL else 0, len(fixups))
        + b"".join(fixups)
        for (part, kind, rtype, target), fixups in sorted(grouped.items())
    )
    header = IMAGE_HEADER.pack(
        IMAGE_MAGIC, IMAGE_VERSION, 0, len(parts[CODE]), aligns[CODE], len(parts[DATA]), aligns[DATA],
        len(symbols), len(packed_runs), len(names.table),
    )  # fmt: skip
    return b"".join([header, parts[CODE], parts[DATA], *table, packed_runs, names.table])


class _Names:
    """The image's name table: NUL-terminated UTF-8, each name once."""

    def __init__(self) -> None:
        self.table = bytearray()
        self.offsets: dict[str, int] = {}

    def offset(self, name: str) -> int:
        if name not in self.offsets:
            self.offsets[name] = len(self.table)
            self.table += name.encode() + b"\0"
        return self.offsets[name]


def _target(symbol: tuple[str, int, int, int, int], sections: list[_Section]) -> tuple[int, int | str] | None:
    """What a relocation against `symbol` points at: (part, offset), (EXTERNAL, name), or None (not loaded)."""
    name, _bind, kind, shndx, value = symbol
    if shndx == SHN_UNDEF:
        return (EXTERNAL, name) if name else None
    if shndx == SHN_ABS:
        return None  # file symbols and the like: nothing we emit relocates against them
    section = sections[shndx]
    if section.part < 0:
        return None
    if value > section.size:
        raise ObjectFormatError(f"symbol {name!r} outside its section")
    return section.part, section.start + (0 if kind == STT_SECTION else value)


def _relocations(
    data: bytes, rela: _Section, target: _Section, targets: list[tuple[int, int | str] | None]
) -> list[Relocation]:
    """`rela`'s entries as image relocations: (part, target kind, type, offset, target, addend)."""
    out = []
    for k in range(rela.size // _RELA.size):
        offset, info, addend = _RELA.unpack_from(data, rela.offset + k * _RELA.size)
        kind, index = info & 0xFFFFFFFF, info >> 32
        if kind not in RELOCATIONS:
            raise ObjectFormatError(f"relocation type {kind} is not supported")
        if index >= len(targets) or offset + RELOCATIONS[kind][0] > target.size:
            raise ObjectFormatError("relocation out of bounds")
        pointee = targets[index]
        if pointee is None:
            raise ObjectFormatError("relocation against a symbol that is not loaded")
        out.append((target.part, pointee[0], kind, target.start + offset, pointee[1], addend))
    return out


def _parse(data: bytes) -> tuple[list[_Section], list[tuple[str, int, int, int, int]]]:
    """The section headers and the symbol table (name, binding, type, section index, value), all checked."""
    sections = _sections(data)
    symtabs = [s for s in sections if s.type == SHT_SYMTAB]
    if len(symtabs) != 1 or symtabs[0].size % _SYMBOL.size:
        raise ObjectFormatError("expected one symbol table")
    table = symtabs[0]
    for s in sections:
        if s.type == SHT_RELA and (s.info >= len(sections) or s.link != sections.index(table) or s.size % _RELA.size):
            raise ObjectFormatError("bad relocation section")
    return sections, _symbols(data, table, sections)


def _sections(data: bytes) -> list[_Section]:
    """The section headers, their names, offsets and sizes checked against the file."""
    if len(data) < _HEADER.size:
        raise ObjectFormatError("shorter than an ELF header")
    fields = _HEADER.unpack_from(data)
    magic, cls, order, kind, machine = fields[0], fields[1], fields[2], fields[6], fields[7]
    shoff, shentsize, shnum, shstrndx = fields[11], fields[16], fields[17], fields[18]
    if magic != ELF_MAGIC or cls != ELFCLASS64 or order != ELFDATA2LSB:
        raise ObjectFormatError("not a little-endian 64-bit ELF file")
    if kind != ET_REL or machine != EM_X86_64:
        raise ObjectFormatError(f"not an x86-64 relocatable object (type {kind}, machine {machine})")
    if shentsize != _SECTION.size or shnum == 0 or shoff + shnum * shentsize > len(data) or shstrndx >= shnum:
        raise ObjectFormatError("section header table out of bounds")
    raw = [_SECTION.unpack_from(data, shoff + k * shentsize) for k in range(shnum)]
    for _name, kind, _flags, _addr, offset, size, link, _info, align, _entsize in raw:
        if kind != SHT_NOBITS and offset + size > len(data):
            raise ObjectFormatError("section contents out of bounds")
        if link >= shnum or align & (align - 1) or align > PAGE:
            raise ObjectFormatError("bad section link or alignment")
    names = raw[shstrndx]
    return [_Section(_string(data, names[4], names[5], r[0]), r[1], r[2], r[4], r[5], r[6], r[7], r[8]) for r in raw]


def _symbols(data: bytes, table: _Section, sections: list[_Section]) -> list[tuple[str, int, int, int, int]]:
    """The symbol table's entries: (name, binding, type, section index, value)."""
    strings = sections[table.link]
    symbols = []
    for k in range(table.size // _SYMBOL.size):
        st_name, info, _other, shndx, value, _size = _SYMBOL.unpack_from(data, table.offset + k * _SYMBOL.size)
        if shndx == SHN_COMMON:
            raise ObjectFormatError("common symbols are not supported")
        if shndx not in (SHN_UNDEF, SHN_ABS) and shndx >= len(sections):
            raise ObjectFormatError("symbol in a section that does not exist")
        symbols.append((_string(data, strings.offset, strings.size, st_name), info >> 4, info & 0xF, shndx, value))
    return symbols


def _string(data: bytes, offset: int, size: int, index: int) -> str:
    if index >= size:
        raise ObjectFormatError("string index out of bounds")
    end = data.find(b"\0", offset + index, offset + size)
    if end < 0:
        raise ObjectFormatError("unterminated string")
    try:
        return data[offset + index : end].decode()
    except UnicodeDecodeError as exc:
        raise ObjectFormatError("a name is not UTF-8") from exc
