"""Placing object code in executable memory and relocating it, without LLVM.

A warm run must not import llvmlite (~125 ms with its target set-up): the object code
of a `.pym` artifact (issue #4) is placed here instead of by MCJIT. When the artifact is
written, backend/objdigest.py turns LLVM's ELF object into an *image*, already laid out:

    header    IMAGE_HEADER: magic "FIOB", version, flags (0), the code part's size and
              alignment, the data part's size and alignment, the number of symbols, of
              relocations, and the size of the name table
    code      the executable sections, back to back
    data      the other loaded sections (constants, jump tables, zeroed data)
    symbols   IMAGE_SYMBOL each: name (offset in the name table), part, offset in it
    relocs    runs: IMAGE_RUN (the part patched, the relocation type (x86-64 psABI), what
              the run points at: CODE, DATA or EXTERNAL and a name, and the number of
              fixups), then that many IMAGE_FIXUP (the offset patched, the addend; for
              CODE and DATA the addend counts from the start of that part). One target per
              run: a warm run resolves it once and patches its fixups in a tight loop.
    names     NUL-terminated UTF-8

    read_image(blob) -> Image            the header and the pieces' sizes checked against the blob
    place(images, resolve) -> [LoadedObject]
        one anonymous mapping for all of `images`: their code parts first, then (from the
        next page) their data parts; each relocation patched (`resolve(name)` for external
        names: the C-API, libm, the runtime's functions), then the code pages made
        read+execute. One mapping, one copy and one protection change for a whole module.

A malformed image raises ObjectFormatError: a bad header or size before any memory is
mapped; a symbol, relocation or name out of bounds, an unknown name, or a value that does
not fit its relocation while placing (the mapping is then released, nothing has run).
"""

from __future__ import annotations

import ctypes
import mmap
import struct

TYPE_CHECKING = False  # a warm run imports this: no typing, no dataclasses (~8 ms)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

PAGE = mmap.PAGESIZE
MAX_IMAGE = 64 << 20  # bytes per part, at most (a damaged size must not map terabytes)

IMAGE_MAGIC = b"FIOB"
IMAGE_VERSION = 2
IMAGE_HEADER = struct.Struct("<4sHHIIIIIII")  # magic, version, flags, code size, align, data size, align, sizes
IMAGE_SYMBOL = struct.Struct("<IBxxxI")  # name, part, offset
IMAGE_RUN = struct.Struct("<BBBxII")  # part, target kind, type, target (a name; 0 for CODE, DATA), fixups
IMAGE_FIXUP = struct.Struct("<Iq")  # offset, addend
CODE, DATA, EXTERNAL = 0, 1, 2
MEMBER_FIELDS = 8  # a merged image's member: name, code start, size, alignment, data start, size, alignment, symbols

R_X86_64_64 = 1
# x86-64 relocation type -> (width in bytes, pc-relative, signed)
RELOCATIONS = {
    R_X86_64_64: (8, False, False),
    24: (8, True, True),  # R_X86_64_PC64
    2: (4, True, True),  # R_X86_64_PC32
    4: (4, True, True),  # R_X86_64_PLT32
    10: (4, False, False),  # R_X86_64_32
    11: (4, False, True),  # R_X86_64_32S
}
_PACK = {(8, False): struct.Struct("<Q"), (8, True): struct.Struct("<q"), (4, False): struct.Struct("<I"),
         (4, True): struct.Struct("<i")}  # fmt: skip


class ObjectFormatError(ValueError):
    """The bytes are not an object this loader can place (malformed, or a feature it lacks)."""


class Image:
    """An image whose header and sizes are checked; its symbols and relocations are checked as they are used."""

    __slots__ = ("aligns", "names", "parts", "relocations", "symbols")

    def __init__(
        self,
        parts: tuple[memoryview, memoryview],
        aligns: tuple[int, int],
        symbols: memoryview,
        relocations: memoryview,
        names: tuple[bytes, int, int],
    ) -> None:
        self.parts = parts
        self.aligns = aligns
        self.symbols = symbols  # IMAGE_SYMBOL entries
        self.relocations = relocations  # runs of IMAGE_RUN and its IMAGE_FIXUPs
        self.names = names  # (the blob, where the name table starts, its size)


class LoadedObject:
    """A placed image: its global symbols' addresses; the mapping lives as long as the process."""

    def __init__(self, symbols: dict[str, int], base: int, size: int) -> None:
        self.symbols = symbols
        self.base = base  # of the whole mapping (shared by the images placed together)
        self.size = size
        self.keepalive: list[object] = []  # the Python objects its code refers to


