/*
 * imsg.h: the messages shards exchange. Each is allocated by its sender and
 * owned by its receiver once posted; strings travel inside the allocation.
 * Routing: a connection's shard asks a room's home shard (join, leave,
 * send, queries) and a user's home shard (login, logout, the per-user send
 * rate); home shards answer with replies and fan frames out to the shards
 * that hold members.
 */
#ifndef LR_ROOM_IMSG_H
#define LR_ROOM_IMSG_H

#include "core/shard.h"
#include "proto/codec.h"

enum {
    LR_IM_JOIN = 1,   /* conn shard -> room home */
    LR_IM_JOIN_ACK,   /* room home -> conn shard */
    LR_IM_LEAVE,      /* conn shard -> room home */
    LR_IM_SEND,       /* conn shard -> user home -> room home */
    LR_IM_REPLY,      /* any shard -> conn shard: framed bytes for one connection */
    LR_IM_FRAME,      /* room home -> shards with members */
    LR_IM_QUERY,      /* count / members: conn shard -> room home */
    LR_IM_LOGIN,      /* conn shard -> user home */
    LR_IM_LOGOUT,     /* conn shard -> user home */
    LR_IM_KICK_CONN,  /* user home -> conn shard: close with a bye code */
    LR_IM_MOD,        /* conn shard -> room home: client mute / kick / mute_all */
    LR_IM_ADMIN,      /* admin loop -> room or user home: one admin command */
    LR_IM_ADMIN_DONE, /* home (or store thread) -> admin loop: its result */
    LR_IM_ROOM_KICK,  /* room home -> member shards: remove a user (or everyone) */
    LR_IM_BROADCAST,  /* admin loop -> every shard: a broadcast frame */
    LR_IM_PROFILE,    /* user home -> conn shard: imported nick/avatar */
    LR_IM_IDENTITY,   /* conn shard -> room home: a member's nick/avatar changed */
    LR_IM_COUNT_TYPES,
};

typedef struct lr_im_join {
    lr_imsg h;
    lr_conn_ref conn;
    uint64_t req_id;
    uint8_t fmt;
    bool guest;
    bool with_user;    /* the reply carries `user` (login on the upgrade) */
    bool close_on_err; /* the upgrade's join: an error closes with 1008 */
    bool already;      /* the connection is in the room: answer only */
    int err;           /* set by the home shard */
    char room[LR_MAX_ROOM_ID + 1];
    char user[LR_MAX_USER_ID + 8];
    char *nick, *avatar; /* inside the allocation, may be "" */
    lr_buf reply;        /* framed reply, filled by the home shard */
    size_t reply_off;
} lr_im_join;

typedef struct lr_im_leave {
    lr_imsg h;
    bool kicked; /* removed by a kick, ban or destroy (ExitType Kicked) */
    char room[LR_MAX_ROOM_ID + 1];
    char user[LR_MAX_USER_ID + 8];
} lr_im_leave;

typedef struct lr_im_send {
    lr_imsg h;
    lr_conn_ref conn;
    uint64_t req_id;
    uint8_t fmt;
    uint8_t pri;
    uint8_t type;
    uint8_t body_kind;
    bool has_random;
    bool at_room;    /* passed the user home's rate check */
    bool admin;      /* a REST send_group_msg: answered to the admin loop */
    bool hooked;     /* the before-send callback has been asked */
    bool outsider;   /* the sender is not in the room: only the error is wanted */
    bool held;       /* passed at the close of a frequency-control window */
    uint8_t verdict; /* its answer: LR_HOOK_ALLOW / REJECT / DROP */
    uint32_t random;
    uint32_t body_len;
    char room[LR_MAX_ROOM_ID + 1];
    char user[LR_MAX_USER_ID + 8];
    char *nick, *avatar, *body; /* inside the allocation */
} lr_im_send;

typedef struct lr_im_reply {
    lr_imsg h;
    lr_conn_ref conn;
    uint16_t close_ws; /* close with this code after the reply, 0 = no */
    uint32_t len;
    uint8_t data[];
} lr_im_reply;

typedef struct lr_frame lr_frame;
typedef struct lr_im_frame {
    lr_imsg h;
    lr_frame *f;
} lr_im_frame;

typedef struct lr_im_query {
    lr_imsg h;
    lr_conn_ref conn;
    uint64_t req_id;
    uint8_t fmt;
    uint8_t op; /* LR_OP_COUNT or LR_OP_MEMBERS */
    uint32_t limit;
    char room[LR_MAX_ROOM_ID + 1];
} lr_im_query;

