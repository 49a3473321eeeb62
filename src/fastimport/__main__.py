"""`python -m fastimport ...`: the command line lives in `fastimport.cli`."""

from __future__ import annotations

import sys

from fastimport.cli import main

if __name__ == "__main__":
    sys.exit(main())