def read_image(blob: bytes) -> Image:
    """The image in `blob`, its header and the sizes of its pieces checked (ObjectFormatError if wrong)."""
    if len(blob) < IMAGE_HEADER.size:
        raise ObjectFormatError("shorter than an image header")
    magic, version, flags, code_size, code_align, data_size, data_align, n_symbols, relocations_size, names_size = (
        IMAGE_HEADER.unpack_from(blob)
    )
    if magic != IMAGE_MAGIC or version != IMAGE_VERSION or flags:
        raise ObjectFormatError("not an object image of this version")
    if code_size > MAX_IMAGE or data_size > MAX_IMAGE:
        raise ObjectFormatError("parts too large to place")
    for align in (code_align, data_align):
        if not 0 < align <= PAGE or align & (align - 1):
            raise ObjectFormatError("bad alignment")
    view = memoryview(blob)
    code_at = IMAGE_HEADER.size
    symbols_at = code_at + code_size + data_size
    relocations_at = symbols_at + n_symbols * IMAGE_SYMBOL.size
    names_at = relocations_at + relocations_size
    if names_at + names_size != len(blob):
        raise ObjectFormatError("the image's size does not match its header")
    return Image(
        (view[code_at : code_at + code_size], view[code_at + code_size : symbols_at]),
        (code_align, data_align),
        view[symbols_at:relocations_at],
        view[relocations_at:names_at],
        (blob, names_at, names_size),
    )


def _names(blob: bytes, start: int, size: int) -> dict[int, str]:
    """An image's name table: each name by its offset (ObjectFormatError if one is not UTF-8)."""
    table, at = {}, 0
    try:
        for raw in blob[start : start + size].split(b"\0")[:-1]:  # (what follows the last NUL is no name)
            table[at] = raw.decode()
            at += len(raw) + 1
    except UnicodeDecodeError as exc:
        raise ObjectFormatError("a name is not UTF-8") from exc
    return table


def names_of(image: Image) -> dict[int, str]:
    """`image`'s name table: each name by its offset."""
    return _names(*image.names)


def place(images: list[Image], resolve: Callable[[str], int | None]) -> list[LoadedObject]:
    """Place `images` in one mapping and relocate them; their objects, in order."""
    base, size, symbols = _place(images, resolve)
    return [LoadedObject(dict(pairs), base, size) for pairs in symbols]


def place_members(
    image: Image, members: list[list[Any]], resolve: Callable[[str], int | None]
) -> dict[str, LoadedObject]:
    """Place a module's image (backend/objgroup.py) and relocate it; an object per member, by name.

    `members`: [name, code start, code size, code alignment, data start, data size, data
    alignment, number of symbols] each, in order (each member's symbols follow the
    previous member's); a table that does not fit the image is an ObjectFormatError.
    """
    bounds = member_bounds(image, members)
    base, size, (pairs,) = _place([image], resolve)
    loaded, at = {}, 0
    for name, _starts, _sizes, _aligns, count in bounds:
        loaded[name] = LoadedObject(dict(pairs[at : at + count]), base, size)
        at += count
    return loaded


def member_bounds(
    image: Image, members: list[list[Any]]
) -> list[tuple[str, list[int], list[int], tuple[int, int], int]]:
    """`members` as (name, starts, sizes, alignments, number of symbols), each checked against `image`."""
    bounds = []
    counted = 0
    for member in members:
        if not (type(member) is list and len(member) == MEMBER_FIELDS and type(member[0]) is str):
            raise ObjectFormatError("bad member entry")
        if any(type(value) is not int or value < 0 for value in member[1:]):
            raise ObjectFormatError("bad member entry")
        name, code_start, code_size, code_align, data_start, data_size, data_align, count = member
        if code_start + code_size > len(image.parts[CODE]) or data_start + data_size > len(image.parts[DATA]):
            raise ObjectFormatError(f"member {name!r} out of bounds")
        bounds.append((name, [code_start, data_start], [code_size, data_size], (code_align, data_align), count))
        counted += count
    if counted * IMAGE_SYMBOL.size != len(image.symbols):
        raise ObjectFormatError("the members do not share out the image's symbols")
    return bounds


def _place(images: list[Image], resolve: Callable[[str], int | None]) -> tuple[int, int, list[list[tuple[str, int]]]]:
    """(base, size, each image's symbols as (name, address) in table order): the images placed in one mapping."""
    starts = []
    end = 0
    for part in (CODE, DATA):
        end = round_up(end, PAGE)
        for image in images:
            end = round_up(end, image.aligns[part])
            starts.append(end)
            end += len(image.parts[part])
    n = len(images)
    code_size = round_up(starts[n] if n else 0, PAGE)  # where the first data part begins, rounded
    size = max(round_up(end, PAGE), PAGE)
    buffer = bytearray(size)
    for k, image in enumerate(images):
        for part in (CODE, DATA):
            start = starts[k + part * n]
            buffer[start : start + len(image.parts[part])] = image.parts[part]
    base = _map(size)
    try:
        external: dict[str, int] = {}
        symbols = []
        for k, image in enumerate(images):
            at = (starts[k], starts[k + n])
            names = _names(*image.names)
            _relocate(buffer, image, names, base=base, starts=at, resolve=resolve, external=external)
            symbols.append(_symbols(image, names, base, at))
        ctypes.memmove(base, ctypes.addressof(ctypes.c_char.from_buffer(buffer)), size)  # (no array type per size)
        if code_size:
            _protect(base, code_size, mmap.PROT_READ | mmap.PROT_EXEC)
    except BaseException:
        _unmap(base, size)
        raise
    return base, size, symbols


