"""The report: what happened to every function fastimport looked at, as a table or JSON.

    records = all_functions()
    format_text(records) ->
        fastimport: 2 functions, 1 native, 1 bytecode
        function  location      status    native calls  deopts  compile ms  signatures / reason
        energy    nbody.py:12   native            1000       0        12.3  (float, float) -> float
        main      nbody.py:40   bytecode             0       0         0.0  not called yet
    write_json(records, "out.json")   # [record.as_dict(), ...]

`report_at_exit(True | path)` prints or writes it when the process exits, whatever the
exit path (normal end, `sys.exit()`, uncaught exception).
"""

from __future__ import annotations

import os
import sys

# Not `from typing import TYPE_CHECKING`: importing typing costs ~6 ms of every start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from fastimport.runtime.registry import FunctionRecord

_HEADERS = ("function", "location", "status", "native calls", "deopts", "compile ms", "signatures / reason")
# Numeric columns are right-aligned.
_RIGHT = frozenset({3, 4, 5})


def format_text(records: Sequence[FunctionRecord]) -> str:
    """An aligned table with one line per record, under a one-line summary."""
    if not records:
        return "fastimport: no functions were seen (nothing in scope was imported)\n"
    native = sum(1 for r in records if r.status == "native")
    summary = f"fastimport: {len(records)} functions, {native} native, {len(records) - native} bytecode"
    from fastimport.runtime.registry import setup_ms

    if setup_ms():
        summary += f"; one-time LLVM set-up {setup_ms():.1f} ms (not in compile ms)"
    rows = [_HEADERS, *(_row(r) for r in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADERS) - 1)]
    lines = [summary]
    for row in rows:
        cells = [
            cell.rjust(w) if i in _RIGHT else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines) + "\n"


def write_json(records: Sequence[FunctionRecord], path: str | os.PathLike[str]) -> None:
    """Write `[record.as_dict(), ...]` to `path` as JSON (replacing the file atomically)."""
    import json  # only when a JSON report is asked for

    text = json.dumps([r.as_dict() for r in records], indent=2) + "\n"
    tmp = f"{os.fspath(path)}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


_registered: list[bool | str | os.PathLike[str]] = []


def report_at_exit(target: bool | str | os.PathLike[str]) -> None:  # noqa: FBT001 - mirrors Config.report
    """At exit, print the text report to stderr (`True`) or write JSON to `target` (a path).

    Only the first call registers; later calls change where the report goes.
    """
    if isinstance(target, (str, os.PathLike)):
        target = os.path.abspath(target)  # the program may chdir before it exits
    if not _registered:
        import atexit

        atexit.register(_report)
        _registered.append(target)
    else:
        _registered[0] = target


def _report() -> None:
    from fastimport.runtime.registry import all_functions

    target = _registered[0]
    if not target:
        return
    records = all_functions()
    try:
        if target is True:
            sys.stderr.write(format_text(records))
            sys.stderr.flush()
        else:
            write_json(records, target)  # type: ignore[arg-type]
    except Exception as e:  # noqa: BLE001 - a failed report must not change the exit status
        print(f"fastimport: could not write the report to {target}: {e}", file=sys.stderr)


def _row(record: FunctionRecord) -> tuple[str, ...]:
    details = "; ".join(record.signatures + [f"not compiled: {r}" for r in record.rejected])
    if record.status != "native" and record.reason:
        details = f"{details}  ({record.reason})" if details else record.reason
    if record.predicted and not record.predicted.endswith("compiled ahead"):  # (else its signature says so)
        details = f"{details}; predicted {record.predicted}" if details else f"predicted {record.predicted}"
    if record.tiered_up:
        details = f"{details}; tiered up: {', '.join(record.tiered_up)}"
    return (
        record.qualname,
        f"{_short_path(record.file)}:{record.line}",
        record.status,
        str(record.native_calls),
        str(record.deopts),
        f"{record.compile_ms:.1f}",
        details,
    )


def _short_path(path: str) -> str:
    """`path` relative to the current directory when it lies below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith(os.pardir) else relative
