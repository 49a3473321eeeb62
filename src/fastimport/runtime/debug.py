"""FASTIMPORT_DEBUG: 0 quiet, 1 internal errors and compile decisions, 2 also IR dumps."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def debug_level() -> int:
    """FASTIMPORT_DEBUG as an int (0 when unset or not a number)."""
    try:
        return int(os.environ.get("FASTIMPORT_DEBUG", "0") or 0)
    except ValueError:
        return 0


def log(message: str) -> None:
    """A compile decision, on stderr at level 1 and up."""
    if debug_level() >= 1:
        print(f"fastimport: {message}", file=sys.stderr)


def dump(title: str, text: str | Callable[[], str]) -> None:
    """An IR or LLVM dump, on stderr at level 2; pass a callable to format only then."""
    if debug_level() >= 2:  # noqa: PLR2004
        body = text() if callable(text) else text
        print(f"--- fastimport: {title} ---\n{body}", file=sys.stderr)


def internal_error(context: str, error: BaseException) -> str:
    """Record an internal compiler error: never raised to the user, shown under FASTIMPORT_DEBUG."""
    message = f"internal error while {context}: {type(error).__name__}: {error}"
    if debug_level() >= 1:
        import traceback  # only when asked to show it

        print(f"fastimport: {message}", file=sys.stderr)
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    return message
