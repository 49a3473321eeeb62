"""The value types of compiled code, and how they meet.

    INT    Python int, held as a checked int64 (overflow deopts)
    FLOAT  Python float, an IEEE double
    BOOL   Python bool, an i1
    NONE   only as a return type
    F64 F32 I64 I32 I16 I8 U64 U32 U16 U8 B
           NumPy scalars (numpy.float64, ..., numpy.bool): what indexing an array
           gives; they follow NumPy's rules, not Python's (see frontend/npscalars.py)
    Union  one of several scalar types, decided at run time (a tag and a payload),
           for variables that hold more than one: `s = 0` then `s += 0.5`, or
           `s = 0.0` then `s += a[i]` (float, then numpy.float64)
    Array  a numpy.ndarray of one dtype, number of dimensions and layout
    Tuple  a Python tuple of a fixed length, each item of its own type (a struct of them)
    List   a Python list whose items are expected to be of one type (checked at each read)

`join` is the lattice used by inference: `None` (not yet known) is bottom;
different scalar types join to their Union; anything else that differs does not
join (the function is not compiled for those argument types).
"""

from __future__ import annotations

TYPE_CHECKING = False  # importing typing costs ~2 ms of start-up
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import ClassVar


class Ty:
    """A scalar type known to native code: one instance per type, compared by identity.

    A plain class rather than an Enum: this module is imported at start-up, and an
    Enum of fifteen members costs about 1 ms to create (measured with -X importtime).
    """

    __slots__ = ("name", "value")

    INT: ClassVar[Ty]
    FLOAT: ClassVar[Ty]
    BOOL: ClassVar[Ty]
    NONE: ClassVar[Ty]
    F64: ClassVar[Ty]
    F32: ClassVar[Ty]
    I64: ClassVar[Ty]
    I32: ClassVar[Ty]
    I16: ClassVar[Ty]
    I8: ClassVar[Ty]
    U64: ClassVar[Ty]
    U32: ClassVar[Ty]
    U16: ClassVar[Ty]
    U8: ClassVar[Ty]
    B: ClassVar[Ty]

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Ty.{self.name}"

    def __reduce__(self) -> str:
        return f"Ty.{self.name}"  # pickled by name: the instances are singletons

    @property
    def is_numpy(self) -> bool:
        """A NumPy scalar type (arithmetic follows NumPy)."""
        return self in NUMPY_SCALARS

    @property
    def is_float(self) -> bool:
        """Held as an LLVM double or float."""
        return self in (Ty.FLOAT, Ty.F64, Ty.F32)

    @property
    def is_bool(self) -> bool:
        """Held as an i1."""
        return self in (Ty.BOOL, Ty.B)

    @property
    def is_int(self) -> bool:
        """Held as an int64 (NumPy ints of any width too: their value always fits)."""
        return self is Ty.INT or self in NUMPY_INTS


for _name, _value in (
    ("INT", "int"), ("FLOAT", "float"), ("BOOL", "bool"), ("NONE", "None"),
    ("F64", "float64"), ("F32", "float32"), ("I64", "int64"), ("I32", "int32"), ("I16", "int16"),
    ("I8", "int8"), ("U64", "uint64"), ("U32", "uint32"), ("U16", "uint16"), ("U8", "uint8"),
    ("B", "numpy.bool"),
):  # fmt: skip
    setattr(Ty, _name, Ty(_name, _value))

NUMPY_INTS = (Ty.I64, Ty.I32, Ty.I16, Ty.I8, Ty.U64, Ty.U32, Ty.U16, Ty.U8)
NUMPY_SCALARS = frozenset({Ty.F64, Ty.F32, Ty.B, *NUMPY_INTS})
# Every scalar that can live in a Union; a Union's tag is the index in this tuple.
SCALARS = (
    Ty.INT,
    Ty.FLOAT,
    Ty.BOOL,
    Ty.F64,
    Ty.F32,
    Ty.I64,
    Ty.I32,
    Ty.I16,
    Ty.I8,
    Ty.U64,
    Ty.U32,
    Ty.U16,
    Ty.U8,
    Ty.B,
)
# Python's own numbers: what the first slice of fastimport compiled.
PYTHON_NUMBERS = (Ty.INT, Ty.FLOAT, Ty.BOOL)


