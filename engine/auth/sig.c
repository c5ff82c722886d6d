/*
 * sig.c owns the two signature formats a client may log in with
 * (ADMIN_API.md §4): the TLSSigAPIv2 UserSig (JSON, zlib, HMAC-SHA256,
 * Tencent's URL-safe base64) and the JWT HS256. It must never trust a field
 * before the MAC over it has been checked, never compare MACs with memcmp
 * (timing leaks the MAC byte by byte), and never let an input inflate into
 * more memory than LR_SIG_JSON_MAX: a 2 KiB zlib bomb could otherwise expand
 * a thousandfold. All decoding happens in fixed stack buffers; only jansson
 * allocates, and only in proportion to the already bounded JSON text.
 */
#include "auth/sig.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <stdio.h>
#include <sys/types.h>
#include <zlib.h>

enum {
    LR_SIG_MAC_LEN = 32,       /* SHA-256 */
    LR_SIG_MAC_B64 = 44,       /* base64 of 32 bytes, padded */
    LR_SIG_JSON_MAX = 4096,    /* inflated UserSig JSON; real ones are ~200 bytes */
    LR_SIG_DECODED_MAX = 1536, /* base64 of LR_MAX_SIG chars decodes to at most this */
    LR_SIG_CONTENT_MAX = 4096, /* the text the UserSig MAC covers */
};

/* ---- base64 ---------------------------------------------------------- */

/*
 * Tencent's alphabet replaces + / = with * - _. Decoding also accepts the
 * standard characters: a gateway that undid the substitution, or a client
 * that never did it, still carries the same bytes, and the MAC inside the
 * JSON is what makes a UserSig authentic, not its spelling.
 */
