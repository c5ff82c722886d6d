/*
 * test_freq proves the frequency control of PROTOCOL.md §6 as properties.
 * A driver with a simulated millisecond clock offers messages, closes every
 * window exactly when its deadline comes (before any later offer), and
 * records when each message passed. Beside it runs a shadow token bucket
 * kept by the test from the deliveries it observes; rule 1 is checked on the
 * recorded pass times alone (every interval of at least one second), the
 * other rules against the shadow bucket and the recorded windows. Seeds,
 * rates, windows and arrival mixes are drawn at random but reproducibly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <math.h>

#include "room/freq.h"

#define T0 1000000ULL /* simulated clock start, ms: far from 0 on purpose */
#define NO_TIME UINT64_MAX
#define PROPERTY_SEEDS 200
#define MAX_ARRIVALS 40000 /* per seed, keeps 200 seeds quick under ASan */

/* ---- test-side randomness -------------------------------------------- */

static double urand(uint64_t *rng)
{
    return (double)(lr_rand_next(rng) >> 11) * 0x1.0p-53;
}

static uint32_t urange(uint64_t *rng, uint32_t lo, uint32_t hi) /* inclusive */
{
    return lo + (uint32_t)(lr_rand_next(rng) % ((uint64_t)hi - lo + 1));
}

/* Log-uniform in [lo, hi]: rates and windows span three decades. */
static uint32_t log_range(uint64_t *rng, uint32_t lo, uint32_t hi)
{
    double v = exp(log(lo) + urand(rng) * (log(hi) - log(lo)));
    uint32_t r = (uint32_t)llround(v);
    return r < lo ? lo : r > hi ? hi : r;
}

/* ---- rule 1 checker, on pass times only ----------------------------- */

/*
 * True when every interval of T >= 1 s holds at most rate*T + rate passes.
 * The worst interval of a given length starts at a pass; shrinking its end
 * to a pass only tightens the bound, so it suffices to check (a) every
 * [t_i, t_i + 1 s] against 2*rate and (b) every pair of passes at least 1 s
 * apart: 1000*(j - i + 1) <= rate*(t_j - t_i) + 1000*rate. (b) is checked
 * in one sweep by keeping the minimum of 1000*i - rate*t_i.
 */
static bool rate_bound_ok(const uint64_t *t, size_t n, uint32_t rate)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (j < i) j = i;
        while (j < n && t[j] <= t[i] + 1000)
            j++;
        if (j - i > 2 * (size_t)rate) return false;
    }
    int64_t minh = INT64_MAX;
    size_t i = 0;
    for (j = 0; j < n; j++) {
        if (j > 0 && t[j] < t[j - 1]) return false; /* passes are recorded in time order */
        while (i < j && t[i] + 1000 <= t[j]) {
            int64_t h = 1000 * (int64_t)i - (int64_t)rate * (int64_t)t[i];
            if (h < minh) minh = h;
            i++;
        }
        if (minh == INT64_MAX) continue;
        int64_t hj = 1000 * (int64_t)j - (int64_t)rate * (int64_t)t[j];
        if (hj - minh + 1000 > 1000 * (int64_t)rate) return false;
    }
    return true;
}

/* The checker must be able to say no, or rule 1 proves nothing. */
static void test_rate_checker_rejects_violations(void **state)
{
    uint64_t t[400];
    size_t n = 0;
    /* 21 at one instant with rate 10: a one-second interval over 2*rate. */
    for (n = 0; n < 21; n++)
        t[n] = T0;
    assert_false(rate_bound_ok(t, n, 10));
    assert_true(rate_bound_ok(t, 20, 10));
    /* 11 per second for 20 s with rate 10: only long intervals see it. */
    n = 0;
    for (uint64_t k = 0; k < 220; k++)
        t[n++] = T0 + k * 1000 / 11;
    assert_false(rate_bound_ok(t, n, 10));
    /* A full burst then exactly the rate is allowed. */
    n = 0;
    for (int k = 0; k < 10; k++)
        t[n++] = T0;
    for (uint64_t k = 1; k <= 200; k++)
        t[n++] = T0 + k * 100;
    assert_true(rate_bound_ok(t, n, 10));
    /* ... and one more within the run is not. */
    t[n - 1] = t[n - 2];
    t[n++] = T0 + 200 * 100;
    assert_false(rate_bound_ok(t, n, 10));
}

/* ---- the simulated driver ------------------------------------------- */

enum { FATE_NONE, FATE_PASS_NOW, FATE_HELD, FATE_PASS_WINDOW, FATE_DROPPED };

typedef struct rec {
    uint64_t offer_t;
    uint64_t pass_t; /* NO_TIME unless passed */
    uint64_t window; /* deadline of its window; 0 when passed at once */
    uint8_t pri;
    uint8_t fate;
} rec;

