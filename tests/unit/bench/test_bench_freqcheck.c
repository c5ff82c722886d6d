/*
 * test_bench_freqcheck.c proves the overload scenario's PROTOCOL.md §6
 * verdict is earned: a simulated room that follows §6 passes every check,
 * a room that drops by arrival order instead of priority is caught, an ack
 * whose place in time is uncertain is left out instead of being called a
 * violation, drops whose acks arrive late are placed by the engine's time
 * of the decision when the acks carry it, the interval bound (rule 1) and "limited is never
 * delivered" (rule 5) fail when broken, and the priority pattern publishers send spreads each
 * priority evenly. The bench is one executable, so its sources are compiled in here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../bench/freqcheck.c"

#define SIM_MAX 8192
#define RATE 40
#define WINDOW_MS 100
#define SIM_EPOCH_MS 1764000000000 /* the engine's clock when the run starts */

/* A room offered one message every `step_ms` for `secs`, priorities from
 * the mix pattern; the room applies §6 (or, with fifo, keeps the first
 * arrivals of a window instead of the best). The bench sees passes and
 * drops `lat_us` after the engine decided, plus a per-message jitter. */
typedef struct sim {
    bench_ack_ev acks[SIM_MAX];
    size_t na;
    bench_seq_time st[SIM_MAX];
    size_t ns;
    bench_freq_in in;
    uint64_t seq;
    bool stamp;             /* acks carry the engine's time of the decision */
    uint64_t drop_delay_us; /* drops' acks reach the bench this much later */
} sim;

typedef struct held {
    uint8_t pri;
    uint32_t order;
} held;

static uint64_t jitter(uint32_t n)
{
    return (uint64_t)((n * 2654435761u) >> 22) % 400; /* 0..399 µs */
}

static void ack(sim *s, int64_t ms, uint8_t pri, bool passed, uint32_t n, bool at_close)
{
    uint64_t at = (uint64_t)ms * 1000 + 300 + jitter(n) + (passed ? 0 : s->drop_delay_us);
    s->acks[s->na++] = (bench_ack_ev){.at_us = at,
                                      .seq = passed ? ++s->seq : 0,
                                      .pri = pri,
                                      .limited = (uint8_t)!passed,
                                      .held = (uint8_t)(s->stamp && at_close),
                                      .time_ms = s->stamp ? SIM_EPOCH_MS + ms : 0};
    if (passed) {
        s->st[s->ns++] = (bench_seq_time){s->seq, SIM_EPOCH_MS + ms};
        s->in.ok[pri]++;
        s->in.delivered[pri] += s->in.receivers;
    } else {
        s->in.limited[pri]++;
    }
}

static int worst_index(const held *h, uint32_t n, bool fifo)
{
    int w = 0;
    for (uint32_t i = 1; i < n; i++) {
        bool worse = fifo
                         ? h[i].order > h[w].order
                         : h[i].pri > h[w].pri || (h[i].pri == h[w].pri && h[i].order > h[w].order);
        if (worse) w = (int)i;
    }
    return w;
}

static int cmp_held(const void *a, const void *b)
{
    const held *x = a, *y = b;
    if (x->pri != y->pri) return x->pri - y->pri;
    return (int)x->order - (int)y->order;
}

