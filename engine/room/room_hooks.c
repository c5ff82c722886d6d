/*
 * room_hooks.c: where rooms meet the callbacks (ADMIN_API.md §3). Builds
 * the Tencent payloads from a room's events and hands them to the hooks
 * thread; a before-send callback parks the message there and the hooks
 * thread posts it back to the room's home shard with the verdict, so the
 * room keeps serving other messages meanwhile. Never waits for the network.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "admin/admin_cmd.h"
#include "core/engine.h"
#include "hooks/hooks.h"
#include "room/room_internal.h"

/* The Tencent MsgBody of a message and its CloudCustomData (NULL when it
 * has none; the caller frees it), for the callbacks. A message kept in the
 * Tencent shape {"MsgBody":[...],"CloudCustomData":...} (a REST send, or a
 * body the before-send callback replaced, whichever the sender) reports
 * that MsgBody as it is; anything else is one element made from the body. */
static json_t *msgbody_of(const lr_im_send *m, char **ccd)
{
    *ccd = NULL;
    if (m->type != LR_TYPE_TEXT && m->body_kind == LR_BODY_JSON) {
        json_t *j = json_loadb(m->body, m->body_len, 0, NULL);
        json_t *mb = json_object_get(j, "MsgBody");
        if (json_is_array(mb)) {
            json_incref(mb);
            const char *c = json_string_value(json_object_get(j, "CloudCustomData"));
            if (c) *ccd = strdup(c);
            json_decref(j);
            return mb;
        }
        json_decref(j);
    }
    json_t *text = json_stringn(m->body, m->body_len);
    if (!text) text = json_string("");
    if (m->type == LR_TYPE_TEXT && m->body_kind == LR_BODY_STR)
        return json_pack("[{s:s,s:{s:o}}]", "MsgType", "TIMTextElem", "MsgContent", "Text", text);
    return json_pack("[{s:s,s:{s:o,s:s,s:s}}]", "MsgType", "TIMCustomElem", "MsgContent", "Data",
                     text, "Desc", lr_type_name((lr_msg_type)m->type), "Ext", "");
}

/* MsgPriority as Tencent writes it. */
static const char *tencent_pri(uint8_t pri)
{
    static const char *const names[LR_PRI_COUNT] = {"High", "Normal", "Low", "Lowest"};
    return names[pri < LR_PRI_COUNT ? pri : LR_PRI_NORMAL];
}

typedef struct before_ctx {
    lr_engine *e;
    lr_im_send *m;
} before_ctx;

/* On the hooks thread: record the verdict (and a replaced body), then send
 * the message home. */
static void before_done(void *arg, int verdict, json_t *msg_body)
{
    before_ctx *bc = arg;
    lr_im_send *m = bc->m;
    lr_engine *e = bc->e;
    free(bc);
    m->verdict = (uint8_t)verdict;
    if (verdict == LR_HOOK_ALLOW && msg_body) {
        lr_msg_type type;
        char *body = NULL, info[LR_ADMIN_MAX_ERRINFO], *ccd;
        size_t len = 0;
        /* the backend replaces the MsgBody; the sender's CloudCustomData stays */
        json_decref(msgbody_of(m, &ccd));
        int rc = lr_admin_msg_convert(msg_body, (lr_str){ccd, ccd ? strlen(ccd) : 0}, &type, &body,
                                      &len, info, sizeof(info));
        free(ccd);
        if (rc == 0) {
            size_t nl = strlen(m->nick), al = strlen(m->avatar);
            lr_im_send *n = malloc(sizeof(*n) + nl + al + len + 3);
            if (n) {
                *n = *m;
                n->nick = (char *)(n + 1);
                memcpy(n->nick, m->nick, nl + 1);
                n->avatar = n->nick + nl + 1;
                memcpy(n->avatar, m->avatar, al + 1);
                n->body = n->avatar + al + 1;
                if (len) memcpy(n->body, body, len);
                n->body[len] = 0;
                n->body_len = (uint32_t)len;
                n->type = (uint8_t)type;
                n->body_kind = type == LR_TYPE_TEXT ? LR_BODY_STR : LR_BODY_JSON;
                free(m);
                m = n;
            }
        }
        free(body);
    }
    json_decref(msg_body);
    lr_shard_post_foreign(&e->shards[lr_shard_of(e, m->room, strlen(m->room))], &m->h);
}

