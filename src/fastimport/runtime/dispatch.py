"""Per-function run-time state: the first-call handler, specializations, deopts.

Each candidate function's prologue calls its slot (see frontend/transform.py).
The slot starts as the function's `FunctionState`; at the first call it
compiles a specialization for the argument types (annotations first, else
the types seen) and swaps itself for the native entry point. Afterwards the
native entry calls the state back only on a miss (a failed guard or a deopt):
the state counts it, compiles a new specialization when the signature is new
and the bound allows, and otherwise raises `Miss`, which makes the prologue
fall through to the original bytecode body, in the same frame.
"""

from __future__ import annotations

import ast
import functools
import gc
import sys
import threading
import time
import types

from fastimport.frontend.errors import Unsupported
from fastimport.frontend.types import (
    LIST_ITEMS,
    MAX_TUPLE,
    PY_TYPES,
    List,
    Tuple,
    Ty,
    is_scalar,
    list_type,
    signature_str,
    tuple_type,
)
from fastimport.runtime import registry
from fastimport.runtime.debug import internal_error, log

# Not `from typing import ...` (~3 ms), and no ctypes until something compiles: this
# module is imported by every module that defines a function.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from fastimport.frontend.types import Type

# Consecutive misses, with no native specialization at all, after which the
# prologue is removed and the function is plain bytecode again (no overhead).
GIVE_UP_AFTER = 8
# A specialization whose world check fails this often (a global now has another type,
# a called function was replaced...) is compiled again against the current globals,
# at most RECOMPILES times per function.
WORLD_MISSES_BEFORE_RECOMPILE = 4
RECOMPILES = 4
# Every DEOPT_CHECK_EVERY deopts: a function whose deopts outnumber its native calls by
# this factor (called mostly with big ints, say) goes back to plain bytecode, since each
# deopt costs more than the call itself would under CPython.
DEOPT_CHECK_EVERY = 1024
# The first misses with arguments no specialization takes have their types recorded
# (predict/observed.py); later ones cost nothing more than the miss itself.
NOTE_BYTECODE_CALLS = 16
DEOPTS_PER_NATIVE_CALL = 4
# A leaf unit (compiler.emit_unit: no loop, no call, numbers in and out) is compiled again
# with a vectorcall of its own once its newest specialization has made this many native
# calls, on the compile-ahead thread, and the `.pym` keeps that unit for later runs.
# Measured on 3.13 with `add(1, 2)` in a loop (wall time, the compile waited for at the
# end): at 1.2M calls the tier-up costs +11 ms, at 2M it is even, at 5M it saves 8%; with
# 100k here, 150k calls took 21 ms instead of 9. A function called this often in one run
# is taken to be called about as often again.
TIER_UP_CALLS = 1_000_000


class Miss(Exception):  # noqa: N818 - a signal, not an error
    """Native code does not take this call; the bytecode body runs instead."""


_BY_CODE: dict[int, FunctionState] = {}


def state_of(func: object) -> FunctionState | None:
    """The FunctionState of a function whose code fastimport installed, else None."""
    code = getattr(func, "__code__", None)
    state = _BY_CODE.get(id(code))
    return state if state is not None and code in state.codes else None


def new_state(module: str, node: ast.FunctionDef, path: str, plain_code: types.CodeType | None) -> FunctionState:
    """A candidate function's state, registered for the report."""
    record = registry.register(registry.FunctionRecord(module, node.name, path, node.lineno))
    state = FunctionState(module, node, path, plain_code, record)
    state.source = registry.source_of(module)  # what `node` was parsed from (the key of its .pym)
    return state


def reject(module: str, node: ast.stmt, path: str, error: Unsupported) -> None:
    """Record a function that is never compiled, with the reason."""
    name = getattr(node, "name", "?")
    line = getattr(node, "lineno", 0)
    registry.register(registry.FunctionRecord(module, name, path, line, reason=error.where(path)))


@functools.cache
def _compile_lock() -> threading.RLock:
    """Held while a specialization is loaded or compiled and installed: by one thread at a time.

    (Reentrant: the compile-ahead thread holds it around the whole of `_compile`.)
    """
    return threading.RLock()


def max_specializations() -> int:
    """The bound on specializations per function ([tool.fastimport] / FASTIMPORT_MAX_SPECIALIZATIONS)."""
    from fastimport.config import DEFAULT_MAX_SPECIALIZATIONS, ConfigError, active_config

    try:
        return active_config().max_specializations
    except ConfigError:
        return DEFAULT_MAX_SPECIALIZATIONS


