"""CFG helpers: drop blocks no path from the entry reaches; which locals every path stored; the loops.

Lowering leaves such blocks behind (the join block of an if/else whose
branches both return, the code after `while True:`); their ops must not take
part in inference, where a dead `return None` would clash with the real
return type.

    block0: branch c block1 block2      block0: branch c block1 block2
    block1: return 1               ->   block1: return 1
    block2: return 2                    block2: return 2
    block3: return None   (no preds)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from fastimport.frontend.ir import BasicBlock, FuncIR

Node = TypeVar("Node")


def reaches(starts: Iterable[Node], goal: Node, successors: Callable[[Node], Iterable[Node]]) -> bool:
    """Whether `goal` is one of `starts` or follows from one of them through `successors` (any graph)."""
    seen: set[Node] = set()
    todo = list(starts)
    while todo:
        node = todo.pop()
        if node is goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(successors(node))
    return False


def remove_unreachable_blocks(fn: FuncIR) -> None:
    """Keep only the blocks reachable from the entry block, in their order."""
    seen = {id(fn.blocks[0])}
    work = [fn.blocks[0]]
    while work:
        block = work.pop()
        term = block.terminator
        for target in term.targets() if term is not None else []:
            if id(target) not in seen:
                seen.add(id(target))
                work.append(target)
    fn.blocks = [block for block in fn.blocks if id(block) in seen]


def stored_on_entry(blocks: list[BasicBlock], entry: BasicBlock) -> dict[BasicBlock, set[str]]:
    """For each block, the names of the locals stored on every path to it from `entry`.

    Paths stay within `blocks` and do not go through `entry` again (for a loop, `entry`
    is its header: what an iteration has stored so far). A must-analysis: each block
    starts from everything and shrinks to the intersection over its predecessors.
    """
    from fastimport.frontend.ir import StoreLocal  # cfg.py stays import-light

    stored = {block: {op.local.name for op in block.ops if isinstance(op, StoreLocal)} for block in blocks}
    inside = set(blocks)
    preds: dict[BasicBlock, list[BasicBlock]] = {block: [] for block in blocks}
    for block in blocks:
        for target in block.terminator.targets() if block.terminator is not None else []:
            if target in inside and target is not entry:
                preds[target].append(block)
    every = set().union(*stored.values())
    on_entry = {block: (set() if block is entry else set(every)) for block in blocks}
    changed = True
    while changed:
        changed = False
        for block in blocks:
            if block is entry or not preds[block]:
                continue
            new = set.intersection(*(on_entry[p] | stored[p] for p in preds[block]))
            if new != on_entry[block]:
                on_entry[block], changed = new, True
    return on_entry


def unbound_reads(blocks: list[BasicBlock], entry: BasicBlock) -> set[str]:
    """The locals some path from `entry` reads (with a bound check) before storing them (see stored_on_entry)."""
    from fastimport.frontend.ir import LoadLocal, StoreLocal

    on_entry = stored_on_entry(blocks, entry)
    unbound: set[str] = set()
    for block in blocks:
        stored = set(on_entry[block])
        for op in block.ops:
            if isinstance(op, LoadLocal) and op.check_bound and op.local.name not in stored:
                unbound.add(op.local.name)
            elif isinstance(op, StoreLocal):
                stored.add(op.local.name)
    return unbound


def reads_before_store(blocks: list[BasicBlock], entry: BasicBlock, names: set[str]) -> bool:
    """Whether some path from `entry` reads one of the locals `names` before storing it."""
    return not unbound_reads(blocks, entry).isdisjoint(names)


@dataclass(eq=False)
class Loop:
    """A natural loop: the back edges' target `header` and every block of the loop (`body`, header included)."""

    header: BasicBlock
    body: set[BasicBlock]


def innermost_loops(fn: FuncIR) -> dict[BasicBlock, Loop]:
    """Each block inside a loop -> the innermost natural loop around it.

    A natural loop is a back edge `tail -> header` (the header dominates the tail) with
    every block that reaches the tail without passing the header; back edges to one
    header make one loop. Python's structured control flow gives reducible graphs, so
    every cycle is in one of these loops, and enters it only through its header.
    """
    dominators = _dominators(fn)
    preds = predecessors(fn)
    loops: dict[BasicBlock, Loop] = {}
    for tail in fn.blocks:
        for header in _successors(tail):
            if header in dominators[tail]:
                loop = loops.setdefault(header, Loop(header, {header}))
                loop.body |= _reaching(tail, header, preds)
    innermost: dict[BasicBlock, Loop] = {}
    for loop in sorted(loops.values(), key=lambda lp: len(lp.body), reverse=True):  # inner loops overwrite
        for block in loop.body:
            innermost[block] = loop
    return innermost


def _reaching(tail: BasicBlock, header: BasicBlock, preds: dict[BasicBlock, list[BasicBlock]]) -> set[BasicBlock]:
    """`tail` and the blocks that reach it without passing `header`."""
    body, todo = {header, tail}, [tail]
    while todo:
        for pred in preds[todo.pop()]:
            if pred not in body:
                body.add(pred)
                todo.append(pred)
    return body - {header}


def _successors(block: BasicBlock) -> list[BasicBlock]:
    term = block.terminator
    return term.targets() if term is not None else []


def predecessors(fn: FuncIR) -> dict[BasicBlock, list[BasicBlock]]:
    """Each block -> the blocks that jump to it (once per edge)."""
    preds: dict[BasicBlock, list[BasicBlock]] = {block: [] for block in fn.blocks}
    for block in fn.blocks:
        for target in _successors(block):
            preds[target].append(block)
    return preds


def _dominators(fn: FuncIR) -> dict[BasicBlock, set[BasicBlock]]:
    """Each block -> the blocks that dominate it (itself included), by the iterative data-flow method."""
    blocks = fn.blocks
    preds = predecessors(fn)
    dom = {block: ({block} if block is blocks[0] else set(blocks)) for block in blocks}
    changed = True
    while changed:
        changed = False
        for block in blocks[1:]:
            incoming = [dom[p] for p in preds[block]]
            new = (set.intersection(*incoming) if incoming else set()) | {block}
            if new != dom[block]:
                dom[block], changed = new, True
    return dom