typedef struct sim {
    lr_freq f;
    uint32_t rate, window_ms;
    rec *recs;
    size_t nrecs, recs_cap;
    uint64_t *pass_t;
    size_t npass, pass_cap;
    uint32_t *close_n; /* messages passed at each close, in order */
    size_t ncloses, closes_cap;
    void **out;
    uint32_t model_held;
    int64_t shadow; /* milli-tokens, kept from what the test observed */
    uint64_t shadow_last;
    uint64_t cur_window;
    size_t cur_offered;
} sim;

static void sim_init(sim *s, uint32_t rate, uint32_t window_ms, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    assert_int_equal(lr_freq_init(&s->f, rate, window_ms, seed, T0), LR_OK);
    s->rate = rate;
    s->window_ms = window_ms;
    s->out = calloc(s->f.cap, sizeof(void *));
    assert_non_null(s->out);
    s->shadow = (int64_t)rate * 1000;
    s->shadow_last = T0;
}

static void sim_free(sim *s)
{
    lr_freq_free(&s->f);
    free(s->recs);
    free(s->pass_t);
    free(s->close_n);
    free(s->out);
}

static void grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return;
    size_t c = *cap ? *cap * 2 : 1024;
    while (c < need)
        c *= 2;
    *p = realloc(*p, c * elem);
    assert_non_null(*p);
    *cap = c;
}

static void shadow_refill(sim *s, uint64_t t)
{
    assert_true(t >= s->shadow_last);
    int64_t full = (int64_t)s->rate * 1000;
    s->shadow += (int64_t)s->rate * (int64_t)(t - s->shadow_last);
    if (s->shadow > full) s->shadow = full;
    s->shadow_last = t;
}

static void record_pass(sim *s, uint64_t t)
{
    s->shadow -= 1000;
    assert_true(s->shadow >= 0);
    grow((void **)&s->pass_t, &s->pass_cap, s->npass + 1, sizeof(uint64_t));
    s->pass_t[s->npass++] = t;
}

static void sim_close(sim *s, uint64_t d)
{
    shadow_refill(s, d);
    /* The window passes all it was offered, up to what the bucket holds. */
    size_t expect = (size_t)(s->shadow / 1000);
    if (s->cur_offered < expect) expect = s->cur_offered;
    size_t n = lr_freq_close_window(&s->f, d, s->out);
    assert_int_equal(n, expect);
    int last_pri = -1;
    for (size_t i = 0; i < n; i++) {
        size_t idx = (size_t)(uintptr_t)s->out[i] - 1;
        assert_true(idx < s->nrecs);
        rec *r = &s->recs[idx];
        assert_int_equal(r->fate, FATE_HELD);
        assert_true(r->window == d);
        assert_true(r->pri >= last_pri); /* highest priority first */
        last_pri = r->pri;
        assert_true(d - r->offer_t <= s->window_ms); /* rule 3: one window at most */
        r->fate = FATE_PASS_WINDOW;
        r->pass_t = d;
        record_pass(s, d);
    }
    assert_int_equal(s->model_held, n);
    s->model_held = 0;
    assert_int_equal(s->f.nheld, 0);
    grow((void **)&s->close_n, &s->closes_cap, s->ncloses + 1, sizeof(uint32_t));
    s->close_n[s->ncloses++] = (uint32_t)n;
    /* Window mode ends exactly when a window ends with a token to spare. */
    uint64_t nd = lr_freq_deadline(&s->f);
    if (s->shadow >= 1000) {
        assert_true(nd == 0);
    } else {
        assert_true(nd == d + s->window_ms);
        s->cur_window = nd;
        s->cur_offered = 0;
    }
}

/* Close every window whose deadline is at or before t, as a timer would. */
static void sim_advance(sim *s, uint64_t t)
{
    uint64_t d;
    while ((d = lr_freq_deadline(&s->f)) != 0 && d <= t)
        sim_close(s, d);
}

static int sim_offer(sim *s, uint64_t t, uint8_t pri)
{
    sim_advance(s, t);
    shadow_refill(s, t);
    uint64_t d0 = lr_freq_deadline(&s->f);
    grow((void **)&s->recs, &s->recs_cap, s->nrecs + 1, sizeof(rec));
    size_t idx = s->nrecs++;
    rec *r = &s->recs[idx];
    *r = (rec){.offer_t = t, .pass_t = NO_TIME, .pri = pri, .fate = FATE_NONE};
    void *ev = (void *)&ev; /* must be overwritten */
    int res = lr_freq_offer(&s->f, t, (lr_pri)pri, (void *)(uintptr_t)(idx + 1), &ev);
    /* Rule 2: below the rate and not in window mode, no added latency. */
    if (d0 == 0 && s->shadow >= 1000) assert_int_equal(res, LR_FREQ_PASS);
    if (res == LR_FREQ_PASS) {
        assert_true(d0 == 0);
        assert_null(ev);
        r->fate = FATE_PASS_NOW;
        r->pass_t = t;
        record_pass(s, t);
    } else {
        uint64_t d = lr_freq_deadline(&s->f);
        assert_true(d != 0);
        if (d0 == 0) {
            assert_true(d == t + s->window_ms);
            s->cur_window = d;
            s->cur_offered = 0;
        } else {
            assert_true(d == d0);
        }
        assert_true(d == s->cur_window);
        s->cur_offered++;
        r->window = d;
        if (res == LR_FREQ_HELD) {
            r->fate = FATE_HELD;
            s->model_held++;
            if (ev) {
                size_t e = (size_t)(uintptr_t)ev - 1;
                assert_true(e < idx);
                rec *er = &s->recs[e];
                assert_int_equal(er->fate, FATE_HELD);
                assert_true(er->window == d);
                assert_true(er->pri >= pri); /* never evicted by a worse one */
                er->fate = FATE_DROPPED;
                s->model_held--;
            }
        } else {
            assert_int_equal(res, LR_FREQ_DROP);
            assert_null(ev);
            r->fate = FATE_DROPPED;
        }
    }
    /* Rule 6: memory bounded by the budget, never by the offers. */
    assert_int_equal(s->f.nheld, s->model_held);
    assert_true(s->f.nheld <= s->f.budget || !s->f.in_window);
    assert_true(s->f.nheld <= s->f.cap);
    return res;
}

