/*
 * hist.h: a fixed-size log-linear histogram of microsecond values (latency,
 * join time). 32 linear sub-buckets per power of two keep every percentile
 * within ~3 % of the true value at any magnitude, with no allocation, so each
 * worker thread owns its own and the report merges them at the end.
 */
#ifndef LR_BENCH_HIST_H
#define LR_BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB_BITS 5
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_MAX_MSB 40 /* 2^41 µs ≈ 25 days: anything above is clamped */
#define BENCH_HIST_BUCKETS                                                                         \
    (BENCH_HIST_SUB + (BENCH_HIST_MAX_MSB - BENCH_HIST_SUB_BITS + 1) * BENCH_HIST_SUB)

typedef struct bench_hist {
    uint64_t count;
    uint64_t sum;
    uint64_t min;
    uint64_t max;
    uint64_t b[BENCH_HIST_BUCKETS];
} bench_hist;

void bench_hist_init(bench_hist *h);
void bench_hist_add(bench_hist *h, uint64_t v);
void bench_hist_merge(bench_hist *into, const bench_hist *from);

/* The value at quantile q in [0, 1]: the upper edge of the bucket holding
 * the ceil(q × count)-th smallest value, never above the exact max. 0 when
 * empty. */
uint64_t bench_hist_quantile(const bench_hist *h, double q);
double bench_hist_mean(const bench_hist *h);

/* Bucket index of a value and the inclusive range of values it holds
 * (exposed for the unit test). */
uint32_t bench_hist_index(uint64_t v);
void bench_hist_range(uint32_t idx, uint64_t *lo, uint64_t *hi);

#endif
