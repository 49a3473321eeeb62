"""Jacobi iterations of the 2-D Laplace equation on a grid; the boundary values stay fixed."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.

import numpy as np


def jacobi(grid, iterations):
    n, m = grid.shape
    u = np.empty_like(grid)
    new = np.empty_like(grid)
    for i in range(n):
        for j in range(m):
            u[i, j] = grid[i, j]
            new[i, j] = grid[i, j]
    for _ in range(iterations):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                new[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
        u, new = new, u
    return u