/* Close the windows still open after the last offer. */
static void sim_drain(sim *s)
{
    uint64_t d;
    while ((d = lr_freq_deadline(&s->f)) != 0)
        sim_close(s, d);
}

/* Checks on the whole run once drained. */
static void sim_check_all(sim *s)
{
    for (size_t i = 0; i < s->nrecs; i++) {
        rec *r = &s->recs[i];
        assert_true(r->fate == FATE_PASS_NOW || r->fate == FATE_PASS_WINDOW ||
                    r->fate == FATE_DROPPED);
        if (r->fate == FATE_PASS_NOW) assert_true(r->pass_t == r->offer_t);
    }
    /* Rule 3: a window's messages are contiguous in offer order (nothing
     * passes at once in window mode); no dropped one outranks a passed one. */
    size_t i = 0;
    while (i < s->nrecs) {
        if (s->recs[i].window == 0) {
            i++;
            continue;
        }
        uint64_t w = s->recs[i].window;
        int worst_passed = -1, best_dropped = LR_PRI_COUNT;
        for (; i < s->nrecs && s->recs[i].window == w; i++) {
            rec *r = &s->recs[i];
            if (r->fate == FATE_PASS_WINDOW && r->pri > worst_passed) worst_passed = r->pri;
            if (r->fate == FATE_DROPPED && r->pri < best_dropped) best_dropped = r->pri;
        }
        assert_true(worst_passed <= best_dropped);
    }
    assert_true(rate_bound_ok(s->pass_t, s->npass, s->rate));
}

/* ---- arrival generation --------------------------------------------- */

typedef struct arrival {
    uint64_t t;
    uint8_t pri;
    uint8_t src; /* which steady source offered it */
} arrival;

static uint8_t pick_pri(uint64_t *rng, const double w[LR_PRI_COUNT])
{
    double x = urand(rng) * (w[0] + w[1] + w[2] + w[3]);
    for (uint8_t p = 0; p < LR_PRI_COUNT - 1; p++) {
        if (x < w[p]) return p;
        x -= w[p];
    }
    return LR_PRI_LOWEST;
}

/*
 * A random mix of segments: Poisson traffic at 0.2x..10x the room rate with
 * a random priority mix, bursts of many messages in one millisecond, and
 * idle gaps long enough for the bucket to refill.
 */
static size_t gen_random_arrivals(uint64_t *rng, uint32_t rate, arrival *a, size_t max)
{
    size_t n = 0;
    uint64_t t = T0 + urange(rng, 0, 999);
    uint64_t end = t + 30000;
    while (t < end && n < max) {
        double w[LR_PRI_COUNT];
        for (int p = 0; p < LR_PRI_COUNT; p++)
            w[p] = urand(rng) < 0.3 ? 0.0 : urand(rng);
        if (w[0] + w[1] + w[2] + w[3] == 0) w[1] = 1;
        double kind = urand(rng);
        if (kind < 0.15) {
            t += urange(rng, 200, 5000);
        } else if (kind < 0.3) {
            uint32_t k = urange(rng, 1, 3 * rate + 5);
            uint32_t spread = urange(rng, 0, 5);
            for (uint32_t j = 0; j < k && n < max; j++)
                a[n++] = (arrival){t + urange(rng, 0, spread), pick_pri(rng, w), 0};
            t += spread + 1;
        } else {
            double lambda = rate * 0.2 * pow(50.0, urand(rng)); /* per second */
            double tt = (double)t;
            double seg_end = tt + urange(rng, 300, 4000);
            for (;;) {
                tt += -log(1.0 - urand(rng)) * 1000.0 / lambda;
                if (tt >= seg_end || n >= max) break;
                a[n++] = (arrival){(uint64_t)tt, pick_pri(rng, w), 0};
            }
            t = (uint64_t)seg_end;
        }
    }
    return n;
}

static int cmp_arrival(const void *x, const void *y)
{
    const arrival *a = x, *b = y;
    return a->t < b->t ? -1 : a->t > b->t;
}

