/*
 * steer.h: which shards take new connections. Shards beyond the CPU count
 * exist for capacity, not parallelism: a ring's fixed-file table is capped
 * by the open-file limit (20,000 here), so 120,000 connections need six
 * rings, but six shards on two cores spread a room's fan-out over threads
 * that only take turns on the same cores (10 % more CPU per delivery at
 * 10,000 receivers than two). So the first `primary` shards (one per CPU)
 * take every new connection until one of them is nearly full, then the
 * others take them, then, once those are nearly full too, all of them. A
 * classic BPF program on each listener's SO_REUSEPORT group picks the
 * listener (base + random % count), replaced only when the phase changes.
 */
#ifndef LR_CORE_STEER_H
#define LR_CORE_STEER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define LR_STEER_MAX_SHARDS 256 /* the shards option's maximum */

enum lr_steer_phase {
    LR_STEER_PRIMARY = 0, /* the first `primary` shards take connections */
    LR_STEER_OTHERS = 1,  /* the primaries are full: the others do */
    LR_STEER_ALL = 2,     /* every shard does (also: no more shards than CPUs) */
};

typedef struct lr_steer {
    pthread_mutex_t mu;
    uint32_t nshards, primary;
    uint32_t fill, low;        /* a shard at fill is full; a phase goes back below low */
    int fds[2];                /* one listener of each SO_REUSEPORT group, -1 if none */
    _Atomic uint64_t **counts; /* each shard's open connections (its st.conns) */
    _Atomic int phase;         /* enum lr_steer_phase */
} lr_steer;

/* The phase for these per-shard connection counts, coming from `phase`:
 * a group counts as full at `fill`, and once full until it is below `low`.
 * Pure, for tests. */
int lr_steer_next(int phase, const uint64_t *counts, uint32_t nshards, uint32_t primary,
                  uint32_t fill, uint32_t low);

/* files: each shard's table size. No program when nshards <= primary. The
 * caller fills counts[0 .. nshards-1] before lr_steer_start. 0 or LR_ENOMEM. */
int lr_steer_init(lr_steer *s, uint32_t nshards, uint32_t primary, uint32_t files);
void lr_steer_destroy(lr_steer *s);

/* Attach the first program to the groups of these listeners (fds[k] < 0:
 * no such group). Where the kernel refuses it (before 4.5), a warning, and
 * every shard takes connections. */
void lr_steer_start(lr_steer *s, const int fds[2]);

/* A shard's count changed to `count`: when that is a mark, read every
 * shard's count and change the phase if it must. Cheap otherwise. */
void lr_steer_note(lr_steer *s, uint64_t count);

/* Shards that take connections now (primary, the others, or all). */
uint32_t lr_steer_active(const lr_steer *s);

#endif
