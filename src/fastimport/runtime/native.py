"""What a loaded specialization is at run time, wherever its machine code came from.

    CompiledEntry            the callable the prologue calls, its data block, its result type
    DataBlock                what the shared entry code (backend/entry.py) reads per specialization
    WorldRecord[]            the globals the unit reads, checked at every call (world_table)

Both the compiler (code from LLVM) and the artifact loader (code from a `.pym`,
runtime/artifacts.py) build these; neither this module nor the loader imports llvmlite.
"""

from __future__ import annotations

import ctypes
import sys

from fastimport.frontend.types import Ty

TYPE_CHECKING = False  # importing typing costs ~2 ms of a warm run
if TYPE_CHECKING:
    import types
    from collections.abc import Callable
    from typing import Any

    from fastimport.frontend.ir import GlobalRef
    from fastimport.frontend.types import Type


class DataBlock(ctypes.Structure):
    """What the shared entry code needs to know about one specialization."""

    _fields_ = [
        ("kernel", ctypes.c_void_p),  # 0: {R, i32} kernel(args..., ptr undo, i32 depth)
        ("world", ctypes.c_void_p),  # 1: WorldRecord[]
        ("world_count", ctypes.c_int64),  # 2
        ("handler", ctypes.c_void_p),  # 3: the FunctionState (a borrowed reference)
        ("calls", ctypes.c_int64),  # 4: native calls that completed
        ("func", ctypes.c_void_p),  # 5: the function whose vectorcall may run it (borrowed)
        ("prev_core", ctypes.c_void_p),  # 6: the previous specialization's core ...
        ("prev_data", ctypes.c_void_p),  # 7: ... and its data block
        ("world_misses", ctypes.c_int64),  # 8: calls a changed global sent to bytecode
        ("nests", ctypes.c_int64),  # 9: whether the kernel calls others (needs a depth budget)
        ("log_free", ctypes.c_int64),  # 10: whether the unit's kernels never use the undo log
        ("tier_at", ctypes.c_int64),  # 11: after this many native calls, the lite path calls `tier_hook` ...
        ("tier_hook", ctypes.c_void_p),  # 12: ... (a callable of no arguments; borrowed: the entry keeps it)
    ]

    def __init__(self, **fields: Any) -> None:  # noqa: ANN401 - ctypes' own keywords
        super().__init__(**{"tier_at": NEVER, **fields})


NEVER = 2**63 - 1  # a `tier_at` no call count reaches
# Whether this CPython's Python-to-Python calls go through a function's vectorcall, which a
# leaf's own vectorcall (a tier-up, runtime/dispatch.py) would shorten. 3.11 inlines them and
# enters through the prologue: there no tier-up is made, and the entry code has no check for one.
TIER_UPS = sys.version_info[:2] != (3, 11)


def unit_vectorcall_name(kernel_symbol: str) -> str:
    """The symbol of a unit's own vectorcall (backend/entry.py: `emit_unit_vectorcall`), if it has one.

    Its three pointer globals are this name plus `.data` (the data block), `.code` (the
    code it runs for) and `.fallback` (the shape's vectorcall).
    """
    return f"{kernel_symbol}.vc"


def fill_unit_vectorcall(
    address_of: Callable[[str], int], kernel_symbol: str, data: DataBlock, fallback: int
) -> tuple[int, int]:
    """Point a unit's own vectorcall at its data block and fallback: (its address, its code slot), or (0, 0).

    `address_of(name)` is where a symbol of the unit's code is, 0 if it has none (no such
    vectorcall: a unit it is not made for, or one compiled before it existed).
    """
    name = unit_vectorcall_name(kernel_symbol)
    own = address_of(name) if fallback else 0
    slots = [address_of(f"{name}.{part}") for part in ("data", "fallback", "code")] if own else []
    if not own or not all(slots):  # (all three or none: the emitter makes them together)
        return 0, 0
    ctypes.c_void_p.from_address(slots[0]).value = ctypes.addressof(data)
    ctypes.c_void_p.from_address(slots[1]).value = fallback
    return own, slots[2]


class WorldRecord(ctypes.Structure):
    """One global read: kind, where to look, what to expect, where to unbox to."""

    _fields_ = [
        ("kind", ctypes.c_int64),
        ("namespace", ctypes.c_void_p),  # dict to look in (kind DEFAULTS: the function)
        ("name", ctypes.c_void_p),  # str
        ("expected", ctypes.c_void_p),  # the object (identity kinds) or the type (values)
        ("slot", ctypes.c_void_p),  # where a value's unboxed form goes
        ("shadowing", ctypes.c_void_p),  # BUILTIN: the module dict that must not define the name
    ]


