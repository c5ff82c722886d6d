/*
 * wire.c owns the bytes the load generator exchanges with a server: the
 * numbered message body, requests (through the engine's own lr_enc writer,
 * so the bench speaks exactly the documented encodings), client framing,
 * the HTTP upgrade, and a scanner that reads a reply's or push's top-level
 * fields. The scanner runs once per delivered message on a machine the
 * engine shares, so it walks the map once, keeps borrowed slices and skips
 * every value it does not need instead of building a document. It never
 * does I/O and never keeps state between calls.
 */
#include "wire.h"

#include <stdio.h>
#include <strings.h>

#include "net/ws.h"
#include "proto/codec.h"

/* ---- body ---- */

static char *put_u64(char *w, uint64_t v)
{
    return w + lr_u64_dec(v, w);
}

size_t bench_body_make(char *out, size_t cap, const bench_body *b, uint32_t size)
{
    char head[BENCH_MARK_LEN + 3 * 21];
    char *w = head;
    memcpy(w, BENCH_MARK, BENCH_MARK_LEN);
    w += BENCH_MARK_LEN;
    w = put_u64(w, b->pub);
    *w++ = ',';
    w = put_u64(w, b->seq);
    *w++ = ',';
    w = put_u64(w, b->sent_us);
    *w++ = ',';
    size_t hl = (size_t)(w - head);
    size_t total = size > hl ? size : hl;
    if (total > cap) return 0;
    memcpy(out, head, hl);
    memset(out + hl, 'x', total - hl);
    return total;
}

static bool get_u64(const char **pp, const char *e, uint64_t *v)
{
    const char *p = *pp;
    uint64_t x = 0;
    if (p >= e || *p < '0' || *p > '9') return false;
    while (p < e && *p >= '0' && *p <= '9') {
        if (x > (UINT64_MAX - 9) / 10) return false;
        x = x * 10 + (uint64_t)(*p++ - '0');
    }
    if (p >= e || *p != ',') return false;
    *pp = p + 1;
    *v = x;
    return true;
}

bool bench_body_parse(const char *p, size_t n, bench_body *b)
{
    const char *e = p + n;
    uint64_t pub;
    if (n < BENCH_MARK_LEN || memcmp(p, BENCH_MARK, BENCH_MARK_LEN) != 0) return false;
    p += BENCH_MARK_LEN;
    if (!get_u64(&p, e, &pub) || pub > UINT32_MAX) return false;
    if (!get_u64(&p, e, &b->seq) || !get_u64(&p, e, &b->sent_us)) return false;
    b->pub = (uint32_t)pub;
    return true;
}

bool bench_body_find(const uint8_t *p, size_t n, bench_body *b)
{
    const uint8_t *m = memmem(p, n, BENCH_MARK, BENCH_MARK_LEN);
    return m && bench_body_parse((const char *)m, n - (size_t)(m - p), b);
}

/* ---- JSON scanner ---- */

typedef enum val_kind { V_NONE, V_STR, V_UINT, V_INT, V_BOOL, V_OTHER } val_kind;

typedef struct scan_val {
    val_kind kind;
    lr_str s;
    uint64_t u;
    int64_t i;
    bool b;
} scan_val;

static void push_field(bench_push *m, const char *k, size_t kl, const scan_val *v)
{
#define KEY_IS(lit) (kl == sizeof(lit) - 1 && memcmp(k, lit, kl) == 0)
    if (KEY_IS("op")) {
        if (v->kind == V_STR) m->op = v->s;
    } else if (KEY_IS("id")) {
        if (v->kind == V_UINT) m->id = v->u, m->has_id = true;
    } else if (KEY_IS("seq")) {
        if (v->kind == V_UINT) m->seq = v->u, m->has_seq = true;
    } else if (KEY_IS("pri")) {
        if (v->kind == V_STR) m->pri = v->s;
    } else if (KEY_IS("body")) {
        if (v->kind == V_STR) m->body = v->s, m->has_body = true;
    } else if (KEY_IS("code")) {
        if (v->kind == V_UINT) m->code = (int64_t)v->u;
        if (v->kind == V_INT) m->code = v->i;
    } else if (KEY_IS("limited")) {
        if (v->kind == V_BOOL) m->limited = v->b;
    } else if (KEY_IS("held")) {
        if (v->kind == V_BOOL) m->held = v->b;
    } else if (KEY_IS("time")) {
        if (v->kind == V_UINT) m->time_ms = (int64_t)v->u;
        if (v->kind == V_INT) m->time_ms = v->i; /* msgpack may write it signed */
    }
#undef KEY_IS
}

