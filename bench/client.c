/*
 * client.c owns the load generator's connections: one worker thread per
 * io_uring, each holding up to BENCH_MAX_CONNS_PER_WORKER sockets in its
 * ring's fixed-file table, so a run can hold far more connections than the
 * process may have file descriptors (20,000 here).
 *
 * Design, and the alternative not taken. A socket is created with plain
 * socket()/setsockopt()/bind(), installed into the ring's table with one
 * files_update for a whole batch, and its descriptor closed at once: the
 * process never holds more than a batch of descriptors. Everything after
 * that (connect, send, multishot receive, shutdown, close) goes through the
 * ring on the fixed slot. Creating sockets directly in the ring
 * (IORING_OP_SOCKET + IORING_OP_BIND) would save two syscalls per
 * connection but cannot set IP_BIND_ADDRESS_NO_PORT or TCP_NODELAY; with
 * IP_BIND_ADDRESS_NO_PORT the port is chosen at connect time per 4-tuple,
 * so each source address 127.0.0.k gives a full ephemeral range and loopback
 * TIME_WAIT sockets of earlier runs are reused instead of exhausting ports.
 *
 * Receiving uses one provided-buffer ring per worker: an idle connection owns
 * no receive buffer; only a frame split across two receives is copied into a
 * per-connection buffer. Each connection has at most one send in flight (a
 * second one could be reordered with the first); later output queues in
 * `out` and goes in the next send, which batches a publisher's messages.
 *
 * A worker never touches another worker's connections or counters, and never
 * blocks except in io_uring_submit_and_wait_timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/sig.h"
#include "bench.h"
#include "wire.h"

enum conn_state {
    CS_IDLE = 0,
    CS_CONNECTING,
    CS_UPGRADING,
    CS_JOINING,
    CS_OPEN,
    CS_CLOSED,
};

enum conn_flag {
    CF_PUB = 1,      /* a publisher */
    CF_RECV = 2,     /* a multishot receive is armed */
    CF_SENDING = 4,  /* a send is in flight */
    CF_FLUSHQ = 8,   /* in the worker's flush queue */
    CF_REARMQ = 16,  /* in the worker's re-arm queue */
    CF_SETUP = 32,   /* counted in setting_up */
    CF_FILE = 64,    /* the fixed slot holds a socket */
    CF_SLOW = 128,   /* a slow reader: stops reading after --slow-after */
    CF_PAUSED = 256, /* a slow reader not reading now: no receive may be armed */
};

enum ud_op { UD_CONNECT = 1, UD_RECV, UD_SEND, UD_SHUTDOWN, UD_CLOSE, UD_CANCEL };
#define UD(i, op) (((uint64_t)(i) << 8) | (uint64_t)(op))

/* Request ids: raw TCP logs in and joins with these; publishers count up
 * from PUB_FIRST_ID; keep-alive pings use their own range. */
#define TCP_LOGIN_ID 1
#define TCP_JOIN_ID 2
#define PUB_FIRST_ID 3
#define PING_ID_BASE (1ull << 40)
#define CONNECT_BATCH 256
#define SIG_EXPIRE_S 86400
#define WAIT_MAX_NS 20000000ull /* workers look at the run's phase this often */
#define PUB_BURST_MAX 16        /* a late rate-mode publisher catches up this much per turn */
#define PUB_SLACK_NS 1000000ull /* rate mode: messages due this soon go out now */
#define LOG_SLACK 1.5           /* check_freq logs: room for this times the planned messages */
#define LOG_EXTRA_S 2.0         /* ... and this many more seconds of them */

