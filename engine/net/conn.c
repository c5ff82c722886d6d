/*
 * conn.c: the life of a client connection on its shard: accept into a
 * fixed-file slot, multishot receive into the shard's provided buffers,
 * framing (HTTP upgrade, WebSocket, length-prefixed TCP), the one send in
 * flight, polite and abrupt closes, and the ping/idle/slow-consumer sweeps.
 * An idle connection owns no buffer and no I/O state: input bytes are
 * copied out of the provided buffer only when a frame is incomplete, and
 * the I/O state (partial input, the send in flight, WebSocket reassembly)
 * is attached while bytes move and released when the connection is quiet. Never blocks; never frees
 * a connection while the kernel may still complete an operation on it (it is reaped at the end of
 * the turn once its receive and send have both ended).
 */
#include "net/conn.h"

#include <stdlib.h>
#include <sys/socket.h>

#include "core/engine.h"
#include "core/log.h"
#include "admin/server.h"
#include "net/upgrade.h"
#include "proto/codec.h"
#include "proto/session.h"
#include "room/room.h"

#define LR_PEND_MAX (1u << 20)  /* replies a client leaves unread: then it is closed */
#define LR_CLOSE_LINGER_MS 2000 /* wait this long for the peer after our close frame */

static void arm_recv(lr_shard *sh, lr_conn *c)
{
    struct io_uring_sqe *sqe = lr_shard_sqe(sh);
    io_uring_prep_recv_multishot(sqe, (int)c->slot, NULL, 0, 0);
    sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
    sqe->user_data = LR_UD(c, LR_UD_RECV);
    c->flags |= LR_CF_RECV;
}

