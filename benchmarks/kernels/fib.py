"""Naive recursive Fibonacci: call-bound integer recursion."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.
# ruff: noqa: D103, ANN001, ANN201, INP001, PLR2004


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)
