/*
 * run.c owns the timeline of a run: start the workers, move every worker
 * through connect → (settle) → publish → drain → stop, sample the engine's
 * and the bench's own CPU and memory once a second, decide when each phase is
 * over, and turn the workers' counters into the figures the report prints.
 * It reads workers' counters only with relaxed atomic loads while they run
 * and touches their histograms only after they stopped. It never talks to a
 * socket.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

#define TICK_US 50000     /* how often the main thread looks */
#define SAMPLE_US 1000000 /* how often it records a sample */

/* SIGINT cuts the current phase short and still prints the report; a signal
 * handler can only reach a file-scope flag. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    LR_UNUSED(sig);
    interrupted = 1;
}

static double since(uint64_t t0_us)
{
    return (double)(lr_clock_us() - t0_us) / 1e6;
}

typedef struct totals {
    uint64_t started, joined, join_failed, delivered, published, accepted;
} totals;

static totals sum_live(const bench_run *run)
{
    totals t = {0};
    for (uint32_t i = 0; i < run->nworkers; i++) {
        bench_stats *s = &run->workers[i].st;
        t.started += BENCH_GET(s->connect_started);
        t.joined += BENCH_GET(s->join_ok);
        t.join_failed += BENCH_GET(s->join_failed);
        t.delivered += BENCH_GET(s->delivered);
        t.published += BENCH_GET(s->published);
        t.accepted += BENCH_GET(s->accepted);
    }
    return t;
}

static void take_sample(bench_run *run, bool force)
{
    uint64_t now = lr_clock_us();
    if (!force && run->nsamples &&
        now - run->t0_us < (uint64_t)(run->samples[run->nsamples - 1].t * 1e6) + SAMPLE_US)
        return;
    if (run->nsamples == run->samples_cap) {
        size_t cap = run->samples_cap ? run->samples_cap * 2 : 64;
        bench_sample *n = realloc(run->samples, cap * sizeof(*n));
        if (!n) return; /* a missing sample costs a point of the series, not the run */
        run->samples = n;
        run->samples_cap = cap;
    }
    totals t = sum_live(run);
    bench_sample *s = &run->samples[run->nsamples++];
    s->t = (double)(now - run->t0_us) / 1e6;
    s->phase = __atomic_load_n(&run->phase, __ATOMIC_RELAXED);
    s->joined = t.joined;
    s->delivered = t.delivered;
    s->published = t.published;
    s->engine_cpu = -1;
    s->engine_rss = 0;
    if (run->cfg.server_pid > 0) {
        bench_proc p = bench_proc_sample(run->cfg.server_pid);
        if (p.ok) {
            s->engine_cpu = p.cpu_s;
            s->engine_rss = p.rss;
            if (p.rss > run->res.engine_rss_peak) run->res.engine_rss_peak = p.rss;
        }
    }
    s->self_cpu = bench_proc_sample(0).cpu_s;
}

static void progress(bench_run *run, const char *what)
{
    /* a live line for a person watching; logs get the report only */
    if (run->cfg.quiet || !isatty(STDERR_FILENO)) return;
    uint64_t now = lr_clock_us();
    if (now - run->progress_us < 250000) return;
    run->progress_us = now;
    totals t = sum_live(run);
    fprintf(stderr, "\r[%6.1fs] %-8s joined %llu/%u failed %llu published %llu delivered %llu   ",
            since(run->t0_us), what, (unsigned long long)t.joined, run->total_conns,
            (unsigned long long)t.join_failed, (unsigned long long)t.published,
            (unsigned long long)t.delivered);
}

/* Sleep up to secs, sampling; stop early when done() says so. */
static void wait_phase(bench_run *run, double secs, const char *what,
                       bool (*done)(bench_run *, void *), void *arg)
{
    uint64_t end = lr_clock_us() + (uint64_t)(secs * 1e6);
    while (!interrupted && lr_clock_us() < end) {
        if (done && done(run, arg)) break;
        usleep(TICK_US);
        take_sample(run, false);
        progress(run, what);
    }
}

static void set_phase(bench_run *run, bench_phase ph)
{
    __atomic_store_n(&run->phase, (int)ph, __ATOMIC_RELEASE);
}

typedef struct connect_watch {
    uint64_t last_change_us, last_count;
} connect_watch;

/* Connecting is over when every connection joined or failed, or when
 * nothing moved for connect_timeout seconds. */
static bool connect_done(bench_run *run, void *arg)
{
    connect_watch *cw = arg;
    totals t = sum_live(run);
    uint64_t n = t.joined + t.join_failed;
    if (n >= run->total_conns) return true;
    if (n != cw->last_count) {
        cw->last_count = n;
        cw->last_change_us = lr_clock_us();
    }
    return lr_clock_us() - cw->last_change_us > (uint64_t)(run->cfg.connect_timeout * 1e6);
}

