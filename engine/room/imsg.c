/*
 * imsg.c: allocation of inter-shard messages, replies built on one shard
 * for a connection on another, and the table that tells each shard which
 * handler owns which message type. Never blocks.
 */
#include "room/imsg.h"

#include <stdlib.h>

#include "admin/server.h"
#include "net/conn.h"
#include "room/room.h"

void *lr_imsg_new(uint16_t type, size_t size)
{
    lr_imsg *m = calloc(1, size);
    if (m) m->type = type;
    return m;
}

void lr_frame_post(lr_shard *sh, uint32_t dst, uint16_t type, lr_frame *f)
{
    lr_im_frame *m = lr_imsg_new(type, sizeof(*m));
    if (!m) {
        lr_frame_unref(f);
        return;
    }
    m->f = f;
    lr_shard_post(sh, dst, &m->h);
}

void lr_imsg_discard(lr_imsg *m)
{
    if (m->type == LR_IM_FRAME || m->type == LR_IM_BROADCAST) lr_frame_unref(((lr_im_frame *)m)->f);
    if (m->type == LR_IM_ADMIN_DONE) json_decref(((lr_im_admin_done *)m)->extra);
    if (m->type == LR_IM_ADMIN && !((lr_im_admin *)m)->gather) {
        lr_admin_cmd_free(((lr_im_admin *)m)->cmd);
        free(((lr_im_admin *)m)->cmd);
    }
    if (m->type == LR_IM_JOIN || m->type == LR_IM_JOIN_ACK) lr_buf_free(&((lr_im_join *)m)->reply);
    free(m);
}

void lr_reply_start(lr_reply_builder *rb, uint8_t fmt)
{
    rb->buf = (lr_buf){0};
    rb->fmt = fmt;
    rb->off = lr_frame_begin(&rb->buf);
    lr_enc_init(&rb->enc, &rb->buf, fmt == LR_FMT_JSON);
}

lr_im_reply *lr_reply_take(lr_reply_builder *rb, lr_conn_ref conn, uint16_t close_ws)
{
    lr_im_reply *m = NULL;
    if (rb->off != LR_FRAME_ERR && lr_enc_finish(&rb->enc) == 0) {
        size_t start = lr_frame_end(&rb->buf, rb->off, (lr_fmt)rb->fmt);
        size_t len = rb->buf.len - start;
        m = lr_imsg_new(LR_IM_REPLY, sizeof(*m) + len);
        if (m) {
            m->conn = conn;
            m->close_ws = close_ws;
            m->len = (uint32_t)len;
            memcpy(m->data, rb->buf.p + start, len);
        }
    }
    lr_buf_free(&rb->buf);
    return m;
}

void lr_reply_post(lr_shard *sh, lr_reply_builder *rb, lr_conn_ref conn, uint16_t close_ws)
{
    lr_im_reply *m = lr_reply_take(rb, conn, close_ws);
    if (m) lr_shard_post(sh, conn.shard, &m->h);
}

void lr_reply_post_err(lr_shard *sh, lr_conn_ref conn, uint8_t fmt, uint64_t id, int code,
                       const char *msg, uint16_t close_ws)
{
    lr_stats_error(sh, code);
    lr_reply_builder rb;
    lr_reply_start(&rb, fmt);
    lr_enc_map(&rb.enc, 4);
    lr_enc_key(&rb.enc, "op");
    lr_enc_cstr(&rb.enc, "err");
    lr_enc_key(&rb.enc, "id");
    lr_enc_u64(&rb.enc, id);
    lr_enc_key(&rb.enc, "code");
    lr_enc_i64(&rb.enc, code);
    lr_enc_key(&rb.enc, "msg");
    lr_enc_cstr(&rb.enc, msg);
    lr_enc_map_end(&rb.enc);
    lr_reply_post(sh, &rb, conn, close_ws);
}

/* Admin commands go to the room's or the user's home shard. */
static void on_admin(lr_shard *sh, lr_imsg *m)
{
    lr_admin_op op = ((lr_im_admin *)m)->cmd->op;
    if (op == LR_ADMIN_ACCOUNT_IMPORT || op == LR_ADMIN_KICK)
        lr_user_on_admin(sh, m);
    else
        lr_room_on_admin(sh, m);
}

const lr_imsg_handler lr_imsg_handlers[LR_IMSG_MAX] = {
    [LR_IM_JOIN] = lr_room_on_join,
    [LR_IM_JOIN_ACK] = lr_fanout_on_join_ack,
    [LR_IM_LEAVE] = lr_room_on_leave,
    [LR_IM_SEND] = lr_room_on_send,
    [LR_IM_REPLY] = lr_fanout_on_reply,
    [LR_IM_FRAME] = lr_fanout_on_frame,
    [LR_IM_QUERY] = lr_room_on_query,
    [LR_IM_LOGIN] = lr_user_on_login,
    [LR_IM_LOGOUT] = lr_user_on_logout,
    [LR_IM_KICK_CONN] = lr_fanout_on_kick,
    [LR_IM_MOD] = lr_room_on_mod,
    [LR_IM_ADMIN] = on_admin,
    [LR_IM_ADMIN_DONE] = lr_admin_on_done,
    [LR_IM_ROOM_KICK] = lr_fanout_on_room_kick,
    [LR_IM_BROADCAST] = lr_fanout_on_broadcast,
    [LR_IM_PROFILE] = lr_fanout_on_profile,
    [LR_IM_IDENTITY] = lr_room_on_identity,
};
