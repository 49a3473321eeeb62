"""Longest Collatz chain below n: nested int loops, a while loop, a helper call."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.


def collatz_len(x):
    steps = 1
    while x != 1:
        if x % 2 == 0:
            x = x // 2
        else:
            x = 3 * x + 1
        steps += 1
    return steps


def collatz_longest(n):
    best = 1
    best_len = 1
    for start in range(1, n):
        length = collatz_len(start)
        if length > best_len:
            best = start
            best_len = length
    return best