static inline bench_cfg *W_CFG(bench_worker *w)
{
    return &w->run->cfg;
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

size_t bench_room_id(const bench_run *run, uint32_t r, char *out, size_t cap)
{
    int n = run->cfg.room_prefix ? snprintf(out, cap, "%s%u", run->cfg.room_prefix, r)
                                 : snprintf(out, cap, "%s-r%u", run->room_tag, r);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

static size_t user_id(const bench_run *run, const bench_conn *c, char *out, size_t cap)
{
    int n = (c->flags & CF_PUB) ? snprintf(out, cap, "%sp%u", run->room_tag, c->g - run->cfg.conns)
                                : snprintf(out, cap, "%su%u", run->room_tag, c->g);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

static struct io_uring_sqe *get_sqe(bench_worker *w)
{
    struct io_uring_sqe *sqe;
    while (!(sqe = io_uring_get_sqe(&w->ring)))
        io_uring_submit(&w->ring);
    return sqe;
}

static void record_err(bench_worker *w, int code)
{
    for (int i = 0; i < BENCH_ERR_CODES; i++) {
        if (w->st.err_code[i] == code || w->st.err_code[i] == 0) {
            w->st.err_code[i] = code;
            BENCH_ADD(w->st.err_count[i], 1);
            return;
        }
    }
}

/* ---- connection lifecycle ---- */

static void setup_done(bench_worker *w, bench_conn *c)
{
    if (c->flags & CF_SETUP) {
        c->flags &= (uint16_t)~CF_SETUP;
        w->setting_up--;
    }
}

static void close_slot(bench_worker *w, uint32_t i)
{
    bench_conn *c = &w->conns[i];
    if (!(c->flags & CF_FILE)) return;
    c->flags &= (uint16_t)~CF_FILE;
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_close_direct(sqe, i);
    io_uring_sqe_set_data64(sqe, UD(i, UD_CLOSE));
}

/* Close a connection; counter is the statistic that says why (may be NULL).
 * An armed receive is ended by a shutdown first, and the slot is closed when
 * that receive completes. */
static void conn_close(bench_worker *w, uint32_t i, uint64_t *counter)
{
    bench_conn *c = &w->conns[i];
    if (c->state == CS_CLOSED) return;
    if (c->state == CS_OPEN && (c->flags & CF_SLOW)) {
        BENCH_ADD(w->slow_joined[c->room], (uint32_t)-1);
        counter = &w->st.slow_closed; /* expected of a slow reader, whatever the cause */
    } else if (c->state == CS_OPEN && !(c->flags & CF_PUB)) {
        BENCH_ADD(w->room_joined[c->room], (uint32_t)-1);
    }
    if (c->state != CS_OPEN && c->state != CS_IDLE) BENCH_ADD(w->st.join_failed, 1);
    setup_done(w, c);
    c->state = CS_CLOSED;
    if (counter) BENCH_ADD(*counter, 1);
    lr_buf_free(&c->in);
    lr_buf_free(&c->out);
    lr_ws_parser_free(&c->ws);
    if (c->flags & CF_RECV) {
        struct io_uring_sqe *sqe = get_sqe(w);
        io_uring_prep_shutdown(sqe, (int)i, SHUT_RDWR);
        sqe->flags |= IOSQE_FIXED_FILE;
        io_uring_sqe_set_data64(sqe, UD(i, UD_SHUTDOWN));
    } else {
        close_slot(w, i);
    }
}

static void queue_flush(bench_worker *w, uint32_t i)
{
    bench_conn *c = &w->conns[i];
    if (c->flags & CF_FLUSHQ) return;
    c->flags |= CF_FLUSHQ;
    w->flushq[w->nflush++] = i;
}

static void submit_send(bench_worker *w, uint32_t i)
{
    bench_conn *c = &w->conns[i];
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_send(sqe, (int)i, c->sending.p + c->send_off, c->sending.len - c->send_off,
                       MSG_NOSIGNAL);
    sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, UD(i, UD_SEND));
    c->flags |= CF_SENDING;
}

static void conn_flush(bench_worker *w, uint32_t i)
{
    bench_conn *c = &w->conns[i];
    if ((c->flags & CF_SENDING) || c->out.len == 0 || c->state == CS_CLOSED) return;
    lr_buf t = c->sending;
    c->sending = c->out;
    c->out = t;
    c->out.len = 0;
    c->sending_msgs = c->out_msgs;
    c->out_msgs = 0;
    c->send_off = 0;
    submit_send(w, i);
}

static void arm_recv(bench_worker *w, uint32_t i)
{
    bench_conn *c = &w->conns[i];
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_recv_multishot(sqe, (int)i, NULL, 0, 0);
    sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
    io_uring_sqe_set_data64(sqe, UD(i, UD_RECV));
    c->flags |= CF_RECV;
}

/* Frame a payload for this connection's transport and queue it. */
static int conn_send(bench_worker *w, uint32_t i, int opcode, const uint8_t *p, size_t n)
{
    bench_conn *c = &w->conns[i];
    int rc;
    if (W_CFG(w)->target == BENCH_TARGET_ENGINE && W_CFG(w)->enc == LR_FMT_TCP) {
        rc = bench_tcp_append(&c->out, p, n);
    } else {
        uint64_t r = lr_rand_next(&w->rng);
        uint8_t mask[4];
        memcpy(mask, &r, sizeof(mask));
        rc = bench_ws_append(&c->out, opcode, p, n, mask);
    }
    if (rc == 0) queue_flush(w, i);
    return rc;
}

static int engine_opcode(const bench_cfg *cfg)
{
    return cfg->enc == LR_FMT_JSON ? LR_WS_OP_TEXT : LR_WS_OP_BINARY;
}

static void joined(bench_worker *w, uint32_t i, uint64_t seq)
{
    bench_conn *c = &w->conns[i];
    uint64_t now = lr_clock_us();
    c->state = CS_OPEN;
    c->last_seq = seq;
    setup_done(w, c);
    bench_hist_add(&w->join, now - c->t_start_us);
    if (w->st.first_join_us == 0) BENCH_ADD(w->st.first_join_us, now);
    __atomic_store_n(&w->st.last_join_us, now, __ATOMIC_RELAXED);
    if (c->flags & CF_SLOW) {
        BENCH_ADD(w->slow_joined[c->room], 1);
        BENCH_ADD(w->st.slow_joined, 1);
    } else if (!(c->flags & CF_PUB)) {
        BENCH_ADD(w->room_joined[c->room], 1);
    }
    BENCH_ADD(w->st.join_ok, 1);
}

static bool needs_login(const bench_run *run, const bench_conn *c)
{
    return run->cfg.target == BENCH_TARGET_ENGINE && !(run->cfg.guests && !(c->flags & CF_PUB));
}

/* Sign every connection's UserSig before connecting: making one costs ~80 µs
 * (zlib), which would otherwise count against the join rate being measured. */
static int presign(bench_worker *w)
{
    bench_run *run = w->run;
    int64_t now = (int64_t)time(NULL);
    for (uint32_t i = 0; i < w->nconns; i++) {
        bench_conn *c = &w->conns[i];
        if (!needs_login(run, c)) continue;
        char user[LR_MAX_USER_ID + 1];
        size_t ul = user_id(run, c, user, sizeof(user));
        if (lr_buf_reserve(&w->sigs, 512) != 0) return -ENOMEM;
        int sl = lr_usersig_make(lr_str_c(run->cfg.secret), run->cfg.app_id, (lr_str){user, ul},
                                 now, SIG_EXPIRE_S, (char *)w->sigs.p + w->sigs.len, 512);
        if (sl < 0) return -EINVAL;
        w->sig_off[i] = (uint32_t)w->sigs.len;
        w->sigs.len += (size_t)sl + 1; /* keep the NUL */
    }
    return 0;
}

static lr_str conn_sig(bench_worker *w, uint32_t i)
{
    const char *s = (const char *)w->sigs.p + w->sig_off[i];
    return (lr_str){s, strlen(s)};
}

/* The upgrade query: log in with a self-signed UserSig (or join as a guest)
 * and join the room, all in the request line. */
static int engine_query(bench_worker *w, uint32_t i, char *q, size_t cap)
{
    bench_run *run = w->run;
    bench_conn *c = &w->conns[i];
    char room[LR_MAX_ROOM_ID + 1], user[LR_MAX_USER_ID + 1], esig[1600];
    if (!bench_room_id(run, c->room, room, sizeof(room))) return LR_EINVAL;
    if (!needs_login(run, c)) {
        int n = snprintf(q, cap, "room=%s", room);
        return n > 0 && (size_t)n < cap ? 0 : LR_ELIMIT;
    }
    user_id(run, c, user, sizeof(user));
    lr_str sig = conn_sig(w, i);
    if (!bench_urlencode(esig, sizeof(esig), sig.p, sig.len)) return LR_ELIMIT;
    int n = snprintf(q, cap, "user=%s&sig=%s&room=%s", user, esig, room);
    return n > 0 && (size_t)n < cap ? 0 : LR_ELIMIT;
}

/* Raw TCP: no upgrade, so log in and join with two pipelined requests. */
static int tcp_login_join(bench_worker *w, uint32_t i)
{
    bench_run *run = w->run;
    bench_conn *c = &w->conns[i];
    char room[LR_MAX_ROOM_ID + 1], user[LR_MAX_USER_ID + 1];
    size_t rl = bench_room_id(run, c->room, room, sizeof(room));
    int rc = 0;
    if (needs_login(run, c)) {
        size_t ul = user_id(run, c, user, sizeof(user));
        lr_buf_reset(&w->scratch);
        rc = bench_req_login(&w->scratch, false, TCP_LOGIN_ID, (lr_str){user, ul}, conn_sig(w, i));
        if (rc == 0) rc = conn_send(w, i, 0, w->scratch.p, w->scratch.len);
    }
    lr_buf_reset(&w->scratch);
    if (rc == 0) rc = bench_req_join(&w->scratch, false, TCP_JOIN_ID, (lr_str){room, rl});
    if (rc == 0) rc = conn_send(w, i, 0, w->scratch.p, w->scratch.len);
    return rc;
}

static void on_connected(bench_worker *w, uint32_t i)
{
    bench_cfg *cfg = W_CFG(w);
    bench_conn *c = &w->conns[i];
    int rc;
    arm_recv(w, i);
    if (cfg->target == BENCH_TARGET_ENGINE && cfg->enc == LR_FMT_TCP) {
        c->state = CS_JOINING;
        rc = tcp_login_join(w, i);
    } else {
        char query[2048], host[96];
        const char *proto = NULL;
        rc = 0;
        if (cfg->target == BENCH_TARGET_ENGINE) {
            rc = engine_query(w, i, query, sizeof(query));
            proto = cfg->enc == LR_FMT_MSGPACK ? "liveroom.v1.msgpack" : "liveroom.v1.json";
        }
        snprintf(host, sizeof(host), "%s:%d", cfg->host, cfg->port);
        c->state = CS_UPGRADING;
        if (rc == 0)
            rc = bench_upgrade_request(&c->out, host, cfg->path,
                                       cfg->target == BENCH_TARGET_ENGINE ? query : NULL, proto,
                                       w->ws_key);
        if (rc == 0) queue_flush(w, i);
    }
    if (rc != 0) conn_close(w, i, &w->st.conn_errors);
}

/* ---- publishers ---- */

/* The priority of this publisher's next message. With a mix, the room's
 * messages, numbered in the order their publishers take turns (publisher j
 * of P sends the room's messages j, P + j, 2P + j, ...), follow the mix
 * pattern, so each priority is spread evenly over time. */
static lr_pri pub_pri(const bench_cfg *cfg, const bench_pub *p)
{
    if (!cfg->mix_len) return cfg->pri;
    uint64_t n = p->seq * cfg->publishers + p->id / cfg->rooms;
    return (lr_pri)cfg->mix_pattern[n % cfg->mix_len];
}

static void pub_send(bench_worker *w, bench_pub *p)
{
    bench_cfg *cfg = W_CFG(w);
    bench_conn *c = &w->conns[p->conn];
    char body[BENCH_BODY_MAX];
    bench_body b = {p->id, p->seq + 1, lr_clock_us()};
    size_t bl = bench_body_make(body, sizeof(body), &b, cfg->size);
    lr_pri pri = pub_pri(cfg, p);
    int rc;
    if (cfg->target == BENCH_TARGET_WS_RELAY) {
        rc = conn_send(w, p->conn, LR_WS_OP_TEXT, (const uint8_t *)body, bl);
        if (rc == 0) c->out_msgs++;
    } else {
        char room[LR_MAX_ROOM_ID + 1];
        size_t rl = bench_room_id(w->run, p->room, room, sizeof(room));
        uint64_t id = p->req_id++;
        lr_buf_reset(&w->scratch);
        rc = bench_req_send(&w->scratch, cfg->enc == LR_FMT_JSON, id, (lr_str){room, rl},
                            (lr_str){body, bl}, pri);
        if (rc == 0) rc = conn_send(w, p->conn, engine_opcode(cfg), w->scratch.p, w->scratch.len);
        p->sent_at[id & (cfg->pub_track - 1)] = b.sent_us << 2 | (uint64_t)pri;
    }
    if (rc != 0) {
        conn_close(w, p->conn, &w->st.conn_errors);
        return;
    }
    BENCH_ADD(p->seq, 1);
    p->inflight++;
    p->sent++;
    BENCH_ADD(w->st.published, 1);
    BENCH_ADD(w->st.pri_sent[pri], 1);
    if (w->ival_cur) w->ival_cur->published++;
}

/* ---- rate-mode schedule: a min-heap of publishers by next due time, so a
 * worker with thousands of publishers (rooms) touches only the due ones ---- */

static void pheap_down(bench_worker *w, uint32_t i)
{
    uint32_t *h = w->pheap, n = w->npheap, x = h[i];
    uint64_t key = w->pubs[x].next_ns;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && w->pubs[h[c + 1]].next_ns < w->pubs[h[c]].next_ns) c++;
        if (w->pubs[h[c]].next_ns >= key) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

/* Every publisher's first message: a room's publishers spread over one
 * period (j / rate), and rooms spread within 1 / rate of each other, so
 * ten thousand rooms do not all publish in the same instant. */
static void pheap_build(bench_worker *w)
{
    bench_cfg *cfg = W_CFG(w);
    for (uint32_t k = 0; k < w->npubs; k++) {
        bench_pub *p = &w->pubs[k];
        double j = (double)(p->id / cfg->rooms), r = (double)p->room / (double)cfg->rooms;
        p->next_ns = w->pub_t0_ns + (uint64_t)((j + r) * 1e9 / cfg->rate);
        w->pheap[k] = k;
    }
    w->npheap = w->npubs;
    for (uint32_t i = w->npheap / 2; i-- > 0;)
        pheap_down(w, i);
    w->pheap_built = true;
}

/* Returns when the next rate-mode message of this worker is due. */
static uint64_t pubs_tick(bench_worker *w, uint64_t now)
{
    bench_cfg *cfg = W_CFG(w);
    if (cfg->rate <= 0) {
        for (uint32_t k = 0; k < w->npubs; k++) {
            bench_pub *p = &w->pubs[k];
            while (p->inflight < cfg->window && w->conns[p->conn].state == CS_OPEN)
                pub_send(w, p);
        }
        return UINT64_MAX;
    }
    if (!w->pheap_built) pheap_build(w);
    while (w->npheap) {
        bench_pub *p = &w->pubs[w->pheap[0]];
        if (p->next_ns > now) break;
        bench_conn *c = &w->conns[p->conn];
        if (c->state == CS_CLOSED) {
            w->pheap[0] = w->pheap[--w->npheap]; /* it will never send again */
            if (w->npheap) pheap_down(w, 0);
            continue;
        }
        int burst = 0;
        while (c->state == CS_OPEN && p->next_ns <= now && burst++ < PUB_BURST_MAX) {
            pub_send(w, p);
            p->next_ns += p->period_ns;
        }
        if (c->state != CS_OPEN && c->state != CS_CLOSED && p->next_ns <= now)
            p->next_ns += p->period_ns; /* not joined yet: try at its next turn */
        if (now > p->next_ns + 1000000000ull) {
            p->next_ns = now; /* more than a second behind: skip, do not flood */
            BENCH_ADD(w->st.late_ticks, 1);
        }
        bool capped = p->next_ns <= now;
        pheap_down(w, 0);
        if (capped) break; /* caught up this much for this turn; the rest next turn */
    }
    return w->npheap ? w->pubs[w->pheap[0]].next_ns : UINT64_MAX;
}

static void pub_ack(bench_worker *w, bench_conn *c, const bench_push *m, bool ok)
{
    bench_cfg *cfg = W_CFG(w);
    bench_pub *p = &w->pubs[c->pub];
    uint64_t now = lr_clock_us();
    lr_pri pri = cfg->pri;
    if (p->inflight) p->inflight--;
    if (m->has_id && m->id >= PUB_FIRST_ID && m->id < p->req_id &&
        p->req_id - m->id <= cfg->pub_track) {
        uint64_t v = p->sent_at[m->id & (cfg->pub_track - 1)], t = v >> 2;
        pri = (lr_pri)(v & 3);
        bench_hist_add(&w->ack, now > t ? now - t : 0);
    }
    bool passed = ok && m->seq > 0 && !m->limited;
    if (ok) {
        if (passed) {
            BENCH_ADD(p->accepted, 1);
            BENCH_ADD(w->st.accepted, 1);
            BENCH_ADD(w->st.pri_ok[pri], 1);
        } else {
            p->limited++;
            BENCH_ADD(w->st.limited, 1);
            BENCH_ADD(w->st.pri_limited[pri], 1);
        }
    } else {
        p->errors++;
        BENCH_ADD(w->st.send_errors, 1);
        BENCH_ADD(w->st.pri_errors[pri], 1);
        if (m->code == LR_ERR_TOO_FAST) BENCH_ADD(w->st.too_fast, 1);
        record_err(w, (int)m->code);
    }
    if (w->acklog && ok) {
        if (w->nacklog < w->acklog_cap)
            w->acklog[w->nacklog++] = (bench_ack_ev){.at_us = now,
                                                     .seq = passed ? m->seq : 0,
                                                     .pri = (uint8_t)pri,
                                                     .limited = (uint8_t)!passed,
                                                     .held = m->held,
                                                     .time_ms = m->time_ms};
        else
            BENCH_ADD(w->st.acklog_full, 1);
    }
}

/* ---- receiving ---- */

static void ival_update(bench_worker *w, int ph);

/* The hot path: once per delivered message on every receiver. Counters
 * and histogram buckets only; no allocation, no lock. */
static void deliver(bench_worker *w, bench_conn *c, const bench_body *b, uint64_t seq,
                    uint64_t *last, int pri)
{
    if (c->flags & CF_SLOW) {
        /* slow readers have figures of their own: the others' are the test */
        if (seq <= *last) {
            BENCH_ADD(w->st.slow_dups, 1);
            return;
        }
        if (seq > *last + 1) BENCH_ADD(w->st.slow_gaps, seq - *last - 1);
        *last = seq;
        BENCH_ADD(w->st.slow_delivered, 1);
        return;
    }
    if (seq <= *last) {
        BENCH_ADD(w->st.dups, 1); /* a duplicate or a reordering: either is a bug */
        return;
    }
    if (seq > *last + 1) BENCH_ADD(w->st.gaps, seq - *last - 1);
    *last = seq;
    uint64_t now = lr_clock_us(), lat = now > b->sent_us ? now - b->sent_us : 0;
    bench_hist_add(&w->lat, lat);
    /* a worker that read the phase just before publishing began may take
     * another worker's first frames in the same turn: every delivery of
     * the run belongs to a second of the series */
    if (!w->ival_cur) ival_update(w, __atomic_load_n(&w->run->phase, __ATOMIC_ACQUIRE));
    if (w->ival_cur) bench_hist_add(&w->ival_cur->lat, lat);
    if (w->room_delivered) w->room_delivered[c->room]++;
    BENCH_ADD(w->st.delivered, 1);
    if (pri >= 0 && pri < LR_PRI_COUNT)
        BENCH_ADD(w->st.pri[pri], 1);
    else
        BENCH_ADD(w->st.pri_unknown, 1);
}

static void on_relay_message(bench_worker *w, uint32_t i, const uint8_t *p, size_t n)
{
    bench_conn *c = &w->conns[i];
    bench_body b;
    if (!bench_body_find(p, n, &b)) {
        BENCH_ADD(w->st.other_frames, 1);
        return;
    }
    if (c->flags & CF_PUB) {
        bench_pub *pub = &w->pubs[c->pub];
        if (b.pub == pub->id && b.seq <= pub->seq) {
            /* a relay that echoes to the sender gives the window a real
             * acknowledgement: from now on in flight = sent - echoed */
            BENCH_ADD(w->st.self_echo, 1);
            pub->echo_acks = true;
            pub->inflight = (uint32_t)(pub->seq - b.seq);
        }
        return;
    }
    if (b.pub >= w->run->total_pubs) {
        BENCH_ADD(w->st.unmarked, 1);
        return;
    }
    uint64_t *last = &w->relay_last[(size_t)(c->g / w->run->nworkers) * w->run->total_pubs + b.pub];
    deliver(w, c, &b, b.seq, last, -1);
}

static void on_engine_message(bench_worker *w, uint32_t i, const uint8_t *p, size_t n)
{
    bench_cfg *cfg = W_CFG(w);
    bench_conn *c = &w->conns[i];
    bench_push m;
    int rc = cfg->enc == LR_FMT_JSON ? bench_push_scan_json(p, n, &m)
                                     : bench_push_scan_msgpack(p, n, &m);
    if (rc != 0) {
        BENCH_ADD(w->st.bad_frames, 1);
        return;
    }
    if (lr_str_eq_c(m.op, "msg")) {
        if (c->flags & CF_PUB) return;
        bench_body b;
        if (!m.has_body || !bench_body_parse(m.body.p, m.body.len, &b)) {
            BENCH_ADD(w->st.unmarked, 1);
            return;
        }
        if (w->seqlog && c->g == 0 && m.seq > c->last_seq) {
            if (w->nseqlog < w->seqlog_cap)
                w->seqlog[w->nseqlog++] = (bench_seq_time){m.seq, m.time_ms};
            else
                BENCH_ADD(w->st.seqlog_full, 1);
        }
        deliver(w, c, &b, m.seq, &c->last_seq, lr_pri_parse(m.pri));
        return;
    }
    bool ok = lr_str_eq_c(m.op, "ok");
    if (ok || lr_str_eq_c(m.op, "err")) {
        bool tcp = cfg->enc == LR_FMT_TCP;
        if (c->state == CS_JOINING) {
            if (ok && m.id == (tcp ? TCP_JOIN_ID : 0)) {
                joined(w, i, m.seq);
            } else if (!ok) {
                record_err(w, (int)m.code);
                conn_close(w, i, NULL);
            }
            return;
        }
        if ((c->flags & CF_PUB) && m.id >= PUB_FIRST_ID && m.id < PING_ID_BASE) {
            pub_ack(w, c, &m, ok);
            return;
        }
        if (!ok) record_err(w, (int)m.code);
        BENCH_ADD(w->st.other_frames, 1);
        return;
    }
    if (lr_str_eq_c(m.op, "bye")) w->st.last_close_code = (int)m.code;
    BENCH_ADD(w->st.other_frames, 1);
}

static void on_upgraded(bench_worker *w, uint32_t i)
{
    bench_cfg *cfg = W_CFG(w);
    if (cfg->target == BENCH_TARGET_ENGINE) {
        w->conns[i].state = CS_JOINING; /* the first frame is the reply with id 0 */
        return;
    }
    joined(w, i, 0);
    if (cfg->subscribe && conn_send(w, i, LR_WS_OP_TEXT, (const uint8_t *)cfg->subscribe,
                                    strlen(cfg->subscribe)) != 0)
        conn_close(w, i, &w->st.conn_errors);
}

/* Consume whole frames from p[0..n); returns the bytes used. */
static size_t conn_consume(bench_worker *w, uint32_t i, uint8_t *p, size_t n)
{
    bench_cfg *cfg = W_CFG(w);
    bench_conn *c = &w->conns[i];
    size_t off = 0;
    if (c->state == CS_UPGRADING) {
        int status;
        int h = bench_upgrade_response(p, n, w->ws_accept, &status);
        if (h == 0) return 0;
        if (h < 0) {
            w->st.last_http_status = status;
            conn_close(w, i, &w->st.upgrade_failed);
            return n;
        }
        off = (size_t)h;
        on_upgraded(w, i);
    }
    bool tcp = cfg->target == BENCH_TARGET_ENGINE && cfg->enc == LR_FMT_TCP;
    while (off < n && c->state != CS_CLOSED) {
        if (tcp) {
            const uint8_t *msg;
            size_t ml, used;
            int r = bench_tcp_parse(p + off, n - off, BENCH_MAX_MESSAGE, &msg, &ml, &used);
            if (r == 0) break;
            if (r < 0) {
                conn_close(w, i, &w->st.protocol_errors);
                return n;
            }
            off += used;
            on_engine_message(w, i, msg, ml);
            continue;
        }
        lr_ws_event ev;
        size_t used = 0;
        int r = lr_ws_parse(&c->ws, p + off, n - off, &used, &ev);
        if (r < 0) {
            conn_close(w, i, &w->st.protocol_errors);
            return n;
        }
        off += used;
        if (r == 0) {
            if (used == 0) break;
            continue;
        }
        switch (ev.kind) {
        case LR_WS_EV_MESSAGE:
            if (cfg->target == BENCH_TARGET_ENGINE)
                on_engine_message(w, i, ev.data, ev.len);
            else
                on_relay_message(w, i, ev.data, ev.len);
            break;
        case LR_WS_EV_PING:
            BENCH_ADD(w->st.pings, 1);
            if (conn_send(w, i, LR_WS_OP_PONG, ev.data, ev.len) != 0)
                conn_close(w, i, &w->st.conn_errors);
            break;
        case LR_WS_EV_PONG:
            break;
        case LR_WS_EV_CLOSE:
            w->st.last_close_code = ev.close_code;
            conn_close(w, i, &w->st.closed_by_peer);
            break;
        }
    }
    return off;
}

static void conn_input(bench_worker *w, uint32_t i, uint8_t *data, size_t len)
{
    bench_conn *c = &w->conns[i];
    BENCH_ADD(w->st.bytes_in, len);
    if (c->flags & CF_SLOW) BENCH_ADD(w->st.slow_bytes, len);
    if (c->in.len == 0) {
        size_t used = conn_consume(w, i, data, len);
        if (c->state != CS_CLOSED && used < len &&
            lr_buf_append(&c->in, data + used, len - used) != 0)
            conn_close(w, i, &w->st.conn_errors);
        return;
    }
    if (lr_buf_append(&c->in, data, len) != 0) {
        conn_close(w, i, &w->st.conn_errors);
        return;
    }
    size_t used = conn_consume(w, i, c->in.p, c->in.len);
    if (c->state == CS_CLOSED) return;
    memmove(c->in.p, c->in.p + used, c->in.len - used);
    c->in.len -= used;
    if (c->in.len == 0 && c->in.cap > 16384) lr_buf_free(&c->in);
}

/* ---- completions ---- */

static void buf_return(bench_worker *w, uint16_t bid)
{
    io_uring_buf_ring_add(w->br, w->bufs + (size_t)bid * w->buf_size, w->buf_size, bid,
                          io_uring_buf_ring_mask(w->nbufs), (int)w->buf_pending++);
}

static void on_cqe(bench_worker *w, struct io_uring_cqe *cqe)
{
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    uint32_t i = (uint32_t)(ud >> 8);
    int op = (int)(ud & 0xff), res = cqe->res;
    bench_conn *c = &w->conns[i];
    switch (op) {
    case UD_CONNECT:
        if (c->state == CS_CLOSED) break;
        if (res < 0) {
            w->st.last_errno = -res;
            conn_close(w, i, &w->st.connect_failed);
            break;
        }
        on_connected(w, i);
        break;
    case UD_RECV:
        BENCH_ADD(w->st.recv_cqes, 1);
        if (res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
            uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            if (c->state != CS_CLOSED)
                conn_input(w, i, w->bufs + (size_t)bid * w->buf_size, (size_t)res);
            buf_return(w, bid);
        }
        if (!(cqe->flags & IORING_CQE_F_MORE)) {
            c->flags &= (uint16_t)~CF_RECV;
            if (c->state == CS_CLOSED) {
                close_slot(w, i);
            } else if (res == 0) {
                conn_close(w, i, &w->st.closed_by_peer);
            } else if ((c->flags & CF_PAUSED) &&
                       (res > 0 || res == -ENOBUFS || res == -ECANCELED)) {
                /* a slow reader stopped reading: leave the socket unread */
            } else if (res > 0 || res == -ENOBUFS) {
                if (res == -ENOBUFS) BENCH_ADD(w->st.enobufs, 1);
                if (!(c->flags & CF_REARMQ)) {
                    c->flags |= CF_REARMQ;
                    w->rearmq[w->nrearm++] = i;
                }
            } else {
                w->st.last_errno = -res;
                conn_close(w, i, &w->st.conn_errors);
            }
        }
        break;
    case UD_SEND:
        if (c->state == CS_CLOSED || res < 0) {
            c->flags &= (uint16_t)~CF_SENDING;
            lr_buf_free(&c->sending);
            if (res < 0 && c->state != CS_CLOSED) {
                w->st.last_errno = -res;
                conn_close(w, i, &w->st.conn_errors);
            }
            break;
        }
        BENCH_ADD(w->st.bytes_out, (uint64_t)res);
        c->send_off += (uint32_t)res;
        if (c->send_off < c->sending.len) {
            submit_send(w, i); /* a short send: the rest goes next */
            break;
        }
        c->flags &= (uint16_t)~CF_SENDING;
        c->sending.len = 0;
        if ((c->flags & CF_PUB) && W_CFG(w)->target == BENCH_TARGET_WS_RELAY &&
            !w->pubs[c->pub].echo_acks) {
            bench_pub *p = &w->pubs[c->pub];
            p->inflight -= c->sending_msgs < p->inflight ? c->sending_msgs : p->inflight;
        }
        c->sending_msgs = 0;
        if (c->out.len) {
            conn_flush(w, i);
        } else if (!(c->flags & CF_PUB)) {
            /* receivers send rarely (upgrade, pongs): keep no buffers */
            lr_buf_free(&c->sending);
            lr_buf_free(&c->out);
        }
        break;
    default:
        break; /* shutdown and close results need no action */
    }
}

/* ---- opening connections ---- */

static void start_connects(bench_worker *w)
{
    bench_cfg *cfg = W_CFG(w);
    while (w->next_connect < w->nconns && w->setting_up < cfg->connect_window) {
        uint32_t first = w->next_connect, n = w->nconns - first;
        if (n > cfg->connect_window - w->setting_up) n = cfg->connect_window - w->setting_up;
        if (n > CONNECT_BATCH) n = CONNECT_BATCH;
        int fds[CONNECT_BATCH];
        uint32_t made = 0;
        int err = 0;
        for (; made < n; made++) {
            bench_conn *c = &w->conns[first + made];
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                err = errno;
                break;
            }
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            if ((c->flags & CF_SLOW) && cfg->slow_rcvbuf) {
                /* before connect, so the window it advertises is small too */
                int rb = (int)cfg->slow_rcvbuf;
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
            }
            if (cfg->src_addrs > 0) {
                struct sockaddr_in src = {.sin_family = AF_INET};
                src.sin_addr.s_addr = htonl(0x7f000001u + c->g % cfg->src_addrs);
                setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
                if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
                    err = errno;
                    close(fd);
                    break;
                }
            }
            fds[made] = fd;
        }
        int rc = made ? io_uring_register_files_update(&w->ring, first, fds, made) : 0;
        for (uint32_t k = 0; k < made; k++)
            close(fds[k]);
        uint64_t now = lr_clock_us();
        for (uint32_t k = 0; k < made; k++) {
            uint32_t i = first + k;
            bench_conn *c = &w->conns[i];
            c->t_start_us = now;
            c->flags |= CF_SETUP;
            w->setting_up++;
            BENCH_ADD(w->st.connect_started, 1);
            if (rc < 0 || (uint32_t)rc <= k) {
                w->st.last_errno = rc < 0 ? -rc : EBADF;
                c->state = CS_CONNECTING;
                conn_close(w, i, &w->st.connect_failed);
                continue;
            }
            c->flags |= CF_FILE;
            c->state = CS_CONNECTING;
            struct io_uring_sqe *sqe = get_sqe(w);
            io_uring_prep_connect(sqe, (int)i, (struct sockaddr *)&w->dst, sizeof(w->dst));
            sqe->flags |= IOSQE_FIXED_FILE;
            io_uring_sqe_set_data64(sqe, UD(i, UD_CONNECT));
        }
        w->next_connect += made;
        if (made < n) {
            /* this socket could not be made: count it and go on */
            bench_conn *c = &w->conns[w->next_connect++];
            w->st.last_errno = err;
            BENCH_ADD(w->st.connect_started, 1);
            c->state = CS_CONNECTING;
            conn_close(w, (uint32_t)(c - w->conns), &w->st.connect_failed);
        }
    }
}

