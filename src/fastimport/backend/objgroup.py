"""A module's images merged into one, and split back (backend/objload.py places the one).

    merge(members) -> (image, table)
        the images of a module's units and shapes (name -> image bytes) as one image: all
        the code parts back to back, then all the data parts, the symbols member after
        member, the relocations in runs across members (a name a dozen units call is one
        run); `table` says where each member went: [name, code start, code size, code
        alignment, data start, data size, data alignment, number of symbols] each
    split(image, table) -> members
        the members back, each as merge found it; merge(split(image, table)) is `image` again

Merged when the artifact is written (at exit, or by `fastimport compile`): a warm run
then places one image per module, resolving each name once, instead of a dozen images
(~10 us of Python each). Split when a unit is added to an existing artifact: members stay
the unit of replacement. Nothing points from one member into another (members call each
other through names and run-time tables), which is what makes the split exact.
"""

from __future__ import annotations

from fastimport.backend.objdigest import Relocation, pack_image
from fastimport.backend.objload import (
    CODE,
    DATA,
    EXTERNAL,
    IMAGE_FIXUP,
    IMAGE_RUN,
    IMAGE_SYMBOL,
    Image,
    ObjectFormatError,
    member_bounds,
    names_of,
    read_image,
    round_up,
)


def merge(members: dict[str, bytes]) -> tuple[bytes, list[list[object]]]:
    """One image holding `members` (name -> image), and the table of where each one is."""
    images = {name: read_image(data) for name, data in members.items()}
    parts = (bytearray(), bytearray())
    aligns = [16, 16]
    symbols: list[tuple[str, int, int]] = []
    relocations: list[Relocation] = []
    table: list[list[object]] = []
    for name, image in images.items():
        starts = []
        for part in (CODE, DATA):
            align = image.aligns[part]
            aligns[part] = max(aligns[part], align)
            starts.append(round_up(len(parts[part]), align))
            parts[part].extend(bytes(starts[part] - len(parts[part])))
            parts[part].extend(image.parts[part])
        own = _symbols(image)
        symbols += [(symbol, part, starts[part] + offset) for symbol, part, offset in own]
        for part, kind, rtype, offset, target, addend in _relocations(image):
            moved = addend + starts[kind] if kind != EXTERNAL else addend
            relocations.append((part, kind, rtype, starts[part] + offset, target, moved))
        table.append([name, starts[CODE], len(image.parts[CODE]), image.aligns[CODE]])
        table[-1] += [starts[DATA], len(image.parts[DATA]), image.aligns[DATA], len(own)]
    return pack_image(
        (bytes(parts[CODE]), bytes(parts[DATA])), (aligns[CODE], aligns[DATA]), symbols, relocations
    ), table


def split(data: bytes, table: list[list[object]]) -> dict[str, bytes]:
    """The members `merge` made `data` of, by name (ObjectFormatError if `table` does not fit it)."""
    image = read_image(data)
    bounds = member_bounds(image, table)  # type: ignore[arg-type]
    symbols = _symbols(image)
    relocations = _relocations(image)
    members, at = {}, 0
    for name, starts, sizes, aligns, count in bounds:
        own = [(symbol, part, offset - starts[part]) for symbol, part, offset in symbols[at : at + count]]
        at += count
        mine = [r for r in relocations if starts[r[0]] <= r[3] < starts[r[0]] + sizes[r[0]]]
        moved: list[Relocation] = [
            (part, kind, rtype, offset - starts[part], target, addend - starts[kind] if kind != EXTERNAL else addend)
            for part, kind, rtype, offset, target, addend in mine
        ]
        pieces = tuple(bytes(image.parts[part][starts[part] : starts[part] + sizes[part]]) for part in (CODE, DATA))
        members[name] = pack_image(pieces, aligns, own, moved)  # type: ignore[arg-type]
    return members


def _symbols(image: Image) -> list[tuple[str, int, int]]:
    names = names_of(image)
    found = []
    for name, part, offset in IMAGE_SYMBOL.iter_unpack(image.symbols):
        if part > DATA or offset > len(image.parts[part]) or name not in names:
            raise ObjectFormatError("symbol out of bounds")
        found.append((names[name], part, offset))
    return found


def _relocations(image: Image) -> list[Relocation]:
    """Every fixup of `image` as a relocation (a code or data target: offset 0, its offset in the addend)."""
    names = names_of(image)
    table = image.relocations
    found: list[Relocation] = []
    at = 0
    while at < len(table):
        if at + IMAGE_RUN.size > len(table):
            raise ObjectFormatError("relocation run out of bounds")
        part, kind, rtype, target, count = IMAGE_RUN.unpack_from(table, at)
        at += IMAGE_RUN.size + count * IMAGE_FIXUP.size
        if part > DATA or kind > EXTERNAL or at > len(table) or (kind == EXTERNAL and target not in names):
            raise ObjectFormatError("bad relocation run")
        fixups = table[at - count * IMAGE_FIXUP.size : at]
        name: int | str = names[target] if kind == EXTERNAL else 0
        found += [(part, kind, rtype, offset, name, addend) for offset, addend in IMAGE_FIXUP.iter_unpack(fixups)]
    return found
