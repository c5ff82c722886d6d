/*
 * freqcheck.h: checks a room's observed frequency-control decisions against
 * PROTOCOL.md §6 from what a client can see, with no I/O: the publishers'
 * acks (when each arrived, its seq or `limited`, the priority sent) and one
 * receiver's (seq, engine time) pairs. The overload scenario feeds it; the
 * unit test feeds it made-up histories.
 */
#ifndef LR_BENCH_FREQCHECK_H
#define LR_BENCH_FREQCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

/* One answer to a send, as a publisher saw it. */
typedef struct bench_ack_ev {
    uint64_t at_us; /* CLOCK_MONOTONIC µs when the bench read the ack */
    uint64_t seq;   /* 0 when limited */
    uint8_t pri;    /* lr_pri sent */
    uint8_t limited;
    uint8_t held;    /* passed at a window's close (the ack's `held`) */
    int64_t time_ms; /* the ack's `time`: when the engine passed or dropped it
                        (engine clock, ms); 0 when the ack carries none */
} bench_ack_ev;

/* One delivered message as a receiver saw it: its room seq and the `time`
 * the engine stamped when it passed (ms, engine clock). */
typedef struct bench_seq_time {
    uint64_t seq;
    int64_t time_ms;
} bench_seq_time;

typedef struct bench_freq_in {
    uint32_t room_rate;               /* the engine's per-room rate, msg/s */
    uint32_t window_ms;               /* its rate_window_ms */
    double offered[LR_PRI_COUNT];     /* msg/s offered per priority */
    uint64_t ok[LR_PRI_COUNT];        /* acks with a seq */
    uint64_t limited[LR_PRI_COUNT];   /* acks with limited */
    uint64_t delivered[LR_PRI_COUNT]; /* deliveries counted by all receivers */
    uint64_t receivers;               /* receivers when publishing began */
} bench_freq_in;

typedef struct bench_freq_out {
    /* rule 1: at most rate x T + rate in any interval of T >= 1 s */
    uint64_t passed_seen; /* messages in the receiver's (seq, time) log */
    uint64_t max_in_1s;   /* most passes inside any 1-s interval */
    double worst_excess;  /* max over intervals of passes - (rate x T + rate) */
    bool rule1_ok;
    /* rule 3: within a window, nothing dropped that beats a delivered one */
    uint32_t windows;         /* window closes seen (bursts of passes) */
    uint32_t windows_checked; /* closes with at least one drop attributed */
    uint32_t windows_violating;
    uint64_t drops_attributed, drops_ambiguous, drops_violating;
    double margin_ms; /* ack-arrival uncertainty used for attribution */
    bool rule3_checked, rule3_ok;
    /* rule 4: priorities whose cumulative offered rate stays within rate
     * (with headroom for arrival jitter) are delivered in full */
    bool must_be_full[LR_PRI_COUNT];
    double expected_rate[LR_PRI_COUNT]; /* sustained-overload share, msg/s */
    bool rule4_ok;
    /* rule 5: a limited message is never delivered; receivers got exactly
     * the acked ones */
    bool rule5_ok;
    bool ok; /* all of the above that could be checked */
} bench_freq_out;

/* Cumulative offered rate at most this share of the room rate counts as
 * "within rate" for rule 4: closer to the rate, arrival jitter alone may put
 * more than a window's budget into one window, and rule 3 then rightly drops. */
#define BENCH_FREQ_FULL_HEADROOM 0.75
/* Smallest attribution margin (ms) for rule 3, whatever the observed spread. */
#define BENCH_FREQ_MIN_MARGIN_MS 3.0

/*
 * Run every check. acks and st are sorted in place (by arrival and by seq).
 * Returns 0, or LR_ENOMEM.
 */
int bench_freq_check(const bench_freq_in *in, bench_ack_ev *acks, size_t nacks, bench_seq_time *st,
                     size_t nst, bench_freq_out *out);

#define BENCH_MIX_MAX 1000 /* sum of --mix weights: the priority pattern's length */

/* A smooth weighted round-robin of priorities: every priority's slots are
 * spread evenly over the pattern, so a window sees its share and no burst.
 * Returns the pattern length (sum of weights, at most cap), 0 when all
 * weights are 0 or the sum exceeds cap. */
uint32_t bench_mix_pattern(const uint32_t w[LR_PRI_COUNT], uint8_t *out, uint32_t cap);

#endif
