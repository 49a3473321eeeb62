"""The CPython C-API and libm functions native code calls, by name and address.

Generated code refers to them by symbol; `register_symbols()` tells LLVM's
dynamic linker where each one lives in this process. libm functions get a
`fi_libm_` prefix so LLVM does not recognize them as library calls it may
rewrite (e.g. `pow(x, 2.0)` -> `x*x`): floats must come out of the very same
libm routine CPython's math module calls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import llvmlite.binding as llvm
from llvmlite import ir

PTR = ir.PointerType()
I1 = ir.IntType(1)
I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
I128 = ir.IntType(128)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
F64 = ir.DoubleType()

# name -> (return type, argument types)
C_API: dict[str, tuple[ir.Type, list[ir.Type]]] = {
    "PyLong_AsLongLongAndOverflow": (I64, [PTR, PTR]),
    "PyLong_FromLongLong": (PTR, [I64]),
    "PyFloat_FromDouble": (PTR, [F64]),
    "PyBool_FromLong": (PTR, [I64]),
    "Py_IncRef": (ir.VoidType(), [PTR]),
    "Py_DecRef": (ir.VoidType(), [PTR]),
    "PyErr_Clear": (ir.VoidType(), []),
    "PyDict_GetItem": (PTR, [PTR, PTR]),
    "PyErr_CheckSignals": (I32, []),
    "PyEval_SaveThread": (PTR, []),
    "PyThreadState_Get": (PTR, []),
    "Py_GetRecursionLimit": (I32, []),
    "PyEval_RestoreThread": (ir.VoidType(), [PTR]),
    "PyMem_RawRealloc": (PTR, [PTR, I64]),
    "PyTuple_New": (PTR, [I64]),
    "PyTuple_SetItem": (I32, [PTR, I64, PTR]),
    "PyList_New": (PTR, [I64]),
    "PyList_SetItem": (I32, [PTR, I64, PTR]),
    "PyList_Append": (I32, [PTR, PTR]),
    "PySequence_Repeat": (PTR, [PTR, I64]),
    "PyList_GetSlice": (PTR, [PTR, I64, I64]),
    "PyList_SetSlice": (I32, [PTR, I64, I64, PTR]),
    "PyMem_RawFree": (ir.VoidType(), [PTR]),
    # PyObject_Vectorcall is not exported by 3.10; VectorcallDict is, in every version.
    "PyObject_VectorcallDict": (PTR, [PTR, PTR, I64, PTR]),
    # NumPy calls (backend/npcalls.py): the error state, and the operators on arrays.
    "PyContextVar_Get": (I32, [PTR, PTR, PTR]),
    "PyContextVar_Set": (PTR, [PTR, PTR]),
    "PyContextVar_Reset": (I32, [PTR, PTR]),
    "PyCapsule_GetPointer": (PTR, [PTR, PTR]),
    "PyObject_RichCompare": (PTR, [PTR, PTR, I32]),
    "PyNumber_Power": (PTR, [PTR, PTR, PTR]),
    **{
        f"PyNumber_{name}": (PTR, [PTR, PTR])
        for name in ("Add", "Subtract", "Multiply", "TrueDivide", "FloorDivide", "Remainder")
    },
    **{f"PyNumber_{name}": (PTR, [PTR, PTR]) for name in ("Lshift", "Rshift", "And", "Or", "Xor")},
    **{f"PyNumber_{name}": (PTR, [PTR]) for name in ("Negative", "Positive", "Invert", "Absolute")},
}

LIBM_1 = ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh",
          "atanh", "exp", "expm1", "log1p", "log", "log2", "log10", "cbrt", "exp2", "fmod")  # fmt: skip
LIBM_2 = ("atan2", "pow", "fmod")


def libm_symbol(name: str) -> str:
    """The private symbol a libm function is linked under."""
    return f"fi_libm_{name}"


@functools.cache
def register_symbols() -> None:
    """Make every symbol above resolvable by the JIT linker (once per process)."""
    api = ctypes.pythonapi
    for name in C_API:
        llvm.add_symbol(name, ctypes.cast(getattr(api, name), ctypes.c_void_p).value)
    from fastimport.runtime.funcobject import layout

    lay = layout()
    if lay is not None:
        llvm.add_symbol("fi_original_function_vectorcall", lay.original_vectorcall)
    libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    for name in {*LIBM_1, *LIBM_2}:
        func = getattr(libm, name, None)
        if func is not None:
            llvm.add_symbol(libm_symbol(name), ctypes.cast(func, ctypes.c_void_p).value)


def declare(module: ir.Module, name: str) -> ir.Function:
    """The declaration of C-API function `name` in `module` (created once)."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    ret, args = C_API[name]
    return ir.Function(module, ir.FunctionType(ret, args), name)


def declare_libm(module: ir.Module, name: str, arity: int) -> ir.Function:
    """The declaration of libm's `name` (double -> double, or two doubles) in `module`."""
    symbol = libm_symbol(name)
    existing = module.globals.get(symbol)
    if existing is not None:
        return existing
    fn = ir.Function(module, ir.FunctionType(F64, [F64] * arity), symbol)
    # It sets errno, which nothing reads: to LLVM it may as well touch no memory, so calls
    # can be hoisted and shared. The private name still keeps LLVM from folding or rewriting them.
    fn.attributes.add("nounwind")
    fn.attributes.add("readnone")
    return fn


def intrinsic(module: ir.Module, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
    """The declaration of LLVM intrinsic `name` in `module` (created once)."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return ir.Function(module, ir.FunctionType(ret, args), name)
