/*
 * server.c: the admin API on its own loop. A request is parsed with the
 * same strict HTTP parser as the client port, authenticated and validated
 * (admin_cmd.h), then routed: room commands to the room's home shard, user
 * commands to the user's home shard, broadcasts handled here. The
 * connection serves one request at a time (pipelined requests wait in its
 * input buffer), and is answered when the home shard (or, for a change,
 * the store thread after the commit) posts LR_IM_ADMIN_DONE back. Never
 * blocks and never touches room or user state itself.
 */
#include "admin/server.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "admin/metrics_text.h"
#include "core/engine.h"
#include "core/log.h"
#include "hooks/hooks.h"
#include "net/http.h"
#include "room/imsg.h"
#include "room/room.h"

#define LR_BROADCAST_DEDUPE_MS (5 * 60 * 1000)
#define LR_BROADCAST_MAX_RATE 5
#define LR_BROADCAST_SEEN (LR_BROADCAST_MAX_RATE * 300) /* 5 min at the top rate */

typedef struct seen_random {
    uint32_t random;
    uint64_t at_ms;
} seen_random;

typedef struct admin_state {
    lr_admin_auth_cfg auth;
    uint64_t sent_at[LR_BROADCAST_MAX_RATE]; /* last broadcasts, for the rate */
    uint32_t sent_head;
    seen_random seen[LR_BROADCAST_SEEN];
    uint32_t seen_head;
    uint64_t rng;
} admin_state;

/* get_group_info over rooms on several shards: parts arrive in any order. */
typedef struct gather {
    lr_admin_cmd *cmd;
    uint32_t pending;
    json_t *parts; /* array, one slot per GroupId */
} gather;

static admin_state *state(lr_shard *sh)
{
    if (!sh->admin_state) {
        admin_state *st = calloc(1, sizeof(*st));
        if (!st) return NULL;
        lr_engine *e = sh->eng;
        lr_admin_auth_cfg_init(&st->auth, (lr_str){e->secret, e->secret_len}, sh->cfg->app_id);
        st->auth.sig = sh->sig;
        st->auth.nadmins = e->nadmins;
        for (uint32_t i = 0; i < e->nadmins && i < LR_ADMIN_MAX_ADMINS; i++)
            st->auth.admins[i] = lr_str_c(e->admins[i]);
        st->rng = lr_clock_us() | 1;
        sh->admin_state = st;
    }
    return sh->admin_state;
}

void lr_admin_free(lr_shard *sh)
{
    free(sh->admin_state);
    sh->admin_state = NULL;
}

/* ---- replies ---- */

/* A reply made while the request is being consumed lets the consume loop
 * go on; one that arrives later (async) restarts the parsing of pipelined
 * requests waiting in the input buffer. */
static void finish(lr_shard *sh, lr_conn *c, bool async)
{
    c->flags &= ~LR_CF_BUSY;
    lr_conn_mark_dirty(sh, c);
    if (c->flags & LR_CF_ADMIN_CLOSE)
        lr_conn_close(sh, c, 0, 0, NULL);
    else if (async)
        lr_conn_resume_input(sh, c);
}

static void reply_as(lr_shard *sh, lr_conn *c, int code, const char *info, json_t *extra,
                     bool async)
{
    if (code) lr_stats_error(sh, code);
    lr_buf *o = lr_conn_out(c);
    if (!o || lr_admin_reply(o, code, info, extra, !(c->flags & LR_CF_ADMIN_CLOSE)) != 0) {
        lr_conn_abort(sh, c);
        return;
    }
    finish(sh, c, async);
}

static void reply(lr_shard *sh, lr_conn *c, int code, const char *info, json_t *extra)
{
    reply_as(sh, c, code, info, extra, false);
}

static void http_reply(lr_shard *sh, lr_conn *c, int status, const char *type, const void *body,
                       size_t len)
{
    lr_buf *o = lr_conn_out(c);
    if (!o ||
        lr_admin_http_response(o, status, type, body, len, !(c->flags & LR_CF_ADMIN_CLOSE)) != 0) {
        lr_conn_abort(sh, c);
        return;
    }
    finish(sh, c, false);
}