static void run_arrivals(sim *s, arrival *a, size_t n)
{
    qsort(a, n, sizeof(*a), cmp_arrival);
    for (size_t i = 0; i < n; i++)
        sim_offer(s, a[i].t, a[i].pri);
    sim_drain(s);
    sim_check_all(s);
}

/* ---- properties ----------------------------------------------------- */

/* Rules 1, 2, 3 and 6 over random rooms and random traffic. */
static void test_random_traffic_keeps_every_rule(void **state)
{
    arrival *a = malloc(MAX_ARRIVALS * sizeof(*a));
    assert_non_null(a);
    size_t total_offers = 0, total_passes = 0, total_windows = 0;
    for (uint64_t seed = 1; seed <= PROPERTY_SEEDS; seed++) {
        uint64_t rng = seed * 0x9e3779b97f4a7c15ULL;
        uint32_t rate = log_range(&rng, 1, 1000);
        uint32_t window = log_range(&rng, 10, 1000);
        size_t n = gen_random_arrivals(&rng, rate, a, MAX_ARRIVALS);
        sim s;
        sim_init(&s, rate, window, seed);
        run_arrivals(&s, a, n);
        total_offers += s.nrecs;
        total_passes += s.npass;
        total_windows += s.ncloses;
        sim_free(&s);
    }
    print_message("%d seeds: %zu offers, %zu passed, %zu windows\n", PROPERTY_SEEDS, total_offers,
                  total_passes, total_windows);
    /* The mixes must actually reach window mode and drop, or the run above
     * tested only the easy path. */
    assert_true(total_windows > 1000);
    assert_true(total_passes < total_offers);
    free(a);
}

/* Constant-rate arrivals: priority p offers rate*mult[p] per second. */
static size_t gen_steady(uint32_t rate, const double mult[], int nsrc, const uint8_t pri[],
                         uint64_t dur_ms, arrival *a, size_t max)
{
    size_t n = 0;
    for (int src = 0; src < nsrc; src++) {
        double per_ms = rate * mult[src] / 1000.0;
        if (per_ms <= 0) continue;
        double phase = (src + 0.5) / nsrc; /* sources do not coincide */
        for (uint64_t k = 0;; k++) {
            uint64_t t = T0 + (uint64_t)((k + phase) / per_ms);
            if (t >= T0 + dur_ms) break;
            assert_true(n < max);
            a[n++] = (arrival){t, pri[src], (uint8_t)src};
        }
    }
    return n;
}

/*
 * Rule 4: under sustained overload, high (0.3x) and normal (0.5x) together
 * stay within the rate and are delivered in full; low (2x) takes the rest;
 * lowest (3x) gets only the opening burst.
 */
static void test_overload_delivers_priorities_within_rate_in_full(void **state)
{
    static const struct {
        uint32_t rate, window;
    } cfg[] = {{40, 100}, {1000, 100}, {200, 50}, {100, 1000}, {333, 100}, {50, 200}};
    const double mult[] = {0.3, 0.5, 2.0, 3.0};
    const uint8_t pri[] = {LR_PRI_HIGH, LR_PRI_NORMAL, LR_PRI_LOW, LR_PRI_LOWEST};
    const uint64_t dur = 60000;
    size_t max = 0;
    for (size_t c = 0; c < LR_ARRAY_LEN(cfg); c++)
        max = max > cfg[c].rate * 6 * 61 ? max : cfg[c].rate * 6 * 61;
    arrival *a = malloc(max * sizeof(*a));
    assert_non_null(a);
    for (size_t c = 0; c < LR_ARRAY_LEN(cfg); c++) {
        sim s;
        sim_init(&s, cfg[c].rate, cfg[c].window, 77 + c);
        size_t n = gen_steady(cfg[c].rate, mult, 4, pri, dur, a, max);
        run_arrivals(&s, a, n);
        size_t offered[LR_PRI_COUNT] = {0}, passed[LR_PRI_COUNT] = {0}, total = 0;
        for (size_t i = 0; i < s.nrecs; i++) {
            offered[s.recs[i].pri]++;
            if (s.recs[i].pass_t != NO_TIME) {
                passed[s.recs[i].pri]++;
                total++;
            }
        }
        print_message("rate %u window %u: high %zu/%zu normal %zu/%zu low %zu/%zu lowest "
                      "%zu/%zu, total %zu (rate*60s+burst %u)\n",
                      cfg[c].rate, cfg[c].window, passed[0], offered[0], passed[1], offered[1],
                      passed[2], offered[2], passed[3], offered[3], total, cfg[c].rate * 61);
        assert_true(passed[0] * 100 >= offered[0] * 99);
        assert_true(passed[1] * 100 >= offered[1] * 99);
        /* Nothing is wasted: the rest of the rate goes to the lower ones. */
        assert_true(total * 100 >= (size_t)cfg[c].rate * 60 * 99);
        assert_true(passed[3] <= cfg[c].rate); /* only in the opening burst */
        assert_true(passed[2] + passed[3] + passed[0] + passed[1] == total);
        assert_true(passed[2] * 100 >= (total - passed[0] - passed[1] - cfg[c].rate) * 99);
        sim_free(&s);
    }
    free(a);
}