/* Raw TCP has no WebSocket ping: every connection sends a `ping` op once per
 * keep-alive period, spread over the period one slice per second. */
static void keepalive(bench_worker *w, uint64_t now)
{
    bench_cfg *cfg = W_CFG(w);
    if (cfg->target != BENCH_TARGET_ENGINE || cfg->enc != LR_FMT_TCP || cfg->keepalive <= 0) return;
    uint64_t tick = now / 1000000000ull;
    if (tick == w->keepalive_tick) return;
    w->keepalive_tick = tick;
    uint32_t period = (uint32_t)cfg->keepalive, slice = (uint32_t)(tick % period);
    for (uint32_t i = 0; i < w->next_connect; i++) {
        bench_conn *c = &w->conns[i];
        if (c->state != CS_OPEN || c->g % period != slice) continue;
        lr_buf_reset(&w->scratch);
        if (bench_req_ping(&w->scratch, false, PING_ID_BASE + tick) != 0 ||
            conn_send(w, i, 0, w->scratch.p, w->scratch.len) != 0)
            conn_close(w, i, &w->st.conn_errors);
    }
}

/* ---- the worker ---- */

/* Point deliveries and sends at the current second of the series. */
static void ival_update(bench_worker *w, int ph)
{
    if (!w->ivals || ph < BENCH_PH_PUBLISH) return;
    uint64_t now = lr_clock_us();
    if (w->ival_cur && now < w->ival_end_us) return;
    uint64_t t0 = w->run->t_pub0_us, k = now > t0 ? (now - t0) / BENCH_IVAL_US : 0;
    if (k >= w->nivals) k = w->nivals - 1; /* a late straggler: the last second */
    w->ival_cur = &w->ivals[k];
    w->ival_end_us = k + 1 < w->nivals ? t0 + (k + 1) * BENCH_IVAL_US : UINT64_MAX;
}