typedef struct lr_im_login {
    lr_imsg h;
    lr_conn_ref conn;
    uint64_t login_ms;
    char user[LR_MAX_USER_ID + 8];
} lr_im_login; /* LR_IM_LOGIN and LR_IM_LOGOUT */

typedef struct lr_im_kick {
    lr_imsg h;
    lr_conn_ref conn;
    int code;
    uint16_t ws_code;
    char msg[96];
} lr_im_kick;

typedef struct lr_im_mod {
    lr_imsg h;
    lr_conn_ref conn;
    uint64_t req_id;
    uint8_t fmt;
    uint8_t op; /* LR_OP_MUTE, LR_OP_KICK, LR_OP_MUTE_ALL */
    bool on;
    int64_t secs;
    char room[LR_MAX_ROOM_ID + 1];
    char user[LR_MAX_USER_ID + 8];   /* who asks */
    char target[LR_MAX_USER_ID + 8]; /* whom */
} lr_im_mod;

struct lr_admin_cmd;
struct json_t;
typedef struct lr_im_admin {
    lr_imsg h;
    lr_conn_ref conn; /* the admin connection to answer */
    struct lr_admin_cmd *cmd;
    char who[LR_MAX_USER_ID + 1]; /* the admin identifier */
    const char *group;            /* the room this part is about (gathers) */
    void *gather;                 /* admin loop's gather state, or NULL */
    uint32_t idx;
} lr_im_admin;

typedef struct lr_im_admin_done {
    lr_imsg h;
    lr_conn_ref conn;
    int code;
    char info[160];
    struct json_t *extra; /* reply fields (an object) or a gathered part */
    void *gather;
    uint32_t idx;
} lr_im_admin_done;

typedef struct lr_im_room_kick {
    lr_imsg h;
    char room[LR_MAX_ROOM_ID + 1];
    char user[LR_MAX_USER_ID + 8]; /* "" = every member (destroy) */
} lr_im_room_kick;

typedef struct lr_im_profile {
    lr_imsg h;
    lr_conn_ref conn;
    char nick[LR_MAX_NICK + 1];
    char avatar[LR_MAX_AVATAR + 1];
} lr_im_profile;

typedef struct lr_im_identity {
    lr_imsg h;
    char room[LR_MAX_ROOM_ID + 1];
    char user[LR_MAX_USER_ID + 8];
    char nick[LR_MAX_NICK + 1];
    char avatar[LR_MAX_AVATAR + 1];
} lr_im_identity;

/* Post an admin command's result to the admin loop that asked (conn.shard).
 * extra (an object of reply fields, or NULL) is stolen. */
void lr_admin_done_post(lr_shard *sh, lr_conn_ref conn, int code, const char *info,
                        struct json_t *extra);

/* Hand one reference of f (already counted) to shard dst as `type`
 * (LR_IM_FRAME or LR_IM_BROADCAST); on ENOMEM the reference is dropped. */
void lr_frame_post(lr_shard *sh, uint32_t dst, uint16_t type, struct lr_frame *f);

/* Allocate a message of `size` bytes plus `extra` for inline strings. */
void *lr_imsg_new(uint16_t type, size_t size);
/* Free a message that will not be delivered (engine teardown). */
void lr_imsg_discard(lr_imsg *m);

/* A reply for conn encoded by the calling shard in fmt, ready to post. The
 * caller writes the map with the encoder; lr_reply_finish frames it. */
typedef struct lr_reply_builder {
    lr_buf buf;
    size_t off;
    lr_enc enc;
    uint8_t fmt;
} lr_reply_builder;
void lr_reply_start(lr_reply_builder *rb, uint8_t fmt);
/* Post the framed reply to the connection's shard. */
void lr_reply_post(lr_shard *sh, lr_reply_builder *rb, lr_conn_ref conn, uint16_t close_ws);
/* The framed reply as a message, not posted yet (NULL on ENOMEM). */
lr_im_reply *lr_reply_take(lr_reply_builder *rb, lr_conn_ref conn, uint16_t close_ws);
/* Encode and post {"op":"err","id":id,"code":code,"msg":msg}. */
void lr_reply_post_err(lr_shard *sh, lr_conn_ref conn, uint8_t fmt, uint64_t id, int code,
                       const char *msg, uint16_t close_ws);

#endif
