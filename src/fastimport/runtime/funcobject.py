"""The parts of CPython's function object native code touches, found by probing.

`func->vectorcall` is where CPython dispatches calls made through the
vectorcall protocol; pointing it at a native entry skips the frame the
prologue costs. The field offsets differ between versions, so they are
found by probing a fresh function at run time rather than hard-coded:

    3.12+     PyFunction_SetVectorcall() (public API; it also stops the
              interpreter from inlining the call, which would bypass it)
    3.10/3.11 the word holding _PyFunction_Vectorcall is written directly.

CPython 3.11 inlines Python-to-Python calls without looking at the field,
so there the prologue stays the path from Python code; C callers (map,
sorted(key=...), ...) still take the fast path.
"""

from __future__ import annotations

import ctypes
import functools
import sys
import types
from collections import namedtuple

_WORDS = 32


# Byte offsets of PyFunctionObject fields, and CPython's own vectorcall. (namedtuple, not
# a dataclass: dataclasses imports inspect, ~8 ms of start-up for every module with a def.)
FunctionLayout = namedtuple(  # noqa: PYI024 - see above
    "FunctionLayout", ["vectorcall_offset", "code_offset", "defaults_offset", "original_vectorcall"]
)


def _probe(a=(), b=()) -> None:  # noqa: ANN001 - a plain function to look at
    pass


@functools.cache
def layout() -> FunctionLayout | None:
    """Offsets of `vectorcall` and `func_code` in PyFunctionObject, or None if not found."""
    probe = types.FunctionType(_probe.__code__, {}, "probe", ((), ()))
    words = (ctypes.c_void_p * _WORDS).from_address(id(probe))
    before = list(words)
    code_index = [i for i, w in enumerate(before) if w == id(probe.__code__)]
    defaults_index = [i for i, w in enumerate(before) if w == id(probe.__defaults__)]
    if len(code_index) != 1 or len(defaults_index) != 1:
        return None
    if sys.version_info >= (3, 12):
        marker = 0x10
        _set_vectorcall_api(probe, marker)
        after = list(words)
        changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if b == marker and a != marker]
        if len(changed) != 1:
            return None
        index = changed[0]
    else:
        try:
            original = ctypes.cast(ctypes.pythonapi._PyFunction_Vectorcall, ctypes.c_void_p).value  # noqa: SLF001
        except AttributeError:
            return None
        found = [i for i, w in enumerate(before) if w == original]
        if len(found) != 1:
            return None
        index = found[0]
    return FunctionLayout(index * 8, code_index[0] * 8, defaults_index[0] * 8, before[index])  # type: ignore[arg-type]


def _set_vectorcall_api(func: types.FunctionType, address: int) -> None:
    setter = ctypes.pythonapi.PyFunction_SetVectorcall
    setter.argtypes = [ctypes.py_object, ctypes.c_void_p]
    setter.restype = None
    setter(func, address)


def set_vectorcall(func: types.FunctionType, address: int) -> bool:
    """Point `func`'s vectorcall at `address` (0 restores CPython's); False if unsupported."""
    lay = layout()
    if lay is None:
        return False
    target = address or lay.original_vectorcall
    if sys.version_info >= (3, 12):
        _set_vectorcall_api(func, target)
    else:
        ctypes.c_void_p.from_address(id(func) + lay.vectorcall_offset).value = target
    return True


# PEP 523's scratch space on code objects: `co_extra` points at {Py_ssize_t size; void *extras[size]},
# and `index` is the slot this process asked CPython for. The vectorcall entry finds a function's
# native data there, through its `__code__` (so one shared entry serves every function of a shape).
CodeExtra = namedtuple("CodeExtra", ["offset", "index"])  # noqa: PYI024 - see FunctionLayout

# Versions name these differently: private up to 3.11, "unstable" API from 3.12.
_EXTRA_API = {
    "request": ("PyUnstable_Eval_RequestCodeExtraIndex", "_PyEval_RequestCodeExtraIndex"),
    "set": ("PyUnstable_Code_SetExtra", "_PyCode_SetExtra"),
}


def _extra_api(name: str) -> ctypes._CFuncPtr | None:
    for symbol in _EXTRA_API[name]:
        found = getattr(ctypes.pythonapi, symbol, None)
        if found is not None:
            return found
    return None


@functools.cache
def code_extra() -> CodeExtra | None:
    """Our co_extra slot and the field's byte offset in PyCodeObject, found by setting it on a fresh code object."""
    request, setter = _extra_api("request"), _extra_api("set")
    if request is None or setter is None:
        return None
    request.restype, request.argtypes = ctypes.c_ssize_t, [ctypes.c_void_p]
    setter.restype, setter.argtypes = ctypes.c_int, [ctypes.py_object, ctypes.c_ssize_t, ctypes.c_void_p]
    index = request(None)  # no free function: the data blocks live as long as their FunctionState
    if index < 0:
        ctypes.pythonapi.PyErr_Clear()
        return None
    probe = compile("pass", "<fastimport probe>", "exec").replace(co_name="probe")  # never given extras
    words = min(_WORDS, sys.getsizeof(probe) // 8)
    before = list((ctypes.c_void_p * words).from_address(id(probe)))
    marker = id(probe)  # any non-NULL address
    if setter(probe, index, marker) != 0:
        ctypes.pythonapi.PyErr_Clear()
        return None
    after = list((ctypes.c_void_p * words).from_address(id(probe)))
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a is None and b is not None]
    if len(changed) != 1:
        return None
    extras = after[changed[0]]
    size = ctypes.c_ssize_t.from_address(extras).value
    if size <= index or ctypes.c_void_p.from_address(extras + 8 * (1 + index)).value != marker:
        return None
    return CodeExtra(changed[0] * 8, index)


