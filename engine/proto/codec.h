/*
 * codec.h: the client protocol's wire encodings (PROTOCOL.md §2–§4).
 * Decoding turns one JSON text or msgpack map into an lr_req whose strings
 * borrow from the decoder's storage; encoding writes maps field by field
 * into an lr_buf in JSON or msgpack through one writer (lr_enc), so that a
 * push is built once per wire format and shared by all its recipients.
 * Never touches a connection; never blocks.
 */
#ifndef LR_PROTO_CODEC_H
#define LR_PROTO_CODEC_H

#include "core/common.h"

typedef enum lr_op {
    LR_OP_UNKNOWN = 0,
    LR_OP_LOGIN,
    LR_OP_JOIN,
    LR_OP_LEAVE,
    LR_OP_SEND,
    LR_OP_COUNT,
    LR_OP_MEMBERS,
    LR_OP_MUTE,
    LR_OP_KICK,
    LR_OP_MUTE_ALL,
    LR_OP_PING,
} lr_op;

/* How a message body was given, so it can be re-encoded in any format. */
typedef enum lr_body_kind {
    LR_BODY_STR = 0,  /* UTF-8 text: JSON string / msgpack str */
    LR_BODY_JSON = 1, /* a JSON object, kept as compact JSON text; msgpack map */
    LR_BODY_BIN = 2,  /* msgpack bin: raw bytes; JSON string when valid UTF-8,
                         else base64 text (documented in docs/PROTOCOL-NOTES) */
} lr_body_kind;

/* A decoded client request. Field presence is tracked by the has_* flags;
 * type errors are reported as err = LR_ERR_INVALID_PARAM with err_field. */
typedef struct lr_req {
    lr_op op;
    lr_str op_name; /* as sent, for logs */
    uint64_t id;    /* 0 when absent */
    bool has_id;
    lr_str user, sig, nick, avatar, room, type, pri;
    lr_str body; /* bytes; for LR_BODY_JSON compact JSON text */
    lr_body_kind body_kind;
    bool has_body;
    bool guest;
    bool on, has_on;
    uint32_t random;
    bool has_random;
    uint32_t limit;
    bool has_limit;
    int64_t secs;
    bool has_secs;
    int err;               /* 0, or a protocol error code for a bad field */
    const char *err_field; /* static string naming the bad field */
    void *owned;           /* decoder storage, released by lr_req_free */
    char *owned_body;      /* JSON object body text (malloc) */
} lr_req;

/*
 * Decode a request. Returns 0 when the frame is a map (even if fields are
 * bad: see req->err and req->op == LR_OP_UNKNOWN for an unknown op), or
 * LR_ERR_MALFORMED when it is not valid JSON / msgpack or not a map. Rules:
 * `op` must be a string; `id` an unsigned integer 1..2^53 (else err 10004);
 * unknown keys are ignored; strings over their LR_MAX_… limit set err 10004
 * except `body`, whose limit (LR_MAX_BODY, 10018) the caller checks.
 * Always call lr_req_free afterwards, whatever the result.
 * Also returns LR_ENOMEM (with req->err = LR_ERR_INTERNAL) when memory ran
 * out. JSON null reads as an absent field (except `op`). Strings of
 * user/sig/nick/avatar/type/pri holding a NUL byte are 10004; `room` is kept
 * as sent for the caller's 10015 check. A JSON integer beyond 64 bits is a
 * 10004 on its field, not a malformed frame.
 */
int lr_req_decode_json(const char *buf, size_t len, lr_req *req);
int lr_req_decode_msgpack(const uint8_t *buf, size_t len, lr_req *req);
void lr_req_free(lr_req *req);

/*
 * The writer. For JSON it writes compact JSON with proper string escaping
 * (non-UTF-8 input in a string is replaced by U+FFFD); for msgpack it writes
 * string keys and the smallest integer encodings. Maps and arrays take their
 * element count up front (msgpack needs it; JSON ignores it). Errors (out
 * of memory) are sticky: check lr_enc_finish's result once.
 */
typedef struct lr_enc {
    lr_buf *b;
    bool json;
    int depth;
    bool need_comma[16];
    bool after_key;
    int err;
} lr_enc;

void lr_enc_init(lr_enc *e, lr_buf *b, bool json); /* appends to b */
void lr_enc_map(lr_enc *e, uint32_t n);
void lr_enc_map_end(lr_enc *e);
void lr_enc_array(lr_enc *e, uint32_t n);
void lr_enc_array_end(lr_enc *e);
void lr_enc_key(lr_enc *e, const char *key);
void lr_enc_str(lr_enc *e, const char *s, size_t len);
void lr_enc_cstr(lr_enc *e, const char *s);
void lr_enc_u64(lr_enc *e, uint64_t v);
void lr_enc_i64(lr_enc *e, int64_t v);
void lr_enc_bool(lr_enc *e, bool v);
void lr_enc_null(lr_enc *e);
void lr_enc_body(lr_enc *e, lr_body_kind kind, const char *p, size_t len);
/* Splice an already-encoded value of the same format (e.g. a history msg). */
void lr_enc_raw(lr_enc *e, const void *p, size_t len);
int lr_enc_finish(lr_enc *e); /* 0 or LR_ENOMEM (LR_EINVAL: misuse, e.g.
                                 unbalanced maps, nesting over 15) */

/*
 * Framing for a transport: the payload of an encoded push or reply is
 * wrapped in a WebSocket text frame (JSON), a WebSocket binary frame
 * (msgpack) or a 4-byte big-endian length (raw TCP). lr_frame_begin reserves
 * the largest header in b and returns the offset of the reservation;
 * lr_frame_end writes the real header right-aligned in it and returns the
 * offset where the framed bytes start (they end at b->len).
 */
size_t lr_frame_begin(lr_buf *b); /* LR_FRAME_ERR when out of memory */
size_t lr_frame_end(lr_buf *b, size_t reserve_off, lr_fmt fmt);
#define LR_FRAME_RESERVE 10
#define LR_FRAME_ERR SIZE_MAX /* lr_frame_end passes it through */

#endif
