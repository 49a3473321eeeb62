/* benchmarks/kernels/mandelbrot.py in C: mandelbrot(width, height, max_iter). */
#include "bench.h"

KERNEL static long long mandelbrot(long long width, long long height, long long max_iter) {
    long long total = 0;
    for (long long row = 0; row < height; row++) {
        double y0 = -1.5 + 3.0 * (double)row / (double)height;
        for (long long col = 0; col < width; col++) {
            double x0 = -2.0 + 3.0 * (double)col / (double)width;
            double x = 0.0, y = 0.0;
            long long it = 0;
            while (it < max_iter && x * x + y * y <= 4.0) {
                double x_new = x * x - y * y + x0;
                y = 2.0 * x * y + y0;
                x = x_new;
                it += 1;
            }
            total += it;
        }
    }
    return total;
}

int main(int argc, char **argv) {
    Args a = args_start(argc, argv);
    long long width = arg_int(&a), height = arg_int(&a), max_iter = arg_int(&a);
    int repeats = args_repeats(&a);
    double *times = times_alloc(repeats);
    long long result = 0;
    BENCH_LOOP(times, repeats, result, mandelbrot(width, height, max_iter), (void)0);
    report_int(result, times, repeats);
    return 0;
}
