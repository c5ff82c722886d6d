/*
 * http.h: a strict HTTP/1.1 request-head parser and the query-string helpers
 * the WebSocket upgrade and the admin API need. The parser works on a
 * contiguous buffer and is re-run from the start when more bytes arrive (a
 * head is at most LR_MAX_HTTP_HEAD bytes, so that costs nothing); it never
 * allocates and every pointer it returns points into the caller's buffer.
 */
#ifndef LR_NET_HTTP_H
#define LR_NET_HTTP_H

#include "core/common.h"

typedef struct lr_http_header {
    lr_str name;  /* as sent; compare case-insensitively */
    lr_str value; /* leading/trailing spaces and tabs trimmed */
} lr_http_header;

typedef struct lr_http_req {
    lr_str method;
    lr_str target; /* origin-form: path plus optional ?query */
    lr_str path;   /* target up to '?' */
    lr_str query;  /* after '?', without it; empty when none */
    int minor;     /* HTTP/1.<minor>: 0 or 1 */
    lr_http_header headers[LR_MAX_HTTP_HEADERS];
    size_t nheaders;
    size_t head_len;        /* bytes of the head including the final CRLFCRLF */
    int64_t content_length; /* -1 when absent */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool keep_alive;        /* after HTTP/1.1 defaults and Connection */
} lr_http_req;

/* Parse results (besides a positive head length). */
enum {
    LR_HTTP_INCOMPLETE = 0,   /* need more bytes */
    LR_HTTP_BAD = -400,       /* malformed: answer 400 and close */
    LR_HTTP_TOO_LARGE = -431, /* head or a header count over the limit: 431 */
    LR_HTTP_BAD_VERSION = -505,
    LR_HTTP_NOT_IMPLEMENTED = -501, /* e.g. a transfer-encoding other than chunked */
};

/*
 * Parse a request head from buf[0..len). Returns the head length (> 0) when
 * complete, LR_HTTP_INCOMPLETE when more bytes are needed and no limit is
 * crossed yet, or a negative LR_HTTP_… error. max_head bounds the head size
 * (use LR_MAX_HTTP_HEAD). Strict: CRLF line ends only (bare LF is an error),
 * token characters in method and header names, no whitespace before the
 * colon, no obsolete line folding, duplicate or conflicting Content-Length,
 * Content-Length together with Transfer-Encoding, control characters in
 * values and request targets are all LR_HTTP_BAD.
 * Also LR_HTTP_BAD: a request-target that is not origin-form ('/' first,
 * printable ASCII, no '#'), a malformed version, a missing or repeated Host
 * in HTTP/1.1, Transfer-Encoding in HTTP/1.0. Well-formed versions other than
 * 1.0/1.1 are LR_HTTP_BAD_VERSION; a Transfer-Encoding other than a single
 * "chunked" is LR_HTTP_NOT_IMPLEMENTED. Empty lines before the request line
 * are skipped (RFC 9112 §2.2) and counted in the head length.
 */
int lr_http_parse_request(const char *buf, size_t len, size_t max_head, lr_http_req *req);

/* First header with that name (case-insensitive), or NULL. */
const lr_http_header *lr_http_find(const lr_http_req *req, const char *name);

/* True when a comma-separated header value contains token (case-insensitive). */
bool lr_http_has_token(lr_str value, const char *token);

/*
 * Look up key in a query string (a=1&b=2) and percent-decode its value
 * ('+' means space) into out[0..cap). Returns the decoded length, -1 when the
 * key is absent, -2 when the encoding is bad or the value does not fit.
 * Keys are compared after decoding; the first match wins. out is
 * NUL-terminated when the value is shorter than cap (so pass sizeof of a
 * buffer one longer than the longest value to always get a C string). A
 * value that decodes to a NUL byte counts as badly encoded.
 */
int lr_http_query_get(lr_str query, const char *key, char *out, size_t cap);

/* Reason phrase for a status code ("OK", "Bad Request", ...). */
const char *lr_http_reason(int status);

#endif
