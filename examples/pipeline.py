"""A program that prepares its data in plain Python, then crunches it: where compiling ahead pays.

    python examples/pipeline.py                   # plain CPython
    python -m fastimport examples/pipeline.py     # the kernels are native

The first phase (in `main`) parses text records with dicts and strings (nothing fastimport
compiles).
Without annotations, earlier runs or a .pym, fastimport can still compile the kernels
below during that phase, on a background thread, from the types its predictor reads in
their code; each kernel's first call then runs native at once instead of compiling first.
benchmarks/ times a cold run (empty cache) with and without predictions.
"""

import math
import sys

import numpy as np


def smooth(x, width):
    n = x.shape[0]
    out = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc += x[i]
        if i >= width:
            acc -= x[i - width]
        out[i] = acc / min(i + 1, width)
    return out


def correlation(x, y):
    n = x.shape[0]
    mx = 0.0
    my = 0.0
    for i in range(n):
        mx += x[i]
        my += y[i]
    mx /= n
    my /= n
    sxy = 0.0
    sxx = 0.0
    syy = 0.0
    for i in range(n):
        dx = x[i] - mx
        dy = y[i] - my
        sxy += dx * dy
        sxx += dx * dx
        syy += dy * dy
    return sxy / math.sqrt(sxx * syy)


def count_peaks(x, threshold):
    peaks = 0
    for i in range(1, x.shape[0] - 1):
        if x[i] > threshold and x[i] > x[i - 1] and x[i] >= x[i + 1]:
            peaks += 1
    return peaks


def energy(x, dt):
    total = 0.0
    for i in range(x.shape[0]):
        total += x[i] * x[i] * dt
    return total


def histogram(x, lo, hi, bins):
    counts = np.zeros(bins, dtype=np.int64)
    width = (hi - lo) / bins
    for i in range(x.shape[0]):
        k = int((x[i] - lo) / width)
        if 0 <= k < bins:
            counts[k] += 1
    return counts


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    # Plain Python on purpose (in main, which fastimport leaves as bytecode): strings, dicts,
    # a list of records.
    records = []
    state = 11
    for i in range(n):
        state = (state * 1103515245 + 12345) % 2147483648
        line = f"sensor-{i % 17},{state % 1000 / 10.0},{(state >> 8) % 500 / 5.0}"
        name, a, b = line.split(",")
        records.append({"name": name, "a": float(a), "b": float(b)})
    a = np.array([r["a"] for r in records])
    b = np.array([r["b"] for r in records])
    sa = smooth(a, 50)
    sb = smooth(b, 50)
    print(f"correlation: {correlation(sa, sb):.6f}")
    print(f"peaks: {count_peaks(sa, 50.0)}")
    print(f"energy: {energy(sb, 0.001):.6f}")
    print(f"histogram: {histogram(a, 0.0, 100.0, 10).tolist()}")


if __name__ == "__main__":
    main()
