/*
 * conn.h: a client connection on its shard. It owns the socket (a fixed-file
 * slot of the shard's ring), the bytes of a partial input frame, the bytes
 * of the one send in flight, and replies not yet sent. Frames of the rooms
 * it joined are NOT queued here: they stay in the shard's room rings and
 * are copied into the send buffer only when a send is built (room/fanout.c).
 * A connection is touched only by its own shard.
 */
#ifndef LR_NET_CONN_H
#define LR_NET_CONN_H

#include <string.h>

#include "core/list.h"
#include "core/shard.h"
#include "net/ws.h"
#include "proto/codec.h"

enum {
    LR_PROTO_HTTP = 0, /* before the WebSocket upgrade */
    LR_PROTO_WS = 1,
    LR_PROTO_TCP = 2,
    LR_PROTO_ADMIN = 3, /* HTTP/1.1 keep-alive on the admin port */
};

enum {
    LR_CF_RECV = 1 << 0,        /* multishot recv armed */
    LR_CF_SEND = 1 << 1,        /* a send is in flight */
    LR_CF_DIRTY = 1 << 2,       /* on the shard's dirty list */
    LR_CF_CLOSING = 1 << 3,     /* no more requests are served */
    LR_CF_FLUSH_CLOSE = 1 << 4, /* close once pending bytes are sent */
    LR_CF_DEAD = 1 << 5,        /* waiting for outstanding ops, then freed */
    LR_CF_PINGED = 1 << 6,
    LR_CF_LOGGED_IN = 1 << 7,
    LR_CF_GUEST = 1 << 8,
    LR_CF_SHUT = 1 << 9, /* write side shut down after the close frame */
    LR_CF_CANCELLED = 1 << 10,
    LR_CF_BUSY = 1 << 11,        /* admin: a request is being served; input waits */
    LR_CF_ADMIN_CLOSE = 1 << 12, /* admin: close after the reply (no keep-alive) */
    LR_CF_DUE = 1 << 13,         /* room frames are due: the next send takes them */
    LR_CF_HOLD = 1 << 15,        /* the 101 waits for the join riding on the upgrade */
};

struct lr_member;

/* What a connection needs only while bytes move: a partial input frame,
 * replies waiting for the next send, the send in flight, the WebSocket
 * reassembly state. Attached on demand and released as soon as the
 * connection is quiet again, so an idle connection (the common case: most
 * viewers only listen) costs none of it. */
typedef struct lr_conn_io {
    lr_conn *conn;
    lr_buf rx;   /* partial input, freed when empty */
    lr_buf pend; /* replies and control frames waiting for the next send */
    lr_buf out;  /* the send in flight */
    uint32_t out_off;
    bool wsp_live; /* wsp holds a fragmented message being reassembled */
    uint64_t send_since_ms;
    lr_dlist send_node; /* on the shard's in-flight send list */
    lr_ws_parser wsp;
} lr_conn_io;

/* Kept small: one per viewer, hundreds of thousands per machine. */
struct lr_conn {
    uint32_t slot;
    uint32_t gen;
    uint16_t flags;
    uint16_t bad_frames;
    uint8_t proto;
    uint8_t fmt; /* lr_fmt */
    uint8_t nrooms;
    uint8_t njoining; /* joins sent to a home shard, not yet answered */
    uint8_t aux;      /* shutdowns and cancels in flight on the slot */
    uint8_t pad_;
    uint16_t bad_since_s; /* low bits of seconds: only a short window is compared */
    uint32_t last_rx_ms;  /* low bits of the shard clock: wrap-safe differences */
    lr_conn *dirty_next;
    struct lr_member *rooms; /* memberships on this shard */
    char *user;              /* NULL until login; "user\0nick\0avatar\0" in one block */
    lr_conn_io *io;          /* NULL while quiet */
};

/* The nick and avatar stored after the user id (empty before login). */
static inline const char *lr_conn_nick(const lr_conn *c)
{
    return c->user ? c->user + strlen(c->user) + 1 : "";
}
static inline const char *lr_conn_avatar(const lr_conn *c)
{
    const char *n = lr_conn_nick(c);
    return c->user ? n + strlen(n) + 1 : "";
}

/* Metrics kind: 0 pending HTTP, 1 WebSocket JSON, 2 WebSocket msgpack,
 * 3 raw TCP, 4 admin. */
