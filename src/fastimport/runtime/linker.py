"""Placing a `.pym`'s object code in this process and linking it, without LLVM.

    place(data, objects) -> LoadedObject
        backend/objload.py maps and relocates the object; its undefined symbols resolve to
        the shared runtime (`fi_world_ok`, the undo log, `fi_checkpoint`: placed first, from
        the artifact's "runtime" section), CPython's C-API, libm (under `fi_libm_<name>`)
        and a few C library routines LLVM may call (memcpy, fmod, ...); then each object-table
        slot (`<unit>.obj.<k>`) gets the address of its Python object.

The same bytes are placed once per process (the runtime and the entry code of a shape are
in every artifact that needs them).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib

from fastimport.backend.objload import LoadedObject, ObjectFormatError, load_object

LIBM_PREFIX = "fi_libm_"  # backend/capi.py: libm functions under a name LLVM does not rewrite
ORIGINAL_VECTORCALL = "fi_original_function_vectorcall"
# C library routines LLVM itself may emit calls to (memory intrinsics, frem -> fmod, ...).
_C_ROUTINES = frozenset({"memcpy", "memmove", "memset", "fmod", "fmodf", "ldexp", "exp2", "exp10"})

_PLACED: dict[bytes, LoadedObject] = {}
_RUNTIME: dict[str, int] = {}  # the runtime's global symbols, once placed


class LinkError(ObjectFormatError):
    """An object table names a slot the object does not define."""


def place(data: bytes, objects: dict[str, object], *, shared: bool = False, runtime: bool = False) -> LoadedObject:
    """Place `data` and fill its object-table slots.

    `shared`: the runtime's or a shape's code, whose objects are library objects: placed once
    per process. A unit is placed each time (its slots may name this module's functions, and
    a reloaded module has new ones). `runtime`: it defines the runtime's symbols.
    """
    key = hashlib.sha256(data).digest()
    loaded = _PLACED.get(key) if shared else None
    if loaded is None:
        loaded = load_object(data, _resolve)
        for symbol, obj in objects.items():
            address = loaded.symbols.get(symbol)
            if address is None:
                raise LinkError(f"no object slot {symbol!r}")
            ctypes.c_void_p.from_address(address).value = id(obj)
        loaded.keepalive = list(objects.values())
        if shared:
            _PLACED[key] = loaded
        if runtime:
            _RUNTIME.update(loaded.symbols)
    return loaded


def _resolve(name: str) -> int | None:
    address = _RUNTIME.get(name)
    if address is not None:
        return address
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
    try:
        return ctypes.cast(getattr(library, name), ctypes.c_void_p).value
    except AttributeError:
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