/* Receivers open in each room when publishing starts. */
static uint64_t *receivers_per_room(const bench_run *run, uint64_t *total)
{
    uint64_t *per = calloc(run->cfg.rooms, sizeof(*per));
    *total = 0;
    if (!per) return NULL;
    for (uint32_t i = 0; i < run->nworkers; i++)
        for (uint32_t r = 0; r < run->cfg.rooms; r++) {
            uint32_t n = BENCH_GET(run->workers[i].room_joined[r]);
            per[r] += n;
            *total += n;
        }
    return per;
}

/* Deliveries owed: each accepted message times the receivers its room had
 * when publishing began (publishers are not receivers, and the engine does
 * not echo to the sender). A relay has no ack: every sent message counts. */
static uint64_t expected_now(const bench_run *run, const uint64_t *per_room)
{
    uint64_t e = 0;
    for (uint32_t i = 0; i < run->nworkers; i++) {
        bench_worker *w = &run->workers[i];
        for (uint32_t k = 0; k < w->npubs; k++) {
            bench_pub *p = &w->pubs[k];
            uint64_t n = run->cfg.target == BENCH_TARGET_WS_RELAY ? BENCH_GET(p->seq)
                                                                  : BENCH_GET(p->accepted);
            e += n * per_room[p->room];
        }
    }
    return e;
}

typedef struct drain_watch {
    const uint64_t *per_room;
} drain_watch;

static bool drain_done(bench_run *run, void *arg)
{
    drain_watch *dw = arg;
    totals t = sum_live(run);
    /* every publisher answered (engine) and every owed delivery arrived */
    uint64_t answered = 0;
    for (uint32_t i = 0; i < run->nworkers; i++) {
        bench_stats *s = &run->workers[i].st;
        answered += BENCH_GET(s->accepted) + BENCH_GET(s->limited) + BENCH_GET(s->send_errors);
    }
    if (run->cfg.target == BENCH_TARGET_ENGINE && answered < t.published) return false;
    return t.delivered >= expected_now(run, dw->per_room);
}

static void finish(bench_run *run, const bench_proc *eng_w0, const bench_proc *eng_w1,
                   double self_w0, double self_w1)
{
    bench_result *r = &run->res;
    bench_hist_init(&r->lat);
    bench_hist_init(&r->join);
    bench_hist_init(&r->ack);
    uint64_t first = UINT64_MAX, last = 0;
    for (uint32_t i = 0; i < run->nworkers; i++) {
        bench_worker *w = &run->workers[i];
        const uint64_t *a = (const uint64_t *)&w->st;
        uint64_t *b = (uint64_t *)&r->st;
        /* the leading counters are all uint64_t: sum them field by field */
        size_t n64 = offsetof(bench_stats, first_join_us) / sizeof(uint64_t);
        for (size_t k = 0; k < n64; k++)
            b[k] += a[k];
        if (w->st.first_join_us && w->st.first_join_us < first) first = w->st.first_join_us;
        if (w->st.last_join_us > last) last = w->st.last_join_us;
        for (int k = 0; k < BENCH_ERR_CODES && w->st.err_code[k]; k++) {
            for (int j = 0; j < BENCH_ERR_CODES; j++) {
                if (r->st.err_code[j] == w->st.err_code[k] || r->st.err_code[j] == 0) {
                    r->st.err_code[j] = w->st.err_code[k];
                    r->st.err_count[j] += w->st.err_count[k];
                    break;
                }
            }
        }
        if (w->st.last_close_code) r->st.last_close_code = w->st.last_close_code;
        if (w->st.last_http_status) r->st.last_http_status = w->st.last_http_status;
        if (w->st.last_errno) r->st.last_errno = w->st.last_errno;
        bench_hist_merge(&r->lat, &w->lat);
        bench_hist_merge(&r->join, &w->join);
        bench_hist_merge(&r->ack, &w->ack);
    }
    r->st.first_join_us = first == UINT64_MAX ? 0 : first;
    r->st.last_join_us = last;
    /* from the first connect to the last join: the rate a storm gets served */
    if (last > run->t_connect0_us)
        r->joins_per_s = (double)r->st.join_ok / ((double)(last - run->t_connect0_us) / 1e6);
    r->lost = r->expected > r->st.delivered ? r->expected - r->st.delivered : 0;
    if (r->t_window > 0) {
        r->deliveries_per_s = (double)r->st.delivered / r->t_window;
    }
    if (r->t_publish > 0) r->published_per_s = (double)r->st.published / r->t_publish;
    if (eng_w0 && eng_w1 && eng_w0->ok && eng_w1->ok) {
        r->engine_cpu_window = eng_w1->cpu_s - eng_w0->cpu_s;
        if (r->engine_cpu_window > 0)
            r->deliveries_per_cpu_s = (double)r->st.delivered / r->engine_cpu_window;
    }
    r->self_cpu_window = self_w1 - self_w0;
}

