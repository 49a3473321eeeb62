"""Where PyArrayObject keeps its fields in this process, found by probing.

NumPy's public struct (numpy/ndarraytypes.h, PyArrayObject_fields) has been
stable for years:

    PyObject_HEAD; char *data; int nd; npy_intp *dimensions; npy_intp *strides;
    PyObject *base; PyArray_Descr *descr; int flags; ...

Rather than trusting that, `layout()` reads a known array through those
offsets and checks every field against what NumPy reports; on any mismatch
arrays are not compiled (the functions stay bytecode, with a reason).
"""

from __future__ import annotations

import ctypes
import functools
from collections import namedtuple

ArrayLayout = namedtuple(  # noqa: PYI024 - namedtuple, as runtime/funcobject.py, for start-up
    "ArrayLayout", ["data", "nd", "dimensions", "strides", "descr", "flags"]
)
_GUESS = ArrayLayout(data=16, nd=24, dimensions=32, strides=40, descr=56, flags=64)
C_CONTIGUOUS = 0x1  # NPY_ARRAY_C_CONTIGUOUS
WRITEABLE = 0x400  # NPY_ARRAY_WRITEABLE


def _word(address: int) -> int:
    return ctypes.c_int64.from_address(address).value


@functools.cache
def layout() -> ArrayLayout | None:
    """The field offsets, verified on probe arrays; None if this NumPy differs."""
    import numpy as np

    base = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    for probe in (base, base[:, ::2, 1:], base.T):
        at = id(probe)
        g = _GUESS
        ok = (
            _word(at + g.data) == probe.ctypes.data
            and ctypes.c_int32.from_address(at + g.nd).value == probe.ndim
            and [_word(_word(at + g.dimensions) + 8 * k) for k in range(probe.ndim)] == list(probe.shape)
            and [_word(_word(at + g.strides) + 8 * k) for k in range(probe.ndim)] == list(probe.strides)
            and _word(at + g.descr) == id(probe.dtype)
            and ctypes.c_int32.from_address(at + g.flags).value & 0xFFFF == probe.flags.num & 0xFFFF
        )
        if not ok:
            return None
    return _GUESS
