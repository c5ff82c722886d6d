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

static int b64_alnum(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return -1;
}

static int b64_value(b64_kind k, unsigned char c)
{
    int v = b64_alnum(c);
    if (v >= 0) return v;
    switch (k) {
    case B64_STD:
        return c == '+' ? 62 : c == '/' ? 63 : -1;
    case B64_TENCENT:
        return (c == '*' || c == '+') ? 62 : (c == '-' || c == '/') ? 63 : -1;
    case B64_URL:
        return c == '-' ? 62 : c == '_' ? 63 : -1;
    }
    return -1;
}

static bool b64_is_pad(b64_kind k, unsigned char c)
{
    return c == '=' || (k == B64_TENCENT && c == '_');
}

/* Returns the decoded length, or -1 when undecodable or longer than cap. */
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

    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(k, (unsigned char)in[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
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

static bool hmac_sha256(lr_str key, const void *data, size_t len, uint8_t mac[LR_SIG_MAC_LEN])
{
    unsigned int maclen = 0;
    if (key.len == 0 || key.len > INT32_MAX) return false;
    if (!HMAC(EVP_sha256(), key.p, (int)key.len, data, len, mac, &maclen)) return false;
    return maclen == LR_SIG_MAC_LEN;
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
        int n = snprintf(text, cap, "%" PRIu64, *val);
        return n > 0 && (size_t)n < cap;
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

/* The MAC input: the four fields in this exact form, plus the optional
 * userbuf that TLSSigAPIv2 signs when one is embedded. */
static int usersig_content(char *out, size_t cap, const char *id, size_t id_len, const char *app,
                           const char *t, const char *e, const char *userbuf)
{
    int n = snprintf(out, cap,
                     "TLS.identifier:%.*s\nTLS.sdkappid:%s\nTLS.time:%s\nTLS.expire:%s\n%s%s%s",
                     (int)id_len, id, app, t, e, userbuf ? "TLS.userbuf:" : "",
                     userbuf ? userbuf : "", userbuf ? "\n" : "");
    if (n < 0 || (size_t)n >= cap) return -1;
    return n;
}

static int usersig_verify(lr_str secret, uint64_t app_id, lr_str user, lr_str sig, int64_t now_s)
{
    uint8_t packed[LR_SIG_DECODED_MAX];
    ssize_t plen = b64_decode(B64_TENCENT, sig.p, sig.len, packed, sizeof packed);
    if (plen <= 0) return LR_ERR_SIG_MALFORMED;

    /* uncompress2 stops at the bound: Z_BUF_ERROR covers both a truncated
     * stream and one that would inflate past LR_SIG_JSON_MAX. */
    uint8_t text[LR_SIG_JSON_MAX];
    uLongf tlen = sizeof text;
    uLong consumed = (uLong)plen;
    if (uncompress2(text, &tlen, packed, &consumed) != Z_OK) return LR_ERR_SIG_MALFORMED;
    if (consumed != (uLong)plen) return LR_ERR_SIG_MALFORMED; /* trailing bytes */

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
    if (!hmac_sha256(secret, content, (size_t)clen, mac)) goto out;
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
    if (!hmac_sha256(secret, content, (size_t)clen, mac)) return LR_EINVAL;
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

    uint8_t packed[LR_SIG_JSON_MAX + 64];
    uLongf plen = sizeof packed;
    if (compressBound((uLong)jlen) > plen) return LR_ELIMIT;
    if (compress2(packed, &plen, (const Bytef *)json, (uLong)jlen, Z_BEST_COMPRESSION) != Z_OK)
        return LR_ELIMIT;

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

static int jwt_verify(lr_str secret, lr_str user, lr_str sig, int64_t now_s)
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
    if (!hmac_sha256(secret, sig.p, hdr.len + 1 + pay.len, mac)) goto out;
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
    if (!hmac_sha256(secret, out, signed_len, mac)) return LR_EINVAL;
    out[signed_len] = '.';
    ssize_t m = b64_encode(B64_URL, mac, sizeof mac, out + signed_len + 1, cap - signed_len - 1);
    if (m < 0) return LR_ELIMIT;
    return (int)(signed_len + 1 + (size_t)m);
}

/* ---- entry ------------------------------------------------------------ */

int lr_sig_verify(lr_str secret, uint64_t app_id, lr_str user, lr_str sig, int64_t now_s)
{
    if (!sig.p || sig.len == 0 || sig.len > LR_MAX_SIG) return LR_ERR_SIG_MALFORMED;
    /* '.' is in neither UserSig alphabet, so it marks a JWT unambiguously. */
    if (memchr(sig.p, '.', sig.len)) return jwt_verify(secret, user, sig, now_s);
    return usersig_verify(secret, app_id, user, sig, now_s);
}
