/*
 * room.c: a room on its home shard, the one place its authoritative state
 * lives: seq, frequency control, history, online users (distinct, with the
 * newest-join order for the member list), per-shard connection counts and
 * the rate-limited count pushes. A message that passes is encoded once per
 * wire format into a frame that goes, by reference, to each shard with
 * members. Never blocks: store writes are queued to the store thread.
 */
#include "room/room_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/engine.h"
#include "core/log.h"
#include "net/conn.h"
#include <jansson.h>

#include "hooks/hooks.h"

#define LR_COUNT_FORCE_MS 10000 /* a changed count goes out at least this often */

lr_room *lr_room_find(lr_shard *sh, const char *id)
{
    size_t n = strlen(id);
    lr_map_node *node = lr_map_get(&sh->rooms, id, n, lr_hash(id, n));
    return node ? LR_CONTAINER_OF(node, lr_room, node) : NULL;
}

static uint32_t room_rate(const lr_shard *sh, const lr_room *r)
{
    return r->rec.rate ? r->rec.rate : sh->cfg->rate;
}

static uint32_t room_history(const lr_shard *sh, const lr_room *r)
{
    return r->rec.history >= 0 ? (uint32_t)r->rec.history : sh->cfg->history;
}

static void freq_cb(void *owner, lr_timer *t);
static void count_cb(void *owner, lr_timer *t);

lr_room *lr_room_create(lr_shard *sh, const lr_room_rec *rec)
{
    lr_engine *e = sh->eng;
    lr_room *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->shard_conns = calloc(e->nshards, sizeof(uint32_t));
    if (!r->shard_conns || lr_map_init(&r->users, 16, LR_MAP_KEY_OFF(lr_ouser, node, id)) != 0 ||
        lr_map_init(&r->mods, 16, LR_MAP_KEY_OFF(lr_rmod, node, id)) != 0)
        goto err;
    r->sh = sh;
    r->rec = *rec;
    r->node.klen = (uint32_t)strlen(r->rec.id);
    r->node.hash = lr_hash(r->rec.id, r->node.klen);
    lr_dlist_init(&r->order);
    if (lr_freq_init(&r->freq, room_rate(sh, r), sh->cfg->rate_window_ms, lr_rand_next(&sh->rng),
                     sh->now_ms) != 0)
        goto err;
    r->freq_timer.cb = freq_cb;
    r->freq_timer.arg = r;
    r->count_timer.cb = count_cb;
    r->count_timer.arg = r;
    lr_map_put(&sh->rooms, &r->node);
    atomic_fetch_add_explicit(&e->nrooms, 1, memory_order_relaxed);
    return r;
err:
    lr_map_free(&r->users);
    lr_map_free(&r->mods);
    free(r->shard_conns);
    free(r);
    return NULL;
}

static void default_rec(const lr_shard *sh, lr_room_rec *rec, const char *id)
{
    memset(rec, 0, sizeof(*rec));
    snprintf(rec->id, sizeof(rec->id), "%s", id);
    snprintf(rec->type, sizeof(rec->type), "AVChatRoom");
    snprintf(rec->name, sizeof(rec->name), "%s", id);
    rec->create_time = lr_wall_ms() / 1000;
    rec->history = -1;
    rec->allow_guests = sh->cfg->allow_guests;
    rec->member_events = sh->cfg->member_events;
    rec->report_limited = sh->cfg->report_limited;
}

int lr_room_boot(lr_shard *sh, const lr_room_rec *rec)
{
    return lr_room_create(sh, rec) ? 0 : LR_ENOMEM;
}

