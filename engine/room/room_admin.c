/*
 * room_admin.c: moderation and admin commands on a room's home shard, the
 * only place a room's roles, mutes, bans, mute-all, profile and config
 * change. Each change is queued to the store before it takes effect for
 * clients, and an admin command is answered only when the store thread has
 * committed it (the reply rides on lr_store_barrier's callback), so an `OK`
 * survives kill -9. Members learn of a change through an `event` push that
 * goes through the room's frames like any message; a kick or ban then
 * reaches every shard holding the user's connections as LR_IM_ROOM_KICK.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "admin/admin_cmd.h"
#include "core/engine.h"
#include "core/log.h"
#include "room/room_internal.h"

/* ---- events ---- */

typedef struct ev {
    const char *room, *kind, *user, *content;
    int64_t until; /* -1: no `until` field */
    int on;        /* -1: no `on` field */
    const lr_room_rec *profile;
    unsigned profile_mask; /* 1 name, 2 introduction, 4 notification, 8 face_url */
} ev;

static void encode_event(lr_enc *e, void *arg)
{
    const ev *v = arg;
    uint32_t n = 3 + (v->user != NULL) + (v->content != NULL) + (v->until >= 0) + (v->on >= 0);
    for (unsigned b = 1; b <= 8; b <<= 1)
        n += (v->profile_mask & b) != 0;
    lr_enc_map(e, n);
    lr_enc_key(e, "op");
    lr_enc_cstr(e, "event");
    lr_enc_key(e, "room");
    lr_enc_cstr(e, v->room);
    lr_enc_key(e, "kind");
    lr_enc_cstr(e, v->kind);
    if (v->user) {
        lr_enc_key(e, "user");
        lr_enc_cstr(e, v->user);
    }
    if (v->until >= 0) {
        lr_enc_key(e, "until");
        lr_enc_i64(e, v->until);
    }
    if (v->on >= 0) {
        lr_enc_key(e, "on");
        lr_enc_bool(e, v->on != 0);
    }
    if (v->content) {
        lr_enc_key(e, "content");
        lr_enc_cstr(e, v->content);
    }
    static const char *const keys[] = {"name", "introduction", "notification", "face_url"};
    for (unsigned i = 0; i < 4; i++) {
        if (!(v->profile_mask & (1u << i))) continue;
        const lr_room_rec *p = v->profile;
        const char *val = i == 0   ? p->name
                          : i == 1 ? p->intro
                          : i == 2 ? p->notification
                                   : p->face_url;
        lr_enc_key(e, keys[i]);
        lr_enc_cstr(e, val);
    }
    lr_enc_map_end(e);
}

static void emit(lr_shard *sh, lr_room *r, ev *v)
{
    v->room = r->rec.id;
    lr_frame *f = lr_frame_build(&sh->scratch, &sh->scratch2, encode_event, v);
    if (!f) return;
    f->kind = LR_FRAME_EVENT;
    f->pri = LR_PRI_HIGH;
    snprintf(f->room, sizeof(f->room), "%s", r->rec.id);
    lr_room_fan_out(sh, r, f, false);
}

static ev ev_of(const char *kind)
{
    return (ev){.kind = kind, .until = -1, .on = -1};
}

/* Remove a user's connections (or everyone's, user "") on every shard. */
static void kick_out(lr_shard *sh, lr_room *r, const char *user)
{
    lr_engine *e = sh->eng;
    for (uint32_t j = 0; j < e->nshards; j++) {
        if (!r->shard_conns[j]) continue;
        lr_im_room_kick *k = lr_imsg_new(LR_IM_ROOM_KICK, sizeof(*k));
        if (!k) continue;
        snprintf(k->room, sizeof(k->room), "%s", r->rec.id);
        snprintf(k->user, sizeof(k->user), "%s", user);
        lr_shard_post(sh, j, &k->h);
    }
}

void lr_room_member_event(lr_shard *sh, lr_room *r, const char *user, bool joined)
{
    ev v = ev_of(joined ? "join" : "leave");
    v.user = user;
    emit(sh, r, &v);
}

