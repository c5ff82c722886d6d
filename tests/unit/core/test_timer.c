/*
 * test_timer.c: the shard's timer heap against a reference: random arms,
 * re-arms and cancels, then every timer fires once, in deadline order, and
 * only when due; callbacks may re-arm themselves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "core/common.h"
#include "core/map.h"
#include "core/timer.h"

#define N 2000

typedef struct fired_log {
    uint64_t last;
    unsigned count;
    uint64_t now;
} fired_log;

static void on_fire(void *owner, lr_timer *t)
{
    fired_log *log = owner;
    assert_true(t->deadline <= log->now);
    assert_true(t->deadline >= log->last);
    log->last = t->deadline;
    log->count++;
    assert_false(lr_timer_armed(t));
}

static void test_random_arm_cancel_fire_in_order(void **state)
{
    (void)state;
    lr_timers ts;
    lr_timers_init(&ts);
    static lr_timer t[N];
    bool armed[N] = {0};
    uint64_t rng = 42;
    for (int round = 0; round < 20000; round++) {
        int i = (int)(lr_rand_next(&rng) % N);
        switch (lr_rand_next(&rng) % 3) {
        case 0:
        case 1:
            t[i].cb = on_fire;
            assert_int_equal(lr_timer_arm(&ts, &t[i], 1000 + lr_rand_next(&rng) % 100000), 0);
            armed[i] = true;
            break;
        default:
            lr_timer_cancel(&ts, &t[i]);
            armed[i] = false;
        }
    }
    unsigned expect = 0;
    uint64_t min = UINT64_MAX;
    for (int i = 0; i < N; i++) {
        assert_int_equal(lr_timer_armed(&t[i]), armed[i]);
        if (armed[i]) {
            expect++;
            if (t[i].deadline < min) min = t[i].deadline;
        }
    }
    assert_int_equal(lr_timers_next(&ts), expect ? min : UINT64_MAX);
    fired_log log = {0, 0, 50000};
    unsigned first = lr_timers_run(&ts, log.now, &log);
    assert_int_equal(first, log.count);
    log.now = UINT64_MAX - 1;
    lr_timers_run(&ts, log.now, &log);
    assert_int_equal(log.count, expect);
    assert_int_equal(lr_timers_next(&ts), UINT64_MAX);
    lr_timers_free(&ts);
}

static void rearm(void *owner, lr_timer *t)
{
    lr_timers *ts = owner;
    if (++*(int *)t->arg < 5) lr_timer_arm(ts, t, t->deadline + 10);
}

static void test_callback_may_rearm_itself(void **state)
{
    (void)state;
    lr_timers ts;
    lr_timers_init(&ts);
    int n = 0;
    lr_timer t = {.cb = rearm, .arg = &n};
    lr_timer_arm(&ts, &t, 10);
    assert_int_equal(lr_timers_run(&ts, 5, &ts), 0);
    assert_int_equal(lr_timers_run(&ts, 35, &ts), 3); /* 10, 20, 30 */
    assert_int_equal(n, 3);
    assert_int_equal(lr_timers_run(&ts, 1000, &ts), 2);
    assert_false(lr_timer_armed(&t));
    lr_timers_free(&ts);
}

static void test_map_put_get_del_grow(void **state)
{
    (void)state;
    /* the key lives in the embedding struct at the map's offset */
    typedef struct item {
        lr_map_node node;
        char key[16];
    } item;
    lr_map m;
    assert_int_equal(lr_map_init(&m, 4, LR_MAP_KEY_OFF(item, node, key)), 0);
    enum { K = 5000 };
    static item items[K];
    for (int i = 0; i < K; i++) {
        int n = snprintf(items[i].key, sizeof(items[i].key), "room-%d", i);
        items[i].node.klen = (uint32_t)n;
        items[i].node.hash = (uint32_t)lr_hash(items[i].key, (size_t)n);
        lr_map_put(&m, &items[i].node);
    }
    assert_int_equal(m.n, K);
    for (int i = 0; i < K; i += 2)
        lr_map_del(&m, &items[i].node);
    for (int i = 0; i < K; i++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "room-%d", i); /* a copy: found by content */
        lr_map_node *got = lr_map_get(&m, key, (size_t)n, lr_hash(key, (size_t)n));
        if (i % 2)
            assert_ptr_equal(got, &items[i].node);
        else
            assert_null(got);
    }
    unsigned seen = 0;
    uint32_t it;
    for (lr_map_node *n = lr_map_first(&m, &it); n; n = lr_map_next(&m, &it, n))
        seen++;
    assert_int_equal(seen, K / 2);
    lr_map_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_arm_cancel_fire_in_order),
        cmocka_unit_test(test_callback_may_rearm_itself),
        cmocka_unit_test(test_map_put_get_del_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
