/*
 * scenario.c owns the named scenarios: each is a row of defaults (sizes,
 * rates, durations, what the run measures) that any flag overrides, so a new
 * scenario (rooms, overload, slow readers) is one more row plus, when it
 * needs new client behaviour, one more switch in the config. This file also
 * derives what the user did not say (publisher count, threads, source
 * addresses, buffer counts) from what they did. It never starts anything.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "wire.h"

/* The engine's default per-user send limit is 20 msg/s (PROTOCOL.md §3), so a
 * rate-mode room gets one publisher user per this many msg/s: half the
 * limit, because the engine may read a publisher's sends in bursts. */
#define PUB_RATE_PER_USER 10
#define DEFAULT_WINDOW 16
#define DEFAULT_CONNECT_WINDOW 512
#define DEFAULT_CONNECT_TIMEOUT 30.0
#define DEFAULT_KEEPALIVE 25.0
/* connect() tries ports of one parity first (half of the 28,232 ephemeral
 * ports) and scans all of that half before the other, so a source address
 * past ~14,000 connections to one server makes every connect O(n): keep each
 * address far below that; 127.0.0.0/8 has plenty. */
#define CONNS_PER_SRC_ADDR 4000
#define RECV_BUF_SIZE 2048
#define RECV_BUFS_MAX 32768 /* the kernel's limit on a provided-buffer ring */

#define DEFAULT_ROOM_RATE 40       /* the engine's default --rate */
#define DEFAULT_RATE_WINDOW_MS 100 /* the engine's default --rate-window-ms */
#define DEFAULT_SLOW_AFTER 3.0
#define DEFAULT_SLOW_RCVBUF 4096 /* a stalled reader's window fills in a second, not minutes */
#define DEFAULT_SLOW_RESUME 3.0

static const bench_scenario scenarios[] = {
    {.name = "stadium",
     .what = "one room, N receivers, publishers at --rate msg/s of --size bytes",
     .conns = 10000,
     .rooms = 1,
     .rate = 40,
     .size = 100,
     .duration = 20,
     .settle = 2,
     .drain = 3,
     .publish = true},
    {.name = "max",
     .what = "one room, publishers send as fast as --window in-flight messages allow",
     .conns = 1000,
     .rooms = 1,
     .window = DEFAULT_WINDOW,
     .size = 100,
     .duration = 10,
     .settle = 2,
     .drain = 3,
     .publish = true},
    {.name = "rooms",
     .what = "--rooms R of --members M connections (one publisher each), --rate msg/s per room",
     .rooms = 10000,
     .members = 10,
     .rate = 5,
     .size = 100,
     .duration = 20,
     .settle = 2,
     .drain = 3,
     .publish = true},
    {.name = "overload",
     .what = "one room offered --rate msg/s in a --mix of priorities: checks PROTOCOL.md 6",
     .conns = 1000,
     .rooms = 1,
     .rate = 200,
     .size = 100,
     .duration = 10,
     .settle = 2,
     .drain = 3,
     .publish = true,
     .mix = {10, 20, 30, 40},
     .check_freq = true},
    {.name = "slow",
     .what = "stadium where --slow-pct of the receivers stop reading after --slow-after s",
     .conns = 10000,
     .rooms = 1,
     .rate = 40,
     .size = 100,
     .duration = 20,
     .settle = 2,
     .drain = 3,
     .publish = true,
     .slow_pct = 10},
    {.name = "idle",
     .what = "N joined, silent connections: engine memory and CPU per connection",
     .conns = 10000,
     .rooms = 1,
     .size = 100,
     .duration = 10,
     .settle = 2},
    {.name = "join-storm",
     .what = "N connections log in and join as fast as the engine lets them",
     .conns = 10000,
     .rooms = 1,
     .size = 100,
     .connect_only = true},
};

const bench_scenario *bench_scenario_find(const char *name)
{
    for (size_t i = 0; i < LR_ARRAY_LEN(scenarios); i++)
        if (strcmp(scenarios[i].name, name) == 0) return &scenarios[i];
    return NULL;
}

