"""Float loops: midpoint-rule integrals and the Leibniz series for pi.

Run it:  python -m fastimport examples/integrate.py [n]
Compare: python examples/integrate.py [n]     (floats printed with repr: every bit shows)
"""

import math
import sys


def integrate_sin(a, b, n):
    """Midpoint rule for the integral of sin(x) from a to b with n panels."""
    h = (b - a) / n
    total = 0.0
    for i in range(n):
        total += math.sin(a + (i + 0.5) * h)
    return total * h


def integrate_exp(a, b, n):
    """Midpoint rule for the integral of exp(-x*x) from a to b with n panels."""
    h = (b - a) / n
    total = 0.0
    for i in range(n):
        x = a + (i + 0.5) * h
        total += math.exp(-x * x)
    return total * h


def leibniz_pi(n):
    """4 * (1 - 1/3 + 1/5 - ...) with n terms."""
    total = 0.0
    sign = 1.0
    for k in range(n):
        total += sign / (2 * k + 1)
        sign = -sign
    return 4.0 * total


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    s = integrate_sin(0.0, math.pi, n)
    print("integral of sin over [0, pi]:", repr(s), "error", repr(s - 2.0))
    g = integrate_exp(-6.0, 6.0, n)
    print("integral of exp(-x^2) over [-6, 6]:", repr(g), "error", repr(g - math.sqrt(math.pi)))
    p = leibniz_pi(n)
    print("leibniz pi:", repr(p), "error", repr(p - math.pi))


if __name__ == "__main__":
    main()