/* Slow readers stop reading --slow-after seconds into publishing (their
 * multishot receive is cancelled and never re-armed, the socket stays
 * open), and read again once the drain is over so that what they missed
 * can be counted. */
static void slow_readers(bench_worker *w, int ph, uint64_t now_ns_)
{
    bench_cfg *cfg = W_CFG(w);
    if (!w->slow_stopped && (ph == BENCH_PH_PUBLISH || ph == BENCH_PH_DRAIN) && w->pub_t0_ns &&
        now_ns_ >= w->pub_t0_ns + (uint64_t)(cfg->slow_after * 1e9)) {
        w->slow_stopped = true;
        for (uint32_t k = 0; k < w->nslow; k++) {
            uint32_t i = w->slowq[k];
            bench_conn *c = &w->conns[i];
            if (c->state == CS_CLOSED) continue;
            c->flags |= CF_PAUSED;
            BENCH_ADD(w->st.slow_paused, 1);
            if (!(c->flags & CF_RECV)) continue;
            struct io_uring_sqe *sqe = get_sqe(w);
            io_uring_prep_cancel64(sqe, UD(i, UD_RECV), 0);
            io_uring_sqe_set_data64(sqe, UD(i, UD_CANCEL));
        }
    }
    if (!w->slow_resumed && ph == BENCH_PH_RESUME) {
        w->slow_resumed = true;
        for (uint32_t k = 0; k < w->nslow; k++) {
            uint32_t i = w->slowq[k];
            bench_conn *c = &w->conns[i];
            if (!(c->flags & CF_PAUSED)) continue;
            c->flags &= (uint16_t)~CF_PAUSED;
            if (c->state == CS_CLOSED) continue;
            BENCH_ADD(w->st.slow_resumed, 1);
            if (!(c->flags & CF_RECV)) arm_recv(w, i);
        }
    }
}

