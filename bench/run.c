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
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

#define TICK_US 50000     /* how often the main thread looks */
#define SAMPLE_US 1000000 /* how often it records a sample */
#define METRICS_TIMEOUT_S 2.0
#define METRICS_SAMPLE_TIMEOUT_S 0.2 /* once a second: a slow reply is skipped */
#define RESUME_QUIET_US 500000       /* slow readers got nothing new this long: done */

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
    bench_metrics m;
    if (run->res.m0.ok &&
        bench_metrics_fetch(run->cfg.host, run->cfg.admin_port, METRICS_SAMPLE_TIMEOUT_S, &m) ==
            0 &&
        m.batch_delay_ms > run->res.batch_delay_max_ms)
        run->res.batch_delay_max_ms = m.batch_delay_ms;
    s->engine_sendq = 0;
    if (run->cfg.slow_pct > 0) {
        /* a slow reader's frames pile up in the kernel, where RSS cannot see
         * them: count them too */
        uint32_t socks;
        uint64_t q;
        if (bench_tcp_sendq(run->cfg.port, &q, &socks)) s->engine_sendq = q;
        if (s->engine_sendq > run->res.sendq_peak) run->res.sendq_peak = s->engine_sendq;
    }
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

/* Receivers open in each room when publishing starts (slow: the slow
 * readers instead). */
