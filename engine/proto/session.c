/*
 * session.c: request handling on the connection's shard. Everything that
 * needs a room's or a user's authoritative state travels to that home shard
 * as an lr_imsg; everything else is answered here. Every field is checked
 * before anything leaves the shard, so home shards only see valid requests.
 * Never blocks (signature checks are a few microseconds of HMAC).
 */
#include "proto/session.h"

#include <stdio.h>
#include <stdlib.h>

#include "auth/sig.h"
#include "core/engine.h"
#include "core/log.h"
#include "proto/codec.h"
#include "room/imsg.h"
#include "room/room.h"

static void copy_id(char *dst, size_t cap, lr_str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n) memcpy(dst, s.p, n);
    dst[n] = 0;
}

/* {"op":"ok","id":id,"user":user} */
static void reply_login_ok(lr_shard *sh, lr_conn *c, uint64_t id)
{
    lr_enc e;
    size_t off = lr_conn_reply_begin(sh, c, &e);
    lr_enc_map(&e, 3);
    lr_enc_key(&e, "op");
    lr_enc_cstr(&e, "ok");
    lr_enc_key(&e, "id");
    lr_enc_u64(&e, id);
    lr_enc_key(&e, "user");
    lr_enc_cstr(&e, c->user);
    lr_enc_map_end(&e);
    lr_conn_reply_end(sh, c, off, &e);
}

static int set_identity(lr_shard *sh, lr_conn *c, lr_str user, lr_str nick, lr_str avatar,
                        bool guest)
{
    if (lr_conn_set_identity(c, user, nick, avatar) != LR_OK) return LR_ERR_INTERNAL;
    c->flags |= LR_CF_LOGGED_IN | (guest ? LR_CF_GUEST : 0);
    if (!guest) {
        lr_im_login *m = lr_imsg_new(LR_IM_LOGIN, sizeof(*m));
        if (m) {
            m->conn = lr_conn_ref_of(sh, c);
            m->login_ms = sh->now_ms;
            copy_id(m->user, sizeof(m->user), user);
            lr_shard_post(sh, lr_shard_of(sh->eng, m->user, strlen(m->user)), &m->h);
        }
    }
    return 0;
}

static int guest_login(lr_shard *sh, lr_conn *c)
{
    char id[LR_MAX_USER_ID + 1];
    int n =
        snprintf(id, sizeof(id), "guest-%u-%llu", sh->id, (unsigned long long)(++sh->guest_seq));
    return set_identity(sh, c, (lr_str){id, (size_t)n}, LR_STR_LIT(""), LR_STR_LIT(""), true);
}

/* 0 or a protocol error code. */
static int user_login(lr_shard *sh, lr_conn *c, lr_str user, lr_str sig, lr_str nick, lr_str avatar)
{
    if (!lr_id_valid(user, LR_MAX_USER_ID) || (user.len >= 6 && !memcmp(user.p, "guest-", 6)))
        return LR_ERR_INVALID_PARAM;
    if (nick.len > LR_MAX_NICK || avatar.len > LR_MAX_AVATAR) return LR_ERR_INVALID_PARAM;
    if (sig.len == 0) return LR_ERR_SIG_MALFORMED;
    int rc = lr_sig_verify_with(sh->sig, sh->cfg->app_id, user, sig, lr_wall_ms() / 1000);
    if (rc) return rc;
    return set_identity(sh, c, user, nick, avatar, false);
}

static const char *err_text(int code)
{
    switch (code) {
    case LR_ERR_SIG_EXPIRED:
        return "signature expired";
    case LR_ERR_SIG_MALFORMED:
        return "signature malformed";
    case LR_ERR_SIG_VERIFY:
        return "signature verification failed";
    case LR_ERR_SIG_USER:
        return "signature user does not match";
    case LR_ERR_INVALID_PARAM:
        return "invalid parameter";
    case LR_ERR_BAD_ROOM_ID:
        return "invalid room id";
    case LR_ERR_NO_PERMISSION:
        return "no permission";
    case LR_ERR_INTERNAL:
        return "internal error";
    default:
        return "error";
    }
}