static int worker_setup(bench_worker *w)
{
    bench_run *run = w->run;
    bench_cfg *cfg = &run->cfg;
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
              IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = 65536;
    int rc = io_uring_queue_init_params(4096, &w->ring, &p);
    if (rc == -EINVAL) {
        memset(&p, 0, sizeof(p));
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = 65536;
        rc = io_uring_queue_init_params(4096, &w->ring, &p);
    }
    if (rc < 0) return rc;
    w->running = true;
    if (w->nconns && (rc = io_uring_register_files_sparse(&w->ring, w->nconns)) < 0) return rc;

    w->nbufs = cfg->recv_bufs;
    w->buf_size = cfg->recv_buf_size;
    size_t ring_bytes = (size_t)w->nbufs * sizeof(struct io_uring_buf);
    void *br;
    if (posix_memalign(&br, 4096, ring_bytes) != 0) return -ENOMEM;
    memset(br, 0, ring_bytes);
    w->br = br;
    if (!(w->bufs = malloc((size_t)w->nbufs * w->buf_size))) return -ENOMEM;
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)w->br;
    reg.ring_entries = w->nbufs;
    reg.bgid = 0;
    if ((rc = io_uring_register_buf_ring(&w->ring, &reg, 0)) < 0) return rc;
    io_uring_buf_ring_init(w->br);
    for (uint32_t b = 0; b < w->nbufs; b++)
        buf_return(w, (uint16_t)b);
    io_uring_buf_ring_advance(w->br, (int)w->buf_pending);
    w->buf_pending = 0;
    return presign(w);
}