int bench_run_execute(bench_run *run)
{
    bench_cfg *cfg = &run->cfg;
    bench_result *r = &run->res;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    run->t0_us = lr_clock_us();
    r->total_conns = run->total_conns;
    r->receivers = cfg->conns;
    r->publishers = run->total_pubs;
    r->workers = run->nworkers;
    bench_proc eng0 = {0}, eng_c = {0}, eng_w0 = {0}, eng_w1 = {0};
    if (cfg->server_pid > 0) {
        eng0 = bench_proc_sample(cfg->server_pid);
        if (!eng0.ok) {
            fprintf(stderr, "liveroom-bench: cannot read /proc/%d: not sampling the engine\n",
                    (int)cfg->server_pid);
        }
        r->engine_sampled = eng0.ok;
        r->engine_rss_base = eng0.rss;
    }
    double self0 = bench_proc_sample(0).cpu_s;

    int rc = bench_workers_create(run);
    if (rc != 0) {
        bench_workers_join(run);
        return rc;
    }
    take_sample(run, true);

    /* connect and join */
    uint64_t tc0 = lr_clock_us();
    run->t_connect0_us = tc0;
    set_phase(run, BENCH_PH_CONNECT);
    connect_watch cw = {tc0, 0};
    wait_phase(run, 1e9, "connect", connect_done, &cw);
    r->t_connect = (double)(lr_clock_us() - tc0) / 1e6;
    if (r->engine_sampled) eng_c = bench_proc_sample(cfg->server_pid);
    double self_c = bench_proc_sample(0).cpu_s;
    r->engine_cpu_connect = eng_c.cpu_s - eng0.cpu_s;
    r->self_cpu_connect = self_c - self0;
    take_sample(run, true);

    /* nobody in: there is nothing to publish to or measure */
    bool nobody = sum_live(run).joined == 0;
    if (nobody) {
        fprintf(stderr, "liveroom-bench: no connection joined; is the server at %s:%d?\n",
                cfg->host, cfg->port);
        interrupted = 1;
    }

    /* settle, then measure memory with everyone joined */
    wait_phase(run, cfg->connect_only ? 0 : cfg->settle, "settle", NULL, NULL);
    if (r->engine_sampled) {
        bench_proc p = bench_proc_sample(cfg->server_pid);
        r->engine_rss_joined = p.rss;
        if (r->total_conns && p.rss > r->engine_rss_base)
            r->engine_rss_per_conn = (double)(p.rss - r->engine_rss_base) / (double)r->total_conns;
    }

    uint64_t *per_room = NULL;
    double self_w0 = bench_proc_sample(0).cpu_s, self_w1 = self_w0;
    if (cfg->publish && !interrupted) {
        per_room = receivers_per_room(run, &r->receivers_at_start);
        if (!per_room) {
            bench_workers_join(run);
            return LR_ENOMEM;
        }
        if (r->engine_sampled) eng_w0 = bench_proc_sample(cfg->server_pid);
        self_w0 = bench_proc_sample(0).cpu_s;
        uint64_t tp0 = lr_clock_us();
        set_phase(run, BENCH_PH_PUBLISH);
        wait_phase(run, cfg->duration, "publish", NULL, NULL);
        set_phase(run, BENCH_PH_DRAIN);
        r->t_publish = (double)(lr_clock_us() - tp0) / 1e6;
        drain_watch dw = {per_room};
        wait_phase(run, cfg->drain, "drain", drain_done, &dw);
        r->t_window = (double)(lr_clock_us() - tp0) / 1e6;
        if (r->engine_sampled) eng_w1 = bench_proc_sample(cfg->server_pid);
        self_w1 = bench_proc_sample(0).cpu_s;
        r->expected = expected_now(run, per_room);
    } else if (!cfg->connect_only && cfg->duration > 0 && !interrupted) {
        /* idle: the engine's CPU while nothing happens */
        if (r->engine_sampled) eng_w0 = bench_proc_sample(cfg->server_pid);
        self_w0 = bench_proc_sample(0).cpu_s;
        uint64_t ti0 = lr_clock_us();
        wait_phase(run, cfg->duration, "idle", NULL, NULL);
        double t = (double)(lr_clock_us() - ti0) / 1e6;
        if (r->engine_sampled) {
            eng_w1 = bench_proc_sample(cfg->server_pid);
            if (eng_w0.ok && eng_w1.ok && t > 0)
                r->engine_cpu_idle = (eng_w1.cpu_s - eng_w0.cpu_s) / t;
        }
        self_w1 = bench_proc_sample(0).cpu_s;
        r->t_window = t;
    }
    take_sample(run, true);
    if (r->engine_sampled) r->engine_rss_end = bench_proc_sample(cfg->server_pid).rss;
    if (!cfg->quiet && isatty(STDERR_FILENO)) fprintf(stderr, "\n");

    bench_workers_join(run);
    finish(run, cfg->publish ? &eng_w0 : NULL, cfg->publish ? &eng_w1 : NULL, self_w0, self_w1);
    r->self_cpu_total = bench_proc_sample(0).cpu_s - self0;
    free(per_room);
    return nobody ? LR_ENOENT : interrupted ? LR_EAGAIN : 0;
}