/* Post a join to the room's home shard. */
static int post_join(lr_shard *sh, lr_conn *c, lr_str room, uint64_t id, bool upgrade)
{
    const char *nick = lr_conn_nick(c), *avatar = lr_conn_avatar(c);
    size_t nl = strlen(nick), al = strlen(avatar);
    lr_im_join *m = lr_imsg_new(LR_IM_JOIN, sizeof(*m) + nl + al + 2);
    if (!m) return LR_ERR_INTERNAL;
    m->conn = lr_conn_ref_of(sh, c);
    m->req_id = id;
    m->fmt = c->fmt;
    m->guest = (c->flags & LR_CF_GUEST) != 0;
    m->with_user = upgrade;
    m->close_on_err = upgrade;
    m->already = lr_fanout_is_member(c, room.p, room.len);
    copy_id(m->room, sizeof(m->room), room);
    snprintf(m->user, sizeof(m->user), "%s", c->user);
    m->nick = (char *)(m + 1);
    memcpy(m->nick, nick, nl + 1);
    m->avatar = m->nick + nl + 1;
    memcpy(m->avatar, avatar, al + 1);
    if (!m->already) c->njoining++;
    lr_shard_post(sh, lr_shard_of(sh->eng, m->room, room.len), &m->h);
    return 0;
}

void lr_session_on_upgrade(lr_shard *sh, lr_conn *c, const lr_upgrade_login *q)
{
    int rc = 0;
    if (q->bad)
        rc = LR_ERR_INVALID_PARAM;
    else if (q->has_user || q->has_sig) {
        if (!q->has_user)
            rc = LR_ERR_INVALID_PARAM;
        else
            rc = user_login(sh, c, q->user, q->sig, q->nick, q->avatar);
    } else if (!sh->cfg->allow_guests) {
        rc = LR_ERR_NO_PERMISSION;
    } else {
        rc = guest_login(sh, c);
    }
    if (!rc && q->has_room && !lr_id_valid(q->room, LR_MAX_ROOM_ID)) rc = LR_ERR_BAD_ROOM_ID;
    if (!rc && q->has_room) rc = post_join(sh, c, q->room, 0, true);
    /* the 101 waits for the join's reply (lr_fanout_on_join_ack): one send */
    if (!rc && q->has_room) c->flags |= LR_CF_HOLD;
    if (rc) {
        lr_conn_reply_err(sh, c, 0, rc, err_text(rc));
        lr_conn_close(sh, c, LR_WS_CLOSE_POLICY, rc, err_text(rc));
        return;
    }
    if (!q->has_room) reply_login_ok(sh, c, 0);
}

void lr_session_on_close(lr_shard *sh, lr_conn *c)
{
    if (!(c->flags & LR_CF_LOGGED_IN) || (c->flags & LR_CF_GUEST)) return;
    lr_im_login *m = lr_imsg_new(LR_IM_LOGOUT, sizeof(*m));
    if (!m) return;
    m->conn = lr_conn_ref_of(sh, c);
    snprintf(m->user, sizeof(m->user), "%s", c->user);
    lr_shard_post(sh, lr_shard_of(sh->eng, m->user, strlen(m->user)), &m->h);
}