/*
 * Bursts once a window: A offers its whole burst one millisecond before B,
 * so any order other than random (first come, last come) favours one side.
 */
static size_t gen_bursts(uint32_t rate, uint32_t window, uint64_t dur_ms, arrival *a, size_t max)
{
    size_t n = 0;
    uint32_t k = (uint32_t)(((uint64_t)rate * 5 * window + 999) / 1000);
    for (uint64_t t = T0; t + 1 < T0 + dur_ms; t += window) {
        for (uint8_t src = 0; src < 2; src++)
            for (uint32_t j = 0; j < k; j++) {
                assert_true(n < max);
                a[n++] = (arrival){t + src, LR_PRI_NORMAL, src};
            }
    }
    return n;
}

/* Rule 3's randomness: two equal flooders at 5x the rate each share it. */
static void test_equal_flooders_share_at_random(void **state)
{
    static const struct {
        uint32_t rate, window;
    } cfg[] = {{40, 100}, {1000, 10}, {7, 100}, {15, 1000}};
    const double mult[] = {5.0, 5.0};
    const uint8_t pri[] = {LR_PRI_NORMAL, LR_PRI_NORMAL};
    const uint64_t dur = 60000;
    const size_t max = 1000 * 10 * 61;
    arrival *a = malloc(max * sizeof(*a));
    assert_non_null(a);
    for (int bursts = 0; bursts < 2; bursts++) {
        for (size_t c = 0; c < LR_ARRAY_LEN(cfg); c++) {
            for (uint64_t seed = 1; seed <= 5; seed++) {
                sim s;
                sim_init(&s, cfg[c].rate, cfg[c].window, seed * 1000 + c);
                size_t n = bursts ? gen_bursts(cfg[c].rate, cfg[c].window, dur, a, max)
                                  : gen_steady(cfg[c].rate, mult, 2, pri, dur, a, max);
                run_arrivals(&s, a, n); /* sorts a as offered */
                size_t got[2] = {0};
                for (size_t i = 0; i < s.nrecs; i++) {
                    assert_true(s.recs[i].offer_t == a[i].t);
                    if (s.recs[i].pass_t != NO_TIME) got[a[i].src]++;
                }
                size_t total = got[0] + got[1];
                if (seed == 1)
                    print_message("%s rate %u window %u: flooder A %zu, B %zu\n",
                                  bursts ? "bursts" : "steady", cfg[c].rate, cfg[c].window, got[0],
                                  got[1]);
                assert_true(got[0] * 100 >= total * 40 && got[0] * 100 <= total * 60);
                sim_free(&s);
            }
        }
    }
    free(a);
}

/* Rule 6: ten thousand offers in one window keep at most `budget` held. */
static void test_ten_thousand_offers_in_one_window_stay_bounded(void **state)
{
    static const struct {
        uint32_t rate, window;
    } cfg[] = {{1000, 100}, {40, 100}, {1, 10}, {100000, 1000}};
    for (size_t c = 0; c < LR_ARRAY_LEN(cfg); c++) {
        lr_freq f;
        assert_int_equal(lr_freq_init(&f, cfg[c].rate, cfg[c].window, 5 + c, T0), LR_OK);
        void *ev;
        for (uint32_t i = 0; i < cfg[c].rate; i++)
            assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_NORMAL, NULL, &ev), LR_FREQ_PASS);
        uint64_t rng = 99 + c;
        size_t count[LR_PRI_COUNT] = {0}, held = 0, evicted = 0, dropped = 0;
        for (uintptr_t i = 1; i <= 10000; i++) {
            uint8_t p = (uint8_t)urange(&rng, 0, LR_PRI_COUNT - 1);
            count[p]++;
            int r = lr_freq_offer(&f, T0, (lr_pri)p, (void *)(i << 2 | p), &ev);
            if (r == LR_FREQ_HELD) {
                held++;
                evicted += ev != NULL;
            } else {
                assert_int_equal(r, LR_FREQ_DROP);
                dropped++;
            }
            assert_true(f.nheld <= f.budget && f.nheld <= f.cap);
        }
        /* budget = whole tokens at the window end: rate*window/1000. */
        uint32_t budget = (uint32_t)((uint64_t)cfg[c].rate * cfg[c].window / 1000);
        assert_int_equal(f.budget, budget);
        size_t keep = budget < 10000 ? budget : 10000;
        assert_int_equal(f.nheld, keep);
        assert_int_equal(held - evicted, f.nheld);
        assert_int_equal(held + dropped, 10000);
        void **out = calloc(f.cap, sizeof(void *));
        assert_non_null(out);
        size_t n = lr_freq_close_window(&f, T0 + cfg[c].window, out);
        assert_int_equal(n, keep);
        /* The passed ones are the best `budget` priorities offered. */
        uint8_t want = 0;
        size_t left = count[0];
        for (size_t i = 0; i < n; i++) {
            while (left == 0)
                left = count[++want];
            left--;
            assert_int_equal((uintptr_t)out[i] & 3, want);
        }
        free(out);
        lr_freq_free(&f);
    }
}

