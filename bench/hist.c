/*
 * hist.c owns the log-linear histogram of the load generator. Values below
 * 32 get one bucket each; above, every power of two is cut into 32 equal
 * buckets, so a bucket is never wider than 1/32 of its values. Adding is a
 * count-leading-zeros and an increment: cheap enough to call once per
 * delivered message. It never allocates and never shares state between
 * threads (merging is the caller's business, after the threads stopped).
 */
#include "hist.h"

#include <string.h>

void bench_hist_init(bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

uint32_t bench_hist_index(uint64_t v)
{
    if (v < BENCH_HIST_SUB) return (uint32_t)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    if (msb > BENCH_HIST_MAX_MSB) return BENCH_HIST_BUCKETS - 1;
    unsigned shift = msb - BENCH_HIST_SUB_BITS;
    return BENCH_HIST_SUB + shift * BENCH_HIST_SUB +
           (uint32_t)((v >> shift) & (BENCH_HIST_SUB - 1));
}

void bench_hist_range(uint32_t idx, uint64_t *lo, uint64_t *hi)
{
    if (idx < BENCH_HIST_SUB) {
        *lo = *hi = idx;
        return;
    }
    uint32_t shift = (idx - BENCH_HIST_SUB) / BENCH_HIST_SUB;
    uint64_t sub = (idx - BENCH_HIST_SUB) % BENCH_HIST_SUB;
    *lo = (BENCH_HIST_SUB | sub) << shift;
    *hi = *lo + ((uint64_t)1 << shift) - 1;
}

void bench_hist_add(bench_hist *h, uint64_t v)
{
    h->b[bench_hist_index(v)]++;
    h->count++;
    h->sum += v;
    if (v < h->min) h->min = v;
    if (v > h->max) h->max = v;
}

void bench_hist_merge(bench_hist *into, const bench_hist *from)
{
    if (from->count == 0) return;
    for (uint32_t i = 0; i < BENCH_HIST_BUCKETS; i++)
        into->b[i] += from->b[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->min < into->min) into->min = from->min;
    if (from->max > into->max) into->max = from->max;
}

uint64_t bench_hist_quantile(const bench_hist *h, double q)
{
    if (h->count == 0) return 0;
    if (q <= 0) return h->min;
    if (q >= 1) return h->max;
    /* ceil without libm: the rank of the value we want, 1-based */
    double r = q * (double)h->count;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r) rank++;
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            bench_hist_range(i, &lo, &hi);
            if (hi > h->max) hi = h->max;
            if (hi < h->min) hi = h->min;
            return hi;
        }
    }
    return h->max;
}

double bench_hist_mean(const bench_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
