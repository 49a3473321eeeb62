/* benchmarks/kernels/sieve.py in C: sieve(n), the count of primes up to n, on a byte array made per call. */
#include "bench.h"

KERNEL static long long sieve(long long n) {
    unsigned char *is_prime = malloc((size_t)n + 1);
    memset(is_prime, 1, (size_t)n + 1);
    is_prime[0] = 0;
    is_prime[1] = 0;
    for (long long i = 2; i * i <= n; i++)
        if (is_prime[i])
            for (long long j = i * i; j < n + 1; j += i) is_prime[j] = 0;
    long long count = 0;
    for (long long i = 0; i < n + 1; i++)
        if (is_prime[i]) count += 1;
    free(is_prime);
    return count;
}

int main(int argc, char **argv) {
    Args a = args_start(argc, argv);
    long long n = arg_int(&a);
    int repeats = args_repeats(&a);
    double *times = times_alloc(repeats);
    long long result = 0;
    BENCH_LOOP(times, repeats, result, sieve(n), (void)0);
    report_int(result, times, repeats);
    return 0;
}
