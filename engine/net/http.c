/*
 * http.c owns the strict HTTP/1.1 request-head parser and the query-string
 * helpers. It never allocates, never keeps state between calls (the caller
 * re-runs it on the whole buffer as bytes arrive) and never guesses: request
 * smuggling lives where two parsers read the same bytes differently, so
 * anything RFC 9112 lets a lenient server "recover" from is an error here.
 */
#include "net/http.h"

#include <limits.h>

/* tchar of RFC 9110 §5.6.2 as a 256-bit set: a table lookup instead of a
 * chain of comparisons per byte. */
static const uint64_t tchar_set[4] = {0x03ff6cfa00000000ULL, 0x57ffffffc7fffffeULL, 0, 0};

static inline bool is_tchar(unsigned char c)
{
    return (tchar_set[c >> 6] >> (c & 63)) & 1;
}

/* field-vchar, SP and HTAB: everything but the controls. obs-text (>= 0x80)
 * stays allowed because real clients put UTF-8 in values such as User-Agent. */
static inline bool is_value_char(unsigned char c)
{
    return (c >= 0x20 && c != 0x7f) || c == '\t';
}

/* Printable ASCII only: a target is ASCII by grammar (clients percent-encode
 * the rest), and '#' never reaches a server because fragments are local. */
static inline bool is_target_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '#';
}

static inline unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static bool ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen) return false;
    for (size_t i = 0; i < alen; i++)
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i])) return false;
    return true;
}

static bool name_is(lr_str name, const char *lit)
{
    return ieq(name.p, name.len, lit, strlen(lit));
}

/* What the header lines told us, settled once the head is complete. */
typedef struct head_state {
    int hosts;
    int te_count;
    lr_str te;
    bool conn_close;
    bool conn_keep_alive;
} head_state;

static int parse_request_line(const char *line, size_t n, lr_http_req *req)
{
    const unsigned char *s = (const unsigned char *)line;
    size_t i = 0;

    while (i < n && is_tchar(s[i]))
        i++;
    if (i == 0 || i == n || s[i] != ' ') return LR_HTTP_BAD;
    req->method = (lr_str){line, i};
    i++;

    size_t t0 = i;
    if (i == n || s[i] != '/') return LR_HTTP_BAD; /* origin-form only */
    while (i < n && s[i] != ' ') {
        if (!is_target_char(s[i])) return LR_HTTP_BAD;
        i++;
    }
    if (i == n) return LR_HTTP_BAD;
    req->target = (lr_str){line + t0, i - t0};
    const char *q = memchr(req->target.p, '?', req->target.len);
    if (q) {
        req->path = (lr_str){req->target.p, (size_t)(q - req->target.p)};
        req->query = (lr_str){q + 1, req->target.len - req->path.len - 1};
    } else {
        req->path = req->target;
        req->query = (lr_str){req->target.p + req->target.len, 0};
    }
    i++;

    /* HTTP-version = "HTTP/" DIGIT "." DIGIT, exactly: anything else is not
     * a version we could answer in, so it is malformed, not unsupported. */
    const unsigned char *v = s + i;
    if (n - i != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9')
        return LR_HTTP_BAD;
    if (v[5] != '1' || v[7] > '1') return LR_HTTP_BAD_VERSION;
    req->minor = v[7] - '0';
    return LR_OK;
}

static int parse_content_length(lr_str v, int64_t *out)
{
    if (v.len == 0) return LR_HTTP_BAD;
    int64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if (c < '0' || c > '9') return LR_HTTP_BAD; /* also refuses "5, 5" lists */
        if (n > (INT64_MAX - (c - '0')) / 10) return LR_HTTP_BAD;
        n = n * 10 + (c - '0');
    }
    *out = n;
    return LR_OK;
}

static int parse_header_line(const char *line, size_t n, lr_http_req *req, head_state *st)
{
    const unsigned char *s = (const unsigned char *)line;

    /* A leading SP/HTAB is obs-fold (or whitespace before the first field):
     * RFC 9112 §5.2 lets a server reject it, and merging lines is exactly
     * the kind of reinterpretation that enables smuggling. */
    size_t i = 0;
    while (i < n && is_tchar(s[i]))
        i++;
    if (i == 0 || i == n || s[i] != ':') return LR_HTTP_BAD;
    lr_str name = {line, i};
    i++;

    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    size_t v0 = i, vend = i;
    for (; i < n; i++) {
        if (!is_value_char(s[i])) return LR_HTTP_BAD;
        if (s[i] != ' ' && s[i] != '\t') vend = i + 1;
    }
    lr_str value = {line + v0, vend - v0};

    if (req->nheaders == LR_MAX_HTTP_HEADERS) return LR_HTTP_TOO_LARGE;
    req->headers[req->nheaders++] = (lr_http_header){name, value};

    if (name_is(name, "content-length")) {
        /* Even an identical duplicate is refused: intermediaries disagree on
         * whether to merge, and we do not need to find out which one is in
         * front of us. */
        if (req->content_length >= 0) return LR_HTTP_BAD;
        int64_t cl;
        int rc = parse_content_length(value, &cl);
        if (rc != LR_OK) return rc;
        req->content_length = cl;
    } else if (name_is(name, "transfer-encoding")) {
        st->te_count++;
        st->te = value;
    } else if (name_is(name, "host")) {
        st->hosts++;
    } else if (name_is(name, "connection")) {
        if (lr_http_has_token(value, "close")) st->conn_close = true;
        if (lr_http_has_token(value, "keep-alive")) st->conn_keep_alive = true;
    }
    return LR_OK;
}

