/*
 * decode.c owns turning one client frame (a JSON text or a msgpack map) into
 * an lr_req (PROTOCOL.md §2–§3). Both formats are first reduced to a small
 * tagged value per field, so the field rules (types, ranges, lengths) live in
 * one place and cannot drift between the formats. Strings in the request
 * borrow from storage owned by the request (the jansson tree, or a private
 * copy of the msgpack input), never from the caller's frame buffer, so the
 * caller may recycle its buffer at once.
 * Never judges semantics (room id syntax, body size, op arguments): that is
 * the caller's job; never keeps state between calls.
 */
#include "proto/codec.h"

#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>

/* What a request's `owned` points to. */
typedef struct dec_store {
    json_t *root;        /* JSON: the parsed tree */
    bool has_mp;         /* msgpack: the unpacked objects live in mp's zone */
    msgpack_unpacked mp; /* their strings point into data[] */
    char data[];         /* msgpack: copy of the input */
} dec_store;

/* One field's value, format independent. */
typedef enum val_type {
    V_NULL,
    V_BOOL,
    V_UINT, /* non-negative integer in u */
    V_NEG,  /* negative integer in i */
    V_BIG,  /* integer too large for u64 / i64 (JSON only), sign in neg */
    V_REAL,
    V_STR,
    V_BIN,
    V_MAP,
    V_OTHER, /* arrays, extension types */
} val_type;

typedef struct val {
    val_type t;
    bool b, neg;
    uint64_t u;
    int64_t i;
    const char *p;
    size_t len;
    const json_t *jmap;         /* V_MAP from JSON */
    const msgpack_object *mmap; /* V_MAP from msgpack */
} val;

static const struct {
    const char *name;
    lr_op op;
} op_names[] = {
    {"login", LR_OP_LOGIN}, {"join", LR_OP_JOIN},   {"leave", LR_OP_LEAVE},
    {"send", LR_OP_SEND},   {"count", LR_OP_COUNT}, {"members", LR_OP_MEMBERS},
    {"mute", LR_OP_MUTE},   {"kick", LR_OP_KICK},   {"mute_all", LR_OP_MUTE_ALL},
    {"ping", LR_OP_PING},
};

static lr_op op_lookup(lr_str s)
{
    for (size_t i = 0; i < LR_ARRAY_LEN(op_names); i++)
        if (lr_str_eq_c(s, op_names[i].name)) return op_names[i].op;
    return LR_OP_UNKNOWN;
}

/* First error wins: a client fixing its request sees the problems in order. */
static void set_err(lr_req *req, int code, const char *field)
{
    if (req->err) return;
    req->err = code;
    req->err_field = field;
}

/* A string field: must be a string, at most max bytes, and (except room,
 * whose checks are the caller's 10015) without NUL bytes, which later C
 * string handling would silently truncate at. */
static void take_str(lr_req *req, const val *v, lr_str *dst, size_t max, bool nul_ok,
                     const char *field)
{
    if (v->t != V_STR || v->len > max || (!nul_ok && memchr(v->p, 0, v->len))) {
        set_err(req, LR_ERR_INVALID_PARAM, field);
        return;
    }
    dst->p = v->p;
    dst->len = v->len;
}

static bool take_bool(lr_req *req, const val *v, bool *dst, const char *field)
{
    if (v->t != V_BOOL) {
        set_err(req, LR_ERR_INVALID_PARAM, field);
        return false;
    }
    *dst = v->b;
    return true;
}

/* msgpack map -> jansson tree, so a msgpack body is kept as JSON text like a
 * JSON one and the engine stores a single representation. Returns NULL when
 * the map has no JSON equivalent (non-string keys, bin, ext, NaN, invalid
 * UTF-8, integers beyond i64) or memory ran out (*oom). The unpacker bounds
 * the depth (MSGPACK_EMBED_STACK_SIZE), so the recursion is bounded too. */
