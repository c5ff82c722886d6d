/*
 * admin_cmd.h: the pure half of the admin REST API (ADMIN_API.md): checking
 * a request's query-string credentials, turning a /v4/<service>/<command>
 * JSON body into a validated, typed command, converting Tencent MsgBody
 * arrays into client-protocol bodies, and writing complete HTTP replies.
 * Nothing here does I/O, keeps state between calls or knows about rooms:
 * the admin server routes a parsed lr_admin_cmd to the shard that owns its
 * room and formats whatever it gets back with lr_admin_reply.
 */
#ifndef LR_ADMIN_CMD_H
#define LR_ADMIN_CMD_H

#include <jansson.h>

#include "core/common.h"

/* Limits of the admin API, Tencent's where it has one (10004 above). */
#define LR_ADMIN_MAX_REQ_BODY (1024 * 1024) /* request body bytes: 10018 above */
#define LR_ADMIN_MAX_ADMINS 15              /* configured app admins */
#define LR_ADMIN_DEFAULT_ADMIN "administrator"
#define LR_ADMIN_MAX_NAME 100           /* group Name, bytes */
#define LR_ADMIN_MAX_INTRODUCTION 240   /* bytes */
#define LR_ADMIN_MAX_NOTIFICATION 300   /* bytes */
#define LR_ADMIN_MAX_FACE_URL 255       /* group FaceUrl, bytes */
#define LR_ADMIN_MAX_GROUP_IDS 50       /* get_group_info GroupIdList */
#define LR_ADMIN_MAX_MUTE_ACCOUNTS 500  /* forbid_send_msg Members_Account */
#define LR_ADMIN_MAX_BAN_ACCOUNTS 20    /* ban/unban_group_member Members_Account */
#define LR_ADMIN_MAX_DEL_ACCOUNTS 100   /* delete_group_member MemberToDel_Account */
#define LR_ADMIN_MAX_DESCRIPTION 1000   /* ban Description, bytes */
#define LR_ADMIN_MAX_REASON 1000        /* delete_group_member Reason, bytes */
#define LR_ADMIN_MAX_NOTICE LR_MAX_BODY /* system notification Content, bytes */
#define LR_ADMIN_MAX_BAN_LIMIT 100      /* get_group_ban_member Limit */
#define LR_ADMIN_DEFAULT_BAN_LIMIT 100
#define LR_ADMIN_MAX_MEMBERS_LIMIT LR_MAX_MEMBERS_LIST /* get_members Limit */
#define LR_ADMIN_DEFAULT_MEMBERS_LIMIT 100
#define LR_ADMIN_MIN_RATE 1 /* set_room_config Rate */
#define LR_ADMIN_MAX_RATE 1000
#define LR_ADMIN_MAX_ERRINFO 256 /* a buffer this big always holds ErrorInfo */

/* ---- authentication ---------------------------------------------------- */

typedef struct lr_admin_auth_cfg {
    lr_str secret;   /* the engine's signing key */
    uint64_t app_id; /* sdkappid every request must carry */
    size_t nadmins;  /* 0: the one default admin "administrator" */
    lr_str admins[LR_ADMIN_MAX_ADMINS];
    struct lr_sig_ctx *sig; /* the admin loop's verifier for secret; NULL: one-shot */
} lr_admin_auth_cfg;

/* Fill cfg with secret and app_id and the default admin list. */
void lr_admin_auth_cfg_init(lr_admin_auth_cfg *cfg, lr_str secret, uint64_t app_id);

/* True when user is one of cfg's app admins. */
bool lr_admin_is_admin(const lr_admin_auth_cfg *cfg, lr_str user);

/*
 * Check the credentials in a request's query string
 * (sdkappid=APP&identifier=ADMIN&usersig=SIG&random=R&contenttype=json;
 * random and contenttype are not checked) at wall time now_s. Returns 0 and
 * copies the identifier, NUL-terminated, into who[0..whocap) (who may be
 * NULL; LR_MAX_USER_ID + 1 bytes always suffice), or an ErrorCode:
 *   10008  sdkappid, identifier or usersig absent or empty
 *   70003  sdkappid is not cfg->app_id, or usersig is badly encoded
 *   70013  identifier is not an app admin
 *   70001 / 70003 / 70009 / 70013  from lr_sig_verify (UserSig or JWT)
 *   10002  who is too small for the identifier
 */
