/*
 * map.h: an intrusive hash map from byte-string keys to nodes embedded in
 * the caller's structs (rooms, users, shard-local room replicas). Chained,
 * power-of-two buckets, grows by doubling at load 1; xxh3 hashes. The map
 * never owns or frees its nodes. Single-threaded.
 */
#ifndef LR_CORE_MAP_H
#define LR_CORE_MAP_H

#include "core/common.h"

typedef struct lr_map_node {
    struct lr_map_node *next;
    uint64_t hash;
    const char *key; /* owned by the embedding struct */
    uint32_t klen;
} lr_map_node;

typedef struct lr_map {
    lr_map_node **b;
    uint32_t mask; /* buckets - 1 */
    uint32_t n;
} lr_map;

uint64_t lr_hash(const void *p, size_t len);
int lr_map_init(lr_map *m, uint32_t buckets); /* 0 or LR_ENOMEM */
void lr_map_free(lr_map *m);                  /* frees the buckets only */
lr_map_node *lr_map_get(const lr_map *m, const char *key, size_t klen, uint64_t hash);
/* Insert a node whose key/klen/hash are set and that is not in the map. */
int lr_map_put(lr_map *m, lr_map_node *node);
void lr_map_del(lr_map *m, lr_map_node *node);

/* Iterate: for (lr_map_node *n = lr_map_first(m, &i); n; n = lr_map_next(m, &i, n)) */
lr_map_node *lr_map_first(const lr_map *m, uint32_t *i);
lr_map_node *lr_map_next(const lr_map *m, uint32_t *i, lr_map_node *cur);

#endif
