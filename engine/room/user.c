/*
 * user.c: a user on its home shard: the user's live connections across all
 * shards (for the device limit: the oldest beyond it gets bye 6208) and the
 * times of its last sends (the per-user rate, a sliding one-second window
 * over all its connections). Memory is per online user and bounded by the
 * device limit and the rate. Never touches a connection: kicks travel to
 * the connection's shard.
 */
#include <stdio.h>
#include <stdlib.h>

#include "admin/admin_cmd.h"
#include "core/engine.h"
#include "room/room.h"

static lr_user *user_find(lr_shard *sh, const char *id)
{
    size_t n = strlen(id);
    lr_map_node *node = lr_map_get(&sh->users, id, n, lr_hash(id, n));
    return node ? LR_CONTAINER_OF(node, lr_user, node) : NULL;
}

static void user_free(lr_shard *sh, lr_user *u)
{
    lr_map_del(&sh->users, &u->node);
    free(u->sends);
    free(u);
}

static void kick(lr_shard *sh, lr_conn_ref ref, int code, const char *msg)
{
    lr_im_kick *k = lr_imsg_new(LR_IM_KICK_CONN, sizeof(*k));
    if (!k) return;
    k->conn = ref;
    k->code = code;
    k->ws_code = LR_WS_CLOSE_POLICY;
    snprintf(k->msg, sizeof(k->msg), "%s", msg);
    lr_shard_post(sh, ref.shard, &k->h);
}

static lr_profile *profile_find(lr_shard *sh, const char *id, bool create)
{
    size_t n = strlen(id);
    uint64_t h = lr_hash(id, n);
    lr_map_node *node = lr_map_get(&sh->profiles, id, n, h);
    if (node || !create) return node ? LR_CONTAINER_OF(node, lr_profile, node) : NULL;
    lr_profile *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    snprintf(p->id, sizeof(p->id), "%s", id);
    p->node.klen = (uint32_t)n;
    p->node.hash = h;
    lr_map_put(&sh->profiles, &p->node);
    return p;
}

int lr_user_boot_profile(lr_shard *sh, const lr_user_rec *rec)
{
    lr_profile *p = profile_find(sh, rec->id, true);
    if (!p) return LR_ENOMEM;
    snprintf(p->nick, sizeof(p->nick), "%s", rec->nick);
    snprintf(p->avatar, sizeof(p->avatar), "%s", rec->face_url);
    return LR_OK;
}

static void push_profile(lr_shard *sh, lr_conn_ref ref, const lr_profile *p)
{
    lr_im_profile *m = lr_imsg_new(LR_IM_PROFILE, sizeof(*m));
    if (!m) return;
    m->conn = ref;
    snprintf(m->nick, sizeof(m->nick), "%s", p->nick);
    snprintf(m->avatar, sizeof(m->avatar), "%s", p->avatar);
    lr_shard_post(sh, ref.shard, &m->h);
}

void lr_user_on_login(lr_shard *sh, lr_imsg *im)
{
    lr_im_login *m = (lr_im_login *)im;
    lr_profile *prof = profile_find(sh, m->user, false);
    if (prof) push_profile(sh, m->conn, prof);
    lr_hook_user_state(sh, m->user, true);
    lr_user *u = user_find(sh, m->user);
    if (!u) {
        size_t idlen = strnlen(m->user, LR_MAX_USER_ID);
        u = calloc(1, lr_user_conns_off(idlen) + sizeof(lr_user_conn));
        if (!u) goto out;
        memcpy(u->id, m->user, idlen);
        u->cap = 1;
        u->node.klen = (uint32_t)idlen;
        u->node.hash = lr_hash(u->id, idlen);
        lr_map_put(&sh->users, &u->node);
    }
    if (u->nconns == u->cap) {
        /* the block moves: take it out of the map while it does */
        uint16_t cap = (uint16_t)(u->cap * 2);
        lr_map_del(&sh->users, &u->node);
        lr_user *g = realloc(u, lr_user_conns_off(u->node.klen) + cap * sizeof(lr_user_conn));
        if (g) {
            u = g;
            u->cap = cap;
        }
        lr_map_put(&sh->users, &u->node);
        if (!g) goto out;
    }
    lr_user_conn *conns = lr_user_conns(u);
    /* logins arrive in order per shard but not across shards: keep the list
     * sorted by login time so "oldest" is the first */
    uint32_t i = u->nconns;
    uint32_t login = (uint32_t)m->login_ms;
    while (i > 0 && (int32_t)(conns[i - 1].login_ms - login) > 0) {
        conns[i] = conns[i - 1];
        i--;
    }
    conns[i] = (lr_user_conn){m->conn, login};
    u->nconns++;
    while (u->nconns > sh->cfg->device_limit) {
        kick(sh, conns[0].ref, LR_ERR_KICKED_OFFLINE,
             "kicked offline: logged in on another device");
        memmove(conns, conns + 1, (u->nconns - 1) * sizeof(*conns));
        u->nconns--;
    }
out:
    free(m);
}