void lr_conn_accept(lr_shard *sh, uint32_t slot, uint8_t proto)
{
    lr_engine *e = sh->eng;
    lr_conn *c = calloc(1, sizeof(*c));
    if (!c || slot >= sh->nfiles) {
        free(c);
        struct io_uring_sqe *sqe = lr_shard_sqe(sh);
        io_uring_prep_close_direct(sqe, slot);
        sqe->user_data = LR_UD(NULL, LR_UD_IGNORE);
        return;
    }
    c->slot = slot;
    c->gen = ++sh->next_gen ? sh->next_gen : ++sh->next_gen;
    c->proto = proto;
    c->fmt = proto == LR_PROTO_TCP ? LR_FMT_TCP : LR_FMT_JSON;
    c->last_rx_ms = (uint32_t)sh->now_ms;
    sh->conns[slot] = c;
    sh->nconns++;
    atomic_fetch_add_explicit(&sh->st.accepts, 1, memory_order_relaxed);
    lr_steer_note(&e->steer, atomic_fetch_add_explicit(&sh->st.conns, 1, memory_order_relaxed) + 1);
    atomic_fetch_add_explicit(&sh->st.conns_by_kind[lr_conn_kind(c)], 1, memory_order_relaxed);
    uint32_t total = atomic_fetch_add_explicit(&e->nconns, 1, memory_order_relaxed) + 1;
    arm_recv(sh, c);
    if (total > sh->cfg->max_conns) {
        /* a clear error instead of a silent reset */
        if (proto == LR_PROTO_HTTP) {
            static const char resp[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
                                       "text/plain\r\nContent-Length: 21\r\nConnection: "
                                       "close\r\n\r\ntoo many connections\n";
            lr_buf *o = lr_conn_out(c);
            if (o) lr_buf_append(o, resp, sizeof(resp) - 1);
        }
        lr_conn_close(sh, c, LR_WS_CLOSE_TRY_LATER, LR_WS_CLOSE_TRY_LATER, "too many connections");
    }
}

int lr_conn_set_identity(lr_conn *c, lr_str user, lr_str nick, lr_str avatar)
{
    char *b = malloc(user.len + nick.len + avatar.len + 3);
    if (!b) return LR_ENOMEM;
    char *p = b;
    lr_str parts[3] = {user, nick, avatar};
    char *starts[3];
    for (int i = 0; i < 3; i++) {
        starts[i] = p; /* lr_conn_nick/avatar find the rest after the NULs */
        if (parts[i].len) memcpy(p, parts[i].p, parts[i].len);
        p += parts[i].len;
        *p++ = 0;
    }
    free(c->user);
    c->user = starts[0];
    return LR_OK;
}

lr_conn *lr_conn_get(lr_shard *sh, lr_conn_ref ref)
{
    if (ref.shard != sh->id || ref.slot >= sh->nfiles) return NULL;
    lr_conn *c = sh->conns[ref.slot];
    if (!c || c->gen != ref.gen || (c->flags & LR_CF_CLOSING)) return NULL;
    return c;
}

static void enqueue(lr_conn **head, lr_conn **tail, lr_conn *c)
{
    c->flags |= LR_CF_DIRTY;
    c->dirty_next = NULL;
    if (*head)
        (*tail)->dirty_next = c;
    else
        *head = c;
    *tail = c;
}

static lr_conn *dequeue(lr_conn **head)
{
    lr_conn *c = *head;
    *head = c->dirty_next;
    c->flags &= ~LR_CF_DIRTY;
    return c;
}

void lr_conn_mark_dirty(lr_shard *sh, lr_conn *c)
{
    if (c->flags & (LR_CF_DIRTY | LR_CF_DEAD | LR_CF_HOLD)) return;
    enqueue(&sh->dirty_head, &sh->dirty_tail, c);
}

void lr_conn_unhold(lr_shard *sh, lr_conn *c)
{
    if (!(c->flags & LR_CF_HOLD)) return;
    c->flags &= ~LR_CF_HOLD;
    lr_conn_mark_dirty(sh, c);
}

void lr_conn_mark_due(lr_shard *sh, lr_conn *c)
{
    c->flags |= LR_CF_DUE;
    if (c->flags & (LR_CF_DIRTY | LR_CF_DEAD | LR_CF_HOLD)) return; /* its send takes them */
    enqueue(&sh->due_head, &sh->due_tail, c);
}

/* The connection's I/O state, attached on first use; NULL on ENOMEM. */
static lr_conn_io *conn_io(lr_conn *c)
{
    if (c->io) return c->io;
    lr_conn_io *io = calloc(1, sizeof(*io));
    if (!io) return NULL;
    io->conn = c;
    c->io = io;
    return io;
}

lr_buf *lr_conn_out(lr_conn *c)
{
    lr_conn_io *io = conn_io(c);
    return io ? &io->pend : NULL;
}

static void io_free(lr_conn *c)
{
    lr_conn_io *io = c->io;
    if (!io) return;
    lr_dlist_remove(&io->send_node);
    lr_buf_free(&io->rx);
    lr_buf_free(&io->out);
    lr_buf_free(&io->pend);
    if (io->wsp_live) lr_ws_parser_free(&io->wsp);
    free(io);
    c->io = NULL;
}

/* Give the I/O state back once nothing is in flight or half-read. */
static void io_release_if_quiet(lr_conn *c)
{
    lr_conn_io *io = c->io;
    if (!io || (c->flags & (LR_CF_SEND | LR_CF_FLUSH_CLOSE | LR_CF_DEAD)) || io->rx.len ||
        io->out.len || io->pend.len || io->wsp_live)
        return;
    io_free(c);
}

/* The slot is closed only when nothing can still act on it: a shutdown or
 * cancel that ran after the close would hit the next connection the kernel
 * accepts into the same slot. */
static void maybe_reap(lr_shard *sh, lr_conn *c)
{
    if (!(c->flags & LR_CF_DEAD) || (c->flags & (LR_CF_RECV | LR_CF_SEND)) || c->aux) return;
    if (c->flags & LR_CF_DIRTY) return; /* already queued */
    c->flags |= LR_CF_DIRTY;
    c->dirty_next = sh->reap_head;
    sh->reap_head = c;
}

static void conn_free(lr_conn *c)
{
    io_free(c);
    free(c->user); /* nick and avatar live in the same block */
    free(c);
}

static void reap(lr_shard *sh)
{
    while (sh->reap_head) {
        lr_conn *c = sh->reap_head;
        sh->reap_head = c->dirty_next;
        struct io_uring_sqe *sqe = lr_shard_sqe(sh);
        io_uring_prep_close_direct(sqe, c->slot);
        sqe->user_data = LR_UD(NULL, LR_UD_IGNORE);
        sh->conns[c->slot] = NULL;
        sh->nconns--;
        atomic_fetch_sub_explicit(&sh->eng->nconns, 1, memory_order_relaxed);
        lr_steer_note(&sh->eng->steer,
                      atomic_fetch_sub_explicit(&sh->st.conns, 1, memory_order_relaxed) - 1);
        atomic_fetch_sub_explicit(&sh->st.conns_by_kind[lr_conn_kind(c)], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&sh->st.closes, 1, memory_order_relaxed);
        conn_free(c);
    }
}

/* Leave rooms and log out: from now on nobody delivers to c. */
static void detach(lr_shard *sh, lr_conn *c)
{
    if (c->flags & LR_CF_CLOSING) return;
    c->flags |= LR_CF_CLOSING;
    lr_fanout_detach(sh, c);
    lr_session_on_close(sh, c);
}

static void cancel_op(lr_shard *sh, lr_conn *c, uint64_t user_data)
{
    struct io_uring_sqe *sqe = lr_shard_sqe(sh);
    io_uring_prep_cancel64(sqe, user_data, 0);
    sqe->user_data = LR_UD(c, LR_UD_AUX);
    c->aux++;
}

void lr_conn_abort(lr_shard *sh, lr_conn *c)
{
    if (c->flags & LR_CF_DEAD) return;
    detach(sh, c);
    c->flags |= LR_CF_DEAD;
    if (c->io) lr_dlist_remove(&c->io->send_node);
    /* By user_data, which the kernel finds in its cancel hash. A cancel by
     * slot scans every request of the ring: draining 16,000 connections of
     * a shard made 16,000 scans of 16,000 and took 30 s at 100,000. */
    if (c->flags & LR_CF_RECV) cancel_op(sh, c, LR_UD(c, LR_UD_RECV));
    if (c->flags & LR_CF_SEND) cancel_op(sh, c, LR_UD(c, LR_UD_SEND));
    maybe_reap(sh, c);
}

/* false when out of memory */
static bool append_ws_control(lr_conn *c, int opcode, const uint8_t *payload, size_t len)
{
    uint8_t hdr[LR_WS_MAX_HEADER];
    size_t h = lr_ws_header_encode(hdr, opcode, len);
    lr_buf *o = lr_conn_out(c);
    return o && lr_buf_append(o, hdr, h) == LR_OK && lr_buf_append(o, payload, len) == LR_OK;
}

void lr_conn_close(lr_shard *sh, lr_conn *c, uint16_t ws_code, int bye_code, const char *msg)
{
    if (c->flags & (LR_CF_CLOSING | LR_CF_DEAD)) return;
    c->flags &= ~LR_CF_HOLD;
    detach(sh, c);
    if (msg && (c->proto == LR_PROTO_WS || c->proto == LR_PROTO_TCP)) {
        lr_enc e;
        size_t off = lr_conn_reply_begin(sh, c, &e);
        lr_enc_map(&e, 3);
        lr_enc_key(&e, "op");
        lr_enc_cstr(&e, "bye");
        lr_enc_key(&e, "code");
        lr_enc_i64(&e, bye_code);
        lr_enc_key(&e, "msg");
        lr_enc_cstr(&e, msg);
        lr_enc_map_end(&e);
        lr_conn_reply_end(sh, c, off, &e);
    }
    if (c->flags & LR_CF_DEAD) return; /* the bye could not be built */
    if (c->proto == LR_PROTO_WS) {
        uint8_t payload[125];
        size_t n = lr_ws_close_payload(payload, ws_code, msg ? msg : "");
        if (!append_ws_control(c, LR_WS_OP_CLOSE, payload, n)) {
            lr_conn_abort(sh, c);
            return;
        }
    }
    lr_conn_io *io = conn_io(c); /* the linger deadline lives there */
    if (!io) {
        lr_conn_abort(sh, c);
        return;
    }
    c->flags |= LR_CF_FLUSH_CLOSE;
    io->send_since_ms = sh->now_ms;
    lr_dlist_move_tail(&sh->send_list, &io->send_node);
    lr_conn_mark_dirty(sh, c);
}

size_t lr_conn_reply_begin(lr_shard *sh, lr_conn *c, lr_enc *e)
{
    bool json = c->fmt == LR_FMT_JSON;
    lr_buf *o = lr_conn_out(c);
    size_t off = o ? lr_frame_begin(o) : LR_FRAME_ERR;
    if (off == LR_FRAME_ERR) {
        /* out of memory: encode into scratch, end aborts the connection */
        sh->scratch.len = 0;
        lr_enc_init(e, &sh->scratch, json);
        return LR_FRAME_ERR;
    }
    lr_enc_init(e, o, json);
    return off;
}

void lr_conn_reply_end(lr_shard *sh, lr_conn *c, size_t off, lr_enc *e)
{
    lr_buf *o = c->io ? &c->io->pend : NULL;
    if (off == LR_FRAME_ERR || !o || lr_enc_finish(e) != 0) {
        /* out of memory mid-reply: the client cannot be answered */
        if (off != LR_FRAME_ERR && o) o->len = off;
        sh->scratch.len = 0;
        LR_WARN("event=close reason=reply_failed shard=%u slot=%u", sh->id, c->slot);
        lr_conn_abort(sh, c);
        return;
    }
    size_t start = lr_frame_end(o, off, (lr_fmt)c->fmt);
    if (start > off) {
        memmove(o->p + off, o->p + start, o->len - start);
        o->len -= start - off;
    }
    if (o->len > LR_PEND_MAX) {
        LR_INFO("event=close reason=replies_unread shard=%u slot=%u", sh->id, c->slot);
        lr_conn_abort(sh, c);
        return;
    }
    lr_conn_mark_dirty(sh, c);
}

void lr_conn_reply_raw(lr_shard *sh, lr_conn *c, const void *p, size_t len)
{
    lr_buf *o = lr_conn_out(c);
    if (!o || lr_buf_append(o, p, len) != LR_OK) {
        lr_conn_abort(sh, c);
        return;
    }
    lr_conn_mark_dirty(sh, c);
}

void lr_conn_reply_err(lr_shard *sh, lr_conn *c, uint64_t id, int code, const char *msg)
{
    lr_stats_error(sh, code);
    lr_enc e;
    size_t off = lr_conn_reply_begin(sh, c, &e);
    lr_enc_map(&e, 4);
    lr_enc_key(&e, "op");
    lr_enc_cstr(&e, "err");
    lr_enc_key(&e, "id");
    lr_enc_u64(&e, id);
    lr_enc_key(&e, "code");
    lr_enc_i64(&e, code);
    lr_enc_key(&e, "msg");
    lr_enc_cstr(&e, msg);
    lr_enc_map_end(&e);
    lr_conn_reply_end(sh, c, off, &e);
}

void lr_conn_reply_ok(lr_shard *sh, lr_conn *c, uint64_t id)
{
    lr_enc e;
    size_t off = lr_conn_reply_begin(sh, c, &e);
    lr_enc_map(&e, 2);
    lr_enc_key(&e, "op");
    lr_enc_cstr(&e, "ok");
    lr_enc_key(&e, "id");
    lr_enc_u64(&e, id);
    lr_enc_map_end(&e);
    lr_conn_reply_end(sh, c, off, &e);
}

/* ---- input ---- */

static void bad_frame(lr_shard *sh, lr_conn *c)
{
    atomic_fetch_add_explicit(&sh->st.bad_frames, 1, memory_order_relaxed);
    uint16_t now_s = (uint16_t)(sh->now_ms / 1000);
    if ((uint16_t)(now_s - c->bad_since_s) >= LR_BAD_FRAMES_WINDOW_MS / 1000) {
        c->bad_since_s = now_s;
        c->bad_frames = 0;
    }
    if (++c->bad_frames > LR_BAD_FRAMES_MAX) {
        lr_conn_close(sh, c, LR_WS_CLOSE_PROTOCOL, LR_WS_CLOSE_PROTOCOL, "too many bad frames");
        return;
    }
    lr_conn_reply_err(sh, c, 0, LR_ERR_MALFORMED, "malformed frame");
}

static void on_message(lr_shard *sh, lr_conn *c, bool json, const uint8_t *p, size_t len)
{
    atomic_fetch_add_explicit(&sh->st.msgs_in, 1, memory_order_relaxed);
    if (lr_session_on_message(sh, c, json, p, len) == LR_ERR_MALFORMED) bad_frame(sh, c);
}

static size_t ws_frames(lr_shard *sh, lr_conn *c, lr_ws_parser *wsp, uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off < n && !(c->flags & LR_CF_CLOSING)) {
        size_t used = 0;
        lr_ws_event ev;
        int r = lr_ws_parse(wsp, p + off, n - off, &used, &ev);
        if (r < 0) {
            uint16_t code = (uint16_t)-r;
            lr_conn_close(sh, c, code, code,
                          code == LR_WS_CLOSE_TOO_BIG ? "frame too big" : "protocol error");
            return n;
        }
        off += used;
        if (r == 0) {
            if (used == 0) break;
            continue;
        }
        switch (ev.kind) {
        case LR_WS_EV_MESSAGE:
            on_message(sh, c, ev.opcode == LR_WS_OP_TEXT, ev.data, ev.len);
            break;
        case LR_WS_EV_PING:
            if (!append_ws_control(c, LR_WS_OP_PONG, ev.data, ev.len)) {
                lr_conn_abort(sh, c);
                return n;
            }
            lr_conn_mark_dirty(sh, c);
            break;
        case LR_WS_EV_PONG:
            break;
        case LR_WS_EV_CLOSE: {
            uint16_t code = ev.close_code == 1005 ? LR_WS_CLOSE_NORMAL : ev.close_code;
            lr_conn_close(sh, c, code, code, NULL);
            return n;
        }
        }
    }
    return off;
}

