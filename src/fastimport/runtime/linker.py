"""Placing a `.pym`'s object code in this process and linking it, without LLVM.

place_runtime(image, objects) -> LoadedObject
    the shared runtime (`fi_world_ok`, the undo log's helpers, `fi_checkpoint`): placed
    once per process, before anything that calls it
place_module(image, members) -> {member: LoadedObject}
    a module's merged image (its units and the entry code of their shapes,
    backend/objgroup.py) in one mapping (backend/objload.py): undefined names resolve to
    the runtime, CPython's C-API, libm (under `fi_libm_<name>`) and a few C library
    routines LLVM may call (memcpy, fmod, ...)
place_group(images, tables) -> [LoadedObject]
    several images in one mapping, each one's object-table slots in `tables` filled
fill(loaded, objects)
    object-table slots (`<unit>.obj.<k>`) get the addresses of their Python objects
"""

from __future__ import annotations

import ctypes
import functools
from _ctypes import dlsym as _dlsym  # POSIX; the platforms that load artifacts

from fastimport.backend.objload import LoadedObject, ObjectFormatError, place, place_members, read_image

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

LIBM_PREFIX = "fi_libm_"  # backend/capi.py: libm functions under a name LLVM does not rewrite
ORIGINAL_VECTORCALL = "fi_original_function_vectorcall"
# C library routines LLVM itself may emit calls to (memory intrinsics, frem -> fmod, ...).
_C_ROUTINES = frozenset({"memcpy", "memmove", "memset", "fmod", "fmodf", "ldexp", "exp2", "exp10"})

_RUNTIMES: dict[bytes, LoadedObject] = {}  # by the image's bytes (a baseline and a host-tuned one may both come)
_RUNTIME: dict[str, int] = {}  # the runtime's global symbols, once placed


class LinkError(ObjectFormatError):
    """An object table names a slot the object does not define."""


def place_runtime(image: bytes, objects: Callable[[], dict[str, object]]) -> LoadedObject:
    """The runtime `image`, placed the first time it is needed (`objects()`: its table); later code links to it."""
    loaded = _RUNTIMES.get(image)
    if loaded is None:
        (loaded,) = place_group([image], [objects()])
        _RUNTIMES[image] = loaded
        _RUNTIME.update(loaded.symbols)
    return loaded


def place_group(images: list[bytes], tables: list[dict[str, object]]) -> list[LoadedObject]:
    """Place `images` together; each one's slots in `tables` filled with its objects."""
    placed = place([read_image(image) for image in images], _resolve)
    for loaded, objects in zip(placed, tables, strict=True):
        fill(loaded, objects)
    return placed


def place_module(image: bytes, members: list[list[Any]]) -> dict[str, LoadedObject]:
    """A module's merged image (backend/objgroup.py) placed: an object per member, by name."""
    return place_members(read_image(image), members, _resolve)


def fill(loaded: LoadedObject, objects: dict[str, object]) -> None:
    """Point `loaded`'s object-table slots at `objects` (and keep those alive with it)."""
    for symbol, obj in objects.items():
        address = loaded.symbols.get(symbol)
        if address is None:
            raise LinkError(f"no object slot {symbol!r}")
        ctypes.c_void_p.from_address(address).value = id(obj)
    loaded.keepalive += objects.values()


def _resolve(name: str) -> int | None:
    address = _RUNTIME.get(name) or _FOUND.get(name)
    if address is None:
        address = _FOUND[name] = _find(name)
    return address


_FOUND: dict[str, int | None] = {}  # names outside the runtime: the same address for the whole process


def _find(name: str) -> int | None:
    if name == ORIGINAL_VECTORCALL:
        from fastimport.runtime.funcobject import layout

        lay = layout()
        return lay.original_vectorcall if lay is not None else None
    if name.startswith(LIBM_PREFIX):
        return _address(_libm(), name.removeprefix(LIBM_PREFIX))
    if name.startswith(("Py", "_Py")):
        return _address(ctypes.pythonapi, name)
    if name in _C_ROUTINES:
        return _address(_libm(), name) or _address(_libc(), name)
    return None


def _address(library: ctypes.CDLL, name: str) -> int | None:
    # dlsym itself: getattr on a CDLL builds and caches a function object per name (~10x slower)
    try:
        return _dlsym(library._handle, name)  # noqa: SLF001 - the handle ctypes opened
    except OSError:
        return None


@functools.cache
def _libm() -> ctypes.CDLL:
    try:
        return ctypes.CDLL("libm.so.6")  # glibc's; find_library runs ldconfig (~10 ms)
    except OSError:
        from ctypes.util import find_library

        return ctypes.CDLL(find_library("m"))


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None)
