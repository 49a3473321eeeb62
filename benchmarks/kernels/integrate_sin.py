"""Midpoint-rule integral of math.sin: a float loop calling libm."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.

import math


def integrate_sin(a, b, n):
    h = (b - a) / n
    total = 0.0
    for i in range(n):
        total += math.sin(a + (i + 0.5) * h)
    return total * h