/* Consume WebSocket frames from p[0..n); returns the bytes used. A quiet
 * connection has no parser state to keep: it parses with a fresh one and
 * keeps it only when a fragmented message is left half-assembled. */
static size_t consume_ws(lr_shard *sh, lr_conn *c, uint8_t *p, size_t n)
{
    if (c->io && c->io->wsp_live) {
        lr_conn_io *io = c->io;
        size_t off = ws_frames(sh, c, &io->wsp, p, n);
        if (c->io == io && !io->wsp.frag_opcode) {
            /* the fragmented message is complete */
            lr_ws_parser_free(&io->wsp);
            io->wsp_live = false;
        }
        return off;
    }
    lr_ws_parser fresh;
    lr_ws_parser_init(&fresh, true, sh->cfg->max_frame);
    size_t off = ws_frames(sh, c, &fresh, p, n);
    if (fresh.frag_opcode && !(c->flags & LR_CF_DEAD)) {
        lr_conn_io *io = conn_io(c);
        if (io) {
            io->wsp = fresh;
            io->wsp_live = true;
            return off;
        }
        lr_conn_abort(sh, c);
    }
    lr_ws_parser_free(&fresh);
    return off;
}

static size_t consume_tcp(lr_shard *sh, lr_conn *c, uint8_t *p, size_t n)
{
    size_t off = 0;
    while (n - off >= 4 && !(c->flags & LR_CF_CLOSING)) {
        uint32_t len = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 |
                       (uint32_t)p[off + 2] << 8 | p[off + 3];
        if (len > sh->cfg->max_frame) {
            lr_conn_close(sh, c, LR_WS_CLOSE_TOO_BIG, LR_WS_CLOSE_TOO_BIG, "frame too big");
            return n;
        }
        if (n - off - 4 < len) break;
        on_message(sh, c, false, p + off + 4, len);
        off += 4 + (size_t)len;
    }
    return off;
}