int lr_admin_auth(const lr_str query, const lr_admin_auth_cfg *cfg, int64_t now_s, char *who,
                  size_t whocap);

/* ---- commands ---------------------------------------------------------- */

/* Every command of ADMIN_API.md §2, in its order. */
typedef enum lr_admin_op {
    LR_ADMIN_CREATE_GROUP = 0,
    LR_ADMIN_DESTROY_GROUP,
    LR_ADMIN_GET_GROUP_INFO,
    LR_ADMIN_MODIFY_GROUP_BASE_INFO,
    LR_ADMIN_SEND_GROUP_MSG,
    LR_ADMIN_SEND_GROUP_SYSTEM_NOTIFICATION,
    LR_ADMIN_SEND_BROADCAST_MSG,
    LR_ADMIN_FORBID_SEND_MSG,
    LR_ADMIN_GET_GROUP_MUTED_ACCOUNT,
    LR_ADMIN_BAN_GROUP_MEMBER,
    LR_ADMIN_UNBAN_GROUP_MEMBER,
    LR_ADMIN_GET_GROUP_BAN_MEMBER,
    LR_ADMIN_DELETE_GROUP_MEMBER,
    LR_ADMIN_MODIFY_GROUP_MEMBER_INFO,
    LR_ADMIN_GET_ONLINE_MEMBER_NUM,
    LR_ADMIN_GET_MEMBERS,     /* group_open_avchatroom_http_svc */
    LR_ADMIN_ACCOUNT_IMPORT,  /* im_open_login_svc */
    LR_ADMIN_KICK,            /* im_open_login_svc */
    LR_ADMIN_SET_ROOM_CONFIG, /* liveroom_svc */
    LR_ADMIN_OP_COUNT,
} lr_admin_op;

/* "group_open_http_svc/create_group" etc., or NULL for an out-of-range op. */
const char *lr_admin_op_service(lr_admin_op op);
const char *lr_admin_op_command(lr_admin_op op);

/* A list of validated ids (user or group ids), never empty once parsed. */
typedef struct lr_admin_list {
    lr_str *v;
    size_t n;
} lr_admin_list;

/*
 * A message from send_group_msg / send_broadcast_msg, with its MsgBody
 * already converted to the client protocol (see lr_admin_msg_convert).
 */
typedef struct lr_admin_msg {
    uint32_t random;
    lr_pri pri;               /* MsgPriority; LR_PRI_HIGH when absent */
    lr_str from;              /* From_Account; p NULL when absent */
    lr_str cloud_custom_data; /* p NULL when absent */
    const json_t *msg_body;   /* the request's MsgBody array, for callbacks */
    lr_msg_type type;         /* LR_TYPE_TEXT or LR_TYPE_CUSTOM */
    lr_str body;              /* text, or compact JSON object text for custom */
} lr_admin_msg;

/*
 * A parsed command. Strings point into `json` (or into storage owned by the
 * command) and are NUL-terminated; an optional string that was absent has
 * p == NULL, one given as "" has p != NULL and len 0. Optional numbers and
 * booleans that were absent are -1. Release with lr_admin_cmd_free.
 */
typedef struct lr_admin_cmd {
    lr_admin_op op;
    /* GroupId for every command that names a room (1..LR_MAX_ROOM_ID
     * printable ASCII); p NULL for create_group without one and for the
     * commands that name no room. */
    lr_str group_id;
    union {
        struct {
            lr_str name, owner, introduction, notification, face_url; /* Type is AVChatRoom */
        } create;
        struct {
            lr_admin_list ids; /* GroupIdList */
        } info;
        struct {
            lr_str name, introduction, notification, face_url;
            int mute_all; /* 1 "On", 0 "Off", -1 absent */
        } modify;
        lr_admin_msg msg; /* send_group_msg, send_broadcast_msg */
        struct {
            lr_str content;
        } notice;
        struct {
            lr_admin_list users;
            uint32_t mute_time; /* seconds, 0 = unmute */
        } forbid;
        struct {
            lr_admin_list users;
            uint32_t duration; /* seconds */
            lr_str description;
        } ban;
        struct {
            lr_admin_list users;
        } unban;
        struct {
            uint32_t offset, limit;
        } ban_list;
        struct {
            lr_admin_list users;
            lr_str reason;
        } del;
        struct {
            lr_str user;
            bool admin; /* Role "Admin" (true) or "Member" */
        } role;
        struct {
            uint32_t limit;
        } members;
        struct {
            lr_str user, nick, face_url;
        } account;
        struct {
            lr_str user;
        } kick;
        struct {
            int32_t rate;                                    /* 1..1000 or -1 */
            int32_t history;                                 /* 0..LR_MAX_HISTORY or -1 */
            int allow_guests, member_events, report_limited; /* 1, 0 or -1 */
        } config;
    } u;
    json_t *json; /* the request body; owns the strings above */
    void *owned;  /* list storage */
    char *owned_body;
} lr_admin_cmd;

