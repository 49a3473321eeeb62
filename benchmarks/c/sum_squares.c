/* benchmarks/kernels/sum_squares.py in C: sum_squares_mod(n, m). */
#include "bench.h"

KERNEL static long long sum_squares_mod(long long n, long long m) {
    long long total = 0;
    for (long long i = 0; i < n; i++) total = (total + i * i) % m;
    return total;
}

int main(int argc, char **argv) {
    Args a = args_start(argc, argv);
    long long n = arg_int(&a), m = arg_int(&a);
    int repeats = args_repeats(&a);
    double *times = times_alloc(repeats);
    long long result = 0;
    BENCH_LOOP(times, repeats, result, sum_squares_mod(n, m), (void)0);
    report_int(result, times, repeats);
    return 0;
}
