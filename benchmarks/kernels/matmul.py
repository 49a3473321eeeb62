"""Matrix product by the textbook triple loop, into a result the function allocates."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.

import numpy as np


def matmul(a, b):
    n, m = a.shape
    p = b.shape[1]
    c = np.zeros((n, p))
    for i in range(n):
        for j in range(p):
            for k in range(m):
                c[i, j] += a[i, k] * b[k, j]
    return c
