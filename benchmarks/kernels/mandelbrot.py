"""Mandelbrot escape counts over a grid, with scalar loops in one function."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.


def mandelbrot(width, height, max_iter):
    total = 0
    for row in range(height):
        y0 = -1.5 + 3.0 * row / height
        for col in range(width):
            x0 = -2.0 + 3.0 * col / width
            x = 0.0
            y = 0.0
            it = 0
            while it < max_iter and x * x + y * y <= 4.0:
                x_new = x * x - y * y + x0
                y = 2.0 * x * y + y0
                x = x_new
                it += 1
            total += it
    return total