class _Value:
    """An immutable value type compared by its fields.

    Not a dataclass: this module is imported at start-up by every module with a
    function, and importing dataclasses costs ~8 ms.
    """

    __slots__ = ()

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}{self._key()!r}"


class Union(_Value):
    """One of `members` (scalars, in SCALARS order), known at run time by a tag."""

    __slots__ = ("members",)

    def __init__(self, members: tuple[Ty, ...]) -> None:
        object.__setattr__(self, "members", members)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(name)

    def __str__(self) -> str:
        return "|".join(map(str, self.members))

    @property
    def name(self) -> str:
        """For symbol names: `u2_int_float`.

        The count first, so that every type's name is self-delimiting: entry code shared
        by shape is named after the argument and result types, and `(a, int) -> int64`
        and `(a) -> int|int64` must not both be `arr_i64_1c_int_i64`.
        """
        return "_".join([f"u{len(self.members)}", *(t.name.lower() for t in self.members)])


# The union of Python's three number types (what `min(1, 2.0)` or `s = 0; s += 0.5` give).
NUM = Union(PYTHON_NUMBERS)


class Array(_Value):
    """numpy.ndarray of `dtype` (a NumPy scalar type) with `ndim` dimensions.

    layout "C" (C-contiguous: strides follow from the shape) or "A" (any strides).
    `readonly`: NumPy refuses stores into it (a specialization that stores into one
    is not compiled; one that does not is also safe for writeable arrays).
    """

    __slots__ = ("dtype", "layout", "ndim", "readonly")

    def __init__(self, dtype: Ty, ndim: int, layout: str = "C", *, readonly: bool = False) -> None:
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "ndim", ndim)
        object.__setattr__(self, "layout", layout)
        object.__setattr__(self, "readonly", readonly)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(name)

    def __str__(self) -> str:
        notes = ("" if self.layout == "C" else " (strided)") + (" (read-only)" if self.readonly else "")
        return f"{self.dtype}[{', '.join([':'] * self.ndim)}]{notes}"

    @property
    def name(self) -> str:
        """For symbol names: `arr_f64_2c` (`arr_f64_2cr` if read-only)."""
        return f"arr_{self.dtype.name.lower()}_{self.ndim}{self.layout.lower()}{'r' if self.readonly else ''}"


class Tuple(_Value):
    """A Python tuple of len(items) items, item k of type items[k]: scalars or tuples.

    Held natively as a struct of the items (immutable, so a copy is the same tuple);
    boxed as a new Python tuple. A tuple argument is guarded item by item.
    """

    __slots__ = ("items",)

    def __init__(self, items: tuple[Type, ...]) -> None:
        object.__setattr__(self, "items", items)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(name)

    def __str__(self) -> str:
        return f"tuple[{', '.join(map(str, self.items))}]" if self.items else "tuple[()]"

    @property
    def name(self) -> str:
        """For symbol names: `tup2_int_float` (the length first keeps nesting unambiguous)."""
        return "_".join([f"tup{len(self.items)}", *(t.name.lower() for t in self.items)])


class List(_Value):
    """A Python list (the object itself, mutated in place) whose items should all be `item`.

    `item` is int, float, bool or a List. Nothing stops Python code from putting another
    type into the list, so every read checks the item's type (another type deopts).
    """

    __slots__ = ("item",)

    def __init__(self, item: Type) -> None:
        object.__setattr__(self, "item", item)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(name)

    def __str__(self) -> str:
        return f"list[{self.item}]"

    @property
    def name(self) -> str:
        """For symbol names: `list_float`, `list_list_int`."""
        return f"list_{self.item.name.lower()}"


LIST_ITEMS = (Ty.INT, Ty.FLOAT, Ty.BOOL)


# Tuples longer than this are not typed item by item (their arguments are not compiled).
MAX_TUPLE = 16

Type = Ty | Union | Array | Tuple | List

