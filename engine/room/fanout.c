/*
 * fanout.c: the member side of a room on each shard. A replica keeps the
 * shard's members of the room and a bounded ring of the room's recent
 * frames, with the time each arrived; each membership has a cursor into
 * that ring. When a frame arrives, the members whose turn it is become due
 * (room/pace.h: at once when the shard is not batching, otherwise each
 * member every few frames by its phase, the oldest frame never waiting
 * longer than the shard's batching delay; the shard's hold tick sends what
 * members still keep when frames stop coming). Due only marks the
 * connection: its one send of the turn then copies every pending frame of
 * every room it is in. Slow members skip low priorities past slow_lag and
 * jump forward when the ring overwrites their cursor; both are counted.
 * Never touches another shard's connections.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/engine.h"
#include "core/log.h"
#include "net/conn.h"
#include "room/pace.h"
#include "room/room.h"

static lr_lroom *lroom_find(lr_shard *sh, const char *id, size_t len)
{
    lr_map_node *n = lr_map_get(&sh->lrooms, id, len, lr_hash(id, len));
    return n ? LR_CONTAINER_OF(n, lr_lroom, node) : NULL;
}

/* A ring of cap slots: the frames, then their arrival times, in one block
 * (cap a power of two). False when out of memory. */
static bool ring_alloc(lr_lroom *lr, uint32_t cap)
{
    lr->ring = calloc(cap, sizeof(*lr->ring) + sizeof(*lr->at));
    if (!lr->ring) return false;
    lr->at = (uint32_t *)(lr->ring + cap);
    lr->cap = cap;
    return true;
}

static void hold_del(lr_shard *sh, lr_lroom *lr);

static lr_lroom *lroom_get(lr_shard *sh, const char *id)
{
    size_t len = strlen(id);
    lr_lroom *lr = lroom_find(sh, id, len);
    if (lr) return lr;
    lr = calloc(1, sizeof(*lr));
    if (!lr) return NULL;
    if (!ring_alloc(lr, LR_LROOM_MIN_RING)) {
        free(lr);
        return NULL;
    }
    memcpy(lr->id, id, len + 1);
    lr->node.klen = (uint32_t)len;
    lr->node.hash = lr_hash(id, len);
    lr_map_put(&sh->lrooms, &lr->node);
    return lr;
}

/* The most frames a replica holds: room-ring rounded up to a power of 2. */
static uint32_t ring_max(const lr_shard *sh)
{
    uint32_t cap = LR_LROOM_MIN_RING;
    while (cap < sh->cfg->room_ring)
        cap <<= 1;
    return cap;
}

/* Move the frames [tail, head) into a ring of cap slots (a power of two
 * they fit in). False when out of memory: the old ring stays. */
static bool ring_resize(lr_lroom *lr, uint32_t cap)
{
    lr_lroom old = *lr;
    if (!ring_alloc(lr, cap)) return false;
    for (uint64_t i = old.tail; i < old.head; i++) {
        lr->ring[i & (cap - 1)] = old.ring[i & (old.cap - 1)];
        lr->at[i & (cap - 1)] = old.at[i & (old.cap - 1)];
    }
    free(old.ring);
    return true;
}

static void release_to(lr_lroom *lr, uint64_t upto)
{
    while (lr->tail < upto) {
        lr_frame_unref(lr->ring[lr->tail & (lr->cap - 1)]);
        lr->ring[lr->tail & (lr->cap - 1)] = NULL;
        lr->tail++;
    }
}

static void lroom_free(lr_shard *sh, lr_lroom *lr)
{
    if (lr->queued) {
        lr_lroom **pp = &sh->flush_head;
        while (*pp && *pp != lr)
            pp = &(*pp)->flush_next;
        if (*pp) *pp = lr->flush_next;
    }
    release_to(lr, lr->head);
    hold_del(sh, lr);
    lr_map_del(&sh->lrooms, &lr->node);
    free(lr->ring);
    free(lr);
}