static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_tencent[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

typedef enum { B64_STD, B64_TENCENT, B64_URL } b64_kind;

/* A character's value + 1 in each alphabet; 0: not in it. */
#define B64_ALNUM                                                                                  \
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,        \
    ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, \
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23,            \
    ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,            \
    ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37,            \
    ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44,            \
    ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51,            \
    ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58,            \
    ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62

static const uint8_t b64_dec[3][256] = {
    [B64_STD] = {B64_ALNUM, ['+'] = 63, ['/'] = 64},
    [B64_TENCENT] = {B64_ALNUM, ['*'] = 63, ['+'] = 63, ['-'] = 64, ['/'] = 64},
    [B64_URL] = {B64_ALNUM, ['-'] = 63, ['_'] = 64},
};

static bool b64_is_pad(b64_kind k, unsigned char c)
{
    return c == '=' || (k == B64_TENCENT && c == '_');
}

/* Returns the decoded length, or -1 when undecodable or longer than cap.
 * Four characters at a time through a table: a login decodes ~250. */
static ssize_t b64_decode(b64_kind k, const char *in, size_t n, uint8_t *out, size_t cap)
{
    size_t total = n, pads = 0;
    while (n > 0 && pads < 2 && b64_is_pad(k, (unsigned char)in[n - 1])) {
        n--;
        pads++;
    }
    /* Padding, when present, must complete the last quantum exactly. */
    if (pads && total % 4 != 0) return -1;
    if (n % 4 == 1) return -1;
    size_t outlen = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    if (outlen > cap) return -1;

    const uint8_t *t = b64_dec[k];
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t a = t[s[i]], b = t[s[i + 1]], c = t[s[i + 2]], d = t[s[i + 3]];
        if (!a || !b || !c || !d) return -1;
        uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (d - 1);
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    if (i < n) { /* 2 or 3 characters: 1 or 2 bytes, the spare bits ignored */
        uint32_t v = 0;
        for (size_t j = 0; i + j < n; j++) {
            uint32_t x = t[s[i + j]];
            if (!x) return -1;
            v |= (x - 1) << (18 - 6 * j);
        }
        out[o++] = (uint8_t)(v >> 16);
        if (n - i == 3) out[o++] = (uint8_t)(v >> 8);
    }
    return (ssize_t)o;
}

/* Writes base64 plus a NUL; returns the length or -1 when cap is too small. */
static ssize_t b64_encode(b64_kind k, const uint8_t *in, size_t n, char *out, size_t cap)
{
    const char *alpha = k == B64_STD ? b64_std : k == B64_TENCENT ? b64_tencent : b64_url;
    char pad = k == B64_STD ? '=' : k == B64_TENCENT ? '_' : 0;
    size_t need = pad ? (n + 2) / 3 * 4 : n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
    if (need + 1 > cap) return -1;

    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
        out[o++] = alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        if (pad) {
            out[o++] = pad;
            out[o++] = pad;
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
        if (pad) out[o++] = pad;
    }
    out[o] = '\0';
    return (ssize_t)o;
}

/* ---- helpers ---------------------------------------------------------- */

/* A verifier's state kept between logins (lr_sig_ctx_new): building an
 * HMAC key schedule and an inflate state cost more than the MAC and the
 * inflation they serve. */
struct lr_sig_ctx {
    char *secret;
    size_t secret_len;
    EVP_MAC_CTX *mac; /* HMAC-SHA256 keyed with the secret */
    z_stream zs;      /* reset for each UserSig */
};

static bool hmac_sha256(lr_sig_ctx *x, lr_str key, const void *data, size_t len,
                        uint8_t mac[LR_SIG_MAC_LEN])
{
    if (x) {
        /* a NULL key reuses the schedule of the one set at creation */
        size_t n = 0;
        return EVP_MAC_init(x->mac, NULL, 0, NULL) && EVP_MAC_update(x->mac, data, len) &&
               EVP_MAC_final(x->mac, mac, &n, LR_SIG_MAC_LEN) && n == LR_SIG_MAC_LEN;
    }
    unsigned int maclen = 0;
    if (key.len == 0 || key.len > INT32_MAX) return false;
    if (!HMAC(EVP_sha256(), key.p, (int)key.len, data, len, mac, &maclen)) return false;
    return maclen == LR_SIG_MAC_LEN;
}

/* Inflate a whole zlib stream of n bytes into out; false when it is not
 * exactly one complete stream or would inflate past cap. */
static bool inflate_all(lr_sig_ctx *x, const uint8_t *in, size_t n, uint8_t *out, size_t *len)
{
    if (!x) {
        /* uncompress2 stops at the bound: Z_BUF_ERROR covers both a
         * truncated stream and one that would inflate past it */
        uLongf tlen = (uLongf)*len;
        uLong consumed = (uLong)n;
        if (uncompress2(out, &tlen, in, &consumed) != Z_OK || consumed != (uLong)n) return false;
        *len = tlen;
        return true;
    }
    /* one call with Z_FINISH: no window is filled, nothing allocated */
    if (inflateReset(&x->zs) != Z_OK) return false;
    x->zs.next_in = (Bytef *)(uintptr_t)in;
    x->zs.avail_in = (uInt)n;
    x->zs.next_out = out;
    x->zs.avail_out = (uInt)*len;
    if (inflate(&x->zs, Z_FINISH) != Z_STREAM_END || x->zs.avail_in != 0) return false;
    *len = x->zs.total_out;
    return true;
}

/* A MAC given in base64 matches ours. Anything that is not 32 bytes of
 * base64 cannot be our MAC, so it fails verification rather than parsing. */
static bool mac_matches(b64_kind k, const char *given, size_t len,
                        const uint8_t mac[LR_SIG_MAC_LEN])
{
    uint8_t got[LR_SIG_MAC_LEN + 3];
    ssize_t n = b64_decode(k, given, len, got, sizeof got);
    if (n != LR_SIG_MAC_LEN) return false;
    return CRYPTO_memcmp(got, mac, LR_SIG_MAC_LEN) == 0;
}

/* Parses 1..19 decimal digits. */
static bool parse_digits(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 19) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* v in decimal, NUL-terminated; false when cap is too small. */
static bool u64_text(uint64_t v, char *out, size_t cap)
{
    char d[20];
    size_t n = lr_u64_dec(v, d);
    if (n >= cap) return false;
    memcpy(out, d, n);
    out[n] = '\0';
    return true;
}

/*
 * A non-negative integer field that TLSSigAPIv2 writes as a JSON number and
 * some re-implementations write as a string. Its text is what the signer
 * fed to the MAC, so it is returned as text as well as a value.
 */
static bool field_uint(json_t *obj, const char *key, uint64_t *val, char *text, size_t cap)
{
    json_t *f = json_object_get(obj, key);
    if (json_is_integer(f)) {
        json_int_t v = json_integer_value(f);
        if (v < 0) return false;
        *val = (uint64_t)v;
        return u64_text(*val, text, cap);
    }
    if (json_is_string(f)) {
        const char *s = json_string_value(f);
        size_t len = json_string_length(f);
        if (!parse_digits(s, len, val) || len >= cap) return false;
        memcpy(text, s, len);
        text[len] = '\0';
        return true;
    }
    return false;
}

static int64_t add_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* ---- UserSig ---------------------------------------------------------- */

typedef struct text_buf {
    char *p;
    size_t len, cap;
} text_buf;

static void put(text_buf *b, const char *s, size_t n)
{
    if (b->len > b->cap || n > b->cap - b->len) {
        b->len = b->cap + 1; /* overflowed: stays so */
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void puts_(text_buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* The MAC input: the four fields in this exact form, plus the optional
 * userbuf that TLSSigAPIv2 signs when one is embedded. Its length, or -1
 * when it does not fit in cap. */
static int usersig_content(char *out, size_t cap, const char *id, size_t id_len, const char *app,
                           const char *t, const char *e, const char *userbuf)
{
    text_buf b = {out, 0, cap};
    puts_(&b, "TLS.identifier:");
    put(&b, id, id_len);
    puts_(&b, "\nTLS.sdkappid:");
    puts_(&b, app);
    puts_(&b, "\nTLS.time:");
    puts_(&b, t);
    puts_(&b, "\nTLS.expire:");
    puts_(&b, e);
    puts_(&b, "\n");
    if (userbuf) {
        puts_(&b, "TLS.userbuf:");
        puts_(&b, userbuf);
        puts_(&b, "\n");
    }
    return b.len < cap && b.len <= INT32_MAX ? (int)b.len : -1;
}

static int usersig_verify(lr_sig_ctx *x, lr_str secret, uint64_t app_id, lr_str user, lr_str sig,
                          int64_t now_s)
{
    uint8_t packed[LR_SIG_DECODED_MAX];
    ssize_t plen = b64_decode(B64_TENCENT, sig.p, sig.len, packed, sizeof packed);
    if (plen <= 0) return LR_ERR_SIG_MALFORMED;

    /* bounded: a zlib bomb stops at LR_SIG_JSON_MAX; trailing bytes fail */
    uint8_t text[LR_SIG_JSON_MAX];
    size_t tlen = sizeof text;
    if (!inflate_all(x, packed, (size_t)plen, text, &tlen)) return LR_ERR_SIG_MALFORMED;

    json_error_t jerr;
    json_t *doc = json_loadb((const char *)text, tlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return LR_ERR_SIG_MALFORMED;
    }

    int rc = LR_ERR_SIG_MALFORMED;
    char app[24], t[24], e[24];
    uint64_t app_v, t_v, e_v;
    json_t *ver = json_object_get(doc, "TLS.ver");
    json_t *id = json_object_get(doc, "TLS.identifier");
    json_t *mac_f = json_object_get(doc, "TLS.sig");
    json_t *ub = json_object_get(doc, "TLS.userbuf");
    if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0) goto out;
    if (!json_is_string(id) || json_string_length(id) == 0) goto out;
    if (!json_is_string(mac_f)) goto out;
    if (ub && !json_is_string(ub)) goto out;
    if (!field_uint(doc, "TLS.sdkappid", &app_v, app, sizeof app)) goto out;
    if (!field_uint(doc, "TLS.time", &t_v, t, sizeof t) || t_v > INT64_MAX) goto out;
    if (!field_uint(doc, "TLS.expire", &e_v, e, sizeof e) || e_v > INT64_MAX) goto out;
    if (app_v != app_id) goto out;

    char content[LR_SIG_CONTENT_MAX];
    int clen =
        usersig_content(content, sizeof content, json_string_value(id), json_string_length(id), app,
                        t, e, ub ? json_string_value(ub) : NULL);
    if (clen < 0) goto out;

    uint8_t mac[LR_SIG_MAC_LEN];
    rc = LR_ERR_SIG_VERIFY;
    if (!hmac_sha256(x, secret, content, (size_t)clen, mac)) goto out;
    if (!mac_matches(B64_TENCENT, json_string_value(mac_f), json_string_length(mac_f), mac))
        goto out;

    rc = LR_ERR_SIG_USER;
    if (!lr_str_eq(user, (lr_str){json_string_value(id), json_string_length(id)})) goto out;

    rc = LR_ERR_SIG_EXPIRED;
    if (now_s >= add_sat((int64_t)t_v, (int64_t)e_v)) goto out;
    rc = 0;
out:
    json_decref(doc);
    return rc;
}

/* JSON string body for a user id: escapes what JSON requires, leaves other
 * bytes alone (ids are printable ASCII; the verifier rejects bad UTF-8). */
static bool json_escape(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o + 7 > cap) return false;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    if (o >= cap) return false;
    out[o] = '\0';
    return true;
}

int lr_usersig_make(lr_str secret, uint64_t app_id, lr_str user, int64_t now_s, int64_t expire_s,
                    char *out, size_t cap)
{
    if (secret.len == 0 || user.len == 0 || now_s < 0 || expire_s < 0 || !out) return LR_EINVAL;

    char app[24], t[24], e[24];
    snprintf(app, sizeof app, "%" PRIu64, app_id);
    snprintf(t, sizeof t, "%" PRId64, now_s);
    snprintf(e, sizeof e, "%" PRId64, expire_s);

    char content[LR_SIG_CONTENT_MAX];
    int clen = usersig_content(content, sizeof content, user.p, user.len, app, t, e, NULL);
    if (clen < 0) return LR_ELIMIT;
    uint8_t mac[LR_SIG_MAC_LEN];
    if (!hmac_sha256(NULL, secret, content, (size_t)clen, mac)) return LR_EINVAL;
    char mac64[LR_SIG_MAC_B64 + 1];
    if (b64_encode(B64_STD, mac, sizeof mac, mac64, sizeof mac64) < 0) return LR_ELIMIT;

    char id[LR_SIG_JSON_MAX];
    if (!json_escape(user.p, user.len, id, sizeof id)) return LR_ELIMIT;
    char json[LR_SIG_JSON_MAX];
    int jlen = snprintf(json, sizeof json,
                        "{\"TLS.ver\":\"2.0\",\"TLS.identifier\":\"%s\",\"TLS.sdkappid\":%s,"
                        "\"TLS.expire\":%s,\"TLS.time\":%s,\"TLS.sig\":\"%s\"}",
                        id, app, e, t, mac64);
    if (jlen < 0 || (size_t)jlen >= sizeof json) return LR_ELIMIT;

    /* The smallest window and hash zlib has: a ~200-byte text needs no
     * more, and compress2's defaults zero ~270 KB per call (a bench signs
     * 100,000 of them). Any inflater reads the result. */
    uint8_t packed[LR_SIG_JSON_MAX + 64];
    if (compressBound((uLong)jlen) > sizeof packed) return LR_ELIMIT;
    z_stream zs = {0};
    if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 9, 1, Z_DEFAULT_STRATEGY) != Z_OK)
        return LR_ENOMEM;
    zs.next_in = (Bytef *)json;
    zs.avail_in = (uInt)jlen;
    zs.next_out = packed;
    zs.avail_out = sizeof packed;
    int zrc = deflate(&zs, Z_FINISH);
    size_t plen = zs.total_out;
    deflateEnd(&zs);
    if (zrc != Z_STREAM_END) return LR_ELIMIT;

    ssize_t n = b64_encode(B64_TENCENT, packed, plen, out, cap);
    return n < 0 ? LR_ELIMIT : (int)n;
}

