/*
 * encode.c owns the writer that builds replies and pushes in JSON or msgpack
 * (PROTOCOL.md §2–§4), and the transport framing around them. A push is
 * encoded once per wire format and shared by every recipient, so this is on
 * the fan-out's hot path: each call reserves its worst case once and writes
 * bytes directly, with no allocation besides the lr_buf's own growth (the
 * one exception is turning a JSON object body into a msgpack map, which
 * parses the JSON text).
 * Every string is written as valid UTF-8 in both formats (bad bytes become
 * U+FFFD), because strict clients reject a whole frame for one bad string.
 * Never touches a connection; never depends on engine/net (the WebSocket
 * header bytes are written here).
 */
#include "proto/codec.h"

#include <assert.h>
#include <jansson.h>
#include <stdlib.h>

#define ENC_MAX_DEPTH ((int)LR_ARRAY_LEN(((lr_enc *)0)->need_comma) - 1)

/* ---- UTF-8 ---- */

/*
 * Length of the well-formed UTF-8 sequence at s (Unicode Table 3-7: no
 * overlongs, no surrogates, nothing above U+10FFFF), or minus the length of
 * its maximal ill-formed prefix, which is replaced by one U+FFFD (the
 * Unicode-recommended practice, also what browsers do).
 */
static int utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0], lo = 0x80, hi = 0xbf;
    int need;
    if (c >= 0xc2 && c <= 0xdf)
        need = 1;
    else if (c == 0xe0)
        need = 2, lo = 0xa0;
    else if (c == 0xed)
        need = 2, hi = 0x9f;
    else if (c >= 0xe1 && c <= 0xef)
        need = 2;
    else if (c == 0xf0)
        need = 3, lo = 0x90;
    else if (c == 0xf4)
        need = 3, hi = 0x8f;
    else if (c >= 0xf1 && c <= 0xf3)
        need = 3;
    else
        return -1;
    if (n < 2 || s[1] < lo || s[1] > hi) return -1;
    for (int k = 2; k <= need; k++)
        if ((size_t)k >= n || (s[k] & 0xc0) != 0x80) return -k;
    return need + 1;
}

/*
 * Word-at-a-time tests, so runs of plain ASCII (nearly all of a typical
 * push) are skipped eight bytes per step instead of one. Each test answers
 * "does any byte of x match" exactly, which is all the loops need: a hit
 * falls back to the byte loop for that word.
 */
#define SWAR_ONES 0x0101010101010101ULL
#define SWAR_HIGHS 0x8080808080808080ULL

static inline uint64_t load8(const uint8_t *s)
{
    uint64_t x;
    memcpy(&x, s, sizeof(x));
    return x;
}

static inline bool swar_ascii(uint64_t x)
{
    return (x & SWAR_HIGHS) == 0;
}

/* High bit set in some byte iff some byte of v is zero. */
static inline uint64_t swar_zero(uint64_t v)
{
    return (v - SWAR_ONES) & ~v;
}

/* No control character, '"', '\\' or non-ASCII byte in x. Subtracting 0x20
 * from each byte borrows (sets the high bit) exactly for bytes below 0x20
 * once non-ASCII bytes are excluded, which or-ing x itself does. */
static inline bool swar_json_plain(uint64_t x)
{
    uint64_t hit = x | (x - SWAR_ONES * 0x20) | swar_zero(x ^ (SWAR_ONES * '"')) |
                   swar_zero(x ^ (SWAR_ONES * '\\'));
    return (hit & SWAR_HIGHS) == 0;
}

/* The n < 8 bytes at s, zero-padded, in three loads instead of n. */
static inline uint64_t load_short(const uint8_t *s, size_t n)
{
    uint64_t x = 0;
    size_t o = 0;
    if (n & 4) {
        uint32_t v;
        memcpy(&v, s, 4);
        x = v;
        o = 4;
    }
    if (n & 2) {
        uint16_t v;
        memcpy(&v, s + o, 2);
        x |= (uint64_t)v << (8 * o);
        o += 2;
    }
    if (n & 1) x |= (uint64_t)s[o] << (8 * o);
    return x;
}