static void worker_loop(bench_worker *w)
{
    bench_run *run = w->run;
    bench_cfg *cfg = &run->cfg;
    bool publishing = false;
    for (;;) {
        int ph = __atomic_load_n(&run->phase, __ATOMIC_ACQUIRE);
        if (ph == BENCH_PH_STOP) break;
        uint64_t now = now_ns(), wait = WAIT_MAX_NS;
        if (ph >= BENCH_PH_CONNECT) start_connects(w);
        ival_update(w, ph);
        if (w->nslow) slow_readers(w, ph, now);
        if (ph == BENCH_PH_PUBLISH) {
            if (!publishing) {
                publishing = true;
                /* one origin for every worker: publishers spread over a
                 * period stay spread when they live on different threads */
                w->pub_t0_ns = run->t_pub0_us * 1000;
            }
            /* rate mode sends what is due within the slack now: thousands of
             * publishers (rooms) then cost a wake-up per slack, not per send */
            uint64_t next = pubs_tick(w, cfg->rate > 0 ? now + PUB_SLACK_NS : now);
            if (cfg->rate <= 0 && w->npubs) wait = WAIT_MAX_NS / 20;
            if (next != UINT64_MAX) {
                uint64_t t = now_ns();
                uint64_t d = next > t ? next - t : 0;
                if (d < wait) wait = d;
            }
        }
        keepalive(w, now);
        for (uint32_t k = 0; k < w->nflush; k++) {
            w->conns[w->flushq[k]].flags &= (uint16_t)~CF_FLUSHQ;
            conn_flush(w, w->flushq[k]);
        }
        w->nflush = 0;

        struct __kernel_timespec ts = {.tv_sec = (long long)(wait / 1000000000ull),
                                       .tv_nsec = (long long)(wait % 1000000000ull)};
        struct io_uring_cqe *cqe;
        io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
        ival_update(w, ph);
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&w->ring, head, cqe)
        {
            on_cqe(w, cqe);
            seen++;
        }
        io_uring_cq_advance(&w->ring, seen);
        if (w->buf_pending) {
            io_uring_buf_ring_advance(w->br, (int)w->buf_pending);
            w->buf_pending = 0;
        }
        for (uint32_t k = 0; k < w->nrearm; k++) {
            uint32_t i = w->rearmq[k];
            w->conns[i].flags &= (uint16_t)~CF_REARMQ;
            if (w->conns[i].state != CS_CLOSED && !(w->conns[i].flags & (CF_RECV | CF_PAUSED)))
                arm_recv(w, i);
        }
        w->nrearm = 0;
    }
}

