/*
 * store.c owns the backend-independent half of the store: the bounded write
 * queue, the store thread that turns whatever is queued into ONE transaction
 * and then reports every write through its done callback, lr_store_sync,
 * and the lock that serialises synchronous reads. Backends plug in through
 * lr_store_ops (store_impl.h).
 *
 * Why a mutex and a condvar: writes come from admin and start-up paths,
 * never from a shard's message path, so a lock costs nothing that matters;
 * and a thread that grabs the whole queue at once gives group commit for
 * free: the busier the callers, the bigger each transaction and the fewer
 * the fsyncs.
 *
 * Must never: call a done callback or touch the backend while holding the
 * queue lock (a callback may queue the next write); call a backend read
 * without the read lock; grow past LR_STORE_MAX_PENDING writes.
 */
#include "store/store_impl.h"

#include "core/log.h"

#include <assert.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

typedef enum lr_store_op_kind {
    LR_STORE_OP_ROOM_PUT,
    LR_STORE_OP_ROOM_DELETE,
    LR_STORE_OP_MEMBER_PUT,
    LR_STORE_OP_USER_PUT,
    LR_STORE_OP_SWEEP,
    LR_STORE_OP_BARRIER, /* writes nothing: its done runs after what came before */
} lr_store_op_kind;

/* One queued write: this header is embedded first in a kind-specific
 * struct, so a queue full of deletes stays small. */
typedef struct lr_store_op {
    struct lr_store_op *next;
    lr_store_done_cb done;
    void *ctx;
    lr_store_op_kind kind;
} lr_store_op;

typedef struct op_room_put {
    lr_store_op op;
    lr_room_rec rec;
} op_room_put;

typedef struct op_room_delete {
    lr_store_op op;
    char id[LR_MAX_ROOM_ID + 1];
} op_room_delete;

typedef struct op_member_put {
    lr_store_op op;
    lr_member_rec rec;
} op_member_put;

typedef struct op_user_put {
    lr_store_op op;
    lr_user_rec rec;
} op_user_put;

typedef struct op_sweep {
    lr_store_op op;
    int64_t now_ms;
} op_sweep;

/* free(op) releases the whole kind-specific struct only because op is its
 * first member. */
_Static_assert(offsetof(op_room_put, op) == 0, "op header first");
_Static_assert(offsetof(op_room_delete, op) == 0, "op header first");
_Static_assert(offsetof(op_member_put, op) == 0, "op header first");
_Static_assert(offsetof(op_user_put, op) == 0, "op header first");
_Static_assert(offsetof(op_sweep, op) == 0, "op header first");

struct lr_store {
    const lr_store_ops *ops;
    void *be;

    pthread_mutex_t mu;      /* guards everything down to `paused` */
    pthread_cond_t wake;     /* store thread: work, stop or unpause */
    pthread_cond_t progress; /* lr_store_sync: done_seq moved */
    lr_store_op *head, *tail;
    size_t pending;      /* queued + in the batch being committed */
    uint64_t queued_seq; /* writes ever queued */
    uint64_t done_seq;   /* writes whose done callback has returned */
    bool stopping;
    bool paused;

    pthread_t thread;
    pthread_mutex_t read_mu; /* one synchronous read at a time */
    lr_store_stats stats;    /* written by the store thread only */
};

const uint32_t lr_store_latency_le_ms[LR_STORE_LATENCY_BUCKETS - 1] = {1,  2,   5,   10,  25,
                                                                       50, 100, 250, 500, 1000};

const lr_store_stats *lr_store_get_stats(const lr_store *s)
{
    return &s->stats;
}

static void set_err(char *err, size_t errcap, const char *msg)
{
    if (err && errcap) snprintf(err, errcap, "%s", msg);
}

/* The delete-when-meaningless rule lives here rather than in each backend
 * so that every backend keeps the same rows. */
static bool member_meaningful(const lr_member_rec *r)
{
    return r->role != LR_STORE_ROLE_MEMBER || r->muted_until_ms != 0 || r->banned_until_ms != 0;
}

