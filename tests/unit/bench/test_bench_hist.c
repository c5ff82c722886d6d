/*
 * test_bench_hist.c proves the load generator's histogram keeps its promise:
 * buckets tile the value range with no hole or overlap, no bucket is wider
 * than 1/32 of its values, quantiles land within that error of the truth,
 * and merging per-thread histograms equals recording everything in one.
 * The bench is one executable, so its sources are compiled in here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../bench/hist.c"

static void buckets_tile_the_range_without_gaps(void **state)
{
    (void)state;
    uint64_t prev_hi = 0;
    for (uint32_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
        uint64_t lo, hi;
        bench_hist_range(i, &lo, &hi);
        assert_true(lo <= hi);
        if (i > 0) assert_int_equal(lo, prev_hi + 1);
        assert_int_equal(bench_hist_index(lo), i);
        assert_int_equal(bench_hist_index(hi), i);
        prev_hi = hi;
    }
}

static void every_value_falls_in_a_bucket_at_most_one_32nd_wide(void **state)
{
    (void)state;
    uint64_t v = 1;
    for (int step = 0; step < 4000; step++) {
        uint32_t i = bench_hist_index(v);
        uint64_t lo, hi;
        bench_hist_range(i, &lo, &hi);
        assert_true(lo <= v && v <= hi);
        assert_true((hi - lo) * 32 <= lo || lo < 32);
        v = v + 1 + v / 97; /* irregular steps over the whole range */
        if (v >= (1ull << 40)) break;
    }
}

static void huge_values_are_clamped_into_the_last_bucket(void **state)
{
    (void)state;
    bench_hist h;
    bench_hist_init(&h);
    bench_hist_add(&h, UINT64_MAX / 2);
    assert_int_equal(bench_hist_index(UINT64_MAX), BENCH_HIST_BUCKETS - 1);
    assert_int_equal(h.count, 1);
    assert_int_equal(bench_hist_quantile(&h, 0.5), UINT64_MAX / 2);
}

static void quantiles_of_a_uniform_run_are_within_bucket_error(void **state)
{
    (void)state;
    bench_hist h;
    bench_hist_init(&h);
    for (uint64_t v = 1; v <= 100000; v++)
        bench_hist_add(&h, v);
    const double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
        double truth = qs[k] * 100000.0;
        double got = (double)bench_hist_quantile(&h, qs[k]);
        assert_true(got >= truth);
        assert_true(got <= truth * (1.0 + 1.0 / 32.0) + 1);
    }
    assert_int_equal(bench_hist_quantile(&h, 1.0), 100000);
    assert_int_equal(bench_hist_quantile(&h, 0.0), 1);
    assert_int_equal(h.max, 100000);
    assert_int_equal(h.min, 1);
    assert_true(bench_hist_mean(&h) > 50000.0 && bench_hist_mean(&h) < 50001.0);
}

static void quantile_never_exceeds_the_exact_max(void **state)
{
    (void)state;
    bench_hist h;
    bench_hist_init(&h);
    bench_hist_add(&h, 1000); /* its bucket is [992, 1007] */
    assert_int_equal(bench_hist_quantile(&h, 0.99), 1000);
}

static void empty_histogram_reports_zero(void **state)
{
    (void)state;
    bench_hist h;
    bench_hist_init(&h);
    assert_int_equal(bench_hist_quantile(&h, 0.5), 0);
    assert_true(bench_hist_mean(&h) == 0.0);
}

static void merging_equals_recording_in_one(void **state)
{
    (void)state;
    static bench_hist a, b, all;
    bench_hist_init(&a);
    bench_hist_init(&b);
    bench_hist_init(&all);
    uint64_t x = 12345;
    for (int i = 0; i < 50000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t v = (x >> 40) % 2000000;
        bench_hist_add(i % 3 ? &a : &b, v);
        bench_hist_add(&all, v);
    }
    bench_hist_merge(&a, &b);
    assert_int_equal(a.count, all.count);
    assert_int_equal(a.sum, all.sum);
    assert_int_equal(a.min, all.min);
    assert_int_equal(a.max, all.max);
    assert_memory_equal(a.b, all.b, sizeof(a.b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buckets_tile_the_range_without_gaps),
        cmocka_unit_test(every_value_falls_in_a_bucket_at_most_one_32nd_wide),
        cmocka_unit_test(huge_values_are_clamped_into_the_last_bucket),
        cmocka_unit_test(quantiles_of_a_uniform_run_are_within_bucket_error),
        cmocka_unit_test(quantile_never_exceeds_the_exact_max),
        cmocka_unit_test(empty_histogram_reports_zero),
        cmocka_unit_test(merging_equals_recording_in_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