static size_t consume(lr_shard *sh, lr_conn *c, uint8_t *p, size_t n)
{
    size_t off = 0;
    if (c->proto == LR_PROTO_ADMIN) {
        /* one request at a time: pipelined ones wait in rx for the reply */
        while (off < n && !(c->flags & (LR_CF_BUSY | LR_CF_CLOSING))) {
            int used = lr_admin_consume(sh, c, (const char *)p + off, n - off);
            if (used < 0) return n;
            if (used == 0) break;
            off += (size_t)used;
        }
        return off;
    }
    if (c->proto == LR_PROTO_HTTP) {
        int used = lr_upgrade_handle(sh, c, (const char *)p, n);
        if (used <= 0) return used < 0 ? n : 0;
        off = (size_t)used;
    }
    if (c->flags & LR_CF_CLOSING) return n;
    if (c->proto == LR_PROTO_WS) return off + consume_ws(sh, c, p + off, n - off);
    if (c->proto == LR_PROTO_TCP) return off + consume_tcp(sh, c, p + off, n - off);
    return off;
}

static void on_input(lr_shard *sh, lr_conn *c, uint8_t *data, size_t len)
{
    if (c->flags & LR_CF_CLOSING) return; /* draining towards close: discard */

    uint8_t *p = data;
    size_t n = len;
    lr_buf *rx = c->io ? &c->io->rx : NULL;
    if (rx && rx->len) {
        if (lr_buf_append(rx, data, len) != LR_OK) {
            lr_conn_abort(sh, c);
            return;
        }
        p = rx->p;
        n = rx->len;
    }
    size_t used = consume(sh, c, p, n);
    if (c->flags & LR_CF_DEAD) return;
    size_t rest = n - used;
    rx = c->io ? &c->io->rx : NULL; /* consume may have attached the I/O state */
    if (rx && rx->len) {
        if (rest == 0 || (c->flags & LR_CF_CLOSING)) {
            lr_buf_free(rx);
        } else {
            memmove(rx->p, rx->p + used, rest);
            rx->len = rest;
        }
    } else if (rest && !(c->flags & LR_CF_CLOSING)) {
        lr_conn_io *io = conn_io(c);
        if (!io || lr_buf_append(&io->rx, p + used, rest) != LR_OK) {
            lr_conn_abort(sh, c);
            return;
        }
        rx = &io->rx;
    }
    size_t limit = c->proto == LR_PROTO_ADMIN ? LR_ADMIN_MAX_BODY : sh->cfg->max_frame;
    if (rx && rx->len > limit + 2 * LR_MAX_HTTP_HEAD) {
        lr_conn_abort(sh, c);
        return;
    }
    io_release_if_quiet(c);
}