static int apply_member_put(lr_store *s, const lr_member_rec *r)
{
    if (member_meaningful(r)) return s->ops->member_put(s->be, r);
    return s->ops->member_delete(s->be, r->room, r->user);
}

/* Runs one batch: one transaction for all of it, so one fsync. A failing
 * write fails the whole batch rather than being isolated with savepoints:
 * with upserts and deletes by key nothing fails per record, only the
 * database as a whole (lock timeout, disk full, I/O error), which would fail
 * the neighbours too. */
static int run_batch(lr_store *s, lr_store_op *batch)
{
    const lr_store_ops *ops = s->ops;
    int rc = ops->begin(s->be);
    for (lr_store_op *op = batch; op && rc == 0; op = op->next) {
        switch (op->kind) {
        case LR_STORE_OP_ROOM_PUT:
            rc = ops->room_put(s->be, &LR_CONTAINER_OF(op, op_room_put, op)->rec);
            break;
        case LR_STORE_OP_ROOM_DELETE:
            rc = ops->room_delete(s->be, LR_CONTAINER_OF(op, op_room_delete, op)->id);
            break;
        case LR_STORE_OP_MEMBER_PUT:
            rc = apply_member_put(s, &LR_CONTAINER_OF(op, op_member_put, op)->rec);
            break;
        case LR_STORE_OP_USER_PUT:
            rc = ops->user_put(s->be, &LR_CONTAINER_OF(op, op_user_put, op)->rec);
            break;
        case LR_STORE_OP_SWEEP:
            rc = ops->sweep_expired(s->be, LR_CONTAINER_OF(op, op_sweep, op)->now_ms);
            break;
        case LR_STORE_OP_BARRIER:
            break;
        }
    }
    if (rc == 0) rc = ops->commit(s->be);
    if (rc != 0) {
        ops->rollback(s->be);
        rc = LR_EIO;
    }
    return rc;
}

static void *store_thread(void *arg)
{
    lr_store *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->paused || (!s->head && !s->stopping))
            pthread_cond_wait(&s->wake, &s->mu);
        if (!s->head) break; /* stopping and drained */
        lr_store_op *batch = s->head;
        uint64_t last_seq = s->queued_seq;
        size_t n = (size_t)(last_seq - s->done_seq);
        s->head = s->tail = NULL;
        pthread_mutex_unlock(&s->mu);

        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = run_batch(s, batch);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        uint64_t us = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000u +
                      (uint64_t)(t1.tv_nsec - t0.tv_nsec) / 1000u;
        unsigned b = 0;
        while (b < LR_STORE_LATENCY_BUCKETS - 1 && us > lr_store_latency_le_ms[b] * 1000u)
            b++;
        atomic_fetch_add_explicit(&s->stats.latency_bucket[b], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->stats.latency_sum_us, us, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->stats.commits, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->stats.writes, n, memory_order_relaxed);
        if (rc != 0) atomic_fetch_add_explicit(&s->stats.failures, 1, memory_order_relaxed);
        if (rc != 0) LR_ERROR("event=store_batch_failed backend=%s writes=%zu", s->ops->name, n);
        while (batch) {
            lr_store_op *next = batch->next;
            if (batch->done) batch->done(batch->ctx, rc);
            free(batch);
            batch = next;
        }

        pthread_mutex_lock(&s->mu);
        assert(s->pending >= n);
        s->pending -= n;
        s->done_seq = last_seq;
        pthread_cond_broadcast(&s->progress);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

