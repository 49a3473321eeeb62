/* benchmarks/kernels/black_scholes.py in C: black_scholes(price, strike, years, rate, volatility) -> float64[n].
 * exp, log, sqrt and fabs are the C library's, the very functions CPython's math module calls. */
#include "bench.h"

#define RSQRT2PI 0.39894228040143267793994605993438
#define A1 0.31938153
#define A2 -0.356563782
#define A3 1.781477937
#define A4 -1.821255978
#define A5 1.330274429

static double cnd(double d) {
    double k = 1.0 / (1.0 + 0.2316419 * fabs(d));
    double ret = RSQRT2PI * exp(-0.5 * d * d) * (k * (A1 + k * (A2 + k * (A3 + k * (A4 + k * A5)))));
    if (d > 0) ret = 1.0 - ret;
    return ret;
}

KERNEL static double *black_scholes(const double *price, const double *strike, const double *years, long long n,
                                    double rate, double volatility) {
    double *call = malloc((size_t)n * sizeof(double));
    for (long long i = 0; i < n; i++) {
        double s = price[i], x = strike[i], t = years[i];
        double sqrt_t = sqrt(t);
        double d1 = (log(s / x) + (rate + 0.5 * volatility * volatility) * t) / (volatility * sqrt_t);
        double d2 = d1 - volatility * sqrt_t;
        double exp_rt = exp(-rate * t);
        call[i] = s * cnd(d1) - x * exp_rt * cnd(d2);
    }
    return call;
}

int main(int argc, char **argv) {
    Args a = args_start(argc, argv);
    long long n[3];
    const double *price = arg_array(&a, 1, &n[0], sizeof(double));
    const double *strike = arg_array(&a, 1, &n[1], sizeof(double));
    const double *years = arg_array(&a, 1, &n[2], sizeof(double));
    double rate = arg_float(&a), volatility = arg_float(&a);
    int repeats = args_repeats(&a);
    double *times = times_alloc(repeats);
    double *out = NULL;
    BENCH_LOOP(times, repeats, out, black_scholes(price, strike, years, n[0], rate, volatility), free(out));
    report_array(&a, out, "float64", sizeof(double), 1, n, times, repeats);
    return 0;
}
