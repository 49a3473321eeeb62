/* The C peers' shared harness: arguments, array files, timing, JSON on stdout.
 *
 *     ./matmul REPEATS OUT_FILE ARG...
 *
 * Each argument of the Python call becomes one word (an int, or a float as Python's repr
 * writes it, which strtod reads back to the same double) or, for an array, the path of a
 * file holding its raw C-order bytes followed by its dimensions. The kernel runs once
 * untimed, then REPEATS times with clock_gettime(CLOCK_MONOTONIC) around each call; the
 * program prints one JSON line {"result": ..., "times_s": [...]}, an array result's bytes
 * going to OUT_FILE. benchmarks/peers.py builds the command and checks the result against
 * CPython's before any time counts.
 *
 * Kernels are marked KERNEL (GCC's noipa): without it GCC may prove a kernel pure and
 * hoist the repeated calls with the same arguments out of the timing loop.
 */
#ifndef FASTIMPORT_BENCH_H
#define FASTIMPORT_BENCH_H

#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__GNUC__) && !defined(__clang__)
#define KERNEL __attribute__((noipa))
#else
#define KERNEL __attribute__((noinline))
#endif

typedef struct {
    int argc;
    char **argv;
    int next;
} Args;

static inline void die(const char *what, const char *detail) {
    fprintf(stderr, "%s: %s\n", what, detail);
    exit(2);
}

static inline Args args_start(int argc, char **argv) {
    if (argc < 3) die("usage", "PROGRAM REPEATS OUT_FILE ARG...");
    Args a = {argc, argv, 3};
    return a;
}

static inline int args_repeats(const Args *a) { return atoi(a->argv[1]); }

static inline const char *args_out(const Args *a) { return a->argv[2]; }

static inline const char *arg_word(Args *a) {
    if (a->next >= a->argc) die("missing argument", a->argv[0]);
    return a->argv[a->next++];
}

static inline long long arg_int(Args *a) { return strtoll(arg_word(a), NULL, 10); }

static inline double arg_float(Args *a) { return strtod(arg_word(a), NULL); }

/* An array argument: its file, then `ndim` dimensions (stored into shape). */
static inline void *arg_array(Args *a, int ndim, long long *shape, size_t itemsize) {
    const char *path = arg_word(a);
    size_t count = 1;
    for (int d = 0; d < ndim; d++) {
        shape[d] = arg_int(a);
        count *= (size_t)shape[d];
    }
    void *data = malloc(count * itemsize + 1);
    FILE *f = fopen(path, "rb");
    if (!data || !f) die("cannot read", path);
    if (fread(data, itemsize, count, f) != count) die("short array file", path);
    fclose(f);
    return data;
}

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One untimed call, then `repeats` timed ones; `release` frees a result that is not the last. */
#define BENCH_LOOP(times, repeats, result, call, release)       \
    for (int r_ = -1; r_ < (repeats); r_++) {                   \
        double t0_ = now_s();                                   \
        result = call;                                          \
        double t1_ = now_s();                                   \
        if (r_ >= 0) (times)[r_] = t1_ - t0_;                   \
        if (r_ < (repeats) - 1) release;                        \
    }

static inline void print_times(const double *times, int repeats) {
    printf("\"times_s\": [");
    for (int r = 0; r < repeats; r++) printf(r ? ", %.9g" : "%.9g", times[r]);
    printf("]}\n");
}

static inline void report_float(double x, const double *times, int repeats) {
    printf("{\"result\": {\"float\": \"%a\"}, ", x);
    print_times(times, repeats);
}

static inline void report_int(long long x, const double *times, int repeats) {
    printf("{\"result\": {\"int\": %lld}, ", x);
    print_times(times, repeats);
}

static inline void report_array(const Args *a, const void *data, const char *dtype, size_t itemsize, int ndim,
                         const long long *shape, const double *times, int repeats) {
    size_t count = 1;
    for (int d = 0; d < ndim; d++) count *= (size_t)shape[d];
    FILE *f = fopen(args_out(a), "wb");
    if (!f || fwrite(data, itemsize, count, f) != count) die("cannot write", args_out(a));
    fclose(f);
    printf("{\"result\": {\"array\": \"%s\", \"shape\": [", dtype);
    for (int d = 0; d < ndim; d++) printf(d ? ", %lld" : "%lld", shape[d]);
    printf("]}, ");
    print_times(times, repeats);
}

static inline double *times_alloc(int repeats) {
    double *t = calloc((size_t)repeats + 1, sizeof(double));
    if (!t) die("out of memory", "times");
    return t;
}

#endif
