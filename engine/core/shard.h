/*
 * shard.h: a shard is one thread with its own io_uring, its own listeners,
 * timers and connections, and the home of the rooms and users that hash to
 * it. Shards talk only through lr_imsg pointers on single-producer
 * single-consumer rings (one per ordered pair), woken by IORING_OP_MSG_RING.
 * Nothing in a shard is touched by another thread; what crosses a ring is
 * owned by the receiver from the moment it is pushed.
 */
#ifndef LR_CORE_SHARD_H
#define LR_CORE_SHARD_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/batch.h"
#include "core/common.h"
#include "core/list.h"
#include "core/map.h"
#include "core/spsc.h"
#include "core/timer.h"
#include "liveroom/liveroom.h"

typedef struct lr_engine lr_engine;
typedef struct lr_shard lr_shard;
typedef struct lr_conn lr_conn;

/* What an io_uring completion is for: the low 3 bits of user_data (the
 * rest is an 8-aligned pointer), so no lookup is needed. */
enum {
    LR_UD_IGNORE = 0, /* cancels, closes, wake messages we sent */
    LR_UD_RECV = 1,   /* lr_conn * */
    LR_UD_SEND = 2,   /* lr_conn * */
    LR_UD_ACCEPT = 3, /* lr_listener * */
    LR_UD_WAKE = 4,   /* MSG_RING from another shard: drain the rings */
    LR_UD_EVENT = 5,  /* eventfd read: a request from outside the shards */
    LR_UD_AUX = 6,    /* lr_conn *: a shutdown or cancel on its slot */
};
#define LR_UD(ptr, tag) ((uint64_t)(uintptr_t)(ptr) | (tag))
#define LR_UD_TAG(ud) ((unsigned)((ud)&7u))
#define LR_UD_PTR(ud) ((void *)(uintptr_t)((ud) & ~(uint64_t)7u))

/* A message between shards. Typed messages embed this first. */
typedef struct lr_imsg {
    struct lr_imsg *next; /* producer-side overflow list */
    uint16_t type;
    uint16_t from; /* sending shard */
} lr_imsg;

/* Intrusive multi-producer single-consumer queue (Vyukov): producers
 * never block or lock; the consumer may see an item late, never lose it. */
typedef struct lr_mpsc {
    lr_imsg *_Atomic head; /* producers swap themselves in here */
    lr_imsg *tail;         /* consumer only */
    lr_imsg stub;
} lr_mpsc;

static inline void lr_mpsc_init(lr_mpsc *q)
{
    q->stub.next = NULL;
    atomic_init(&q->head, &q->stub);
    q->tail = &q->stub;
}

static inline void lr_mpsc_push(lr_mpsc *q, lr_imsg *m)
{
    __atomic_store_n(&m->next, NULL, __ATOMIC_RELAXED);
    lr_imsg *prev = atomic_exchange_explicit(&q->head, m, memory_order_acq_rel);
    __atomic_store_n(&prev->next, m, __ATOMIC_RELEASE);
}

static inline lr_imsg *lr_mpsc_pop(lr_mpsc *q)
{
    lr_imsg *tail = q->tail;
    lr_imsg *next = __atomic_load_n(&tail->next, __ATOMIC_ACQUIRE);
    if (tail == &q->stub) {
        if (!next) return NULL;
        q->tail = next;
        tail = next;
        next = __atomic_load_n(&next->next, __ATOMIC_ACQUIRE);
    }
    if (next) {
        q->tail = next;
        return tail;
    }
    if (tail != atomic_load_explicit(&q->head, memory_order_acquire)) return NULL; /* mid-push */
    lr_mpsc_push(q, &q->stub);
    next = __atomic_load_n(&tail->next, __ATOMIC_ACQUIRE);
    if (next) {
        q->tail = next;
        return tail;
    }
    return NULL;
}

/* A reference to a connection that stays safe after the connection is
 * gone: the slot may be reused, the generation then differs. */
typedef struct lr_conn_ref {
    uint16_t shard;
    uint32_t slot;
    uint32_t gen;
} lr_conn_ref;

enum { LR_LISTEN_WS = 0, LR_LISTEN_TCP = 1, LR_LISTEN_ADMIN = 2 };
#define LR_ADMIN_MAX_CONNS 1024

typedef struct lr_listener {
    int fd;
    uint8_t kind; /* LR_LISTEN_* */
    bool armed;
    lr_shard *sh;
} lr_listener;

/* Connection kinds for metrics: pending HTTP, WebSocket JSON, WebSocket
 * msgpack, raw TCP, admin HTTP. */
#define LR_CONN_KINDS 5

/* Counters a shard keeps; summed over shards for /metrics. Only the owning
 * shard writes them (relaxed atomics so readers see whole values). */
#define LR_HOLD_SLOT_MS 4
#define LR_HOLD_SLOTS 512 /* two seconds ahead; later deadlines wait a turn */

