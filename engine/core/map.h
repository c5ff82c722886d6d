/*
 * map.h: an intrusive hash map from byte-string keys to nodes embedded in
 * the caller's structs (rooms, users, shard-local room replicas). Chained,
 * power-of-two buckets, grows by doubling at load 1; xxh3 hashes. The map
 * never owns or frees its nodes. Single-threaded.
 */
#ifndef LR_CORE_MAP_H
#define LR_CORE_MAP_H

#include "core/common.h"

/* 16 bytes: there is one per online user per room, so the key is not
 * pointed to but found at the map's fixed offset from the node. */
typedef struct lr_map_node {
    struct lr_map_node *next;
    uint32_t hash; /* the low half of lr_hash */
    uint32_t klen;
} lr_map_node;

typedef struct lr_map {
    lr_map_node **b;
    uint32_t mask; /* buckets - 1 */
    uint32_t n;
    uint32_t koff; /* the key's offset from the node in the embedding struct */
} lr_map;

/* The koff of a map of `type` whose node is member `node` and whose key
 * (bytes owned by the struct) is member `key`; the key must follow the node. */
#define LR_MAP_KEY_OFF(type, node, key) ((uint32_t)(offsetof(type, key) - offsetof(type, node)))

uint64_t lr_hash(const void *p, size_t len);
int lr_map_init(lr_map *m, uint32_t buckets, uint32_t koff); /* 0 or LR_ENOMEM */
static inline const char *lr_map_key(const lr_map *m, const lr_map_node *n)
{
    return (const char *)n + m->koff;
}
void lr_map_free(lr_map *m); /* frees the buckets only */
lr_map_node *lr_map_get(const lr_map *m, const char *key, size_t klen, uint64_t hash);
/* Insert a node whose key/klen/hash are set and that is not in the map. */
int lr_map_put(lr_map *m, lr_map_node *node);
void lr_map_del(lr_map *m, lr_map_node *node);

/* Iterate: for (lr_map_node *n = lr_map_first(m, &i); n; n = lr_map_next(m, &i, n)) */
lr_map_node *lr_map_first(const lr_map *m, uint32_t *i);
lr_map_node *lr_map_next(const lr_map *m, uint32_t *i, lr_map_node *cur);

#endif
