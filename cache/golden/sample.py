"""The source of the golden artifact sample.cpython-311.pym (see cache/FORMAT.md)."""

import math

LIMIT = 10


def add(a: int, b: int) -> int:
    return a + b


def hypot_sum(n: int) -> float:
    s = 0.0
    for i in range(min(n, LIMIT)):
        s += math.hypot(i, add(i, 1))
    return s
