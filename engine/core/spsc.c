/*
 * spsc.c: creation and destruction of the shard-to-shard rings; the hot
 * push/pop are inline in spsc.h. Never shares a ring between more than one
 * producer or more than one consumer.
 */
#include "core/spsc.h"

#include <stdlib.h>

lr_spsc *lr_spsc_new(uint32_t cap)
{
    uint32_t n = 2;
    while (n < cap && n < (1u << 30))
        n <<= 1;
    lr_spsc *r = aligned_alloc(LR_CACHELINE, sizeof(*r));
    if (!r) return NULL;
    *r = (lr_spsc){0};
    r->slots = calloc(n, sizeof(void *));
    if (!r->slots) {
        free(r);
        return NULL;
    }
    r->mask = n - 1;
    return r;
}

void lr_spsc_free(lr_spsc *r)
{
    if (!r) return;
    free(r->slots);
    free(r);
}