/* Index of the first byte at or after i that is not plain ASCII. The tail
 * is tested as one word too: an overlapping last word, or a padded one. */
static inline size_t ascii_run(const uint8_t *s, size_t i, size_t n)
{
    while (i + 8 <= n && swar_ascii(load8(s + i)))
        i += 8;
    if (i < n && i + 8 > n && swar_ascii(n >= 8 ? load8(s + n - 8) : load_short(s + i, n - i)))
        return n;
    while (i < n && s[i] < 0x80)
        i++;
    return i;
}

static bool utf8_valid(const char *p, size_t len)
{
    const uint8_t *s = (const uint8_t *)p;
    for (size_t i = 0; (i = ascii_run(s, i, len)) < len;) {
        int k = utf8_seq(s + i, len - i);
        if (k < 0) return false;
        i += (size_t)k;
    }
    return true;
}

/* Length after replacing ill-formed sequences by U+FFFD (3 bytes each);
 * *bad tells whether there were any (the length alone cannot: a 3-byte
 * truncated sequence has the replacement's length). */
static size_t utf8_fixed_len(const uint8_t *s, size_t len, bool *bad)
{
    size_t out = len;
    *bad = false;
    for (size_t i = 0; (i = ascii_run(s, i, len)) < len;) {
        int k = utf8_seq(s + i, len - i);
        if (k > 0) {
            i += (size_t)k;
        } else {
            *bad = true;
            out = out + 3 - (size_t)-k;
            i += (size_t)-k;
        }
    }
    return out;
}

static const uint8_t replacement[3] = {0xef, 0xbf, 0xbd};

/* ---- buffer access ---- */

/* Write position with at least n free bytes, or NULL (sticky error). */
static inline uint8_t *ensure(lr_enc *e, size_t n)
{
    if (LR_UNLIKELY(e->err)) return NULL;
    lr_buf *b = e->b;
    if (LR_UNLIKELY(b->cap - b->len < n) && lr_buf_reserve(b, n) != LR_OK) {
        e->err = LR_ENOMEM;
        return NULL;
    }
    return b->p + b->len;
}

static inline void commit(lr_enc *e, uint8_t *w)
{
    e->b->len = (size_t)(w - e->b->p);
}

static inline uint8_t *put_be(uint8_t *w, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        *w++ = (uint8_t)(v >> (8 * i));
    return w;
}

/* ---- JSON ---- */

/* The comma before a value: none right after a key or first in a map. */
static inline uint8_t *json_sep(lr_enc *e, uint8_t *w)
{
    if (e->after_key) {
        e->after_key = false;
    } else {
        if (e->need_comma[e->depth]) *w++ = ',';
        e->need_comma[e->depth] = true;
    }
    return w;
}

/* 0: copy as is; 1: escape; 2: start of a multi-byte (or bad) sequence. */
static const uint8_t json_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

static const char hex_digits[16] = "0123456789abcdef";

static uint8_t *json_escape(uint8_t *w, uint8_t c)
{
    *w++ = '\\';
    switch (c) {
    case '"':
        *w++ = '"';
        break;
    case '\\':
        *w++ = '\\';
        break;
    case '\b':
        *w++ = 'b';
        break;
    case '\f':
        *w++ = 'f';
        break;
    case '\n':
        *w++ = 'n';
        break;
    case '\r':
        *w++ = 'r';
        break;
    case '\t':
        *w++ = 't';
        break;
    default:
        *w++ = 'u';
        *w++ = '0';
        *w++ = '0';
        *w++ = (uint8_t)hex_digits[c >> 4];
        *w++ = (uint8_t)hex_digits[c & 15];
    }
    return w;
}

/*
 * A quoted JSON string (a value, or a key followed by ':'). The space for
 * the unescaped text is reserved up front; only an escape or a replacement,
 * which can grow the output, reserves again. Invariant at the loop head: at
 * least (n - i) + tail bytes are free.
 */