/* ---- unit cases ----------------------------------------------------- */

/* Drain the bucket at T0, then offer one normal message every ms. */
static void run_flood(sim *s, uint64_t from, uint64_t to)
{
    for (uint64_t t = from; t < to; t++)
        sim_offer(s, t, LR_PRI_NORMAL);
    sim_advance(s, to);
}

static void test_window_budget_is_exact_when_whole(void **state)
{
    sim s;
    sim_init(&s, 40, 100, 3);
    for (int i = 0; i < 40; i++)
        assert_int_equal(sim_offer(&s, T0, LR_PRI_LOW), LR_FREQ_PASS);
    run_flood(&s, T0, T0 + 100 * 100);
    assert_int_equal(s.ncloses, 100);
    for (size_t i = 0; i < s.ncloses; i++)
        assert_int_equal(s.close_n[i], 4);
    sim_drain(&s);
    sim_check_all(&s);
    sim_free(&s);
}

static void test_window_budget_carries_fractions(void **state)
{
    sim s;
    sim_init(&s, 15, 100, 4);
    for (int i = 0; i < 15; i++)
        assert_int_equal(sim_offer(&s, T0, LR_PRI_LOW), LR_FREQ_PASS);
    run_flood(&s, T0, T0 + 200 * 100);
    assert_int_equal(s.ncloses, 200);
    size_t sum = 0;
    for (size_t i = 0; i < s.ncloses; i++) {
        assert_true(s.close_n[i] == 1 || s.close_n[i] == 2);
        if (i > 0) assert_true(s.close_n[i] != s.close_n[i - 1]);
        sum += s.close_n[i];
    }
    assert_int_equal(sum, 300);
    sim_drain(&s);
    sim_check_all(&s);

    /* Rate 3, window 100: 0.3 a window, so mostly empty windows and one
     * message every third or fourth: 3 per second all the same. */
    sim s3;
    sim_init(&s3, 3, 100, 5);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sim_offer(&s3, T0, LR_PRI_LOW), LR_FREQ_PASS);
    run_flood(&s3, T0, T0 + 100 * 1000);
    sum = 0;
    for (size_t i = 0; i < s3.ncloses; i++)
        sum += s3.close_n[i];
    assert_int_equal(s3.ncloses, 1000);
    assert_int_equal(sum, 300);
    sim_drain(&s3);
    sim_check_all(&s3);
    sim_free(&s3);
    sim_free(&s);
}

static void test_window_mode_ends_when_demand_falls(void **state)
{
    sim s;
    sim_init(&s, 40, 100, 6);
    for (int i = 0; i < 40; i++)
        sim_offer(&s, T0, LR_PRI_NORMAL);
    run_flood(&s, T0, T0 + 1000);
    assert_true(lr_freq_deadline(&s.f) != 0);
    /* Demand falls to nothing: the next window ends with four tokens to
     * spare. */
    sim_advance(&s, T0 + 1300);
    assert_true(lr_freq_deadline(&s.f) == 0);
    assert_int_equal(sim_offer(&s, T0 + 1300, LR_PRI_LOWEST), LR_FREQ_PASS);
    /* Demand below the rate never enters window mode again. */
    for (uint64_t t = T0 + 1400; t < T0 + 5000; t += 50)
        assert_int_equal(sim_offer(&s, t, LR_PRI_LOWEST), LR_FREQ_PASS);
    sim_drain(&s);
    sim_check_all(&s);
    sim_free(&s);
}

static void test_close_before_deadline_does_nothing(void **state)
{
    lr_freq f;
    void *ev, *out[8];
    assert_int_equal(lr_freq_init(&f, 10, 100, 1, T0), LR_OK);
    assert_int_equal(lr_freq_close_window(&f, T0 + 5000, out), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_HIGH, NULL, &ev), LR_FREQ_PASS);
    assert_int_equal(lr_freq_offer(&f, T0 + 50, LR_PRI_HIGH, (void *)1, &ev), LR_FREQ_HELD);
    assert_null(ev);
    assert_true(lr_freq_deadline(&f) == T0 + 150);
    assert_int_equal(lr_freq_close_window(&f, T0 + 149, out), 0);
    assert_int_equal(f.nheld, 1);
    assert_int_equal(lr_freq_close_window(&f, T0 + 150, out), 1);
    assert_ptr_equal(out[0], (void *)1);
    lr_freq_free(&f);
}

