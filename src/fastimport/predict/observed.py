"""The argument types runs have seen, kept per user across runs (SQLite in the cache tree).

    note(state, args, ret)          a signature this process saw a function called with (and
                                    the result type its compiled code has, or None: not compiled)
    note_bytecode(state, values)    a call whose arguments fastimport compiles no code for (a str,
                                    None...): their labels (predict/labels.py), kept to know better
                                    than to compile a guess for that function ahead
    flush()                         write what was noted (at exit; never raises)
    signatures(state) -> [(args, ret, runs)]
                                    what earlier runs saw for this very function, most runs first
    function_hash(state) -> str     what an observation is tied to: the function's own source

A signature is noted when the dispatcher first sees it and compiles it (or finds it cannot)
in this process; one loaded from a `.pym` was noted by the run that compiled it, so a warm
run writes nothing and does not import sqlite3 (~3 ms). Observations are keyed by module
and file, function name and a hash of the function's source lines: editing a function
starts its record afresh, and an observation never outlives the code it was made on. `fastimport
compile` uses them after annotations and listed signatures (aotcmd.py).

The database is one file, `observed.sqlite3`, beside the artifacts of the cache tree
(runtime/cachedir.py). Concurrent processes each write in one short transaction, which
SQLite serializes (a busy writer is waited for, up to 10 s); a file that is not a
database of ours, or any SQLite error, costs one warning and the observations of that
run, never the program.
"""

from __future__ import annotations

import os
import time

from fastimport.runtime import cachedir

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

    from fastimport.config import Config
    from fastimport.frontend.types import Type
    from fastimport.runtime.dispatch import FunctionState

DATABASE = "observed.sqlite3"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 10.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS observed (
    module TEXT NOT NULL,     -- as imported: "__main__" for a script run as one
    path TEXT NOT NULL,       -- the source file's real path (a script is found by it)
    function TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    args TEXT NOT NULL,       -- the argument types: JSON of frontend.types.type_to_json
    shown TEXT NOT NULL,      -- the same, as the report prints them: "(float64[:], int)"
    ret TEXT,                 -- the result type of the compiled code (JSON), or NULL: not compiled
    runs INTEGER NOT NULL,    -- how many runs noted it
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    PRIMARY KEY (module, path, function, code_hash, args)
)
"""

# (state, args) -> the result type, noted for `flush`
_PENDING: dict[tuple[int, tuple[Type, ...]], tuple[FunctionState, tuple[Type, ...], Type | None]] = {}


def note(state: FunctionState, args: tuple[Type, ...], ret: Type | None) -> None:
    """Remember that `state`'s function was called with `args` (written at exit by `flush`)."""
    if state.source is None or database_path() is None:
        return
    if not _PENDING:
        import atexit

        atexit.register(flush)
    _PENDING[id(state), args] = (state, args, ret)


_BYTECODE_KINDS = 4  # distinct label tuples noted per function and process (misses are bounded anyway)


def note_bytecode(state: FunctionState, values: tuple[object, ...]) -> None:
    """Remember that `state`'s function ran as bytecode for arguments no specialization takes.

    Called on the dispatcher's miss path only (a call that already pays a failed guard), so
    running as bytecode costs nothing more than it did.
    """
    from fastimport.predict.labels import label_of
    from fastimport.runtime import ahead

    kinds = tuple(label_of(v) for v in values)
    if kinds in state.bytecode_kinds or len(state.bytecode_kinds) >= _BYTECODE_KINDS:
        return
    state.bytecode_kinds.add(kinds)
    if ahead.module_is_warm(state):  # the run that wrote its .pym noted these: a warm run writes nothing
        return
    note(state, kinds, None)  # type: ignore[arg-type] - labels, told apart by their type (str) in _row


def flush() -> None:
    """Write the noted signatures into the store. Never raises: a broken store costs one warning."""
    if not _PENDING:
        return
    now = time.time()
    rows = [row for state, args, ret in _PENDING.values() if (row := _row(state, args, ret, now)) is not None]
    _PENDING.clear()
    path = database_path()
    if rows and path is not None:
        _with_store(path, lambda db: _upsert(db, rows), "recording observed types")


def _row(state: FunctionState, args: tuple[Type, ...], ret: Type | None, now: float) -> tuple[object, ...] | None:
    """The store's row for one observation; None (and the reason under FASTIMPORT_DEBUG) if it has none."""
    import json

    from fastimport.frontend.types import signature_str, type_to_json

    try:
        if all(isinstance(t, str) for t in args) and args:  # labels of a bytecode call (note_bytecode)
            shown = f"({', '.join(args)})"  # type: ignore[arg-type]
            encoded = json.dumps({"labels": list(args)})
        else:
            shown = signature_str(args, None).partition(" ->")[0]
            encoded = json.dumps([type_to_json(t) for t in args])
        result = json.dumps(type_to_json(ret)) if ret is not None else None
        path = os.path.realpath(state.path)
        return (state.module, path, state.node.name, function_hash(state), encoded, shown, result, now, now)
    except Exception as e:  # noqa: BLE001 - at exit: the program's output and status stay CPython's
        from fastimport.runtime.debug import internal_error

        internal_error(f"recording the types of {state.module}.{state.node.name}", e)
        return None


