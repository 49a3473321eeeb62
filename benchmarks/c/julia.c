/* benchmarks/kernels/julia.py in C: julia(width, height, cr, ci, max_iter) -> int32[height, width]. */
#include "bench.h"

KERNEL static int32_t *julia(long long width, long long height, double cr, double ci, long long max_iter) {
    int32_t *out = calloc((size_t)(width * height), sizeof(int32_t));
    for (long long row = 0; row < height; row++) {
        double y0 = -1.5 + 3.0 * (double)row / (double)height;
        for (long long col = 0; col < width; col++) {
            double x = -1.5 + 3.0 * (double)col / (double)width;
            double y = y0;
            long long it = 0;
            while (it < max_iter && x * x + y * y <= 4.0) {
                double x_new = x * x - y * y + cr;
                y = 2.0 * x * y + ci;
                x = x_new;
                it += 1;
            }
            out[row * width + col] = (int32_t)it;
        }
    }
    return out;
}

int main(int argc, char **argv) {
    Args a = args_start(argc, argv);
    long long width = arg_int(&a), height = arg_int(&a);
    double cr = arg_float(&a), ci = arg_float(&a);
    long long max_iter = arg_int(&a);
    int repeats = args_repeats(&a);
    double *times = times_alloc(repeats);
    int32_t *out = NULL;
    BENCH_LOOP(times, repeats, out, julia(width, height, cr, ci, max_iter), free(out));
    long long shape[2] = {height, width};
    report_array(&a, out, "int32", sizeof(int32_t), 2, shape, times, repeats);
    return 0;
}
