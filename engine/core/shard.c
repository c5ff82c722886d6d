/*
 * shard.c: the shard thread and its io_uring loop. One turn: wait for a
 * completion or the next timer, handle every completion (accepts, receives,
 * sends, wake-ups), drain the rings from the other shards, run due timers,
 * flush the room replicas that have new frames, then build ONE send per
 * dirty connection and submit everything with one io_uring_enter. Never
 * blocks anywhere but in that wait; never touches another shard's memory
 * except through the SPSC rings and IORING_OP_MSG_RING.
 */
#include "core/shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/engine.h"
#include "core/log.h"
#include "net/conn.h"
#include "room/room.h"

#define LR_SQ_ENTRIES 2048
#define LR_CQ_ENTRIES 16384
/* Clients get this long to answer the close; the exit after it (rings torn
 * down, every socket closed, memory freed) must fit in the 5 s of the
 * contract: ~1.3 s at 100,000 connections of an overloaded engine. */
#define LR_DRAIN_MS 3000
#define LR_BACKLOG_RETRY_MS 1 /* how soon a message for a full peer ring is tried again */

struct io_uring_sqe *lr_shard_sqe(lr_shard *sh)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&sh->ring);
    while (!sqe) {
        io_uring_submit(&sh->ring);
        sqe = io_uring_get_sqe(&sh->ring);
    }
    return sqe;
}

static void dispatch(lr_shard *sh, lr_imsg *m)
{
    if (m->type < LR_IMSG_MAX && lr_imsg_handlers[m->type])
        lr_imsg_handlers[m->type](sh, m);
    else {
        LR_ERROR("event=bad_imsg shard=%u type=%u", sh->id, m->type);
        free(m);
    }
}

void lr_shard_post_foreign(lr_shard *dst, lr_imsg *m)
{
    m->from = UINT16_MAX;
    lr_mpsc_push(&dst->foreign, m);
    if (atomic_exchange(&dst->foreign_signalled, 1) == 0) {
        uint64_t one = 1;
        ssize_t w = write(dst->event_fd, &one, sizeof(one));
        (void)w;
    }
}

void lr_shard_post(lr_shard *sh, uint32_t dst, lr_imsg *m)
{
    m->from = (uint16_t)sh->id;
    m->next = NULL;
    if (dst == sh->id) {
        /* deferred to the end of the current handler, never re-entrant */
        if (sh->self_tail)
            sh->self_tail->next = m;
        else
            sh->self_head = m;
        sh->self_tail = m;
        return;
    }
    if (sh->backlog_head[dst] || !lr_spsc_push(sh->out[dst], m)) {
        if (sh->backlog_tail[dst])
            sh->backlog_tail[dst]->next = m;
        else
            sh->backlog_head[dst] = m;
        sh->backlog_tail[dst] = m;
    }
    sh->wake[dst] = 1;
}

static void retry_backlogs_and_wake(lr_shard *sh)
{
    lr_engine *e = sh->eng;
    for (uint32_t j = 0; j < e->nthreads; j++) {
        while (sh->backlog_head[j] && lr_spsc_push(sh->out[j], sh->backlog_head[j])) {
            sh->backlog_head[j] = sh->backlog_head[j]->next;
            if (!sh->backlog_head[j]) sh->backlog_tail[j] = NULL;
            sh->wake[j] = 1;
        }
        if (!sh->wake[j]) continue;
        sh->wake[j] = 0;
        struct io_uring_sqe *sqe = lr_shard_sqe(sh);
        io_uring_prep_msg_ring(sqe, e->shards[j].ring_fd, 0, LR_UD(NULL, LR_UD_WAKE), 0);
        /* the sender wants no completion for its own MSG_RING */
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        sqe->user_data = LR_UD(NULL, LR_UD_IGNORE);
    }
}

static void drain_self(lr_shard *sh)
{
    while (sh->self_head) {
        lr_imsg *m = sh->self_head;
        sh->self_head = m->next;
        if (!sh->self_head) sh->self_tail = NULL;
        dispatch(sh, m);
    }
}

static void drain_rings(lr_shard *sh)
{
    lr_engine *e = sh->eng;
    drain_self(sh);
    for (lr_imsg *m; (m = lr_mpsc_pop(&sh->foreign));) {
        dispatch(sh, m);
        drain_self(sh);
    }
    for (uint32_t i = 0; i < e->nthreads; i++) {
        if (i == sh->id) continue;
        lr_imsg *m;
        /* bounded per turn so one busy peer cannot starve the loop */
        for (int k = 0; k < 4096 && (m = lr_spsc_pop(sh->in[i])); k++) {
            dispatch(sh, m);
            drain_self(sh);
        }
    }
}