def set_code_extra(code: types.CodeType, address: int) -> None:
    """Point our co_extra slot of `code` at `address` (see `code_extra`)."""
    found = code_extra()
    setter = _extra_api("set")
    if found is None or setter is None or setter(code, found.index, address) != 0:
        raise RuntimeError("co_extra is not available")  # callers only get here after code_extra() succeeded


# Where the current thread state counts Python recursion: `remaining` (3.11+: frames that
# may still be pushed) or, if false, the depth (3.10: compared with Py_GetRecursionLimit()).
RecursionField = namedtuple("RecursionField", ["offset", "remaining"])  # noqa: PYI024 - see FunctionLayout


def _snapshot(depth: int, tstate: int) -> bytes:
    if depth:
        return _snapshot(depth - 1, tstate)
    return ctypes.string_at(tstate, _TSTATE_BYTES)


_TSTATE_BYTES = 512


@functools.cache
def recursion_field() -> RecursionField | None:
    """Find the recursion counter in PyThreadState by recursing 5 and 10 frames deeper."""
    get = ctypes.pythonapi.PyThreadState_Get
    get.restype = ctypes.c_void_p
    tstate = get()
    base, five, ten = (_snapshot(n, tstate) for n in (0, 5, 10))
    limit = sys.getrecursionlimit()
    found = []
    for offset in range(0, _TSTATE_BYTES - 4, 4):
        a, b, c = (int.from_bytes(s[offset : offset + 4], "little", signed=True) for s in (base, five, ten))
        if b - a == -5 and c - a == -10 and 0 < a <= limit:  # noqa: PLR2004
            found.append(RecursionField(offset, remaining=True))
        elif b - a == 5 and c - a == 10 and 0 < a < limit:  # noqa: PLR2004
            found.append(RecursionField(offset, remaining=False))
    return found[0] if len(found) == 1 else None


@functools.cache
def object_layout_ok() -> bool:
    """Whether objects look as the entry code assumes: ob_type at 8, a float's value at 16.

    False on builds with another object header (free-threaded 3.13t, Py_TRACE_REFS debug
    builds); there nothing is compiled.
    """
    abiflags = getattr(sys, "abiflags", None)  # "t": free-threaded (PEP 703)
    if abiflags is not None:
        gil_disabled = "t" in abiflags
    else:  # (Windows has no abiflags; sysconfig is not asked first elsewhere, see tests/test_smoke.py)
        import sysconfig

        gil_disabled = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    value = float("1.5")
    block = (ctypes.c_int64 * 2)()  # a builtin's `self` is its data block; the entry reads b_ptr
    return (
        not gil_disabled
        and ctypes.c_void_p.from_address(id(value) + 8).value == id(float)
        and ctypes.c_double.from_address(id(value) + 16).value == value
        and ctypes.c_void_p.from_address(id(block) + CDATA_POINTER_OFFSET).value == ctypes.addressof(block)
    )


# A ctypes object's buffer pointer (CDataObject.b_ptr), right after the object header.
CDATA_POINTER_OFFSET = 16


# PyLongObject: both layouts keep the first 30-bit digit at offset 24 and describe
# the size at offset 16: ob_size (3.10, 3.11: signed digit count) or lv_tag (3.12+:
# digit count << 3 | sign bits, 0 positive, 1 zero, 2 negative).
INT_SIZE_OFFSET = 16
INT_DIGIT_OFFSET = 24
INT_LAYOUTS = ("ob_size", "lv_tag")


def _compact_value(layout_name: str, obj: int) -> int | None:
    size = ctypes.c_int64.from_address(id(obj) + INT_SIZE_OFFSET).value
    digit = ctypes.c_uint32.from_address(id(obj) + INT_DIGIT_OFFSET).value
    if layout_name == "ob_size":
        return size * digit if -1 <= size <= 1 else None
    return (1 - (size & 3)) * digit if size < 16 else None  # noqa: PLR2004 - one digit: tag < 2 << 3


@functools.cache
def int_layout() -> str | None:
    """Which PyLongObject layout this CPython has, checked on sample values; None if neither."""
    samples = [0, 1, -1, 7, -7, 2**30 - 1, -(2**30 - 1), 2**30, -(2**30), 2**62, -(2**62)]
    for name in INT_LAYOUTS:
        ok = True
        for value in samples:
            compact = _compact_value(name, int(str(value)))  # a fresh object, not a cached constant
            expected = value if -(2**30) < value < 2**30 else None
            ok &= compact == expected
        if ok:
            return name
    return None


