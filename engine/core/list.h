/*
 * list.h: an intrusive circular doubly-linked list with a sentinel head.
 * O(1) insert, remove and move-to-tail, which is what keeps per-connection
 * timeouts (ping, idle, slow sends) free of timers and scans.
 */
#ifndef LR_CORE_LIST_H
#define LR_CORE_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lr_dlist {
    struct lr_dlist *prev, *next;
} lr_dlist;

static inline void lr_dlist_init(lr_dlist *h)
{
    h->prev = h->next = h;
}
static inline bool lr_dlist_empty(const lr_dlist *h)
{
    return h->next == h;
}
static inline bool lr_dlist_linked(const lr_dlist *n)
{
    return n->next != NULL && n->next != n;
}
static inline void lr_dlist_remove(lr_dlist *n)
{
    if (!n->next) return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}
static inline void lr_dlist_push_tail(lr_dlist *h, lr_dlist *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}
static inline void lr_dlist_move_tail(lr_dlist *h, lr_dlist *n)
{
    lr_dlist_remove(n);
    lr_dlist_push_tail(h, n);
}
/* Move every node of `from` to the empty head `to` (from is left empty). */
static inline void lr_dlist_take(lr_dlist *to, lr_dlist *from)
{
    lr_dlist_init(to);
    if (lr_dlist_empty(from)) return;
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    lr_dlist_init(from);
}
static inline lr_dlist *lr_dlist_first(const lr_dlist *h)
{
    return h->next == h ? NULL : h->next;
}

#endif
