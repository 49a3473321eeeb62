"""Loading an ELF relocatable object (x86-64) into executable memory, without LLVM.

A warm run must not import llvmlite (~125 ms with its target set-up): the object code
of a `.pym` artifact (issue #4) is placed and relocated here instead of by MCJIT.
What LLVM emits for our target machine (large code model, `jit=True`) needs little:
sections to place, symbols to resolve, and a handful of relocation types.

    load_object(data, resolve) -> LoadedObject
        every allocated section is copied into one anonymous mapping (code first,
        page-aligned, then data; no-bits sections stay zero), each relocation patched
        with its symbol's address (`resolve(name)` for undefined ones: the C-API, libm,
        the runtime's functions), then the code pages are made read+execute.

Everything read from the file is bounds-checked: a malformed object raises
ObjectFormatError before any memory is mapped, an unknown symbol or relocation type
after (the mapping is then released). `.eh_frame` is not loaded (nothing unwinds
through kernels: they return status codes).
"""

from __future__ import annotations

import ctypes
import mmap
import struct

TYPE_CHECKING = False  # a warm run imports this: no typing, no dataclasses (~8 ms)
if TYPE_CHECKING:
    from collections.abc import Callable

PAGE = mmap.PAGESIZE
MAX_IMAGE = 64 << 20  # bytes placed per object, at most (a damaged no-bits size must not map terabytes)

# ELF constants (System V gABI, x86-64 psABI).
ELF_MAGIC = b"\x7fELF"
ELFCLASS64, ELFDATA2LSB, ET_REL, EM_X86_64 = 2, 1, 1, 62
SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS = 1, 2, 3, 4, 8
SHT_X86_64_UNWIND = 0x70000001
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2
STB_LOCAL = 0
STT_SECTION = 3
R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_32, R_X86_64_32S, R_X86_64_PC64 = 1, 2, 4, 10, 11, 24

_HEADER = struct.Struct("<4sBBBBB7xHHIQQQIHHHHHH")
_SECTION = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")

# relocation type -> (width in bytes, pc-relative, signed)
_RELOCATIONS = {
    R_X86_64_64: (8, False, False),
    R_X86_64_PC64: (8, True, True),
    R_X86_64_PC32: (4, True, True),
    R_X86_64_PLT32: (4, True, True),
    R_X86_64_32: (4, False, False),
    R_X86_64_32S: (4, False, True),
}


class ObjectFormatError(ValueError):
    """The bytes are not an object this loader can place (malformed, or a feature it lacks)."""


class _Section:
    __slots__ = ("address", "align", "flags", "info", "link", "name", "offset", "size", "type")

    def __init__(self, name: str, *fields: int) -> None:  # type, flags, offset, size, link, info, align
        self.name = name
        self.type, self.flags, self.offset, self.size, self.link, self.info, self.align = fields
        self.address = 0  # where it was placed (0: not loaded)


class LoadedObject:
    """A placed object: its global symbols' addresses; the mapping lives as long as the process."""

    def __init__(self, symbols: dict[str, int], base: int, size: int, sections: dict[str, int] | None = None) -> None:
        self.symbols = symbols
        self.base = base
        self.size = size
        self.sections = sections if sections is not None else {}
        self.keepalive: list[object] = []  # the Python objects its code refers to


