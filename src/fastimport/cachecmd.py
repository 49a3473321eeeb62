"""`python -m fastimport cache {info,clear,prune}`: what the .pym cache holds, and removing it.

    cache info                   location, size, one line per artifact, the observed types
    cache clear                  remove every artifact of this Python's tree, and the observed types
    cache prune [--days N]       remove artifacts that can never be used again: damaged ones,
                                 ones of another fastimport version, ones whose source file is
                                 gone, and ones not written for N days (default 30); and the
                                 observed types of files that are gone or not seen for N days

Works on the tree `[tool.fastimport] cache_dir` / FASTIMPORT_CACHE_DIR / the platform
default selects, as a run would (runtime/cachedir.py).
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_PRUNE_DAYS = 30
DATABASE = "observed.sqlite3"  # predict/observed.py


def main(argv: list[str]) -> int:
    """Run a `cache` subcommand; the exit status."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m fastimport cache", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="show the cache's location, size and entries")
    commands.add_parser("clear", help="remove every artifact of this Python's cache tree")
    prune = commands.add_parser("prune", help="remove artifacts that are damaged, stale, orphaned or old")
    prune.add_argument(
        "--days", type=float, default=DEFAULT_PRUNE_DAYS, help=f"age limit in days (default {DEFAULT_PRUNE_DAYS})"
    )
    options = parser.parse_args(argv)
    tree = _tree()
    if tree is None:
        return 2
    if options.command == "info":
        return _info(tree)
    if options.command == "clear":
        removed = [_remove(path) for path in _artifacts(tree)]
        print(f"removed {sum(removed)} artifact(s) from {tree}")
        store = tree / DATABASE
        if store.exists() and _remove(store):
            print(f"removed the observed types ({store.name})")
        return 0
    return _prune(tree, options.days)


def _tree() -> Path | None:
    from fastimport.config import ConfigError, load_config
    from fastimport.runtime import cachedir

    try:
        config = load_config()
    except ConfigError as e:
        print(e, file=sys.stderr)
        return None
    if not cachedir.supported():
        print("fastimport cache: .pym artifacts are only used on Linux x86-64", file=sys.stderr)
        return None
    return cachedir.cache_root(config) / (sys.implementation.cache_tag or "python")


def _artifacts(tree: Path) -> list[Path]:
    return sorted(tree.glob("*.pym")) if tree.is_dir() else []


def _remove(path: Path) -> bool:
    try:
        path.unlink()
    except OSError as e:
        print(f"cannot remove {path}: {e}", file=sys.stderr)
        return False
    return True


def _describe(path: Path) -> tuple[str, dict[str, object]]:
    """(state, header): state is "ok", "damaged: ...", "other version: ..." or "source gone"."""
    from fastimport.runtime import cachedir, pym

    try:
        header = pym.decode(path.read_bytes()).header
    except pym.PymVersionError as e:
        return f"other format: {e}", {}
    except (OSError, pym.PymError) as e:
        return f"damaged: {e}", {}
    if header["fastimport"] != cachedir.fastimport_version():
        return f"other version: fastimport {header['fastimport']}", header
    source = header.get("source")
    if isinstance(source, str) and not os.path.exists(source):
        return "source gone", header
    return "ok", header


def _info(tree: Path) -> int:
    paths = _artifacts(tree)
    size = sum(path.stat().st_size for path in paths)
    print(f"cache: {tree}")
    print(f"{len(paths)} artifact(s), {size / 1024:.1f} KiB")
    now = time.time()
    for path in paths:
        state, header = _describe(path)
        units = len(header.get("sections", [])) and _unit_count(path)
        age = (now - path.stat().st_mtime) / 86400
        source = header.get("source", "?")
        print(
            f"  {path.name}  {path.stat().st_size / 1024:.1f} KiB  {units} unit(s)  {age:.1f} days  {state}  {source}"
        )
    store = tree / DATABASE
    if store.exists():
        count = _query(store, "SELECT count(*), count(DISTINCT module || ':' || function) FROM observed")
        what = f"{count[0][0]} signature(s) of {count[0][1]} function(s)" if count else "unreadable"
        print(f"observed types: {store.name}  {store.stat().st_size / 1024:.1f} KiB  {what}")
    return 0


def _query(store: Path, sql: str) -> list[tuple[object, ...]] | None:
    """Rows of `sql` on the observation store (None if it cannot be read)."""
    import sqlite3

    try:
        db = sqlite3.connect(store, timeout=10)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()
    except sqlite3.Error as e:
        print(f"cannot read {store}: {e}", file=sys.stderr)
        return None


def _prune_observed(store: Path, now: float, days: float) -> None:
    """Drop the observations of source files that are gone, and those not seen for `days`."""
    import sqlite3

    try:
        db = sqlite3.connect(store, timeout=10)
        try:
            with db:  # one transaction
                paths = [path for (path,) in db.execute("SELECT DISTINCT path FROM observed")]
                gone = [(path,) for path in paths if not os.path.exists(path)]
                db.executemany("DELETE FROM observed WHERE path = ?", gone)
                old = db.execute("DELETE FROM observed WHERE last_seen < ?", (now - days * 86400,)).rowcount
        finally:
            db.close()
    except sqlite3.Error as e:
        print(f"cannot prune {store}: {e}", file=sys.stderr)
        return
    print(f"pruned the observed types of {len(gone)} file(s) gone, and {old} signature(s) not seen for {days:g} days")


def _unit_count(path: Path) -> int:
    from fastimport.runtime import pym

    try:
        return len(pym.load_plain(pym.decode(path.read_bytes()).sections["meta"])["units"])
    except (OSError, KeyError, TypeError, ValueError):
        return 0


def _prune(tree: Path, days: float) -> int:
    now, removed = time.time(), 0
    for path in _artifacts(tree):
        state, _ = _describe(path)
        old = now - path.stat().st_mtime > days * 86400
        if (state != "ok" or old) and _remove(path):
            removed += 1
            print(f"removed {path.name} ({state if state != 'ok' else f'older than {days:g} days'})")
    print(f"pruned {removed} artifact(s) from {tree}")
    store = tree / DATABASE
    if store.exists():
        _prune_observed(store, now, days)
    return 0
