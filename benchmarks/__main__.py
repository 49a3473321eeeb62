"""`python -m benchmarks [--quick]`: run the whole suite and write RESULTS.md."""

import sys

from benchmarks.runner import main

sys.exit(main())