void lr_admin_done_post(lr_shard *sh, lr_conn_ref conn, int code, const char *info, json_t *extra)
{
    lr_im_admin_done *d = lr_imsg_new(LR_IM_ADMIN_DONE, sizeof(*d));
    if (!d) {
        json_decref(extra);
        return;
    }
    d->conn = conn;
    d->code = code;
    snprintf(d->info, sizeof(d->info), "%s", info ? info : "");
    d->extra = extra;
    lr_shard_post(sh, conn.shard, &d->h);
}

void lr_admin_on_done(lr_shard *sh, lr_imsg *im)
{
    lr_im_admin_done *d = (lr_im_admin_done *)im;
    lr_conn *c = lr_conn_get(sh, d->conn);
    if (d->gather) {
        gather *g = d->gather;
        json_array_set_new(g->parts, d->idx, d->extra ? d->extra : json_object());
        d->extra = NULL;
        if (--g->pending == 0) {
            if (c) reply_as(sh, c, 0, NULL, json_pack("{s:O}", "GroupInfo", g->parts), true);
            json_decref(g->parts);
            lr_admin_cmd_free(g->cmd);
            free(g->cmd);
            free(g);
        }
    } else if (c) {
        reply_as(sh, c, d->code, d->info, d->extra, true);
        d->extra = NULL;
    }
    json_decref(d->extra);
    free(d);
}

/* ---- metrics ---- */