void bench_scenario_list(FILE *out)
{
    for (size_t i = 0; i < LR_ARRAY_LEN(scenarios); i++) {
        const bench_scenario *s = &scenarios[i];
        if (s->members)
            fprintf(out, "  %-11s %s (default --rooms %u --members %u)\n", s->name, s->what,
                    s->rooms, s->members);
        else
            fprintf(out, "  %-11s %s (default --conns %u)\n", s->name, s->what, s->conns);
    }
}

/* A paced run measures latency, and one thread reading every receiver
 * serialises them: of 2,000 deliveries of a frame the last waited ~10 ms
 * for the bench, not for the engine. So a paced run reads on one thread per
 * CPU. A window run (max) stays on one: its publishers' windows are clocked
 * by their own thread's reads, and receivers on another thread fall behind
 * them and are overrun (the engine then jumps them, counted as gaps). */
static uint32_t default_threads(const bench_cfg *cfg)
{
    if (!cfg->publish || cfg->rate <= 0) return 1;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 1 ? (uint32_t)(n < 8 ? n : 8) : 1;
}

static uint32_t pow2_at_least(uint32_t v)
{
    uint32_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

int bench_scenario_apply(bench_cfg *cfg, const bench_scenario *s, char *err, size_t errlen)
{
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return LR_EINVAL;                                                                          \
    } while (0)
    if (cfg->conns && cfg->members) FAIL("give --conns (receivers) or --members, not both");
    bool by_members = cfg->members || (!cfg->conns && s->members);
    if (!by_members && !cfg->conns) cfg->conns = s->conns;
    if (by_members && !cfg->members) cfg->members = s->members;
    if (!cfg->rooms) cfg->rooms = s->rooms;
    if (cfg->rate < 0) cfg->rate = s->rate;
    if (!cfg->window) cfg->window = s->window ? s->window : DEFAULT_WINDOW;
    if (!cfg->size) cfg->size = s->size;
    if (cfg->duration < 0) cfg->duration = s->duration;
    if (cfg->settle < 0) cfg->settle = s->settle;
    if (cfg->drain < 0) cfg->drain = s->drain;
    cfg->publish = s->publish;
    cfg->connect_only = s->connect_only;
    cfg->check_freq = s->check_freq && cfg->target == BENCH_TARGET_ENGINE;
    if (cfg->slow_pct < 0) cfg->slow_pct = s->slow_pct;
    if (cfg->slow_pct > 100) FAIL("--slow-pct must be 0..100");
    if (cfg->slow_after < 0) cfg->slow_after = DEFAULT_SLOW_AFTER;
    if (cfg->slow_resume < 0) cfg->slow_resume = DEFAULT_SLOW_RESUME;
    if (cfg->slow_rcvbuf == UINT32_MAX) cfg->slow_rcvbuf = DEFAULT_SLOW_RCVBUF;
    if (!cfg->room_rate) cfg->room_rate = DEFAULT_ROOM_RATE;
    if (!cfg->rate_window_ms) cfg->rate_window_ms = DEFAULT_RATE_WINDOW_MS;
    bool mix_given = false;
    for (int p = 0; p < LR_PRI_COUNT; p++)
        mix_given |= cfg->mix[p] != 0;
    if (!mix_given) memcpy(cfg->mix, s->mix, sizeof(cfg->mix));
    mix_given = false;
    for (int p = 0; p < LR_PRI_COUNT; p++)
        mix_given |= cfg->mix[p] != 0;
    cfg->mix_len = 0;
    if (mix_given) {
        if (cfg->target != BENCH_TARGET_ENGINE) FAIL("--mix needs --target engine");
        cfg->mix_len = bench_mix_pattern(cfg->mix, cfg->mix_pattern, BENCH_MIX_MAX);
        if (!cfg->mix_len) FAIL("--mix weights must add up to 1..%d", BENCH_MIX_MAX);
    }
    if (cfg->target == BENCH_TARGET_WS_RELAY) cfg->rooms = 1; /* a relay is one room */
    if (!cfg->path) cfg->path = cfg->target == BENCH_TARGET_ENGINE ? "/ws" : "/";
    if (!cfg->port)
        cfg->port = cfg->target == BENCH_TARGET_ENGINE && cfg->enc == LR_FMT_TCP ? 7072 : 7070;

    if (!cfg->publish) {
        cfg->publishers = 0;
    } else if (!cfg->publishers) {
        cfg->publishers = 1;
        if (cfg->target == BENCH_TARGET_ENGINE && cfg->rate > 0)
            cfg->publishers = (uint32_t)((cfg->rate + PUB_RATE_PER_USER - 1) / PUB_RATE_PER_USER);
    }
    if (cfg->rooms == 0 || cfg->rooms > BENCH_MAX_ROOMS)
        FAIL("--rooms must be 1..%d", BENCH_MAX_ROOMS);
    if (cfg->members) {
        /* members counts every connection in a room: its publishers too */
        if (cfg->members <= cfg->publishers)
            FAIL("--members must exceed the publishers per room (%u)", cfg->publishers);
        uint64_t c = (uint64_t)cfg->rooms * (cfg->members - cfg->publishers);
        if (c > UINT32_MAX / 2) FAIL("too many connections");
        cfg->conns = (uint32_t)c;
    }
    if ((uint64_t)cfg->rooms * cfg->publishers > BENCH_MAX_PUBLISHERS)
        FAIL("at most %d publishers in all", BENCH_MAX_PUBLISHERS);
    if (cfg->window > BENCH_PUB_TRACK) FAIL("--window must be at most %d", BENCH_PUB_TRACK);
    cfg->pub_track =
        pow2_at_least(cfg->window > BENCH_PUB_TRACK_MIN ? cfg->window : BENCH_PUB_TRACK_MIN);
    if (cfg->size > BENCH_BODY_MAX) FAIL("--size must be at most %d", BENCH_BODY_MAX);
    if (cfg->publish && cfg->duration <= 0) FAIL("--duration must be positive");
    if (cfg->target == BENCH_TARGET_ENGINE && !cfg->secret && (cfg->publishers || !cfg->guests))
        FAIL("--secret KEY is needed to sign UserSigs (--guests lets receivers join without one, "
             "but publishers must log in)");

    uint64_t total = (uint64_t)cfg->conns + (uint64_t)cfg->rooms * cfg->publishers;
    if (total > UINT32_MAX / 2) FAIL("too many connections");
    uint32_t min_threads =
        (uint32_t)((total + BENCH_MAX_CONNS_PER_WORKER - 1) / BENCH_MAX_CONNS_PER_WORKER);
    if (min_threads == 0) min_threads = 1;
    if (!cfg->threads) cfg->threads = default_threads(cfg);
    if (cfg->threads < min_threads) cfg->threads = min_threads;
    if (!cfg->connect_window) cfg->connect_window = DEFAULT_CONNECT_WINDOW;
    if (cfg->connect_timeout <= 0) cfg->connect_timeout = DEFAULT_CONNECT_TIMEOUT;
    if (cfg->keepalive < 0) cfg->keepalive = DEFAULT_KEEPALIVE;
    if (cfg->src_addrs == UINT32_MAX) {
        bool loopback = strncmp(cfg->host, "127.", 4) == 0;
        cfg->src_addrs =
            loopback ? (uint32_t)((total + CONNS_PER_SRC_ADDR - 1) / CONNS_PER_SRC_ADDR) : 0;
    }
    if (!cfg->recv_buf_size) cfg->recv_buf_size = RECV_BUF_SIZE;
    if (!cfg->recv_bufs) {
        uint64_t per_worker = (total + cfg->threads - 1) / cfg->threads + 256;
        cfg->recv_bufs =
            pow2_at_least((uint32_t)(per_worker < RECV_BUFS_MAX ? per_worker : RECV_BUFS_MAX));
    }
    if (cfg->recv_bufs > RECV_BUFS_MAX || (cfg->recv_bufs & (cfg->recv_bufs - 1)))
        FAIL("--recv-bufs must be a power of two up to %d", RECV_BUFS_MAX);
    return 0;
#undef FAIL
}
