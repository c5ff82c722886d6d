/*
 * test_http.c proves the request-head parser accepts what real clients send,
 * refuses every ambiguity a smuggling attack needs, gives the same answer
 * whether the head arrives at once or byte by byte, and that the query and
 * token helpers decode exactly what they should.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "net/http.h"

static int parse(const char *s, lr_http_req *req)
{
    return lr_http_parse_request(s, strlen(s), LR_MAX_HTTP_HEAD, req);
}

static int parse_rc(const char *s)
{
    lr_http_req req;
    return parse(s, &req);
}

static void assert_str(lr_str s, const char *want)
{
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.p, want, s.len);
}

static const char UPGRADE[] = "GET /ws?user=alice&room=r1 HTTP/1.1\r\n"
                              "Host: example.com:7070\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: keep-alive, Upgrade\r\n"
                              "Sec-WebSocket-Key:dGhlIHNhbXBsZSBub25jZQ==  \r\n"
                              "Sec-WebSocket-Version: \t13\r\n"
                              "Sec-WebSocket-Protocol: liveroom.v1.json\r\n"
                              "\r\n";

static void test_upgrade_request_parses_every_field(void **state)
{
    lr_http_req req;
    int rc = parse(UPGRADE, &req);
    assert_int_equal(rc, (int)strlen(UPGRADE));
    assert_int_equal(req.head_len, strlen(UPGRADE));
    assert_str(req.method, "GET");
    assert_str(req.target, "/ws?user=alice&room=r1");
    assert_str(req.path, "/ws");
    assert_str(req.query, "user=alice&room=r1");
    assert_int_equal(req.minor, 1);
    assert_int_equal(req.nheaders, 6);
    assert_int_equal(req.content_length, -1);
    assert_false(req.chunked);
    assert_true(req.keep_alive);

    assert_str(req.headers[0].name, "Host");
    assert_str(req.headers[0].value, "example.com:7070");
    const lr_http_header *h = lr_http_find(&req, "sec-websocket-key");
    assert_non_null(h);
    assert_str(h->value, "dGhlIHNhbXBsZSBub25jZQ=="); /* trailing spaces trimmed */
    h = lr_http_find(&req, "SEC-WEBSOCKET-VERSION");
    assert_non_null(h);
    assert_str(h->value, "13"); /* leading space and tab trimmed */
    assert_null(lr_http_find(&req, "Origin"));
    assert_true(lr_http_has_token(lr_http_find(&req, "connection")->value, "upgrade"));
    assert_true(lr_http_has_token(lr_http_find(&req, "upgrade")->value, "WebSocket"));
}

static void test_path_without_query_has_empty_query(void **state)
{
    lr_http_req req;
    assert_true(parse("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", &req) > 0);
    assert_str(req.path, "/health");
    assert_int_equal(req.query.len, 0);
    assert_true(parse("GET /a? HTTP/1.1\r\nHost: x\r\n\r\n", &req) > 0);
    assert_str(req.path, "/a");
    assert_int_equal(req.query.len, 0);
}

static void test_post_with_content_length_stops_at_head(void **state)
{
    const char *head = "POST /v4/group_open_http_svc/create_group?sdkappid=1 HTTP/1.1\r\n"
                       "Host: h\r\nContent-Type: application/json\r\nContent-Length: 0013\r\n\r\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%s{\"GroupId\":1}", head);
    lr_http_req req;
    int rc = parse(buf, &req);
    assert_int_equal(rc, (int)strlen(head));
    assert_str(req.method, "POST");
    assert_int_equal(req.content_length, 13);
    assert_false(req.chunked);
}

static void test_chunked_transfer_encoding_is_reported(void **state)
{
    lr_http_req req;
    assert_true(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n", &req) >
                0);
    assert_true(req.chunked);
    assert_int_equal(req.content_length, -1);
}

static void test_keep_alive_follows_version_and_connection(void **state)
{
    struct {
        const char *req;
        bool keep;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.0\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: keep-alived\r\n\r\n", false},
    };
    for (size_t i = 0; i < LR_ARRAY_LEN(cases); i++) {
        lr_http_req req;
        assert_int_equal(parse(cases[i].req, &req), (int)strlen(cases[i].req));
        assert_int_equal(req.keep_alive, cases[i].keep);
    }
}