void lr_conn_resume_input(lr_shard *sh, lr_conn *c)
{
    if (!c->io || !c->io->rx.len || (c->flags & (LR_CF_CLOSING | LR_CF_DEAD))) return;
    lr_buf rx = c->io->rx; /* on_input appends to rx when it is not empty */
    c->io->rx = (lr_buf){0};
    on_input(sh, c, rx.p, rx.len);
    lr_buf_free(&rx);
}

void lr_conn_on_recv(lr_shard *sh, lr_conn *c, struct io_uring_cqe *cqe)
{
    int res = cqe->res;
    if (!(cqe->flags & IORING_CQE_F_MORE)) c->flags &= ~LR_CF_RECV;
    if (res > 0) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        uint8_t *buf = sh->bufs + (size_t)bid * sh->buf_size;
        if (!(c->flags & LR_CF_DEAD)) {
            c->last_rx_ms = (uint32_t)sh->now_ms;
            if (c->flags & LR_CF_PINGED) c->flags &= ~LR_CF_PINGED;
            on_input(sh, c, buf, (size_t)res);
        }
        io_uring_buf_ring_add(sh->br, buf, sh->buf_size, (unsigned short)bid,
                              io_uring_buf_ring_mask(sh->nbufs), 0);
        io_uring_buf_ring_advance(sh->br, 1);
    } else if (res == 0 || (res < 0 && res != -ENOBUFS)) {
        lr_conn_abort(sh, c);
    }
    if (c->flags & LR_CF_DEAD) {
        maybe_reap(sh, c);
        return;
    }
    if (!(c->flags & LR_CF_RECV)) arm_recv(sh, c);
}