static void arm_accept(lr_shard *sh, lr_listener *l)
{
    struct io_uring_sqe *sqe = lr_shard_sqe(sh);
    io_uring_prep_multishot_accept_direct(sqe, l->fd, NULL, NULL, 0);
    sqe->user_data = LR_UD(l, LR_UD_ACCEPT);
    l->armed = true;
}

static void arm_event(lr_shard *sh)
{
    struct io_uring_sqe *sqe = lr_shard_sqe(sh);
    io_uring_prep_read(sqe, sh->event_fd, &sh->event_buf, sizeof(sh->event_buf), 0);
    sqe->user_data = LR_UD(NULL, LR_UD_EVENT);
}

static void begin_stop(lr_shard *sh)
{
    if (sh->stopping) return;
    sh->stopping = true;
    sh->stop_deadline = sh->now_ms + LR_DRAIN_MS;
    LR_INFO("event=shard_draining shard=%u conns=%u", sh->id, sh->nconns);
    for (int k = 0; k < 2; k++) {
        lr_listener *l = &sh->listeners[k];
        if (l->fd < 0) continue;
        struct io_uring_sqe *sqe = lr_shard_sqe(sh);
        io_uring_prep_cancel64(sqe, LR_UD(l, LR_UD_ACCEPT), 0);
        sqe->user_data = LR_UD(NULL, LR_UD_IGNORE);
    }
    lr_conn_drain_all(sh);
}

static void on_accept(lr_shard *sh, lr_listener *l, struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE)) l->armed = false;
    if (cqe->res >= 0) {
        if (sh->stopping) {
            struct io_uring_sqe *sqe = lr_shard_sqe(sh);
            io_uring_prep_close_direct(sqe, (unsigned)cqe->res);
            sqe->user_data = LR_UD(NULL, LR_UD_IGNORE);
        } else {
            static const uint8_t proto[] = {LR_PROTO_HTTP, LR_PROTO_TCP, LR_PROTO_ADMIN};
            lr_conn_accept(sh, (uint32_t)cqe->res, proto[l->kind]);
        }
    } else if (cqe->res != -ECANCELED) {
        LR_WARN("event=accept_error shard=%u err=%d", sh->id, -cqe->res);
    }
    if (!l->armed && !sh->stopping) arm_accept(sh, l);
}

static void handle_cqe(lr_shard *sh, struct io_uring_cqe *cqe)
{
    uint64_t ud = cqe->user_data;
    void *p = LR_UD_PTR(ud);
    switch (LR_UD_TAG(ud)) {
    case LR_UD_RECV:
        lr_conn_on_recv(sh, p, cqe);
        break;
    case LR_UD_SEND:
        lr_conn_on_send(sh, p, cqe->res);
        break;
    case LR_UD_ACCEPT:
        on_accept(sh, p, cqe);
        break;
    case LR_UD_AUX:
        lr_conn_on_aux(sh, p);
        break;
    case LR_UD_EVENT:
        /* the foreign queue is drained with the rings, every turn */
        atomic_store(&sh->foreign_signalled, 0);
        if (atomic_load(&sh->eng->stop)) begin_stop(sh);
        if (!sh->stopped) arm_event(sh);
        break;
    default: /* LR_UD_WAKE and ignored completions: rings are drained each turn */
        break;
    }
}

static void sweep_cb(void *owner, lr_timer *t)
{
    lr_shard *sh = owner;
    /* connections 4 times a second, so a ping goes out well before the idle
     * deadline even with short settings; the rest once a second */
    lr_conn_sweep(sh);
    if (++sh->sweeps % 4 == 0) lr_fanout_sweep(sh);
    if (!sh->admin && sh->sweeps % 240 == 0) lr_room_sweep_expired(sh);
    lr_timer_arm(&sh->timers, t, sh->now_ms + 250);
}

static uint64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The batching controller (core/batch.c) reads the shard's last interval:
 * its thread's CPU time (kernel included: the sends run inside
 * io_uring_enter and are most of the cost), the time it was blocked
 * waiting for events, and its deliveries and sends. */
/* A shard's share of the cores: the CPUs over the shards that hold
 * connections (core/steer.h), at most a whole core. */