static void test_host_rules(void **state)
{
    assert_int_equal(parse_rc("GET / HTTP/1.1\r\n\r\n"), LR_HTTP_BAD);
    assert_int_equal(parse_rc("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), LR_HTTP_BAD);
    assert_int_equal(parse_rc("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"), LR_HTTP_BAD);
    assert_true(parse_rc("GET / HTTP/1.0\r\n\r\n") > 0);
    assert_true(parse_rc("GET / HTTP/1.1\r\nHost:\r\n\r\n") > 0); /* empty Host is allowed */
}

static void test_leading_empty_lines_are_skipped(void **state)
{
    const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    lr_http_req req;
    assert_int_equal(parse(s, &req), (int)strlen(s));
    assert_str(req.method, "GET");
}

static void test_utf8_in_header_value_is_accepted(void **state)
{
    lr_http_req req;
    assert_true(parse("GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: caf\xc3\xa9\r\n\r\n", &req) > 0);
    assert_str(lr_http_find(&req, "user-agent")->value, "caf\xc3\xa9");
}

/* Every strict prefix of a valid head is INCOMPLETE and the full head gives
 * its length, with or without bytes of the next message after it. */
static void test_byte_by_byte_is_incomplete_until_the_end(void **state)
{
    const char *heads[] = {
        UPGRADE,
        "POST /x HTTP/1.0\r\nContent-Length: 3\r\n\r\n",
        "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
    };
    for (size_t h = 0; h < LR_ARRAY_LEN(heads); h++) {
        size_t n = strlen(heads[h]);
        char *buf = malloc(n + 8);
        assert_non_null(buf);
        memcpy(buf, heads[h], n);
        memcpy(buf + n, "abcdefgh", 8);
        for (size_t i = 0; i < n; i++) {
            lr_http_req req;
            assert_int_equal(lr_http_parse_request(buf, i, LR_MAX_HTTP_HEAD, &req),
                             LR_HTTP_INCOMPLETE);
        }
        for (size_t extra = 0; extra <= 8; extra++) {
            lr_http_req req;
            assert_int_equal(lr_http_parse_request(buf, n + extra, LR_MAX_HTTP_HEAD, &req), (int)n);
        }
        free(buf);
    }
}

static void test_errors_are_found_before_the_head_completes(void **state)
{
    assert_int_equal(parse_rc("GET / HTTP/1.1\n"), LR_HTTP_BAD);
    assert_int_equal(parse_rc("GET / HTTP/1.1\r\nHost : h\r\n"), LR_HTTP_BAD);
    assert_int_equal(parse_rc("GET / HTTP/2.0\r\n"), LR_HTTP_BAD_VERSION);
    assert_int_equal(parse_rc("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n"), LR_HTTP_BAD);
    /* but a line still being received is not judged yet */
    assert_int_equal(parse_rc("GET / HTTP/1.1\r\nHost : h"), LR_HTTP_INCOMPLETE);
}

static void test_bare_lf_is_bad(void **state)
{
    assert_int_equal(parse_rc("GET / HTTP/1.1\nHost: h\r\n\r\n"), LR_HTTP_BAD);
    assert_int_equal(parse_rc("GET / HTTP/1.1\r\nHost: h\n\r\n"), LR_HTTP_BAD);
    assert_int_equal(parse_rc("GET / HTTP/1.1\r\nHost: h\r\n\n"), LR_HTTP_BAD);
    assert_int_equal(parse_rc("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), LR_HTTP_BAD);
    /* a CR not followed by LF is a control character in the line */
    assert_int_equal(parse_rc("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n"), LR_HTTP_BAD);
    assert_int_equal(parse_rc("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n"), LR_HTTP_BAD);
}

static char *make_head_with_value(size_t value_len)
{
    const char *pre = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ";
    size_t n = strlen(pre);
    char *s = malloc(n + value_len + 5);
    assert_non_null(s);
    memcpy(s, pre, n);
    memset(s + n, 'a', value_len);
    memcpy(s + n + value_len, "\r\n\r\n", 5);
    return s;
}

static void test_head_over_the_limit_is_431(void **state)
{
    /* complete but too long */
    char *s = make_head_with_value(LR_MAX_HTTP_HEAD);
    assert_int_equal(parse_rc(s), LR_HTTP_TOO_LARGE);
    /* incomplete and already at the limit: no need to wait for the rest */
    assert_int_equal(
        lr_http_parse_request(s, LR_MAX_HTTP_HEAD, LR_MAX_HTTP_HEAD, &(lr_http_req){0}),
        LR_HTTP_TOO_LARGE);
    assert_int_equal(
        lr_http_parse_request(s, LR_MAX_HTTP_HEAD - 1, LR_MAX_HTTP_HEAD, &(lr_http_req){0}),
        LR_HTTP_INCOMPLETE);
    free(s);

    /* a head of exactly max_head bytes fits */
    size_t fixed = strlen("GET / HTTP/1.1\r\nHost: h\r\nX-Big: ") + 4;
    s = make_head_with_value(LR_MAX_HTTP_HEAD - fixed);
    assert_int_equal(strlen(s), LR_MAX_HTTP_HEAD);
    assert_int_equal(parse_rc(s), LR_MAX_HTTP_HEAD);
    free(s);
    s = make_head_with_value(LR_MAX_HTTP_HEAD - fixed + 1);
    assert_int_equal(parse_rc(s), LR_HTTP_TOO_LARGE);
    free(s);

    /* the caller's own limit is honoured */
    assert_int_equal(lr_http_parse_request(UPGRADE, strlen(UPGRADE), 64, &(lr_http_req){0}),
                     LR_HTTP_TOO_LARGE);
}

static void test_huge_request_line_is_431(void **state)
{
    size_t n = 3 * LR_MAX_HTTP_HEAD;
    char *s = malloc(n + 64);
    assert_non_null(s);
    strcpy(s, "GET /");
    memset(s + 5, 'a', n);
    strcpy(s + 5 + n, " HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(parse_rc(s), LR_HTTP_TOO_LARGE);
    assert_int_equal(
        lr_http_parse_request(s, LR_MAX_HTTP_HEAD + 1, LR_MAX_HTTP_HEAD, &(lr_http_req){0}),
        LR_HTTP_TOO_LARGE);
    free(s);
}

static char *head_with_headers(int count)
{
    char *s = malloc(64 + (size_t)count * 16);
    assert_non_null(s);
    size_t n = (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 1; i < count; i++)
        n += (size_t)sprintf(s + n, "X-%d: v\r\n", i);
    strcpy(s + n, "\r\n");
    return s;
}

static void test_too_many_headers_is_431(void **state)
{
    lr_http_req req;
    char *s = head_with_headers(LR_MAX_HTTP_HEADERS);
    assert_true(parse(s, &req) > 0);
    assert_int_equal(req.nheaders, LR_MAX_HTTP_HEADERS);
    free(s);
    s = head_with_headers(LR_MAX_HTTP_HEADERS + 1);
    assert_int_equal(parse(s, &req), LR_HTTP_TOO_LARGE);
    free(s);
}

static void test_malformed_header_lines_are_bad(void **state)
{
    const char *bad[] = {
        "GET / HTTP/1.1\r\nHost : h\r\n\r\n",              /* space before colon */
        "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n",             /* tab before colon */
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", /* obs-fold */
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n",
        "GET / HTTP/1.1\r\n Host: h\r\n\r\n",       /* whitespace before the first field */
        "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", /* empty name */
        "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX(y): v\r\n\r\n", /* non-token name */
        "GET / HTTP/1.1\r\nHost: h\r\nX\xc3\xa9: v\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01"
        "b\r\n\r\n", /* control chars in value */
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\x1b[31m\r\n\r\n",
    };
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++)
        assert_int_equal(parse_rc(bad[i]), LR_HTTP_BAD);

    /* a NUL byte inside a value */
    const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
    assert_int_equal(
        lr_http_parse_request(nul, sizeof nul - 1, LR_MAX_HTTP_HEAD, &(lr_http_req){0}),
        LR_HTTP_BAD);
}

static void test_body_framing_ambiguities_are_bad(void **state)
{
    const char *bad[] = {
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n",
    };
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++)
        assert_int_equal(parse_rc(bad[i]), LR_HTTP_BAD);

    lr_http_req req;
    assert_true(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n",
                      &req) > 0);
    assert_int_equal(req.content_length, INT64_MAX);
    assert_int_equal(
        parse_rc("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n"),
        LR_HTTP_BAD);
}

static void test_unknown_transfer_coding_is_501(void **state)
{
    assert_int_equal(parse_rc("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"),
                     LR_HTTP_NOT_IMPLEMENTED);
    assert_int_equal(
        parse_rc("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
        LR_HTTP_NOT_IMPLEMENTED);
    assert_int_equal(parse_rc("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n"),
                     LR_HTTP_NOT_IMPLEMENTED);
}

static void test_malformed_request_lines_are_bad(void **state)
{
    const char *bad[] = {
        "GE(T / HTTP/1.1\r\nHost: h\r\n\r\n", /* non-token method */
        "G\xc3\x89T / HTTP/1.1\r\nHost: h\r\n\r\n",
        " GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", /* double space */
        "GET /  HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
        "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /\r\nHost: h\r\n\r\n",  /* HTTP/0.9 style */
        "GET / \r\nHost: h\r\n\r\n", /* missing version */
        "GET\r\nHost: h\r\n\r\n",
        "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", /* not origin-form */
        "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", /* control char in target */
        "GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET / http/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.10\r\nHost: h\r\n\r\n",
        "GET / HTTP/1\r\nHost: h\r\n\r\n",
        "GET / HTTP/a.1\r\nHost: h\r\n\r\n",
        "GET / HTTPS/1.1\r\nHost: h\r\n\r\n",
    };
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++) {
        if (parse_rc(bad[i]) != LR_HTTP_BAD) fail_msg("case %zu: %s", i, bad[i]);
    }
}

static void test_unsupported_versions_are_505(void **state)
{
    const char *v[] = {"HTTP/2.0", "HTTP/1.2", "HTTP/1.9", "HTTP/0.9", "HTTP/3.0", "HTTP/9.9"};
    for (size_t i = 0; i < LR_ARRAY_LEN(v); i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "GET / %s\r\nHost: h\r\n\r\n", v[i]);
        assert_int_equal(parse_rc(buf), LR_HTTP_BAD_VERSION);
    }
}

static void test_query_get_decodes_values(void **state)
{
    lr_str q = LR_STR_LIT("user=al%69ce&sig=a+b%2Bc%2f&empty=&flag&room=%E6%88%BF&user=bob");
    char out[64];
    assert_int_equal(lr_http_query_get(q, "user", out, sizeof out), 5);
    assert_string_equal(out, "alice"); /* first match wins */
    assert_int_equal(lr_http_query_get(q, "sig", out, sizeof out), 6);
    assert_string_equal(out, "a b+c/");
    assert_int_equal(lr_http_query_get(q, "empty", out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(lr_http_query_get(q, "flag", out, sizeof out), 0);
    assert_int_equal(lr_http_query_get(q, "room", out, sizeof out), 3);
    assert_string_equal(out, "\xe6\x88\xbf");
    assert_int_equal(lr_http_query_get(q, "nope", out, sizeof out), -1);
    assert_int_equal(lr_http_query_get(q, "use", out, sizeof out), -1);
    assert_int_equal(lr_http_query_get(q, "users", out, sizeof out), -1);
    assert_int_equal(lr_http_query_get((lr_str){NULL, 0}, "user", out, sizeof out), -1);
}

static void test_query_keys_are_compared_decoded(void **state)
{
    char out[16];
    assert_int_equal(lr_http_query_get(LR_STR_LIT("%75ser=x"), "user", out, sizeof out), 1);
    assert_string_equal(out, "x");
    assert_int_equal(lr_http_query_get(LR_STR_LIT("a+b=1"), "a b", out, sizeof out), 1);
    /* a key with a bad escape matches nothing, later keys still do */
    assert_int_equal(lr_http_query_get(LR_STR_LIT("u%zzser=1&user=2"), "user", out, sizeof out), 1);
    assert_string_equal(out, "2");
}

static void test_query_bad_escapes_and_overflow_are_refused(void **state)
{
    const char *bad[] = {"k=%", "k=%4", "k=%zz", "k=%4g", "k=%g4", "k=abc%", "k=%00", "k=%%41"};
    char out[16];
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++)
        assert_int_equal(lr_http_query_get(lr_str_c(bad[i]), "k", out, sizeof out), -2);
    /* an escape cut by '&' is bad, not a longer value */
    assert_int_equal(lr_http_query_get(LR_STR_LIT("k=%4&x=1"), "k", out, sizeof out), -2);

    /* fits exactly without a NUL, one more does not fit */
    char small[4];
    memset(small, 'z', sizeof small);
    assert_int_equal(lr_http_query_get(LR_STR_LIT("k=abcd"), "k", small, sizeof small), 4);
    assert_memory_equal(small, "abcd", 4);
    assert_int_equal(lr_http_query_get(LR_STR_LIT("k=abcde"), "k", small, sizeof small), -2);
    assert_int_equal(lr_http_query_get(LR_STR_LIT("k=%41%41%41%41"), "k", small, sizeof small), 4);
    assert_int_equal(lr_http_query_get(LR_STR_LIT("k=%41%41%41%41%41"), "k", small, sizeof small),
                     -2);
}

static void test_has_token_splits_comma_lists(void **state)
{
    assert_true(lr_http_has_token(LR_STR_LIT("keep-alive, Upgrade"), "upgrade"));
    assert_true(lr_http_has_token(LR_STR_LIT("Upgrade"), "upgrade"));
    assert_true(lr_http_has_token(LR_STR_LIT(" \tupgrade\t ,close"), "UPGRADE"));
    assert_true(lr_http_has_token(LR_STR_LIT(",,close,"), "close"));
    assert_true(lr_http_has_token(LR_STR_LIT("a,b,c"), "c"));
    assert_false(lr_http_has_token(LR_STR_LIT("upgraded"), "upgrade"));
    assert_false(lr_http_has_token(LR_STR_LIT("upgrad"), "upgrade"));
    assert_false(lr_http_has_token(LR_STR_LIT("keep-alive upgrade"), "upgrade"));
    assert_false(lr_http_has_token(LR_STR_LIT(""), "close"));
    assert_false(lr_http_has_token(LR_STR_LIT(", ,"), "close"));
}

static void test_reason_phrases(void **state)
{
    assert_string_equal(lr_http_reason(200), "OK");
    assert_string_equal(lr_http_reason(101), "Switching Protocols");
    assert_string_equal(lr_http_reason(400), "Bad Request");
    assert_string_equal(lr_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(lr_http_reason(505), "HTTP Version Not Supported");
    assert_string_equal(lr_http_reason(799), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upgrade_request_parses_every_field),
        cmocka_unit_test(test_path_without_query_has_empty_query),
        cmocka_unit_test(test_post_with_content_length_stops_at_head),
        cmocka_unit_test(test_chunked_transfer_encoding_is_reported),
        cmocka_unit_test(test_keep_alive_follows_version_and_connection),
        cmocka_unit_test(test_host_rules),
        cmocka_unit_test(test_leading_empty_lines_are_skipped),
        cmocka_unit_test(test_utf8_in_header_value_is_accepted),
        cmocka_unit_test(test_byte_by_byte_is_incomplete_until_the_end),
        cmocka_unit_test(test_errors_are_found_before_the_head_completes),
        cmocka_unit_test(test_bare_lf_is_bad),
        cmocka_unit_test(test_head_over_the_limit_is_431),
        cmocka_unit_test(test_huge_request_line_is_431),
        cmocka_unit_test(test_too_many_headers_is_431),
        cmocka_unit_test(test_malformed_header_lines_are_bad),
        cmocka_unit_test(test_body_framing_ambiguities_are_bad),
        cmocka_unit_test(test_unknown_transfer_coding_is_501),
        cmocka_unit_test(test_malformed_request_lines_are_bad),
        cmocka_unit_test(test_unsupported_versions_are_505),
        cmocka_unit_test(test_query_get_decodes_values),
        cmocka_unit_test(test_query_keys_are_compared_decoded),
        cmocka_unit_test(test_query_bad_escapes_and_overflow_are_refused),
        cmocka_unit_test(test_has_token_splits_comma_lists),
        cmocka_unit_test(test_reason_phrases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