static void room_free(lr_shard *sh, lr_room *r)
{
    lr_timer_cancel(&sh->timers, &r->freq_timer);
    lr_timer_cancel(&sh->timers, &r->count_timer);
    for (uint32_t i = 0; i < r->freq.nheld; i++)
        free(r->freq.held[i].msg);
    lr_freq_free(&r->freq);
    for (uint32_t i = 0; i < r->hist_n; i++)
        lr_frame_unref(r->hist[(r->hist_start + i) % LR_MAX_HISTORY]);
    uint32_t it;
    lr_map_node *n = lr_map_first(&r->users, &it);
    while (n) {
        lr_map_node *next = lr_map_next(&r->users, &it, n);
        lr_ouser *u = LR_CONTAINER_OF(n, lr_ouser, node);
        free(u);
        n = next;
    }
    lr_map_free(&r->users);
    n = lr_map_first(&r->mods, &it);
    while (n) {
        lr_map_node *next = lr_map_next(&r->mods, &it, n);
        free(LR_CONTAINER_OF(n, lr_rmod, node));
        n = next;
    }
    lr_map_free(&r->mods);
    free(r->shard_conns);
    free(r);
}

void lr_room_destroy(lr_shard *sh, lr_room *r)
{
    lr_map_del(&sh->rooms, &r->node);
    atomic_fetch_sub_explicit(&sh->eng->nrooms, 1, memory_order_relaxed);
    room_free(sh, r);
}

lr_rmod *lr_room_mod(lr_room *r, const char *user, bool create)
{
    size_t ul = strlen(user);
    uint64_t h = lr_hash(user, ul);
    lr_map_node *n = lr_map_get(&r->mods, user, ul, h);
    if (n || !create) return n ? LR_CONTAINER_OF(n, lr_rmod, node) : NULL;
    lr_rmod *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    snprintf(m->id, sizeof(m->id), "%s", user);
    m->node.klen = (uint32_t)ul;
    m->node.hash = h;
    lr_map_put(&r->mods, &m->node);
    return m;
}

int lr_room_boot_member(lr_shard *sh, const lr_member_rec *rec)
{
    lr_room *r = lr_room_find(sh, rec->room);
    if (!r) return LR_ENOENT;
    lr_rmod *m = lr_room_mod(r, rec->user, true);
    if (!m) return LR_ENOMEM;
    m->role = rec->role;
    m->muted_until_ms = rec->muted_until_ms;
    m->banned_until_ms = rec->banned_until_ms;
    return LR_OK;
}

bool lr_is_app_admin(const lr_shard *sh, const char *user)
{
    const lr_engine *e = sh->eng;
    for (uint32_t i = 0; i < e->nadmins; i++)
        if (!strcmp(e->admins[i], user)) return true;
    return false;
}

int lr_room_role(lr_shard *sh, lr_room *r, const char *user)
{
    if (r->rec.owner[0] && !strcmp(r->rec.owner, user)) return 2;
    if (lr_is_app_admin(sh, user)) return 1;
    lr_rmod *m = lr_room_mod(r, user, false);
    return m && m->role == LR_STORE_ROLE_ADMIN ? 1 : 0;
}

void lr_room_free_all(lr_shard *sh)
{
    uint32_t it;
    lr_map_node *n = lr_map_first(&sh->rooms, &it);
    while (n) {
        lr_map_node *next = lr_map_next(&sh->rooms, &it, n);
        room_free(sh, LR_CONTAINER_OF(n, lr_room, node));
        n = next;
    }
    lr_map_free(&sh->rooms);
}

/* ---- fan-out of frames to the shards holding members ---- */

void lr_room_fan_out(lr_shard *sh, lr_room *r, lr_frame *f, bool keep_in_history)
{
    lr_engine *e = sh->eng;
    uint32_t targets = 0;
    for (uint32_t j = 0; j < e->nshards; j++)
        targets += r->shard_conns[j] > 0;
    lr_frame_ref(f, targets + (keep_in_history ? 1 : 0));
    for (uint32_t j = 0; j < e->nshards; j++)
        if (r->shard_conns[j]) lr_frame_post(sh, j, LR_IM_FRAME, f);
    if (keep_in_history) {
        uint32_t cap = room_history(sh, r);
        if (cap == 0) {
            lr_frame_unref(f);
        } else {
            while (r->hist_n >= cap) {
                lr_frame_unref(r->hist[r->hist_start]);
                r->hist_start = (r->hist_start + 1) % LR_MAX_HISTORY;
                r->hist_n--;
            }
            r->hist[(r->hist_start + r->hist_n) % LR_MAX_HISTORY] = f;
            r->hist_n++;
        }
    }
    lr_frame_unref(f); /* the creator's reference */
}