static void post_leave(lr_shard *sh, const char *room, const char *user, bool kicked)
{
    lr_im_leave *m = lr_imsg_new(LR_IM_LEAVE, sizeof(*m));
    if (!m) return;
    m->kicked = kicked;
    snprintf(m->room, sizeof(m->room), "%s", room);
    snprintf(m->user, sizeof(m->user), "%s", user);
    lr_shard_post(sh, lr_shard_of(sh->eng, room, strlen(room)), &m->h);
}

/* Tell a room's home the connection's current nick and avatar. */
static void post_identity(lr_shard *sh, lr_conn *c, const char *room)
{
    lr_im_identity *m = lr_imsg_new(LR_IM_IDENTITY, sizeof(*m));
    if (!m) return;
    snprintf(m->room, sizeof(m->room), "%s", room);
    snprintf(m->user, sizeof(m->user), "%s", c->user);
    snprintf(m->nick, sizeof(m->nick), "%s", lr_conn_nick(c));
    snprintf(m->avatar, sizeof(m->avatar), "%s", lr_conn_avatar(c));
    lr_shard_post(sh, lr_shard_of(sh->eng, m->room, strlen(m->room)), &m->h);
}

void lr_fanout_on_join_ack(lr_shard *sh, lr_imsg *im)
{
    lr_im_join *m = (lr_im_join *)im;
    lr_conn *c = lr_conn_get(sh, m->conn);
    if (c && !m->already && c->njoining) c->njoining--;
    if (c && m->with_user) lr_conn_unhold(sh, c); /* the 101 goes with this reply */
    if (!c) {
        /* the connection went away while the join travelled: undo it */
        if (!m->err && !m->already) post_leave(sh, m->room, m->user, false);
        goto out;
    }
    if (m->err) {
        const char *msg = m->err == LR_ERR_NO_ROOM         ? "no such room"
                          : m->err == LR_ERR_NO_PERMISSION ? "no permission"
                                                           : "internal error";
        lr_conn_reply_err(sh, c, m->req_id, m->err, msg);
        if (m->close_on_err) lr_conn_close(sh, c, LR_WS_CLOSE_POLICY, m->err, msg);
        goto out;
    }
    if (!m->already) {
        lr_lroom *lr = lroom_get(sh, m->room);
        lr_member *mb = lr ? calloc(1, sizeof(*mb)) : NULL;
        if (!mb) {
            post_leave(sh, m->room, m->user, false);
            lr_conn_reply_err(sh, c, m->req_id, LR_ERR_INTERNAL, "out of memory");
            if (lr && !lr->members) lroom_free(sh, lr);
            goto out;
        }
        mb->conn = c;
        mb->room = lr;
        mb->cursor = lr->head; /* frames already here are older than the reply's seq */
        mb->next = lr->members;
        if (lr->members) lr->members->prev = mb;
        lr->members = mb;
        lr->nmembers++;
        mb->conn_next = c->rooms;
        c->rooms = mb;
        c->nrooms++;
    }
    if (!m->already && c->user &&
        (strcmp(m->nick, lr_conn_nick(c)) || strcmp(m->avatar, lr_conn_avatar(c))))
        post_identity(sh, c, m->room);
    lr_conn_reply_raw(sh, c, m->reply.p + m->reply_off, m->reply.len - m->reply_off);
out:
    lr_buf_free(&m->reply);
    free(m);
}

static void member_remove(lr_shard *sh, lr_member *mb)
{
    lr_lroom *lr = mb->room;
    if (mb->prev)
        mb->prev->next = mb->next;
    else
        lr->members = mb->next;
    if (mb->next) mb->next->prev = mb->prev;
    lr->nmembers--;
    if (!lr->members) lroom_free(sh, lr);
    free(mb);
}

bool lr_fanout_leave(lr_shard *sh, lr_conn *c, const char *room, size_t len)
{
    for (lr_member **pp = &c->rooms; *pp; pp = &(*pp)->conn_next) {
        lr_member *mb = *pp;
        if (mb->room->node.klen == len && memcmp(mb->room->id, room, len) == 0) {
            *pp = mb->conn_next;
            c->nrooms--;
            post_leave(sh, mb->room->id, c->user, false);
            member_remove(sh, mb);
            return true;
        }
    }
    return false;
}

