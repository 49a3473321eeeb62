"""Midpoint-rule integral of a cubic polynomial: a float loop."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.


def poly(x):
    return ((2.0 * x - 3.0) * x + 0.5) * x - 1.25


def integrate_poly(a, b, n):
    h = (b - a) / n
    total = 0.0
    for i in range(n):
        total += poly(a + (i + 0.5) * h)
    return total * h