/* ---- count pushes ---- */

typedef struct count_ctx {
    const char *room;
    uint32_t count;
} count_ctx;

static void encode_count(lr_enc *e, void *arg)
{
    count_ctx *c = arg;
    lr_enc_map(e, 3);
    lr_enc_key(e, "op");
    lr_enc_cstr(e, "count");
    lr_enc_key(e, "room");
    lr_enc_cstr(e, c->room);
    lr_enc_key(e, "count");
    lr_enc_u64(e, c->count);
    lr_enc_map_end(e);
}

static void count_cb(void *owner, lr_timer *t)
{
    lr_shard *sh = owner;
    lr_room *r = t->arg;
    uint32_t delta = r->count > r->last_count ? r->count - r->last_count : r->last_count - r->count;
    if (delta == 0) return;
    uint32_t thr = r->count / 100 > 1 ? r->count / 100 : 1;
    if (delta < thr && sh->now_ms - r->last_count_ms < LR_COUNT_FORCE_MS) {
        lr_timer_arm(&sh->timers, t, r->last_count_ms + LR_COUNT_FORCE_MS);
        return;
    }
    count_ctx c = {r->rec.id, r->count};
    lr_frame *f = lr_frame_build(&sh->scratch, &sh->scratch2, encode_count, &c);
    if (!f) return;
    f->kind = LR_FRAME_COUNT;
    f->pri = LR_PRI_HIGH;
    snprintf(f->room, sizeof(f->room), "%s", r->rec.id);
    r->last_count = r->count;
    r->last_count_ms = sh->now_ms;
    lr_room_fan_out(sh, r, f, false);
}

static void count_changed(lr_shard *sh, lr_room *r)
{
    if (lr_timer_armed(&r->count_timer)) return;
    uint64_t at = r->last_count_ms + sh->cfg->count_interval_ms;
    lr_timer_arm(&sh->timers, &r->count_timer, at > sh->now_ms ? at : sh->now_ms);
}

/* ---- join / leave ---- */

static void encode_profile(lr_enc *e, const lr_room_rec *rec)
{
    lr_enc_map(e, 5);
    lr_enc_key(e, "name");
    lr_enc_cstr(e, rec->name);
    lr_enc_key(e, "owner");
    lr_enc_cstr(e, rec->owner);
    lr_enc_key(e, "introduction");
    lr_enc_cstr(e, rec->intro);
    lr_enc_key(e, "notification");
    lr_enc_cstr(e, rec->notification);
    lr_enc_key(e, "face_url");
    lr_enc_cstr(e, rec->face_url);
    lr_enc_map_end(e);
}

