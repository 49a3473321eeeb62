"""Sum of squares modulo a prime: an int loop with multiply and modulo."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.


def sum_squares_mod(n, m):
    total = 0
    for i in range(n):
        total = (total + i * i) % m
    return total
