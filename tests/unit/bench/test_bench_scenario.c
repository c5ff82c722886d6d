/*
 * test_bench_scenario.c proves the named scenarios turn into the load the
 * bench documents: rooms derives its receivers from --rooms x --members
 * (publishers included in the members), refuses --conns with --members,
 * overload gets enough publisher users for the per-user limit and its
 * priority mix, slow picks exactly --slow-pct of the receivers, spread
 * evenly, and the other scenarios have no slow readers and no mix; paced
 * runs read on one thread per CPU, window runs on one. The
 * bench is one executable, so its sources are compiled in here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../bench/freqcheck.c"
#include "../../../bench/scenario.c"

/* What main() sets before parsing flags. */
static void cfg_init(bench_cfg *c)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->host, "127.0.0.1");
    c->secret = "k";
    c->pri = LR_PRI_HIGH;
    c->rate = c->duration = c->settle = c->drain = c->keepalive = -1;
    c->slow_pct = c->slow_after = c->slow_resume = -1;
    c->slow_rcvbuf = UINT32_MAX;
    c->src_addrs = UINT32_MAX;
}

static int apply(bench_cfg *c, const char *name)
{
    char err[256];
    const bench_scenario *s = bench_scenario_find(name);
    assert_non_null(s);
    c->scenario = name;
    return bench_scenario_apply(c, s, err, sizeof(err));
}

static void rooms_counts_members_with_their_publisher(void **state)
{
    (void)state;
    bench_cfg c;
    cfg_init(&c);
    assert_int_equal(apply(&c, "rooms"), 0);
    assert_int_equal(c.rooms, 10000);
    assert_int_equal(c.members, 10);
    assert_int_equal(c.publishers, 1); /* 5 msg/s: one user per room */
    assert_int_equal(c.conns, 10000 * 9);
    assert_true(c.rate == 5);
    assert_true(c.threads * BENCH_MAX_CONNS_PER_WORKER >= 100000);
    assert_int_equal(c.mix_len, 0);
    assert_true(c.slow_pct == 0);

    cfg_init(&c);
    c.rooms = 20;
    c.members = 5;
    assert_int_equal(apply(&c, "rooms"), 0);
    assert_int_equal(c.conns, 20 * 4);

    cfg_init(&c);
    c.rooms = 20;
    c.conns = 100; /* the receivers directly */
    assert_int_equal(apply(&c, "rooms"), 0);
    assert_int_equal(c.conns, 100);
    assert_int_equal(c.members, 0);
}

static void conns_and_members_together_are_refused(void **state)
{
    (void)state;
    bench_cfg c;
    cfg_init(&c);
    c.conns = 100;
    c.members = 10;
    assert_int_equal(apply(&c, "rooms"), LR_EINVAL);
    cfg_init(&c);
    c.members = 2;
    c.rate = 30; /* three publishers per room leave no receiver */
    assert_int_equal(apply(&c, "rooms"), LR_EINVAL);
}

static void overload_offers_200_per_s_in_a_mix_within_the_user_limit(void **state)
{
    (void)state;
    bench_cfg c;
    cfg_init(&c);
    assert_int_equal(apply(&c, "overload"), 0);
    assert_true(c.rate == 200);
    assert_int_equal(c.rooms, 1);
    /* each user sends rate / publishers, half the engine's 20/s limit */
    assert_true(c.rate / c.publishers <= 10);
    assert_int_equal(c.mix_len, 100);
    assert_true(c.check_freq);
    assert_int_equal(c.room_rate, 40);
    assert_int_equal(c.rate_window_ms, 100);
    uint32_t n[LR_PRI_COUNT] = {0};
    for (uint32_t i = 0; i < c.mix_len; i++)
        n[c.mix_pattern[i]]++;
    assert_int_equal(n[LR_PRI_HIGH], 10);
    assert_int_equal(n[LR_PRI_LOWEST], 40);

    cfg_init(&c);
    c.mix[LR_PRI_NORMAL] = 1; /* --mix 0,1,0,0 */
    assert_int_equal(apply(&c, "overload"), 0);
    assert_int_equal(c.mix_len, 1);
    assert_int_equal(c.mix_pattern[0], LR_PRI_NORMAL);

    cfg_init(&c);
    assert_int_equal(apply(&c, "stadium"), 0);
    assert_int_equal(c.mix_len, 0);
    assert_false(c.check_freq);
}

static void slow_picks_exactly_the_share_asked_spread_evenly(void **state)
{
    (void)state;
    bench_cfg c;
    cfg_init(&c);
    assert_int_equal(apply(&c, "slow"), 0);
    assert_true(c.slow_pct == 10);
    assert_true(c.slow_after > 0);
    assert_int_equal(c.slow_rcvbuf, 4096);
    uint32_t slow = 0, run = 0, longest = 0;
    for (uint32_t g = 0; g < c.conns + 5; g++) {
        bool s = bench_is_slow(&c, g);
        if (s) {
            slow++;
            assert_true(g < c.conns); /* publishers never are */
        }
        run = s ? 0 : run + 1;
        if (run > longest) longest = run;
    }
    assert_int_equal(slow, c.conns / 10);
    assert_true(longest <= 10);

    cfg_init(&c);
    c.slow_pct = 0; /* the baseline run */
    assert_int_equal(apply(&c, "slow"), 0);
    for (uint32_t g = 0; g < c.conns; g++)
        assert_false(bench_is_slow(&c, g));

    cfg_init(&c);
    c.slow_rcvbuf = 0; /* kernel default */
    assert_int_equal(apply(&c, "slow"), 0);
    assert_int_equal(c.slow_rcvbuf, 0);

    cfg_init(&c);
    assert_int_equal(apply(&c, "stadium"), 0);
    assert_false(bench_is_slow(&c, 9));
}

static void paced_runs_read_on_every_cpu_window_runs_on_one(void **state)
{
    (void)state;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    uint32_t want = ncpu > 1 ? (uint32_t)(ncpu < 8 ? ncpu : 8) : 1;
    bench_cfg c;
    cfg_init(&c);
    c.conns = 2000;
    assert_int_equal(apply(&c, "stadium"), 0);
    assert_int_equal(c.threads, want);

    cfg_init(&c);
    c.conns = 2000;
    c.threads = 1; /* what the user says wins */
    assert_int_equal(apply(&c, "stadium"), 0);
    assert_int_equal(c.threads, 1);

    cfg_init(&c);
    c.conns = 10000;
    assert_int_equal(apply(&c, "max"), 0);
    assert_int_equal(c.threads, 1); /* the window is clocked by one thread's reads */

    cfg_init(&c);
    c.conns = 50000; /* more than one thread holds */
    assert_int_equal(apply(&c, "max"), 0);
    assert_int_equal(c.threads, 3);

    cfg_init(&c);
    assert_int_equal(apply(&c, "idle"), 0);
    assert_int_equal(c.threads, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rooms_counts_members_with_their_publisher),
        cmocka_unit_test(conns_and_members_together_are_refused),
        cmocka_unit_test(overload_offers_200_per_s_in_a_mix_within_the_user_limit),
        cmocka_unit_test(slow_picks_exactly_the_share_asked_spread_evenly),
        cmocka_unit_test(paced_runs_read_on_every_cpu_window_runs_on_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