def _symbols(image: Image, names: dict[int, str], base: int, starts: tuple[int, int]) -> list[tuple[str, int]]:
    """`image`'s exported symbols and their addresses, placed at `starts` (its parts' offsets) from `base`."""
    sizes = (len(image.parts[CODE]), len(image.parts[DATA]))
    symbols = []
    for name, part, offset in IMAGE_SYMBOL.iter_unpack(image.symbols):
        if part > DATA or offset > sizes[part] or name not in names:
            raise ObjectFormatError("symbol out of bounds")
        symbols.append((names[name], base + starts[part] + offset))
    return symbols


def _relocate(  # noqa: PLR0913 - the image, where it goes, and how names resolve
    buffer: bytearray,
    image: Image,
    names: dict[int, str],
    *,
    base: int,
    starts: tuple[int, int],
    resolve: Callable[[str], int | None],
    external: dict[str, int],
) -> None:
    """Patch `image`'s relocations into `buffer`, which will be copied to `base`; each checked first."""
    sizes = (len(image.parts[CODE]), len(image.parts[DATA]))
    targets = (base + starts[CODE], base + starts[DATA])
    table = image.relocations
    at, end = 0, len(table)
    try:
        while at < end:
            part, kind, rtype, target, count = IMAGE_RUN.unpack_from(table, at)  # (struct.error past the end)
            at += IMAGE_RUN.size
            fixups, at = table[at : at + count * IMAGE_FIXUP.size], at + count * IMAGE_FIXUP.size
            if part > DATA or at > end:
                raise ObjectFormatError("relocation out of bounds")
            if kind <= DATA:
                symbol = targets[kind]
            elif kind == EXTERNAL and target in names:
                name = names[target]
                symbol = external.get(name) or _external(name, resolve, external)
            else:
                raise ObjectFormatError("bad relocation target")
            _fixups(buffer, fixups, rtype, start=starts[part], room=sizes[part], symbol=symbol, base=base)
    except struct.error:
        raise ObjectFormatError("a relocation run out of bounds, or a value that does not fit") from None


def _fixups(  # noqa: PLR0913 - a run: where it patches, and what
    buffer: bytearray, fixups: memoryview, rtype: int, *, start: int, room: int, symbol: int, base: int
) -> None:
    """A run's fixups patched: S + A at each offset of a part placed at `start` (`room`: its size)."""
    if rtype == R_X86_64_64:  # what LLVM's large code model emits, nearly always
        pack64 = _PACK[8, False].pack_into
        last = room - 8
        for offset, addend in IMAGE_FIXUP.iter_unpack(fixups):
            if offset > last:
                raise ObjectFormatError("relocation out of bounds")
            pack64(buffer, start + offset, symbol + addend)  # (struct.error unless 0 <= S + A < 2**64)
    else:
        for offset, addend in IMAGE_FIXUP.iter_unpack(fixups):
            if offset > room:
                raise ObjectFormatError("relocation out of bounds")
            _patch(buffer, rtype, at=start + offset, room=room - offset, value=symbol + addend, base=base)


def _patch(buffer: bytearray, rtype: int, *, at: int, room: int, value: int, base: int) -> None:  # noqa: PLR0913
    """Any other relocation type: `value` (S + A) written at `at` (`room`: bytes left in the part)."""
    spec = RELOCATIONS.get(rtype)
    if spec is None:
        raise ObjectFormatError(f"relocation type {rtype} is not supported")
    width, relative, signed = spec
    if width > room:
        raise ObjectFormatError("relocation out of bounds")
    if relative:
        value -= base + at
    bits = width * 8
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= value <= high:
        raise ObjectFormatError(f"relocation of type {rtype} does not fit: {value:#x}")
    _PACK[width, signed].pack_into(buffer, at, value)


def _external(name: str, resolve: Callable[[str], int | None], known: dict[str, int]) -> int:
    """The address of external `name`, resolved (`known`: the names resolved for this placement)."""
    address = resolve(name)
    if not address:
        raise ObjectFormatError(f"undefined symbol {name!r}")
    known[name] = address
    return address


def round_up(n: int, align: int) -> int:
    """`n` rounded up to a multiple of `align`."""
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