/* ---- output ---- */

static void submit_send(lr_shard *sh, lr_conn *c)
{
    lr_conn_io *io = c->io;
    struct io_uring_sqe *sqe = lr_shard_sqe(sh);
    io_uring_prep_send(sqe, (int)c->slot, io->out.p + io->out_off, io->out.len - io->out_off,
                       MSG_NOSIGNAL);
    sqe->flags |= IOSQE_FIXED_FILE;
    sqe->user_data = LR_UD(c, LR_UD_SEND);
    c->flags |= LR_CF_SEND;
    if (!(c->flags & LR_CF_FLUSH_CLOSE)) {
        io->send_since_ms = sh->now_ms;
        lr_dlist_move_tail(&sh->send_list, &io->send_node);
    }
    atomic_fetch_add_explicit(&sh->st.sends, 1, memory_order_relaxed);
}

static void shut_write(lr_shard *sh, lr_conn *c)
{
    c->flags |= LR_CF_SHUT;
    struct io_uring_sqe *sqe = lr_shard_sqe(sh);
    io_uring_prep_shutdown(sqe, (int)c->slot, SHUT_WR);
    sqe->flags |= IOSQE_FIXED_FILE;
    sqe->user_data = LR_UD(c, LR_UD_AUX);
    c->aux++;
}

