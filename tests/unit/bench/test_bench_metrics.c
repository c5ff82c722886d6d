/*
 * test_bench_metrics.c proves the bench reads the engine's own counters
 * from /metrics text as the engine writes it: slow-consumer events by kind,
 * frequency drops by priority, messages passed and deliveries, the longest
 * of the shards' batching delays; a label is
 * matched whole (kind="overrun" is not kind="overrun_total"), comments are
 * skipped, and text without any of them is an error, not zeros. The bench
 * is one executable, so its sources are compiled in here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../bench/metrics.c"

static const char text[] = "# HELP liveroom_deliveries_total Pushes copied to a connection\n"
                           "# TYPE liveroom_deliveries_total counter\n"
                           "liveroom_deliveries_total 123456\n"
                           "liveroom_deliveries_total_extra 9\n"
                           "liveroom_messages_passed_total 789\n"
                           "liveroom_frequency_dropped_total{priority=\"high\"} 0\n"
                           "liveroom_frequency_dropped_total{priority=\"normal\"} 94\n"
                           "liveroom_frequency_dropped_total{priority=\"low\"} 286\n"
                           "liveroom_frequency_dropped_total{priority=\"lowest\"} 382\n"
                           "liveroom_slow_consumer_events_total{kind=\"overrun_total\"} 77\n"
                           "liveroom_slow_consumer_events_total{kind=\"skipped_low\"} 12\n"
                           "liveroom_slow_consumer_events_total{kind=\"overrun\"} 3\n"
                           "liveroom_slow_consumer_events_total{kind=\"closed\"} 1000\n"
                           "liveroom_frequency_windows_total 5\n"
                           "# HELP liveroom_sends_total Socket sends submitted\n"
                           "liveroom_sends_total 17000\n"
                           "liveroom_send_bytes_total 2.5e+06\n"
                           "liveroom_batch_delay_seconds{shard=\"0\"} 0.2\n"
                           "liveroom_batch_delay_seconds{shard=\"1\"} 0.45\n"
                           "liveroom_batch_delay_seconds{shard=\"2\"} 0\n";

static void engine_counters_are_read_by_name_and_label(void **state)
{
    (void)state;
    bench_metrics m;
    assert_int_equal(bench_metrics_parse(text, sizeof(text) - 1, &m), 0);
    assert_true(m.ok);
    assert_int_equal(m.deliveries, 123456);
    assert_int_equal(m.passed, 789);
    assert_int_equal(m.freq_dropped[LR_PRI_HIGH], 0);
    assert_int_equal(m.freq_dropped[LR_PRI_NORMAL], 94);
    assert_int_equal(m.freq_dropped[LR_PRI_LOW], 286);
    assert_int_equal(m.freq_dropped[LR_PRI_LOWEST], 382);
    assert_int_equal(m.slow_skipped, 12);
    assert_int_equal(m.slow_overrun, 3);
    assert_int_equal(m.slow_closed, 1000);
    assert_int_equal(m.windows, 5);
    assert_int_equal(m.sends, 17000);
    assert_int_equal(m.send_bytes, 2500000);
    assert_int_equal(m.batch_delay_ms, 450); /* the longest shard's, in ms */
}

static void text_without_engine_counters_is_an_error(void **state)
{
    (void)state;
    static const char other[] = "# HELP x y\nsome_metric 1\nnot a line\n";
    bench_metrics m;
    assert_int_equal(bench_metrics_parse(other, sizeof(other) - 1, &m), LR_ENOENT);
    assert_false(m.ok);
    assert_int_equal(bench_metrics_parse("", 0, &m), LR_ENOENT);
}

static void a_closed_port_is_reported_not_waited_for(void **state)
{
    (void)state;
    bench_metrics m;
    /* port 1 on loopback refuses at once */
    assert_true(bench_metrics_fetch("127.0.0.1", 1, 1.0, &m) < 0);
    assert_false(m.ok);
    assert_int_equal(bench_metrics_fetch("not-an-ip", 80, 1.0, &m), LR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(engine_counters_are_read_by_name_and_label),
        cmocka_unit_test(text_without_engine_counters_is_an_error),
        cmocka_unit_test(a_closed_port_is_reported_not_waited_for),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