static json_t *mp_to_json(const msgpack_object *o, bool *oom)
{
    json_t *j = NULL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        j = json_null();
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        j = json_boolean(o->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX) return NULL;
        j = json_integer((json_int_t)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        j = json_integer(o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64)) return NULL;
        j = json_real(o->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        /* json_stringn refuses invalid UTF-8, which JSON cannot carry. */
        j = json_stringn(o->via.str.ptr, o->via.str.size);
        return j;
    case MSGPACK_OBJECT_ARRAY:
        if (!(j = json_array())) break;
        for (uint32_t k = 0; k < o->via.array.size; k++) {
            json_t *e = mp_to_json(&o->via.array.ptr[k], oom);
            if (!e || json_array_append_new(j, e) != 0) {
                json_decref(j);
                return NULL;
            }
        }
        return j;
    case MSGPACK_OBJECT_MAP:
        if (!(j = json_object())) break;
        for (uint32_t k = 0; k < o->via.map.size; k++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[k];
            if (kv->key.type != MSGPACK_OBJECT_STR) goto bad;
            json_t *e = mp_to_json(&kv->val, oom);
            if (!e) goto bad;
            if (json_object_setn_new(j, kv->key.via.str.ptr, kv->key.via.str.size, e) != 0)
                goto bad; /* NUL in the key, invalid UTF-8, or no memory */
        }
        return j;
    bad:
        json_decref(j);
        return NULL;
    default:
        return NULL;
    }
    if (!j) *oom = true;
    return j;
}

static void take_body(lr_req *req, const val *v)
{
    switch (v->t) {
    case V_STR:
    case V_BIN:
        req->body.p = v->p;
        req->body.len = v->len;
        req->body_kind = v->t == V_STR ? LR_BODY_STR : LR_BODY_BIN;
        req->has_body = true;
        return;
    case V_MAP:
        break;
    default:
        set_err(req, LR_ERR_INVALID_PARAM, "body");
        return;
    }

    json_t *tmp = NULL;
    const json_t *obj = v->jmap;
    bool oom = false;
    if (!obj) {
        obj = tmp = mp_to_json(v->mmap, &oom);
        if (!obj) {
            set_err(req, oom ? LR_ERR_INTERNAL : LR_ERR_INVALID_PARAM, "body");
            return;
        }
    }
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(tmp);
    if (!text) {
        set_err(req, LR_ERR_INTERNAL, "body");
        return;
    }
    /* Duplicate body keys: the last one is the one kept. */
    free(req->owned_body);
    req->owned_body = text;
    req->body.p = text;
    req->body.len = strlen(text);
    req->body_kind = LR_BODY_JSON;
    req->has_body = true;
}

/* Field names are matched by length first: the common case costs one
 * memcmp. */
