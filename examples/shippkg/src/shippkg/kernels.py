"""Numeric kernels: annotated ones, and ones whose signatures pyproject.toml gives."""

import numpy as np


def gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def collatz_steps(n: int) -> int:
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def smooth(a, width):
    out = np.empty(a.shape[0] - width + 1)
    s = 0.0
    for i in range(width):
        s += a[i]
    out[0] = s / width
    for i in range(1, out.shape[0]):
        s += a[i + width - 1] - a[i - 1]
        out[i] = s / width
    return out


def energy(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    return s