lr_store *lr_store_open_ops(const lr_store_ops *ops, const char *where, int timeout_ms, char *err,
                            size_t errcap)
{
    lr_store *s = calloc(1, sizeof(*s));
    if (!s) {
        set_err(err, errcap, "store: out of memory");
        return NULL;
    }
    s->ops = ops;
    const char *why = "store: cannot initialise locks";
    if (pthread_mutex_init(&s->mu, NULL) != 0) goto err_free;
    if (pthread_mutex_init(&s->read_mu, NULL) != 0) goto err_mu;
    if (pthread_cond_init(&s->wake, NULL) != 0) goto err_read_mu;
    if (pthread_cond_init(&s->progress, NULL) != 0) goto err_wake;

    why = NULL; /* from here on the message is the backend's or set below */
    s->be = ops->open(where, timeout_ms, err, errcap);
    if (!s->be) goto err_progress;

    /* The store thread takes no signal: the daemon decides which thread
     * handles them, and a stray SIGINT must not interrupt an fsync here. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&s->thread, NULL, store_thread, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        set_err(err, errcap, "store: cannot start the store thread");
        ops->close(s->be);
        goto err_progress;
    }
    return s;

err_progress:
    pthread_cond_destroy(&s->progress);
err_wake:
    pthread_cond_destroy(&s->wake);
err_read_mu:
    pthread_mutex_destroy(&s->read_mu);
err_mu:
    pthread_mutex_destroy(&s->mu);
err_free:
    if (why) set_err(err, errcap, why);
    free(s);
    return NULL;
}

void lr_store_close(lr_store *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    s->paused = false;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    assert(!s->head && s->pending == 0);

    s->ops->close(s->be);
    pthread_cond_destroy(&s->progress);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->read_mu);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Takes ownership of op: it is queued or freed. */
static int enqueue(lr_store *s, lr_store_op *op, lr_store_done_cb done, void *ctx)
{
    op->next = NULL;
    op->done = done;
    op->ctx = ctx;
    pthread_mutex_lock(&s->mu);
    if (s->pending >= LR_STORE_MAX_PENDING) {
        pthread_mutex_unlock(&s->mu);
        free(op);
        return LR_ENOMEM;
    }
    if (s->tail)
        s->tail->next = op;
    else
        s->head = op;
    s->tail = op;
    s->pending++;
    s->queued_seq++;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    return LR_OK;
}

static bool str_ok(const char *p, size_t cap)
{
    return memchr(p, '\0', cap) != NULL;
}

static bool id_ok(const char *id)
{
    return id && id[0] && strnlen(id, LR_MAX_ROOM_ID + 1) <= LR_MAX_ROOM_ID;
}

static bool user_id_ok(const char *id)
{
    return id && id[0] && strnlen(id, LR_MAX_USER_ID + 1) <= LR_MAX_USER_ID;
}

int lr_store_room_put(lr_store *s, const lr_room_rec *rec, lr_store_done_cb done, void *ctx)
{
    if (!id_ok(rec->id) || !str_ok(rec->type, sizeof(rec->type)) ||
        !str_ok(rec->name, sizeof(rec->name)) || !str_ok(rec->owner, sizeof(rec->owner)) ||
        !str_ok(rec->intro, sizeof(rec->intro)) ||
        !str_ok(rec->notification, sizeof(rec->notification)) ||
        !str_ok(rec->face_url, sizeof(rec->face_url)))
        return LR_EINVAL;
    op_room_put *w = malloc(sizeof(*w));
    if (!w) return LR_ENOMEM;
    w->op.kind = LR_STORE_OP_ROOM_PUT;
    w->rec = *rec;
    return enqueue(s, &w->op, done, ctx);
}

int lr_store_room_delete(lr_store *s, const char *id, lr_store_done_cb done, void *ctx)
{
    if (!id_ok(id)) return LR_EINVAL;
    op_room_delete *w = malloc(sizeof(*w));
    if (!w) return LR_ENOMEM;
    w->op.kind = LR_STORE_OP_ROOM_DELETE;
    memcpy(w->id, id, strlen(id) + 1);
    return enqueue(s, &w->op, done, ctx);
}

int lr_store_member_put(lr_store *s, const lr_member_rec *rec, lr_store_done_cb done, void *ctx)
{
    if (!id_ok(rec->room) || !user_id_ok(rec->user) || rec->role > LR_STORE_ROLE_ADMIN ||
        rec->muted_until_ms < 0 || rec->banned_until_ms < 0 ||
        !str_ok(rec->ban_desc, sizeof(rec->ban_desc)))
        return LR_EINVAL;
    op_member_put *w = malloc(sizeof(*w));
    if (!w) return LR_ENOMEM;
    w->op.kind = LR_STORE_OP_MEMBER_PUT;
    w->rec = *rec;
    return enqueue(s, &w->op, done, ctx);
}

int lr_store_user_put(lr_store *s, const lr_user_rec *rec, lr_store_done_cb done, void *ctx)
{
    if (!user_id_ok(rec->id) || !str_ok(rec->nick, sizeof(rec->nick)) ||
        !str_ok(rec->face_url, sizeof(rec->face_url)))
        return LR_EINVAL;
    op_user_put *w = malloc(sizeof(*w));
    if (!w) return LR_ENOMEM;
    w->op.kind = LR_STORE_OP_USER_PUT;
    w->rec = *rec;
    return enqueue(s, &w->op, done, ctx);
}

int lr_store_sweep_expired(lr_store *s, int64_t now_ms, lr_store_done_cb done, void *ctx)
{
    if (now_ms < 0) return LR_EINVAL;
    op_sweep *w = malloc(sizeof(*w));
    if (!w) return LR_ENOMEM;
    w->op.kind = LR_STORE_OP_SWEEP;
    w->now_ms = now_ms;
    return enqueue(s, &w->op, done, ctx);
}

int lr_store_barrier(lr_store *s, lr_store_done_cb done, void *ctx)
{
    lr_store_op *op = malloc(sizeof(*op));
    if (!op) return LR_ENOMEM;
    op->kind = LR_STORE_OP_BARRIER;
    return enqueue(s, op, done, ctx);
}

void lr_store_sync(lr_store *s)
{
    assert(!pthread_equal(pthread_self(), s->thread));
    pthread_mutex_lock(&s->mu);
    uint64_t target = s->queued_seq;
    while (s->done_seq < target)
        pthread_cond_wait(&s->progress, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

int lr_store_room_get(lr_store *s, const char *id, lr_room_rec *out)
{
    if (!id_ok(id)) return LR_ENOENT; /* no such key can have been stored */
    pthread_mutex_lock(&s->read_mu);
    int rc = s->ops->room_get(s->be, id, out);
    pthread_mutex_unlock(&s->read_mu);
    return rc;
}

int lr_store_room_each(lr_store *s, lr_store_room_cb cb, void *ctx)
{
    pthread_mutex_lock(&s->read_mu);
    int rc = s->ops->room_each(s->be, cb, ctx);
    pthread_mutex_unlock(&s->read_mu);
    return rc;
}

int lr_store_member_each(lr_store *s, lr_store_member_cb cb, void *ctx)
{
    pthread_mutex_lock(&s->read_mu);
    int rc = s->ops->member_each(s->be, cb, ctx);
    pthread_mutex_unlock(&s->read_mu);
    return rc;
}

int lr_store_user_get(lr_store *s, const char *id, lr_user_rec *out)
{
    if (!user_id_ok(id)) return LR_ENOENT; /* no such key can have been stored */
    pthread_mutex_lock(&s->read_mu);
    int rc = s->ops->user_get(s->be, id, out);
    pthread_mutex_unlock(&s->read_mu);
    return rc;
}

int lr_store_user_each(lr_store *s, lr_store_user_cb cb, void *ctx)
{
    pthread_mutex_lock(&s->read_mu);
    int rc = s->ops->user_each(s->be, cb, ctx);
    pthread_mutex_unlock(&s->read_mu);
    return rc;
}

int lr_store_check(lr_store *s)
{
    pthread_mutex_lock(&s->read_mu);
    int rc = s->ops->check(s->be);
    pthread_mutex_unlock(&s->read_mu);
    return rc;
}

void lr_store_test_pause(lr_store *s, bool paused)
{
    pthread_mutex_lock(&s->mu);
    s->paused = paused;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
}
