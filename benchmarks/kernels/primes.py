"""Prime counting by trial division: int loops, early exit, a bool helper."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.


def is_prime(k):
    if k < 2:
        return False
    if k % 2 == 0:
        return k == 2
    d = 3
    while d * d <= k:
        if k % d == 0:
            return False
        d += 2
    return True


def count_primes(n):
    count = 0
    for k in range(n):
        if is_prime(k):
            count += 1
    return count