static void simulate_as(sim *s, const uint32_t mix[LR_PRI_COUNT], int step_ms, int secs, bool fifo,
                        bool stamp, uint64_t drop_delay_us)
{
    memset(s, 0, sizeof(*s));
    s->stamp = stamp;
    s->drop_delay_us = drop_delay_us;
    uint8_t pat[BENCH_MIX_MAX];
    uint32_t len = bench_mix_pattern(mix, pat, BENCH_MIX_MAX);
    assert_true(len > 0);
    s->in.room_rate = RATE;
    s->in.window_ms = WINDOW_MS;
    s->in.receivers = 3;
    for (int p = 0; p < LR_PRI_COUNT; p++)
        s->in.offered[p] = 1000.0 / step_ms * mix[p] / len;
    double tokens = RATE;
    int64_t last = 0, wend = 0;
    bool inwin = false;
    uint32_t budget = 0, nheld = 0, n = 0;
    held h[64];
    for (int64_t now = 0; now <= secs * 1000 + WINDOW_MS; now++) {
        if (inwin && now >= wend) {
            tokens += RATE * (double)(now - last) / 1000.0;
            if (tokens > RATE) tokens = RATE;
            last = now;
            if (!fifo) qsort(h, nheld, sizeof(*h), cmp_held);
            for (uint32_t i = 0; i < nheld; i++)
                ack(s, wend, h[i].pri, true, n++, true);
            tokens -= nheld;
            nheld = 0;
            if (tokens >= 1) {
                inwin = false;
            } else {
                wend += WINDOW_MS;
                budget = (uint32_t)(tokens + RATE * WINDOW_MS / 1000.0);
            }
        }
        if (now % step_ms || now > secs * 1000) continue;
        uint8_t pri = pat[(uint64_t)(now / step_ms) % len];
        tokens += RATE * (double)(now - last) / 1000.0;
        if (tokens > RATE) tokens = RATE;
        last = now;
        if (!inwin) {
            if (tokens >= 1) {
                tokens -= 1;
                ack(s, now, pri, true, n++, false);
                continue;
            }
            inwin = true;
            wend = now + WINDOW_MS;
            budget = (uint32_t)(tokens + RATE * WINDOW_MS / 1000.0);
        }
        h[nheld++] = (held){pri, n};
        if (nheld > budget) {
            int w = worst_index(h, nheld, fifo);
            ack(s, now, h[w].pri, false, n++, false);
            h[w] = h[--nheld];
        }
    }
}

static void simulate(sim *s, const uint32_t mix[LR_PRI_COUNT], int step_ms, int secs, bool fifo)
{
    simulate_as(s, mix, step_ms, secs, fifo, false, 0);
}

static const uint32_t default_mix[LR_PRI_COUNT] = {10, 20, 30, 40};

static void mix_pattern_spreads_each_priority_evenly(void **state)
{
    (void)state;
    uint8_t pat[BENCH_MIX_MAX];
    uint32_t len = bench_mix_pattern(default_mix, pat, BENCH_MIX_MAX);
    assert_int_equal(len, 100);
    uint32_t count[LR_PRI_COUNT] = {0};
    int last_high = -1, max_gap = 0;
    for (uint32_t i = 0; i < 2 * len; i++) {
        uint8_t p = pat[i % len];
        if (i < len) count[p]++;
        if (p == LR_PRI_HIGH) {
            if (last_high >= 0 && (int)i - last_high > max_gap) max_gap = (int)i - last_high;
            last_high = (int)i;
        }
    }
    assert_int_equal(count[0], 10);
    assert_int_equal(count[1], 20);
    assert_int_equal(count[2], 30);
    assert_int_equal(count[3], 40);
    assert_int_equal(max_gap, 10); /* one high in every ten, never two close together */
    uint32_t zero[LR_PRI_COUNT] = {0}, big[LR_PRI_COUNT] = {600, 600, 0, 0};
    assert_int_equal(bench_mix_pattern(zero, pat, BENCH_MIX_MAX), 0);
    assert_int_equal(bench_mix_pattern(big, pat, BENCH_MIX_MAX), 0);
}