def _upsert(db: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    db.execute("BEGIN IMMEDIATE")  # one writer at a time; the others wait (busy timeout)
    db.executemany(
        """INSERT INTO observed (module, path, function, code_hash, args, shown, ret, runs, first_seen, last_seen)
           VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
           ON CONFLICT (module, path, function, code_hash, args) DO UPDATE SET
               runs = runs + 1, last_seen = excluded.last_seen, ret = coalesce(excluded.ret, ret)""",
        rows,
    )
    db.execute("COMMIT")


def signatures(state: FunctionState, config: Config | None = None) -> list[tuple[tuple[Type, ...], Type | None, int]]:
    """What earlier runs saw `state`'s function (this very source of it) called with: most runs first.

    `config`: whose cache tree to look in (default: this process's).
    """
    path = database_path(config)
    if state.source is None or path is None or not path.exists():
        return []
    # By module, or by file: `fastimport compile prog.py` imports as `prog` what ran as `__main__`.
    query = """SELECT args, max(ret), sum(runs) FROM observed
               WHERE function = ? AND code_hash = ? AND (module = ? OR path = ?)
               GROUP BY args ORDER BY sum(runs) DESC, min(first_seen), min(rowid)"""
    key = (state.node.name, function_hash(state), state.module, os.path.realpath(state.path))
    rows = _with_store(path, lambda db: db.execute(query, key).fetchall(), "reading observed types") or []
    return [found for row in rows if (found := _decoded(*row)) is not None]


def bytecode_calls(state: FunctionState, config: Config | None = None) -> list[tuple[str, ...]]:
    """The labels of the calls earlier runs saw `state`'s function run as bytecode with (note_bytecode)."""
    import json

    path = database_path(config)
    if state.source is None or path is None or not path.exists():
        return []
    query = """SELECT args FROM observed WHERE function = ? AND code_hash = ? AND (module = ? OR path = ?)
               AND args LIKE '{"labels"%' ORDER BY runs DESC"""
    key = (state.node.name, function_hash(state), state.module, os.path.realpath(state.path))
    rows = _with_store(path, lambda db: db.execute(query, key).fetchall(), "reading observed types") or []
    return [tuple(json.loads(args)["labels"]) for (args,) in rows]


def _decoded(args: str, ret: str | None, runs: int) -> tuple[tuple[Type, ...], Type | None, int] | None:
    import json

    from fastimport.frontend.types import type_from_json

    try:
        return (
            tuple(type_from_json(t) for t in json.loads(args)),
            type_from_json(json.loads(ret)) if ret is not None else None,
            int(runs),
        )
    except (ValueError, TypeError, AttributeError):  # labels (note_bytecode), or another type notation
        return None


def function_hash(state: FunctionState) -> str:
    """The SHA-256 of the function's source lines (its `def` through its last line), as the hook read them."""
    from fastimport.runtime.pym import sha256

    node = state.node
    lines = (state.source or b"").splitlines(keepends=True)
    return sha256(b"".join(lines[node.lineno - 1 : node.end_lineno])).hexdigest()


def database_path(config: Config | None = None) -> Path | None:
    """Where the store is: in the cache tree of `config` (this process's by default); None when that cache is off."""
    from fastimport.config import ConfigError, active_config

    try:
        tree = cachedir.cache_tree(config or active_config())
    except ConfigError:
        return None
    return tree / DATABASE if tree is not None else None


def _with_store(path: Path, work: object, doing: str) -> object:
    """`work(connection)` on the store at `path` (created if missing); None and one warning on any failure."""
    import sqlite3

    try:
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            _prepare(db)
            return work(db)  # type: ignore[operator]
        finally:
            db.close()
    except sqlite3.OperationalError as e:  # locked for longer than the timeout, read-only, disk full...
        cachedir.warn_once(f"{doing} in {path} failed ({e}); running without it")
        return None
    except sqlite3.DatabaseError as e:  # not a database (or a damaged one): the next run starts it afresh
        cachedir.warn_once(f"{doing} in {path} failed ({e}); the file is removed")
        path.unlink(missing_ok=True)
        return None
    except (sqlite3.Error, OSError) as e:
        cachedir.warn_once(f"{doing} in {path} failed ({e}); running without it")
        return None


def _prepare(db: sqlite3.Connection) -> None:
    """The table, created if missing; a store of another schema version is emptied first."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version == SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    (version,) = db.execute("PRAGMA user_version").fetchone()  # (another process may have done it)
    if version != SCHEMA_VERSION:
        db.execute("DROP TABLE IF EXISTS observed")
        db.execute(SCHEMA)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    db.execute("COMMIT")
