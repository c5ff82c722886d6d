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
        fprintf(out, ", %u-byte bodies, pri %s, %.1f s (+%.1f s drain)\n", c->size,
                lr_pri_name(c->pri), r->t_publish, r->t_window - r->t_publish);
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
        double loss = r->expected ? 100.0 * (double)r->lost / (double)r->expected : 0;
        fprintf(out,
                "  deliveries    expected %llu   delivered %llu   lost %llu (%.3f %%)   dups %llu  "
                " gaps %llu\n",
                LLU(r->expected), LLU(s->delivered), LLU(r->lost), loss, LLU(s->dups),
                LLU(s->gaps));
        fprintf(out, "  by priority   high %llu   normal %llu   low %llu   lowest %llu",
                LLU(s->pri[0]), LLU(s->pri[1]), LLU(s->pri[2]), LLU(s->pri[3]));
        if (s->pri_unknown) fprintf(out, "   unlabelled %llu", LLU(s->pri_unknown));
        fprintf(out, "\n  throughput    %.0f deliveries/s over %.2f s\n", r->deliveries_per_s,
                r->t_window);
        fprintf(out, "latency (publish -> receive)\n");
        print_hist(out, "delivery", &r->lat);
        if (c->target == BENCH_TARGET_ENGINE) print_hist(out, "send -> ok", &r->ack);
    }

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