/*
 * Parse the body of POST /v4/<service>/<command>. Returns 0 with *out
 * filled, or an ErrorCode with a message naming the offending field in
 * errinfo[0..cap) (always NUL-terminated when cap > 0) and *out holding
 * nothing to free:
 *   10003  unknown service or command (checked before the body)
 *   10018  body longer than LR_ADMIN_MAX_REQ_BODY
 *   10011  malformed JSON, duplicate keys, or not an object
 *   10015  an invalid GroupId (not 1..48 printable ASCII)
 *   10004  a missing field, a wrong type, a value out of range, a list or
 *          string over its limit, an invalid user id
 *   10002  out of memory
 * Unknown fields are ignored. The client-protocol body of a message is not
 * checked against the engine's max_body here: that limit is configurable.
 * lr_admin_cmd_free(out) is always safe after this returns.
 */
int lr_admin_parse(lr_str service, lr_str command, const char *body, size_t len, lr_admin_cmd *out,
                   char *errinfo, size_t cap);

void lr_admin_cmd_free(lr_admin_cmd *cmd);

/*
 * Validate a Tencent MsgBody (a non-empty array of {MsgType, MsgContent};
 * TIMTextElem {Text}, TIMCustomElem {Data, Desc, Ext}; any other MsgType is
 * 10004) and convert it with CloudCustomData (p NULL when absent) to the
 * body of a client-protocol message. The mapping is deterministic:
 *   - exactly one TIMTextElem and no (or an empty) CloudCustomData:
 *     type text, body = its Text;
 *   - anything else: type custom, body = compact JSON text of
 *     {"MsgBody":[{"MsgType":T,"MsgContent":{...}},...],"CloudCustomData":C}
 *     where each MsgContent keeps only its known fields, in the order
 *     Text / Data, Desc, Ext, and CloudCustomData appears only when given.
 * On success *body is a malloc'd NUL-terminated string of *len bytes.
 * Returns 0, 10004 (with errinfo) or 10002 (out of memory). Also used for
 * the MsgBody a before-send callback may return.
 */
int lr_admin_msg_convert(const json_t *msg_body, lr_str cloud_custom_data, lr_msg_type *type,
                         char **body, size_t *len, char *errinfo, size_t cap);

/* ---- replies ----------------------------------------------------------- */

/*
 * Append a complete HTTP/1.1 200 response to out: Content-Type
 * application/json; charset=utf-8, Content-Length, Connection keep-alive or
 * close, and the body {"ActionStatus":"OK"|"FAIL","ErrorCode":N,
 * "ErrorInfo":"...", ...extra}. ActionStatus is OK exactly when error_code
 * is 0. extra (an object, or NULL) is stolen; its keys follow in its order,
 * except any that would override the three above. error_info may be NULL
 * (""); bytes that are not valid UTF-8 are replaced. Returns 0 or
 * LR_ENOMEM (out then holds what it held before).
 */
int lr_admin_reply(lr_buf *out, int error_code, const char *error_info, json_t *extra_fields,
                   bool keep_alive);

/*
 * Append a complete HTTP/1.1 response with the given status, Content-Type
 * and body (for /metrics, /healthz, /readyz). Returns 0, LR_ENOMEM, or
 * LR_EINVAL when content_type is absurdly long (over 400 bytes).
 */
int lr_admin_http_response(lr_buf *out, int status, const char *content_type, const void *body,
                           size_t len, bool keep_alive);

/*
 * Append a plain-text error response ("404 Not Found\n") for requests
 * outside /v4 or with the wrong method. allow (e.g. "GET" or "POST"), when
 * not NULL, is sent as the Allow header that a 405 needs. Returns 0,
 * LR_ENOMEM, or LR_EINVAL when allow is absurdly long.
 */
int lr_admin_http_error(lr_buf *out, int status, const char *allow, bool keep_alive);

#endif