static void json_put_str(lr_enc *e, const uint8_t *s, size_t n, bool is_key)
{
    size_t tail = is_key ? 2 : 1;
    uint8_t *w = ensure(e, n + 2 + tail);
    if (!w) return;
    if (is_key) {
        if (e->need_comma[e->depth]) *w++ = ',';
        e->need_comma[e->depth] = true;
        e->after_key = true;
    } else {
        w = json_sep(e, w);
    }
    *w++ = '"';
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j + 8 <= n && swar_json_plain(load8(s + j)))
            j += 8;
        if (j < n && j + 8 > n && n >= 8 && swar_json_plain(load8(s + n - 8)))
            j = n;
        else
            while (j < n && json_class[s[j]] == 0)
                j++;
        memcpy(w, s + i, j - i);
        w += j - i;
        i = j;
        if (i >= n) break;
        if (s[i] < 0x80) {
            commit(e, w);
            if (!(w = ensure(e, (n - i) + 6 + tail))) return;
            w = json_escape(w, s[i]);
            i++;
            continue;
        }
        int k = utf8_seq(s + i, n - i);
        if (k > 0) {
            memcpy(w, s + i, (size_t)k);
            w += k;
            i += (size_t)k;
        } else {
            commit(e, w);
            if (!(w = ensure(e, (n - i) + 3 + tail))) return;
            memcpy(w, replacement, 3);
            w += 3;
            i += (size_t)-k;
        }
    }
    *w++ = '"';
    if (is_key) *w++ = ':';
    commit(e, w);
}

static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

/* Decimal text of v, two digits per division (numbers here are mostly
 * 10–13 digits: seqs, millisecond times, randoms). */
static uint8_t *put_dec(uint8_t *w, uint64_t v)
{
    uint8_t tmp[20];
    int n = sizeof(tmp);
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        tmp[--n] = (uint8_t)digit_pairs[d + 1];
        tmp[--n] = (uint8_t)digit_pairs[d];
    }
    if (v >= 10) {
        tmp[--n] = (uint8_t)digit_pairs[v * 2 + 1];
        tmp[--n] = (uint8_t)digit_pairs[v * 2];
    } else {
        tmp[--n] = (uint8_t)('0' + v);
    }
    size_t len = sizeof(tmp) - (size_t)n;
    memcpy(w, tmp + n, len);
    return w + len;
}

static const char b64_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Binary that is not UTF-8 has no JSON string form: standard base64. */
static void json_base64(lr_enc *e, const uint8_t *s, size_t n)
{
    uint8_t *w = ensure(e, (n + 2) / 3 * 4 + 3);
    if (!w) return;
    w = json_sep(e, w);
    *w++ = '"';
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *w++ = (uint8_t)b64_alphabet[v >> 18];
        *w++ = (uint8_t)b64_alphabet[(v >> 12) & 63];
        *w++ = (uint8_t)b64_alphabet[(v >> 6) & 63];
        *w++ = (uint8_t)b64_alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
        *w++ = (uint8_t)b64_alphabet[v >> 18];
        *w++ = (uint8_t)b64_alphabet[(v >> 12) & 63];
        *w++ = i + 1 < n ? (uint8_t)b64_alphabet[(v >> 6) & 63] : '=';
        *w++ = '=';
    }
    *w++ = '"';
    commit(e, w);
}

/* A bare token (number, literal, container bracket) after its separator. */
static void json_token(lr_enc *e, const char *tok, size_t n)
{
    uint8_t *w = ensure(e, n + 1);
    if (!w) return;
    w = json_sep(e, w);
    memcpy(w, tok, n);
    commit(e, w + n);
}

/* ---- msgpack ---- */