static void start_send(lr_shard *sh, lr_conn *c)
{
    if (c->flags & LR_CF_HOLD) return; /* lr_conn_unhold marks it dirty again */
    bool due = (c->flags & (LR_CF_CLOSING | LR_CF_DUE)) == LR_CF_DUE;
    if (!(c->io && c->io->pend.len) && !due) {
        if (c->flags & LR_CF_FLUSH_CLOSE) goto nothing; /* the close itself is due */
        io_release_if_quiet(c);
        return;
    }
    lr_conn_io *io = conn_io(c);
    if (!io) {
        lr_conn_abort(sh, c);
        return;
    }
    lr_buf_free(&io->out);
    io->out_off = 0;
    if (io->pend.len) {
        io->out = io->pend;
        io->pend = (lr_buf){0};
    }
    if (due) {
        c->flags &= ~LR_CF_DUE; /* fill sets it again when send_max cut it short */
        uint32_t d = lr_fanout_fill(sh, c, &io->out);
        if (d) atomic_fetch_add_explicit(&sh->st.deliveries, d, memory_order_relaxed);
    }
    if (io->out.len) {
        atomic_fetch_add_explicit(&sh->st.send_bytes, io->out.len, memory_order_relaxed);
        submit_send(sh, c);
        return;
    }
    lr_buf_free(&io->out);
nothing:
    if ((c->flags & LR_CF_FLUSH_CLOSE) && !(c->flags & LR_CF_SHUT)) {
        if (c->proto == LR_PROTO_HTTP)
            lr_conn_abort(sh, c);
        else
            shut_write(sh, c);
    }
    io_release_if_quiet(c);
}

void lr_conn_on_send(lr_shard *sh, lr_conn *c, int res)
{
    lr_conn_io *io = c->io;
    c->flags &= ~LR_CF_SEND;
    if (!(c->flags & LR_CF_FLUSH_CLOSE)) lr_dlist_remove(&io->send_node);
    if (c->flags & LR_CF_DEAD) {
        maybe_reap(sh, c);
        return;
    }
    if (res < 0) {
        lr_conn_abort(sh, c);
        maybe_reap(sh, c);
        return;
    }
    io->out_off += (uint32_t)res;
    if (io->out_off < io->out.len) {
        submit_send(sh, c);
        return;
    }
    lr_buf_free(&io->out);
    io->out_off = 0;
    if (io->pend.len || (c->flags & (LR_CF_DUE | LR_CF_FLUSH_CLOSE)))
        lr_conn_mark_dirty(sh, c);
    else
        io_release_if_quiet(c);
}

void lr_conn_on_aux(lr_shard *sh, lr_conn *c)
{
    if (c->aux) c->aux--;
    maybe_reap(sh, c);
}

