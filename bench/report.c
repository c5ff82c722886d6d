/*
 * report.c owns how a run's figures are shown: a human table on stdout and,
 * with --json, a file holding every figure, the configuration and the
 * per-second samples, for scripts and later plots. It only formats what
 * run.c computed; it never measures anything itself.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static const char *enc_name(lr_fmt f)
{
    return f == LR_FMT_JSON ? "json" : f == LR_FMT_MSGPACK ? "msgpack" : "tcp";
}

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static void print_hist(FILE *out, const char *label, const bench_hist *h)
{
    if (!h->count) {
        fprintf(out, "  %-14s (none)\n", label);
        return;
    }
    fprintf(out,
            "  %-14s p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms  (mean %.2f, n=%llu)\n",
            label, ms(bench_hist_quantile(h, 0.5)), ms(bench_hist_quantile(h, 0.9)),
            ms(bench_hist_quantile(h, 0.99)), ms(bench_hist_quantile(h, 0.999)), ms(h->max),
            bench_hist_mean(h) / 1000.0, (unsigned long long)h->count);
}

static double mb(uint64_t b)
{
    return (double)b / (1024.0 * 1024.0);
}

static const char *yes_no(bool ok)
{
    return ok ? "yes" : "NO";
}

static uint64_t delta(uint64_t a, uint64_t b)
{
    return b > a ? b - a : 0;
}

/* Per priority: what was offered, answered and delivered, then the §6
 * verdict (overload). */
static void print_priorities(const bench_run *run, FILE *out)
{
    const bench_cfg *c = &run->cfg;
    const bench_result *r = &run->res;
    const bench_stats *s = &r->st;
    uint64_t rx = r->receivers_at_start;
    fprintf(out,
            "priorities      (mix %u,%u,%u,%u of %.0f msg/s; engine room rate %u, window %u "
            "ms)\n",
            c->mix[0], c->mix[1], c->mix[2], c->mix[3], c->rate, c->room_rate, c->rate_window_ms);
    fprintf(out, "  %-8s %9s %8s %8s %8s %7s %12s %12s %10s\n", "priority", "offered/s", "sent",
            "ok", "limited", "errors", "delivered", "ok x rcvrs", "share/s");
    for (int p = 0; p < LR_PRI_COUNT; p++)
        fprintf(out, "  %-8s %9.1f %8llu %8llu %8llu %7llu %12llu %12llu %10.1f\n",
                lr_pri_name((lr_pri)p), r->offered_rate[p], (unsigned long long)s->pri_sent[p],
                (unsigned long long)s->pri_ok[p], (unsigned long long)s->pri_limited[p],
                (unsigned long long)s->pri_errors[p], (unsigned long long)s->pri[p],
                (unsigned long long)(s->pri_ok[p] * rx),
                r->t_publish > 0 ? (double)s->pri_ok[p] / r->t_publish : 0);
    if (!r->freq_checked) return;
    const bench_freq_out *f = &r->freq;
    fprintf(out, "PROTOCOL.md 6   %s\n", f->ok ? "followed" : "VIOLATED");
    fprintf(out,
            "  rule 1        at most rate x T + rate in any T >= 1 s: %s (most in 1 s: %llu, "
            "bound %u; worst excess %.1f over %llu passes)\n",
            yes_no(f->rule1_ok), (unsigned long long)f->max_in_1s, 2 * c->room_rate,
            f->worst_excess, (unsigned long long)f->passed_seen);
    if (f->rule3_checked)
        fprintf(out,
                "  rule 3        no window dropped a message better than one it delivered: %s "
                "(%u of %u windows checked, %u violating; drops placed %llu, ambiguous %llu, "
                "violating %llu; margin %.1f ms)\n",
                yes_no(f->rule3_ok), f->windows_checked, f->windows, f->windows_violating,
                (unsigned long long)f->drops_attributed, (unsigned long long)f->drops_ambiguous,
                (unsigned long long)f->drops_violating, f->margin_ms);
    else
        fprintf(out, "  rule 3        not checked (no drop could be placed in a window)\n");
    fprintf(out, "  rule 4        priorities within %.0f %% of the rate delivered in full: %s (",
            100.0 * BENCH_FREQ_FULL_HEADROOM, yes_no(f->rule4_ok));
    bool any = false;
    for (int p = 0; p < LR_PRI_COUNT; p++)
        if (f->must_be_full[p]) {
            fprintf(out, "%s%s limited %llu", any ? ", " : "", lr_pri_name((lr_pri)p),
                    (unsigned long long)s->pri_limited[p]);
            any = true;
        }
    fprintf(out, "%s); sustained shares/s:", any ? "" : "none applies");
    for (int p = 0; p < LR_PRI_COUNT; p++)
        fprintf(out, " %s %.1f", lr_pri_name((lr_pri)p), f->expected_rate[p]);
    fprintf(out,
            "\n  rule 5        limited messages never delivered (delivered <= ok x receivers): "
            "%s\n",
            yes_no(f->rule5_ok));
    if (s->acklog_full || s->seqlog_full)
        fprintf(out, "  WARNING       logs full: %llu acks and %llu seqs not checked\n",
                (unsigned long long)s->acklog_full, (unsigned long long)s->seqlog_full);
}