/* ---- JWT -------------------------------------------------------------- */

/* Decodes one base64url JWT segment and parses it as a JSON object. */
static json_t *jwt_segment(const char *p, size_t len)
{
    uint8_t buf[LR_SIG_DECODED_MAX];
    ssize_t n = b64_decode(B64_URL, p, len, buf, sizeof buf);
    if (n <= 0) return NULL;
    json_error_t jerr;
    json_t *o = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* NumericDate may be fractional (RFC 7519 §2); a second is our resolution. */
static bool jwt_time(json_t *f, int64_t *out)
{
    if (json_is_integer(f)) {
        *out = (int64_t)json_integer_value(f);
        return true;
    }
    if (json_is_real(f)) {
        double d = json_real_value(f);
        if (!isfinite(d) || d > 9.2e18 || d < -9.2e18) return false;
        *out = (int64_t)floor(d);
        return true;
    }
    return false;
}

static int jwt_verify(lr_sig_ctx *x, lr_str secret, lr_str user, lr_str sig, int64_t now_s)
{
    const char *d1 = memchr(sig.p, '.', sig.len);
    if (!d1) return LR_ERR_SIG_MALFORMED;
    const char *end = sig.p + sig.len;
    const char *d2 = memchr(d1 + 1, '.', (size_t)(end - d1 - 1));
    if (!d2 || memchr(d2 + 1, '.', (size_t)(end - d2 - 1))) return LR_ERR_SIG_MALFORMED;
    lr_str hdr = {sig.p, (size_t)(d1 - sig.p)};
    lr_str pay = {d1 + 1, (size_t)(d2 - d1 - 1)};
    lr_str mac_s = {d2 + 1, (size_t)(end - d2 - 1)};
    /* An empty MAC is what "alg":"none" tokens carry: never acceptable. */
    if (hdr.len == 0 || pay.len == 0 || mac_s.len == 0) return LR_ERR_SIG_MALFORMED;

    int rc = LR_ERR_SIG_MALFORMED;
    json_t *h = jwt_segment(hdr.p, hdr.len);
    json_t *p = jwt_segment(pay.p, pay.len);
    if (!h || !p) goto out;
    /* Only HS256: trusting the header's alg is how "none" and RS/HS
     * confusion attacks get in. */
    json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0) goto out;
    if (json_object_get(h, "crit")) goto out; /* extensions we cannot honour */
    json_t *sub = json_object_get(p, "sub");
    int64_t exp;
    if (!json_is_string(sub) || json_string_length(sub) == 0) goto out;
    if (!jwt_time(json_object_get(p, "exp"), &exp)) goto out;

    uint8_t mac[LR_SIG_MAC_LEN];
    rc = LR_ERR_SIG_VERIFY;
    if (!hmac_sha256(x, secret, sig.p, hdr.len + 1 + pay.len, mac)) goto out;
    if (!mac_matches(B64_URL, mac_s.p, mac_s.len, mac)) goto out;

    rc = LR_ERR_SIG_USER;
    if (!lr_str_eq(user, (lr_str){json_string_value(sub), json_string_length(sub)})) goto out;

    rc = LR_ERR_SIG_EXPIRED;
    if (now_s >= exp) goto out;
    rc = 0;
out:
    json_decref(h);
    json_decref(p);
    return rc;
}