/* ---- persistence ---- */

typedef struct done_ctx {
    lr_engine *e;
    lr_conn_ref conn;
    json_t *extra;
} done_ctx;

static void store_done(void *arg, int rc)
{
    done_ctx *d = arg;
    lr_im_admin_done *m = lr_imsg_new(LR_IM_ADMIN_DONE, sizeof(*m));
    if (m) {
        m->conn = d->conn;
        m->code = rc ? LR_ERR_INTERNAL : 0;
        snprintf(m->info, sizeof(m->info), "%s", rc ? "store write failed" : "");
        m->extra = rc ? NULL : d->extra;
        if (rc) json_decref(d->extra);
        lr_shard_post_foreign(&d->e->shards[d->conn.shard], &m->h);
    } else {
        json_decref(d->extra);
    }
    free(d);
}

/* Answer once everything queued so far is committed. */
static void reply_durable(lr_shard *sh, lr_conn_ref conn, json_t *extra)
{
    done_ctx *d = malloc(sizeof(*d));
    if (d) {
        *d = (done_ctx){sh->eng, conn, extra};
        if (lr_store_barrier(sh->eng->store, store_done, d) == 0) return;
        free(d);
    }
    json_decref(extra);
    lr_admin_done_post(sh, conn, LR_ERR_INTERNAL, "store queue full", NULL);
}

static int persist_mod(lr_shard *sh, lr_room *r, lr_rmod *mod)
{
    lr_member_rec rec;
    memset(&rec, 0, sizeof(rec));
    snprintf(rec.room, sizeof(rec.room), "%s", r->rec.id);
    snprintf(rec.user, sizeof(rec.user), "%s", mod->id);
    rec.role = mod->role;
    rec.muted_until_ms = mod->muted_until_ms;
    rec.banned_until_ms = mod->banned_until_ms;
    return lr_store_member_put(sh->eng->store, &rec, NULL, NULL);
}

static int persist_room(lr_shard *sh, lr_room *r)
{
    return lr_store_room_put(sh->eng->store, &r->rec, NULL, NULL);
}

/* ---- the operations, shared by client ops and admin commands ---- */

static int op_mute(lr_shard *sh, lr_room *r, const char *user, int64_t secs)
{
    lr_rmod *mod = lr_room_mod(r, user, secs > 0);
    if (!mod) return secs > 0 ? LR_ERR_INTERNAL : 0;
    mod->muted_until_ms = secs > 0 ? lr_wall_ms() + secs * 1000 : 0;
    if (persist_mod(sh, r, mod) != 0) return LR_ERR_INTERNAL;
    ev v = ev_of(secs > 0 ? "muted" : "unmuted");
    v.user = user;
    if (secs > 0) v.until = mod->muted_until_ms;
    emit(sh, r, &v);
    return 0;
}

static int op_mute_all(lr_shard *sh, lr_room *r, bool on)
{
    r->rec.mute_all = on;
    if (persist_room(sh, r) != 0) return LR_ERR_INTERNAL;
    ev v = ev_of("mute_all");
    v.on = on;
    emit(sh, r, &v);
    return 0;
}

static void op_kick(lr_shard *sh, lr_room *r, const char *user)
{
    ev v = ev_of("kicked");
    v.user = user;
    emit(sh, r, &v);
    kick_out(sh, r, user);
}

static int op_ban(lr_shard *sh, lr_room *r, const char *user, int64_t secs)
{
    lr_rmod *mod = lr_room_mod(r, user, secs > 0);
    if (!mod) return secs > 0 ? LR_ERR_INTERNAL : 0;
    mod->banned_until_ms = secs > 0 ? lr_wall_ms() + secs * 1000 : 0;
    if (persist_mod(sh, r, mod) != 0) return LR_ERR_INTERNAL;
    if (secs > 0) {
        ev v = ev_of("banned");
        v.user = user;
        v.until = mod->banned_until_ms;
        emit(sh, r, &v);
        kick_out(sh, r, user);
    }
    return 0;
}