bool lr_fanout_is_member(lr_conn *c, const char *room, size_t len)
{
    for (lr_member *mb = c->rooms; mb; mb = mb->conn_next)
        if (mb->room->node.klen == len && memcmp(mb->room->id, room, len) == 0) return true;
    return false;
}

void lr_fanout_detach(lr_shard *sh, lr_conn *c)
{
    while (c->rooms) {
        lr_member *mb = c->rooms;
        c->rooms = mb->conn_next;
        post_leave(sh, mb->room->id, c->user, false);
        member_remove(sh, mb);
    }
    c->nrooms = 0;
}

static void queue_flush(lr_shard *sh, lr_lroom *lr)
{
    if (lr->queued) return;
    lr->queued = true;
    lr->flush_next = sh->flush_head;
    sh->flush_head = lr;
}

/* How long ago the first frame a member has not been sent arrived; false
 * when it has none. */
static bool oldest_pending(const lr_shard *sh, const lr_lroom *lr, const lr_member *mb,
                           uint32_t *age)
{
    if (mb->cursor >= lr->head) return false;
    uint64_t i = mb->cursor < lr->tail ? lr->tail : mb->cursor;
    *age = (uint32_t)sh->now_ms - lr->at[i & (lr->cap - 1)];
    return true;
}

/* The hold wheel (shard.h): a replica whose members keep frames sits in
 * the slot of the moment its oldest kept frame reaches the delay, and one
 * timer looks at the slots that came due (a timer per replica cost a heap
 * move per frame of every room, 6 % of the engine with 10,000 rooms; one
 * list scanned every tick, a visit per holding replica per tick). */
static void hold_del(lr_shard *sh, lr_lroom *lr)
{
    if (!lr_dlist_linked(&lr->hold_node)) return;
    lr_dlist_remove(&lr->hold_node);
    sh->nholding--;
}

static void hold_put(lr_shard *sh, lr_lroom *lr)
{
    /* an idle wheel restarts at now; it never turns back (the tick takes
     * replicas out of a slot before putting them in a later one) */
    uint64_t now_slot = sh->now_ms / LR_HOLD_SLOT_MS;
    if (!sh->nholding && sh->hold_pos < now_slot) sh->hold_pos = now_slot;
    uint64_t slot = lr->hold_due_ms / LR_HOLD_SLOT_MS;
    if (slot < sh->hold_pos) slot = sh->hold_pos;
    hold_del(sh, lr);
    lr_dlist_push_tail(&sh->hold_wheel[slot % LR_HOLD_SLOTS], &lr->hold_node);
    sh->nholding++;
}

static uint64_t hold_tick_ms(uint32_t delay)
{
    uint64_t t = lr_pace_slack(delay);
    return t < LR_HOLD_SLOT_MS ? LR_HOLD_SLOT_MS : t;
}

/* The frames a member keeps must go by the delay even if no frame comes
 * to take them along. */
static void hold_until(lr_shard *sh, lr_lroom *lr, bool keeps, uint32_t oldest_age, uint32_t delay)
{
    if (!keeps) {
        hold_del(sh, lr);
        return;
    }
    lr->hold_due_ms = sh->now_ms - oldest_age + delay;
    hold_put(sh, lr);
    if (!lr_timer_armed(&sh->hold_timer) &&
        lr_timer_arm(&sh->timers, &sh->hold_timer, sh->now_ms + hold_tick_ms(delay)) != 0)
        queue_flush(sh, lr);
}

/* One pass over a replica's members with frames waiting: those whose time
 * came become due, the others keep their frames and put the replica on the
 * hold wheel. With a frame just arrived (k > 1) a member goes on its
 * phase's turn or when the next frame would come too late; from the hold
 * tick (k 0) when its oldest frame reaches the delay. */
