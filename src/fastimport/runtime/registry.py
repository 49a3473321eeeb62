"""Every function fastimport has looked at, with what happened to it.

The hook registers one `FunctionState` per module-level `def` it sees; the
compiler and the native entry points update it; the report reads it.

    register(state)  ->  all_functions() == [state, ...]
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `from typing import ...`: typing costs ~6 ms of start-up
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

NATIVE = "native"
BYTECODE = "bytecode"


class FunctionRecord:
    """What the report shows for one function (filled in by the runtime).

    A plain class, not a dataclass: importing dataclasses (and with it inspect) would
    cost every module with a function ~8 ms of start-up.
    """

    def __init__(  # noqa: PLR0913 - one argument per reported field
        self,
        module: str,
        qualname: str,
        file: str,
        line: int,
        *,
        status: str = BYTECODE,
        reason: str | None = "not called yet",
        signatures: list[str] | None = None,
        deopts: int = 0,
        compile_ms: float = 0.0,
    ) -> None:
        self.module = module
        self.qualname = qualname
        self.file = file
        self.line = line
        self.status = status
        # Why the function is (still) bytecode: "<construct> at file:line:col", or "not called yet".
        self.reason = reason
        # One entry per specialization, e.g. "(int, float) -> float".
        self.signatures: list[str] = list(signatures or [])
        self.deopts = deopts
        self.compile_ms = compile_ms
        # Specializations compiled by LLVM in this process, and loaded from .pym artifacts.
        self.compilations = 0
        self.loaded = 0
        self.load_ms = 0.0  # time spent looking up and loading artifacts (hits and misses)
        # Signatures seen after the first specialization that stay bytecode: "(sig): reason".
        self.rejected: list[str] = []
        # What the type predictor guessed and what became of it (runtime/ahead.py), e.g.
        # "(n: int 0.97): compiled ahead"; None if it was not asked.
        self.predicted: str | None = None
        # Signatures compiled again with a vectorcall of their own after many calls
        # (runtime/dispatch.py `tier_up`), with the time it took on the compile-ahead thread.
        self.tiered_up: list[str] = []
        # Read lazily from native counters; see `native_calls`.
        self._native_counters: list[Callable[[], int]] = []

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in self.as_dict().items())
        return f"FunctionRecord({fields})"

    @property
    def native_calls(self) -> int:
        """Calls that ran native code to the end, summed over specializations."""
        return sum(counter() for counter in self._native_counters)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of this record (the fields `--report=FILE.json` promises)."""
        return {
            "module": self.module,
            "qualname": self.qualname,
            "file": self.file,
            "line": self.line,
            "status": self.status,
            "reason": self.reason,
            "signatures": list(self.signatures),
            "rejected": list(self.rejected),
            "predicted": self.predicted,
            "tiered_up": list(self.tiered_up),
            "native_calls": self.native_calls,
            "deopts": self.deopts,
            "compile_ms": round(self.compile_ms, 3),
            "compilations": self.compilations,
            "loaded": self.loaded,
            "load_ms": round(self.load_ms, 3),
        }


_RECORDS: list[FunctionRecord] = []
# One-time work of the process, kept out of the functions' compile_ms: importing and
# initializing LLVM, compiling the entry code shared by a signature shape.
_SETUP_MS: list[float] = [0.0]


def add_setup_ms(ms: float) -> None:
    """Account one-time back-end set-up (see `setup_ms`)."""
    _SETUP_MS[0] += ms


def setup_ms() -> float:
    """Milliseconds of one-time set-up so far (LLVM initialization, shared entry code)."""
    return _SETUP_MS[0]


def register(record: FunctionRecord) -> FunctionRecord:
    """Add a record; the report lists records in registration order."""
    _RECORDS.append(record)
    return record


def all_functions() -> list[FunctionRecord]:
    """Every record registered in this process, in order."""
    return list(_RECORDS)


# module name -> the source its functions were compiled from (hashed only when an artifact is read or written)
_SOURCES: dict[str, bytes] = {}


def note_source(module: str, source: bytes) -> None:
    """Keep the source `module`'s candidate functions come from (the key of its .pym)."""
    _SOURCES[module] = source


def source_of(module: str) -> bytes | None:
    """The source last transformed for `module`, or None."""
    return _SOURCES.get(module)