static double core_share(const lr_engine *e)
{
    return (double)e->cpus / (double)lr_steer_active(&e->steer);
}

static void adapt_cb(void *owner, lr_timer *t)
{
    lr_shard *sh = owner;
    lr_batch_share(&sh->batch, core_share(sh->eng));
    uint64_t now_us = lr_clock_us();
    uint64_t cpu_us = thread_cpu_us();
    uint64_t span = now_us - sh->busy_window_start_us;
    uint64_t deliveries = atomic_load_explicit(&sh->st.deliveries, memory_order_relaxed);
    uint64_t sends = atomic_load_explicit(&sh->st.sends, memory_order_relaxed);
    if (span > 0) {
        double cpu = (double)(cpu_us - sh->cpu_window_start_us) / (double)span;
        double load = 1.0 - (double)(sh->idle_us < span ? sh->idle_us : span) / (double)span;
        uint32_t was = sh->batch.delay_ms;
        uint32_t d =
            lr_batch_sample(&sh->batch, cpu, load, deliveries - sh->deliveries_window_start,
                            sends - sh->sends_window_start);
        if (d != was)
            LR_DEBUG("event=batch_delay shard=%u delay_ms=%u was=%u cpu=%.2f load=%.2f fps=%.1f",
                     sh->id, d, was, sh->batch.cpu, sh->batch.load, sh->batch.fps);
    }
    sh->idle_us = 0;
    sh->busy_window_start_us = now_us;
    sh->cpu_window_start_us = cpu_us;
    sh->deliveries_window_start = deliveries;
    sh->sends_window_start = sends;
    lr_timer_arm(&sh->timers, t, sh->now_ms + LR_BATCH_INTERVAL_MS);
}

static void hold_cb(void *owner, lr_timer *t)
{
    lr_shard *sh = owner;
    uint64_t next = lr_fanout_hold_tick(sh);
    if (next) lr_timer_arm(&sh->timers, t, next);
}