static void a_room_that_follows_section_6_passes_every_check(void **state)
{
    (void)state;
    static sim s;
    simulate(&s, default_mix, 5, 4, false); /* 200 msg/s for 4 s */
    bench_freq_out o;
    assert_int_equal(bench_freq_check(&s.in, s.acks, s.na, s.st, s.ns, &o), 0);
    assert_true(o.rule1_ok);
    assert_true(o.max_in_1s <= 2 * RATE);
    assert_true(o.rule3_checked);
    assert_true(o.windows_checked >= 30);
    assert_int_equal(o.windows_violating, 0);
    assert_int_equal(o.drops_violating, 0);
    assert_true(o.drops_attributed > o.drops_ambiguous);
    assert_true(o.must_be_full[LR_PRI_HIGH]);
    assert_false(o.must_be_full[LR_PRI_NORMAL]);
    assert_true(o.rule4_ok);
    assert_true(o.rule5_ok);
    assert_true(o.ok);
    assert_int_equal(s.in.limited[LR_PRI_HIGH], 0);
}

static void a_room_that_keeps_the_first_arrivals_is_caught(void **state)
{
    (void)state;
    static sim s;
    simulate(&s, default_mix, 5, 4, true);
    bench_freq_out o;
    assert_int_equal(bench_freq_check(&s.in, s.acks, s.na, s.st, s.ns, &o), 0);
    assert_true(o.rule1_ok); /* the amount is right, the choice is not */
    assert_true(o.rule3_checked);
    assert_true(o.windows_violating > 0);
    assert_true(o.drops_violating > 0);
    assert_false(o.rule3_ok);
    assert_true(s.in.limited[LR_PRI_HIGH] > 0);
    assert_false(o.rule4_ok);
    assert_false(o.ok);
}

/* Check a hand-written history of one receiver: ok and limited counts
 * come from the acks. */
static bench_freq_out check_history(bench_ack_ev *acks, size_t na, bench_seq_time *st, size_t ns)
{
    bench_freq_in in = {.room_rate = RATE, .window_ms = WINDOW_MS, .receivers = 1};
    for (size_t i = 0; i < na; i++) {
        if (acks[i].limited)
            in.limited[acks[i].pri]++;
        else
            in.ok[acks[i].pri]++;
    }
    bench_freq_out o;
    assert_int_equal(bench_freq_check(&in, acks, na, st, ns, &o), 0);
    return o;
}

static void a_drop_acked_just_after_a_close_is_ambiguous_not_a_violation(void **state)
{
    (void)state;
    /* one close at 100 ms passing two lowest messages (the room could not
     * have seen the high one yet), a high message dropped in the next
     * window whose ack arrives 1 ms after the close's acks: too close to
     * tell which window it was in */
    bench_ack_ev acks[] = {
        {100300, 1, LR_PRI_LOWEST, 0, 0, 0},
        {100500, 2, LR_PRI_LOWEST, 0, 0, 0},
        {101500, 0, LR_PRI_HIGH, 1, 0, 0},
        {200300, 3, LR_PRI_HIGH, 0, 0, 0},
    };
    bench_seq_time st[] = {{1, 100}, {2, 100}, {3, 200}};
    bench_freq_out o = check_history(acks, 4, st, 3);
    assert_int_equal(o.drops_ambiguous, 1);
    assert_int_equal(o.drops_attributed, 0);
    assert_int_equal(o.windows_violating, 0);
    assert_true(o.rule3_ok);
    /* the same drop well inside the window before the close is a violation */
    bench_ack_ev bad[] = {
        {50300, 0, LR_PRI_HIGH, 1, 0, 0},
        {100300, 1, LR_PRI_LOWEST, 0, 0, 0},
        {100500, 2, LR_PRI_LOWEST, 0, 0, 0},
        {200300, 3, LR_PRI_HIGH, 0, 0, 0},
    };
    o = check_history(bad, 4, st, 3);
    assert_int_equal(o.drops_attributed, 1);
    assert_int_equal(o.windows_violating, 1);
    assert_false(o.rule3_ok);
    assert_false(o.ok);
}