static int on_send(lr_shard *sh, lr_conn *c, const lr_req *r)
{
    if (!(c->flags & LR_CF_LOGGED_IN) || (c->flags & LR_CF_GUEST)) return LR_ERR_NO_PERMISSION;
    if (!r->room.p) return LR_ERR_INVALID_PARAM;
    if (!lr_id_valid(r->room, LR_MAX_ROOM_ID)) return LR_ERR_BAD_ROOM_ID;
    if (!r->has_body) return LR_ERR_INVALID_PARAM;
    if (r->body.len > sh->cfg->max_body) return LR_ERR_BODY_TOO_LARGE;
    int type = LR_TYPE_TEXT, pri = LR_PRI_NORMAL;
    if (r->type.p && (type = lr_type_parse(r->type)) < 0) return LR_ERR_INVALID_PARAM;
    if (r->pri.p && (pri = lr_pri_parse(r->pri)) < 0) return LR_ERR_INVALID_PARAM;
    bool outsider = !lr_fanout_is_member(c, r->room.p, r->room.len);

    const char *nick = lr_conn_nick(c), *avatar = lr_conn_avatar(c);
    size_t nl = strlen(nick), al = strlen(avatar);
    lr_im_send *m = lr_imsg_new(LR_IM_SEND, sizeof(*m) + nl + al + r->body.len + 3);
    if (!m) return LR_ERR_INTERNAL;
    m->conn = lr_conn_ref_of(sh, c);
    m->req_id = r->id;
    m->fmt = c->fmt;
    m->pri = (uint8_t)pri;
    m->type = (uint8_t)type;
    m->body_kind = (uint8_t)r->body_kind;
    m->has_random = r->has_random;
    m->random = r->random;
    m->body_len = (uint32_t)r->body.len;
    copy_id(m->room, sizeof(m->room), r->room);
    snprintf(m->user, sizeof(m->user), "%s", c->user);
    m->nick = (char *)(m + 1);
    memcpy(m->nick, nick, nl + 1);
    m->avatar = m->nick + nl + 1;
    memcpy(m->avatar, avatar, al + 1);
    m->body = m->avatar + al + 1;
    if (r->body.len) memcpy(m->body, r->body.p, r->body.len);
    m->body[r->body.len] = 0;
    if (outsider) {
        /* not in the room: the room's home answers 10010 if it is gone
         * (destroyed), else 10007; nothing is sent */
        m->outsider = true;
        m->at_room = true;
        lr_shard_post(sh, lr_shard_of(sh->eng, m->room, r->room.len), &m->h);
        return 0;
    }
    /* the user's home shard checks the per-user rate first */
    lr_shard_post(sh, lr_shard_of(sh->eng, m->user, strlen(m->user)), &m->h);
    return 0;
}

static int on_query(lr_shard *sh, lr_conn *c, const lr_req *r)
{
    if (!r->room.p) return LR_ERR_INVALID_PARAM;
    if (!lr_id_valid(r->room, LR_MAX_ROOM_ID)) return LR_ERR_BAD_ROOM_ID;
    uint32_t limit = 100;
    if (r->op == LR_OP_MEMBERS && r->has_limit) {
        if (r->limit < 1 || r->limit > LR_MAX_MEMBERS_LIST) return LR_ERR_INVALID_PARAM;
        limit = r->limit;
    }
    lr_im_query *m = lr_imsg_new(LR_IM_QUERY, sizeof(*m));
    if (!m) return LR_ERR_INTERNAL;
    m->conn = lr_conn_ref_of(sh, c);
    m->req_id = r->id;
    m->fmt = c->fmt;
    m->op = (uint8_t)r->op;
    m->limit = limit;
    copy_id(m->room, sizeof(m->room), r->room);
    lr_shard_post(sh, lr_shard_of(sh->eng, m->room, r->room.len), &m->h);
    return 0;
}

/* mute / kick / mute_all: the room's home shard checks the asker's role. */
static int on_mod(lr_shard *sh, lr_conn *c, const lr_req *r)
{
    if (!(c->flags & LR_CF_LOGGED_IN) || (c->flags & LR_CF_GUEST)) return LR_ERR_NO_PERMISSION;
    if (!r->room.p) return LR_ERR_INVALID_PARAM;
    if (!lr_id_valid(r->room, LR_MAX_ROOM_ID)) return LR_ERR_BAD_ROOM_ID;
    if (r->op != LR_OP_MUTE_ALL && (!r->user.p || !lr_id_valid(r->user, LR_MAX_USER_ID)))
        return LR_ERR_INVALID_PARAM;
    if (r->op == LR_OP_MUTE && (!r->has_secs || r->secs < 0 || r->secs > 10LL * 365 * 86400))
        return LR_ERR_INVALID_PARAM;
    if (r->op == LR_OP_MUTE_ALL && !r->has_on) return LR_ERR_INVALID_PARAM;
    lr_im_mod *m = lr_imsg_new(LR_IM_MOD, sizeof(*m));
    if (!m) return LR_ERR_INTERNAL;
    m->conn = lr_conn_ref_of(sh, c);
    m->req_id = r->id;
    m->fmt = c->fmt;
    m->op = (uint8_t)r->op;
    m->on = r->on;
    m->secs = r->secs;
    copy_id(m->room, sizeof(m->room), r->room);
    snprintf(m->user, sizeof(m->user), "%s", c->user);
    if (r->user.p) copy_id(m->target, sizeof(m->target), r->user);
    lr_shard_post(sh, lr_shard_of(sh->eng, m->room, r->room.len), &m->h);
    return 0;
}