static void apply_field(lr_req *req, const char *k, size_t klen, const val *v)
{
#define KEY(s) (klen == sizeof(s) - 1 && memcmp(k, s, sizeof(s) - 1) == 0)
    if (v->t == V_NULL && !KEY("op")) return; /* null reads as absent */

    if (KEY("op")) {
        if (v->t != V_STR) {
            req->op = LR_OP_UNKNOWN;
            req->op_name = (lr_str){NULL, 0};
            set_err(req, LR_ERR_INVALID_PARAM, "op");
            return;
        }
        req->op_name = (lr_str){v->p, v->len};
        req->op = op_lookup(req->op_name);
    } else if (KEY("id")) {
        req->has_id = false;
        req->id = 0;
        if (v->t != V_UINT || v->u < 1 || v->u > LR_MAX_REQ_ID) {
            set_err(req, LR_ERR_INVALID_PARAM, "id");
            return;
        }
        req->id = v->u;
        req->has_id = true;
    } else if (KEY("user")) {
        take_str(req, v, &req->user, LR_MAX_USER_ID, false, "user");
    } else if (KEY("sig")) {
        take_str(req, v, &req->sig, LR_MAX_SIG, false, "sig");
    } else if (KEY("nick")) {
        take_str(req, v, &req->nick, LR_MAX_NICK, false, "nick");
    } else if (KEY("avatar")) {
        take_str(req, v, &req->avatar, LR_MAX_AVATAR, false, "avatar");
    } else if (KEY("room")) {
        take_str(req, v, &req->room, SIZE_MAX, true, "room");
    } else if (KEY("type")) {
        take_str(req, v, &req->type, SIZE_MAX, false, "type");
    } else if (KEY("pri")) {
        take_str(req, v, &req->pri, SIZE_MAX, false, "pri");
    } else if (KEY("body")) {
        take_body(req, v);
    } else if (KEY("guest")) {
        take_bool(req, v, &req->guest, "guest");
    } else if (KEY("on")) {
        if (take_bool(req, v, &req->on, "on")) req->has_on = true;
    } else if (KEY("random")) {
        if (v->t != V_UINT || v->u > UINT32_MAX) {
            set_err(req, LR_ERR_INVALID_PARAM, "random");
            return;
        }
        req->random = (uint32_t)v->u;
        req->has_random = true;
    } else if (KEY("limit")) {
        /* The range (1–1000) is the caller's; only the type is judged here. */
        if (v->t != V_UINT && !(v->t == V_BIG && !v->neg)) {
            set_err(req, LR_ERR_INVALID_PARAM, "limit");
            return;
        }
        req->limit = v->t == V_UINT && v->u <= UINT32_MAX ? (uint32_t)v->u : UINT32_MAX;
        req->has_limit = true;
    } else if (KEY("secs")) {
        if (v->t == V_UINT && v->u <= (uint64_t)INT64_MAX)
            req->secs = (int64_t)v->u;
        else if (v->t == V_NEG)
            req->secs = v->i;
        else {
            set_err(req, LR_ERR_INVALID_PARAM, "secs");
            return;
        }
        req->has_secs = true;
    }
#undef KEY
}

static void req_init(lr_req *req)
{
    memset(req, 0, sizeof(*req));
}

/* ---- JSON ---- */

/* 2^53 and 2^64 as doubles: below 2^53 every integer is exact. */
#define EXACT_DOUBLE_LIMIT 9007199254740992.0

static void json_val(const json_t *j, bool ints_as_reals, val *v)
{
    memset(v, 0, sizeof(*v));
    switch (json_typeof(j)) {
    case JSON_NULL:
        v->t = V_NULL;
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        v->t = V_BOOL;
        v->b = json_is_true(j);
        break;
    case JSON_INTEGER: {
        json_int_t n = json_integer_value(j);
        if (n >= 0) {
            v->t = V_UINT;
            v->u = (uint64_t)n;
        } else {
            v->t = V_NEG;
            v->i = n;
        }
        break;
    }
    case JSON_REAL: {
        double d = json_real_value(j);
        v->t = V_REAL;
        /* Only in the retry for an integer beyond i64 do integers arrive as
         * reals; an integral real is then taken as the integer it was, but
         * beyond 2^53 it may have been rounded, so it counts as too big. */
        if (ints_as_reals && d == floor(d)) {
            if (fabs(d) >= EXACT_DOUBLE_LIMIT) {
                v->t = V_BIG;
                v->neg = d < 0;
            } else if (d >= 0) {
                v->t = V_UINT;
                v->u = (uint64_t)d;
            } else {
                v->t = V_NEG;
                v->i = (int64_t)d;
            }
        }
        break;
    }
    case JSON_STRING:
        v->t = V_STR;
        v->p = json_string_value(j);
        v->len = json_string_length(j);
        break;
    case JSON_OBJECT:
        v->t = V_MAP;
        v->jmap = j;
        break;
    default:
        v->t = V_OTHER;
        break;
    }
}