static void build_join_reply(lr_shard *sh, lr_room *r, lr_im_join *m)
{
    lr_buf *b = &m->reply;
    m->reply_off = lr_frame_begin(b);
    bool json = m->fmt == LR_FMT_JSON;
    lr_enc e;
    lr_enc_init(&e, b, json);
    lr_enc_map(&e, m->with_user ? 10 : 9);
    lr_enc_key(&e, "op");
    lr_enc_cstr(&e, "ok");
    lr_enc_key(&e, "id");
    lr_enc_u64(&e, m->req_id);
    if (m->with_user) {
        lr_enc_key(&e, "user");
        lr_enc_cstr(&e, m->user);
    }
    lr_enc_key(&e, "room");
    lr_enc_cstr(&e, r->rec.id);
    lr_enc_key(&e, "seq");
    lr_enc_u64(&e, r->seq);
    lr_enc_key(&e, "count");
    lr_enc_u64(&e, r->count);
    lr_enc_key(&e, "profile");
    encode_profile(&e, &r->rec);
    /* history: oldest first, within the age limit */
    int64_t min_time = lr_wall_ms() - (int64_t)sh->cfg->history_max_age_s * 1000;
    uint32_t first = 0;
    while (first < r->hist_n &&
           r->hist[(r->hist_start + first) % LR_MAX_HISTORY]->time_ms < min_time)
        first++;
    lr_enc_key(&e, "history");
    lr_enc_array(&e, r->hist_n - first);
    for (uint32_t i = first; i < r->hist_n; i++) {
        lr_frame *f = r->hist[(r->hist_start + i) % LR_MAX_HISTORY];
        int k = json ? 0 : 1;
        lr_enc_raw(&e, f->data + f->poff[k], f->plen[k]);
    }
    lr_enc_array_end(&e);
    lr_rmod *mod = lr_room_mod(r, m->user, false);
    int64_t muted = mod && mod->muted_until_ms > lr_wall_ms() ? mod->muted_until_ms : 0;
    lr_enc_key(&e, "muted_until");
    lr_enc_i64(&e, muted);
    lr_enc_key(&e, "mute_all");
    lr_enc_bool(&e, r->rec.mute_all);
    lr_enc_map_end(&e);
    if (m->reply_off == LR_FRAME_ERR || lr_enc_finish(&e) != 0) {
        m->err = LR_ERR_INTERNAL;
        lr_buf_free(b);
        return;
    }
    size_t start = lr_frame_end(b, m->reply_off, (lr_fmt)m->fmt);
    m->reply_off = start;
}

static lr_ouser *ouser_find(lr_room *r, const char *user)
{
    size_t ul = strlen(user);
    lr_map_node *n = lr_map_get(&r->users, user, ul, lr_hash(user, ul));
    return n ? LR_CONTAINER_OF(n, lr_ouser, node) : NULL;
}

/* A member entry holding "user\0nick\0avatar\0", not in any list yet. */
static lr_ouser *ouser_new(const char *user, const char *nick, const char *avatar)
{
    size_t ul = strlen(user), nl = strlen(nick), al = strlen(avatar);
    lr_ouser *u = calloc(1, sizeof(*u) + ul + 1 + nl + 1 + al + 1);
    if (!u) return NULL;
    memcpy(u->id, user, ul + 1);
    memcpy(u->id + ul + 1, nick, nl + 1);
    memcpy(u->id + ul + 1 + nl + 1, avatar, al + 1);
    u->node.klen = (uint32_t)ul;
    u->node.hash = lr_hash(user, ul);
    return u;
}

void lr_room_on_join(lr_shard *sh, lr_imsg *im)
{
    lr_im_join *m = (lr_im_join *)im;
    lr_engine *e = sh->eng;
    uint32_t from = m->h.from;
    lr_room *r = lr_room_find(sh, m->room);
    if (!r) {
        if (!sh->cfg->auto_create || atomic_load(&e->nrooms) >= sh->cfg->max_rooms) {
            m->err = LR_ERR_NO_ROOM;
        } else {
            lr_room_rec rec;
            default_rec(sh, &rec, m->room);
            r = lr_room_create(sh, &rec);
            if (!r) {
                m->err = LR_ERR_INTERNAL;
            } else {
                if (e->store) lr_store_room_put(e->store, &r->rec, NULL, NULL);
                lr_room_hook_group(sh, r, true);
            }
        }
    }
    if (r && m->guest && !r->rec.allow_guests) m->err = LR_ERR_NO_PERMISSION;
    if (r && !m->err) {
        lr_rmod *mod = lr_room_mod(r, m->user, false);
        if (mod && mod->banned_until_ms > lr_wall_ms()) m->err = LR_ERR_NO_PERMISSION;
    }
    if (!m->err && r && !m->already) {
        lr_ouser *u = ouser_find(r, m->user);
        if (u) {
            lr_dlist_remove(&u->order);
        } else {
            u = ouser_new(m->user, m->nick, m->avatar);
            if (!u) {
                m->err = LR_ERR_INTERNAL;
                goto reply;
            }
            lr_map_put(&r->users, &u->node);
            r->count++;
            count_changed(sh, r);
            lr_room_hook_member(sh, r, u->id, true, false);
            if (r->rec.member_events) lr_room_member_event(sh, r, u->id, true);
        }
        u->nconns++;
        u->join_ms = lr_wall_ms();
        /* newest join first */
        u->order.next = r->order.next;
        u->order.prev = &r->order;
        r->order.next->prev = &u->order;
        r->order.next = &u->order;
        r->shard_conns[from]++;
        r->conns++;
        atomic_fetch_add_explicit(&sh->st.joins, 1, memory_order_relaxed);
    }
reply:
    if (!m->err) build_join_reply(sh, r, m);
    m->h.type = LR_IM_JOIN_ACK;
    lr_shard_post(sh, from, &m->h);
}