static void render_metrics(lr_shard *sh, lr_buf *out)
{
    lr_engine *e = sh->eng;
    uint64_t conns = 0, accepts = 0, msgs_in = 0, passed = 0, deliveries = 0, sends = 0, bytes = 0;
    uint64_t limited[LR_PRI_COUNT] = {0}, skipped = 0, overrun = 0, slow_closed = 0, bad = 0;
    uint64_t joins = 0, leaves = 0, turns = 0;
    uint64_t by_kind[LR_CONN_KINDS] = {0};
    for (uint32_t i = 0; i < e->nthreads; i++) {
        lr_shard_stats *s = &e->shards[i].st;
        conns += atomic_load(&s->conns);
        accepts += atomic_load(&s->accepts);
        msgs_in += atomic_load(&s->msgs_in);
        passed += atomic_load(&s->msgs_passed);
        deliveries += atomic_load(&s->deliveries);
        sends += atomic_load(&s->sends);
        bytes += atomic_load(&s->send_bytes);
        for (int p = 0; p < LR_PRI_COUNT; p++)
            limited[p] += atomic_load(&s->limited[p]);
        skipped += atomic_load(&s->slow_skipped);
        overrun += atomic_load(&s->slow_overrun);
        slow_closed += atomic_load(&s->slow_closed);
        bad += atomic_load(&s->bad_frames);
        joins += atomic_load(&s->joins);
        leaves += atomic_load(&s->leaves);
        turns += atomic_load(&s->turns);
        for (int k = 0; k < LR_CONN_KINDS; k++)
            by_kind[k] += atomic_load(&s->conns_by_kind[k]);
    }
    static const char *const kinds[LR_CONN_KINDS][2] = {{"http", "none"},
                                                        {"websocket", "json"},
                                                        {"websocket", "msgpack"},
                                                        {"tcp", "msgpack"},
                                                        {"admin", "json"}};
    for (int k = 0; k < LR_CONN_KINDS; k++) {
        lr_prom_label l[] = {{"transport", kinds[k][0]}, {"encoding", kinds[k][1]}, {NULL, NULL}};
        lr_prom_gauge(out, "liveroom_connections", "Open connections by transport and encoding", l,
                      (double)by_kind[k]);
    }
    lr_prom_counter(out, "liveroom_accepts_total", "Connections accepted", NULL, accepts);
    lr_prom_gauge(out, "liveroom_rooms", "Rooms held in memory", NULL,
                  (double)atomic_load(&e->nrooms));
    lr_prom_counter(out, "liveroom_joins_total", "Room joins", NULL, joins);
    lr_prom_counter(out, "liveroom_leaves_total", "Room leaves", NULL, leaves);
    lr_prom_counter(out, "liveroom_frames_received_total", "Client frames received", NULL, msgs_in);
    lr_prom_counter(out, "liveroom_messages_passed_total",
                    "Room messages that passed frequency control", NULL, passed);
    lr_prom_counter(out, "liveroom_deliveries_total", "Pushes copied to a connection", NULL,
                    deliveries);
    lr_prom_counter(out, "liveroom_sends_total", "Socket sends submitted", NULL, sends);
    lr_prom_counter(out, "liveroom_send_bytes_total", "Bytes submitted to sockets", NULL, bytes);
    for (int p = 0; p < LR_PRI_COUNT; p++) {
        lr_prom_label l[] = {{"priority", lr_pri_name((lr_pri)p)}, {NULL, NULL}};
        lr_prom_counter(out, "liveroom_frequency_dropped_total",
                        "Messages dropped by room frequency control", l, limited[p]);
    }
    static const char *const slow[] = {"skipped_low", "overrun", "closed"};
    uint64_t slow_v[] = {skipped, overrun, slow_closed};
    for (int k = 0; k < 3; k++) {
        lr_prom_label l[] = {{"kind", slow[k]}, {NULL, NULL}};
        lr_prom_counter(out, "liveroom_slow_consumer_events_total",
                        "Slow-consumer events: frames skipped, cursor jumps, closes", l, slow_v[k]);
    }
    lr_prom_counter(out, "liveroom_bad_frames_total", "Malformed client frames", NULL, bad);
    uint64_t windows = 0;
    for (uint32_t i = 0; i < e->nthreads; i++)
        windows += atomic_load(&e->shards[i].st.freq_windows);
    lr_prom_counter(out, "liveroom_frequency_windows_total",
                    "Times a room at its rate started holding messages for a window", NULL,
                    windows);
    for (uint32_t c = 0; c < LR_ERR_SLOTS; c++) {
        uint64_t v = 0;
        for (uint32_t i = 0; i < e->nthreads; i++)
            v += atomic_load(&e->shards[i].st.errors[c]);
        char code[16];
        snprintf(code, sizeof(code), "%d", lr_err_slot_code(c));
        lr_prom_label l[] = {{"code", code}, {NULL, NULL}};
        lr_prom_counter(out, "liveroom_errors_total", "Error replies sent, by code", l, v);
    }
    /* per-shard families, one family at a time (samples must be contiguous) */
    static const struct {
        const char *name, *help;
        bool gauge;
    } per_shard[] = {
        {"liveroom_loop_turns_total", "Event loop turns per shard", false},
        {"liveroom_loop_busy_seconds", "Time each shard has spent working (not waiting)", true},
        {"liveroom_ring_depth", "Messages waiting in a shard's inbound rings", true},
        {"liveroom_batch_delay_seconds", "Current fan-out batching delay of each shard", true},
        {"liveroom_shard_connections", "Open connections of each shard", true},
    };
    for (size_t f = 0; f < LR_ARRAY_LEN(per_shard); f++) {
        for (uint32_t i = 0; i < e->nthreads; i++) {
            lr_shard *s = &e->shards[i];
            char id[16];
            snprintf(id, sizeof(id), "%u", i);
            lr_prom_label l[] = {{"shard", id}, {NULL, NULL}};
            double v = 0;
            if (f == 0) v = (double)atomic_load(&s->st.turns);
            if (f == 1) v = atomic_load(&s->st.busy_us) / 1e6;
            if (f == 2)
                for (uint32_t j = 0; j < e->nthreads; j++)
                    v += s->in[j] ? lr_spsc_depth(s->in[j]) : 0;
            if (f == 3) v = s->batch.delay_ms / 1000.0;
            if (f == 4) v = (double)atomic_load(&s->st.conns);
            if (per_shard[f].gauge)
                lr_prom_gauge(out, per_shard[f].name, per_shard[f].help, l, v);
            else
                lr_prom_counter(out, per_shard[f].name, per_shard[f].help, l, (uint64_t)v);
        }
    }
    {
        const lr_store_stats *ss = lr_store_get_stats(e->store);
        double bounds[LR_STORE_LATENCY_BUCKETS - 1];
        uint64_t counts[LR_STORE_LATENCY_BUCKETS];
        for (int i = 0; i < LR_STORE_LATENCY_BUCKETS; i++) {
            counts[i] = atomic_load(&ss->latency_bucket[i]);
            if (i < LR_STORE_LATENCY_BUCKETS - 1) bounds[i] = lr_store_latency_le_ms[i] / 1000.0;
        }
        lr_prom_histogram(out, "liveroom_store_commit_seconds",
                          "Store commit time per batch (one transaction)", NULL, bounds,
                          LR_STORE_LATENCY_BUCKETS - 1, counts,
                          atomic_load(&ss->latency_sum_us) / 1e6);
        lr_prom_counter(out, "liveroom_store_writes_total", "Writes committed to the store", NULL,
                        atomic_load(&ss->writes));
        lr_prom_counter(out, "liveroom_store_failures_total", "Store batches that failed", NULL,
                        atomic_load(&ss->failures));
    }
    if (e->hooks) {
        const lr_hooks_stats *hs = lr_hooks_get_stats(e->hooks);
        lr_prom_counter(out, "liveroom_callbacks_sent_total", "Callbacks answered by the backend",
                        NULL, atomic_load(&hs->sent));
        static const char *const fails[] = {"failed", "timeout", "retried", "dropped"};
        uint64_t v[] = {atomic_load(&hs->failed), atomic_load(&hs->timeouts),
                        atomic_load(&hs->retried), atomic_load(&hs->dropped)};
        for (int k = 0; k < 4; k++) {
            lr_prom_label l[] = {{"kind", fails[k]}, {NULL, NULL}};
            lr_prom_counter(out, "liveroom_callback_failures_total",
                            "Callbacks that failed, timed out, were retried or dropped", l, v[k]);
        }
        double bounds[LR_HOOKS_LATENCY_BUCKETS - 1];
        uint64_t counts[LR_HOOKS_LATENCY_BUCKETS], prev = 0;
        for (int i = 0; i < LR_HOOKS_LATENCY_BUCKETS; i++) {
            uint64_t cum = atomic_load(&hs->latency_bucket[i]);
            counts[i] = cum >= prev ? cum - prev : 0;
            prev = cum;
            if (i < LR_HOOKS_LATENCY_BUCKETS - 1) bounds[i] = lr_hooks_latency_le_ms[i] / 1000.0;
        }
        lr_prom_histogram(out, "liveroom_callback_latency_seconds", "Callback round trip time",
                          NULL, bounds, LR_HOOKS_LATENCY_BUCKETS - 1, counts,
                          atomic_load(&hs->latency_sum_us) / 1e6);
    }
    (void)turns;
    (void)conns;
}