static void print_slow(const bench_run *run, FILE *out)
{
    const bench_cfg *c = &run->cfg;
    const bench_result *r = &run->res;
    const bench_stats *s = &r->st;
    fprintf(out,
            "slow readers    %u of %u receivers (%.1f %%) stop reading %.1f s into "
            "publishing, SO_RCVBUF %s",
            r->slow_readers, r->receivers, c->slow_pct, c->slow_after,
            c->slow_rcvbuf ? "" : "kernel default");
    if (c->slow_rcvbuf) fprintf(out, "%u", c->slow_rcvbuf);
    fprintf(out,
            "\n  stopped       %llu   read again after the drain %llu   closed (by the engine, "
            "seen on reading) %llu\n",
            (unsigned long long)s->slow_paused, (unsigned long long)s->slow_resumed,
            (unsigned long long)s->slow_closed);
    uint64_t missed =
        r->slow_expected > s->slow_delivered ? r->slow_expected - s->slow_delivered : 0;
    fprintf(out,
            "  their msgs    owed %llu   received %llu   never received %llu   seq gaps seen "
            "%llu   dups %llu\n",
            (unsigned long long)r->slow_expected, (unsigned long long)s->slow_delivered,
            (unsigned long long)missed, (unsigned long long)s->slow_gaps,
            (unsigned long long)s->slow_dups);
    if (r->engine_sampled)
        fprintf(out,
                "  engine RSS    %.1f MiB when they stopped, peak after %.1f MiB, end %.1f "
                "MiB\n",
                mb(r->engine_rss_slow_stop), mb(r->engine_rss_after_stop_peak),
                mb(r->engine_rss_end));
    fprintf(out,
            "  kernel sendq  %.1f MiB when they stopped, peak %.1f MiB, %.1f MiB before they "
            "read again (engine-side TCP send queues: memory RSS does not show)\n",
            mb(r->sendq_slow_stop), mb(r->sendq_peak), mb(r->sendq_end));
}

static void print_metrics(const bench_run *run, FILE *out)
{
    const bench_result *r = &run->res;
    const bench_metrics *a = &r->m0, *b = &r->m1;
    fprintf(out, "engine /metrics (difference over the run, admin port %d)\n", run->cfg.admin_port);
    if (!b->ok) {
        fprintf(out, "  (not read at the end)\n");
        return;
    }
    fprintf(out, "  passed        %llu messages   deliveries %llu   frequency windows %llu\n",
            (unsigned long long)delta(a->passed, b->passed),
            (unsigned long long)delta(a->deliveries, b->deliveries),
            (unsigned long long)delta(a->windows, b->windows));
    fprintf(out, "  freq dropped  high %llu   normal %llu   low %llu   lowest %llu\n",
            (unsigned long long)delta(a->freq_dropped[0], b->freq_dropped[0]),
            (unsigned long long)delta(a->freq_dropped[1], b->freq_dropped[1]),
            (unsigned long long)delta(a->freq_dropped[2], b->freq_dropped[2]),
            (unsigned long long)delta(a->freq_dropped[3], b->freq_dropped[3]));
    fprintf(out, "  slow consumer skipped_low %llu frames   overrun %llu   closed %llu\n",
            (unsigned long long)delta(a->slow_skipped, b->slow_skipped),
            (unsigned long long)delta(a->slow_overrun, b->slow_overrun),
            (unsigned long long)delta(a->slow_closed, b->slow_closed));
    fprintf(out, "  batching      longest delay %u ms (read once a second)\n",
            r->batch_delay_max_ms);
    const bench_metrics *w0 = &r->mw0, *w1 = &r->mw1;
    uint64_t sends = delta(w0->sends, w1->sends);
    if (w0->ok && w1->ok && sends) {
        /* frames per send is the lever: one loopback send costs the same
         * whatever it carries */
        uint64_t d = delta(w0->deliveries, w1->deliveries);
        fprintf(out, "  window sends  %llu   %.2f deliveries and %.0f bytes per send",
                (unsigned long long)sends, (double)d / (double)sends,
                (double)delta(w0->send_bytes, w1->send_bytes) / (double)sends);
        if (r->engine_sampled && r->engine_cpu_window > 0)
            fprintf(out, "   %.2f us of engine CPU per send",
                    r->engine_cpu_window * 1e6 / (double)sends);
        fprintf(out, "\n");
    }
}