static void flush_one(lr_shard *sh, lr_conn *c)
{
    if (c->flags & (LR_CF_DEAD | LR_CF_SEND)) {
        maybe_reap(sh, c);
        return;
    }
    start_send(sh, c);
    if (c->flags & LR_CF_DEAD) maybe_reap(sh, c);
}

void lr_conn_flush_dirty(lr_shard *sh)
{
    while (sh->dirty_head)
        flush_one(sh, dequeue(&sh->dirty_head));
    for (uint32_t n = 0; sh->due_head && n < LR_SENDS_PER_TURN; n++)
        flush_one(sh, dequeue(&sh->due_head));
    reap(sh);
}

/* ---- sweeps ---- */

static void send_ping(lr_shard *sh, lr_conn *c)
{
    c->flags |= LR_CF_PINGED;
    if (c->proto == LR_PROTO_WS && append_ws_control(c, LR_WS_OP_PING, NULL, 0))
        lr_conn_mark_dirty(sh, c);
}

void lr_conn_sweep(lr_shard *sh)
{
    const lr_config *cfg = sh->cfg;
    uint64_t now = sh->now_ms;
    uint64_t ping_ms = (uint64_t)cfg->ping_interval_s * 1000;
    uint64_t idle_ms = (uint64_t)cfg->idle_timeout_s * 1000;
    uint64_t hs_ms = (uint64_t)cfg->handshake_timeout_s * 1000;
    if (ping_ms > idle_ms) ping_ms = idle_ms / 2;

    /* A scan of the slot table (a few hundred microseconds for 20,000
     * slots) instead of an activity-ordered list: the list's node cost 16
     * bytes in every connection and a relink on every receive. */
    for (uint32_t i = 0; i < sh->nfiles; i++) {
        lr_conn *c = sh->conns[i];
        if (!c || (c->flags & (LR_CF_CLOSING | LR_CF_DEAD))) continue;
        uint64_t silent = (uint32_t)((uint32_t)now - c->last_rx_ms);
        if (c->proto == LR_PROTO_HTTP || c->proto == LR_PROTO_ADMIN) {
            /* not upgraded yet (or an admin client): no pings, a deadline */
            if (silent >= (c->proto == LR_PROTO_HTTP ? hs_ms : idle_ms)) lr_conn_abort(sh, c);
        } else if (silent >= idle_ms) {
            lr_conn_close(sh, c, LR_WS_CLOSE_GOING_AWAY, LR_WS_CLOSE_GOING_AWAY, "idle timeout");
        } else if (silent >= ping_ms && !(c->flags & LR_CF_PINGED)) {
            send_ping(sh, c);
        }
    }
    lr_dlist *n;
    /* sends in flight and closes in progress, oldest first */
    while ((n = lr_dlist_first(&sh->send_list))) {
        lr_conn_io *io = LR_CONTAINER_OF(n, lr_conn_io, send_node);
        lr_conn *c = io->conn;
        uint64_t age = now - io->send_since_ms;
        if (c->flags & LR_CF_FLUSH_CLOSE) {
            if (age < LR_CLOSE_LINGER_MS) break;
        } else if (age < cfg->slow_timeout_ms) {
            break;
        } else {
            atomic_fetch_add_explicit(&sh->st.slow_closed, 1, memory_order_relaxed);
            LR_INFO("event=slow_close shard=%u slot=%u", sh->id, c->slot);
        }
        lr_conn_abort(sh, c);
    }
}

void lr_conn_drain_all(lr_shard *sh)
{
    for (uint32_t i = 0; i < sh->nfiles; i++) {
        lr_conn *c = sh->conns[i];
        if (!c) continue;
        if (c->proto == LR_PROTO_HTTP || c->proto == LR_PROTO_ADMIN)
            lr_conn_abort(sh, c);
        else
            lr_conn_close(sh, c, LR_WS_CLOSE_GOING_AWAY, LR_WS_CLOSE_GOING_AWAY, "shutdown");
    }
}

void lr_conn_free_all(lr_shard *sh)
{
    for (uint32_t i = 0; i < sh->nfiles; i++) {
        lr_conn *c = sh->conns[i];
        if (!c) continue;
        sh->conns[i] = NULL;
        conn_free(c);
    }
    sh->nconns = 0;
}