/* ---- broadcast ---- */

typedef struct bcast_ctx {
    const lr_admin_msg *m;
    const char *from;
    int64_t time_ms;
} bcast_ctx;

static void encode_broadcast(lr_enc *e, void *arg)
{
    bcast_ctx *b = arg;
    lr_enc_map(e, 6);
    lr_enc_key(e, "op");
    lr_enc_cstr(e, "broadcast");
    lr_enc_key(e, "from");
    lr_enc_cstr(e, b->from);
    lr_enc_key(e, "body");
    lr_enc_body(e, b->m->type == LR_TYPE_TEXT ? LR_BODY_STR : LR_BODY_JSON, b->m->body.p,
                b->m->body.len);
    lr_enc_key(e, "type");
    lr_enc_cstr(e, lr_type_name(b->m->type));
    lr_enc_key(e, "time");
    lr_enc_i64(e, b->time_ms);
    lr_enc_key(e, "random");
    lr_enc_u64(e, b->m->random);
    lr_enc_map_end(e);
}

static void broadcast(lr_shard *sh, lr_conn *c, admin_state *st, const lr_admin_cmd *cmd,
                      const char *who)
{
    lr_engine *e = sh->eng;
    const lr_admin_msg *m = &cmd->u.msg;
    uint64_t now = sh->now_ms;
    for (uint32_t i = 0; i < LR_BROADCAST_SEEN; i++)
        if (st->seen[i].at_ms && now - st->seen[i].at_ms < LR_BROADCAST_DEDUPE_MS &&
            st->seen[i].random == m->random) {
            reply(sh, c, 0, NULL, NULL); /* the same Random again: already done */
            return;
        }
    uint32_t rate = sh->cfg->broadcast_rate;
    uint64_t oldest = st->sent_at[st->sent_head % rate];
    if (oldest && now - oldest < 1000) {
        reply(sh, c, LR_ERR_FREQ_LIMIT, "broadcast rate limit", NULL);
        return;
    }
    if (m->body.len > sh->cfg->max_body) {
        reply(sh, c, LR_ERR_BODY_TOO_LARGE, "message body too large", NULL);
        return;
    }
    bcast_ctx b = {m, m->from.p ? m->from.p : who, lr_wall_ms()};
    lr_frame *f = lr_frame_build(&sh->scratch, &sh->scratch2, encode_broadcast, &b);
    if (!f) {
        reply(sh, c, LR_ERR_INTERNAL, "out of memory", NULL);
        return;
    }
    f->kind = LR_FRAME_BROADCAST;
    f->pri = LR_PRI_HIGH;
    st->sent_at[st->sent_head % rate] = now;
    st->sent_head = (st->sent_head + 1) % rate;
    st->seen[st->seen_head] = (seen_random){m->random, now};
    st->seen_head = (st->seen_head + 1) % LR_BROADCAST_SEEN;
    lr_frame_ref(f, e->nshards);
    for (uint32_t j = 0; j < e->nshards; j++)
        lr_frame_post(sh, j, LR_IM_BROADCAST, f);
    lr_frame_unref(f);
    reply(sh, c, 0, NULL, NULL);
}