void bench_report_print(const bench_run *run, FILE *out)
{
    const bench_cfg *c = &run->cfg;
    const bench_result *r = &run->res;
    const bench_stats *s = &r->st;
#define LLU(x) ((unsigned long long)(x))
    fprintf(out, "liveroom-bench  scenario %s  target %s  encoding %s  %s:%d  workers %u\n",
            c->scenario, c->target == BENCH_TARGET_ENGINE ? "engine" : "ws-relay", enc_name(c->enc),
            c->host, c->port, r->workers);
    fprintf(out, "  connections   %u receivers + %u publishers in %u room(s)\n", r->receivers,
            r->publishers, c->rooms);

    fprintf(out, "connect\n");
    fprintf(out, "  joined        %llu / %u   failed %llu (connect %llu, upgrade %llu)   in %.2f s",
            LLU(s->join_ok), r->total_conns, LLU(s->join_failed), LLU(s->connect_failed),
            LLU(s->upgrade_failed), r->t_connect);
    if (r->joins_per_s > 0) fprintf(out, "   %.0f joins/s", r->joins_per_s);
    fprintf(out, "\n");
    print_hist(out, "join latency", &r->join);
    if (s->join_failed) {
        fprintf(out, "  last failure  errno %d (%s), HTTP status %d\n", s->last_errno,
                s->last_errno ? strerror(s->last_errno) : "-", s->last_http_status);
    }

    if (c->publish) {
        if (c->rate > 0)
            fprintf(out, "publish         %.0f msg/s per room", c->rate);
        else
            fprintf(out, "publish         unlimited, window %u per publisher", c->window);
        if (c->mix_len)
            fprintf(out, ", %u-byte bodies, pri mix %u,%u,%u,%u", c->size, c->mix[0], c->mix[1],
                    c->mix[2], c->mix[3]);
        else
            fprintf(out, ", %u-byte bodies, pri %s", c->size, lr_pri_name(c->pri));
        fprintf(out, ", %.1f s (+%.1f s drain)\n", r->t_publish, r->t_window - r->t_publish);
        fprintf(out, "  published     %llu (%.0f/s)", LLU(s->published), r->published_per_s);
        if (c->target == BENCH_TARGET_ENGINE)
            fprintf(out, "   accepted %llu   limited %llu   errors %llu", LLU(s->accepted),
                    LLU(s->limited), LLU(s->send_errors));
        else
            fprintf(out, "   (relay: every sent message counts as accepted)");
        if (s->too_fast)
            fprintf(out,
                    " (%llu x 10006 too fast: raise the engine's --user-rate or use more "
                    "--publishers)",
                    LLU(s->too_fast));
        if (s->limited)
            fprintf(out, " (frequency control dropped %llu: the engine's --rate)", LLU(s->limited));
        fprintf(out, "\n");
        uint64_t answered = s->accepted + s->limited + s->send_errors;
        if (c->target == BENCH_TARGET_ENGINE && answered < s->published)
            fprintf(out,
                    "  WARNING       %llu sends still unanswered when the drain ended: the engine "
                    "is behind; expected counts only acked messages, so lost and delivered are "
                    "not final\n",
                    LLU(s->published - answered));
        double loss = r->expected ? 100.0 * (double)r->lost / (double)r->expected : 0;
        fprintf(out,
                "  deliveries    expected %llu   delivered %llu   lost %llu (%.3f %%)   dups %llu  "
                " gaps %llu\n",
                LLU(r->expected), LLU(s->delivered), LLU(r->lost), loss, LLU(s->dups),
                LLU(s->gaps));
        if (c->rooms > 1 && r->receivers_at_start)
            fprintf(out, "  rooms         %u of %u lost something (worst room lost %llu)\n",
                    r->rooms_with_loss, c->rooms, LLU(r->worst_room_lost));
        fprintf(out, "  by priority   high %llu   normal %llu   low %llu   lowest %llu",
                LLU(s->pri[0]), LLU(s->pri[1]), LLU(s->pri[2]), LLU(s->pri[3]));
        if (s->pri_unknown) fprintf(out, "   unlabelled %llu", LLU(s->pri_unknown));
        fprintf(out, "\n  throughput    %.0f deliveries/s over %.2f s\n", r->deliveries_per_s,
                r->t_window);
        fprintf(out, "latency (publish -> receive)\n");
        print_hist(out, c->slow_pct > 0 ? "others" : "delivery", &r->lat);
        if (c->target == BENCH_TARGET_ENGINE) print_hist(out, "send -> ok", &r->ack);
        if (r->baseline_ok) {
            uint64_t p99 = bench_hist_quantile(&r->lat, 0.99);
            double d = r->baseline_p99_us ? 100.0 * ((double)p99 - (double)r->baseline_p99_us) /
                                                (double)r->baseline_p99_us
                                          : 0;
            fprintf(out, "  vs baseline   p99 %.2f ms vs %.2f ms in %s: %+.1f %%\n", ms(p99),
                    ms(r->baseline_p99_us), c->baseline_path, d);
        }
        if (c->mix_len) print_priorities(run, out);
        if (c->slow_pct > 0) print_slow(run, out);
    }
    if (c->admin_port && r->m0.ok) print_metrics(run, out);

    if (r->engine_sampled) {
        fprintf(out, "engine (pid %d)\n", (int)c->server_pid);
        if (c->publish) {
            fprintf(out, "  CPU           %.2f s in the %.2f s window (%.0f %% of a core)",
                    r->engine_cpu_window, r->t_window,
                    r->t_window > 0 ? 100.0 * r->engine_cpu_window / r->t_window : 0);
            if (r->deliveries_per_cpu_s > 0)
                fprintf(out, "   =>  %.0f deliveries per engine CPU-second",
                        r->deliveries_per_cpu_s);
            fprintf(out, "\n");
        } else if (!c->connect_only) {
            fprintf(out, "  CPU idle      %.2f %% of a core with everyone joined\n",
                    100.0 * r->engine_cpu_idle);
        }
        fprintf(out, "  CPU connect   %.2f s for %llu joins\n", r->engine_cpu_connect,
                LLU(s->join_ok));
        fprintf(out,
                "  RSS           base %.1f MiB, all joined %.1f MiB (%.0f B per connection), end "
                "%.1f MiB, peak %.1f MiB\n",
                mb(r->engine_rss_base), mb(r->engine_rss_joined), r->engine_rss_per_conn,
                mb(r->engine_rss_end), mb(r->engine_rss_peak));
    }

    fprintf(out, "bench (this process)\n");
    double busy = r->t_window > 0 ? r->self_cpu_window / r->t_window : 0;
    if (r->t_window > 0)
        fprintf(out,
                "  CPU           %.2f s in the window (%.0f %% of a core over %u worker(s)), %.2f "
                "s connecting, %.2f s total\n",
                r->self_cpu_window, 100.0 * busy, r->workers, r->self_cpu_connect,
                r->self_cpu_total);
    else
        fprintf(out, "  CPU           %.2f s connecting, %.2f s total\n", r->self_cpu_connect,
                r->self_cpu_total);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double cap = (double)(r->workers < (uint32_t)ncpu ? r->workers : (uint32_t)ncpu);
    if (busy > 0.9 * cap)
        fprintf(out,
                "  WARNING       the bench used %.0f %% of its %.0f core(s): it may be the "
                "bottleneck\n",
                100.0 * busy, cap);
    if (s->enobufs || s->bad_frames || s->protocol_errors || s->closed_by_peer || s->conn_errors ||
        s->unmarked || s->late_ticks)
        fprintf(out,
                "  anomalies     closed by peer %llu (last close %d)  conn errors %llu  protocol "
                "errors %llu  bad frames %llu  unmarked %llu  ENOBUFS %llu  late ticks %llu\n",
                LLU(s->closed_by_peer), s->last_close_code, LLU(s->conn_errors),
                LLU(s->protocol_errors), LLU(s->bad_frames), LLU(s->unmarked), LLU(s->enobufs),
                LLU(s->late_ticks));
    for (int k = 0; k < BENCH_ERR_CODES && s->err_code[k]; k++)
        fprintf(out, "  error %-7d %llu times\n", s->err_code[k], LLU(s->err_count[k]));
#undef LLU
}