SMALL_INT_MIN, SMALL_INT_MAX = -5, 256  # CPython's cached ints (NSMALLNEGINTS, NSMALLPOSINTS - 1)


# CPython's cached small ints as one array of objects: `-5 + k` lives at `id(-5) + k * stride`.
# immortal (3.12+): a new reference to one needs no increment (and must not have one).
SmallInts = namedtuple("SmallInts", ["stride", "immortal"])  # noqa: PYI024 - see FunctionLayout


@functools.cache
def small_ints() -> SmallInts | None:
    """The layout of the small-int cache, if it is one static array (3.11+), checked object by object; else None.

    3.10 allocates each small int on its own at start-up: they may sit in a row, but
    only by the allocator's choice, which a `.pym` written by another process cannot
    count on; there the entry code calls `PyLong_FromLongLong` for every result.
    """
    if sys.version_info < (3, 11):
        return None
    first = int(str(SMALL_INT_MIN))  # parsed: the cache's object, never a constant of this code
    stride = id(int(str(SMALL_INT_MIN + 1))) - id(first)
    for value in range(SMALL_INT_MIN, SMALL_INT_MAX + 1):
        if id(int(str(value))) != id(first) + (value - SMALL_INT_MIN) * stride:
            return None
    above = int(str(SMALL_INT_MAX + 1)), int(str(SMALL_INT_MAX + 1))  # both alive: distinct unless cached
    if above[0] is above[1]:  # a bigger cache than this module knows
        return None
    return SmallInts(stride, sys.version_info >= (3, 12))


# --- native entry points as Python callables ---------------------------------------------


class _PyMethodDef(ctypes.Structure):
    _fields_ = [
        ("ml_name", ctypes.c_char_p),
        ("ml_meth", ctypes.c_void_p),
        ("ml_flags", ctypes.c_int),
        ("ml_doc", ctypes.c_char_p),
    ]


METH_FASTCALL = 0x0080
_new_cfunction = ctypes.pythonapi.PyCFunction_NewEx
_new_cfunction.restype = ctypes.py_object
_new_cfunction.argtypes = [ctypes.POINTER(_PyMethodDef), ctypes.py_object, ctypes.py_object]


def make_builtin(name: str, address: int, self: object = None) -> tuple[object, object]:
    """A builtin function object calling the METH_FASTCALL C function at `address` with `self`.

    Returns (function, keepalive): the method definition must outlive the function.
    """
    method = _PyMethodDef(name.encode(), address, METH_FASTCALL, None)
    return _new_cfunction(ctypes.byref(method), self, None), method


# CPython 3.13 gives a function its version (what the interpreter's call specialization
# checks) once, in MAKE_FUNCTION, from its code's `co_version`; assigning `__code__` or a
# vectorcall sets it to 0 for good, so every later call of that function takes the generic
# path (measured: `add('a', 'b')` 52 -> 60 ns). A function handed back its plain code gets
# the version MAKE_FUNCTION would have given it. (3.12 assigns a new version lazily; 3.10 and
# 3.11 have none to lose.)
VersionLayout = namedtuple("VersionLayout", ["func_offset", "code_offset", "set_version"])  # noqa: PYI024


def _made() -> tuple[types.FunctionType, types.FunctionType]:
    """Two functions MAKE_FUNCTION made now, of two code objects (so of two versions)."""

    def probe() -> None:
        pass

    return probe, lambda: None


@functools.cache
def version_layout() -> VersionLayout | None:
    """Where 3.13+ keeps `func_version` and `co_version`, found by probing; None if not found (or not needed)."""
    setter = getattr(ctypes.pythonapi, "_PyFunction_SetVersion", None)
    lay = layout()
    if sys.version_info < (3, 13) or setter is None or lay is None:
        return None
    setter.argtypes, setter.restype = [ctypes.py_object, ctypes.c_uint32], None
    func_offset = lay.vectorcall_offset + 8  # (func_version follows vectorcall)
    offsets = []
    for probe in _made():
        version = ctypes.c_uint32.from_address(id(probe) + func_offset).value
        code_words = (ctypes.c_uint32 * (sys.getsizeof(probe.__code__) // 4)).from_address(id(probe.__code__))
        found = [i * 4 for i, w in enumerate(code_words) if w == version]
        if version < 2 or len(found) != 1:  # noqa: PLR2004 - 0 unset, 1 cleared (pycore_function.h)
            return None
        offsets.append(found[0])
        probe.__code__ = probe.__code__  # (assigning clears the version: the offset must read 0 now)
        if ctypes.c_uint32.from_address(id(probe) + func_offset).value != 0:
            return None
    if offsets[0] != offsets[1]:
        return None
    return VersionLayout(func_offset, offsets[0], setter)


def restore_version(func: types.FunctionType) -> None:
    """Give `func` the version MAKE_FUNCTION gives a function of its present code (3.13+; else nothing)."""
    lay = version_layout()
    if lay is None:
        return
    version = ctypes.c_uint32.from_address(id(func.__code__) + lay.code_offset).value
    if version >= 2:  # noqa: PLR2004 - a valid version (pycore_function.h)
        lay.set_version(func, version)
