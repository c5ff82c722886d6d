/*
 * test_pace.c: the pacing arithmetic of room/pace.h against a model of one
 * replica. The model keeps a cursor per member and a clock in ms, runs the
 * dispatch rule at every frame and the hold tick every eighth of the delay
 * the way room/fanout.c does, and sends a member the moment it is due. It
 * checks what pacing promises: no frame waits longer than the delay; a
 * steady room gets k = (delay - a quarter gap) / gap + 1 frames per send;
 * its members take turns (each frame makes about a k-th of them due, never
 * everyone at once); jitter in frame arrival neither breaks the bound nor
 * changes k; a room that slows down or stops still delivers every frame
 * within the delay; an unbatched shard and a quiet room send at once.
 */
#include <setjmp.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "room/pace.h"

#define MAX_FRAMES 8192
#define MAX_MEMBERS 20000

typedef struct model {
    uint32_t delay, n;
    uint64_t cursor[MAX_MEMBERS];
    uint64_t at[MAX_FRAMES];
    uint64_t head, last_ms;
    uint32_t gap16, k;
    uint8_t votes;
    uint64_t hold_due; /* 0: not on the hold list */
    uint64_t next_tick;
    /* what happened to the frames in [from_frame, to_frame) (0: to the end);
     * the waits of the frames of a stream's end are the hold tick's */
    uint64_t from_frame, to_frame;
    uint64_t sends, deliveries, max_wait, max_burst, k_changes;
} model;

static model *model_new(uint32_t n, uint32_t delay)
{
    model *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->n = n;
    m->delay = delay;
    return m;
}

/* Send member i now: everything from its cursor to head. */
static void send(model *m, uint32_t i, uint64_t now)
{
    uint64_t c = m->cursor[i];
    if (c >= m->head) return;
    if (c >= m->from_frame && (!m->to_frame || c < m->to_frame)) {
        m->sends++;
        m->deliveries += m->head - c;
        if (now - m->at[c] > m->max_wait) m->max_wait = now - m->at[c];
    }
    m->cursor[i] = m->head;
}

static uint64_t key(uint32_t i)
{
    return 0x7f0000001000ull + 48ull * i; /* members are 48-byte blocks */
}

static uint64_t tick_ms(uint32_t delay)
{
    return lr_pace_slack(delay) < 4 ? 4 : lr_pace_slack(delay);
}

/* Members keep frames: when their oldest reaches the delay (fanout.c). */
static void hold(model *m, bool keeps, uint64_t oldest_age, uint64_t now)
{
    if (!keeps) {
        m->hold_due = 0;
        return;
    }
    if (!m->hold_due && !m->next_tick) m->next_tick = now + tick_ms(m->delay);
    m->hold_due = now - oldest_age + m->delay;
}

static void frame(model *m, uint64_t now)
{
    assert_true(m->head < MAX_FRAMES);
    m->at[m->head++] = now;
    m->gap16 = lr_pace_gap(m->gap16, m->last_ms ? now - m->last_ms : LR_PACE_GAP_MAX_MS, m->k);
    m->last_ms = now;
    uint32_t k = lr_pace_k_next(m->k, lr_pace_k(m->delay, m->gap16), &m->votes, m->delay, m->gap16);
    if (k != m->k && m->head > m->from_frame) m->k_changes++;
    m->k = k;
    uint64_t burst = 0, kept = 0;
    bool keeps = false;
    uint32_t turn = lr_pace_turn(m->head - 1, k);
    for (uint32_t i = 0; i < m->n; i++) {
        uint64_t c = m->cursor[i];
        if (c >= m->head) continue;
        uint64_t age = now - m->at[c];
        if (k <= 1 || lr_pace_due(lr_pace_phase(key(i), k), turn, age, m->gap16, m->delay)) {
            send(m, i, now);
            burst++;
        } else {
            keeps = true;
            if (age > kept) kept = age;
        }
    }
    if (m->head > m->from_frame && burst > m->max_burst) m->max_burst = burst;
    hold(m, keeps, kept, now);
}