/* ---- client moderation ops (mute, kick, mute_all) ---- */

typedef struct ok_ctx {
    lr_engine *e;
    lr_im_reply *ok;
    uint64_t req_id;
    uint8_t fmt;
} ok_ctx;

/* On the store thread: the change is committed, or the commit failed. */
static void ok_after_commit(void *arg, int rc)
{
    ok_ctx *oc = arg;
    lr_im_reply *r = oc->ok;
    if (rc) {
        lr_conn_ref conn = r->conn;
        free(r);
        lr_reply_builder rb;
        lr_reply_start(&rb, oc->fmt);
        lr_enc_map(&rb.enc, 4);
        lr_enc_key(&rb.enc, "op");
        lr_enc_cstr(&rb.enc, "err");
        lr_enc_key(&rb.enc, "id");
        lr_enc_u64(&rb.enc, oc->req_id);
        lr_enc_key(&rb.enc, "code");
        lr_enc_i64(&rb.enc, LR_ERR_INTERNAL);
        lr_enc_key(&rb.enc, "msg");
        lr_enc_cstr(&rb.enc, "store write failed");
        lr_enc_map_end(&rb.enc);
        r = lr_reply_take(&rb, conn, 0);
    }
    if (r) lr_shard_post_foreign(&oc->e->shards[r->conn.shard], &r->h);
    free(oc);
}

void lr_room_on_mod(lr_shard *sh, lr_imsg *im)
{
    lr_im_mod *m = (lr_im_mod *)im;
    lr_room *r = lr_room_find(sh, m->room);
    int code = 0;
    const char *msg = "";
    if (!r) {
        code = LR_ERR_NO_ROOM;
        msg = "no such room";
    } else if (lr_room_role(sh, r, m->user) == 0) {
        code = LR_ERR_NO_PERMISSION;
        msg = "only the room owner and admins may do this";
    } else if (m->op == LR_OP_MUTE) {
        code = op_mute(sh, r, m->target, m->secs);
    } else if (m->op == LR_OP_KICK) {
        op_kick(sh, r, m->target);
    } else {
        code = op_mute_all(sh, r, m->on);
    }
    if (code && !*msg) msg = "internal error";
    if (code) {
        lr_reply_post_err(sh, m->conn, m->fmt, m->req_id, code, msg, 0);
        free(m);
        return;
    }
    lr_reply_builder rb;
    lr_reply_start(&rb, m->fmt);
    lr_enc_map(&rb.enc, 2);
    lr_enc_key(&rb.enc, "op");
    lr_enc_cstr(&rb.enc, "ok");
    lr_enc_key(&rb.enc, "id");
    lr_enc_u64(&rb.enc, m->req_id);
    lr_enc_map_end(&rb.enc);
    lr_im_reply *ok = lr_reply_take(&rb, m->conn, 0);
    if (ok && m->op != LR_OP_KICK) {
        /* like an admin command: `ok` once the change is committed */
        ok_ctx *oc = malloc(sizeof(*oc));
        if (oc) {
            *oc = (ok_ctx){sh->eng, ok, m->req_id, m->fmt};
            if (lr_store_barrier(sh->eng->store, ok_after_commit, oc) == 0)
                ok = NULL;
            else
                free(oc);
        }
    }
    if (ok) lr_shard_post(sh, m->conn.shard, &ok->h);
    free(m);
}

/* ---- admin commands ---- */

static json_t *group_info(lr_shard *sh, lr_room *r)
{
    return json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:i,s:s}", "GroupId", r->rec.id,
                     "ErrorCode", 0, "Type", "AVChatRoom", "Name", r->rec.name, "Owner_Account",
                     r->rec.owner, "Introduction", r->rec.intro, "Notification",
                     r->rec.notification, "FaceUrl", r->rec.face_url, "CreateTime",
                     (json_int_t)r->rec.create_time, "MemberNum", (int)r->count, "MuteAllMember",
                     r->rec.mute_all ? "On" : "Off");
}