bool lr_room_before_send(lr_shard *sh, lr_room *r, lr_im_send *m)
{
    lr_engine *e = sh->eng;
    if (m->hooked || !lr_hooks_enabled(e->hooks, LR_HOOK_BEFORE_SEND)) return false;
    m->hooked = true;
    m->verdict = LR_HOOK_ALLOW;
    char *ccd;
    json_t *mb = msgbody_of(m, &ccd);
    json_t *body = lr_hook_body_before_send(r->rec.id, m->user, m->user, m->random,
                                            tencent_pri(m->pri), mb, ccd);
    json_decref(mb);
    free(ccd);
    before_ctx *bc = malloc(sizeof(*bc));
    if (!bc || !body) {
        free(bc);
        json_decref(body);
        m->verdict = sh->cfg->callback_fail_closed ? LR_HOOK_REJECT : LR_HOOK_ALLOW;
        return false;
    }
    *bc = (before_ctx){e, m};
    if (lr_hooks_call(e->hooks, body, NULL, before_done, bc) == 0) return true;
    free(bc);
    /* the queue is full: as if the callback timed out */
    m->verdict = sh->cfg->callback_fail_closed ? LR_HOOK_REJECT : LR_HOOK_ALLOW;
    return false;
}

void lr_room_after_send(lr_shard *sh, lr_room *r, const lr_im_send *m, uint64_t seq,
                        int64_t time_ms)
{
    lr_hooks *h = sh->eng->hooks;
    if (!lr_hooks_enabled(h, LR_HOOK_AFTER_SEND)) return;
    char *ccd;
    json_t *mb = msgbody_of(m, &ccd);
    json_t *body = lr_hook_body_after_send(r->rec.id, m->user, m->user, m->random,
                                           tencent_pri(m->pri), mb, ccd, seq, time_ms / 1000);
    json_decref(mb);
    free(ccd);
    if (body) lr_hooks_post(h, LR_HOOK_AFTER_SEND, body, NULL);
}

void lr_room_hook_member(lr_shard *sh, lr_room *r, const char *user, bool joined, bool kicked)
{
    lr_hooks *h = sh->eng->hooks;
    const char *members[1] = {user};
    if (lr_hooks_enabled(h, joined ? LR_HOOK_AFTER_JOIN : LR_HOOK_AFTER_EXIT)) {
        json_t *b =
            joined ? lr_hook_body_member_join(r->rec.id, user, members, 1)
                   : lr_hook_body_member_exit(r->rec.id, kicked, kicked ? "" : user, members, 1);
        if (b) lr_hooks_post(h, joined ? LR_HOOK_AFTER_JOIN : LR_HOOK_AFTER_EXIT, b, NULL);
    }
    if (lr_hooks_enabled(h, LR_HOOK_MEMBER_STATE)) {
        json_t *b = lr_hook_body_member_state(r->rec.id, joined, members, 1);
        if (b) lr_hooks_post(h, LR_HOOK_MEMBER_STATE, b, NULL);
    }
}

void lr_room_hook_group(lr_shard *sh, lr_room *r, bool created)
{
    lr_hooks *h = sh->eng->hooks;
    uint32_t hook = created ? LR_HOOK_AFTER_CREATE : LR_HOOK_AFTER_DESTROY;
    if (!lr_hooks_enabled(h, hook)) return;
    json_t *b = lr_hook_body_group(r->rec.id, r->rec.owner);
    if (b) lr_hooks_post(h, hook, b, NULL);
}

void lr_hook_user_state(lr_shard *sh, const char *user, bool login)
{
    lr_hooks *h = sh->eng->hooks;
    if (!lr_hooks_enabled(h, LR_HOOK_STATE_CHANGE)) return;
    json_t *b =
        lr_hook_body_state_change(user, login ? LR_HOOK_STATE_LOGIN : LR_HOOK_STATE_DISCONNECT,
                                  login ? "Login" : "Disconnect", 0);
    if (b) lr_hooks_post(h, LR_HOOK_STATE_CHANGE, b, NULL);
}
