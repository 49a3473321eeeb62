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