static void copy_field(char *dst, size_t cap, lr_str s)
{
    if (!s.p) return;
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n) memcpy(dst, s.p, n);
    dst[n] = 0;
}

static void done_now(lr_shard *sh, lr_im_admin *m, int code, const char *info, json_t *extra)
{
    if (m->gather) {
        lr_im_admin_done *d = lr_imsg_new(LR_IM_ADMIN_DONE, sizeof(*d));
        if (!d) {
            json_decref(extra);
            return;
        }
        d->conn = m->conn;
        d->code = code;
        snprintf(d->info, sizeof(d->info), "%s", info ? info : "");
        d->extra = extra;
        d->gather = m->gather;
        d->idx = m->idx;
        lr_shard_post(sh, m->conn.shard, &d->h);
        return;
    }
    lr_admin_done_post(sh, m->conn, code, info, extra);
}

static void on_create(lr_shard *sh, lr_im_admin *m, const lr_admin_cmd *c)
{
    char id[LR_MAX_ROOM_ID + 1];
    copy_field(id, sizeof(id), c->group_id);
    if (lr_room_find(sh, id)) {
        done_now(sh, m, LR_ERR_ROOM_EXISTS, "group id already in use", NULL);
        return;
    }
    if (atomic_load(&sh->eng->nrooms) >= sh->cfg->max_rooms) {
        done_now(sh, m, LR_ERR_INVALID_PARAM, "room limit reached", NULL);
        return;
    }
    lr_room_rec rec;
    memset(&rec, 0, sizeof(rec));
    snprintf(rec.id, sizeof(rec.id), "%s", id);
    snprintf(rec.type, sizeof(rec.type), "AVChatRoom");
    copy_field(rec.name, sizeof(rec.name), c->u.create.name);
    copy_field(rec.owner, sizeof(rec.owner), c->u.create.owner);
    copy_field(rec.intro, sizeof(rec.intro), c->u.create.introduction);
    copy_field(rec.notification, sizeof(rec.notification), c->u.create.notification);
    copy_field(rec.face_url, sizeof(rec.face_url), c->u.create.face_url);
    rec.create_time = lr_wall_ms() / 1000;
    rec.history = -1;
    rec.allow_guests = sh->cfg->allow_guests;
    rec.member_events = sh->cfg->member_events;
    rec.report_limited = sh->cfg->report_limited;
    lr_room *r = lr_room_create(sh, &rec);
    if (!r || persist_room(sh, r) != 0) {
        if (r) lr_room_destroy(sh, r);
        done_now(sh, m, LR_ERR_INTERNAL, "out of memory", NULL);
        return;
    }
    lr_room_hook_group(sh, r, true);
    reply_durable(sh, m->conn, json_pack("{s:s}", "GroupId", id));
}

static void on_destroy(lr_shard *sh, lr_im_admin *m, lr_room *r)
{
    ev v = ev_of("destroyed");
    emit(sh, r, &v);
    lr_room_hook_group(sh, r, false);
    kick_out(sh, r, "");
    if (lr_store_room_delete(sh->eng->store, r->rec.id, NULL, NULL) != 0) {
        done_now(sh, m, LR_ERR_INTERNAL, "store queue full", NULL);
        return;
    }
    lr_room_destroy(sh, r);
    reply_durable(sh, m->conn, NULL);
}

