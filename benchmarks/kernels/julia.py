"""Julia set escape counts written into a 2-D int array the function allocates."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.

import numpy as np


def julia(width, height, cr, ci, max_iter):
    out = np.zeros((height, width), dtype=np.int32)
    for row in range(height):
        y0 = -1.5 + 3.0 * row / height
        for col in range(width):
            x = -1.5 + 3.0 * col / width
            y = y0
            it = 0
            while it < max_iter and x * x + y * y <= 4.0:
                x_new = x * x - y * y + cr
                y = 2.0 * x * y + ci
                x = x_new
                it += 1
            out[row, col] = it
    return out