static void room_leave_user(lr_shard *sh, lr_room *r, const char *user, uint32_t from, bool kicked)
{
    lr_ouser *u = ouser_find(r, user);
    if (!u) return;
    atomic_fetch_add_explicit(&sh->st.leaves, 1, memory_order_relaxed);
    if (r->shard_conns[from]) r->shard_conns[from]--;
    if (r->conns) r->conns--;
    if (--u->nconns == 0) {
        lr_dlist_remove(&u->order);
        lr_map_del(&r->users, &u->node);
        lr_room_hook_member(sh, r, u->id, false, kicked);
        if (r->rec.member_events) lr_room_member_event(sh, r, u->id, false);
        free(u);
        r->count--;
        count_changed(sh, r);
    }
}

void lr_room_on_identity(lr_shard *sh, lr_imsg *im)
{
    lr_im_identity *m = (lr_im_identity *)im;
    lr_room *r = lr_room_find(sh, m->room);
    lr_ouser *u = r ? ouser_find(r, m->user) : NULL;
    lr_ouser *v = NULL;
    if (u && (strcmp(lr_ouser_nick(u), m->nick) || strcmp(lr_ouser_avatar(u), m->avatar)))
        v = ouser_new(m->user, m->nick, m->avatar);
    if (v) {
        /* the strings live in the entry: the new one takes the old one's
         * place in the map and in the join order */
        v->nconns = u->nconns;
        v->join_ms = u->join_ms;
        v->order = u->order;
        v->order.prev->next = &v->order;
        v->order.next->prev = &v->order;
        lr_map_del(&r->users, &u->node);
        lr_map_put(&r->users, &v->node);
        free(u);
    }
    free(m);
}

void lr_room_on_leave(lr_shard *sh, lr_imsg *im)
{
    lr_im_leave *m = (lr_im_leave *)im;
    lr_room *r = lr_room_find(sh, m->room);
    if (r) room_leave_user(sh, r, m->user, m->h.from, m->kicked);
    free(m);
}

/* ---- send ---- */

static void encode_msg(lr_enc *e, void *arg)
{
    lr_im_send *m = ((void **)arg)[0];
    lr_frame *f = ((void **)arg)[1];
    lr_enc_map(e, 11);
    lr_enc_key(e, "op");
    lr_enc_cstr(e, "msg");
    lr_enc_key(e, "room");
    lr_enc_cstr(e, m->room);
    lr_enc_key(e, "seq");
    lr_enc_u64(e, f->seq);
    lr_enc_key(e, "from");
    lr_enc_cstr(e, m->user);
    lr_enc_key(e, "nick");
    lr_enc_cstr(e, m->nick);
    lr_enc_key(e, "avatar");
    lr_enc_cstr(e, m->avatar);
    lr_enc_key(e, "type");
    lr_enc_cstr(e, lr_type_name((lr_msg_type)m->type));
    lr_enc_key(e, "pri");
    lr_enc_cstr(e, lr_pri_name((lr_pri)m->pri));
    lr_enc_key(e, "body");
    lr_enc_body(e, (lr_body_kind)m->body_kind, m->body, m->body_len);
    lr_enc_key(e, "time");
    lr_enc_i64(e, f->time_ms);
    lr_enc_key(e, "random");
    lr_enc_u64(e, m->random);
    lr_enc_map_end(e);
}

