"""NumPy values for differential tests: scalars of every type (edges first), arrays in every layout."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import strategies as st
from tests.differential import call
from tests.strategies import floats, int64s

NP_FLOATS = {"float64": np.float64, "float32": np.float32}
NP_INTS = {
    "int64": np.int64, "int32": np.int32, "int16": np.int16, "int8": np.int8,
    "uint64": np.uint64, "uint32": np.uint32, "uint16": np.uint16, "uint8": np.uint8,
}  # fmt: skip
NP_TYPES = {**NP_FLOATS, **NP_INTS, "bool": np.bool_}
PY_TYPES = {"int": int, "float": float, "pybool": bool}


DTYPES = ["float64", "float32", "int64", "int32", "int16", "int8", "uint64", "uint32", "uint16", "uint8", "bool"]


def values_of(name: str) -> st.SearchStrategy:
    """Values of a NumPy scalar type (or a Python number type), edges first."""
    if name in NP_INTS:
        info = np.iinfo(NP_INTS[name])
        lo, hi = int(info.min), int(info.max)
        edges = [v for v in (0, 1, -1, 2, -2, 7, lo, hi, lo + 1, hi - 1) if lo <= v <= hi]
        raw = st.one_of(st.sampled_from(edges), st.integers(lo, hi), st.integers(-100, 100).filter(lambda v: lo <= v))
        return raw.map(NP_INTS[name])
    if name in NP_FLOATS:
        return floats().map(NP_FLOATS[name])
    if name == "bool":
        return st.booleans().map(np.bool_)
    if name == "int":
        return st.one_of(st.integers(-100, 100), int64s())
    if name == "float":
        return floats()
    return st.booleans()


def typical(name: str) -> object:
    """An ordinary value of the type, for the first (specializing) call."""
    if name in NP_TYPES:
        return NP_TYPES[name](3)
    return {"int": 3, "float": 2.5, "pybool": True}[name]


def outcome_with_warnings(func: object, *args: object) -> tuple[object, list[str]]:
    """The call's outcome and the warnings it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call(func, *args)
    return result, [f"{w.category.__name__}: {w.message}" for w in caught]


def array_of(dtype: str, shape: tuple[int, ...], data: st.DataObject) -> np.ndarray:
    """An array of `shape` with hypothesis-drawn elements of `dtype`."""
    size = int(np.prod(shape))
    values = data.draw(st.lists(values_of(dtype), min_size=size, max_size=size))
    return np.array(values, dtype=NP_TYPES[dtype]).reshape(shape)


def layouts(a: np.ndarray) -> list[np.ndarray]:
    """The same elements in several layouts: C order, Fortran order, a strided view, read-only."""
    fortran = np.asfortranarray(a)
    padded = np.zeros((*a.shape[:-1], a.shape[-1] * 2), dtype=a.dtype) if a.ndim else a
    padded[..., ::2] = a
    readonly = a.copy()
    readonly.flags.writeable = False
    return [a, fortran, padded[..., ::2], readonly]
