/*
 * timer.h: a shard's timers, a binary min-heap of intrusive lr_timer nodes
 * keyed by a monotonic millisecond deadline. Arm, re-arm and cancel are
 * O(log n) because every node knows its heap index. Single-threaded: a heap
 * belongs to one shard and is never touched by another thread.
 */
#ifndef LR_CORE_TIMER_H
#define LR_CORE_TIMER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct lr_timer lr_timer;
typedef void (*lr_timer_cb)(void *owner, lr_timer *t);

struct lr_timer {
    uint64_t deadline; /* monotonic ms */
    uint32_t idx;      /* heap index + 1; 0 when not armed */
    lr_timer_cb cb;
    void *arg;
};

typedef struct lr_timers {
    lr_timer **heap;
    uint32_t n, cap;
} lr_timers;

void lr_timers_init(lr_timers *ts);
void lr_timers_free(lr_timers *ts);
static inline bool lr_timer_armed(const lr_timer *t)
{
    return t->idx != 0;
}
/* Arm or move a timer; 0 or LR_ENOMEM. */
int lr_timer_arm(lr_timers *ts, lr_timer *t, uint64_t deadline);
void lr_timer_cancel(lr_timers *ts, lr_timer *t);
/* Earliest deadline, or UINT64_MAX when none. */
uint64_t lr_timers_next(const lr_timers *ts);
/* Fire every timer due at now (each is disarmed before its callback, which
 * may re-arm it). Returns how many fired. */
unsigned lr_timers_run(lr_timers *ts, uint64_t now, void *owner);

#endif