static void worker_teardown(bench_worker *w)
{
    /* exiting the ring closes every socket still in its fixed-file table */
    if (w->running) io_uring_queue_exit(&w->ring);
    w->running = false;
    for (uint32_t i = 0; i < w->nconns; i++) {
        bench_conn *c = &w->conns[i];
        lr_buf_free(&c->in);
        lr_buf_free(&c->out);
        lr_buf_free(&c->sending);
        lr_ws_parser_free(&c->ws);
    }
    free(w->br);
    free(w->bufs);
    w->br = NULL;
    w->bufs = NULL;
}

static void *worker_main(void *arg)
{
    bench_worker *w = arg;
    w->setup_err = worker_setup(w);
    __atomic_store_n(&w->ready, 1, __ATOMIC_RELEASE);
    if (w->setup_err == 0) worker_loop(w);
    worker_teardown(w);
    return NULL;
}

/* Lay out one worker's connections: global number g = i × workers + id;
 * the first cfg.conns numbers are receivers, the rest publishers. */
static int worker_init(bench_run *run, bench_worker *w, uint32_t id)
{
    bench_cfg *cfg = &run->cfg;
    w->run = run;
    w->id = id;
    w->rng = ((uint64_t)getpid() << 20) ^ (id + 1) * 0x9e3779b97f4a7c15ULL ^ lr_clock_us();
    w->nconns =
        run->total_conns > id ? (run->total_conns - id + run->nworkers - 1) / run->nworkers : 0;
    bench_hist_init(&w->lat);
    bench_hist_init(&w->join);
    bench_hist_init(&w->ack);
    w->conns = calloc(w->nconns ? w->nconns : 1, sizeof(*w->conns));
    w->flushq = calloc(w->nconns ? w->nconns : 1, sizeof(*w->flushq));
    w->rearmq = calloc(w->nconns ? w->nconns : 1, sizeof(*w->rearmq));
    w->room_joined = calloc(cfg->rooms, sizeof(*w->room_joined));
    w->slow_joined = calloc(cfg->rooms, sizeof(*w->slow_joined));
    w->sig_off = calloc(w->nconns ? w->nconns : 1, sizeof(*w->sig_off));
    if (!w->sig_off || !w->conns || !w->flushq || !w->rearmq || !w->room_joined || !w->slow_joined)
        return LR_ENOMEM;
    uint32_t npubs = 0, nslow = 0;
    for (uint32_t i = 0; i < w->nconns; i++) {
        uint32_t g = i * run->nworkers + id;
        if (g >= cfg->conns) npubs++;
        if (bench_is_slow(cfg, g)) nslow++;
    }
    w->pubs = calloc(npubs ? npubs : 1, sizeof(*w->pubs));
    w->sent_at = calloc((size_t)(npubs ? npubs : 1) * cfg->pub_track, sizeof(*w->sent_at));
    w->pheap = calloc(npubs ? npubs : 1, sizeof(*w->pheap));
    w->slowq = calloc(nslow ? nslow : 1, sizeof(*w->slowq));
    if (!w->pubs || !w->sent_at || !w->pheap || !w->slowq) return LR_ENOMEM;
    if (cfg->publish) {
        /* the series: every second of publish + drain + resume, and one
         * more for stragglers */
        double secs = cfg->duration + cfg->drain + (nslow ? cfg->slow_resume : 0) + 2;
        w->nivals = (uint32_t)secs + 1;
        w->ivals = calloc(w->nivals, sizeof(*w->ivals));
        if (!w->ivals) return LR_ENOMEM;
        for (uint32_t k = 0; k < w->nivals; k++)
            bench_hist_init(&w->ivals[k].lat);
        if (cfg->rooms > 1) {
            w->room_delivered = calloc(cfg->rooms, sizeof(*w->room_delivered));
            if (!w->room_delivered) return LR_ENOMEM;
        }
    }
    if (cfg->check_freq && cfg->publish && cfg->rate > 0) {
        double planned = cfg->rate * cfg->rooms * (cfg->duration + LOG_EXTRA_S) * LOG_SLACK;
        uint32_t cap = planned > 1e7 ? 10000000u : (uint32_t)planned + 256;
        if (npubs) {
            w->acklog = calloc(cap, sizeof(*w->acklog));
            if (!w->acklog) return LR_ENOMEM;
            w->acklog_cap = cap;
        }
        if (id == 0 && cfg->conns) { /* connection g = 0 logs what it receives */
            w->seqlog = calloc(cap, sizeof(*w->seqlog));
            if (!w->seqlog) return LR_ENOMEM;
            w->seqlog_cap = cap;
        }
    }
    if (cfg->target == BENCH_TARGET_WS_RELAY && run->total_pubs) {
        w->relay_last = calloc((size_t)w->nconns * run->total_pubs, sizeof(*w->relay_last));
        if (!w->relay_last) return LR_ENOMEM;
    }
    for (uint32_t i = 0; i < w->nconns; i++) {
        bench_conn *c = &w->conns[i];
        c->g = i * run->nworkers + id;
        lr_ws_parser_init(&c->ws, false, BENCH_MAX_MESSAGE);
        if (c->g < cfg->conns) {
            c->room = c->g % cfg->rooms;
            if (bench_is_slow(cfg, c->g)) {
                c->flags |= CF_SLOW;
                w->slowq[w->nslow++] = i;
            }
            continue;
        }
        bench_pub *p = &w->pubs[w->npubs];
        p->sent_at = w->sent_at + (size_t)w->npubs * cfg->pub_track;
        c->flags |= CF_PUB;
        c->pub = w->npubs++;
        p->conn = i;
        p->id = c->g - cfg->conns;
        p->room = p->id % cfg->rooms;
        c->room = p->room;
        p->req_id = PUB_FIRST_ID;
        if (cfg->rate > 0) p->period_ns = (uint64_t)((double)cfg->publishers * 1e9 / cfg->rate);
    }
    w->dst.sin_family = AF_INET;
    w->dst.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, cfg->host, &w->dst.sin_addr) != 1) return LR_EINVAL;
    uint8_t key[16];
    if (RAND_bytes(key, sizeof(key)) != 1) return LR_EIO;
    EVP_EncodeBlock((unsigned char *)w->ws_key, key, sizeof(key));
    char accept[29];
    lr_ws_accept_key(w->ws_key, strlen(w->ws_key), accept);
    memcpy(w->ws_accept, accept, sizeof(accept));
    return 0;
}