static json_t *hist_json(const bench_hist *h)
{
    return json_pack("{s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I}", "count", (json_int_t)h->count, "mean_us",
                     bench_hist_mean(h), "min_us", (json_int_t)(h->count ? h->min : 0), "p50_us",
                     (json_int_t)bench_hist_quantile(h, 0.5), "p90_us",
                     (json_int_t)bench_hist_quantile(h, 0.9), "p99_us",
                     (json_int_t)bench_hist_quantile(h, 0.99), "p999_us",
                     (json_int_t)bench_hist_quantile(h, 0.999), "max_us", (json_int_t)h->max);
}

#define JI(x) ((json_int_t)(x))

int bench_report_json(const bench_run *run, const char *path)
{
    const bench_cfg *c = &run->cfg;
    const bench_result *r = &run->res;
    const bench_stats *s = &r->st;
    json_t *root = json_object();
    if (!root) return LR_ENOMEM;
    json_object_set_new(
        root, "config",
        json_pack(
            "{s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:I,s:f,s:I,s:I,s:f,s:s,s:I,s:I,s:I,s:b,s:i}", "scenario",
            c->scenario, "target", c->target == BENCH_TARGET_ENGINE ? "engine" : "ws-relay",
            "encoding", enc_name(c->enc), "host", c->host, "port", c->port, "conns", JI(c->conns),
            "rooms", JI(c->rooms), "publishers_per_room", JI(c->publishers), "rate", c->rate,
            "window", JI(c->window), "size", JI(c->size), "duration", c->duration, "pri",
            lr_pri_name(c->pri), "threads", JI(r->workers), "connect_window", JI(c->connect_window),
            "src_addrs", JI(c->src_addrs), "guests", c->guests, "server_pid", (int)c->server_pid));
    json_object_set_new(root, "connect",
                        json_pack("{s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:o}", "total", JI(r->total_conns),
                                  "joined", JI(s->join_ok), "failed", JI(s->join_failed),
                                  "connect_failed", JI(s->connect_failed), "upgrade_failed",
                                  JI(s->upgrade_failed), "seconds", r->t_connect, "joins_per_s",
                                  r->joins_per_s, "join_latency", hist_json(&r->join)));
    json_object_set_new(
        root, "messages",
        json_pack(
            "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I},s:f,s:f,s:f,s:f}",
            "published", JI(s->published), "accepted", JI(s->accepted), "limited", JI(s->limited),
            "send_errors", JI(s->send_errors), "too_fast", JI(s->too_fast), "receivers_at_start",
            JI(r->receivers_at_start), "expected", JI(r->expected), "delivered", JI(s->delivered),
            "lost", JI(r->lost), "duplicates", JI(s->dups), "seq_gaps", JI(s->gaps), "by_priority",
            "high", JI(s->pri[0]), "normal", JI(s->pri[1]), "low", JI(s->pri[2]), "lowest",
            JI(s->pri[3]), "unlabelled", JI(s->pri_unknown), "publish_seconds", r->t_publish,
            "window_seconds", r->t_window, "deliveries_per_s", r->deliveries_per_s,
            "published_per_s", r->published_per_s));
    uint64_t answered = s->accepted + s->limited + s->send_errors;
    json_object_set_new(json_object_get(root, "messages"), "unanswered",
                        json_integer(JI(c->target == BENCH_TARGET_ENGINE && answered < s->published
                                            ? s->published - answered
                                            : 0)));
    json_object_set_new(root, "latency", hist_json(&r->lat));
    json_object_set_new(root, "ack_latency", hist_json(&r->ack));
    json_object_set_new(
        root, "engine",
        json_pack("{s:b,s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:f}", "sampled", r->engine_sampled,
                  "cpu_window_s", r->engine_cpu_window, "cpu_connect_s", r->engine_cpu_connect,
                  "cpu_idle_cores", r->engine_cpu_idle, "deliveries_per_cpu_s",
                  r->deliveries_per_cpu_s, "rss_base", JI(r->engine_rss_base), "rss_joined",
                  JI(r->engine_rss_joined), "rss_end", JI(r->engine_rss_end), "rss_peak",
                  JI(r->engine_rss_peak), "rss_per_conn", r->engine_rss_per_conn));
    json_object_set_new(
        root, "bench",
        json_pack("{s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:i}",
                  "cpu_window_s", r->self_cpu_window, "cpu_connect_s", r->self_cpu_connect,
                  "cpu_total_s", r->self_cpu_total, "bytes_in", JI(s->bytes_in), "bytes_out",
                  JI(s->bytes_out), "recv_completions", JI(s->recv_cqes), "enobufs", JI(s->enobufs),
                  "closed_by_peer", JI(s->closed_by_peer), "conn_errors", JI(s->conn_errors),
                  "protocol_errors", JI(s->protocol_errors), "bad_frames", JI(s->bad_frames),
                  "other_frames", JI(s->other_frames), "pings", JI(s->pings), "late_ticks",
                  JI(s->late_ticks), "last_close_code", s->last_close_code, "last_errno",
                  s->last_errno));
    json_t *errs = json_object();
    for (int k = 0; k < BENCH_ERR_CODES && s->err_code[k]; k++) {
        char key[16];
        snprintf(key, sizeof(key), "%d", s->err_code[k]);
        json_object_set_new(errs, key, json_integer(JI(s->err_count[k])));
    }
    json_object_set_new(root, "error_codes", errs);
    json_object_set_new(root, "command", json_string(c->cmdline));
    json_object_set_new(root, "members_per_room", json_integer(JI(c->members)));
    json_object_set_new(root, "rooms",
                        json_pack("{s:I,s:I,s:I}", "rooms", JI(c->rooms), "with_loss",
                                  JI(r->rooms_with_loss), "worst_room_lost",
                                  JI(r->worst_room_lost)));
    json_t *pris = json_object();
    for (int p = 0; p < LR_PRI_COUNT; p++)
        json_object_set_new(pris, lr_pri_name((lr_pri)p),
                            json_pack("{s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I}", "weight", JI(c->mix[p]),
                                      "offered_per_s", r->offered_rate[p], "sent",
                                      JI(s->pri_sent[p]), "ok", JI(s->pri_ok[p]), "limited",
                                      JI(s->pri_limited[p]), "errors", JI(s->pri_errors[p]),
                                      "delivered", JI(s->pri[p]), "ok_times_receivers",
                                      JI(s->pri_ok[p] * r->receivers_at_start)));
    json_object_set_new(root, "priorities", pris);
    if (r->freq_checked) {
        const bench_freq_out *f = &r->freq;
        json_t *full = json_array();
        for (int p = 0; p < LR_PRI_COUNT; p++)
            if (f->must_be_full[p])
                json_array_append_new(full, json_string(lr_pri_name((lr_pri)p)));
        json_object_set_new(
            root, "freq_check",
            json_pack("{s:b,s:I,s:i,s:i,s:{s:b,s:I,s:I,s:f},s:{s:b,s:b,s:i,s:i,s:i,s:I,s:I,s:I,"
                      "s:f},s:{s:b,s:o,s:[f,f,f,f]},s:{s:b}}",
                      "ok", f->ok, "log_overflow", JI(s->acklog_full + s->seqlog_full), "room_rate",
                      (int)c->room_rate, "window_ms", (int)c->rate_window_ms, "rule1", "ok",
                      f->rule1_ok, "passes_seen", JI(f->passed_seen), "max_in_1s", JI(f->max_in_1s),
                      "worst_excess", f->worst_excess, "rule3", "ok", f->rule3_ok, "checked",
                      f->rule3_checked, "windows", (int)f->windows, "windows_checked",
                      (int)f->windows_checked, "windows_violating", (int)f->windows_violating,
                      "drops_placed", JI(f->drops_attributed), "drops_ambiguous",
                      JI(f->drops_ambiguous), "drops_violating", JI(f->drops_violating),
                      "margin_ms", f->margin_ms, "rule4", "ok", f->rule4_ok, "must_be_full", full,
                      "sustained_share_per_s", f->expected_rate[0], f->expected_rate[1],
                      f->expected_rate[2], f->expected_rate[3], "rule5", "ok", f->rule5_ok));
    }
    if (c->slow_pct > 0)
        json_object_set_new(
            root, "slow",
            json_pack("{s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:I,s:I,s:I}",
                      "pct", c->slow_pct, "after_s", c->slow_after, "rcvbuf", JI(c->slow_rcvbuf),
                      "readers", JI(r->slow_readers), "stopped", JI(s->slow_paused), "resumed",
                      JI(s->slow_resumed), "closed", JI(s->slow_closed), "owed",
                      JI(r->slow_expected), "received", JI(s->slow_delivered), "seq_gaps",
                      JI(s->slow_gaps), "duplicates", JI(s->slow_dups), "engine_rss_at_stop",
                      JI(r->engine_rss_slow_stop), "engine_rss_peak_after_stop",
                      JI(r->engine_rss_after_stop_peak), "engine_rss_end", JI(r->engine_rss_end),
                      "stop_t", r->t_slow_stop, "kernel_sendq_at_stop", JI(r->sendq_slow_stop),
                      "kernel_sendq_peak", JI(r->sendq_peak), "kernel_sendq_before_resume",
                      JI(r->sendq_end)));
    if (c->admin_port && r->m0.ok && r->m1.ok) {
        const bench_metrics *a = &r->m0, *b = &r->m1;
        json_object_set_new(root, "engine_metrics",
                            json_pack("{s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I},s:I}",
                                      "passed", JI(delta(a->passed, b->passed)), "deliveries",
                                      JI(delta(a->deliveries, b->deliveries)), "frequency_windows",
                                      JI(delta(a->windows, b->windows)), "frequency_dropped",
                                      "high", JI(delta(a->freq_dropped[0], b->freq_dropped[0])),
                                      "normal", JI(delta(a->freq_dropped[1], b->freq_dropped[1])),
                                      "low", JI(delta(a->freq_dropped[2], b->freq_dropped[2])),
                                      "lowest", JI(delta(a->freq_dropped[3], b->freq_dropped[3])),
                                      "slow_consumer", "skipped_low",
                                      JI(delta(a->slow_skipped, b->slow_skipped)), "overrun",
                                      JI(delta(a->slow_overrun, b->slow_overrun)), "closed",
                                      JI(delta(a->slow_closed, b->slow_closed)),
                                      "batch_delay_max_ms", JI(r->batch_delay_max_ms)));
    }
    if (r->mw0.ok && r->mw1.ok)
        json_object_set_new(root, "engine_window",
                            json_pack("{s:I,s:I,s:I}", "sends",
                                      JI(delta(r->mw0.sends, r->mw1.sends)), "send_bytes",
                                      JI(delta(r->mw0.send_bytes, r->mw1.send_bytes)), "deliveries",
                                      JI(delta(r->mw0.deliveries, r->mw1.deliveries))));
    if (r->baseline_ok)
        json_object_set_new(root, "baseline",
                            json_pack("{s:s,s:I,s:I}", "file", c->baseline_path, "p99_us",
                                      JI(r->baseline_p99_us), "this_p99_us",
                                      JI(bench_hist_quantile(&r->lat, 0.99))));
    json_t *per_s = json_array();
    for (size_t i = 0; i < r->nseries; i++) {
        const bench_point *p = &r->series[i];
        json_array_append_new(
            per_s, json_pack("{s:f,s:f,s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I}", "t", p->t, "seconds",
                             p->secs, "deliveries", JI(p->deliveries), "deliveries_per_s",
                             p->secs > 0 ? (double)p->deliveries / p->secs : 0.0, "published",
                             JI(p->published), "p50_us", JI(p->p50_us), "p99_us", JI(p->p99_us),
                             "max_us", JI(p->max_us), "engine_rss", JI(p->engine_rss),
                             "engine_kernel_sendq", JI(p->engine_sendq)));
    }
    json_object_set_new(root, "series", per_s);
    json_t *series = json_array();
    for (size_t i = 0; i < run->nsamples; i++) {
        const bench_sample *p = &run->samples[i];
        json_array_append_new(
            series, json_pack("{s:f,s:i,s:I,s:I,s:I,s:f,s:I,s:f}", "t", p->t, "phase", p->phase,
                              "joined", JI(p->joined), "delivered", JI(p->delivered), "published",
                              JI(p->published), "engine_cpu_s", p->engine_cpu, "engine_rss",
                              JI(p->engine_rss), "self_cpu_s", p->self_cpu));
    }
    json_object_set_new(root, "samples", series);
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_SORT_KEYS) == 0 ? 0 : LR_EIO;
    json_decref(root);
    return rc;
}
