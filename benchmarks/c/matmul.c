/* benchmarks/kernels/matmul.py in C: matmul(a[n, m], b[m, p]) -> float64[n, p], the same triple loop. */
#include "bench.h"

KERNEL static double *matmul(const double *a, const double *b, long long n, long long m, long long p) {
    double *c = calloc((size_t)(n * p), sizeof(double));
    for (long long i = 0; i < n; i++)
        for (long long j = 0; j < p; j++)
            for (long long k = 0; k < m; k++) c[i * p + j] += a[i * m + k] * b[k * p + j];
    return c;
}

int main(int argc, char **argv) {
    Args a = args_start(argc, argv);
    long long as[2], bs[2];
    const double *x = arg_array(&a, 2, as, sizeof(double));
    const double *y = arg_array(&a, 2, bs, sizeof(double));
    if (as[1] != bs[0]) die("shapes", "a.shape[1] != b.shape[0]");
    int repeats = args_repeats(&a);
    double *times = times_alloc(repeats);
    double *out = NULL;
    BENCH_LOOP(times, repeats, out, matmul(x, y, as[0], as[1], bs[1]), free(out));
    long long shape[2] = {as[0], bs[1]};
    report_array(&a, out, "float64", sizeof(double), 2, shape, times, repeats);
    return 0;
}