typedef struct lr_shard_stats {
    _Atomic uint64_t conns, accepts, closes;
    _Atomic uint64_t msgs_in, msgs_passed, deliveries, sends, send_bytes;
    _Atomic uint64_t limited[LR_PRI_COUNT];
    _Atomic uint64_t slow_skipped, slow_overrun, slow_closed;
    _Atomic uint64_t bad_frames, turns, busy_us;
    _Atomic uint64_t joins, leaves, freq_windows;
    _Atomic uint64_t conns_by_kind[LR_CONN_KINDS];
    _Atomic uint64_t errors[LR_ERR_SLOTS];
} lr_shard_stats;

/* Count an error reply by its code (metrics). */
static inline void lr_stats_error(lr_shard *sh, int code);

typedef void (*lr_imsg_handler)(lr_shard *sh, lr_imsg *m);

struct lr_shard {
    uint32_t id;
    bool admin;        /* the admin API's loop: no rooms, no users, no client listeners */
    void *admin_state; /* admin loop only (admin/server.c) */
    lr_engine *eng;
    const lr_config *cfg;
    struct io_uring ring;
    int ring_fd;
    int event_fd;
    uint64_t event_buf;
    pthread_t thread;
    uint64_t now_ms; /* cached monotonic clock, refreshed once per turn */

    /* receive buffers (provided buffer ring, group 0) */
    struct io_uring_buf_ring *br;
    uint8_t *bufs;
    uint32_t nbufs, buf_size;
    bool recv_starved;

    /* listeners */
    lr_listener listeners[2];
    uint16_t bound_port[2];

    /* connections, indexed by fixed-file slot */
    lr_conn **conns;
    uint32_t nfiles;
    uint32_t nconns;
    uint32_t next_gen;
    /* connections with something to write this turn */
    /* Connections owed a send, first in first out: replies first (all of
     * them every turn), then those with room frames due, at most
     * LR_SENDS_PER_TURN a turn so that a room flushed to every member
     * does not hold the ring messages (acks, joins) behind one long turn. */
    lr_conn *dirty_head, *dirty_tail;
    lr_conn *due_head, *due_tail;
    lr_conn *reap_head; /* closed connections to free once their ops ended */
    /* activity-ordered lists for ping and idle timeouts, and in-flight
     * sends for the slow-consumer timeout (see net/conn.c) */
    lr_dlist send_list;

    /* cross-shard rings: in[i] is written by shard i, out[j] read by shard j */
    lr_spsc **in;
    lr_spsc **out;
    lr_imsg **backlog_head, **backlog_tail; /* per destination, when out[j] is full */
    lr_imsg *self_head, *self_tail;         /* messages to this shard itself */
    lr_mpsc foreign;                        /* from threads that are not shards */
    _Atomic int foreign_signalled;
    uint8_t *wake; /* per destination: wake at end of turn */

    lr_timers timers;
    lr_timer sweep_timer; /* once a second: idle/ping/slow sweeps, frame release */
    uint32_t sweeps;
    lr_timer adapt_timer; /* batching controller */
    /* replicas whose members keep frames, by when the oldest reaches the
     * delay: a wheel of LR_HOLD_SLOTS lists of LR_HOLD_SLOT_MS each */
    lr_timer hold_timer;
    lr_dlist hold_wheel[LR_HOLD_SLOTS];
    uint64_t hold_pos; /* the next slot (ms / LR_HOLD_SLOT_MS) the timer looks at */
    uint32_t nholding;

    lr_map rooms;                /* home rooms: lr_room */
    lr_map lrooms;               /* local replicas: lr_lroom */
    lr_map users;                /* home users: lr_user */
    lr_map profiles;             /* home users' imported profiles: lr_profile */
    struct lr_lroom *flush_head; /* replicas to flush this turn */

    /* batching controller state */
    lr_batch batch;   /* batch.delay_ms: how long room frames may wait now */
    uint64_t idle_us; /* wall time blocked waiting for events this interval */
    uint64_t busy_window_start_us, cpu_window_start_us;
    uint64_t deliveries_window_start, sends_window_start;

    uint64_t rng;
    uint64_t guest_seq;
    lr_buf scratch, scratch2; /* encoding scratch, never kept across calls */
    struct lr_sig_ctx *sig;   /* login verifier: the secret's HMAC schedule, inflate state */
    bool stopping;
    bool stopped;
    uint64_t stop_deadline;
    lr_shard_stats st;
};

static inline void lr_stats_error(lr_shard *sh, int code)
{
    atomic_fetch_add_explicit(&sh->st.errors[lr_err_slot(code)], 1, memory_order_relaxed);
}

/* Handlers for inter-shard messages, indexed by type (see room/imsg.h). */
#define LR_IMSG_MAX 32
extern const lr_imsg_handler lr_imsg_handlers[LR_IMSG_MAX];

/* Send m to shard dst (may be the same shard: handled at once, inline).
 * Never fails: a full ring spills into a backlog retried every turn. */
void lr_shard_post(lr_shard *sh, uint32_t dst, lr_imsg *m);

/* From a thread that is not a shard (store, hooks): lock-free, wakes dst
 * through its eventfd at most once per drain. */
void lr_shard_post_foreign(lr_shard *dst, lr_imsg *m);

/* A free SQE, submitting first when the SQ is full. Never NULL. */
struct io_uring_sqe *lr_shard_sqe(lr_shard *sh);

/* The thread body. */
void *lr_shard_main(void *arg);

#endif
