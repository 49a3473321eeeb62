/* benchmarks/kernels/int_sum.py in C: int_sum(a[n] int64) -> sum of squares minus sum. */
#include "bench.h"

KERNEL static long long int_sum(const int64_t *a, long long n) {
    int64_t total = 0, squares = 0;
    for (long long i = 0; i < n; i++) {
        int64_t x = a[i];
        total += x;
        squares += x * x;
    }
    return squares - total;
}

int main(int argc, char **argv) {
    Args a = args_start(argc, argv);
    long long n;
    const int64_t *x = arg_array(&a, 1, &n, sizeof(int64_t));
    int repeats = args_repeats(&a);
    double *times = times_alloc(repeats);
    long long result = 0;
    BENCH_LOOP(times, repeats, result, int_sum(x, n), (void)0);
    report_int(result, times, repeats);
    return 0;
}