static void on_modify(lr_shard *sh, lr_im_admin *m, lr_room *r, const lr_admin_cmd *c)
{
    unsigned mask = 0;
    if (c->u.modify.name.p)
        copy_field(r->rec.name, sizeof(r->rec.name), c->u.modify.name), mask |= 1;
    if (c->u.modify.introduction.p)
        copy_field(r->rec.intro, sizeof(r->rec.intro), c->u.modify.introduction), mask |= 2;
    if (c->u.modify.notification.p)
        copy_field(r->rec.notification, sizeof(r->rec.notification), c->u.modify.notification),
            mask |= 4;
    if (c->u.modify.face_url.p)
        copy_field(r->rec.face_url, sizeof(r->rec.face_url), c->u.modify.face_url), mask |= 8;
    int code = 0;
    if (c->u.modify.mute_all >= 0 && (bool)c->u.modify.mute_all != r->rec.mute_all)
        code = op_mute_all(sh, r, c->u.modify.mute_all == 1);
    if (!code && mask) {
        if (persist_room(sh, r) != 0) code = LR_ERR_INTERNAL;
        ev v = ev_of("profile");
        v.profile = &r->rec;
        v.profile_mask = mask;
        emit(sh, r, &v);
    }
    if (code)
        done_now(sh, m, code, "store queue full", NULL);
    else
        reply_durable(sh, m->conn, NULL);
}

static void on_send_msg(lr_shard *sh, lr_im_admin *m, lr_room *r, const lr_admin_cmd *c)
{
    const lr_admin_msg *am = &c->u.msg;
    const char *from = am->from.p ? am->from.p : m->who;
    size_t fl = strlen(from);
    lr_im_send *s = lr_imsg_new(LR_IM_SEND, sizeof(*s) + am->body.len + 3);
    if (!s) {
        done_now(sh, m, LR_ERR_INTERNAL, "out of memory", NULL);
        return;
    }
    s->conn = m->conn;
    s->admin = true;
    s->at_room = true;
    s->pri = (uint8_t)am->pri;
    s->type = (uint8_t)am->type;
    s->body_kind = am->type == LR_TYPE_TEXT ? LR_BODY_STR : LR_BODY_JSON;
    s->has_random = true;
    s->random = am->random;
    s->body_len = (uint32_t)am->body.len;
    snprintf(s->room, sizeof(s->room), "%s", r->rec.id);
    snprintf(s->user, sizeof(s->user), "%.*s", (int)(fl < LR_MAX_USER_ID ? fl : LR_MAX_USER_ID),
             from);
    s->nick = (char *)(s + 1);
    s->nick[0] = 0;
    s->avatar = s->nick + 1;
    s->avatar[0] = 0;
    s->body = s->avatar + 1;
    if (am->body.len) memcpy(s->body, am->body.p, am->body.len);
    s->body[am->body.len] = 0;
    if (am->body.len > sh->cfg->max_body) {
        free(s);
        done_now(sh, m, LR_ERR_BODY_TOO_LARGE, "message body too large", NULL);
        return;
    }
    /* The way a client send goes from here on: the before-send callback
     * (ADMIN_API.md §3: every client or REST send), then frequency control;
     * answered by send_result when it passes, is dropped or rejected. */
    lr_room_on_send(sh, &s->h);
}

static json_t *muted_list(lr_room *r)
{
    json_t *a = json_array();
    int64_t now = lr_wall_ms();
    uint32_t it;
    for (lr_map_node *n = lr_map_first(&r->mods, &it); n; n = lr_map_next(&r->mods, &it, n)) {
        lr_rmod *mod = LR_CONTAINER_OF(n, lr_rmod, node);
        if (mod->muted_until_ms > now)
            json_array_append_new(a, json_pack("{s:s,s:I}", "Member_Account", mod->id, "MutedUntil",
                                               (json_int_t)(mod->muted_until_ms / 1000)));
    }
    return json_pack("{s:o}", "MutedAccountList", a);
}

static json_t *ban_list(lr_room *r, uint32_t offset, uint32_t limit)
{
    json_t *a = json_array();
    int64_t now = lr_wall_ms();
    uint32_t it, i = 0, added = 0;
    bool more = false;
    for (lr_map_node *n = lr_map_first(&r->mods, &it); n; n = lr_map_next(&r->mods, &it, n)) {
        lr_rmod *mod = LR_CONTAINER_OF(n, lr_rmod, node);
        if (mod->banned_until_ms <= now) continue;
        if (i++ < offset) continue;
        if (added == limit) {
            more = true;
            break;
        }
        json_array_append_new(a, json_pack("{s:s,s:I}", "Member_Account", mod->id, "BannedUntil",
                                           (json_int_t)(mod->banned_until_ms / 1000)));
        added++;
    }
    return json_pack("{s:o,s:I}", "BannedAccountList", a, "NextOffset",
                     (json_int_t)(more ? offset + added : 0));
}

