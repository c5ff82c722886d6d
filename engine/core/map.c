/*
 * map.c: the chained hash map of map.h. Deleting during iteration is safe
 * for the node just returned only if the caller fetched the next one first.
 */
#include "core/map.h"

#include <stdlib.h>
#include <xxhash.h>

uint64_t lr_hash(const void *p, size_t len)
{
    return XXH3_64bits(p, len);
}

int lr_map_init(lr_map *m, uint32_t buckets, uint32_t koff)
{
    m->koff = koff;
    uint32_t n = 16;
    while (n < buckets)
        n <<= 1;
    m->b = calloc(n, sizeof(*m->b));
    if (!m->b) return LR_ENOMEM;
    m->mask = n - 1;
    m->n = 0;
    return LR_OK;
}

void lr_map_free(lr_map *m)
{
    free(m->b);
    *m = (lr_map){0};
}

lr_map_node *lr_map_get(const lr_map *m, const char *key, size_t klen, uint64_t hash)
{
    for (lr_map_node *n = m->b[(uint32_t)hash & m->mask]; n; n = n->next)
        if (n->hash == (uint32_t)hash && n->klen == klen &&
            memcmp(lr_map_key(m, n), key, klen) == 0)
            return n;
    return NULL;
}

static void grow(lr_map *m)
{
    uint32_t nb = (m->mask + 1) * 2;
    lr_map_node **b = calloc(nb, sizeof(*b));
    if (!b) return; /* keep working at a higher load */
    for (uint32_t i = 0; i <= m->mask; i++) {
        lr_map_node *n = m->b[i];
        while (n) {
            lr_map_node *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(m->b);
    m->b = b;
    m->mask = nb - 1;
}

int lr_map_put(lr_map *m, lr_map_node *node)
{
    if (m->n > m->mask) grow(m);
    lr_map_node **slot = &m->b[node->hash & m->mask];
    node->next = *slot;
    *slot = node;
    m->n++;
    return LR_OK;
}

void lr_map_del(lr_map *m, lr_map_node *node)
{
    lr_map_node **pp = &m->b[node->hash & m->mask];
    while (*pp && *pp != node)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = node->next;
        m->n--;
    }
}

lr_map_node *lr_map_first(const lr_map *m, uint32_t *i)
{
    for (*i = 0; m->b && *i <= m->mask; (*i)++)
        if (m->b[*i]) return m->b[*i];
    return NULL;
}

lr_map_node *lr_map_next(const lr_map *m, uint32_t *i, lr_map_node *cur)
{
    if (cur->next) return cur->next;
    for ((*i)++; *i <= m->mask; (*i)++)
        if (m->b[*i]) return m->b[*i];
    return NULL;
}
