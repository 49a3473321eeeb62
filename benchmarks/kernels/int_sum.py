"""Reduction over an int64 array: the sum of the elements and of their squares, combined."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.


def int_sum(a):
    total = 0
    squares = 0
    for i in range(len(a)):
        x = a[i]
        total += x
        squares += x * x
    return squares - total