static uint64_t *receivers_per_room(const bench_run *run, bool slow, uint64_t *total)
{
    uint64_t *per = calloc(run->cfg.rooms, sizeof(*per));
    *total = 0;
    if (!per) return NULL;
    for (uint32_t i = 0; i < run->nworkers; i++) {
        const uint32_t *joined = slow ? run->workers[i].slow_joined : run->workers[i].room_joined;
        for (uint32_t r = 0; r < run->cfg.rooms; r++) {
            uint32_t n = BENCH_GET(joined[r]);
            per[r] += n;
            *total += n;
        }
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

/* Slow readers are reading again: done when nothing new arrived for a
 * while. */
typedef struct resume_watch {
    uint64_t bytes, since_us;
} resume_watch;

static bool resume_done(bench_run *run, void *arg)
{
    resume_watch *rw = arg;
    uint64_t b = 0;
    for (uint32_t i = 0; i < run->nworkers; i++)
        b += BENCH_GET(run->workers[i].st.slow_bytes);
    uint64_t now = lr_clock_us();
    if (b != rw->bytes) {
        rw->bytes = b;
        rw->since_us = now;
    }
    return now - rw->since_us > RESUME_QUIET_US;
}

/* Per-second series over publish + drain, from the workers' intervals. */
static int build_series(bench_run *run)
{
    bench_result *r = &run->res;
    uint32_t nivals = run->nworkers ? run->workers[0].nivals : 0;
    size_t n = (size_t)r->t_window;
    if ((double)n < r->t_window) n++;
    if (n > nivals) n = nivals;
    if (n == 0) return 0;
    r->series = calloc(n, sizeof(*r->series));
    bench_hist *h = malloc(sizeof(*h));
    if (!r->series || !h) {
        free(h);
        return LR_ENOMEM;
    }
    double pub0 = (double)(run->t_pub0_us - run->t0_us) / 1e6;
    /* a last interval shorter than half a second is too short to give a
     * rate: it joins the one before */
    size_t nout = n;
    if (n > 1 && r->t_window - (double)(n - 1) < 0.5) nout = n - 1;
    for (size_t k = 0; k < nout; k++) {
        bench_point *pt = &r->series[k];
        bench_hist_init(h);
        /* the last point also takes any straggler after the window (a
         * late delivery counted in the run's totals lands in a later
         * interval: the series must add up to them) */
        for (size_t kk = k; kk < (k + 1 == nout ? nivals : k + 1); kk++)
            for (uint32_t i = 0; i < run->nworkers; i++) {
                bench_hist_merge(h, &run->workers[i].ivals[kk].lat);
                pt->published += run->workers[i].ivals[kk].published;
            }
        pt->t = (double)(k + 1);
        pt->secs = 1.0;
        if (pt->t > r->t_window || k + 1 == nout) {
            /* the last interval ends with the window */
            pt->secs = r->t_window - (double)k;
            pt->t = r->t_window;
        }
        pt->deliveries = h->count;
        pt->p50_us = bench_hist_quantile(h, 0.5);
        pt->p99_us = bench_hist_quantile(h, 0.99);
        pt->max_us = h->count ? h->max : 0;
        double best = 1e9;
        for (size_t j = 0; j < run->nsamples; j++) {
            const bench_sample *sm = &run->samples[j];
            double d = sm->t - (pub0 + pt->t);
            if (d < 0) d = -d;
            if (sm->engine_cpu >= 0 && d < best && d < 1.0) {
                best = d;
                pt->engine_rss = sm->engine_rss;
                pt->engine_sendq = sm->engine_sendq;
            }
        }
    }
    r->nseries = nout;
    free(h);
    return 0;
}

/* The §6 checks of the overload scenario, from the workers' logs. */
static int check_freq(bench_run *run)
{
    bench_cfg *cfg = &run->cfg;
    bench_result *r = &run->res;
    size_t nacks = 0, nst = 0;
    for (uint32_t i = 0; i < run->nworkers; i++) {
        nacks += run->workers[i].nacklog;
        nst += run->workers[i].nseqlog;
    }
    bench_ack_ev *acks = calloc(nacks ? nacks : 1, sizeof(*acks));
    bench_seq_time *st = calloc(nst ? nst : 1, sizeof(*st));
    if (!acks || !st) {
        free(acks);
        free(st);
        return LR_ENOMEM;
    }
    size_t a = 0, b = 0;
    for (uint32_t i = 0; i < run->nworkers; i++) {
        bench_worker *w = &run->workers[i];
        /* a worker without publishers (or receivers) has no log at all */
        if (w->nacklog) memcpy(acks + a, w->acklog, w->nacklog * sizeof(*acks));
        a += w->nacklog;
        if (w->nseqlog) memcpy(st + b, w->seqlog, w->nseqlog * sizeof(*st));
        b += w->nseqlog;
    }
    bench_freq_in in;
    memset(&in, 0, sizeof(in));
    in.room_rate = cfg->room_rate;
    in.window_ms = cfg->rate_window_ms;
    in.receivers = r->receivers_at_start;
    for (int p = 0; p < LR_PRI_COUNT; p++) {
        in.offered[p] = r->offered_rate[p];
        in.ok[p] = r->st.pri_ok[p];
        in.limited[p] = r->st.pri_limited[p];
        in.delivered[p] = r->st.pri[p];
    }
    int rc = bench_freq_check(&in, acks, nacks, st, nst, &r->freq);
    r->freq_checked = rc == 0;
    free(acks);
    free(st);
    return rc;
}

/* Loss per room: which rooms lost anything, and the worst one. */
static void room_loss(bench_run *run, const uint64_t *per_room)
{
    bench_result *r = &run->res;
    uint32_t rooms = run->cfg.rooms;
    if (rooms < 2 || !run->workers[0].room_delivered) return;
    uint64_t *acc = calloc(rooms, sizeof(*acc));
    if (!acc) return;
    for (uint32_t i = 0; i < run->nworkers; i++) {
        bench_worker *w = &run->workers[i];
        for (uint32_t k = 0; k < w->npubs; k++)
            acc[w->pubs[k].room] += w->pubs[k].accepted;
    }
    for (uint32_t room = 0; room < rooms; room++) {
        uint64_t got = 0;
        for (uint32_t i = 0; i < run->nworkers; i++)
            got += run->workers[i].room_delivered[room];
        uint64_t want = acc[room] * per_room[room];
        if (got < want) {
            r->rooms_with_loss++;
            if (want - got > r->worst_room_lost) r->worst_room_lost = want - got;
        }
    }
    free(acc);
}

/* RSS when the slow readers stopped and the most it reached afterwards. */
static void slow_rss(bench_run *run)
{
    bench_result *r = &run->res;
    double stop = (double)(run->t_pub0_us - run->t0_us) / 1e6 + run->cfg.slow_after;
    double best = 1e9;
    for (size_t j = 0; j < run->nsamples; j++) {
        const bench_sample *sm = &run->samples[j];
        if (sm->engine_cpu < 0) continue;
        double d = sm->t > stop ? sm->t - stop : stop - sm->t;
        if (d < best) {
            best = d;
            r->engine_rss_slow_stop = sm->engine_rss;
            r->sendq_slow_stop = sm->engine_sendq;
        }
        if (sm->t >= stop && sm->engine_rss > r->engine_rss_after_stop_peak)
            r->engine_rss_after_stop_peak = sm->engine_rss;
    }
}

static void load_baseline(bench_run *run)
{
    json_error_t err;
    json_t *root = json_load_file(run->cfg.baseline_path, 0, &err);
    json_t *lat = root ? json_object_get(root, "latency") : NULL;
    json_t *p99 = lat ? json_object_get(lat, "p99_us") : NULL;
    if (json_is_integer(p99)) {
        run->res.baseline_ok = true;
        run->res.baseline_p99_us = (uint64_t)json_integer_value(p99);
    } else {
        fprintf(stderr, "liveroom-bench: %s has no latency.p99_us: not comparing\n",
                run->cfg.baseline_path);
    }
    json_decref(root);
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
    if (cfg->admin_port &&
        bench_metrics_fetch(cfg->host, cfg->admin_port, METRICS_TIMEOUT_S, &r->m0) != 0)
        fprintf(stderr, "liveroom-bench: no /metrics on admin port %d: not reading them\n",
                cfg->admin_port);
    r->t_slow_stop = -1;
    if (cfg->mix_len)
        for (uint32_t k = 0; k < cfg->mix_len; k++)
            r->offered_rate[cfg->mix_pattern[k]] += cfg->rate / cfg->mix_len;
    else if (cfg->publish)
        r->offered_rate[cfg->pri] = cfg->rate;

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

    uint64_t *per_room = NULL, *slow_per_room = NULL;
    double self_w0 = bench_proc_sample(0).cpu_s, self_w1 = self_w0;
    if (cfg->publish && !interrupted) {
        uint64_t nslow = 0;
        per_room = receivers_per_room(run, false, &r->receivers_at_start);
        slow_per_room = receivers_per_room(run, true, &nslow);
        if (!per_room || !slow_per_room) {
            free(per_room);
            free(slow_per_room);
            bench_workers_join(run);
            return LR_ENOMEM;
        }
        r->slow_readers = (uint32_t)nslow;
        if (r->m0.ok) bench_metrics_fetch(cfg->host, cfg->admin_port, METRICS_TIMEOUT_S, &r->mw0);
        if (r->engine_sampled) eng_w0 = bench_proc_sample(cfg->server_pid);
        self_w0 = bench_proc_sample(0).cpu_s;
        uint64_t tp0 = lr_clock_us();
        run->t_pub0_us = tp0; /* the workers read it after the phase's release */
        set_phase(run, BENCH_PH_PUBLISH);
        wait_phase(run, cfg->duration, "publish", NULL, NULL);
        set_phase(run, BENCH_PH_DRAIN);
        r->t_publish = (double)(lr_clock_us() - tp0) / 1e6;
        drain_watch dw = {per_room};
        wait_phase(run, cfg->drain, "drain", drain_done, &dw);
        r->t_window = (double)(lr_clock_us() - tp0) / 1e6;
        if (r->engine_sampled) eng_w1 = bench_proc_sample(cfg->server_pid);
        self_w1 = bench_proc_sample(0).cpu_s;
        if (r->mw0.ok) bench_metrics_fetch(cfg->host, cfg->admin_port, METRICS_TIMEOUT_S, &r->mw1);
        r->expected = expected_now(run, per_room);
        r->slow_expected = expected_now(run, slow_per_room);
        if (nslow && cfg->slow_after < r->t_publish) r->t_slow_stop = cfg->slow_after;
        if (nslow) {
            /* what the slow readers left queued, before they read it */
            take_sample(run, true);
            r->sendq_end = run->nsamples ? run->samples[run->nsamples - 1].engine_sendq : 0;
        }
        if (nslow && cfg->slow_resume > 0 && !interrupted) {
            resume_watch rw = {0, lr_clock_us()};
            set_phase(run, BENCH_PH_RESUME);
            wait_phase(run, cfg->slow_resume, "resume", resume_done, &rw);
        }
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
    if (cfg->admin_port && r->m0.ok)
        bench_metrics_fetch(cfg->host, cfg->admin_port, METRICS_TIMEOUT_S, &r->m1);
    finish(run, cfg->publish ? &eng_w0 : NULL, cfg->publish ? &eng_w1 : NULL, self_w0, self_w1);
    r->self_cpu_total = bench_proc_sample(0).cpu_s - self0;
    rc = 0;
    if (cfg->publish && per_room) {
        room_loss(run, per_room);
        if (r->t_slow_stop >= 0) slow_rss(run);
        rc = build_series(run);
        if (rc == 0 && cfg->check_freq && cfg->rooms == 1) rc = check_freq(run);
    }
    if (cfg->baseline_path) load_baseline(run);
    free(per_room);
    free(slow_per_room);
    if (rc != 0) return rc;
    return nobody ? LR_ENOENT : interrupted ? LR_EAGAIN : 0;
}
