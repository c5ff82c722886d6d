/*
 * limits.h owns every named limit and protocol error code of the engine.
 * Limits are checked on every input; changing one here changes the contract
 * documented in PROTOCOL.md, so keep the two in step.
 */
#ifndef LR_LIMITS_H
#define LR_LIMITS_H

/* Protocol error codes (PROTOCOL.md §5). */
enum {
    LR_ERR_INTERNAL = 10002,
    LR_ERR_UNKNOWN_OP = 10003,
    LR_ERR_INVALID_PARAM = 10004,
    LR_ERR_TOO_FAST = 10006,
    LR_ERR_NO_PERMISSION = 10007,
    LR_ERR_ADMIN_MISSING = 10008,
    LR_ERR_NO_ROOM = 10010,
    LR_ERR_MALFORMED = 10011,
    LR_ERR_BAD_ROOM_ID = 10015,
    LR_ERR_REJECTED = 10016,
    LR_ERR_MUTED = 10017,
    LR_ERR_BODY_TOO_LARGE = 10018,
    LR_ERR_ROOM_EXISTS = 10021,
    LR_ERR_FREQ_LIMIT = 10023,
    LR_ERR_KICKED_OFFLINE = 6208,
    LR_ERR_SIG_EXPIRED = 70001,
    LR_ERR_SIG_MALFORMED = 70003,
    LR_ERR_SIG_VERIFY = 70009,
    LR_ERR_SIG_USER = 70013,
};

/* WebSocket close codes the engine sends (RFC 6455 §7.4). */
enum {
    LR_WS_CLOSE_NORMAL = 1000,
    LR_WS_CLOSE_GOING_AWAY = 1001,
    LR_WS_CLOSE_PROTOCOL = 1002,
    LR_WS_CLOSE_UNSUPPORTED = 1003,
    LR_WS_CLOSE_BAD_DATA = 1007,
    LR_WS_CLOSE_POLICY = 1008,
    LR_WS_CLOSE_TOO_BIG = 1009,
    LR_WS_CLOSE_INTERNAL = 1011,
    LR_WS_CLOSE_TRY_LATER = 1013,
};

#define LR_MAX_BODY (12 * 1024)           /* message body, bytes: 10018 above */
#define LR_MAX_ROOM_ID 48                 /* bytes; printable ASCII, no space */
#define LR_MAX_USER_ID 32                 /* bytes; printable ASCII, no space */
#define LR_MAX_NICK 64                    /* bytes of UTF-8 */
#define LR_MAX_AVATAR 256                 /* bytes */
#define LR_MAX_SIG 2048                   /* bytes of a UserSig or JWT */
#define LR_MAX_HTTP_HEAD 8192             /* request line + headers, bytes */
#define LR_MAX_HTTP_HEADERS 32            /* header lines */
#define LR_MAX_WS_MESSAGE (64 * 1024)     /* client message after reassembly: 1009 */
#define LR_MAX_ROOMS_PER_CONN 8           /* default max_rooms_per_conn */
#define LR_MAX_ROOMS_PER_CONN_CAP 64      /* ceiling of that setting */
#define LR_MAX_HISTORY 50                 /* history messages per room */
#define LR_MAX_MEMBERS_LIST 1000          /* latest online members kept visible */
#define LR_BAD_FRAMES_MAX 10              /* bad frames allowed ... */
#define LR_BAD_FRAMES_WINDOW_MS 10000     /* ... within this window, then 1002 */
#define LR_MAX_REQ_ID 9007199254740992ULL /* 2^53 */

#endif
