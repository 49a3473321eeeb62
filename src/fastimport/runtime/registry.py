"""Every function fastimport has looked at, with what happened to it.

The hook registers one `FunctionState` per module-level `def` it sees; the
compiler and the native entry points update it; the report reads it.

    register(state)  ->  all_functions() == [state, ...]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NATIVE = "native"
BYTECODE = "bytecode"


@dataclass(eq=False)
class FunctionRecord:
    """What the report shows for one function (filled in by the runtime)."""

    module: str
    qualname: str
    file: str
    line: int
    status: str = BYTECODE
    # Why the function is (still) bytecode: "<construct> at file:line:col", or "not called yet".
    reason: str | None = "not called yet"
    # One entry per specialization, e.g. "(int, float) -> float".
    signatures: list[str] = field(default_factory=list)
    deopts: int = 0
    compile_ms: float = 0.0
    # Read lazily from native counters; see `native_calls`.
    _native_counters: list[Any] = field(default_factory=list, repr=False)

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
            "native_calls": self.native_calls,
            "deopts": self.deopts,
            "compile_ms": round(self.compile_ms, 3),
        }


_RECORDS: list[FunctionRecord] = []


def register(record: FunctionRecord) -> FunctionRecord:
    """Add a record; the report lists records in registration order."""
    _RECORDS.append(record)
    return record


def all_functions() -> list[FunctionRecord]:
    """Every record registered in this process, in order."""
    return list(_RECORDS)
