/*
 * test_metrics_text proves that what /metrics serves is valid Prometheus
 * text exposition: a sample of every kind of family (labelled counters,
 * gauges with special values, histograms with and without labels, help and
 * label values that need escaping) is checked by Prometheus's own
 * `promtool check metrics`. A missing promtool fails the test instead of
 * skipping it (tools/setup.sh installs Debian's prometheus package), and a
 * deliberately broken exposition proves promtool does reject. Exact-text
 * tests pin the escaping, number formatting and cumulative buckets, and
 * the error tests prove an invalid call leaves the buffer untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin/metrics_text.h"

static char *buf_str(const lr_buf *b)
{
    char *s = malloc(b->len + 1);
    assert_non_null(s);
    memcpy(s, b->p, b->len);
    s[b->len] = '\0';
    return s;
}

/* Runs `promtool check metrics` on text; returns its exit status and puts
 * its output in out. Fails the test when promtool cannot be run. */
static int promtool_check(const char *text, size_t len, char *out, size_t cap)
{
    char in_path[] = "/tmp/lr-metrics-XXXXXX";
    int fd = mkstemp(in_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", in_path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    unlink(in_path);
    assert_true(WIFEXITED(st));
    int rc = WEXITSTATUS(st);
    /* 127: the shell found no promtool; that must never pass as "valid". */
    if (rc == 127) fail_msg("promtool not found (install Debian's prometheus package): %s", out);
    return rc;
}

static void test_promtool_is_installed(void **st)
{
    int rc = system("command -v promtool >/dev/null 2>&1");
    if (rc != 0) fail_msg("promtool is missing: apt-get install prometheus (tools/setup.sh)");
}

/* A scrape's worth of families, as the engine will write them. */
static void render_sample(lr_buf *b)
{
    static const char *const shards[] = {"0", "1"};
    for (size_t i = 0; i < LR_ARRAY_LEN(shards); i++) {
        lr_prom_label l[] = {{"shard", shards[i]}, {NULL, NULL}};
        assert_int_equal(lr_prom_counter(b, "liveroom_messages_delivered_total",
                                         "Messages that passed frequency control.", l, 100 + i),
                         0);
    }
    lr_prom_label tricky[] = {
        {"reason", "quote \" backslash \\ newline \n end"}, {"room", "caf\xc3\xa9"}, {NULL, NULL}};
    assert_int_equal(lr_prom_counter(b, "liveroom_callbacks_dropped_total",
                                     "After-callbacks dropped.\nSecond line \\ with backslash.",
                                     tricky, 3),
                     0);
    assert_int_equal(
        lr_prom_counter(b, "liveroom_callbacks_dropped_total", "ignored help", NULL, UINT64_MAX),
        0);
    assert_int_equal(lr_prom_gauge(b, "liveroom_connections", "Open connections.", NULL, 12345), 0);
    assert_int_equal(lr_prom_gauge(b, "liveroom_cpu_ratio", "A ratio.", NULL, 0.1), 0);
    lr_prom_label a[] = {{"kind", "nan"}, {NULL, NULL}};
    lr_prom_label c[] = {{"kind", "inf"}, {NULL, NULL}};
    lr_prom_label d[] = {{"kind", "neg"}, {NULL, NULL}};
    assert_int_equal(lr_prom_gauge(b, "liveroom_odd_values", "Special values.", a, NAN), 0);
    assert_int_equal(lr_prom_gauge(b, "liveroom_odd_values", "Special values.", c, INFINITY), 0);
    assert_int_equal(lr_prom_gauge(b, "liveroom_odd_values", "Special values.", d, -1.5e300), 0);
    const double bounds[] = {0.0005, 0.001, 0.01, 0.1, 1};
    const uint64_t counts[] = {5, 10, 0, 3, 1, 2};
    lr_prom_label h1[] = {{"op", "send"}, {NULL, NULL}};
    lr_prom_label h2[] = {{"op", "join"}, {NULL, NULL}};
    assert_int_equal(lr_prom_histogram(b, "liveroom_request_seconds", "Request latency.", h1,
                                       bounds, LR_ARRAY_LEN(bounds), counts, 7.25),
                     0);
    assert_int_equal(lr_prom_histogram(b, "liveroom_request_seconds", "Request latency.", h2,
                                       bounds, LR_ARRAY_LEN(bounds), counts, 0.5),
                     0);
    const double b2[] = {1024, 4096};
    const uint64_t c2[] = {0, 0, 0};
    assert_int_equal(lr_prom_histogram(b, "liveroom_frame_bytes", "Frame sizes.", NULL, b2,
                                       LR_ARRAY_LEN(b2), c2, 0),
                     0);
}

static void test_sample_families_pass_promtool_check_metrics(void **st)
{
    lr_buf b = {0};
    render_sample(&b);
    char out[4096];
    int rc = promtool_check((const char *)b.p, b.len, out, sizeof(out));
    if (rc != 0) {
        char *s = buf_str(&b);
        fail_msg("promtool exit %d: %s\n--- exposition ---\n%s", rc, out, s);
    }
    /* HELP and TYPE exactly once per family */
    char *s = buf_str(&b);
    const char *fams[] = {"liveroom_messages_delivered_total", "liveroom_callbacks_dropped_total",
                          "liveroom_odd_values", "liveroom_request_seconds"};
    for (size_t i = 0; i < LR_ARRAY_LEN(fams); i++) {
        char pat[128];
        snprintf(pat, sizeof(pat), "# TYPE %s ", fams[i]);
        const char *first = strstr(s, pat);
        assert_non_null(first);
        assert_null(strstr(first + 1, pat));
        snprintf(pat, sizeof(pat), "# HELP %s ", fams[i]);
        first = strstr(s, pat);
        assert_non_null(first);
        assert_null(strstr(first + 1, pat));
    }
    free(s);
    lr_buf_free(&b);
}

static void test_promtool_rejects_a_broken_exposition(void **st)
{
    /* proves the check above can fail: a family typed twice */
    const char bad[] = "# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n"
                       "# HELP y Y.\n# TYPE y gauge\ny 1\n"
                       "# HELP x_total X.\n# TYPE x_total counter\nx_total{a=\"b\"} 1\n";
    char out[4096];
    assert_int_not_equal(promtool_check(bad, sizeof(bad) - 1, out, sizeof(out)), 0);
}

static void test_exact_text_of_counter_escaping_and_gauge_values(void **st)
{
    lr_buf b = {0};
    lr_prom_label l[] = {{"k", "a\"b\\c\nd"}, {"z", ""}, {NULL, NULL}};
    assert_int_equal(lr_prom_counter(&b, "x_total", "h\\1\n2 \"q\"", l, 3), 0);
    assert_int_equal(lr_prom_counter(&b, "x_total", "h", NULL, 0), 0);
    assert_int_equal(lr_prom_gauge(&b, "g", "G.", NULL, 0.1), 0);
    assert_int_equal(lr_prom_gauge(&b, "g", "G.", NULL, 1e21), 0);
    assert_int_equal(lr_prom_gauge(&b, "g", "G.", NULL, -3), 0);
    assert_int_equal(lr_prom_gauge(&b, "g", "G.", NULL, 1.0 / 3), 0);
    assert_int_equal(lr_prom_gauge(&b, "g", "G.", NULL, -INFINITY), 0);
    char *s = buf_str(&b);
    assert_string_equal(s, "# HELP x_total h\\\\1\\n2 \"q\"\n"
                           "# TYPE x_total counter\n"
                           "x_total{k=\"a\\\"b\\\\c\\nd\",z=\"\"} 3\n"
                           "x_total 0\n"
                           "# HELP g G.\n"
                           "# TYPE g gauge\n"
                           "g 0.1\n"
                           "g 1e+21\n"
                           "g -3\n"
                           "g 0.33333333333333331\n"
                           "g -Inf\n");
    free(s);
    lr_buf_free(&b);
}

static void test_histogram_buckets_are_cumulative_with_sum_and_count(void **st)
{
    lr_buf b = {0};
    const double bounds[] = {0.005, 0.1, 1};
    const uint64_t counts[] = {1, 2, 3, 4};
    lr_prom_label l[] = {{"op", "send"}, {NULL, NULL}};
    assert_int_equal(lr_prom_histogram(&b, "lat_seconds", "L.", l, bounds, 3, counts, 12.5), 0);
    char *s = buf_str(&b);
    assert_string_equal(s, "# HELP lat_seconds L.\n"
                           "# TYPE lat_seconds histogram\n"
                           "lat_seconds_bucket{op=\"send\",le=\"0.005\"} 1\n"
                           "lat_seconds_bucket{op=\"send\",le=\"0.1\"} 3\n"
                           "lat_seconds_bucket{op=\"send\",le=\"1\"} 6\n"
                           "lat_seconds_bucket{op=\"send\",le=\"+Inf\"} 10\n"
                           "lat_seconds_sum{op=\"send\"} 12.5\n"
                           "lat_seconds_count{op=\"send\"} 10\n");
    free(s);
    lr_buf_reset(&b);
    assert_int_equal(lr_prom_histogram(&b, "h", "H.", NULL, NULL, 0, counts, 0), 0);
    s = buf_str(&b);
    assert_string_equal(s, "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\n"
                           "h_sum 0\nh_count 1\n");
    free(s);
    lr_buf_free(&b);
}

/* Every invalid call returns LR_EINVAL and leaves the buffer as it was. */
static void test_invalid_calls_are_refused_without_writing(void **st)
{
    lr_buf b = {0};
    assert_int_equal(lr_prom_counter(&b, "a_total", "A.", NULL, 1), 0);
    assert_int_equal(lr_prom_gauge(&b, "b", "B.", NULL, 1), 0);
    char *before = buf_str(&b);
    size_t len = b.len;
    lr_prom_label le[] = {{"le", "1"}, {NULL, NULL}};
    lr_prom_label reserved[] = {{"__name__", "x"}, {NULL, NULL}};
    lr_prom_label badname[] = {{"1x", "x"}, {NULL, NULL}};
    lr_prom_label dup[] = {{"a", "1"}, {"a", "2"}, {NULL, NULL}};
    lr_prom_label notutf8[] = {{"a", "\xff"}, {NULL, NULL}};
    lr_prom_label nullval[] = {{"a", NULL}, {NULL, NULL}};
    const double up[] = {1, 2}, down[] = {2, 1}, same[] = {1, 1}, inf[] = {1, INFINITY};
    const uint64_t cnt[] = {0, 0, 0};
    int rcs[] = {
        /* a_total's samples were closed by b */
        lr_prom_counter(&b, "a_total", "A.", NULL, 2),
        /* b is open but typed gauge */
        lr_prom_counter(&b, "b", "B.", NULL, 2),
        lr_prom_counter(&b, "", "E.", NULL, 1),
        lr_prom_counter(&b, NULL, "E.", NULL, 1),
        lr_prom_counter(&b, "9lives", "E.", NULL, 1),
        lr_prom_counter(&b, "has-dash", "E.", NULL, 1),
        lr_prom_counter(&b, "c_total", NULL, NULL, 1),
        lr_prom_counter(&b, "c_total", "\xff", NULL, 1),
        lr_prom_counter(&b, "c_total", "C.", reserved, 1),
        lr_prom_counter(&b, "c_total", "C.", badname, 1),
        lr_prom_counter(&b, "c_total", "C.", dup, 1),
        lr_prom_counter(&b, "c_total", "C.", notutf8, 1),
        lr_prom_counter(&b, "c_total", "C.", nullval, 1),
        lr_prom_histogram(&b, "h", "H.", le, up, 2, cnt, 0),
        lr_prom_histogram(&b, "h", "H.", NULL, down, 2, cnt, 0),
        lr_prom_histogram(&b, "h", "H.", NULL, same, 2, cnt, 0),
        lr_prom_histogram(&b, "h", "H.", NULL, inf, 2, cnt, 0),
    };
    for (size_t i = 0; i < LR_ARRAY_LEN(rcs); i++) {
        if (rcs[i] != LR_EINVAL) fail_msg("call %zu returned %d", i, rcs[i]);
    }
    assert_int_equal(b.len, len);
    assert_memory_equal(b.p, before, len);
    /* "le" is an ordinary label outside histograms; colons are fine in names */
    assert_int_equal(lr_prom_gauge(&b, "b", "B.", le, 2), 0);
    assert_int_equal(lr_prom_gauge(&b, "job:rate:5m", "R.", NULL, 2), 0);
    free(before);
    lr_buf_free(&b);
}

static void test_family_prefix_names_are_distinct_families(void **st)
{
    /* "a" must not be taken for "a_total" (or the reverse) */
    lr_buf b = {0};
    assert_int_equal(lr_prom_counter(&b, "a_total", "A.", NULL, 1), 0);
    assert_int_equal(lr_prom_gauge(&b, "a", "A.", NULL, 1), 0);
    assert_int_equal(lr_prom_gauge(&b, "a", "A.", NULL, 2), 0);
    assert_int_equal(lr_prom_gauge(&b, "a_tot", "A.", NULL, 2), 0);
    char out[4096];
    char *s = buf_str(&b);
    assert_non_null(strstr(s, "# TYPE a gauge\na 1\na 2\n# HELP a_tot"));
    int rc = promtool_check(s, b.len, out, sizeof(out));
    /* counters named by convention pass lint; exit 0 */
    if (rc != 0) fail_msg("promtool exit %d: %s\n%s", rc, out, s);
    free(s);
    lr_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promtool_is_installed),
        cmocka_unit_test(test_sample_families_pass_promtool_check_metrics),
        cmocka_unit_test(test_promtool_rejects_a_broken_exposition),
        cmocka_unit_test(test_exact_text_of_counter_escaping_and_gauge_values),
        cmocka_unit_test(test_histogram_buckets_are_cumulative_with_sum_and_count),
        cmocka_unit_test(test_invalid_calls_are_refused_without_writing),
        cmocka_unit_test(test_family_prefix_names_are_distinct_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