# World record kinds.
VALUE_INT, VALUE_FLOAT, VALUE_BOOL, IDENTITY, BUILTIN, DEFAULTS = 1, 2, 3, 4, 5, 6
VALUE_KINDS = {Ty.INT: VALUE_INT, Ty.FLOAT: VALUE_FLOAT, Ty.BOOL: VALUE_BOOL}


class CompiledEntry:
    """A loaded specialization: the callable entry point and what keeps it alive.

    A plain class, not a dataclass: a warm run builds these without importing dataclasses.
    """

    def __init__(  # noqa: PLR0913 - one argument per field
        self,
        function: Any,  # noqa: ANN401 - a builtin taking the arguments (what the prologue calls)
        ret_type: Type,
        symbol: str,
        data: DataBlock,
        core_address: int,  # the shared core of its shape (the next specialization chains to it)
        *,
        vectorcall_address: int = 0,  # 0: no vectorcall fast path on this CPython
        code_slot: int = 0,  # where the unit's own vectorcall keeps the code it runs for (0: none)
        args: tuple[Type, ...] = (),  # the argument types it was compiled for
        leaf: bool = False,  # log-free, no loop, no call: a unit that may get a vectorcall of its own
        keepalive: list[object] | None = None,
        origin: str = "compiled",  # or "cache" / "shipped": where the machine code came from
    ) -> None:
        self.function = function
        self.ret_type = ret_type
        self.symbol = symbol
        self.data = data
        self.core_address = core_address
        self.vectorcall_address = vectorcall_address
        self.code_slot = code_slot
        self.args = args
        self.leaf = leaf
        self.keepalive = keepalive if keepalive is not None else []
        self.origin = origin

    def native_calls(self) -> int:
        """Calls of this specialization that ran native code to the end."""
        return self.data.calls

    def bind_vectorcall(self, func: types.FunctionType, code: types.CodeType) -> None:
        """Let the vectorcall path run this for `func` while its `__code__` is `code`."""
        from fastimport.runtime.funcobject import set_code_extra

        self.data.func = id(func)
        set_code_extra(code, ctypes.addressof(self.data))
        if self.code_slot:  # the unit's own vectorcall runs only for this code (the state keeps it alive)
            ctypes.c_void_p.from_address(self.code_slot).value = id(code)


class Namespaces:
    """The dicts global reads look in: the module's globals, builtins, other modules'."""

    def __init__(self, globals_: dict[str, Any], builtins: dict[str, Any], modules: dict[str, dict[str, Any]]) -> None:
        self.globals = globals_
        self.builtins = builtins
        self.modules = modules

    def lookup(self, namespace: str) -> dict[str, Any]:
        """The dict behind a GlobalRef's namespace.

        "globals": the compiled function's module; "builtins": its builtins; "module:<name>":
        that module's dict (math, numpy, or the module of a callee from another module);
        "builtins@module:<name>": the builtins that callee's module reads.
        """
        if namespace == "globals":
            return self.globals
        if namespace == "builtins" or namespace.startswith("builtins@"):
            return self.builtins
        return self.modules[namespace.removeprefix("module:")]

    def shadowing(self, namespace: str) -> dict[str, Any]:
        """The module dict whose globals would shadow a builtin read through `namespace`."""
        owner = namespace.partition("@")[2]
        return self.lookup(owner) if owner else self.globals


def builtins_of(func: types.FunctionType) -> dict[str, Any]:
    """The builtins dict a function's global reads fall back to."""
    builtins_dict = func.__builtins__  # type: ignore[attr-defined]
    return builtins_dict if isinstance(builtins_dict, dict) else vars(builtins_dict)


def world_table(refs: list[GlobalRef], names: Namespaces, slot_address: Callable[[GlobalRef], int]) -> Any:  # noqa: ANN401
    """The WorldRecord array the entry code checks at each call (see backend/entry.py)."""
    table = (WorldRecord * max(1, len(refs)))()
    for record, ref in zip(table, refs, strict=False):  # the table has at least one record
        if ref.kind == "defaults":
            func, defaults = ref.expected  # type: ignore[misc]
            record.kind, record.namespace, record.expected = DEFAULTS, id(func), id(defaults)
            continue
        record.namespace = id(names.lookup(ref.namespace))
        record.name = id(ref.name)
        if ref.kind == "value":
            record.kind = VALUE_KINDS[ref.type]  # type: ignore[index]
            record.expected = id({Ty.INT: int, Ty.FLOAT: float, Ty.BOOL: bool}[ref.type])  # type: ignore[index]
            record.slot = slot_address(ref)
            if not record.slot:  # the world check would write through a null pointer
                raise AssertionError(f"no slot for the global {ref.namespace}.{ref.name}")
        else:
            builtin = ref.namespace == "builtins" or ref.namespace.startswith("builtins@")
            record.kind = BUILTIN if builtin else IDENTITY
            record.expected = id(ref.expected)
            record.shadowing = id(names.shadowing(ref.namespace))
    return table