static inline uint8_t *mp_uint(uint8_t *w, uint64_t v)
{
    if (v < 0x80) {
        *w++ = (uint8_t)v;
    } else if (v <= 0xff) {
        *w++ = 0xcc;
        *w++ = (uint8_t)v;
    } else if (v <= 0xffff) {
        *w++ = 0xcd;
        w = put_be(w, v, 2);
    } else if (v <= 0xffffffffu) {
        *w++ = 0xce;
        w = put_be(w, v, 4);
    } else {
        *w++ = 0xcf;
        w = put_be(w, v, 8);
    }
    return w;
}

static inline uint8_t *mp_int(uint8_t *w, int64_t v)
{
    if (v >= 0) return mp_uint(w, (uint64_t)v);
    if (v >= -32) {
        *w++ = (uint8_t)(int8_t)v;
    } else if (v >= INT8_MIN) {
        *w++ = 0xd0;
        *w++ = (uint8_t)(int8_t)v;
    } else if (v >= INT16_MIN) {
        *w++ = 0xd1;
        w = put_be(w, (uint64_t)v, 2);
    } else if (v >= INT32_MIN) {
        *w++ = 0xd2;
        w = put_be(w, (uint64_t)v, 4);
    } else {
        *w++ = 0xd3;
        w = put_be(w, (uint64_t)v, 8);
    }
    return w;
}

/* Header of a str (fix/8/16/32) or bin (8/16/32) of n bytes; at most 5. */
static inline uint8_t *mp_str_head(uint8_t *w, size_t n)
{
    if (n < 32) {
        *w++ = (uint8_t)(0xa0 | n);
    } else if (n <= 0xff) {
        *w++ = 0xd9;
        *w++ = (uint8_t)n;
    } else if (n <= 0xffff) {
        *w++ = 0xda;
        w = put_be(w, n, 2);
    } else {
        *w++ = 0xdb;
        w = put_be(w, n, 4);
    }
    return w;
}

static inline uint8_t *mp_bin_head(uint8_t *w, size_t n)
{
    if (n <= 0xff) {
        *w++ = 0xc4;
        *w++ = (uint8_t)n;
    } else if (n <= 0xffff) {
        *w++ = 0xc5;
        w = put_be(w, n, 2);
    } else {
        *w++ = 0xc6;
        w = put_be(w, n, 4);
    }
    return w;
}

/* Container header: fix (0x80 map / 0x90 array), 16 or 32 bits. */
static inline uint8_t *mp_container_head(uint8_t *w, uint32_t n, bool map)
{
    if (n < 16) {
        *w++ = (uint8_t)((map ? 0x80 : 0x90) | n);
    } else if (n <= 0xffff) {
        *w++ = map ? 0xde : 0xdc;
        w = put_be(w, n, 2);
    } else {
        *w++ = map ? 0xdf : 0xdd;
        w = put_be(w, n, 4);
    }
    return w;
}

static void mp_string(lr_enc *e, const uint8_t *s, size_t n)
{
    assert(n <= UINT32_MAX);
    bool bad;
    size_t out = utf8_fixed_len(s, n, &bad);
    uint8_t *w = ensure(e, out + 5);
    if (!w) return;
    w = mp_str_head(w, out);
    if (!bad) {
        memcpy(w, s, n);
        commit(e, w + n);
        return;
    }
    for (size_t i = 0; i < n;) {
        int k = s[i] < 0x80 ? 1 : utf8_seq(s + i, n - i);
        if (k > 0) {
            memcpy(w, s + i, (size_t)k);
            w += k;
            i += (size_t)k;
        } else {
            memcpy(w, replacement, 3);
            w += 3;
            i += (size_t)-k;
        }
    }
    commit(e, w);
}

static void mp_bytes(lr_enc *e, const uint8_t *s, size_t n)
{
    assert(n <= UINT32_MAX);
    uint8_t *w = ensure(e, n + 5);
    if (!w) return;
    w = mp_bin_head(w, n);
    memcpy(w, s, n);
    commit(e, w + n);
}

/* A parsed JSON value as msgpack. Recursion is bounded by jansson's own
 * parse depth limit; containers here are not lr_enc levels, so a deep body
 * does not run into ENC_MAX_DEPTH. */