static inline int lr_conn_kind(const lr_conn *c)
{
    switch (c->proto) {
    case LR_PROTO_WS:
        return c->fmt == LR_FMT_MSGPACK ? 2 : 1;
    case LR_PROTO_TCP:
        return 3;
    case LR_PROTO_ADMIN:
        return 4;
    default:
        return 0;
    }
}

/* Accept a new connection in slot; proto LR_PROTO_HTTP or LR_PROTO_TCP. */
void lr_conn_accept(lr_shard *sh, uint32_t slot, uint8_t proto);
void lr_conn_on_recv(lr_shard *sh, lr_conn *c, struct io_uring_cqe *cqe);
void lr_conn_on_send(lr_shard *sh, lr_conn *c, int res);
/* A shutdown or cancel on the connection's slot completed. */
void lr_conn_on_aux(lr_shard *sh, lr_conn *c);

/* Set user, nick and avatar (one allocation). 0 or LR_ENOMEM. */
int lr_conn_set_identity(lr_conn *c, lr_str user, lr_str nick, lr_str avatar);

/* Parse input kept in c->rx again (admin: after a reply unblocked it). */
void lr_conn_resume_input(lr_shard *sh, lr_conn *c);

/* The connection by reference, or NULL when it is gone or closing. */
lr_conn *lr_conn_get(lr_shard *sh, lr_conn_ref ref);
static inline lr_conn_ref lr_conn_ref_of(const lr_shard *sh, const lr_conn *c)
{
    return (lr_conn_ref){(uint16_t)sh->id, c->slot, c->gen};
}

/* Put c on the shard's dirty list: it gets a send at the end of the turn
 * with its pending replies. */
void lr_conn_mark_dirty(lr_shard *sh, lr_conn *c);
/* Let a connection whose upgrade carried a join send again: the 101 and
 * the join's reply leave in one send instead of two. */
void lr_conn_unhold(lr_shard *sh, lr_conn *c);
/* The same, and the send also takes the room frames waiting for c. Frames
 * are pulled only when due (a room frame whose turn it is, a replica's hold timer),
 * never just because a send completed: that is what keeps batches whole. */
void lr_conn_mark_due(lr_shard *sh, lr_conn *c);
/* Build the sends of every connection with replies, and of up to
 * LR_SENDS_PER_TURN with room frames due (the rest stay queued for the next
 * turns, in order). */
#define LR_SENDS_PER_TURN 256
void lr_conn_flush_dirty(lr_shard *sh);

/*
 * Close politely: a `bye` push with code/msg (when msg is not NULL), then
 * for WebSocket a close frame with ws_code, then the socket once the bytes
 * are out (bounded by a timeout). Idempotent.
 */
void lr_conn_close(lr_shard *sh, lr_conn *c, uint16_t ws_code, int bye_code, const char *msg);
/* Close now without sending anything more. */
void lr_conn_abort(lr_shard *sh, lr_conn *c);

/* The buffer of replies waiting for the next send (attaching the I/O
 * state); NULL when out of memory. */
lr_buf *lr_conn_out(lr_conn *c);
/* Replies: begin sets e up to encode one into the replies, end frames it
 * and checks the encoder's sticky error (a reply that cannot be built
 * aborts the connection: the client would otherwise wait forever). */
size_t lr_conn_reply_begin(lr_shard *sh, lr_conn *c, lr_enc *e);
void lr_conn_reply_end(lr_shard *sh, lr_conn *c, size_t off, lr_enc *e);
/* Append already framed bytes (from another shard) to the replies. */
void lr_conn_reply_raw(lr_shard *sh, lr_conn *c, const void *p, size_t len);
/* Convenience: {"op":"err","id":id,"code":code,"msg":msg}. */
void lr_conn_reply_err(lr_shard *sh, lr_conn *c, uint64_t id, int code, const char *msg);
/* {"op":"ok","id":id} with no more fields. */
void lr_conn_reply_ok(lr_shard *sh, lr_conn *c, uint64_t id);

/* Sweeps run 4 times a second by the shard: pings, idle and handshake
 * timeouts (a scan of the slot table), slow sends and lingering closes. */
void lr_conn_sweep(lr_shard *sh);
/* Drain: bye + close 1001 to every connection of the shard. */
void lr_conn_drain_all(lr_shard *sh);
/* Free every connection at once (engine destroy, after the loop ended). */
void lr_conn_free_all(lr_shard *sh);

#endif
