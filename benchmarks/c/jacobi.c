/* benchmarks/kernels/jacobi.py in C: jacobi(grid[n, m], iterations) -> float64[n, m]. */
#include "bench.h"

KERNEL static double *jacobi(const double *grid, long long n, long long m, long long iterations) {
    size_t bytes = (size_t)(n * m) * sizeof(double);
    double *u = malloc(bytes), *next = malloc(bytes);
    memcpy(u, grid, bytes);
    memcpy(next, grid, bytes);
    for (long long it = 0; it < iterations; it++) {
        for (long long i = 1; i < n - 1; i++)
            for (long long j = 1; j < m - 1; j++)
                next[i * m + j] =
                    0.25 * (u[(i - 1) * m + j] + u[(i + 1) * m + j] + u[i * m + j - 1] + u[i * m + j + 1]);
        double *t = u;
        u = next;
        next = t;
    }
    free(next);
    return u;
}

int main(int argc, char **argv) {
    Args a = args_start(argc, argv);
    long long s[2];
    const double *grid = arg_array(&a, 2, s, sizeof(double));
    long long iterations = arg_int(&a);
    int repeats = args_repeats(&a);
    double *times = times_alloc(repeats);
    double *out = NULL;
    BENCH_LOOP(times, repeats, out, jacobi(grid, s[0], s[1], iterations), free(out));
    report_array(&a, out, "float64", sizeof(double), 2, s, times, repeats);
    return 0;
}
