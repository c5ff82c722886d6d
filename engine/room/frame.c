/*
 * frame.c: immutable pushes shared by every recipient. A frame holds the
 * push framed for each transport (WebSocket text with JSON, WebSocket
 * binary with msgpack, length-prefixed msgpack for raw TCP) in one
 * allocation, plus the unframed payloads that history splices into join
 * replies. Its refcount changes once per shard (and once for history),
 * never once per connection.
 */
#include "room/room.h"

#include <stdlib.h>

static int encode_framed(lr_buf *b, bool json, lr_frame_encode_fn fn, void *ctx, size_t *poff,
                         size_t *plen)
{
    b->len = 0;
    size_t off = lr_frame_begin(b);
    if (off == LR_FRAME_ERR) return LR_ENOMEM;
    lr_enc e;
    lr_enc_init(&e, b, json);
    fn(&e, ctx);
    if (lr_enc_finish(&e) != 0) return LR_ENOMEM;
    *poff = off + LR_FRAME_RESERVE;
    *plen = b->len - *poff;
    return LR_OK;
}

lr_frame *lr_frame_build(lr_buf *sj, lr_buf *sm, lr_frame_encode_fn fn, void *ctx)
{
    size_t jp, jl, mp, ml;
    if (encode_framed(sj, true, fn, ctx, &jp, &jl) != LR_OK ||
        encode_framed(sm, false, fn, ctx, &mp, &ml) != LR_OK)
        return NULL;
    size_t jstart = lr_frame_end(sj, 0, LR_FMT_JSON);
    size_t mstart = lr_frame_end(sm, 0, LR_FMT_MSGPACK);
    size_t jframed = sj->len - jstart, mframed = sm->len - mstart;
    lr_frame *f = malloc(sizeof(*f) + jframed + mframed + 4 + ml);
    if (!f) return NULL;
    memset(f, 0, sizeof(*f));
    atomic_init(&f->refs, 1);
    uint8_t *d = f->data;
    /* WebSocket text + JSON */
    memcpy(d, sj->p + jstart, jframed);
    f->off[LR_FMT_JSON] = 0;
    f->len[LR_FMT_JSON] = (uint32_t)jframed;
    f->poff[0] = (uint32_t)(jp - jstart);
    f->plen[0] = (uint32_t)jl;
    /* WebSocket binary + msgpack */
    memcpy(d + jframed, sm->p + mstart, mframed);
    f->off[LR_FMT_MSGPACK] = (uint32_t)jframed;
    f->len[LR_FMT_MSGPACK] = (uint32_t)mframed;
    f->poff[1] = (uint32_t)(jframed + (mp - mstart));
    f->plen[1] = (uint32_t)ml;
    /* raw TCP: 4-byte big-endian length + msgpack */
    uint8_t *t = d + jframed + mframed;
    t[0] = (uint8_t)(ml >> 24);
    t[1] = (uint8_t)(ml >> 16);
    t[2] = (uint8_t)(ml >> 8);
    t[3] = (uint8_t)ml;
    memcpy(t + 4, sm->p + mp, ml);
    f->off[LR_FMT_TCP] = (uint32_t)(jframed + mframed);
    f->len[LR_FMT_TCP] = (uint32_t)(4 + ml);
    return f;
}

void lr_frame_ref(lr_frame *f, uint32_t n)
{
    atomic_fetch_add_explicit(&f->refs, n, memory_order_relaxed);
}

void lr_frame_unref(lr_frame *f)
{
    if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) free(f);
}