void lr_user_on_logout(lr_shard *sh, lr_imsg *im)
{
    lr_im_login *m = (lr_im_login *)im;
    lr_hook_user_state(sh, m->user, false);
    lr_user *u = user_find(sh, m->user);
    if (u) {
        lr_user_conn *conns = lr_user_conns(u);
        for (uint32_t i = 0; i < u->nconns; i++) {
            lr_conn_ref r = conns[i].ref;
            if (r.shard == m->conn.shard && r.slot == m->conn.slot && r.gen == m->conn.gen) {
                memmove(conns + i, conns + i + 1, (u->nconns - i - 1) * sizeof(*conns));
                u->nconns--;
                break;
            }
        }
        if (u->nconns == 0) user_free(sh, u);
    }
    free(m);
}

bool lr_user_allow_send(lr_shard *sh, const char *user)
{
    lr_user *u = user_find(sh, user);
    if (!u) return true; /* logged out while the send travelled: nothing to count against */
    uint32_t rate = sh->cfg->user_rate;
    if (!u->sends) {
        u->sends = calloc(rate, sizeof(uint64_t));
        if (!u->sends) return true;
        for (uint32_t i = 0; i < rate; i++)
            u->sends[i] = 0;
    }
    /* the oldest of the last `rate` sends must be at least 1 s old */
    uint64_t oldest = u->sends[u->sends_head];
    uint64_t now = sh->now_ms;
    if (oldest && now - oldest < 1000) return false;
    u->sends[u->sends_head] = now ? now : 1;
    u->sends_head = (u->sends_head + 1) % rate;
    return true;
}

void lr_user_free_all(lr_shard *sh)
{
    uint32_t it;
    lr_map_node *n = lr_map_first(&sh->users, &it);
    while (n) {
        lr_map_node *next = lr_map_next(&sh->users, &it, n);
        lr_user *u = LR_CONTAINER_OF(n, lr_user, node);
        free(u->sends);
        free(u);
        n = next;
    }
    lr_map_free(&sh->users);
}

static void import_done(void *arg, int rc)
{
    lr_im_admin *m = arg; /* reused as the carrier of the answer */
    lr_im_admin_done *d = lr_imsg_new(LR_IM_ADMIN_DONE, sizeof(*d));
    lr_engine *e = (lr_engine *)m->gather;
    if (d) {
        d->conn = m->conn;
        d->code = rc ? LR_ERR_INTERNAL : 0;
        snprintf(d->info, sizeof(d->info), "%s", rc ? "store write failed" : "");
        lr_shard_post_foreign(&e->shards[m->conn.shard], &d->h);
    }
    free(m);
}

void lr_user_on_admin(lr_shard *sh, lr_imsg *im)
{
    lr_im_admin *m = (lr_im_admin *)im;
    lr_admin_cmd *c = m->cmd;
    m->cmd = NULL;
    if (c->op == LR_ADMIN_KICK) {
        lr_user *u = user_find(sh, c->u.kick.user.p);
        while (u && u->nconns) {
            kick(sh, lr_user_conns(u)[u->nconns - 1].ref, LR_ERR_KICKED_OFFLINE,
                 "kicked offline by the admin");
            u->nconns--;
        }
        lr_admin_done_post(sh, m->conn, 0, NULL, NULL);
        free(m);
    } else {
        lr_profile *p = profile_find(sh, c->u.account.user.p, true);
        lr_user_rec rec;
        memset(&rec, 0, sizeof(rec));
        if (p) {
            if (c->u.account.nick.p) snprintf(p->nick, sizeof(p->nick), "%s", c->u.account.nick.p);
            if (c->u.account.face_url.p)
                snprintf(p->avatar, sizeof(p->avatar), "%s", c->u.account.face_url.p);
            snprintf(rec.id, sizeof(rec.id), "%s", p->id);
            snprintf(rec.nick, sizeof(rec.nick), "%s", p->nick);
            snprintf(rec.face_url, sizeof(rec.face_url), "%s", p->avatar);
            lr_user *u = user_find(sh, p->id);
            for (uint32_t i = 0; u && i < u->nconns; i++)
                push_profile(sh, lr_user_conns(u)[i].ref, p);
        }
        m->gather = sh->eng; /* import_done needs the engine to find the admin loop */
        if (!p || lr_store_user_put(sh->eng->store, &rec, import_done, m) != 0) {
            lr_admin_done_post(sh, m->conn, LR_ERR_INTERNAL, "out of memory", NULL);
            free(m);
        }
    }
    lr_admin_cmd_free(c);
    free(c);
}

void lr_user_free_profiles(lr_shard *sh)
{
    uint32_t it;
    lr_map_node *n = lr_map_first(&sh->profiles, &it);
    while (n) {
        lr_map_node *next = lr_map_next(&sh->profiles, &it, n);
        free(LR_CONTAINER_OF(n, lr_profile, node));
        n = next;
    }
    lr_map_free(&sh->profiles);
}
