/*
 * test_config.c: every option of the engine's configuration crosses its
 * limits. For each numeric option its minimum and maximum are taken, one
 * below and one above are refused with a message naming the option and
 * its range, and so are negative, empty and non-numeric values; booleans
 * take on/off and refuse anything else; strings refuse one byte too many;
 * an unknown key is refused. Keys work with dashes, underscores and any
 * case, from a config file (with comments and the failing line's number)
 * and from LIVEROOM_* variables. The defaults the docs promise hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../engine/core/config.c"

static uint64_t read_num(const lr_config *c, const opt *o)
{
    const char *p = (const char *)c + o->off;
    if (o->type == T_U16) return *(const uint16_t *)p;
    if (o->type == T_U32) return *(const uint32_t *)p;
    return *(const uint64_t *)p;
}

static void numbers_cross_both_ends(void **state)
{
    (void)state;
    char err[256], v[64];
    int checked = 0;
    for (size_t j = 0; j < LR_ARRAY_LEN(opts); j++) {
        const opt *o = &opts[j];
        if (o->type != T_U16 && o->type != T_U32 && o->type != T_U64) continue;
        lr_config c;
        lr_config_defaults(&c);
        snprintf(v, sizeof v, "%llu", (unsigned long long)o->min);
        assert_int_equal(lr_config_set(&c, o->name, v, err, sizeof err), 0);
        assert_int_equal(read_num(&c, o), o->min);
        snprintf(v, sizeof v, "%llu", (unsigned long long)o->max);
        assert_int_equal(lr_config_set(&c, o->name, v, err, sizeof err), 0);
        assert_int_equal(read_num(&c, o), o->max);
        if (o->min > 0) {
            snprintf(v, sizeof v, "%llu", (unsigned long long)o->min - 1);
            assert_int_equal(lr_config_set(&c, o->name, v, err, sizeof err), -1);
            assert_non_null(strstr(err, o->name));
        }
        if (o->max < UINT64_MAX) {
            snprintf(v, sizeof v, "%llu", (unsigned long long)o->max + 1);
            assert_int_equal(lr_config_set(&c, o->name, v, err, sizeof err), -1);
            assert_non_null(strstr(err, o->name));
            snprintf(v, sizeof v, "from %llu to %llu", (unsigned long long)o->min,
                     (unsigned long long)o->max);
            assert_non_null(strstr(err, v));
        }
        static const char *const bad[] = {
            "-1", " -1", "", "12x", "x", " 5", "+5", "0x10", "99999999999999999999999"};
        for (size_t k = 0; k < LR_ARRAY_LEN(bad); k++)
            assert_int_equal(lr_config_set(&c, o->name, bad[k], err, sizeof err), -1);
        assert_int_equal(read_num(&c, o), o->max); /* a refused value changes nothing */
        checked++;
    }
    assert_true(checked >= 30);
}

static void booleans_strings_and_levels(void **state)
{
    (void)state;
    char err[256];
    for (size_t j = 0; j < LR_ARRAY_LEN(opts); j++) {
        const opt *o = &opts[j];
        lr_config c;
        lr_config_defaults(&c);
        char *p = (char *)&c + o->off;
        if (o->type == T_BOOL) {
            assert_int_equal(lr_config_set(&c, o->name, "on", err, sizeof err), 0);
            assert_true(*(bool *)p);
            assert_int_equal(lr_config_set(&c, o->name, "off", err, sizeof err), 0);
            assert_false(*(bool *)p);
            assert_int_equal(lr_config_set(&c, o->name, "maybe", err, sizeof err), -1);
            assert_non_null(strstr(err, "on|off"));
        } else if (o->type == T_STR) {
            char *big = malloc(o->size + 1);
            assert_non_null(big);
            memset(big, 'a', o->size);
            big[o->size] = 0;
            assert_int_equal(lr_config_set(&c, o->name, big, err, sizeof err), -1);
            assert_non_null(strstr(err, "too long"));
            big[o->size - 1] = 0; /* the longest that fits */
            assert_int_equal(lr_config_set(&c, o->name, big, err, sizeof err), 0);
            assert_string_equal(p, big);
            free(big);
        } else if (o->type == T_LOG) {
            assert_int_equal(lr_config_set(&c, o->name, "debug", err, sizeof err), 0);
            assert_int_equal(lr_config_set(&c, o->name, "loud", err, sizeof err), -1);
        }
    }
    lr_config c;
    lr_config_defaults(&c);
    assert_int_equal(lr_config_set(&c, "no-such-option", "1", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown option"));
}

static void keys_in_any_spelling(void **state)
{
    (void)state;
    char err[256];
    lr_config c;
    lr_config_defaults(&c);
    assert_int_equal(lr_config_set(&c, "fanout-delay-ms", "150", err, sizeof err), 0);
    assert_int_equal(c.fanout_delay_ms, 150);
    assert_int_equal(lr_config_set(&c, "FANOUT_MAX_DELAY_MS", "400", err, sizeof err), 0);
    assert_int_equal(c.fanout_max_delay_ms, 400);
    assert_int_equal(lr_config_set(&c, "sndbuf", "0", err, sizeof err), 0);
    assert_int_equal(c.sndbuf, 0);
}

static void defaults_are_the_documented_ones(void **state)
{
    (void)state;
    lr_config c;
    lr_config_defaults(&c);
    assert_int_equal(c.port, 7070);
    assert_int_equal(c.admin_port, 7071);
    assert_int_equal(c.rate, 40);
    assert_int_equal(c.user_rate, 20);
    assert_int_equal(c.max_rooms_per_conn, 8);
    assert_int_equal(c.max_body, 12 * 1024);
    assert_int_equal(c.fanout_delay_ms, 175);
    assert_int_equal(c.fanout_max_delay_ms, 1000);
    assert_int_equal(c.send_max, 16 * 1024);
    assert_int_equal(c.sndbuf, 32 * 1024);
    assert_string_equal(c.data_dir, "./liveroom-data");
}

static void file_and_environment(void **state)
{
    (void)state;
    char path[] = "/tmp/lr-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# a comment\n  rate = 100   # per room\n\nsndbuf=65536\n", f);
    fclose(f);
    char err[256];
    lr_config c;
    lr_config_defaults(&c);
    assert_int_equal(lr_config_load_file(&c, path, err, sizeof err), 0);
    assert_int_equal(c.rate, 100);
    assert_int_equal(c.sndbuf, 65536);
    f = fopen(path, "w");
    fputs("rate = 100\nfanout-max-delay-ms = 10001\n", f);
    fclose(f);
    assert_int_equal(lr_config_load_file(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2:"));
    assert_non_null(strstr(err, "fanout-max-delay-ms"));
    f = fopen(path, "w");
    fputs("rate 100\n", f);
    fclose(f);
    assert_int_equal(lr_config_load_file(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "key = value"));
    unlink(path);
    assert_int_equal(lr_config_load_file(&c, path, err, sizeof err), -1);

    setenv("LIVEROOM_FANOUT_DELAY_MS", "120", 1);
    assert_int_equal(lr_config_load_env(&c, err, sizeof err), 0);
    assert_int_equal(c.fanout_delay_ms, 120);
    setenv("LIVEROOM_FANOUT_DELAY_MS", "0", 1);
    assert_int_equal(lr_config_load_env(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "fanout-delay-ms"));
    unsetenv("LIVEROOM_FANOUT_DELAY_MS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_cross_both_ends),
        cmocka_unit_test(booleans_strings_and_levels),
        cmocka_unit_test(keys_in_any_spelling),
        cmocka_unit_test(defaults_are_the_documented_ones),
        cmocka_unit_test(file_and_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