static int setup_ring(lr_shard *sh, char *err, size_t errcap)
{
    struct io_uring_params p = {0};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE |
              IORING_SETUP_SUBMIT_ALL;
    p.cq_entries = LR_CQ_ENTRIES;
    int rc = io_uring_queue_init_params(LR_SQ_ENTRIES, &sh->ring, &p);
    if (rc < 0) {
        snprintf(err, errcap, "io_uring_queue_init: %s", strerror(-rc));
        return -1;
    }
    sh->ring_fd = sh->ring.ring_fd;
    rc = io_uring_register_files_sparse(&sh->ring, sh->nfiles);
    if (rc < 0) {
        snprintf(err, errcap, "register %u files: %s", sh->nfiles, strerror(-rc));
        return -1;
    }
    /* provided buffer ring, group 0 */
    size_t ring_bytes = sh->nbufs * sizeof(struct io_uring_buf);
    void *br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (br == MAP_FAILED) {
        snprintf(err, errcap, "mmap buffer ring: %s", strerror(errno));
        return -1;
    }
    sh->br = br;
    struct io_uring_buf_reg reg = {
        .ring_addr = (uintptr_t)br, .ring_entries = sh->nbufs, .bgid = 0};
    rc = io_uring_register_buf_ring(&sh->ring, &reg, 0);
    if (rc < 0) {
        snprintf(err, errcap, "register buffer ring: %s", strerror(-rc));
        return -1;
    }
    sh->bufs = mmap(NULL, (size_t)sh->nbufs * sh->buf_size, PROT_READ | PROT_WRITE,
                    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (sh->bufs == MAP_FAILED) {
        sh->bufs = NULL;
        snprintf(err, errcap, "mmap buffers: %s", strerror(errno));
        return -1;
    }
    io_uring_buf_ring_init(sh->br);
    for (uint32_t i = 0; i < sh->nbufs; i++)
        io_uring_buf_ring_add(sh->br, sh->bufs + (size_t)i * sh->buf_size, sh->buf_size,
                              (unsigned short)i, io_uring_buf_ring_mask(sh->nbufs), (int)i);
    io_uring_buf_ring_advance(sh->br, (int)sh->nbufs);
    return 0;
}

void *lr_shard_main(void *arg)
{
    lr_shard *sh = arg;
    lr_engine *e = sh->eng;
    char err[256];
    if (setup_ring(sh, err, sizeof(err)) != 0) {
        lr_engine_shard_ready(e, err);
        return NULL;
    }
    sh->now_ms = lr_clock_ms();
    for (int k = 0; k < 2; k++)
        if (sh->listeners[k].fd >= 0) arm_accept(sh, &sh->listeners[k]);
    arm_event(sh);
    sh->sweep_timer.cb = sweep_cb;
    lr_timer_arm(&sh->timers, &sh->sweep_timer, sh->now_ms + 250);
    sh->hold_timer.cb = hold_cb; /* armed by the first replica that keeps frames */
    sh->adapt_timer.cb = adapt_cb;
    lr_timer_arm(&sh->timers, &sh->adapt_timer, sh->now_ms + LR_BATCH_INTERVAL_MS);
    lr_batch_init(&sh->batch, sh->cfg->fanout_delay_ms, sh->cfg->fanout_max_delay_ms,
                  core_share(e));
    sh->busy_window_start_us = lr_clock_us();
    sh->cpu_window_start_us = thread_cpu_us();
    io_uring_submit(&sh->ring);
    lr_engine_shard_ready(e, NULL);

    while (!sh->stopped) {
        /* the event that says so may wait behind a busy turn's completions */
        if (!sh->stopping && atomic_load_explicit(&e->stop, memory_order_relaxed)) begin_stop(sh);
        uint64_t next = lr_timers_next(&sh->timers);
        bool pending =
            sh->dirty_head || sh->due_head || sh->flush_head || sh->self_head || sh->reap_head;
        bool blocked = false; /* messages wait for a peer's full ring */
        for (uint32_t j = 0; j < e->nthreads && !blocked; j++)
            blocked = sh->backlog_head[j];
        struct io_uring_cqe *cqe;
        int rc;
        uint64_t t_wait = 0;
        if (pending) {
            /* Work waits: no sleep, but the completions must still be run.
             * Under DEFER_TASKRUN the kernel runs them only on an enter
             * with GETEVENTS, which a zero-count wait with nothing to
             * submit skips: a shard that stayed busy never saw its recvs
             * (nor the stop event). */
            rc = io_uring_submit_and_get_events(&sh->ring);
        } else {
            /* submit first (the sends run in there: work), then wait (idle) */
            if (io_uring_sq_ready(&sh->ring)) io_uring_submit(&sh->ring);
            t_wait = lr_clock_us();
            /* A peer's full ring is retried after a short sleep, not in a
             * spin that takes the CPU the peer needs to drain it. */
            uint64_t now = lr_clock_ms();
            uint64_t wait = next == UINT64_MAX ? 1000 : (next > now ? next - now : 0);
            if (blocked && wait > LR_BACKLOG_RETRY_MS) wait = LR_BACKLOG_RETRY_MS;
            struct __kernel_timespec ts = {.tv_sec = (long long)(wait / 1000),
                                           .tv_nsec = (long long)(wait % 1000) * 1000000};
            rc = io_uring_submit_and_wait_timeout(&sh->ring, &cqe, 1, &ts, NULL);
        }
        uint64_t t0 = lr_clock_us();
        if (!pending) sh->idle_us += t0 - t_wait;
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
            LR_WARN("event=uring_wait shard=%u err=%d", sh->id, -rc);
        sh->now_ms = t0 / 1000;
        atomic_fetch_add_explicit(&sh->st.turns, 1, memory_order_relaxed);

        unsigned head, n = 0;
        io_uring_for_each_cqe(&sh->ring, head, cqe)
        {
            handle_cqe(sh, cqe);
            n++;
        }
        io_uring_cq_advance(&sh->ring, n);

        drain_rings(sh);
        lr_timers_run(&sh->timers, sh->now_ms, sh);
        drain_self(sh);
        lr_fanout_flush(sh);
        lr_conn_flush_dirty(sh);
        retry_backlogs_and_wake(sh);

        /* connections still open at the deadline are freed after the ring
         * is torn down (lr_engine_destroy), when no operation can touch them */
        if (sh->stopping && (sh->nconns == 0 || sh->now_ms >= sh->stop_deadline))
            sh->stopped = true;
        uint64_t busy = lr_clock_us() - t0;
        atomic_fetch_add_explicit(&sh->st.busy_us, busy, memory_order_relaxed);
    }
    io_uring_submit(&sh->ring);
    LR_INFO("event=shard_stopped shard=%u conns_left=%u", sh->id, sh->nconns);
    atomic_fetch_add(&e->exited, 1);
    return NULL;
}