class FunctionState:
    """The slot a candidate's prologue calls, until native code replaces it."""

    def __init__(
        self,
        module: str,
        node: ast.FunctionDef,
        path: str,
        plain_code: types.CodeType | None,
        record: registry.FunctionRecord,
    ) -> None:
        self.module = module
        self.node = node
        self.path = path
        self.plain_code = plain_code
        self.record = record
        self.source: bytes | None = None
        self.func: types.FunctionType | None = None
        self.codes: list[types.CodeType] = []
        self.prologue_code_: types.CodeType | None = None
        self.entries: list[Any] = []  # compiler.CompiledEntry, newest last
        self.tried: set[tuple[Ty, ...]] = set()
        self.pending: set[tuple[Ty, ...]] = set()  # being compiled ahead, on runtime/ahead.py's thread
        self.bytecode_kinds: set[tuple[str, ...]] = set()  # labels of calls no specialization takes (noted)
        self.misses = 0
        self.recompiles = 0
        self.gave_up = False
        self.retired: list[Any] = []  # entries a tier-up replaced (their code may be on a stack)

    # The code objects this state installs.

    @property
    def prologue_code(self) -> types.CodeType | None:
        """The function's code with the prologue, calling this state (set once, by the transform)."""
        return self.prologue_code_

    @prologue_code.setter
    def prologue_code(self, code: types.CodeType) -> None:
        self.prologue_code_ = code
        self._own(code)

    def _own(self, code: types.CodeType) -> None:
        self.codes.append(code)
        _BY_CODE[id(code)] = self

    # The slot protocol.

    def __call__(self, *args: object) -> object:
        """First call, or a miss of the native entry: compile if worthwhile, else raise Miss."""
        if self.func is None:
            self._bind(sys._getframe(1))  # noqa: SLF001 - the caller is the function's own frame
            from fastimport.runtime import ahead

            ahead.first_call(self)  # the main script's other functions, compiled ahead
        sig = self._signature(args)
        if sig in self.pending:
            raise Miss  # compiled ahead right now: this call runs as bytecode, and is no miss
        if sig is not None and sig in self.tried and self._world_changed():
            self.tried.discard(sig)  # compile it again against the globals as they are now
        if sig is not None and sig not in self.tried and len(self.entries) < max_specializations() and not self.gave_up:
            annotated = self.annotated()
            for candidate in self._candidates(sig):
                self.tried.add(candidate)
                with _compile_lock():  # (another thread may be adding an entry)
                    entry = self._compile(candidate, label=" (annotation)" if candidate == annotated else "")
                if candidate == sig:
                    self._observed(sig, entry)
                    if entry is not None:
                        return entry.function(*args)
        self._note_miss(sig, args)
        raise Miss

    def compile_ahead(self, sig: tuple[Ty, ...], origin: str = "observed") -> bool | None:
        """Compile `sig` before a call needs it (runtime/ahead.py's thread); calls meanwhile run as bytecode.

        `origin` says where the signature came from: "annotation", "observed" or "predicted".
        True if native code for `sig` was installed, False if it stays bytecode, None if it was
        not tried (a call came first, or the function is done with specializations).
        """
        with _compile_lock():
            if sig in self.tried or self.gave_up or self.func is None or len(self.entries) >= max_specializations():
                return None
            self.tried.add(sig)
            self.pending.add(sig)
            try:
                return self._compile(sig, label=f" ({origin}: compiled ahead)") is not None
            finally:
                self.pending.discard(sig)

    def _observed(self, sig: tuple[Ty, ...], entry: Any) -> None:  # noqa: ANN401
        """Record a signature seen for the first time in this process (predict/observed.py).

        One loaded from a .pym was recorded by the run that compiled it: a warm run writes nothing.
        """
        if entry is None or entry.origin == "compiled":
            from fastimport.predict import observed

            observed.note(self, sig, entry.ret_type if entry is not None else None)

    def _note_miss(self, sig: tuple[Ty, ...] | None, args: tuple[object, ...]) -> None:
        """Count a call that runs as bytecode; give up on native code where it does not pay."""
        if sig is None and self.func is not None and self.misses + self.record.deopts < NOTE_BYTECODE_CALLS:
            from fastimport.predict import observed

            try:
                observed.note_bytecode(self, args)
            except Exception as e:  # noqa: BLE001 - contract: recording a call never changes it
                internal_error(f"recording the types of a call of {self.module}.{self.node.name}", e)
        if self.entries:
            self.record.deopts += 1
            if self.record.deopts % DEOPT_CHECK_EVERY == 0 and self._deopts_dominate():
                self._give_up("deopts outnumber native calls (big ints, say): back to plain bytecode")
        elif self.func is not None:
            if sig is None and self.record.reason == "not called yet":
                kinds = ", ".join(type(a).__name__ for a in args)
                self.record.reason = (
                    f"called with ({kinds}); only int, float, bool, tuples and lists of them, NumPy scalar"
                    " and ndarray arguments are compiled"
                )
            self.misses += 1
            if self.misses >= GIVE_UP_AFTER:
                self._give_up()

    def _world_changed(self) -> bool:
        """Whether the newest specialization keeps missing because a global changed.

        Bounded: each function recompiles for a changed world at most RECOMPILES times.
        """
        if not self.entries or self.recompiles >= RECOMPILES:
            return False
        misses = self.entries[-1].data.world_misses
        if misses < WORLD_MISSES_BEFORE_RECOMPILE:
            return False
        self.recompiles += 1
        return True

    def note_native_callee(self, signature: str) -> None:
        """This function also runs natively inside another function's compiled code."""
        entry = f"{signature} (called from native code)"
        if entry not in self.record.signatures:
            self.record.signatures.append(entry)
        if self.record.status != registry.NATIVE:
            self.record.status = registry.NATIVE
            self.record.reason = None

    def _candidates(self, sig: tuple[Ty, ...]) -> list[tuple[Ty, ...]]:
        """Annotated signature first (once), then the observed one."""
        annotated = self.annotated()
        if annotated is not None and annotated not in self.tried and annotated != sig:
            return [annotated, sig]
        return [sig]

    def annotated(self) -> tuple[Type, ...] | None:
        """The signature the annotations give, if every parameter has one native code takes (`annotation_type`)."""
        args = self.node.args
        params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        found = [annotation_type(p.annotation) for p in params]
        return None if not params or None in found else tuple(found)  # type: ignore[arg-type]

    @staticmethod
    def _signature(args: tuple[object, ...]) -> tuple[Ty, ...] | None:
        sig = []
        for arg in args:
            ty = _value_type(arg)
            if ty is None or ty is Ty.NONE:
                return None
            sig.append(ty)
        return tuple(sig)

    def _bind(self, frame: types.FrameType) -> None:
        code = frame.f_code
        candidate = frame.f_globals.get(self.node.name)
        if getattr(candidate, "__code__", None) is code:
            self.func = candidate  # type: ignore[assignment]
            return
        for obj in gc.get_referrers(code):
            if isinstance(obj, types.FunctionType) and obj.__code__ is code:
                self.func = obj
                return

    def _load(self, sig: tuple[Ty, ...]) -> Any:  # noqa: ANN401
        """The specialization from the module's .pym artifact (runtime/artifacts.py), or None."""
        from fastimport.runtime import artifacts

        start = time.perf_counter()
        try:
            with _compile_lock():
                return artifacts.load(self, self.func, sig, self.entries[-1] if self.entries else None)  # type: ignore[arg-type]
        except Exception as e:  # noqa: BLE001 - contract: a bad artifact is recompiled, never fatal
            internal_error(f"loading {self.module}.{self.node.name} from the cache", e)
            return None
        finally:
            self.record.load_ms += (time.perf_counter() - start) * 1000

    def _compile(self, sig: tuple[Ty, ...], label: str = "") -> Any:  # noqa: ANN401
        """Load or compile `sig`, then install it; None if it stays bytecode (under the compile lock)."""
        if self.func is None:
            return None
        entry = self._load(sig)
        if entry is not None:
            self.record.loaded += 1
            origin = "shipped .pym" if entry.origin == "shipped" else "cache"
            return self._add_entry(entry, f"{signature_str(sig, entry.ret_type)} (from {origin})")
        from fastimport.compiler import compile_specialization  # its import is not compile time

        start, setup_before = time.perf_counter(), registry.setup_ms()
        try:
            # One compile at a time: llvmlite releases the GIL and the JIT engine is shared.
            with _compile_lock():
                entry = compile_specialization(self, self.func, sig, self.entries[-1] if self.entries else None)
        except Unsupported as e:
            reason = e.where(self.path)
            log(f"{self.module}.{self.node.name}{tuple(map(str, sig))} stays bytecode: {reason}")
            if not self.entries:
                self.record.reason = reason
            else:
                self.record.rejected.append(f"({', '.join(map(str, sig))}): {reason}")
            return None
        except Exception as e:  # noqa: BLE001 - contract: never break the program
            reason = internal_error(f"compiling {self.module}.{self.node.name}", e)
            if not self.entries:
                self.record.reason = reason
            return None
        finally:
            setup = registry.setup_ms() - setup_before  # LLVM start-up, shared entry code
            self.record.compile_ms += (time.perf_counter() - start) * 1000 - setup
        self.record.compilations += 1
        return self._add_entry(entry, signature_str(sig, entry.ret_type) + label)

    def _add_entry(self, entry: Any, signature: str) -> Any:  # noqa: ANN401
        self.entries.append(entry)
        self.record.status = registry.NATIVE
        self.record.reason = None
        self.record.signatures.append(signature)
        self.record._native_counters.append(entry.native_calls)  # noqa: SLF001
        self._install(entry)
        self._arm_tier_up(entry)
        return entry

    def _arm_tier_up(self, entry: Any) -> None:  # noqa: ANN401
        """Let the newest entry, if a leaf without a vectorcall of its own, ask for one once called often.

        The hook (`_tier_up_due`) is called by the entry code's lite path (backend/entry.py
        `_emit_tier_check`) at the TIER_UP_CALLS-th native call, and queues `tier_up` on the
        compile-ahead thread. Only where the function's vectorcall is what Python calls run:
        3.11 inlines Python-to-Python calls and enters through the prologue, which a
        vectorcall of the unit's own would not shorten.
        """
        from fastimport.runtime.native import NEVER

        for older in self.entries[:-1]:
            older.data.tier_at = NEVER  # (no longer the function's vectorcall)
        if not entry.leaf or entry.code_slot or not entry.vectorcall_address or not _tier_up_allowed():
            return
        hook = functools.partial(_tier_up_due, self, entry)
        entry.keepalive.append(hook)
        entry.data.tier_hook = id(hook)
        entry.data.tier_at = entry.data.calls + TIER_UP_CALLS

    def tier_up(self, entry: Any) -> bool:  # noqa: ANN401
        """Compile `entry`'s signature again with a vectorcall of the unit's own, and install it in its place.

        On the compile-ahead thread (runtime/ahead.py). False if `entry` is no longer the
        newest specialization (the function's vectorcall is another's now), or the compile
        did not make one. The replaced entry is kept: the call that asked may still be in it.
        """
        from fastimport.compiler import compile_specialization

        with _compile_lock():
            if self.func is None or self.gave_up or not self.entries or self.entries[-1] is not entry:
                return False
            if not self._runs_own_code():
                return False
            prev = self.entries[-2] if len(self.entries) > 1 else None
            start = time.perf_counter()
            try:
                new = compile_specialization(self, self.func, entry.args, prev, own_vectorcall=True)
            except Unsupported as e:  # (a global it reads may have changed type since: the entry stays)
                log(f"{self.module}.{self.node.name}: no tier-up ({e.where(self.path)})")
                return False
            except Exception as e:  # noqa: BLE001 - contract: never break the program (it compiled once)
                internal_error(f"compiling {self.module}.{self.node.name} again for its own vectorcall", e)
                return False
            ms = (time.perf_counter() - start) * 1000
            if not new.code_slot or not self._install(new):
                return False
            self.entries[-1] = new
            self.retired.append(entry)
            self.record._native_counters.append(new.native_calls)  # noqa: SLF001
            self.record.tiered_up.append(f"{signature_str(new.args, new.ret_type)} ({ms:.1f} ms)")
            log(f"{self.module}.{self.node.name}: tiered up to a vectorcall of its own in {ms:.1f} ms")
            return True

    def _install(self, entry: Any) -> bool:  # noqa: ANN401
        """Swap the slot constant in the prologue for the native entry point; False if the code is not ours.

        Where CPython honours it, the function's vectorcall also points at the
        entry, which then skips the frame (it finds its data through `__code__`, so a
        replaced `__code__` goes to CPython's own vectorcall). A function the program
        gave another code while this compiled (on the compile-ahead thread: ahead of its
        first call, or a tier-up) keeps that code.
        """
        if self.prologue_code is None or self.func is None:  # compiled only after binding
            raise AssertionError(self.record.qualname)
        if not self._runs_own_code():
            log(f"{self.module}.{self.node.name}: not installed (its __code__ was replaced)")
            return False
        consts = tuple(entry.function if c is self else c for c in self.prologue_code.co_consts)
        code = self.prologue_code.replace(co_consts=consts)
        self._own(code)
        self.func.__code__ = code
        if entry.vectorcall_address:
            from fastimport.runtime.funcobject import set_vectorcall

            entry.bind_vectorcall(self.func, code)
            set_vectorcall(self.func, entry.vectorcall_address)
        return True

    def _runs_own_code(self) -> bool:
        """Whether the function's `__code__` is one this state made (not one the program assigned)."""
        current = getattr(self.func, "__code__", None)
        return any(code is current for code in self.codes)

    def _deopts_dominate(self) -> bool:
        """Whether native code mostly declines: each deopt costs a miss, an exception and bytecode."""
        return self.record.deopts > DEOPTS_PER_NATIVE_CALL * self.record.native_calls

    def _give_up(self, reason: str = "never called with int/float/bool arguments") -> None:
        """Remove the prologue (and the vectorcall): plain bytecode from now on, at no cost."""
        if self.func is None or self.plain_code is None:
            return  # nothing to restore
        from fastimport.runtime.funcobject import restore_version, set_vectorcall

        self.gave_up = True
        self.func.__code__ = self.plain_code
        if self.entries:  # only then was a vectorcall installed
            set_vectorcall(self.func, 0)
            self.record.status = registry.BYTECODE
            self.record.reason = reason
        elif self.record.reason in (None, "not called yet"):
            self.record.reason = reason
        restore_version(self.func)  # (3.13: else the interpreter never specializes its calls again)


