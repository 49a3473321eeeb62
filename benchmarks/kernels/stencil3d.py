"""One sweep of a 7-point 3-D stencil (a smoothing step); the boundary is copied unchanged."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.

import numpy as np


def stencil3d(a):
    nx, ny, nz = a.shape
    out = np.empty_like(a)
    for i in range(nx):
        for j in range(ny):
            for k in range(nz):
                if i == 0 or j == 0 or k == 0 or i == nx - 1 or j == ny - 1 or k == nz - 1:
                    out[i, j, k] = a[i, j, k]
                else:
                    out[i, j, k] = 0.4 * a[i, j, k] + 0.1 * (
                        a[i - 1, j, k]
                        + a[i + 1, j, k]
                        + a[i, j - 1, k]
                        + a[i, j + 1, k]
                        + a[i, j, k - 1]
                        + a[i, j, k + 1]
                    )
    return out