int lr_req_decode_json(const char *buf, size_t len, lr_req *req)
{
    req_init(req);
    json_error_t jerr;
    /* JSON_DECODE_ANY so a top-level scalar is our 10011 rather than a
     * parser error; the EOF check stays on so trailing garbage is refused;
     * duplicates are accepted (the last one wins). */
    size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_t *root = json_loadb(buf, len, flags, &jerr);
    bool ints_as_reals = false;
    if (!root && json_error_code(&jerr) == json_error_numeric_overflow) {
        /* An integer beyond i64 (say an id of 2^64) must be a 10004 on that
         * field, not a malformed frame: parse again with numbers as reals. */
        ints_as_reals = true;
        root = json_loadb(buf, len, flags | JSON_DECODE_INT_AS_REAL, &jerr);
    }
    if (!root) {
        if (json_error_code(&jerr) == json_error_out_of_memory) {
            req->err = LR_ERR_INTERNAL;
            return LR_ENOMEM;
        }
        return LR_ERR_MALFORMED;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return LR_ERR_MALFORMED;
    }
    dec_store *st = calloc(1, sizeof(*st));
    if (!st) {
        json_decref(root);
        req->err = LR_ERR_INTERNAL;
        return LR_ENOMEM;
    }
    st->root = root;
    req->owned = st;

    bool saw_op = false;
    const char *key;
    size_t klen;
    json_t *jv;
    json_object_keylen_foreach(root, key, klen, jv)
    {
        val v;
        json_val(jv, ints_as_reals, &v);
        if (klen == 2 && memcmp(key, "op", 2) == 0) saw_op = true;
        apply_field(req, key, klen, &v);
    }
    if (!saw_op) set_err(req, LR_ERR_INVALID_PARAM, "op");
    return 0;
}

/* ---- msgpack ---- */

static void mp_val(const msgpack_object *o, val *v)
{
    memset(v, 0, sizeof(*v));
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        v->t = V_NULL;
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        v->t = V_BOOL;
        v->b = o->via.boolean;
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        v->t = V_UINT;
        v->u = o->via.u64;
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        v->t = V_NEG;
        v->i = o->via.i64;
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        v->t = V_REAL;
        break;
    case MSGPACK_OBJECT_STR:
        v->t = V_STR;
        v->p = o->via.str.ptr;
        v->len = o->via.str.size;
        break;
    case MSGPACK_OBJECT_BIN:
        v->t = V_BIN;
        v->p = o->via.bin.ptr;
        v->len = o->via.bin.size;
        break;
    case MSGPACK_OBJECT_MAP:
        v->t = V_MAP;
        v->mmap = o;
        break;
    default:
        v->t = V_OTHER;
        break;
    }
}

int lr_req_decode_msgpack(const uint8_t *buf, size_t len, lr_req *req)
{
    req_init(req);
    dec_store *st = malloc(sizeof(*st) + len);
    if (!st) {
        req->err = LR_ERR_INTERNAL;
        return LR_ENOMEM;
    }
    st->root = NULL;
    st->has_mp = true;
    if (len) memcpy(st->data, buf, len);
    msgpack_unpacked_init(&st->mp);
    req->owned = st;

    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(&st->mp, st->data, len, &off);
    /* NOMEM_ERROR is also how the unpacker reports nesting beyond its fixed
     * stack, which only a hostile frame does: both read as malformed. A
     * successful value must also be the whole frame. */
    if (r != MSGPACK_UNPACK_SUCCESS || off != len) return LR_ERR_MALFORMED;
    const msgpack_object *root = &st->mp.data;
    if (root->type != MSGPACK_OBJECT_MAP) return LR_ERR_MALFORMED;

    bool saw_op = false;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object_kv *kv = &root->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR) continue; /* not a known key */
        const char *key = kv->key.via.str.ptr;
        size_t klen = kv->key.via.str.size;
        val v;
        mp_val(&kv->val, &v);
        if (klen == 2 && memcmp(key, "op", 2) == 0) saw_op = true;
        apply_field(req, key, klen, &v);
    }
    if (!saw_op) set_err(req, LR_ERR_INVALID_PARAM, "op");
    return 0;
}

void lr_req_free(lr_req *req)
{
    dec_store *st = req->owned;
    if (st) {
        if (st->root) json_decref(st->root);
        if (st->has_mp) msgpack_unpacked_destroy(&st->mp);
        free(st);
    }
    free(req->owned_body);
    req->owned = NULL;
    req->owned_body = NULL;
}
