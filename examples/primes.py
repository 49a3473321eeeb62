"""Integer loops: primes by trial division and the longest Collatz chain.

Run it:  python -m fastimport examples/primes.py [limit]
Compare: python examples/primes.py [limit]
"""

import sys


def is_prime(n):
    """True if n is prime (trial division by odd numbers up to sqrt(n))."""
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    d = 3
    while d * d <= n:
        if n % d == 0:
            return False
        d += 2
    return True


def count_primes(limit):
    """How many primes are below `limit`."""
    count = 0
    for n in range(limit):
        if is_prime(n):
            count += 1
    return count


def largest_prime_below(limit):
    """The largest prime below `limit`, or 0 if there is none."""
    for n in range(limit - 1, 1, -1):
        if is_prime(n):
            return n
    return 0


def collatz_length(n):
    """Number of steps for n to reach 1 under the 3n+1 map."""
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n //= 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


def longest_collatz(limit):
    """The start below `limit` with the longest Collatz chain."""
    best = 1
    best_len = 0
    for n in range(1, limit):
        length = collatz_length(n)
        if length > best_len:
            best = n
            best_len = length
    return best


def main():
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    print("primes below", limit, ":", count_primes(limit))
    print("largest prime below", limit, ":", largest_prime_below(limit))
    start = longest_collatz(limit)
    print("longest collatz chain below", limit, "starts at", start, "with", collatz_length(start), "steps")


if __name__ == "__main__":
    main()
