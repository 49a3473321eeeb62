"""Statistics of a synthetic signal: twelve small numeric functions, each compiled by fastimport.

    python examples/signal_stats.py                  # plain CPython
    python -m fastimport examples/signal_stats.py    # native; the second run loads the .pym cache

benchmarks/ times its warm run (nothing left to compile) against plain python and against
Numba's `cache=True` run of the same functions, on a short signal (`signal_stats.py 300`:
start-up dominates) and on the default one.
"""

import math
import sys

import numpy as np


def make_signal(n, seed):
    out = np.empty(n)
    state = seed
    for i in range(n):
        state = (state * 1103515245 + 12345) % 2147483648
        noise = state / 2147483648.0 - 0.5
        out[i] = math.sin(0.05 * i) + 0.3 * math.sin(0.31 * i) + 0.2 * noise
    return out


def mean(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    return s / a.shape[0]


def variance(a):
    m = mean(a)
    s = 0.0
    for i in range(a.shape[0]):
        d = a[i] - m
        s += d * d
    return s / a.shape[0]


def rms(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    return math.sqrt(s / a.shape[0])


def zero_crossings(a):
    count = 0
    for i in range(1, a.shape[0]):
        if (a[i - 1] < 0.0) != (a[i] < 0.0):
            count += 1
    return count


def peaks(a, threshold):
    count = 0
    for i in range(1, a.shape[0] - 1):
        if a[i] > threshold and a[i] >= a[i - 1] and a[i] > a[i + 1]:
            count += 1
    return count


def moving_average(a, width):
    n = a.shape[0] - width + 1
    out = np.empty(n)
    s = 0.0
    for i in range(width):
        s += a[i]
    out[0] = s / width
    for i in range(1, n):
        s += a[i + width - 1] - a[i - 1]
        out[i] = s / width
    return out


def autocorrelation(a, lag):
    m = mean(a)
    num = 0.0
    for i in range(a.shape[0] - lag):
        num += (a[i] - m) * (a[i + lag] - m)
    return num / (variance(a) * a.shape[0])


def dft_power(a, k):
    re = 0.0
    im = 0.0
    n = a.shape[0]
    for i in range(n):
        angle = 2.0 * math.pi * k * i / n
        re += a[i] * math.cos(angle)
        im -= a[i] * math.sin(angle)
    return (re * re + im * im) / n


def slope(a):
    n = a.shape[0]
    sx = sy = sxx = sxy = 0.0
    for i in range(n):
        x = float(i)
        sx += x
        sy += a[i]
        sxx += x * x
        sxy += x * a[i]
    return (n * sxy - sx * sy) / (n * sxx - sx * sx)


def clipped(a, low, high):
    count = 0
    for i in range(a.shape[0]):
        if a[i] < low or a[i] > high:
            count += 1
    return count


def histogram(a, bins, low, high):
    counts = np.zeros(bins, dtype=np.int64)
    width = (high - low) / bins
    for i in range(a.shape[0]):
        b = int((a[i] - low) / width)
        if 0 <= b < bins:
            counts[b] += 1
    return counts


signal = make_signal(int(sys.argv[1]) if len(sys.argv) > 1 else 20000, 7)
print(f"mean {mean(signal):.6f}  variance {variance(signal):.6f}  rms {rms(signal):.6f}")
print(f"zero crossings {zero_crossings(signal)}  peaks {peaks(signal, 0.5)}  clipped {clipped(signal, -1.2, 1.2)}")
smooth = moving_average(signal, 25)
print(f"smoothed rms {rms(smooth):.6f}  autocorrelation(20) {autocorrelation(signal, 20):.6f}")
print(f"dft power at 159: {dft_power(signal, 159):.3f}  slope {slope(signal):.3e}")
print("histogram", histogram(signal, 8, -1.6, 1.6).tolist())
