"""Euclidean distances between every pair of rows of a 2-D array."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.

import math

import numpy as np


def pairwise_distances(x):
    n, d = x.shape
    out = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(d):
                t = x[i, k] - x[j, k]
                s += t * t
            out[i, j] = math.sqrt(s)
    return out