/* Answer a send: a client gets ok/err in its encoding, an admin REST send
 * gets MsgSeq/MsgTime (MsgSeq 0 when frequency control dropped it). */
static void send_result(lr_shard *sh, lr_room *r, lr_im_send *m, int code, const char *msg,
                        uint64_t seq, int64_t time_ms)
{
    if (m->admin) {
        json_t *extra = NULL;
        if (!code)
            extra = json_pack("{s:I,s:I}", "MsgSeq", (json_int_t)seq, "MsgTime",
                              (json_int_t)(time_ms / 1000));
        lr_admin_done_post(sh, m->conn, code, msg, extra);
        return;
    }
    if (code) {
        lr_reply_post_err(sh, m->conn, m->fmt, m->req_id, code, msg, 0);
        return;
    }
    if (seq == 0 && r && r->rec.report_limited) {
        lr_reply_post_err(sh, m->conn, m->fmt, m->req_id, LR_ERR_FREQ_LIMIT, "room frequency limit",
                          0);
        return;
    }
    /* `time` and `held` (additions to PROTOCOL.md §3): when the message
     * passed (the push's time) or frequency control dropped it, and whether
     * it passed at the close of a window, so a client can tell which window
     * a message belonged to */
    lr_reply_builder rb;
    lr_reply_start(&rb, m->fmt);
    lr_enc_map(&rb.enc, (seq ? 4 : 5) + (m->held ? 1 : 0));
    lr_enc_key(&rb.enc, "op");
    lr_enc_cstr(&rb.enc, "ok");
    lr_enc_key(&rb.enc, "id");
    lr_enc_u64(&rb.enc, m->req_id);
    lr_enc_key(&rb.enc, "seq");
    lr_enc_u64(&rb.enc, seq);
    lr_enc_key(&rb.enc, "time");
    lr_enc_i64(&rb.enc, time_ms);
    if (m->held) {
        lr_enc_key(&rb.enc, "held");
        lr_enc_bool(&rb.enc, true);
    }
    if (!seq) {
        lr_enc_key(&rb.enc, "limited");
        lr_enc_bool(&rb.enc, true);
    }
    lr_enc_map_end(&rb.enc);
    lr_reply_post(sh, &rb, m->conn, 0);
}

/* The before-send callback dropped it (ADMIN_API.md §3, verdict 2): the
 * sender gets a plain ok with seq 0, never `limited` nor 10023, which are
 * about frequency control (PROTOCOL.md §3, §6). */
static void send_dropped_silently(lr_shard *sh, lr_im_send *m)
{
    if (m->admin) {
        send_result(sh, NULL, m, 0, NULL, 0, lr_wall_ms());
        return;
    }
    lr_reply_builder rb;
    lr_reply_start(&rb, m->fmt);
    lr_enc_map(&rb.enc, 3);
    lr_enc_key(&rb.enc, "op");
    lr_enc_cstr(&rb.enc, "ok");
    lr_enc_key(&rb.enc, "id");
    lr_enc_u64(&rb.enc, m->req_id);
    lr_enc_key(&rb.enc, "seq");
    lr_enc_u64(&rb.enc, 0);
    lr_enc_map_end(&rb.enc);
    lr_reply_post(sh, &rb, m->conn, 0);
}

static void drop_limited(lr_shard *sh, lr_room *r, lr_im_send *m)
{
    atomic_fetch_add_explicit(&sh->st.limited[m->pri & 3], 1, memory_order_relaxed);
    send_result(sh, r, m, 0, NULL, 0, lr_wall_ms());
    free(m);
}