# Python type objects to our types; exact types only (a subclass of int is not INT).
PY_TYPES: dict[type, Ty] = {int: Ty.INT, float: Ty.FLOAT, bool: Ty.BOOL, type(None): Ty.NONE}


def is_scalar(t: object) -> bool:
    """A number native code holds unboxed (a Union counts)."""
    return isinstance(t, Union) or (isinstance(t, Ty) and t is not Ty.NONE)


def members(t: Ty | Union) -> tuple[Ty, ...]:
    """The scalar types a value of type `t` can have at run time."""
    return t.members if isinstance(t, Union) else (t,)


class TypeConflictError(Exception):
    """Two different types met where native code needs one."""


def join(a: Type | None, b: Type | None) -> Type | None:
    """Least upper bound of two types; raises TypeConflictError when they do not meet."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    if is_scalar(a) and is_scalar(b):
        return union_of([*members(a), *members(b)])  # type: ignore[arg-type]
    if isinstance(a, Tuple) and isinstance(b, Tuple) and len(a.items) == len(b.items):
        return Tuple(tuple(join(x, y) for x, y in zip(a.items, b.items, strict=True)))  # type: ignore[misc]
    raise TypeConflictError(f"{a} and {b}")


def union_of(types: list[Ty]) -> Ty | Union:
    """The type holding any of `types`: the type itself if there is one."""
    found = tuple(t for t in SCALARS if t in types)
    return found[0] if len(found) == 1 else Union(found)


def ty_of_value(value: object) -> Ty | None:
    """The type of a Python int/float/bool/None as native code would hold it, or None if it cannot."""
    return PY_TYPES.get(type(value))


def list_type(value: list, item_type: Callable[[object], Type | None]) -> List | None:
    """List(T) of a non-empty exact list whose items all have the one type T (int, float, bool or a list), or None."""
    if not value:
        return None
    first = item_type(value[0])
    if first not in LIST_ITEMS and not isinstance(first, List):
        return None
    if isinstance(first, List):
        if any(type(item) is not list or item_type(item) != first for item in value):
            return None
    else:
        kind = type(value[0])
        if any(type(item) is not kind for item in value):
            return None
    return List(first)


def tuple_type(value: tuple, item_type: Callable[[object], Type | None]) -> Tuple | None:
    """The Tuple type of an exact tuple whose items all have a type (`item_type` of each), or None."""
    if len(value) > MAX_TUPLE:
        return None
    items = []
    for item in value:
        ty = item_type(item)
        if ty is None or ty is Ty.NONE or isinstance(ty, Array):
            return None
        items.append(ty)
    return Tuple(tuple(items))


def signature_str(args: tuple[Type, ...], ret: Type | None) -> str:
    """`(int, float) -> float`, the form the report shows."""
    return f"({', '.join(map(str, args))}) -> {ret}"


def type_to_json(t: Type) -> object:
    """`t` as plain JSON data (for .pym artifacts): "INT", ["array", "F64", 2, "C", false], ..."""
    if isinstance(t, Ty):
        return t.name
    if isinstance(t, Union):
        return ["union", *(m.name for m in t.members)]
    if isinstance(t, Array):
        return ["array", t.dtype.name, t.ndim, t.layout, t.readonly]
    if isinstance(t, Tuple):
        return ["tuple", *(type_to_json(item) for item in t.items)]
    return ["list", type_to_json(t.item)]


def type_from_json(data: object) -> Type:
    """The inverse of `type_to_json`; ValueError on anything it would not have written."""
    if isinstance(data, str) and data.isupper() and isinstance(getattr(Ty, data, None), Ty):
        return getattr(Ty, data)  # type: ignore[no-any-return]
    if isinstance(data, list) and data and data[0] in _FROM_JSON:
        made = _FROM_JSON[data[0]](data[1:])
        if made is not None:
            return made
    raise ValueError(f"not a type: {data!r}")


def _union_from_json(args: list[object]) -> Type | None:
    members = tuple(type_from_json(m) for m in args)
    return Union(members) if len(members) >= 2 and all(m in SCALARS for m in members) else None  # type: ignore[arg-type]  # noqa: PLR2004


def _array_from_json(args: list[object]) -> Type | None:
    if len(args) != 4:  # noqa: PLR2004 - dtype, ndim, layout, readonly
        return None
    dtype, ndim, layout, readonly = type_from_json(args[0]), *args[1:]
    if dtype in NUMPY_SCALARS and type(ndim) is int and ndim >= 1 and layout in ("C", "A") and type(readonly) is bool:
        return Array(dtype, ndim, layout, readonly=readonly)  # type: ignore[arg-type]
    return None


_FROM_JSON: dict[object, Callable[[list[object]], Type | None]] = {
    "union": _union_from_json,
    "array": _array_from_json,
    "tuple": lambda args: Tuple(tuple(type_from_json(item) for item in args)) if len(args) <= MAX_TUPLE else None,
    "list": lambda args: List(type_from_json(args[0])) if len(args) == 1 else None,
}


def parse_signature(text: str) -> tuple[Type, ...]:
    """Argument types written as the report prints them: `(float64[:, :], int)`, `(tuple[int, float], list[float])`.

    A result after `->` is allowed and ignored. Arrays are C-contiguous unless followed by
    `(strided)`; `(read-only)` marks a read-only one. ValueError says what is wrong.
    """
    tokens = _tokens(text.partition("->")[0])
    parser = _SignatureParser(tokens, text)
    parser.expect("(")
    args: list[Type] = []
    while parser.peek() != ")":
        args.append(parser.type())
        if parser.peek() == ",":
            parser.take()
        elif parser.peek() != ")":
            parser.fail("',' or ')'")
    parser.take()
    if parser.peek() is not None:
        parser.fail("the end")
    return tuple(args)


def _tokens(text: str) -> list[str]:
    import re

    return re.findall(r"[A-Za-z_][\w.]*|-\w+|[()\[\],:]", text)


_SCALAR_NAMES = {**{t.value: t for t in (Ty.INT, Ty.FLOAT, Ty.BOOL)}}
_DTYPE_NAMES = {**{t.value: t for t in NUMPY_SCALARS}, "bool_": Ty.B, "numpy.bool_": Ty.B, "bool": Ty.B}


class _SignatureParser:
    def __init__(self, tokens: list[str], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            self.fail("more")
        self.at += 1
        return token  # type: ignore[return-value]

    def expect(self, token: str) -> None:
        if self.take() != token:
            self.at -= 1
            self.fail(repr(token))

    def fail(self, wanted: str) -> None:
        raise ValueError(f"bad signature {self.text!r}: expected {wanted} at {self.peek()!r}")

    def type(self) -> Type:
        name = self.take()
        if name in ("tuple", "list"):
            self.expect("[")
            items: list[Type] = []
            if self.peek() == "(":  # tuple[()]
                self.take()
                self.expect(")")
            else:
                items.append(self.type())
                while self.peek() == ",":
                    self.take()
                    items.append(self.type())
            self.expect("]")
            if name == "list":
                if len(items) != 1:
                    self.fail("one item type in list[...]")
                return List(items[0])
            return Tuple(tuple(items))
        if self.peek() == "[":
            return self.array(name)
        if name not in _SCALAR_NAMES:
            self.at -= 1
            self.fail("int, float, bool, a dtype[:], tuple[...] or list[...]")
        return _SCALAR_NAMES[name]

    def array(self, dtype_name: str) -> Array:
        dtype = _DTYPE_NAMES.get(dtype_name)
        if dtype is None:
            self.at -= 1
            self.fail("a NumPy dtype (float64, int32, uint8, bool...)")
        self.expect("[")
        ndim = 0
        while True:
            self.expect(":")
            ndim += 1
            if self.peek() != ",":
                break
            self.take()
        self.expect("]")
        layout, readonly = "C", False
        while self.peek() == "(" and self.at + 1 < len(self.tokens) and self.tokens[self.at + 1] in ("strided", "read"):
            self.take()
            word = self.take()
            if word == "read":
                self.expect("-only")
                readonly = True
            else:
                layout = "A"
            self.expect(")")
        return Array(dtype, ndim, layout, readonly=readonly)  # type: ignore[arg-type]
