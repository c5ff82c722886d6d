/*
 * test_spsc.c: the shard-to-shard ring. Single-threaded edge cases (empty,
 * full, wrap-around of the 32-bit indices) and a producer and a consumer
 * thread moving millions of items: every item arrives once, in order.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/spsc.h"

static void test_empty_ring_pops_null(void **state)
{
    (void)state;
    lr_spsc *r = lr_spsc_new(4);
    assert_non_null(r);
    assert_null(lr_spsc_pop(r));
    assert_int_equal(lr_spsc_depth(r), 0);
    lr_spsc_free(r);
}

static void test_full_ring_refuses_push(void **state)
{
    (void)state;
    lr_spsc *r = lr_spsc_new(5); /* rounded up to 8 */
    for (uintptr_t i = 1; i <= 8; i++)
        assert_true(lr_spsc_push(r, (void *)i));
    assert_false(lr_spsc_push(r, (void *)9));
    assert_int_equal(lr_spsc_depth(r), 8);
    assert_ptr_equal(lr_spsc_pop(r), (void *)1);
    assert_true(lr_spsc_push(r, (void *)9));
    for (uintptr_t i = 2; i <= 9; i++)
        assert_ptr_equal(lr_spsc_pop(r), (void *)i);
    assert_null(lr_spsc_pop(r));
    lr_spsc_free(r);
}

static void test_indices_wrap_around(void **state)
{
    (void)state;
    lr_spsc *r = lr_spsc_new(4);
    /* start just below the 32-bit wrap so head and tail overflow mid-test */
    atomic_store(&r->head, UINT32_MAX - 2);
    atomic_store(&r->tail, UINT32_MAX - 2);
    r->head_cache = r->tail_cache = UINT32_MAX - 2;
    for (uintptr_t round = 0; round < 10; round++) {
        for (uintptr_t i = 1; i <= 4; i++)
            assert_true(lr_spsc_push(r, (void *)(round * 10 + i)));
        assert_false(lr_spsc_push(r, (void *)99));
        for (uintptr_t i = 1; i <= 4; i++)
            assert_ptr_equal(lr_spsc_pop(r), (void *)(round * 10 + i));
        assert_null(lr_spsc_pop(r));
    }
    lr_spsc_free(r);
}

#define N_ITEMS 3000000u

static void *producer(void *arg)
{
    lr_spsc *r = arg;
    for (uintptr_t i = 1; i <= N_ITEMS; i++)
        while (!lr_spsc_push(r, (void *)i))
            sched_yield();
    return NULL;
}

static void test_two_threads_every_item_once_in_order(void **state)
{
    (void)state;
    lr_spsc *r = lr_spsc_new(64);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, producer, r), 0);
    uintptr_t expect = 1;
    while (expect <= N_ITEMS) {
        void *p = lr_spsc_pop(r);
        if (!p) {
            sched_yield();
            continue;
        }
        if ((uintptr_t)p != expect)
            fail_msg("got %lu, expected %lu", (unsigned long)(uintptr_t)p, (unsigned long)expect);
        expect++;
    }
    pthread_join(t, NULL);
    assert_null(lr_spsc_pop(r));
    lr_spsc_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_ring_pops_null),
        cmocka_unit_test(test_full_ring_refuses_push),
        cmocka_unit_test(test_indices_wrap_around),
        cmocka_unit_test(test_two_threads_every_item_once_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