static json_t *members_list(lr_room *r, uint32_t limit)
{
    json_t *a = json_array();
    uint32_t i = 0;
    for (lr_dlist *p = r->order.next; p != &r->order && i < limit; p = p->next, i++) {
        lr_ouser *u = LR_CONTAINER_OF(p, lr_ouser, order);
        json_array_append_new(a, json_pack("{s:s,s:s,s:I}", "Member_Account", u->id, "NickName",
                                           lr_ouser_nick(u), "JoinTime",
                                           (json_int_t)(u->join_ms / 1000)));
    }
    return json_pack("{s:o,s:i}", "MemberList", a, "OnlineMemberNum", (int)r->count);
}

void lr_room_on_admin(lr_shard *sh, lr_imsg *im)
{
    lr_im_admin *m = (lr_im_admin *)im;
    lr_admin_cmd *c = m->cmd;
    char id[LR_MAX_ROOM_ID + 1] = "";
    if (m->group)
        snprintf(id, sizeof(id), "%s", m->group);
    else
        copy_field(id, sizeof(id), c->group_id);
    if (c->op == LR_ADMIN_CREATE_GROUP) {
        on_create(sh, m, c);
        goto out;
    }
    lr_room *r = lr_room_find(sh, id);
    if (!r) {
        if (c->op == LR_ADMIN_GET_GROUP_INFO)
            done_now(sh, m, 0, NULL,
                     json_pack("{s:s,s:i,s:s}", "GroupId", id, "ErrorCode", LR_ERR_NO_ROOM,
                               "ErrorInfo", "group not found"));
        else
            done_now(sh, m, LR_ERR_NO_ROOM, "group not found", NULL);
        goto out;
    }
    int code = 0;
    switch (c->op) {
    case LR_ADMIN_DESTROY_GROUP:
        on_destroy(sh, m, r);
        break;
    case LR_ADMIN_GET_GROUP_INFO:
        done_now(sh, m, 0, NULL, group_info(sh, r));
        break;
    case LR_ADMIN_MODIFY_GROUP_BASE_INFO:
        on_modify(sh, m, r, c);
        break;
    case LR_ADMIN_SEND_GROUP_MSG:
        on_send_msg(sh, m, r, c);
        break;
    case LR_ADMIN_SEND_GROUP_SYSTEM_NOTIFICATION: {
        ev v = ev_of("system");
        v.content = c->u.notice.content.p ? c->u.notice.content.p : "";
        emit(sh, r, &v);
        done_now(sh, m, 0, NULL, NULL);
        break;
    }
    case LR_ADMIN_FORBID_SEND_MSG:
        for (size_t i = 0; i < c->u.forbid.users.n && !code; i++)
            code = op_mute(sh, r, c->u.forbid.users.v[i].p, c->u.forbid.mute_time);
        if (code)
            done_now(sh, m, code, "internal error", NULL);
        else
            reply_durable(sh, m->conn, NULL);
        break;
    case LR_ADMIN_GET_GROUP_MUTED_ACCOUNT:
        done_now(sh, m, 0, NULL, muted_list(r));
        break;
    case LR_ADMIN_BAN_GROUP_MEMBER:
        for (size_t i = 0; i < c->u.ban.users.n && !code; i++)
            code = op_ban(sh, r, c->u.ban.users.v[i].p, c->u.ban.duration);
        if (code)
            done_now(sh, m, code, "internal error", NULL);
        else
            reply_durable(sh, m->conn, NULL);
        break;
    case LR_ADMIN_UNBAN_GROUP_MEMBER:
        for (size_t i = 0; i < c->u.unban.users.n && !code; i++)
            code = op_ban(sh, r, c->u.unban.users.v[i].p, 0);
        if (code)
            done_now(sh, m, code, "internal error", NULL);
        else
            reply_durable(sh, m->conn, NULL);
        break;
    case LR_ADMIN_GET_GROUP_BAN_MEMBER:
        done_now(sh, m, 0, NULL, ban_list(r, c->u.ban_list.offset, c->u.ban_list.limit));
        break;
    case LR_ADMIN_DELETE_GROUP_MEMBER:
        for (size_t i = 0; i < c->u.del.users.n; i++)
            op_kick(sh, r, c->u.del.users.v[i].p);
        done_now(sh, m, 0, NULL, NULL);
        break;
    case LR_ADMIN_MODIFY_GROUP_MEMBER_INFO: {
        lr_rmod *mod = lr_room_mod(r, c->u.role.user.p, c->u.role.admin);
        if (mod) {
            mod->role = c->u.role.admin ? LR_STORE_ROLE_ADMIN : LR_STORE_ROLE_MEMBER;
            code = persist_mod(sh, r, mod) ? LR_ERR_INTERNAL : 0;
        }
        if (code)
            done_now(sh, m, code, "store queue full", NULL);
        else
            reply_durable(sh, m->conn, NULL);
        break;
    }
    case LR_ADMIN_GET_ONLINE_MEMBER_NUM:
        done_now(sh, m, 0, NULL, json_pack("{s:i}", "OnlineMemberNum", (int)r->count));
        break;
    case LR_ADMIN_GET_MEMBERS:
        done_now(sh, m, 0, NULL, members_list(r, c->u.members.limit));
        break;
    case LR_ADMIN_SET_ROOM_CONFIG:
        if (c->u.config.rate > 0) r->rec.rate = (uint32_t)c->u.config.rate;
        if (c->u.config.history >= 0) r->rec.history = c->u.config.history;
        if (c->u.config.allow_guests >= 0) r->rec.allow_guests = c->u.config.allow_guests;
        if (c->u.config.member_events >= 0) r->rec.member_events = c->u.config.member_events;
        if (c->u.config.report_limited >= 0) r->rec.report_limited = c->u.config.report_limited;
        lr_room_reconfigure(sh, r);
        if (persist_room(sh, r) != 0)
            done_now(sh, m, LR_ERR_INTERNAL, "store queue full", NULL);
        else
            reply_durable(sh, m->conn, NULL);
        break;
    default:
        done_now(sh, m, LR_ERR_UNKNOWN_OP, "not a room command", NULL);
    }
out:
    if (!m->gather) {
        lr_admin_cmd_free(c);
        free(c);
    }
    free(m);
}

void lr_room_sweep_expired(lr_shard *sh)
{
    int64_t now = lr_wall_ms();
    uint32_t it;
    for (lr_map_node *n = lr_map_first(&sh->rooms, &it); n; n = lr_map_next(&sh->rooms, &it, n)) {
        lr_room *r = LR_CONTAINER_OF(n, lr_room, node);
        uint32_t jt;
        lr_map_node *k = lr_map_first(&r->mods, &jt);
        while (k) {
            lr_map_node *next = lr_map_next(&r->mods, &jt, k);
            lr_rmod *mod = LR_CONTAINER_OF(k, lr_rmod, node);
            if (mod->muted_until_ms && mod->muted_until_ms <= now) mod->muted_until_ms = 0;
            if (mod->banned_until_ms && mod->banned_until_ms <= now) mod->banned_until_ms = 0;
            if (mod->role == LR_STORE_ROLE_MEMBER && !mod->muted_until_ms &&
                !mod->banned_until_ms) {
                lr_map_del(&r->mods, k);
                free(mod);
            }
            k = next;
        }
    }
    /* the store clears the same rows; one shard asks for all */
    if (sh->id == 0) lr_store_sweep_expired(sh->eng->store, now, NULL, NULL);
}