int bench_workers_create(bench_run *run)
{
    run->workers = calloc(run->nworkers, sizeof(*run->workers));
    if (!run->workers) return LR_ENOMEM;
    for (uint32_t id = 0; id < run->nworkers; id++) {
        int rc = worker_init(run, &run->workers[id], id);
        if (rc != 0) return rc;
    }
    for (uint32_t id = 0; id < run->nworkers; id++) {
        bench_worker *w = &run->workers[id];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) return LR_EIO;
        w->started = true;
    }
    for (uint32_t id = 0; id < run->nworkers; id++) {
        bench_worker *w = &run->workers[id];
        while (!__atomic_load_n(&w->ready, __ATOMIC_ACQUIRE))
            usleep(1000);
        if (w->setup_err) {
            fprintf(stderr, "liveroom-bench: worker %u: setup failed: %s\n", id,
                    strerror(-w->setup_err));
            return LR_EIO;
        }
    }
    return 0;
}

void bench_workers_join(bench_run *run)
{
    __atomic_store_n(&run->phase, BENCH_PH_STOP, __ATOMIC_RELEASE);
    for (uint32_t id = 0; id < run->nworkers; id++)
        if (run->workers[id].started) pthread_join(run->workers[id].thread, NULL);
}

void bench_workers_free(bench_run *run)
{
    if (!run->workers) return;
    for (uint32_t id = 0; id < run->nworkers; id++) {
        bench_worker *w = &run->workers[id];
        free(w->conns);
        free(w->flushq);
        free(w->rearmq);
        free(w->room_joined);
        free(w->slow_joined);
        free(w->room_delivered);
        free(w->slowq);
        free(w->ivals);
        free(w->acklog);
        free(w->seqlog);
        free(w->sent_at);
        free(w->pheap);
        free(w->pubs);
        free(w->relay_last);
        free(w->sig_off);
        lr_buf_free(&w->sigs);
        lr_buf_free(&w->scratch);
    }
    free(run->workers);
    run->workers = NULL;
}
