"""Recursion: fib, mutual recursion, and a factorial that outgrows 64 bits.

Run it:  python -m fastimport examples/fib.py [n]
Compare: python examples/fib.py [n]

fact(25) does not fit in a 64-bit integer: native code notices the overflow and falls back
to Python, so the printed number is exact.
"""

import sys


def fib(n):
    """The n-th Fibonacci number, by naive recursion."""
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def is_even(n):
    """True if n is even (by mutual recursion with is_odd)."""
    if n == 0:
        return True
    return is_odd(n - 1)


def is_odd(n):
    """True if n is odd (by mutual recursion with is_even)."""
    if n == 0:
        return False
    return is_even(n - 1)


def fact(n):
    """n!, by recursion."""
    if n <= 1:
        return 1
    return n * fact(n - 1)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 36
    print(f"fib({n}) =", fib(n))
    print("is_even(777) =", is_even(777), " is_odd(777) =", is_odd(777))
    print("fact(20) =", fact(20))
    print("fact(25) =", fact(25))
    print("fact(30) =", fact(30))


if __name__ == "__main__":
    main()
