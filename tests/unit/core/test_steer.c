/*
 * test_steer.c: the phases of core/steer.h from per-shard connection
 * counts: primaries first, the others once a primary is full, all once one
 * of those is full too, and back only below the lower mark.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/steer.h"

#define FILL 18000
#define LOW 16000

static int next(int phase, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t counts[4] = {a, b, c, d};
    return lr_steer_next(phase, counts, 4, 2, FILL, LOW);
}

static void test_up(void **state)
{
    (void)state;
    assert_int_equal(next(LR_STEER_PRIMARY, 0, 0, 0, 0), LR_STEER_PRIMARY);
    assert_int_equal(next(LR_STEER_PRIMARY, FILL - 1, 5000, 0, 0), LR_STEER_PRIMARY);
    /* one full primary is enough: the kernel spreads evenly over the two */
    assert_int_equal(next(LR_STEER_PRIMARY, 9000, FILL, 0, 0), LR_STEER_OTHERS);
    assert_int_equal(next(LR_STEER_OTHERS, FILL, FILL, FILL - 1, 100), LR_STEER_OTHERS);
    assert_int_equal(next(LR_STEER_OTHERS, FILL, FILL, 100, FILL), LR_STEER_ALL);
    /* straight from primaries to all when both groups are full */
    assert_int_equal(next(LR_STEER_PRIMARY, FILL, FILL, FILL, FILL), LR_STEER_ALL);
}

static void test_down_only_below_low(void **state)
{
    (void)state;
    /* between the marks a phase holds: no flapping at one close/accept */
    assert_int_equal(next(LR_STEER_OTHERS, LOW, LOW, 0, 0), LR_STEER_OTHERS);
    assert_int_equal(next(LR_STEER_OTHERS, LOW - 1, LOW - 1, 0, 0), LR_STEER_PRIMARY);
    assert_int_equal(next(LR_STEER_ALL, FILL, FILL, LOW, 0), LR_STEER_ALL);
    assert_int_equal(next(LR_STEER_ALL, FILL, FILL, LOW - 1, LOW - 1), LR_STEER_OTHERS);
    assert_int_equal(next(LR_STEER_ALL, 10, 10, 10, 10), LR_STEER_PRIMARY);
}

static void test_no_extra_shards(void **state)
{
    (void)state;
    uint64_t counts[2] = {0, 0};
    assert_int_equal(lr_steer_next(LR_STEER_PRIMARY, counts, 2, 2, FILL, LOW), LR_STEER_ALL);
    assert_int_equal(lr_steer_next(LR_STEER_PRIMARY, counts, 1, 4, FILL, LOW), LR_STEER_ALL);
}

static void test_marks_and_active(void **state)
{
    (void)state;
    lr_steer s;
    assert_int_equal(lr_steer_init(&s, 6, 2, 20000), 0);
    assert_int_equal(s.fill, 18000);
    assert_int_equal(s.low, 16000);
    assert_int_equal(lr_steer_active(&s), 2);
    lr_steer_destroy(&s);
    assert_int_equal(lr_steer_init(&s, 2, 2, 20000), 0);
    assert_int_equal(lr_steer_active(&s), 2); /* all of them */
    lr_steer_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_up),
        cmocka_unit_test(test_down_only_below_low),
        cmocka_unit_test(test_no_extra_shards),
        cmocka_unit_test(test_marks_and_active),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