static void pass(lr_shard *sh, lr_lroom *lr, uint32_t k, uint32_t delay)
{
    uint32_t turn = k ? lr_pace_turn(lr->head - 1, k) : 0;
    uint32_t kept = 0; /* the age of the oldest frame a member keeps */
    bool keeps = false;
    for (lr_member *mb = lr->members; mb; mb = mb->next) {
        uint32_t age;
        if (!oldest_pending(sh, lr, mb, &age)) continue;
        bool go = k ? lr_pace_due(lr_pace_phase((uintptr_t)mb, k), turn, age, lr->gap16, delay)
                    : lr_pace_overdue(age, delay);
        if (go) {
            lr_conn_mark_due(sh, mb->conn);
        } else {
            keeps = true;
            if (age > kept) kept = age;
        }
    }
    hold_until(sh, lr, keeps, kept, delay);
}

/* A frame arrived: the members whose turn it is become due (pace.h). */
static void dispatch(lr_shard *sh, lr_lroom *lr)
{
    uint32_t delay = sh->batch.delay_ms;
    uint32_t k = lr_pace_k_next(lr->k, lr_pace_k(delay, lr->gap16), &lr->k_votes, delay, lr->gap16);
    lr->k = (uint16_t)k;
    if (k <= 1) {
        queue_flush(sh, lr);
        hold_del(sh, lr); /* every lagging member goes */
        return;
    }
    pass(sh, lr, k, delay);
}

uint64_t lr_fanout_hold_tick(lr_shard *sh)
{
    uint32_t delay = sh->batch.delay_ms;
    uint64_t horizon = sh->now_ms + lr_pace_slack(delay);
    uint64_t upto = horizon / LR_HOLD_SLOT_MS;
    if (sh->nholding && upto >= sh->hold_pos + LR_HOLD_SLOTS)
        sh->hold_pos = upto - LR_HOLD_SLOTS + 1; /* a long stall: every slot once */
    while (sh->nholding && sh->hold_pos <= upto) {
        /* take the slot's replicas out first: those that keep frames go
         * back to a later slot, never to this one */
        lr_dlist due, *n;
        lr_dlist_take(&due, &sh->hold_wheel[sh->hold_pos++ % LR_HOLD_SLOTS]);
        while ((n = lr_dlist_first(&due))) {
            lr_lroom *lr = LR_CONTAINER_OF(n, lr_lroom, hold_node);
            lr_dlist_remove(n);
            sh->nholding--;
            if (lr->hold_due_ms <= horizon)
                pass(sh, lr, 0, delay); /* frames stopped coming */
            else
                hold_put(sh, lr); /* a later turn of the wheel */
        }
    }
    return sh->nholding ? sh->now_ms + hold_tick_ms(delay) : 0;
}

void lr_fanout_on_frame(lr_shard *sh, lr_imsg *im)
{
    lr_im_frame *m = (lr_im_frame *)im;
    lr_frame *f = m->f;
    free(m);
    lr_lroom *lr = lroom_find(sh, f->room, strlen(f->room));
    if (!lr) {
        lr_frame_unref(f);
        return;
    }
    /* a replica's ring grows with its backlog, up to room-ring frames */
    if (lr->head - lr->tail == lr->cap &&
        (lr->cap >= ring_max(sh) || !ring_resize(lr, lr->cap * 2)))
        release_to(lr, lr->tail + 1);
    lr->ring[lr->head & (lr->cap - 1)] = f;
    lr->at[lr->head & (lr->cap - 1)] = (uint32_t)sh->now_ms;
    lr->head++;
    /* the first frame, or one after a silence, counts as a long gap: a
     * quiet room's frame goes at once */
    lr->gap16 = lr_pace_gap(
        lr->gap16, lr->last_frame_ms ? sh->now_ms - lr->last_frame_ms : LR_PACE_GAP_MAX_MS, lr->k);
    lr->last_frame_ms = sh->now_ms;
    dispatch(sh, lr);
}

void lr_fanout_flush(lr_shard *sh)
{
    while (sh->flush_head) {
        lr_lroom *lr = sh->flush_head;
        sh->flush_head = lr->flush_next;
        lr->queued = false;
        for (lr_member *mb = lr->members; mb; mb = mb->next)
            if (mb->cursor < lr->head) lr_conn_mark_due(sh, mb->conn);
    }
}