static void hold_tick(model *m, uint64_t now)
{
    if (!m->next_tick || now < m->next_tick) return;
    m->next_tick = 0;
    if (m->hold_due && m->hold_due <= now + lr_pace_slack(m->delay)) {
        uint64_t kept = 0;
        bool keeps = false;
        for (uint32_t i = 0; i < m->n; i++) {
            uint64_t c = m->cursor[i];
            if (c >= m->head) continue;
            uint64_t age = now - m->at[c];
            if (lr_pace_overdue(age, m->delay)) {
                send(m, i, now);
            } else {
                keeps = true;
                if (age > kept) kept = age;
            }
        }
        hold(m, keeps, kept, now);
    }
    if (m->hold_due) m->next_tick = now + tick_ms(m->delay);
}

/* Frames at the times in `t` (ms, ascending), then `tail` ms of silence. */
static void run(model *m, const uint64_t *t, size_t nframes, uint64_t tail)
{
    size_t f = 0;
    uint64_t end = t[nframes - 1] + tail;
    for (uint64_t now = t[0]; now <= end; now++) {
        while (f < nframes && t[f] == now) {
            frame(m, now);
            f++;
        }
        hold_tick(m, now);
    }
}

/* Frames every `gap` ms plus up to +-jitter ms, from t = 1000. */
static size_t steady(uint64_t *t, size_t n, double gap, double jitter, unsigned seed)
{
    srand(seed);
    double x = 1000;
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        double j = jitter * (2.0 * rand() / RAND_MAX - 1.0);
        uint64_t v = (uint64_t)(x + j);
        t[i] = v > prev ? v : prev + 1;
        prev = t[i];
        x += gap;
    }
    return n;
}

static void all_delivered(const model *m)
{
    for (uint32_t i = 0; i < m->n; i++)
        assert_int_equal(m->cursor[i], m->head);
}

static double fps(const model *m)
{
    return (double)m->deliveries / (double)m->sends;
}

static void test_k_arithmetic(void **state)
{
    (void)state;
    assert_int_equal(lr_pace_k(0, 16 * 25), 1);    /* not batching */
    assert_int_equal(lr_pace_k(175, 16 * 250), 1); /* frames rarer than the delay */
    assert_int_equal(lr_pace_k(175, 16 * 175), 1); /* a quarter gap short of a second frame */
    assert_int_equal(lr_pace_k(175, 16 * 25), 7);  /* 6 gaps of 25 = 150 <= 175 - 6.25 */
    assert_int_equal(lr_pace_k(200, 16 * 25), 8);
    assert_int_equal(lr_pace_k(450, 16 * 250), 2);
    assert_int_equal(lr_pace_k(1000, 16 * 250), 4);
    assert_int_equal(lr_pace_k(1000, 0), LR_PACE_K_MAX); /* frames in the same ms */
    for (uint32_t d = 1; d <= 2000; d += 7)
        for (uint32_t g16 = 1; g16 <= 16 * 2000; g16 += 97) {
            uint32_t k = lr_pace_k(d, g16);
            assert_true(k >= 1 && k <= LR_PACE_K_MAX);
            /* the oldest of k frames waits at most the delay less a quarter
             * gap, and less twice the hold tick's slack */
            uint64_t margin = g16 / 4 > 32 * lr_pace_slack(d) ? g16 / 4 : 32 * lr_pace_slack(d);
            if (k > 1 && k < LR_PACE_K_MAX)
                assert_true((uint64_t)(k - 1) * g16 + margin <= 16ull * d);
        }
}

static void test_phases_spread_evenly(void **state)
{
    (void)state;
    for (uint32_t k = 2; k <= 40; k++) {
        uint32_t count[40] = {0};
        for (uint32_t i = 0; i < 8000; i++) {
            uint32_t p = lr_pace_phase(key(i), k);
            assert_true(p < k);
            count[p]++;
        }
        for (uint32_t p = 0; p < k; p++) {
            assert_true(count[p] > 8000 / k * 3 / 4);
            assert_true(count[p] < 8000 / k * 5 / 4);
        }
    }
}

static void test_steady_room_takes_k_frames_per_send_by_turns(void **state)
{
    (void)state;
    static uint64_t t[2000];
    model *m = model_new(10000, 175);
    m->from_frame = 40; /* after the first second */
    m->to_frame = 1990;
    run(m, t, steady(t, 2000, 25, 0, 1), 1000);
    all_delivered(m);
    assert_true(m->max_wait <= 150); /* 6 gaps */
    assert_true(fps(m) > 6.95);
    /* a seventh of the room at each frame, not everyone every 7th */
    assert_true(m->max_burst < 10000 / 7 * 5 / 4);
    assert_int_equal(m->k_changes, 0);
    free(m);
}