static int on_join(lr_shard *sh, lr_conn *c, const lr_req *r)
{
    if (!r->room.p) return LR_ERR_INVALID_PARAM;
    if (!lr_id_valid(r->room, LR_MAX_ROOM_ID)) return LR_ERR_BAD_ROOM_ID;
    bool member = lr_fanout_is_member(c, r->room.p, r->room.len);
    if (!member && (uint32_t)c->nrooms + c->njoining >= sh->cfg->max_rooms_per_conn)
        return LR_ERR_INVALID_PARAM;
    if (!(c->flags & LR_CF_LOGGED_IN)) {
        if (!sh->cfg->allow_guests) return LR_ERR_NO_PERMISSION;
        int rc = guest_login(sh, c);
        if (rc) return rc;
    }
    return post_join(sh, c, r->room, r->id, false);
}

static int handle(lr_shard *sh, lr_conn *c, const lr_req *r)
{
    switch (r->op) {
    case LR_OP_PING: {
        lr_enc e;
        size_t off = lr_conn_reply_begin(sh, c, &e);
        lr_enc_map(&e, 2);
        lr_enc_key(&e, "op");
        lr_enc_cstr(&e, "pong");
        lr_enc_key(&e, "id");
        lr_enc_u64(&e, r->id);
        lr_enc_map_end(&e);
        lr_conn_reply_end(sh, c, off, &e);
        return 0;
    }
    case LR_OP_LOGIN: {
        if (c->flags & LR_CF_LOGGED_IN) return LR_ERR_INVALID_PARAM;
        int rc;
        if (r->guest) {
            if (!sh->cfg->allow_guests) return LR_ERR_NO_PERMISSION;
            rc = guest_login(sh, c);
        } else {
            if (!r->user.p) return LR_ERR_INVALID_PARAM;
            rc = user_login(sh, c, r->user, r->sig, r->nick, r->avatar);
        }
        if (rc) return rc;
        reply_login_ok(sh, c, r->id);
        return 0;
    }
    case LR_OP_JOIN:
        return on_join(sh, c, r);
    case LR_OP_LEAVE:
        if (!r->room.p) return LR_ERR_INVALID_PARAM;
        if (!lr_id_valid(r->room, LR_MAX_ROOM_ID)) return LR_ERR_BAD_ROOM_ID;
        lr_fanout_leave(sh, c, r->room.p, r->room.len);
        lr_conn_reply_ok(sh, c, r->id);
        return 0;
    case LR_OP_SEND:
        return on_send(sh, c, r);
    case LR_OP_COUNT:
    case LR_OP_MEMBERS:
        return on_query(sh, c, r);
    case LR_OP_MUTE:
    case LR_OP_KICK:
    case LR_OP_MUTE_ALL:
        return on_mod(sh, c, r);
    default:
        return LR_ERR_UNKNOWN_OP;
    }
}

int lr_session_on_message(lr_shard *sh, lr_conn *c, bool json, const uint8_t *p, size_t len)
{
    lr_req r;
    int rc =
        json ? lr_req_decode_json((const char *)p, len, &r) : lr_req_decode_msgpack(p, len, &r);
    if (rc == LR_ERR_MALFORMED) {
        lr_req_free(&r);
        return LR_ERR_MALFORMED;
    }
    uint64_t id = r.has_id ? r.id : 0;
    if (r.err) {
        char msg[64];
        snprintf(msg, sizeof(msg), "invalid field: %s", r.err_field ? r.err_field : "?");
        lr_conn_reply_err(sh, c, id, r.err, msg);
    } else if (r.op == LR_OP_UNKNOWN) {
        lr_conn_reply_err(sh, c, id, LR_ERR_UNKNOWN_OP, "unknown op");
    } else {
        rc = handle(sh, c, &r);
        if (rc) {
            const char *msg = rc == LR_ERR_BODY_TOO_LARGE ? "body too large"
                              : rc == LR_ERR_UNKNOWN_OP   ? "unknown op"
                                                          : err_text(rc);
            lr_conn_reply_err(sh, c, id, rc, msg);
        }
    }
    lr_req_free(&r);
    return 0;
}