uint32_t lr_fanout_fill(lr_shard *sh, lr_conn *c, lr_buf *out)
{
    uint32_t delivered = 0;
    size_t max = sh->cfg->send_max;
    /* one allocation of the right size instead of doubling reallocations */
    size_t want = out->len;
    for (lr_member *mb = c->rooms; mb && want < max; mb = mb->conn_next) {
        lr_lroom *lr = mb->room;
        uint64_t i = mb->cursor < lr->tail ? lr->tail : mb->cursor;
        for (; i < lr->head && want < max; i++)
            want += lr->ring[i & (lr->cap - 1)]->len[c->fmt];
    }
    if (want > out->len && lr_buf_reserve(out, want - out->len) != LR_OK) return 0;
    for (lr_member *mb = c->rooms; mb; mb = mb->conn_next) {
        lr_lroom *lr = mb->room;
        if (mb->cursor >= lr->head) continue;
        if (mb->cursor < lr->tail) {
            /* the ring overwrote frames this member had not been sent */
            atomic_fetch_add_explicit(&sh->st.slow_overrun, 1, memory_order_relaxed);
            mb->cursor = lr->tail;
        }
        bool lagging = lr->head - mb->cursor > sh->cfg->slow_lag;
        while (mb->cursor < lr->head) {
            lr_frame *f = lr->ring[mb->cursor & (lr->cap - 1)];
            if (f->src_gen && f->src_gen == c->gen && f->src_slot == c->slot &&
                f->src_shard == sh->id) {
                mb->cursor++; /* the sender has its ok */
                continue;
            }
            if (lagging && f->pri >= LR_PRI_LOW) {
                atomic_fetch_add_explicit(&sh->st.slow_skipped, 1, memory_order_relaxed);
                mb->cursor++;
                continue;
            }
            uint32_t len = f->len[c->fmt];
            if (out->len + len > max && out->len > 0) {
                c->flags |= LR_CF_DUE; /* the rest goes when this send completes */
                break;
            }
            if (lr_buf_append(out, f->data + f->off[c->fmt], len) != LR_OK) break;
            mb->cursor++;
            delivered++;
        }
    }
    /* frames left over (send_max reached) go out when this send completes */
    return delivered;
}

void lr_fanout_sweep(lr_shard *sh)
{
    uint32_t it;
    for (lr_map_node *n = lr_map_first(&sh->lrooms, &it); n; n = lr_map_next(&sh->lrooms, &it, n)) {
        lr_lroom *lr = LR_CONTAINER_OF(n, lr_lroom, node);
        if (lr->tail < lr->head) {
            uint64_t min = lr->head;
            for (lr_member *mb = lr->members; mb; mb = mb->next)
                if (mb->cursor < min) min = mb->cursor;
            release_to(lr, min);
        }
        /* the ring shrinks back once the backlog is gone */
        if (lr->cap > LR_LROOM_MIN_RING && lr->head - lr->tail <= lr->cap / 4)
            ring_resize(lr, lr->cap / 2);
    }
}

void lr_fanout_on_reply(lr_shard *sh, lr_imsg *im)
{
    lr_im_reply *m = (lr_im_reply *)im;
    lr_conn *c = lr_conn_get(sh, m->conn);
    if (c) {
        lr_conn_reply_raw(sh, c, m->data, m->len);
        if (m->close_ws) lr_conn_close(sh, c, m->close_ws, m->close_ws, NULL);
    }
    free(m);
}

void lr_fanout_on_kick(lr_shard *sh, lr_imsg *im)
{
    lr_im_kick *m = (lr_im_kick *)im;
    lr_conn *c = lr_conn_get(sh, m->conn);
    if (c) lr_conn_close(sh, c, m->ws_code, m->code, m->msg);
    free(m);
}

