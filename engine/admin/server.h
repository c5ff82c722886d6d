/*
 * server.h: the admin API's HTTP side on the admin loop (an lr_shard with
 * no rooms): HTTP/1.1 keep-alive requests, /v4 routing to the home shards,
 * /metrics, /healthz, /readyz, and the broadcast to every room.
 */
#ifndef LR_ADMIN_SERVER_H
#define LR_ADMIN_SERVER_H

#include "admin/admin_cmd.h"
#include "net/conn.h"

#define LR_ADMIN_MAX_BODY LR_ADMIN_MAX_REQ_BODY

/* Consume one request from p[0..n): returns the bytes used (head + body),
 * 0 when more bytes are needed, -1 when the connection is closing. While a
 * request is being served the connection is LR_CF_BUSY and the caller
 * stops feeding it. */
int lr_admin_consume(lr_shard *sh, lr_conn *c, const char *p, size_t n);
/* LR_IM_ADMIN_DONE on the admin loop: answer the waiting connection. */
void lr_admin_on_done(lr_shard *sh, lr_imsg *m);
/* Free the admin loop's state (engine teardown). */
void lr_admin_free(lr_shard *sh);

#endif