/* Framing and connection rules that need the whole head. */
static int finish_head(lr_http_req *req, const head_state *st)
{
    if (req->minor == 1 ? st->hosts != 1 : st->hosts > 1) return LR_HTTP_BAD;
    if (st->te_count) {
        if (req->content_length >= 0) return LR_HTTP_BAD;
        if (req->minor == 0) return LR_HTTP_BAD; /* RFC 9112 §6.1: faulty framing */
        if (st->te.len == 0) return LR_HTTP_BAD;
        if (st->te_count > 1 || !name_is(st->te, "chunked")) return LR_HTTP_NOT_IMPLEMENTED;
        req->chunked = true;
    }
    if (req->minor == 1)
        req->keep_alive = !st->conn_close;
    else
        req->keep_alive = st->conn_keep_alive && !st->conn_close;
    return LR_OK;
}

int lr_http_parse_request(const char *buf, size_t len, size_t max_head, lr_http_req *req)
{
    if (max_head > INT_MAX) max_head = INT_MAX; /* the head length is returned as int */
    size_t scan = len < max_head ? len : max_head;

    req->method = req->target = req->path = req->query = (lr_str){buf, 0};
    req->minor = 0;
    req->nheaders = 0;
    req->head_len = 0;
    req->content_length = -1;
    req->chunked = false;
    req->keep_alive = false;

    head_state st = {0};
    bool have_request_line = false;
    size_t pos = 0;
    for (;;) {
        const char *lf = pos < scan ? memchr(buf + pos, '\n', scan - pos) : NULL;
        if (!lf) return len >= max_head ? LR_HTTP_TOO_LARGE : LR_HTTP_INCOMPLETE;
        size_t eol = (size_t)(lf - buf);
        if (eol == pos || buf[eol - 1] != '\r') return LR_HTTP_BAD; /* bare LF */
        const char *line = buf + pos;
        size_t n = eol - 1 - pos;
        pos = eol + 1;

        int rc;
        if (!have_request_line) {
            /* RFC 9112 §2.2: empty lines before the request line are
             * ignored (a client may send a stray CRLF after a body). */
            if (n == 0) continue;
            rc = parse_request_line(line, n, req);
            have_request_line = true;
        } else if (n == 0) {
            rc = finish_head(req, &st);
            if (rc != LR_OK) return rc;
            req->head_len = pos;
            return (int)pos;
        } else {
            rc = parse_header_line(line, n, req, &st);
        }
        if (rc != LR_OK) return rc;
    }
}

const lr_http_header *lr_http_find(const lr_http_req *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++)
        if (ieq(req->headers[i].name.p, req->headers[i].name.len, name, n)) return &req->headers[i];
    return NULL;
}

bool lr_http_has_token(lr_str value, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = value.p, *end = value.p + value.len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        const char *a = p, *b = e;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (ieq(a, (size_t)(b - a), token, tlen)) return true;
        if (!comma) break;
        p = comma + 1;
    }
    return false;
}

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = ascii_lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Next decoded byte of a query component, advancing *p; -1 on a bad escape. */
static int pct_next(const char **p, const char *end)
{
    unsigned char c = (unsigned char)**p;
    if (c == '+') {
        (*p)++;
        return ' ';
    }
    if (c != '%') {
        (*p)++;
        return c;
    }
    if (end - *p < 3) return -1;
    int hi = hex_val((unsigned char)(*p)[1]), lo = hex_val((unsigned char)(*p)[2]);
    if (hi < 0 || lo < 0) return -1;
    *p += 3;
    return hi << 4 | lo;
}

static bool key_matches(const char *p, const char *end, const char *key, size_t klen)
{
    size_t i = 0;
    while (p < end) {
        int c = pct_next(&p, end);
        if (c < 0 || i == klen || (unsigned char)key[i] != c) return false;
        i++;
    }
    return i == klen;
}

int lr_http_query_get(lr_str query, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    const char *p = query.p, *end = query.p + query.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (!amp) amp = end;
        const char *eq = memchr(p, '=', (size_t)(amp - p));
        if (key_matches(p, eq ? eq : amp, key, klen)) {
            /* The value is written NUL-terminated when there is room, so
             * callers passing sizeof(buf) get a C string; a decoded NUL is
             * refused because it would silently cut such a string short. */
            size_t n = 0;
            for (const char *v = eq ? eq + 1 : amp; v < amp;) {
                int c = pct_next(&v, amp);
                if (c <= 0 || n == cap) {
                    if (cap) out[0] = '\0';
                    return -2;
                }
                out[n++] = (char)c;
            }
            if (n < cap) out[n] = '\0';
            return (int)n;
        }
        if (amp == end) break;
        p = amp + 1;
    }
    return -1;
}

const char *lr_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
