"""fastimport's benchmark suite: `python -m benchmarks` (see runner.py and RESULTS.md).

The suite measures the fastimport of the checkout it belongs to: this checkout's `src/`
goes first on sys.path, ahead of any installed fastimport (an editable install of another
worktree would otherwise be the one measured, while the report names this one's commit).
"""

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parent.parent / "src")
if Path(_SRC, "fastimport").is_dir() and _SRC not in sys.path:
    sys.path.insert(0, _SRC)
