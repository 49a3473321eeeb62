"""The IR builder: owns the blocks being built and the name environment.

Lowering functions (`lower_statements.py`, `lower_expressions.py`) call it to
append ops and to open blocks; it never looks at the AST itself except to
record positions for error messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from fastimport.frontend.errors import Unsupported
from fastimport.frontend.ir import (
    BasicBlock,
    Branch,
    Deopt,
    FuncIR,
    GlobalRef,
    Goto,
    Local,
    NewList,
    Op,
    Value,
)

if TYPE_CHECKING:
    import ast

    from fastimport.frontend.resolve import Resolver

OpT = TypeVar("OpT", bound=Op)


class Builder:
    """Appends ops to the current block of one FuncIR."""

    def __init__(self, fn: FuncIR, resolver: Resolver) -> None:
        self.fn = fn
        self.resolver = resolver
        self.block = self.new_block()
        # (continue target, break target) of the enclosing loops, innermost last.
        self.loops: list[tuple[BasicBlock, BasicBlock]] = []
        # `name = []`: the empty lists stored to a name, typed by the first `name.append(v)`.
        self.empty_lists: dict[str, list[NewList]] = {}
        self._temps = 0

    # Blocks.

    def new_block(self) -> BasicBlock:
        """A new empty block, appended to the function (it is not made current)."""
        block = BasicBlock(label=len(self.fn.blocks))
        self.fn.blocks.append(block)
        return block

    def activate(self, block: BasicBlock) -> None:
        """Make `block` the one new ops are appended to."""
        self.block = block

    def terminated(self) -> bool:
        """Whether the current block already ends in a terminator."""
        return self.block.terminator is not None

    def goto(self, target: BasicBlock) -> None:
        """End the current block with a jump to `target`, unless it is already terminated."""
        if not self.terminated():
            self.block.ops.append(Goto(target))

    def goto_and_activate(self, target: BasicBlock) -> None:
        """Jump to `target` and continue appending there."""
        self.goto(target)
        self.activate(target)

    def branch(self, cond: Value, true: BasicBlock, false: BasicBlock) -> None:
        """End the current block with a two-way branch on `cond`, unless it is already terminated."""
        if not self.terminated():
            self.block.ops.append(Branch(cond, true, false))

    def deopt(self, reason: str) -> None:
        """End the current block by leaving native code, unless it is already terminated."""
        if not self.terminated():
            self.block.ops.append(Deopt(reason))

    # Ops.

    def add(self, op: OpT, node: ast.AST | None = None) -> OpT:
        """Append `op` to the current block, with the position of `node`, and return it."""
        if node is not None:
            op.line = getattr(node, "lineno", 0)
            op.col = getattr(node, "col_offset", 0)
        if self.terminated():
            # Code after return/break/continue: unreachable, keep it in a dead block.
            self.activate(self.new_block())
        self.block.ops.append(op)
        return op

    # Names.

    def local(self, name: str) -> Local:
        """The local variable `name`, created on first use."""
        local = self.fn.locals.get(name)
        if local is None:
            local = self.fn.locals[name] = Local(name)
        return local

    def temp(self, hint: str) -> Local:
        """A hidden local (names starting with '$' cannot clash with Python names)."""
        self._temps += 1
        return self.local(f"${hint}{self._temps}")

    def global_ref(self, ref: GlobalRef) -> GlobalRef:
        """Intern a global read so the entry point checks each name once."""
        return self.fn.globals.setdefault((ref.namespace, ref.name), ref)

    def unsupported(self, node: ast.AST, reason: str) -> Unsupported:
        """The error to raise for a construct at `node` that is not compiled."""
        return Unsupported(node, reason)
