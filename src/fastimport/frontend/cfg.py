"""CFG clean-up: drop blocks no path from the entry reaches.

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

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastimport.frontend.ir import FuncIR


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