def _tier_up_due(state: FunctionState, entry: Any) -> None:  # noqa: ANN401
    """Called by native code (a leaf's TIER_UP_CALLS-th call): queue its tier-up; never raises but KeyboardInterrupt.

    Not in a process that has not loaded LLVM (a warm run, every unit from a `.pym`):
    importing llvmlite holds the GIL ~50 ms, which the program would wait for, against a
    few ns a call; the run that compiles the unit tiers it up if it is hot there.
    """
    from fastimport.runtime.native import NEVER

    entry.data.tier_at = NEVER  # (once)
    if "llvmlite.binding" not in sys.modules:
        log(f"{state.module}.{state.node.name}: no tier-up in a run that has not loaded LLVM")
        return
    try:
        from fastimport.runtime import ahead

        ahead.tier_up(state, entry)
    except Exception as e:  # noqa: BLE001 - contract: never break the program
        internal_error(f"queueing {state.module}.{state.node.name} for its own vectorcall", e)


def _tier_up_allowed() -> bool:
    """Whether tier-ups may be compiled: a CPython whose Python calls use the vectorcall, and a thread allowed."""
    from fastimport.config import ConfigError, active_config
    from fastimport.runtime.native import TIER_UPS

    if not TIER_UPS:
        return False
    try:
        return active_config().ahead
    except ConfigError:
        return False


