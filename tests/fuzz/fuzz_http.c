/*
 * fuzz_http.c drives the request-head parser and the query/token helpers
 * with arbitrary bytes and aborts when a property callers rely on breaks:
 * results are one of the documented codes, every returned string lies
 * inside the input, a parsed head is self-delimiting (the head alone parses
 * the same, one byte less is INCOMPLETE), and decoded query values never
 * overflow or contain NUL. Never writes to the input.
 */
#include <stdlib.h>

#include "net/http.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

static bool inside(lr_str s, const char *buf, size_t len)
{
    return s.p >= buf && s.len <= len && (size_t)(s.p - buf) <= len - s.len;
}

static void check_query(lr_str q)
{
    static const char *const keys[] = {"user", "sig", "room", "a", ""};
    for (size_t k = 0; k < LR_ARRAY_LEN(keys); k++) {
        char out[32];
        int n = lr_http_query_get(q, keys[k], out, sizeof out);
        CHECK(n >= -2 && n <= (int)sizeof out);
        if (n >= 0) CHECK(memchr(out, '\0', (size_t)n) == NULL);
        if (n >= 0 && n < (int)sizeof out) CHECK(out[n] == '\0');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    /* A small limit as well as the real one, so the 431 paths are reached
     * with inputs libFuzzer likes to keep short. */
    const size_t limits[] = {LR_MAX_HTTP_HEAD, 200};
    for (size_t l = 0; l < LR_ARRAY_LEN(limits); l++) {
        size_t max = limits[l];
        lr_http_req req;
        int rc = lr_http_parse_request(buf, size, max, &req);
        CHECK(rc > 0 || rc == LR_HTTP_INCOMPLETE || rc == LR_HTTP_BAD || rc == LR_HTTP_TOO_LARGE ||
              rc == LR_HTTP_BAD_VERSION || rc == LR_HTTP_NOT_IMPLEMENTED);
        if (rc == LR_HTTP_INCOMPLETE) CHECK(size < max);
        if (rc <= 0) continue;

        size_t n = (size_t)rc;
        CHECK(n == req.head_len && n <= size && n <= max && n >= 4);
        CHECK(memcmp(buf + n - 4, "\r\n\r\n", 4) == 0);
        CHECK(req.minor == 0 || req.minor == 1);
        CHECK(req.nheaders <= LR_MAX_HTTP_HEADERS);
        CHECK(req.method.len > 0 && inside(req.method, buf, n));
        CHECK(inside(req.target, buf, n) && req.target.len > 0 && req.target.p[0] == '/');
        CHECK(inside(req.path, buf, n) && inside(req.query, buf, n));
        CHECK(req.path.p == req.target.p && req.path.len <= req.target.len);
        CHECK(!(req.chunked && req.content_length >= 0));
        for (size_t i = 0; i < req.nheaders; i++) {
            const lr_http_header *h = &req.headers[i];
            CHECK(h->name.len > 0 && inside(h->name, buf, n) && inside(h->value, buf, n));
            CHECK(lr_http_find(&req, "x") == NULL || lr_http_find(&req, "x")->name.len == 1);
            (void)lr_http_has_token(h->value, "close");
            (void)lr_http_has_token(h->value, "upgrade");
        }

        lr_http_req again;
        CHECK(lr_http_parse_request(buf, n, max, &again) == rc);
        CHECK(lr_http_parse_request(buf, n - 1, max, &again) == LR_HTTP_INCOMPLETE);
        check_query(req.query);
    }
    check_query((lr_str){buf, size});
    (void)lr_http_has_token((lr_str){buf, size}, "keep-alive");
    return 0;
}
