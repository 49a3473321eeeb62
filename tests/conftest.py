"""Test setup: make `fastimport` (src/) and `tests.*` helpers importable from the repo root."""

from __future__ import annotations

import os
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
for _path in (str(_ROOT / "src"), str(_ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

# Every compile of the suite goes through the .pym cache (writing, and reading where a
# program runs twice), in a directory of its own: never the user's cache.
if "FASTIMPORT_CACHE_DIR" not in os.environ:
    import tempfile

    os.environ["FASTIMPORT_CACHE_DIR"] = tempfile.mkdtemp(prefix="fastimport-test-cache-")

# The suite's programs compile at their first calls, as they did before the type predictor:
# whether a function was compiled ahead from a guess, on a thread, or at its first call would
# otherwise race in every report a test reads. tests/test_predictor.py turns predictions on
# (FASTIMPORT_PREDICT=1) where they are the point, and checks that they are on by default.
os.environ["FASTIMPORT_PREDICT"] = "0"