void lr_fanout_free_all(lr_shard *sh)
{
    uint32_t it;
    lr_map_node *n = lr_map_first(&sh->lrooms, &it);
    while (n) {
        lr_map_node *next = lr_map_next(&sh->lrooms, &it, n);
        lr_lroom *lr = LR_CONTAINER_OF(n, lr_lroom, node);
        while (lr->members) {
            lr_member *mb = lr->members;
            lr->members = mb->next;
            free(mb);
        }
        release_to(lr, lr->head);
        free(lr->ring);
        free(lr);
        n = next;
    }
    lr_map_free(&sh->lrooms);
    for (uint32_t k = 0; k < LR_HOLD_SLOTS; k++)
        lr_dlist_init(&sh->hold_wheel[k]);
    sh->nholding = 0;
}

/* Copy a member's pending frames into its connection's replies so that a
 * membership removed by a kick or a destroy still delivers what came before
 * (the `kicked` / `destroyed` event included). */
static void member_drain(lr_shard *sh, lr_member *mb)
{
    lr_conn *c = mb->conn;
    lr_lroom *lr = mb->room;
    if (mb->cursor < lr->tail) mb->cursor = lr->tail;
    lr_buf *o = lr_conn_out(c);
    for (; mb->cursor < lr->head; mb->cursor++) {
        lr_frame *f = lr->ring[mb->cursor & (lr->cap - 1)];
        if (f->src_gen && f->src_gen == c->gen && f->src_slot == c->slot && f->src_shard == sh->id)
            continue;
        if (o) lr_buf_append(o, f->data + f->off[c->fmt], f->len[c->fmt]);
    }
    lr_conn_mark_dirty(sh, c);
}

void lr_fanout_on_room_kick(lr_shard *sh, lr_imsg *im)
{
    lr_im_room_kick *k = (lr_im_room_kick *)im;
    lr_lroom *lr = lroom_find(sh, k->room, strlen(k->room));
    lr_member *mb = lr ? lr->members : NULL;
    while (mb) {
        lr_member *next = mb->next;
        lr_conn *c = mb->conn;
        if (!k->user[0] || (c->user && !strcmp(c->user, k->user))) {
            member_drain(sh, mb);
            /* unlink from the connection, then leave like a client would */
            for (lr_member **pp = &c->rooms; *pp; pp = &(*pp)->conn_next)
                if (*pp == mb) {
                    *pp = mb->conn_next;
                    break;
                }
            c->nrooms--;
            post_leave(sh, k->room, c->user, true);
            bool last = lr->nmembers == 1;
            member_remove(sh, mb);
            if (last) break; /* the replica is gone */
        }
        mb = next;
    }
    free(k);
}

void lr_fanout_on_broadcast(lr_shard *sh, lr_imsg *im)
{
    lr_im_frame *m = (lr_im_frame *)im;
    lr_frame *f = m->f;
    free(m);
    /* once per connection that is in any room: rare (≤ 5/s), so a copy
     * into each connection's replies rather than a ring */
    for (uint32_t i = 0; i < sh->nfiles; i++) {
        lr_conn *c = sh->conns[i];
        if (!c || !c->nrooms || (c->flags & LR_CF_CLOSING)) continue;
        lr_conn_reply_raw(sh, c, f->data + f->off[c->fmt], f->len[c->fmt]);
        atomic_fetch_add_explicit(&sh->st.deliveries, 1, memory_order_relaxed);
    }
    lr_frame_unref(f);
}

void lr_fanout_on_profile(lr_shard *sh, lr_imsg *im)
{
    lr_im_profile *p = (lr_im_profile *)im;
    lr_conn *c = lr_conn_get(sh, p->conn);
    /* The login's profile may come after the join it raced (a join on the
     * upgrade leaves with the login): rooms joined already learn it here,
     * joins still travelling when their ack comes back. */
    if (c && c->user &&
        lr_conn_set_identity(c, lr_str_c(c->user), lr_str_c(p->nick), lr_str_c(p->avatar)) == LR_OK)
        for (lr_member *mb = c->rooms; mb; mb = mb->conn_next)
            post_identity(sh, c, mb->room->id);
    free(p);
}