int lr_jwt_make(lr_str secret, lr_str user, int64_t now_s, int64_t expire_s, char *out, size_t cap)
{
    if (secret.len == 0 || user.len == 0 || !out) return LR_EINVAL;
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

    char id[LR_SIG_JSON_MAX];
    if (!json_escape(user.p, user.len, id, sizeof id)) return LR_ELIMIT;
    char payload[LR_SIG_JSON_MAX];
    int plen = snprintf(payload, sizeof payload,
                        "{\"sub\":\"%s\",\"iat\":%" PRId64 ",\"exp\":%" PRId64 "}", id, now_s,
                        add_sat(now_s, expire_s));
    if (plen < 0 || (size_t)plen >= sizeof payload) return LR_ELIMIT;

    ssize_t h = b64_encode(B64_URL, (const uint8_t *)header, sizeof header - 1, out, cap);
    if (h < 0 || (size_t)h + 1 >= cap) return LR_ELIMIT;
    out[h] = '.';
    ssize_t p = b64_encode(B64_URL, (const uint8_t *)payload, (size_t)plen, out + h + 1,
                           cap - (size_t)h - 1);
    if (p < 0) return LR_ELIMIT;
    size_t signed_len = (size_t)h + 1 + (size_t)p;
    if (signed_len + 1 >= cap) return LR_ELIMIT;

    uint8_t mac[LR_SIG_MAC_LEN];
    if (!hmac_sha256(NULL, secret, out, signed_len, mac)) return LR_EINVAL;
    out[signed_len] = '.';
    ssize_t m = b64_encode(B64_URL, mac, sizeof mac, out + signed_len + 1, cap - signed_len - 1);
    if (m < 0) return LR_ELIMIT;
    return (int)(signed_len + 1 + (size_t)m);
}