static void late_drop_acks_are_placed_by_the_engine_time(void **state)
{
    (void)state;
    /* On a loaded machine one shard's acks may reach the bench a window
     * late. By arrival, such drops land in the next window and look like
     * violations; with the engine's time of the decision they do not. */
    static sim s;
    bench_freq_out o;
    simulate_as(&s, default_mix, 5, 4, false, false, 120000);
    assert_int_equal(bench_freq_check(&s.in, s.acks, s.na, s.st, s.ns, &o), 0);
    assert_true(o.windows_violating > 0); /* what the arrival times alone claim */
    simulate_as(&s, default_mix, 5, 4, false, true, 120000);
    assert_int_equal(bench_freq_check(&s.in, s.acks, s.na, s.st, s.ns, &o), 0);
    assert_true(o.windows_checked >= 30);
    assert_int_equal(o.windows_violating, 0);
    assert_int_equal(o.drops_violating, 0);
    assert_true(o.drops_attributed > 10 * o.drops_ambiguous);
    assert_true(o.ok);
    /* and a room that keeps the first arrivals is still caught */
    simulate_as(&s, default_mix, 5, 4, true, true, 120000);
    assert_int_equal(bench_freq_check(&s.in, s.acks, s.na, s.st, s.ns, &o), 0);
    assert_true(o.windows_violating > 0);
    assert_false(o.rule3_ok);
}

static void a_drop_stamped_in_the_ms_of_a_close_is_ambiguous(void **state)
{
    (void)state;
    /* closes at 100 (two lowest passed) and 200 (one high); a high drop
     * stamped 100 may be just before or just after the first close */
    bench_ack_ev acks[] = {
        {100300, 1, LR_PRI_LOWEST, 0, 1, 100},
        {100500, 2, LR_PRI_LOWEST, 0, 1, 100},
        {100600, 0, LR_PRI_HIGH, 1, 0, 100},
        {200300, 3, LR_PRI_HIGH, 0, 1, 200},
    };
    bench_seq_time st[] = {{1, 100}, {2, 100}, {3, 200}};
    bench_freq_out o = check_history(acks, 4, st, 3);
    assert_int_equal(o.drops_ambiguous, 1);
    assert_int_equal(o.drops_attributed, 0);
    assert_true(o.rule3_ok);
    /* stamped 60, well inside the first window, it is a violation, even
     * when its ack arrived after the second close */
    bench_ack_ev bad[] = {
        {100300, 1, LR_PRI_LOWEST, 0, 1, 100},
        {100500, 2, LR_PRI_LOWEST, 0, 1, 100},
        {250000, 0, LR_PRI_HIGH, 1, 0, 60},
        {200300, 3, LR_PRI_HIGH, 0, 1, 200},
    };
    o = check_history(bad, 4, st, 3);
    assert_int_equal(o.drops_attributed, 1);
    assert_int_equal(o.windows_violating, 1);
    assert_false(o.rule3_ok);
}

static void a_pass_at_once_right_after_a_close_is_not_the_closes(void **state)
{
    (void)state;
    /* The close at 200 passes its four held (high, high, normal, normal)
     * with lows and a normal dropped during the window; the window ended
     * with a token to spare, so a lowest offered in the same millisecond
     * passes at once (rule 2). Its stamp is the close's, but not `held`. */
    bench_ack_ev acks[] = {
        {120000, 0, LR_PRI_NORMAL, 1, 0, 120}, {150000, 0, LR_PRI_LOW, 1, 0, 150},
        {200300, 1, LR_PRI_HIGH, 0, 1, 200},   {200310, 2, LR_PRI_HIGH, 0, 1, 200},
        {200320, 3, LR_PRI_NORMAL, 0, 1, 200}, {200330, 4, LR_PRI_NORMAL, 0, 1, 200},
        {200400, 5, LR_PRI_LOWEST, 0, 0, 200},
    };
    bench_seq_time st[] = {{1, 200}, {2, 200}, {3, 200}, {4, 200}, {5, 200}};
    bench_freq_out o = check_history(acks, 7, st, 5);
    assert_int_equal(o.drops_attributed, 2);
    assert_int_equal(o.windows_checked, 1);
    assert_int_equal(o.windows_violating, 0);
    assert_true(o.rule3_ok);
    /* the same lowest held for that close would break rule 3 (the check
     * sorted the acks by arrival: it is still the last) */
    acks[6].held = 1;
    o = check_history(acks, 7, st, 5);
    assert_int_equal(o.windows_violating, 1);
    assert_false(o.rule3_ok);
}