static void mp_from_json(lr_enc *e, const json_t *j)
{
    uint8_t *w;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        if (!(w = ensure(e, 5))) return;
        commit(e, mp_container_head(w, (uint32_t)json_object_size(j), true));
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach((json_t *)j, k, klen, v)
        {
            mp_string(e, (const uint8_t *)k, klen);
            mp_from_json(e, v);
        }
        return;
    }
    case JSON_ARRAY: {
        if (!(w = ensure(e, 5))) return;
        commit(e, mp_container_head(w, (uint32_t)json_array_size(j), false));
        size_t idx;
        json_t *v;
        json_array_foreach(j, idx, v) mp_from_json(e, v);
        return;
    }
    case JSON_STRING:
        mp_string(e, (const uint8_t *)json_string_value(j), json_string_length(j));
        return;
    case JSON_INTEGER:
        if ((w = ensure(e, 9))) commit(e, mp_int(w, json_integer_value(j)));
        return;
    case JSON_REAL: {
        double d = json_real_value(j);
        uint64_t bits;
        memcpy(&bits, &d, sizeof(bits));
        if ((w = ensure(e, 9))) {
            *w++ = 0xcb;
            commit(e, put_be(w, bits, 8));
        }
        return;
    }
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        if ((w = ensure(e, 1))) {
            *w++ = json_is_null(j) ? 0xc0 : json_is_true(j) ? 0xc3 : 0xc2;
            commit(e, w);
        }
        return;
    }
}

static void mp_json_body(lr_enc *e, const char *p, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(p, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        /* The body was validated when it entered the engine, so this is a
         * caller bug (or no memory): fail the encoding rather than send a
         * body of the wrong kind. */
        e->err = json_error_code(&jerr) == json_error_out_of_memory ? LR_ENOMEM : LR_EINVAL;
        return;
    }
    mp_from_json(e, root);
    json_decref(root);
}

/* ---- the writer ---- */

void lr_enc_init(lr_enc *e, lr_buf *b, bool json)
{
    memset(e, 0, sizeof(*e));
    e->b = b;
    e->json = json;
}

static void open_container(lr_enc *e, uint32_t n, bool map)
{
    if (e->err) return;
    if (e->depth >= ENC_MAX_DEPTH) {
        e->err = LR_EINVAL;
        return;
    }
    uint8_t *w = ensure(e, 5);
    if (!w) return;
    if (e->json) {
        w = json_sep(e, w);
        *w++ = map ? '{' : '[';
    } else {
        w = mp_container_head(w, n, map);
    }
    commit(e, w);
    e->depth++;
    e->need_comma[e->depth] = false;
}

static void close_container(lr_enc *e, bool map)
{
    if (e->err) return;
    assert(e->depth > 0 && !e->after_key);
    if (e->depth <= 0) {
        e->err = LR_EINVAL;
        return;
    }
    e->depth--;
    if (!e->json) return;
    uint8_t *w = ensure(e, 1);
    if (!w) return;
    *w++ = map ? '}' : ']';
    commit(e, w);
}

void lr_enc_map(lr_enc *e, uint32_t n)
{
    open_container(e, n, true);
}
void lr_enc_map_end(lr_enc *e)
{
    close_container(e, true);
}
void lr_enc_array(lr_enc *e, uint32_t n)
{
    open_container(e, n, false);
}
void lr_enc_array_end(lr_enc *e)
{
    close_container(e, false);
}

void lr_enc_key(lr_enc *e, const char *key)
{
    size_t n = strlen(key);
    if (e->json)
        json_put_str(e, (const uint8_t *)key, n, true);
    else
        mp_string(e, (const uint8_t *)key, n);
}

void lr_enc_str(lr_enc *e, const char *s, size_t len)
{
    if (e->json)
        json_put_str(e, (const uint8_t *)s, len, false);
    else
        mp_string(e, (const uint8_t *)s, len);
}

void lr_enc_cstr(lr_enc *e, const char *s)
{
    lr_enc_str(e, s, strlen(s));
}

