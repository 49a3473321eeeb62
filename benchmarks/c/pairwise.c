/* benchmarks/kernels/pairwise.py in C: pairwise_distances(x[n, d]) -> float64[n, n]. */
#include "bench.h"

KERNEL static double *pairwise_distances(const double *x, long long n, long long d) {
    double *out = malloc((size_t)(n * n) * sizeof(double));
    for (long long i = 0; i < n; i++) {
        for (long long j = 0; j < n; j++) {
            double s = 0.0;
            for (long long k = 0; k < d; k++) {
                double t = x[i * d + k] - x[j * d + k];
                s += t * t;
            }
            out[i * n + j] = sqrt(s);
        }
    }
    return out;
}

int main(int argc, char **argv) {
    Args a = args_start(argc, argv);
    long long xs[2];
    const double *x = arg_array(&a, 2, xs, sizeof(double));
    int repeats = args_repeats(&a);
    double *times = times_alloc(repeats);
    double *out = NULL;
    BENCH_LOOP(times, repeats, out, pairwise_distances(x, xs[0], xs[1]), free(out));
    long long shape[2] = {xs[0], xs[0]};
    report_array(&a, out, "float64", sizeof(double), 2, shape, times, repeats);
    return 0;
}
