/* benchmarks/kernels/stencil3d.py in C: stencil3d(a[nx, ny, nz]) -> float64[nx, ny, nz]. */
#include "bench.h"

KERNEL static double *stencil3d(const double *a, long long nx, long long ny, long long nz) {
    double *out = malloc((size_t)(nx * ny * nz) * sizeof(double));
#define A(i, j, k) a[((i) * ny + (j)) * nz + (k)]
    for (long long i = 0; i < nx; i++) {
        for (long long j = 0; j < ny; j++) {
            for (long long k = 0; k < nz; k++) {
                if (i == 0 || j == 0 || k == 0 || i == nx - 1 || j == ny - 1 || k == nz - 1) {
                    out[(i * ny + j) * nz + k] = A(i, j, k);
                } else {
                    out[(i * ny + j) * nz + k] =
                        0.4 * A(i, j, k) + 0.1 * (A(i - 1, j, k) + A(i + 1, j, k) + A(i, j - 1, k) + A(i, j + 1, k) +
                                                  A(i, j, k - 1) + A(i, j, k + 1));
                }
            }
        }
    }
#undef A
    return out;
}

int main(int argc, char **argv) {
    Args a = args_start(argc, argv);
    long long s[3];
    const double *x = arg_array(&a, 3, s, sizeof(double));
    int repeats = args_repeats(&a);
    double *times = times_alloc(repeats);
    double *out = NULL;
    BENCH_LOOP(times, repeats, out, stencil3d(x, s[0], s[1], s[2]), free(out));
    report_array(&a, out, "float64", sizeof(double), 3, s, times, repeats);
    return 0;
}