/* ---- routing ---- */

static void gen_group_id(admin_state *st, char *out, size_t cap)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    char tail[11];
    for (int i = 0; i < 10; i++)
        tail[i] = al[lr_rand_next(&st->rng) % (sizeof(al) - 1)];
    tail[10] = 0;
    snprintf(out, cap, "@TGS#2%s", tail);
}

static void dispatch(lr_shard *sh, lr_conn *c, admin_state *st, lr_admin_cmd *cmd, const char *who)
{
    lr_engine *e = sh->eng;
    lr_conn_ref ref = lr_conn_ref_of(sh, c);
    switch (cmd->op) {
    case LR_ADMIN_SEND_BROADCAST_MSG:
        broadcast(sh, c, st, cmd, who);
        lr_admin_cmd_free(cmd);
        free(cmd);
        return;
    case LR_ADMIN_GET_GROUP_INFO: {
        gather *g = calloc(1, sizeof(*g));
        size_t n = cmd->u.info.ids.n;
        if (!g || !(g->parts = json_array())) {
            free(g);
            lr_admin_cmd_free(cmd);
            free(cmd);
            reply(sh, c, LR_ERR_INTERNAL, "out of memory", NULL);
            return;
        }
        g->cmd = cmd;
        g->pending = (uint32_t)n;
        for (size_t i = 0; i < n; i++)
            json_array_append_new(g->parts, json_null());
        c->flags |= LR_CF_BUSY;
        for (size_t i = 0; i < n; i++) {
            lr_im_admin *m = lr_imsg_new(LR_IM_ADMIN, sizeof(*m));
            if (!m) continue; /* would leave the request hanging: abort instead */
            m->conn = ref;
            m->cmd = cmd;
            m->group = cmd->u.info.ids.v[i].p;
            m->gather = g;
            m->idx = (uint32_t)i;
            snprintf(m->who, sizeof(m->who), "%s", who);
            lr_shard_post(sh, lr_shard_of(e, m->group, strlen(m->group)), &m->h);
        }
        return;
    }
    case LR_ADMIN_ACCOUNT_IMPORT:
    case LR_ADMIN_KICK: {
        lr_str u = cmd->op == LR_ADMIN_KICK ? cmd->u.kick.user : cmd->u.account.user;
        lr_im_admin *m = lr_imsg_new(LR_IM_ADMIN, sizeof(*m));
        if (!m) break;
        m->conn = ref;
        m->cmd = cmd;
        snprintf(m->who, sizeof(m->who), "%s", who);
        c->flags |= LR_CF_BUSY;
        lr_shard_post(sh, lr_shard_of(e, u.p, u.len), &m->h);
        return;
    }
    default: {
        char gen[LR_MAX_ROOM_ID + 1];
        if (cmd->op == LR_ADMIN_CREATE_GROUP && !cmd->group_id.p) {
            gen_group_id(st, gen, sizeof(gen));
            cmd->group_id = lr_str_c(strdup(gen));
            cmd->owned_body = (char *)cmd->group_id.p; /* freed with the command */
            if (!cmd->group_id.p) break;
        }
        lr_im_admin *m = lr_imsg_new(LR_IM_ADMIN, sizeof(*m));
        if (!m) break;
        m->conn = ref;
        m->cmd = cmd;
        snprintf(m->who, sizeof(m->who), "%s", who);
        c->flags |= LR_CF_BUSY;
        lr_shard_post(sh, lr_shard_of(e, cmd->group_id.p, cmd->group_id.len), &m->h);
        return;
    }
    }
    lr_admin_cmd_free(cmd);
    free(cmd);
    reply(sh, c, LR_ERR_INTERNAL, "out of memory", NULL);
}