static void deliver(lr_shard *sh, lr_room *r, lr_im_send *m)
{
    lr_frame tmp = {0};
    tmp.seq = r->seq + 1;
    tmp.time_ms = lr_wall_ms();
    void *ctx[2] = {m, &tmp};
    lr_frame *f = lr_frame_build(&sh->scratch, &sh->scratch2, encode_msg, ctx);
    if (!f) {
        send_result(sh, r, m, LR_ERR_INTERNAL, "out of memory", 0, 0);
        free(m);
        return;
    }
    r->seq++;
    atomic_fetch_add_explicit(&sh->st.msgs_passed, 1, memory_order_relaxed);
    f->kind = LR_FRAME_MSG;
    f->pri = m->pri;
    f->seq = tmp.seq;
    f->time_ms = tmp.time_ms;
    f->src_shard = m->conn.shard;
    f->src_slot = m->conn.slot;
    f->src_gen = m->admin ? 0 : m->conn.gen;
    snprintf(f->room, sizeof(f->room), "%s", r->rec.id);
    send_result(sh, r, m, 0, NULL, f->seq, f->time_ms);
    lr_room_after_send(sh, r, m, f->seq, f->time_ms);
    lr_room_fan_out(sh, r, f, true);
    free(m);
}

static void close_window(lr_shard *sh, lr_room *r)
{
    void *out[r->freq.cap ? r->freq.cap : 1];
    size_t n = lr_freq_close_window(&r->freq, sh->now_ms, out);
    for (size_t i = 0; i < n; i++) {
        ((lr_im_send *)out[i])->held = true;
        deliver(sh, r, out[i]);
    }
    uint64_t d = lr_freq_deadline(&r->freq);
    if (d)
        lr_timer_arm(&sh->timers, &r->freq_timer, d);
    else
        lr_timer_cancel(&sh->timers, &r->freq_timer);
}

static void freq_cb(void *owner, lr_timer *t)
{
    lr_room *r = t->arg;
    close_window(owner, r);
}

/* The user's home shard: per-user rate over all the user's connections. */
bool lr_user_allow_send(lr_shard *sh, const char *user);

void lr_room_on_send(lr_shard *sh, lr_imsg *im)
{
    lr_im_send *m = (lr_im_send *)im;
    if (!m->at_room) {
        if (!m->admin && !lr_user_allow_send(sh, m->user)) {
            lr_reply_post_err(sh, m->conn, m->fmt, m->req_id, LR_ERR_TOO_FAST, "sending too fast",
                              0);
            free(m);
            return;
        }
        m->at_room = true;
        lr_shard_post(sh, lr_shard_of(sh->eng, m->room, strlen(m->room)), &m->h);
        return;
    }
    lr_room *r = lr_room_find(sh, m->room);
    if (!r) {
        send_result(sh, NULL, m, LR_ERR_NO_ROOM, "no such room", 0, 0);
        free(m);
        return;
    }
    if (m->outsider) {
        send_result(sh, r, m, LR_ERR_NO_PERMISSION, "not in the room", 0, 0);
        free(m);
        return;
    }
    if (m->hooked) {
        /* back from the before-send callback */
        if (m->verdict == LR_HOOK_REJECT) {
            send_result(sh, r, m, LR_ERR_REJECTED, "rejected by the before-send callback", 0, 0);
            free(m);
            return;
        }
        if (m->verdict == LR_HOOK_DROP) {
            send_dropped_silently(sh, m);
            free(m);
            return;
        }
        lr_room_offer(sh, r, m);
        return;
    }
    if (!m->admin) {
        lr_rmod *mod = lr_room_mod(r, m->user, false);
        int64_t now = lr_wall_ms();
        char msg[64];
        if (mod && mod->banned_until_ms > now) {
            send_result(sh, r, m, LR_ERR_NO_PERMISSION, "banned", 0, 0);
            free(m);
            return;
        }
        if (mod && mod->muted_until_ms > now) {
            snprintf(msg, sizeof(msg), "muted until %lld", (long long)mod->muted_until_ms);
            send_result(sh, r, m, LR_ERR_MUTED, msg, 0, 0);
            free(m);
            return;
        }
        if (r->rec.mute_all && lr_room_role(sh, r, m->user) == 0) {
            send_result(sh, r, m, LR_ERR_MUTED, "muted: the room is muted", 0, 0);
            free(m);
            return;
        }
    }
    if (lr_room_before_send(sh, r, m)) return; /* comes back with the verdict */
    if (m->hooked && m->verdict == LR_HOOK_REJECT) {
        send_result(sh, r, m, LR_ERR_REJECTED, "rejected: callback unavailable", 0, 0);
        free(m);
        return;
    }
    lr_room_offer(sh, r, m);
}

