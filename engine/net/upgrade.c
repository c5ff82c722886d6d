/*
 * upgrade.c: turns an HTTP/1.1 request on the client port into a WebSocket
 * (RFC 6455 §4.2): GET /ws with Upgrade: websocket, Connection: Upgrade,
 * Sec-WebSocket-Version: 13 and a 16-byte base64 key. Anything else gets a
 * short HTTP error and the connection is closed once it is written. The
 * first subprotocol the client lists that the engine speaks is chosen;
 * none offered (or none known) means JSON. Never blocks, never allocates
 * beyond the reply.
 */
#include "net/upgrade.h"

#include <stdio.h>
#include <strings.h>

#include "core/log.h"
#include "net/http.h"
#include "proto/session.h"

static void http_error(lr_shard *sh, lr_conn *c, int status, const char *extra)
{
    char resp[512];
    const char *reason = lr_http_reason(status);
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n%s\n",
                     status, reason, strlen(reason) + 1, extra ? extra : "", reason);
    lr_conn_reply_raw(sh, c, resp, (size_t)n);
    lr_conn_close(sh, c, 0, 0, NULL);
}

static bool key_valid(lr_str k)
{
    /* 16 random bytes in base64: 22 characters and "==" */
    if (k.len != 24 || k.p[22] != '=' || k.p[23] != '=') return false;
    for (size_t i = 0; i < 22; i++) {
        char ch = k.p[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '+' || ch == '/'))
            return false;
    }
    return true;
}

/* First offered subprotocol we speak: sets *fmt, returns its name or NULL. */
static const char *pick_subprotocol(const lr_http_req *req, uint8_t *fmt)
{
    for (size_t i = 0; i < req->nheaders; i++) {
        const lr_http_header *h = &req->headers[i];
        if (h->name.len != 22 || strncasecmp(h->name.p, "Sec-WebSocket-Protocol", 22) != 0)
            continue;
        const char *p = h->value.p, *end = p + h->value.len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
                p++;
            const char *s = p;
            while (p < end && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            lr_str tok = {s, (size_t)(p - s)};
            if (lr_str_eq_c(tok, LR_SUBPROTO_JSON)) {
                *fmt = LR_FMT_JSON;
                return LR_SUBPROTO_JSON;
            }
            if (lr_str_eq_c(tok, LR_SUBPROTO_MSGPACK)) {
                *fmt = LR_FMT_MSGPACK;
                return LR_SUBPROTO_MSGPACK;
            }
        }
    }
    *fmt = LR_FMT_JSON;
    return NULL;
}

int lr_upgrade_handle(lr_shard *sh, lr_conn *c, const char *p, size_t n)
{
    lr_http_req req;
    int rc = lr_http_parse_request(p, n, LR_MAX_HTTP_HEAD, &req);
    if (rc == LR_HTTP_INCOMPLETE) return 0;
    if (rc < 0) {
        http_error(sh, c, -rc, NULL);
        return -1;
    }
    if (!lr_str_eq_c(req.path, "/ws")) {
        http_error(sh, c, 404, NULL);
        return -1;
    }
    if (!lr_str_eq_c(req.method, "GET")) {
        http_error(sh, c, 405, "Allow: GET\r\n");
        return -1;
    }
    const lr_http_header *up = lr_http_find(&req, "Upgrade");
    const lr_http_header *conn = lr_http_find(&req, "Connection");
    const lr_http_header *ver = lr_http_find(&req, "Sec-WebSocket-Version");
    const lr_http_header *key = lr_http_find(&req, "Sec-WebSocket-Key");
    if (req.minor < 1 || !up || !lr_http_has_token(up->value, "websocket") || !conn ||
        !lr_http_has_token(conn->value, "upgrade") || !key || !key_valid(key->value) || !ver) {
        http_error(sh, c, 400, NULL);
        return -1;
    }
    if (!lr_str_eq_c(ver->value, "13")) {
        http_error(sh, c, 426, "Sec-WebSocket-Version: 13\r\n");
        return -1;
    }
    if (req.content_length > 0 || req.chunked) {
        http_error(sh, c, 400, NULL);
        return -1;
    }

    uint8_t fmt;
    const char *proto = pick_subprotocol(&req, &fmt);
    char accept[29];
    lr_ws_accept_key(key->value.p, key->value.len, accept);
    char resp[256];
    int len = snprintf(resp, sizeof(resp),
                       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                       accept, proto ? "Sec-WebSocket-Protocol: " : "", proto ? proto : "",
                       proto ? "\r\n" : "");
    lr_conn_reply_raw(sh, c, resp, (size_t)len);
    atomic_fetch_sub_explicit(&sh->st.conns_by_kind[lr_conn_kind(c)], 1, memory_order_relaxed);
    c->proto = LR_PROTO_WS;
    c->fmt = fmt;
    atomic_fetch_add_explicit(&sh->st.conns_by_kind[lr_conn_kind(c)], 1, memory_order_relaxed);

    /* login / join riding on the upgrade */
    char user[LR_MAX_USER_ID + 1], sig[LR_MAX_SIG + 1], room[LR_MAX_ROOM_ID + 1];
    char nick[LR_MAX_NICK + 1], avatar[LR_MAX_AVATAR + 1];
    int ul = lr_http_query_get(req.query, "user", user, sizeof(user));
    int sl = lr_http_query_get(req.query, "sig", sig, sizeof(sig));
    int rl = lr_http_query_get(req.query, "room", room, sizeof(room));
    int nl = lr_http_query_get(req.query, "nick", nick, sizeof(nick));
    int al = lr_http_query_get(req.query, "avatar", avatar, sizeof(avatar));
    if (ul != -1 || sl != -1 || rl != -1) {
        lr_upgrade_login q = {
            .user = {user, ul > 0 ? (size_t)ul : 0},
            .sig = {sig, sl > 0 ? (size_t)sl : 0},
            .room = {room, rl > 0 ? (size_t)rl : 0},
            .nick = {nick, nl > 0 ? (size_t)nl : 0},
            .avatar = {avatar, al > 0 ? (size_t)al : 0},
            .has_user = ul != -1,
            .has_sig = sl != -1,
            .has_room = rl != -1,
            .bad = ul == -2 || sl == -2 || rl == -2 || nl == -2 || al == -2,
        };
        lr_session_on_upgrade(sh, c, &q);
    }
    return rc;
}
