/*
 * spsc.h: the bounded single-producer single-consumer ring that carries
 * pointers between two shards (one ring per ordered pair of shards). The
 * producer owns `tail`, the consumer owns `head`; each side caches the
 * other's index so that the shared cache lines are touched only when the
 * cached view runs out. Never blocks and never allocates after creation.
 */
#ifndef LR_CORE_SPSC_H
#define LR_CORE_SPSC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LR_CACHELINE 64

typedef struct lr_spsc {
    _Alignas(LR_CACHELINE) _Atomic uint32_t head; /* consumer: next slot to read */
    uint32_t tail_cache;                          /* consumer's view of tail */
    _Alignas(LR_CACHELINE) _Atomic uint32_t tail; /* producer: next slot to write */
    uint32_t head_cache;                          /* producer's view of head */
    _Alignas(LR_CACHELINE) uint32_t mask;
    void **slots;
} lr_spsc;

/* cap is rounded up to a power of two (>= 2). NULL on allocation failure. */
lr_spsc *lr_spsc_new(uint32_t cap);
void lr_spsc_free(lr_spsc *r);

/* Producer: false when full (the caller keeps the item and retries). */
static inline bool lr_spsc_push(lr_spsc *r, void *item)
{
    uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (t - r->head_cache > r->mask) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        if (t - r->head_cache > r->mask) return false;
    }
    r->slots[t & r->mask] = item;
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return true;
}

/* Consumer: NULL when empty. */
static inline void *lr_spsc_pop(lr_spsc *r)
{
    uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (h == r->tail_cache) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (h == r->tail_cache) return NULL;
    }
    void *item = r->slots[h & r->mask];
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return item;
}

/* Either side: an instantaneous (possibly stale) count. */
static inline uint32_t lr_spsc_depth(lr_spsc *r)
{
    return atomic_load_explicit(&r->tail, memory_order_acquire) -
           atomic_load_explicit(&r->head, memory_order_acquire);
}

#endif