_SCALAR_NAMES = {"int": Ty.INT, "float": Ty.FLOAT, "bool": Ty.BOOL}


def annotation_type(node: ast.expr | None) -> Type | None:
    """The type an annotation names, if native code takes it, else None.

    `int`, `float`, `bool`, `list[float]`, `list[list[int]]`, `tuple[float, float]`
    (`List` and `Tuple` from typing too; a string annotation is read). Anything else (an
    ndarray's annotation says no dtype or ndim, a union, `tuple[int, ...]`) is None.
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "list[float]"
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(node, ast.Name):
        return _SCALAR_NAMES.get(node.id)
    kind = node.value.id.lower() if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) else None
    if kind == "list":
        item = annotation_type(node.slice)  # type: ignore[union-attr]
        return List(item) if item in LIST_ITEMS or isinstance(item, List) else None
    if kind == "tuple" and isinstance(node.slice, ast.Tuple) and node.slice.elts:  # type: ignore[union-attr]
        items = [annotation_type(elt) for elt in node.slice.elts]  # type: ignore[union-attr]
        if len(items) <= MAX_TUPLE and all(is_scalar(t) or isinstance(t, Tuple) for t in items):
            return Tuple(tuple(items))  # type: ignore[arg-type]
    return None


def _value_type(value: object) -> Type | None:
    """The type native code would give an argument, or None if it takes no such argument."""
    ty = PY_TYPES.get(type(value))
    if ty is None and type(value) is tuple:
        return tuple_type(value, _value_type)  # type: ignore[arg-type]
    if ty is None and type(value) is list:
        return list_type(value, _value_type)  # type: ignore[arg-type]
    if ty is None and "numpy" in sys.modules:  # only then can an argument be NumPy's
        from fastimport.frontend.numpy_types import array_type, numpy_scalar_type

        ty = array_type(value) or numpy_scalar_type(value)
    return ty
