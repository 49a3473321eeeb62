"""Sieve of Eratosthenes on a NumPy bool array: count the primes up to n."""
# Plain code a user could have written: no annotations (fastimport would use them), no docstrings.

import numpy as np


def sieve(n):
    is_prime = np.ones(n + 1, dtype=np.bool_)
    is_prime[0] = False
    is_prime[1] = False
    i = 2
    while i * i <= n:
        if is_prime[i]:
            for j in range(i * i, n + 1, i):
                is_prime[j] = False
        i += 1
    count = 0
    for i in range(n + 1):
        if is_prime[i]:
            count += 1
    return count
