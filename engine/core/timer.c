/*
 * timer.c: the min-heap behind timer.h. A heap over a timer wheel because a
 * shard holds few timers (rooms' flush and window deadlines, a handful of
 * sweeps): per-connection timeouts are handled by ordered lists in the
 * shard, not here, so the heap never grows with connections.
 */
#include "core/timer.h"

#include <stdlib.h>

#include "core/common.h"

void lr_timers_init(lr_timers *ts)
{
    *ts = (lr_timers){0};
}
void lr_timers_free(lr_timers *ts)
{
    free(ts->heap);
    *ts = (lr_timers){0};
}

static void place(lr_timers *ts, uint32_t i, lr_timer *t)
{
    ts->heap[i] = t;
    t->idx = i + 1;
}

static void sift_up(lr_timers *ts, uint32_t i)
{
    lr_timer *t = ts->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (ts->heap[p]->deadline <= t->deadline) break;
        place(ts, i, ts->heap[p]);
        i = p;
    }
    place(ts, i, t);
}

static void sift_down(lr_timers *ts, uint32_t i)
{
    lr_timer *t = ts->heap[i];
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t md = t->deadline;
        if (l < ts->n && ts->heap[l]->deadline < md) m = l, md = ts->heap[l]->deadline;
        if (r < ts->n && ts->heap[r]->deadline < md) m = r;
        if (m == i) break;
        place(ts, i, ts->heap[m]);
        i = m;
    }
    place(ts, i, t);
}

int lr_timer_arm(lr_timers *ts, lr_timer *t, uint64_t deadline)
{
    if (t->idx) {
        uint64_t old = t->deadline;
        t->deadline = deadline;
        if (deadline < old)
            sift_up(ts, t->idx - 1);
        else
            sift_down(ts, t->idx - 1);
        return LR_OK;
    }
    if (ts->n == ts->cap) {
        uint32_t cap = ts->cap ? ts->cap * 2 : 64;
        lr_timer **h = realloc(ts->heap, cap * sizeof(*h));
        if (!h) return LR_ENOMEM;
        ts->heap = h;
        ts->cap = cap;
    }
    t->deadline = deadline;
    place(ts, ts->n++, t);
    sift_up(ts, ts->n - 1);
    return LR_OK;
}

void lr_timer_cancel(lr_timers *ts, lr_timer *t)
{
    if (!t->idx) return;
    uint32_t i = t->idx - 1;
    t->idx = 0;
    ts->n--;
    if (i == ts->n) return;
    lr_timer *last = ts->heap[ts->n];
    place(ts, i, last);
    if (i > 0 && ts->heap[(i - 1) / 2]->deadline > last->deadline)
        sift_up(ts, i);
    else
        sift_down(ts, i);
}

uint64_t lr_timers_next(const lr_timers *ts)
{
    return ts->n ? ts->heap[0]->deadline : UINT64_MAX;
}

unsigned lr_timers_run(lr_timers *ts, uint64_t now, void *owner)
{
    unsigned fired = 0;
    while (ts->n && ts->heap[0]->deadline <= now) {
        lr_timer *t = ts->heap[0];
        lr_timer_cancel(ts, t);
        fired++;
        t->cb(owner, t);
    }
    return fired;
}
