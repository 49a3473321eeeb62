"""The type predictor's label set: what a parameter's value is, in the predictor's words.

    label_of(3) -> "int"          label_of(np.zeros((2, 3))) -> "ndarray:float64:2"
    label_of([1.0, 2.0]) -> "list[float]"      label_of([[1], [2, 3]]) -> "list[list[int]]"
    label_of("a") -> "str"
    to_type("ndarray:int64:1") -> Array(I64, 1)   to_type("str") -> None (not compiled)

The set is small and numeric on purpose: it says what fastimport could compile a function
for (int, float, bool, ndarrays of the common dtypes with 1-3 dimensions, lists of int or
float and lists of such lists) and, for the rest, only enough to know that it could not (str, None, tuple, other).
The training data (models/collect.py) and the serving side (predict/predictor.py) both
label values with `label_of`, so the two cannot disagree.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fastimport.frontend.types import Type

DTYPES = ("float64", "float32", "int64", "int32", "bool", "complex128")
NDIMS = (1, 2, 3)
SCALARS = ("int", "float", "bool", "str", "None")
LISTS = ("list[int]", "list[float]", "list[list[int]]", "list[list[float]]")  # (matrices and bodies as lists)
LABELS: tuple[str, ...] = (
    *SCALARS,
    *(f"ndarray:{dtype}:{ndim}" for dtype in DTYPES for ndim in NDIMS),
    *LISTS,
    "tuple",
    "other",
)
INDEX = {label: i for i, label in enumerate(LABELS)}

LIST_SAMPLE = 8  # a list is labelled by its first few items (a long list is not walked)
_PLAIN = {int: "int", float: "float", bool: "bool", str: "str", type(None): "None", tuple: "tuple"}


def label_of(value: object) -> str:
    """The label of one value (exact types: a subclass of int is "other", as the guards see it)."""
    label = _PLAIN.get(type(value))
    if label is not None:
        return label
    if type(value) is list:
        return _list_label(value)
    np = sys.modules.get("numpy")
    if np is not None:
        if type(value) is np.ndarray:
            label = f"ndarray:{value.dtype.name}:{value.ndim}"
            return label if label in INDEX else "other"
        if isinstance(value, np.generic):  # NumPy scalars count as the Python number they behave as
            for kind, name in ((np.bool_, "bool"), (np.integer, "int"), (np.floating, "float")):
                if isinstance(value, kind):
                    return name
    return "other"


def _list_label(value: list, depth: int = 0) -> str:
    items = value[:LIST_SAMPLE]
    if items and all(type(x) is int for x in items):
        return "list[int]"
    if items and all(type(x) is float for x in items):
        return "list[float]"
    if items and depth == 0 and all(type(x) is list for x in items):
        inner = {_list_label(x, 1) for x in items}
        if len(inner) == 1 and (only := inner.pop()) != "other":
            return f"list[{only}]"
    return "other"


def to_type(label: str) -> Type | None:
    """The argument type fastimport would compile for `label`, or None if it compiles none."""
    from fastimport.frontend.types import Ty, parse_signature

    simple = {"int": Ty.INT, "float": Ty.FLOAT, "bool": Ty.BOOL}
    if label in simple:
        return simple[label]
    if label in LISTS:
        return _list_type(label)
    if label.startswith("ndarray:"):
        _, dtype, ndim = label.split(":")
        if dtype == "complex128":
            return None
        spelled = {"float64": "float64", "float32": "float32", "int64": "int64", "int32": "int32", "bool": "bool_"}
        return parse_signature(f"({spelled[dtype]}[{', '.join(':' * int(ndim))}],)")[0]
    return None


def _list_type(label: str) -> Type:
    from fastimport.frontend.types import parse_signature

    return parse_signature(f"({label},)")[0]