/* A late caller: the window that ended is closed, no empty backlog. */
static void test_late_close_starts_next_window_now(void **state)
{
    lr_freq f;
    void *ev, *out[8];
    assert_int_equal(lr_freq_init(&f, 1, 100, 1, T0), LR_OK);
    assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_HIGH, NULL, &ev), LR_FREQ_PASS);
    /* 0.1 token a window: the first window has nothing to give. */
    assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_HIGH, (void *)1, &ev), LR_FREQ_DROP);
    assert_true(lr_freq_deadline(&f) == T0 + 100);
    /* Closed 250 ms late, 0.35 token: the next window starts now. */
    assert_int_equal(lr_freq_close_window(&f, T0 + 350, out), 0);
    assert_true(lr_freq_deadline(&f) == T0 + 450);
    /* Closed 50 ms late: back to back with the window that ended. */
    assert_int_equal(lr_freq_close_window(&f, T0 + 500, out), 0);
    assert_true(lr_freq_deadline(&f) == T0 + 550);
    /* 0.55 token at its end: still no budget. */
    assert_int_equal(f.budget, 0);
    /* Very late: a whole token has come, window mode ends. */
    assert_int_equal(lr_freq_close_window(&f, T0 + 5000, out), 0);
    assert_true(lr_freq_deadline(&f) == 0);
    assert_int_equal(lr_freq_offer(&f, T0 + 5000, LR_PRI_LOW, NULL, &ev), LR_FREQ_PASS);
    lr_freq_free(&f);

    /* Late with held messages: they pass at the late close, and the bucket
     * refilled meanwhile is not lost. */
    assert_int_equal(lr_freq_init(&f, 10, 100, 2, T0), LR_OK);
    for (int i = 0; i < 10; i++)
        assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_HIGH, NULL, &ev), LR_FREQ_PASS);
    assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_LOW, (void *)1, &ev), LR_FREQ_HELD);
    assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_HIGH, (void *)2, &ev), LR_FREQ_HELD);
    assert_ptr_equal(ev, (void *)1);
    assert_int_equal(lr_freq_close_window(&f, T0 + 300, out), 1);
    assert_ptr_equal(out[0], (void *)2);
    assert_true(lr_freq_deadline(&f) == 0); /* 3 tokens came, 1 used */
    assert_int_equal(lr_freq_offer(&f, T0 + 300, LR_PRI_LOW, NULL, &ev), LR_FREQ_PASS);
    assert_int_equal(lr_freq_offer(&f, T0 + 300, LR_PRI_LOW, NULL, &ev), LR_FREQ_PASS);
    assert_int_equal(lr_freq_offer(&f, T0 + 300, LR_PRI_LOW, NULL, &ev), LR_FREQ_HELD);
    lr_freq_free(&f);
}

static void test_configure_outside_window_applies_at_once(void **state)
{
    lr_freq f;
    void *ev;
    assert_int_equal(lr_freq_init(&f, 1000, 100, 1, T0), LR_OK);
    assert_int_equal(lr_freq_configure(&f, 5, 100, T0), LR_OK);
    assert_int_equal(f.rate, 5);
    assert_true(f.cap >= 2);
    /* The full bucket of 1000 is cut to the new rate. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_LOW, NULL, &ev), LR_FREQ_PASS);
    assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_LOW, NULL, &ev), LR_FREQ_DROP);
    assert_true(lr_freq_deadline(&f) == T0 + 100);
    lr_freq_free(&f);

    /* Raising the rate keeps the tokens and refills faster from then on. */
    assert_int_equal(lr_freq_init(&f, 2, 100, 1, T0), LR_OK);
    assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_LOW, NULL, &ev), LR_FREQ_PASS);
    assert_int_equal(lr_freq_configure(&f, 100, 100, T0), LR_OK);
    assert_true(f.cap >= 11);
    assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_LOW, NULL, &ev), LR_FREQ_PASS);
    assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_LOW, NULL, &ev), LR_FREQ_HELD);
    assert_int_equal(f.budget, 10);
    lr_freq_free(&f);
}

static void test_configure_mid_window_keeps_held_and_applies_at_close(void **state)
{
    lr_freq f;
    void *ev;
    assert_int_equal(lr_freq_init(&f, 40, 100, 1, T0), LR_OK);
    for (int i = 0; i < 40; i++)
        assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_LOW, NULL, &ev), LR_FREQ_PASS);
    for (uintptr_t i = 1; i <= 4; i++)
        assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_NORMAL, (void *)i, &ev), LR_FREQ_HELD);

    /* Lower the rate: the window keeps its end, budget and held messages. */
    assert_int_equal(lr_freq_configure(&f, 10, 100, T0 + 50), LR_OK);
    assert_true(lr_freq_deadline(&f) == T0 + 100);
    assert_int_equal(f.nheld, 4);
    assert_int_equal(lr_freq_offer(&f, T0 + 60, LR_PRI_LOWEST, (void *)9, &ev), LR_FREQ_DROP);
    assert_int_equal(lr_freq_offer(&f, T0 + 60, LR_PRI_HIGH, (void *)5, &ev), LR_FREQ_HELD);
    assert_non_null(ev);
    void **out = calloc(f.cap, sizeof(void *));
    assert_non_null(out);
    assert_int_equal(lr_freq_close_window(&f, T0 + 100, out), 4);
    assert_ptr_equal(out[0], (void *)5);
    /* From the close on, the new rate: one a window. */
    assert_int_equal(f.rate, 10);
    assert_true(lr_freq_deadline(&f) == T0 + 200);
    assert_int_equal(f.budget, 1);
    for (uintptr_t i = 1; i <= 5; i++)
        lr_freq_offer(&f, T0 + 150, LR_PRI_NORMAL, (void *)i, &ev);
    assert_int_equal(lr_freq_close_window(&f, T0 + 200, out), 1);
    free(out);

    /* Raise the rate and shorten the window mid-window: cap grows at once
     * (for the out array), the change applies from the close. */
    assert_int_equal(lr_freq_configure(&f, 1000, 10, T0 + 250), LR_OK);
    assert_true(f.cap >= 11);
    assert_int_equal(f.rate, 10);
    out = calloc(f.cap, sizeof(void *));
    assert_non_null(out);
    assert_int_equal(lr_freq_offer(&f, T0 + 260, LR_PRI_NORMAL, (void *)1, &ev), LR_FREQ_HELD);
    assert_true(lr_freq_deadline(&f) == T0 + 300);
    assert_int_equal(lr_freq_close_window(&f, T0 + 300, out), 1);
    assert_int_equal(f.rate, 1000);
    assert_int_equal(f.window_ms, 10);
    /* The bucket is empty after the close; the new rate refills 10 in a
     * window of 10 ms. */
    assert_true(lr_freq_deadline(&f) == T0 + 310);
    assert_int_equal(f.budget, 10);
    free(out);
    lr_freq_free(&f);
}

