"""Leibniz series for pi: a float loop with a sign flip."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.


def leibniz_pi(n):
    total = 0.0
    sign = 1.0
    for k in range(n):
        total += sign / (2 * k + 1)
        sign = -sign
    return 4.0 * total
