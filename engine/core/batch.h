/*
 * batch.h: the batching controller of a shard. Every LR_BATCH_INTERVAL_MS
 * the shard feeds it what the last interval cost (thread CPU, time not
 * spent waiting for events, deliveries and sends) and it answers how long
 * the shard may now hold a room's frames so that each send carries more of
 * them. A pure state machine: no clock, no I/O, so it can be tested against
 * a model of a shard.
 */
#ifndef LR_CORE_BATCH_H
#define LR_CORE_BATCH_H

#include <stdint.h>

#define LR_BATCH_INTERVAL_MS 50

typedef struct lr_batch {
    uint32_t delay_ms;        /* the current batching delay; 0: every frame at once */
    uint32_t base_ms, max_ms; /* the delay a busy shard takes first, and the most */
    double share;             /* the shard's share of the cores: its CPU marks scale by it */
    double cpu_f, load_f;     /* CPU share and share not waiting, smoothed fast */
    double cpu, load, fps;    /* means of the last block; deliveries per send */
    double sum_cpu, sum_load; /* the block in progress */
    uint64_t sum_deliveries, sum_sends;
    uint32_t n;          /* its intervals so far */
    uint32_t calm, cool; /* blocks in a row towards a lower delay */
} lr_batch;

/* base_ms is clamped to max_ms; max_ms 0 turns batching off. share: the
 * cores the process may use over its shards (1 and above: a whole core), so
 * that 8 shards on 2 cores count as hot at a quarter of what one shard per
 * core may use: they share the same two. */
void lr_batch_init(lr_batch *b, uint32_t base_ms, uint32_t max_ms, double share);

/* One interval: cpu = thread CPU time / wall time, load = 1 - time blocked
 * waiting for events / wall time (a shard kept off the CPU while it has
 * work counts as loaded), and the deliveries and sends it made. Returns the
 * new delay. */
/* The shard's share of the cores changed (shards that hold connections). */
void lr_batch_share(lr_batch *b, double share);

uint32_t lr_batch_sample(lr_batch *b, double cpu, double load, uint64_t deliveries, uint64_t sends);

#endif
