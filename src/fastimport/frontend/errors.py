"""Why a function stays bytecode.

`Unsupported` carries the construct and where it is; the report prints
`<reason> at file:line:col`.
"""

from __future__ import annotations

# Not `from typing import TYPE_CHECKING`: importing typing costs ~6 ms of every start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import ast


class Unsupported(Exception):  # noqa: N818 - reads as "this construct is unsupported"
    """A construct outside the compiled subset; the function stays bytecode."""

    def __init__(self, node: ast.AST | None, reason: str) -> None:
        self.node = node
        self.reason = reason
        self.line = getattr(node, "lineno", 0)
        self.col = getattr(node, "col_offset", 0)
        super().__init__(reason)

    def where(self, path: str) -> str:
        """`reason at file:line:col`."""
        return f"{self.reason} at {path}:{self.line}:{self.col + 1}"
