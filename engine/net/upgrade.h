/*
 * upgrade.h: the client port's HTTP side: validate the WebSocket upgrade of
 * GET /ws, negotiate the subprotocol (encoding), answer 101 or a clear HTTP
 * error, and hand a login/join carried in the query string to the session.
 */
#ifndef LR_NET_UPGRADE_H
#define LR_NET_UPGRADE_H

#include "net/conn.h"

#define LR_SUBPROTO_JSON "liveroom.v1.json"
#define LR_SUBPROTO_MSGPACK "liveroom.v1.msgpack"

/* Handle the bytes of a connection still in HTTP. Returns the head length
 * consumed once upgraded (the connection is then WebSocket), 0 when more
 * bytes are needed, -1 when the connection was answered with an error and
 * is closing. */
int lr_upgrade_handle(lr_shard *sh, lr_conn *c, const char *p, size_t n);

#endif