/* ---- entry ------------------------------------------------------------ */

static int verify(lr_sig_ctx *x, lr_str secret, uint64_t app_id, lr_str user, lr_str sig,
                  int64_t now_s)
{
    if (!sig.p || sig.len == 0 || sig.len > LR_MAX_SIG) return LR_ERR_SIG_MALFORMED;
    /* '.' is in neither UserSig alphabet, so it marks a JWT unambiguously. */
    if (memchr(sig.p, '.', sig.len)) return jwt_verify(x, secret, user, sig, now_s);
    return usersig_verify(x, secret, app_id, user, sig, now_s);
}

int lr_sig_verify(lr_str secret, uint64_t app_id, lr_str user, lr_str sig, int64_t now_s)
{
    return verify(NULL, secret, app_id, user, sig, now_s);
}

int lr_sig_verify_with(lr_sig_ctx *x, uint64_t app_id, lr_str user, lr_str sig, int64_t now_s)
{
    return verify(x, (lr_str){x->secret, x->secret_len}, app_id, user, sig, now_s);
}

lr_sig_ctx *lr_sig_ctx_new(lr_str secret)
{
    if (secret.len == 0 || secret.len > INT32_MAX) return NULL;
    lr_sig_ctx *x = calloc(1, sizeof(*x));
    if (!x) return NULL;
    x->secret = malloc(secret.len);
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (m) x->mac = EVP_MAC_CTX_new(m);
    EVP_MAC_free(m);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                           OSSL_PARAM_construct_end()};
    bool zs = inflateInit(&x->zs) == Z_OK;
    if (!zs || !x->secret || !x->mac ||
        !EVP_MAC_init(x->mac, (const unsigned char *)secret.p, secret.len, params)) {
        if (zs) inflateEnd(&x->zs);
        EVP_MAC_CTX_free(x->mac);
        free(x->secret);
        free(x);
        return NULL;
    }
    memcpy(x->secret, secret.p, secret.len);
    x->secret_len = secret.len;
    return x;
}

void lr_sig_ctx_free(lr_sig_ctx *x)
{
    if (!x) return;
    inflateEnd(&x->zs);
    EVP_MAC_CTX_free(x->mac);
    OPENSSL_cleanse(x->secret, x->secret_len);
    free(x->secret);
    free(x);
}