def load_object(data: bytes, resolve: Callable[[str], int | None]) -> LoadedObject:
    """Place and relocate the ELF relocatable object `data`; undefined symbols come from `resolve`."""
    sections, symbols = _parse(data)
    placed = [s for s in sections if s.flags & SHF_ALLOC and s.type != SHT_X86_64_UNWIND and s.name != ".eh_frame"]
    code = [s for s in placed if s.flags & SHF_EXECINSTR]
    rest = [s for s in placed if not s.flags & SHF_EXECINSTR]
    offsets: dict[int, int] = {}
    end = 0
    for group in (code, rest):
        end = _round_up(end, PAGE)
        for section in group:
            end = _round_up(end, max(section.align, 1))
            offsets[id(section)] = end
            end += section.size
    if end > MAX_IMAGE:
        raise ObjectFormatError(f"sections too large to place ({end} bytes)")
    code_size = _round_up(max((offsets[id(s)] + s.size for s in code), default=0), PAGE)
    size = max(_round_up(end, PAGE), PAGE)
    base = _map(size)
    try:
        for section in placed:
            section.address = base + offsets[id(section)]
            if section.type != SHT_NOBITS and section.size:
                ctypes.memmove(section.address, data[section.offset : section.offset + section.size], section.size)
        addresses = _symbol_addresses(symbols, sections, resolve)
        for rela in sections:
            if rela.type == SHT_RELA and sections[rela.info].address:
                _relocate(data, rela, sections[rela.info], addresses)
        if code_size:
            _protect(base, code_size, mmap.PROT_READ | mmap.PROT_EXEC)
    except BaseException:
        _unmap(base, size)
        raise
    exported = {
        name: addresses[k]
        for k, (name, bind, _kind, shndx, _value) in enumerate(symbols)
        if name and bind != STB_LOCAL and shndx != SHN_UNDEF
    }
    return LoadedObject(exported, base, size, {s.name: s.address for s in placed})


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


def _symbol_addresses(
    symbols: list[tuple[str, int, int, int, int]], sections: list[_Section], resolve: Callable[[str], int | None]
) -> list[int]:
    """Each symbol's address: in a placed section, absolute, or resolved by name."""
    addresses = []
    for name, _bind, kind, shndx, value in symbols:
        if shndx == SHN_UNDEF:
            if not name:  # the null symbol
                addresses.append(0)
                continue
            address = resolve(name)
            if not address:
                raise ObjectFormatError(f"undefined symbol {name!r}")
            addresses.append(address)
        elif shndx == SHN_ABS:
            addresses.append(value)
        else:
            section = sections[shndx]
            if not section.address:  # a symbol in a section not loaded (debug info, unwind tables)
                addresses.append(0)
                continue
            if value > section.size:
                raise ObjectFormatError(f"symbol {name!r} outside its section")
            addresses.append(section.address + (0 if kind == STT_SECTION else value))
    return addresses


def _relocate(data: bytes, rela: _Section, target: _Section, addresses: list[int]) -> None:
    """Patch `target` (placed) with the relocations of `rela`."""
    for k in range(rela.size // _RELA.size):
        offset, info, addend = _RELA.unpack_from(data, rela.offset + k * _RELA.size)
        kind, index = info & 0xFFFFFFFF, info >> 32
        if kind not in _RELOCATIONS:
            raise ObjectFormatError(f"relocation type {kind} is not supported")
        width, relative, signed = _RELOCATIONS[kind]
        if index >= len(addresses) or offset + width > target.size:
            raise ObjectFormatError("relocation out of bounds")
        symbol = addresses[index]
        if not symbol:
            raise ObjectFormatError("relocation against a symbol that was not loaded")
        place = target.address + offset
        value = symbol + addend - (place if relative else 0)
        bits = width * 8
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if not low <= value <= high:
            raise ObjectFormatError(f"relocation of type {kind} does not fit: {value:#x}")
        ctypes.memmove(place, value.to_bytes(width, "little", signed=signed), width)


def _round_up(n: int, align: int) -> int:
    return (n + align - 1) // align * align


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAP_FAILED = ctypes.c_void_p(-1).value


def _map(size: int) -> int:
    """`size` bytes of fresh read+write memory (zeroed), page-aligned."""
    address = _libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    if address in (None, _MAP_FAILED):
        raise MemoryError(f"mmap of {size} bytes failed (errno {ctypes.get_errno()})")
    return address


def _protect(address: int, size: int, prot: int) -> None:
    if _libc.mprotect(address, size, prot) != 0:
        raise OSError(ctypes.get_errno(), "mprotect failed")


def _unmap(address: int, size: int) -> None:
    _libc.munmap(address, size)
