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
    free(u->conns);
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

void lr_user_on_login(lr_shard *sh, lr_imsg *im)
{
    lr_im_login *m = (lr_im_login *)im;
    lr_user *u = user_find(sh, m->user);
    if (!u) {
        u = calloc(1, sizeof(*u));
        if (!u) goto out;
        snprintf(u->id, sizeof(u->id), "%s", m->user);
        u->node.key = u->id;
        u->node.klen = (uint32_t)strlen(u->id);
        u->node.hash = lr_hash(u->id, u->node.klen);
        lr_map_put(&sh->users, &u->node);
    }
    if (u->nconns == u->cap) {
        uint32_t cap = u->cap ? u->cap * 2 : 2;
        lr_user_conn *c = realloc(u->conns, cap * sizeof(*c));
        if (!c) goto out;
        u->conns = c;
        u->cap = cap;
    }
    /* logins arrive in order per shard but not across shards: keep the list
     * sorted by login time so "oldest" is the first */
    uint32_t i = u->nconns;
    while (i > 0 && u->conns[i - 1].login_ms > m->login_ms) {
        u->conns[i] = u->conns[i - 1];
        i--;
    }
    u->conns[i] = (lr_user_conn){m->conn, m->login_ms};
    u->nconns++;
    while (u->nconns > sh->cfg->device_limit) {
        kick(sh, u->conns[0].ref, LR_ERR_KICKED_OFFLINE,
             "kicked offline: logged in on another device");
        memmove(u->conns, u->conns + 1, (u->nconns - 1) * sizeof(*u->conns));
        u->nconns--;
    }
out:
    free(m);
}

void lr_user_on_logout(lr_shard *sh, lr_imsg *im)
{
    lr_im_login *m = (lr_im_login *)im;
    lr_user *u = user_find(sh, m->user);
    if (u) {
        for (uint32_t i = 0; i < u->nconns; i++) {
            lr_conn_ref r = u->conns[i].ref;
            if (r.shard == m->conn.shard && r.slot == m->conn.slot && r.gen == m->conn.gen) {
                memmove(u->conns + i, u->conns + i + 1, (u->nconns - i - 1) * sizeof(*u->conns));
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
        free(u->conns);
        free(u->sends);
        free(u);
        n = next;
    }
    lr_map_free(&sh->users);
}
