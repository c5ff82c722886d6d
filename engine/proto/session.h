/*
 * session.h: what a connection's requests mean. Decodes a frame, checks
 * every field against the protocol's limits, answers what the connection's
 * own shard can answer (ping, login, leave, errors) and routes the rest to
 * the room's or the user's home shard.
 */
#ifndef LR_PROTO_SESSION_H
#define LR_PROTO_SESSION_H

#include "net/conn.h"

typedef struct lr_upgrade_login {
    lr_str user, sig, room, nick, avatar;
    bool has_user, has_sig, has_room;
    bool bad; /* a query value was badly encoded or too long */
} lr_upgrade_login;

/* One client message (a WebSocket message or a TCP frame). Returns 0, or
 * LR_ERR_MALFORMED when it was not a map (the caller counts bad frames and
 * answers 10011). */
int lr_session_on_message(lr_shard *sh, lr_conn *c, bool json, const uint8_t *p, size_t len);
/* Login and/or join carried by the upgrade's query string: the first frame
 * the client gets is one reply with id 0. */
void lr_session_on_upgrade(lr_shard *sh, lr_conn *c, const lr_upgrade_login *q);
/* The connection is closing: log out of the user's home shard. */
void lr_session_on_close(lr_shard *sh, lr_conn *c);

#endif
