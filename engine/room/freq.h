/*
 * freq.h: per-room frequency control (PROTOCOL.md §6), pure logic with the
 * clock and the randomness injected so that it can be tested as a property.
 *
 * A token bucket of capacity `rate` refilled at `rate` per second bounds
 * every interval (rule 1). While the bucket has a whole token, a message
 * passes at once (rule 2). When a message finds the bucket empty, the room
 * enters window mode: windows of window_ms follow each other; the budget of
 * a window is the whole tokens the bucket will hold at its end (fractions
 * carry over); the messages offered during the window are held and at its
 * end the best `budget` of them pass, highest priority first and at random
 * among equal priorities, the rest are dropped (rule 3). The room leaves
 * window mode when a window ends with a token to spare. Only the best
 * `budget` messages are ever kept: a worse one is dropped on arrival or
 * evicted when a better one comes, so memory is bounded by rate x window,
 * never by the number of senders.
 */
#ifndef LR_ROOM_FREQ_H
#define LR_ROOM_FREQ_H

#include "core/common.h"

typedef struct lr_freq_item {
    void *msg;
    uint64_t key; /* (priority, random) order: smaller is better */
} lr_freq_item;

typedef struct lr_freq {
    uint32_t rate;      /* messages per second, >= 1 */
    uint32_t window_ms; /* >= 1 */
    double tokens;      /* 0 .. rate */
    uint64_t last_ms;   /* when tokens were last refilled */
    bool in_window;
    uint64_t window_end; /* valid when in_window */
    uint32_t budget;     /* whole messages that pass at window_end */
    uint32_t nheld;
    uint32_t cap; /* capacity of held */
    lr_freq_item *held;
    uint64_t rng;
    /* Settings given while a window was open: 0, or what takes effect when
     * that window closes (see lr_freq_configure). */
    uint32_t next_rate;
    uint32_t next_window_ms;
} lr_freq;

#define LR_FREQ_MAX_RATE 100000    /* messages per second */
#define LR_FREQ_MAX_WINDOW_MS 1000 /* window length, ms */

enum {
    LR_FREQ_PASS = 1, /* deliver now */
    LR_FREQ_HELD = 2, /* kept until the window ends; may be evicted later */
    LR_FREQ_DROP = 3, /* dropped now (limited) */
};

/* 0 or LR_ENOMEM. rate 1..100000, window_ms 1..1000 (else LR_EINVAL). */
int lr_freq_init(lr_freq *f, uint32_t rate, uint32_t window_ms, uint64_t seed, uint64_t now_ms);
void lr_freq_free(lr_freq *f);
/*
 * Change rate/window keeping held messages; 0, LR_EINVAL or LR_ENOMEM.
 * Outside window mode the change is immediate (tokens above the new rate are
 * cut). While a window is open, the messages it holds were accepted under
 * the old settings and this API has no way to hand back ones it would drop,
 * so the open window finishes with its end and budget unchanged and the new
 * settings take effect when it closes. f->cap may grow at once: size the
 * out array of lr_freq_close_window from f->cap after every configure.
 */
int lr_freq_configure(lr_freq *f, uint32_t rate, uint32_t window_ms, uint64_t now_ms);

/*
 * Offer a message of priority pri (lr_pri) at now_ms. If a window is due
 * (now_ms >= deadline) the caller must close it first with
 * lr_freq_close_window. Returns LR_FREQ_PASS, LR_FREQ_HELD or LR_FREQ_DROP.
 * When a held message is evicted by this one, *evicted is set to it (the
 * caller drops it as limited); otherwise *evicted is NULL.
 */
int lr_freq_offer(lr_freq *f, uint64_t now_ms, lr_pri pri, void *msg, void **evicted);

/* When the current window ends (ms), or 0 when not in window mode. */
uint64_t lr_freq_deadline(const lr_freq *f);

/*
 * Close the window if now_ms >= its deadline: writes the passing messages,
 * highest priority first, to out (capacity must be >= f->cap) and returns
 * how many. Held messages beyond the budget cannot exist (they were dropped
 * on offer). Returns 0 when no window was due.
 */
size_t lr_freq_close_window(lr_freq *f, uint64_t now_ms, void **out);

#endif
