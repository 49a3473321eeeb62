"""fastimport's benchmark suite: `python -m benchmarks` (see runner.py and RESULTS.md)."""