static void handle_v4(lr_shard *sh, lr_conn *c, const lr_http_req *req, const char *body,
                      size_t len)
{
    admin_state *st = state(sh);
    if (!st) {
        reply(sh, c, LR_ERR_INTERNAL, "out of memory", NULL);
        return;
    }
    /* /v4/<service>/<command> */
    const char *p = req->path.p + 4, *end = req->path.p + req->path.len;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    if (!slash) {
        reply(sh, c, LR_ERR_UNKNOWN_OP, "unknown command", NULL);
        return;
    }
    lr_str svc = {p, (size_t)(slash - p)}, cmdname = {slash + 1, (size_t)(end - slash - 1)};
    char who[LR_MAX_USER_ID + 1];
    int code = lr_admin_auth(req->query, &st->auth, lr_wall_ms() / 1000, who, sizeof(who));
    if (code) {
        reply(sh, c, code, "authentication failed", NULL);
        return;
    }
    lr_admin_cmd *cmd = calloc(1, sizeof(*cmd));
    char info[LR_ADMIN_MAX_ERRINFO];
    if (!cmd) {
        reply(sh, c, LR_ERR_INTERNAL, "out of memory", NULL);
        return;
    }
    code = lr_admin_parse(svc, cmdname, body, len, cmd, info, sizeof(info));
    if (code) {
        lr_admin_cmd_free(cmd);
        free(cmd);
        reply(sh, c, code, info, NULL);
        return;
    }
    dispatch(sh, c, st, cmd, who);
}

int lr_admin_consume(lr_shard *sh, lr_conn *c, const char *p, size_t n)
{
    lr_http_req req;
    int rc = lr_http_parse_request(p, n, LR_MAX_HTTP_HEAD, &req);
    if (rc == LR_HTTP_INCOMPLETE) return 0;
    if (rc < 0) {
        c->flags |= LR_CF_ADMIN_CLOSE;
        const char *reason = lr_http_reason(-rc);
        http_reply(sh, c, -rc, "text/plain", reason, strlen(reason));
        return -1;
    }
    if (req.chunked) {
        c->flags |= LR_CF_ADMIN_CLOSE;
        http_reply(sh, c, 411, "text/plain", "Length Required", 15);
        return -1;
    }
    size_t cl = req.content_length > 0 ? (size_t)req.content_length : 0;
    if (cl > LR_ADMIN_MAX_BODY) {
        /* refused before the body arrives: the rest of it is never buffered */
        c->flags |= LR_CF_ADMIN_CLOSE;
        reply(sh, c, LR_ERR_BODY_TOO_LARGE, "request body above 1 MiB", NULL);
        return -1;
    }
    if (n - (size_t)rc < cl) return 0;
    if (!req.keep_alive) c->flags |= LR_CF_ADMIN_CLOSE;
    const char *body = p + rc;
    c->flags |= LR_CF_BUSY;
    if (req.path.len > 4 && !memcmp(req.path.p, "/v4/", 4)) {
        if (!lr_str_eq_c(req.method, "POST")) {
            http_reply(sh, c, 405, "text/plain", "Method Not Allowed", 18);
        } else {
            handle_v4(sh, c, &req, body, cl);
        }
    } else if (lr_str_eq_c(req.path, "/healthz")) {
        http_reply(sh, c, 200, "text/plain", "ok\n", 3);
    } else if (lr_str_eq_c(req.path, "/readyz")) {
        bool ready = lr_store_check(sh->eng->store) == 0 && !atomic_load(&sh->eng->stop);
        http_reply(sh, c, ready ? 200 : 503, "text/plain", ready ? "ready\n" : "not ready\n",
                   ready ? 6 : 10);
    } else if (lr_str_eq_c(req.path, "/metrics")) {
        lr_buf out = {0};
        render_metrics(sh, &out);
        http_reply(sh, c, 200, LR_PROM_CONTENT_TYPE, out.p, out.len);
        lr_buf_free(&out);
    } else {
        http_reply(sh, c, 404, "text/plain", "Not Found", 9);
    }
    return rc + (int)cl;
}