static void test_invalid_settings_are_refused(void **state)
{
    lr_freq f;
    assert_int_equal(lr_freq_init(&f, 0, 100, 1, T0), LR_EINVAL);
    assert_int_equal(lr_freq_init(&f, 40, 0, 1, T0), LR_EINVAL);
    assert_int_equal(lr_freq_init(&f, LR_FREQ_MAX_RATE + 1, 100, 1, T0), LR_EINVAL);
    assert_int_equal(lr_freq_init(&f, 40, LR_FREQ_MAX_WINDOW_MS + 1, 1, T0), LR_EINVAL);
    assert_null(f.held);
    lr_freq_free(&f); /* harmless after a refused init */
    assert_int_equal(lr_freq_init(&f, LR_FREQ_MAX_RATE, LR_FREQ_MAX_WINDOW_MS, 1, T0), LR_OK);
    lr_freq_free(&f);
    assert_int_equal(lr_freq_init(&f, 1, 1, 1, T0), LR_OK);
    assert_int_equal(lr_freq_configure(&f, 0, 100, T0), LR_EINVAL);
    assert_int_equal(lr_freq_configure(&f, 40, 0, T0), LR_EINVAL);
    assert_int_equal(lr_freq_configure(&f, LR_FREQ_MAX_RATE + 1, 1, T0), LR_EINVAL);
    assert_int_equal(lr_freq_configure(&f, 1, LR_FREQ_MAX_WINDOW_MS + 1, T0), LR_EINVAL);
    assert_int_equal(f.rate, 1);
    assert_int_equal(f.window_ms, 1);
    lr_freq_free(&f);
}

#ifdef NDEBUG
/* A caller that forgets to close: the message joins the open window
 * instead of making the window's output vanish. */
static void test_offer_past_deadline_joins_open_window(void **state)
{
    lr_freq f;
    void *ev, *out[8];
    assert_int_equal(lr_freq_init(&f, 10, 100, 1, T0), LR_OK);
    for (int i = 0; i < 10; i++)
        assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_HIGH, NULL, &ev), LR_FREQ_PASS);
    assert_int_equal(lr_freq_offer(&f, T0, LR_PRI_LOW, (void *)1, &ev), LR_FREQ_HELD);
    assert_int_equal(lr_freq_offer(&f, T0 + 120, LR_PRI_HIGH, (void *)2, &ev), LR_FREQ_HELD);
    assert_ptr_equal(ev, (void *)1);
    assert_true(lr_freq_deadline(&f) == T0 + 100);
    assert_int_equal(lr_freq_close_window(&f, T0 + 120, out), 1);
    assert_ptr_equal(out[0], (void *)2);
    lr_freq_free(&f);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_checker_rejects_violations),
        cmocka_unit_test(test_random_traffic_keeps_every_rule),
        cmocka_unit_test(test_overload_delivers_priorities_within_rate_in_full),
        cmocka_unit_test(test_equal_flooders_share_at_random),
        cmocka_unit_test(test_ten_thousand_offers_in_one_window_stay_bounded),
        cmocka_unit_test(test_window_budget_is_exact_when_whole),
        cmocka_unit_test(test_window_budget_carries_fractions),
        cmocka_unit_test(test_window_mode_ends_when_demand_falls),
        cmocka_unit_test(test_close_before_deadline_does_nothing),
        cmocka_unit_test(test_late_close_starts_next_window_now),
        cmocka_unit_test(test_configure_outside_window_applies_at_once),
        cmocka_unit_test(test_configure_mid_window_keeps_held_and_applies_at_close),
        cmocka_unit_test(test_invalid_settings_are_refused),
#ifdef NDEBUG
        cmocka_unit_test(test_offer_past_deadline_joins_open_window),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