void lr_enc_u64(lr_enc *e, uint64_t v)
{
    uint8_t *w = ensure(e, 21);
    if (!w) return;
    if (e->json)
        w = put_dec(json_sep(e, w), v);
    else
        w = mp_uint(w, v);
    commit(e, w);
}

void lr_enc_i64(lr_enc *e, int64_t v)
{
    uint8_t *w = ensure(e, 22);
    if (!w) return;
    if (e->json) {
        w = json_sep(e, w);
        if (v < 0) *w++ = '-';
        /* Negate in unsigned arithmetic: -INT64_MIN overflows int64_t. */
        w = put_dec(w, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    } else {
        w = mp_int(w, v);
    }
    commit(e, w);
}

void lr_enc_bool(lr_enc *e, bool v)
{
    if (e->json) {
        json_token(e, v ? "true" : "false", v ? 4 : 5);
        return;
    }
    uint8_t *w = ensure(e, 1);
    if (!w) return;
    *w++ = v ? 0xc3 : 0xc2;
    commit(e, w);
}

void lr_enc_null(lr_enc *e)
{
    if (e->json) {
        json_token(e, "null", 4);
        return;
    }
    uint8_t *w = ensure(e, 1);
    if (!w) return;
    *w++ = 0xc0;
    commit(e, w);
}

void lr_enc_body(lr_enc *e, lr_body_kind kind, const char *p, size_t len)
{
    const uint8_t *s = (const uint8_t *)p;
    switch (kind) {
    case LR_BODY_STR:
        lr_enc_str(e, p, len);
        return;
    case LR_BODY_BIN:
        if (!e->json)
            mp_bytes(e, s, len);
        else if (utf8_valid(p, len))
            json_put_str(e, s, len, false);
        else
            json_base64(e, s, len);
        return;
    case LR_BODY_JSON:
        if (len == 0) /* no text is no value: keep the frame well formed */
            lr_enc_null(e);
        else if (e->json)
            lr_enc_raw(e, p, len);
        else
            mp_json_body(e, p, len);
        return;
    }
    e->err = LR_EINVAL;
}

void lr_enc_raw(lr_enc *e, const void *p, size_t len)
{
    uint8_t *w = ensure(e, len + 1);
    if (!w) return;
    if (e->json) w = json_sep(e, w);
    memcpy(w, p, len);
    commit(e, w + len);
}

int lr_enc_finish(lr_enc *e)
{
    if (e->err) return e->err;
    return e->depth == 0 && !e->after_key ? LR_OK : LR_EINVAL;
}

/* ---- framing ---- */

size_t lr_frame_begin(lr_buf *b)
{
    if (lr_buf_reserve(b, LR_FRAME_RESERVE) != LR_OK) return LR_FRAME_ERR;
    size_t off = b->len;
    b->len += LR_FRAME_RESERVE;
    return off;
}

size_t lr_frame_end(lr_buf *b, size_t reserve_off, lr_fmt fmt)
{
    if (reserve_off == LR_FRAME_ERR) return LR_FRAME_ERR;
    assert(reserve_off + LR_FRAME_RESERVE <= b->len);
    size_t body = reserve_off + LR_FRAME_RESERVE;
    uint64_t n = b->len - body;
    uint8_t head[LR_FRAME_RESERVE];
    size_t h;
    if (fmt == LR_FMT_TCP) {
        assert(n <= UINT32_MAX);
        put_be(head, n, 4);
        h = 4;
    } else {
        /* RFC 6455 §5.2: FIN, opcode 1 (text) or 2 (binary), unmasked. */
        head[0] = fmt == LR_FMT_JSON ? 0x81 : 0x82;
        if (n <= 125) {
            head[1] = (uint8_t)n;
            h = 2;
        } else if (n <= 0xffff) {
            head[1] = 126;
            put_be(head + 2, n, 2);
            h = 4;
        } else {
            head[1] = 127;
            put_be(head + 2, n, 8);
            h = 10;
        }
    }
    memcpy(b->p + body - h, head, h);
    return body - h;
}