static const uint8_t *js_ws(const uint8_t *p, const uint8_t *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at the opening quote; returns the byte after the closing quote. This is
 * the scanner's hot loop (bodies and names are most of a push), so it jumps
 * from quote to quote with memchr: a quote is escaped when an odd number of
 * backslashes precede it. */
static const uint8_t *js_string(const uint8_t *p, const uint8_t *e, lr_str *s)
{
    const uint8_t *start = ++p;
    for (;;) {
        const uint8_t *q = p < e ? memchr(p, '"', (size_t)(e - p)) : NULL;
        if (!q) return NULL;
        size_t bs = 0;
        while (q - bs > start && q[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (!(bs & 1)) {
            s->p = (const char *)start;
            s->len = (size_t)(q - start);
            return q + 1;
        }
        p = q + 1;
    }
}

/* Skip a nested object or array; strings may hold brackets. */
static const uint8_t *js_skip_nested(const uint8_t *p, const uint8_t *e)
{
    int depth = 0;
    while (p < e) {
        uint8_t c = *p;
        if (c == '"') {
            lr_str s;
            p = js_string(p, e, &s);
            if (!p) return NULL;
            continue;
        }
        if (c == '{' || c == '[') depth++;
        if (c == '}' || c == ']') {
            if (--depth == 0) return p + 1;
        }
        p++;
    }
    return NULL;
}

static const uint8_t *js_value(const uint8_t *p, const uint8_t *e, scan_val *v)
{
    v->kind = V_OTHER;
    if (p >= e) return NULL;
    uint8_t c = *p;
    if (c == '"') {
        v->kind = V_STR;
        return js_string(p, e, &v->s);
    }
    if (c == '{' || c == '[') return js_skip_nested(p, e);
    if (c == '-' || (c >= '0' && c <= '9')) {
        bool neg = c == '-';
        if (neg) p++;
        uint64_t x = 0;
        bool digits = false, overflow = false;
        while (p < e && *p >= '0' && *p <= '9') {
            if (x > (UINT64_MAX - 9) / 10) overflow = true;
            x = x * 10 + (uint64_t)(*p++ - '0');
            digits = true;
        }
        bool frac = false;
        while (p < e && (*p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-' ||
                         (*p >= '0' && *p <= '9'))) {
            frac = true;
            p++;
        }
        if (!digits) return NULL;
        if (!frac && !overflow) {
            if (neg) {
                v->kind = V_INT;
                v->i = -(int64_t)x;
            } else {
                v->kind = V_UINT;
                v->u = x;
            }
        }
        return p;
    }
    if (e - p >= 4 && memcmp(p, "true", 4) == 0) {
        v->kind = V_BOOL;
        v->b = true;
        return p + 4;
    }
    if (e - p >= 5 && memcmp(p, "false", 5) == 0) {
        v->kind = V_BOOL;
        v->b = false;
        return p + 5;
    }
    if (e - p >= 4 && memcmp(p, "null", 4) == 0) return p + 4;
    return NULL;
}

int bench_push_scan_json(const uint8_t *p, size_t n, bench_push *m)
{
    const uint8_t *e = p + n;
    memset(m, 0, sizeof(*m));
    p = js_ws(p, e);
    if (p >= e || *p != '{') return LR_EINVAL;
    p = js_ws(p + 1, e);
    if (p < e && *p == '}') return 0;
    for (;;) {
        lr_str key;
        scan_val v;
        if (p >= e || *p != '"') return LR_EINVAL;
        if (!(p = js_string(p, e, &key))) return LR_EINVAL;
        p = js_ws(p, e);
        if (p >= e || *p != ':') return LR_EINVAL;
        p = js_ws(p + 1, e);
        if (!(p = js_value(p, e, &v))) return LR_EINVAL;
        push_field(m, key.p, key.len, &v);
        p = js_ws(p, e);
        if (p >= e) return LR_EINVAL;
        if (*p == '}') return 0;
        if (*p != ',') return LR_EINVAL;
        p = js_ws(p + 1, e);
    }
}

/* ---- msgpack scanner ---- */

typedef struct mp_rd {
    const uint8_t *p, *e;
} mp_rd;

static bool mp_need(mp_rd *r, size_t n)
{
    return (size_t)(r->e - r->p) >= n;
}

static uint64_t mp_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

#define MP_MAX_DEPTH 32

/* Read one value; containers are skipped (their contents counted, not
 * kept). Returns false on truncation or an unused type byte (0xc1). */
static bool mp_value(mp_rd *r, scan_val *v, int depth)
{
    if (!mp_need(r, 1) || depth > MP_MAX_DEPTH) return false;
    uint8_t c = *r->p++;
    uint64_t len = 0, items = 0;
    int lb = 0;
    v->kind = V_OTHER;
    if (c <= 0x7f) {
        v->kind = V_UINT;
        v->u = c;
        return true;
    }
    if (c >= 0xe0) {
        v->kind = V_INT;
        v->i = (int8_t)c;
        return true;
    }
    if (c >= 0xa0 && c <= 0xbf) {
        len = c & 0x1f;
        goto str;
    }
    if (c >= 0x80 && c <= 0x8f) {
        items = 2u * (c & 0x0f);
        goto items;
    }
    if (c >= 0x90 && c <= 0x9f) {
        items = c & 0x0f;
        goto items;
    }
    switch (c) {
    case 0xc0:
        return true;
    case 0xc2:
    case 0xc3:
        v->kind = V_BOOL;
        v->b = c == 0xc3;
        return true;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        lb = 1 << (c - 0xc4);
        if (!mp_need(r, (size_t)lb)) return false;
        len = mp_be(r->p, lb);
        r->p += lb;
        goto str;
    case 0xc7:
    case 0xc8:
    case 0xc9:
        lb = 1 << (c - 0xc7);
        if (!mp_need(r, (size_t)lb + 1)) return false;
        len = mp_be(r->p, lb) + 1; /* + the ext type byte */
        r->p += lb;
        goto skip;
    case 0xca:
        len = 4;
        goto skip;
    case 0xcb:
        len = 8;
        goto skip;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        lb = 1 << (c - 0xcc);
        if (!mp_need(r, (size_t)lb)) return false;
        v->kind = V_UINT;
        v->u = mp_be(r->p, lb);
        r->p += lb;
        return true;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        lb = 1 << (c - 0xd0);
        if (!mp_need(r, (size_t)lb)) return false;
        uint64_t u = mp_be(r->p, lb);
        r->p += lb;
        int shift = 64 - 8 * lb;
        v->kind = V_INT;
        v->i = (int64_t)(u << shift) >> shift;
        return true;
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        len = (1u << (c - 0xd4)) + 1;
        goto skip;
    case 0xd9:
    case 0xda:
    case 0xdb:
        lb = 1 << (c - 0xd9);
        if (!mp_need(r, (size_t)lb)) return false;
        len = mp_be(r->p, lb);
        r->p += lb;
        goto str;
    case 0xdc:
    case 0xdd:
        lb = c == 0xdc ? 2 : 4;
        if (!mp_need(r, (size_t)lb)) return false;
        items = mp_be(r->p, lb);
        r->p += lb;
        goto items;
    case 0xde:
    case 0xdf:
        lb = c == 0xde ? 2 : 4;
        if (!mp_need(r, (size_t)lb)) return false;
        items = 2 * mp_be(r->p, lb);
        r->p += lb;
        goto items;
    default:
        return false;
    }
str:
    if (!mp_need(r, len)) return false;
    v->kind = V_STR; /* bin too: a body may be either */
    v->s.p = (const char *)r->p;
    v->s.len = (size_t)len;
    r->p += len;
    return true;
skip:
    if (!mp_need(r, len)) return false;
    r->p += len;
    return true;
items:
    for (uint64_t i = 0; i < items; i++) {
        scan_val inner;
        if (!mp_value(r, &inner, depth + 1)) return false;
    }
    v->kind = V_OTHER;
    return true;
}

int bench_push_scan_msgpack(const uint8_t *p, size_t n, bench_push *m)
{
    mp_rd r = {p, p + n};
    memset(m, 0, sizeof(*m));
    if (n == 0) return LR_EINVAL;
    uint8_t c = *r.p;
    uint64_t pairs;
    if (c >= 0x80 && c <= 0x8f) {
        pairs = c & 0x0f;
        r.p++;
    } else if (c == 0xde || c == 0xdf) {
        int lb = c == 0xde ? 2 : 4;
        r.p++;
        if (!mp_need(&r, (size_t)lb)) return LR_EINVAL;
        pairs = mp_be(r.p, lb);
        r.p += lb;
    } else {
        return LR_EINVAL;
    }
    for (uint64_t i = 0; i < pairs; i++) {
        scan_val k, v;
        if (!mp_value(&r, &k, 1) || !mp_value(&r, &v, 1)) return LR_EINVAL;
        if (k.kind == V_STR) push_field(m, k.s.p, k.s.len, &v);
    }
    return 0;
}

/* ---- requests ---- */

int bench_req_login(lr_buf *payload, bool json, uint64_t id, lr_str user, lr_str sig)
{
    lr_enc e;
    lr_enc_init(&e, payload, json);
    lr_enc_map(&e, 4);
    lr_enc_key(&e, "op");
    lr_enc_cstr(&e, "login");
    lr_enc_key(&e, "id");
    lr_enc_u64(&e, id);
    lr_enc_key(&e, "user");
    lr_enc_str(&e, user.p, user.len);
    lr_enc_key(&e, "sig");
    lr_enc_str(&e, sig.p, sig.len);
    lr_enc_map_end(&e);
    return lr_enc_finish(&e);
}

int bench_req_join(lr_buf *payload, bool json, uint64_t id, lr_str room)
{
    lr_enc e;
    lr_enc_init(&e, payload, json);
    lr_enc_map(&e, 3);
    lr_enc_key(&e, "op");
    lr_enc_cstr(&e, "join");
    lr_enc_key(&e, "id");
    lr_enc_u64(&e, id);
    lr_enc_key(&e, "room");
    lr_enc_str(&e, room.p, room.len);
    lr_enc_map_end(&e);
    return lr_enc_finish(&e);
}

int bench_req_send(lr_buf *payload, bool json, uint64_t id, lr_str room, lr_str body, lr_pri pri)
{
    lr_enc e;
    lr_enc_init(&e, payload, json);
    lr_enc_map(&e, 5);
    lr_enc_key(&e, "op");
    lr_enc_cstr(&e, "send");
    lr_enc_key(&e, "id");
    lr_enc_u64(&e, id);
    lr_enc_key(&e, "room");
    lr_enc_str(&e, room.p, room.len);
    lr_enc_key(&e, "pri");
    lr_enc_cstr(&e, lr_pri_name(pri));
    lr_enc_key(&e, "body");
    lr_enc_body(&e, LR_BODY_STR, body.p, body.len);
    lr_enc_map_end(&e);
    return lr_enc_finish(&e);
}

int bench_req_ping(lr_buf *payload, bool json, uint64_t id)
{
    lr_enc e;
    lr_enc_init(&e, payload, json);
    lr_enc_map(&e, 2);
    lr_enc_key(&e, "op");
    lr_enc_cstr(&e, "ping");
    lr_enc_key(&e, "id");
    lr_enc_u64(&e, id);
    lr_enc_map_end(&e);
    return lr_enc_finish(&e);
}

/* ---- framing ---- */

int bench_ws_append(lr_buf *out, int opcode, const uint8_t *payload, size_t len,
                    const uint8_t mask[4])
{
    uint8_t h[LR_WS_MAX_HEADER];
    size_t hl = lr_ws_client_header_encode(h, opcode, len, mask);
    if (lr_buf_reserve(out, hl + len) != 0) return LR_ENOMEM;
    memcpy(out->p + out->len, h, hl);
    memcpy(out->p + out->len + hl, payload, len);
    lr_ws_mask(out->p + out->len + hl, len, mask, 0);
    out->len += hl + len;
    return 0;
}

int bench_tcp_append(lr_buf *out, const uint8_t *payload, size_t len)
{
    if (len > UINT32_MAX) return LR_EINVAL;
    if (lr_buf_reserve(out, 4 + len) != 0) return LR_ENOMEM;
    uint8_t *w = out->p + out->len;
    w[0] = (uint8_t)(len >> 24);
    w[1] = (uint8_t)(len >> 16);
    w[2] = (uint8_t)(len >> 8);
    w[3] = (uint8_t)len;
    memcpy(w + 4, payload, len);
    out->len += 4 + len;
    return 0;
}

int bench_tcp_parse(const uint8_t *p, size_t n, size_t max, const uint8_t **msg, size_t *msg_len,
                    size_t *consumed)
{
    if (n < 4) return 0;
    size_t len = (size_t)mp_be(p, 4);
    if (len > max) return LR_ELIMIT;
    if (n - 4 < len) return 0;
    *msg = p + 4;
    *msg_len = len;
    *consumed = 4 + len;
    return 1;
}

/* ---- HTTP upgrade ---- */

size_t bench_urlencode(char *out, size_t cap, const char *in, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_' || c == '.' || c == '~';
        size_t need = plain ? 1 : 3;
        if (w + need >= cap) return 0;
        if (plain) {
            out[w++] = (char)c;
        } else {
            out[w++] = '%';
            out[w++] = hex[c >> 4];
            out[w++] = hex[c & 15];
        }
    }
    if (w >= cap) return 0;
    out[w] = '\0';
    return w;
}

int bench_upgrade_request(lr_buf *out, const char *host, const char *path, const char *query,
                          const char *protocol, const char *key)
{
    char proto_line[128] = "";
    if (protocol)
        snprintf(proto_line, sizeof(proto_line), "Sec-WebSocket-Protocol: %s\r\n", protocol);
    size_t qlen = query ? strlen(query) : 0;
    size_t need = strlen(path) + qlen + strlen(host) + strlen(key) + strlen(proto_line) + 200;
    if (lr_buf_reserve(out, need) != 0) return LR_ENOMEM;
    int n = snprintf((char *)out->p + out->len, out->cap - out->len,
                     "GET %s%s%s HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s"
                     "\r\n",
                     path, query ? "?" : "", query ? query : "", host, key, proto_line);
    if (n < 0 || (size_t)n >= out->cap - out->len) return LR_ELIMIT;
    out->len += (size_t)n;
    return 0;
}

int bench_upgrade_response(const uint8_t *p, size_t n, const char *expect_accept, int *status)
{
    const uint8_t *end = memmem(p, n, "\r\n\r\n", 4);
    *status = 0;
    if (!end) return n > LR_MAX_HTTP_HEAD ? LR_EINVAL : 0;
    size_t head = (size_t)(end - p) + 4;
    if (head < 12 || memcmp(p, "HTTP/1.1 ", 9) != 0) return LR_EINVAL;
    int st = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9') return LR_EINVAL;
        st = st * 10 + (p[i] - '0');
    }
    *status = st;
    if (st != 101) return LR_EINVAL;
    if (!expect_accept) return (int)head;
    static const char name[] = "sec-websocket-accept:";
    const char *line = memchr(p, '\n', head);
    while (line && (size_t)((const uint8_t *)line - p) + 1 < head) {
        line++;
        const char *eol = memchr(line, '\r', head - (size_t)((const uint8_t *)line - p));
        if (!eol) break;
        size_t ll = (size_t)(eol - line);
        if (ll > sizeof(name) - 1 && strncasecmp(line, name, sizeof(name) - 1) == 0) {
            const char *v = line + sizeof(name) - 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            size_t al = strlen(expect_accept);
            return ((size_t)(ve - v) == al && memcmp(v, expect_accept, al) == 0) ? (int)head
                                                                                 : LR_EINVAL;
        }
        line = eol + 1;
        if (*line != '\n') break;
    }
    return LR_EINVAL;
}