static void more_than_rate_t_plus_rate_over_an_interval_breaks_rule_1(void **state)
{
    (void)state;
    static bench_seq_time st[SIM_MAX];
    bench_freq_in in = {.room_rate = RATE, .window_ms = WINDOW_MS};
    bench_freq_out o;
    /* 60 msg/s for 3 s: 180 passes over ~3 s, the bound is 40 x 3 + 40 */
    size_t n = 0;
    for (int i = 0; i < 180; i++, n++)
        st[n] = (bench_seq_time){(uint64_t)i + 1, 1000000 + i * 1000 / 60};
    assert_int_equal(bench_freq_check(&in, NULL, 0, st, n, &o), 0);
    assert_false(o.rule1_ok);
    assert_true(o.worst_excess > 1);
    /* 40 msg/s plus one second's burst stays within it */
    n = 0;
    for (int i = 0; i < 40; i++, n++)
        st[n] = (bench_seq_time){n + 1, 1000000};
    for (int i = 0; i < 120; i++, n++)
        st[n] = (bench_seq_time){n + 1, 1000000 + 25 + i * 25};
    assert_int_equal(bench_freq_check(&in, NULL, 0, st, n, &o), 0);
    assert_true(o.rule1_ok);
    assert_int_equal(o.max_in_1s, 80);
    /* a burst of more than twice the rate inside one second does not */
    n = 0;
    for (int i = 0; i < 2 * RATE + 5; i++, n++)
        st[n] = (bench_seq_time){n + 1, 5000 + i * 10};
    assert_int_equal(bench_freq_check(&in, NULL, 0, st, n, &o), 0);
    assert_false(o.rule1_ok);
    assert_int_equal(o.max_in_1s, 2 * RATE + 5);
}

static void delivering_more_than_was_acked_breaks_rule_5(void **state)
{
    (void)state;
    bench_freq_in in = {.room_rate = RATE, .window_ms = WINDOW_MS, .receivers = 10};
    in.ok[LR_PRI_LOW] = 5;
    in.limited[LR_PRI_LOW] = 5;
    in.delivered[LR_PRI_LOW] = 51; /* a limited one reached someone */
    bench_freq_out o;
    assert_int_equal(bench_freq_check(&in, NULL, 0, NULL, 0, &o), 0);
    assert_false(o.rule5_ok);
    assert_false(o.ok);
    in.delivered[LR_PRI_LOW] = 50;
    assert_int_equal(bench_freq_check(&in, NULL, 0, NULL, 0, &o), 0);
    assert_true(o.rule5_ok);
    assert_true(o.ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mix_pattern_spreads_each_priority_evenly),
        cmocka_unit_test(a_room_that_follows_section_6_passes_every_check),
        cmocka_unit_test(a_room_that_keeps_the_first_arrivals_is_caught),
        cmocka_unit_test(a_drop_acked_just_after_a_close_is_ambiguous_not_a_violation),
        cmocka_unit_test(late_drop_acks_are_placed_by_the_engine_time),
        cmocka_unit_test(a_drop_stamped_in_the_ms_of_a_close_is_ambiguous),
        cmocka_unit_test(a_pass_at_once_right_after_a_close_is_not_the_closes),
        cmocka_unit_test(more_than_rate_t_plus_rate_over_an_interval_breaks_rule_1),
        cmocka_unit_test(delivering_more_than_was_acked_breaks_rule_5),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