void lr_room_offer(lr_shard *sh, lr_room *r, lr_im_send *m)
{
    uint64_t d = lr_freq_deadline(&r->freq);
    if (d && sh->now_ms >= d) close_window(sh, r);
    void *evicted = NULL;
    int res = lr_freq_offer(&r->freq, sh->now_ms, (lr_pri)m->pri, m, &evicted);
    if (evicted) drop_limited(sh, r, evicted);
    if (res == LR_FREQ_PASS) {
        deliver(sh, r, m);
    } else if (res == LR_FREQ_HELD) {
        if (!lr_timer_armed(&r->freq_timer))
            atomic_fetch_add_explicit(&sh->st.freq_windows, 1, memory_order_relaxed);
        lr_timer_arm(&sh->timers, &r->freq_timer, lr_freq_deadline(&r->freq));
    } else {
        drop_limited(sh, r, m);
    }
}

void lr_room_reconfigure(lr_shard *sh, lr_room *r)
{
    lr_freq_configure(&r->freq, room_rate(sh, r), sh->cfg->rate_window_ms, sh->now_ms);
    uint32_t cap = room_history(sh, r);
    while (r->hist_n > cap) {
        lr_frame_unref(r->hist[r->hist_start]);
        r->hist_start = (r->hist_start + 1) % LR_MAX_HISTORY;
        r->hist_n--;
    }
}

/* ---- queries ---- */

void lr_room_on_query(lr_shard *sh, lr_imsg *im)
{
    lr_im_query *m = (lr_im_query *)im;
    lr_room *r = lr_room_find(sh, m->room);
    if (!r) {
        lr_reply_post_err(sh, m->conn, m->fmt, m->req_id, LR_ERR_NO_ROOM, "no such room", 0);
        free(m);
        return;
    }
    lr_reply_builder rb;
    lr_reply_start(&rb, m->fmt);
    lr_enc *e = &rb.enc;
    lr_enc_map(e, m->op == LR_OP_MEMBERS ? 4 : 3);
    lr_enc_key(e, "op");
    lr_enc_cstr(e, "ok");
    lr_enc_key(e, "id");
    lr_enc_u64(e, m->req_id);
    if (m->op == LR_OP_MEMBERS) {
        uint32_t n = r->count < m->limit ? r->count : m->limit;
        lr_enc_key(e, "members");
        lr_enc_array(e, n);
        uint32_t i = 0;
        for (lr_dlist *p = r->order.next; p != &r->order && i < n; p = p->next, i++) {
            lr_ouser *u = LR_CONTAINER_OF(p, lr_ouser, order);
            lr_enc_map(e, 4);
            lr_enc_key(e, "user");
            lr_enc_cstr(e, u->id);
            lr_enc_key(e, "nick");
            lr_enc_cstr(e, lr_ouser_nick(u));
            lr_enc_key(e, "avatar");
            lr_enc_cstr(e, lr_ouser_avatar(u));
            lr_enc_key(e, "joined");
            lr_enc_i64(e, u->join_ms);
            lr_enc_map_end(e);
        }
        lr_enc_array_end(e);
    }
    lr_enc_key(e, "count");
    lr_enc_u64(e, r->count);
    lr_enc_map_end(e);
    lr_reply_post(sh, &rb, m->conn, 0);
    free(m);
}
