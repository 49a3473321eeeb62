"""Naive recursive Fibonacci: call-bound integer recursion."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)