static void test_slow_room_waits_a_gap_not_the_delay(void **state)
{
    (void)state;
    static uint64_t t[200];
    /* 4 msg/s, 450 ms: two frames per send, the older one gap old */
    model *m = model_new(15000, 450);
    m->from_frame = 4;
    m->to_frame = 195;
    run(m, t, steady(t, 200, 250, 0, 2), 1000);
    all_delivered(m);
    assert_true(m->max_wait <= 250);
    assert_true(fps(m) > 1.95);
    assert_true(m->max_burst < 15000 / 2 * 5 / 4);
    free(m);
}

static void test_jitter_keeps_the_bound_and_k(void **state)
{
    (void)state;
    static uint64_t t[2000];
    model *m = model_new(5000, 175);
    m->from_frame = 40;
    run(m, t, steady(t, 2000, 25, 3, 3), 1000);
    all_delivered(m);
    assert_true(m->max_wait <= 175);
    assert_true(fps(m) > 6.7);
    assert_true(m->k_changes <= 2);
    free(m);
}

static void test_random_arrivals_keep_the_bound(void **state)
{
    (void)state;
    /* Poisson frames at 40/s: gaps from 0 to hundreds of ms */
    static uint64_t t[3000];
    srand(4);
    double x = 1000;
    for (size_t i = 0; i < 3000; i++) {
        double u = (rand() + 1.0) / (RAND_MAX + 2.0);
        x += -25.0 * log1p(-u);
        t[i] = (uint64_t)x;
        if (i && t[i] <= t[i - 1]) t[i] = t[i - 1] + 1;
    }
    model *m = model_new(2000, 175);
    run(m, t, 3000, 1000);
    all_delivered(m);
    assert_true(m->max_wait <= 175);
    assert_true(fps(m) > 3.0); /* batching still pays */
    free(m);
}

static void test_room_that_slows_down_or_stops_keeps_the_bound(void **state)
{
    (void)state;
    /* 40/s for 10 s, then 2/s for 10 s, then silence */
    static uint64_t t[420];
    size_t n = 0;
    for (uint64_t x = 1000; x < 11000; x += 25)
        t[n++] = x;
    for (uint64_t x = 11000; x < 21000; x += 500)
        t[n++] = x;
    model *m = model_new(3000, 300);
    run(m, t, n, 2000);
    all_delivered(m);
    assert_true(m->max_wait <= 300);
    free(m);

    /* a burst that stops dead: the last frames go by the hold tick */
    static uint64_t b[40];
    m = model_new(3000, 300);
    run(m, b, steady(b, 40, 25, 0, 5), 400);
    all_delivered(m);
    assert_true(m->max_wait <= 300);
    free(m);
}

static void test_unbatched_and_quiet_rooms_send_at_once(void **state)
{
    (void)state;
    static uint64_t t[100];
    model *m = model_new(1000, 0); /* the shard does not batch */
    run(m, t, steady(t, 100, 25, 0, 6), 100);
    all_delivered(m);
    assert_int_equal(m->max_wait, 0);
    assert_int_equal(m->sends, 1000 * 100);
    free(m);

    /* a frame after two seconds of silence goes at once, even batching */
    uint64_t q[3] = {1000, 3000, 5000};
    m = model_new(1000, 175);
    run(m, q, 3, 100);
    all_delivered(m);
    assert_int_equal(m->max_wait, 0);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_k_arithmetic),
        cmocka_unit_test(test_phases_spread_evenly),
        cmocka_unit_test(test_steady_room_takes_k_frames_per_send_by_turns),
        cmocka_unit_test(test_slow_room_waits_a_gap_not_the_delay),
        cmocka_unit_test(test_jitter_keeps_the_bound_and_k),
        cmocka_unit_test(test_random_arrivals_keep_the_bound),
        cmocka_unit_test(test_room_that_slows_down_or_stops_keeps_the_bound),
        cmocka_unit_test(test_unbatched_and_quiet_rooms_send_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
