/*
 * test_ws.c walks the Autobahn testsuite's case categories against the
 * frame parser: framing and length encodings, pings and pongs, reserved
 * bits, opcodes, fragmentation, UTF-8, limits and the close handshake, plus
 * the handshake key and the encoders. Frames are built here byte by byte,
 * independently of the encoders under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "net/ws.h"

#define FIN 0x80
#define MAX_MSG LR_MAX_WS_MESSAGE
#define BIG_MSG (1u << 20) /* room for the 64-bit length form */

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* A frame with first byte b0 (FIN/RSV/opcode) and the minimal length
 * encoding; masked with MASK when masked. out needs n + 14 bytes. */
static size_t build(uint8_t *out, uint8_t b0, bool masked, const void *payload, size_t n)
{
    size_t h = 0;
    uint8_t mb = masked ? 0x80 : 0;
    out[h++] = b0;
    if (n < 126) {
        out[h++] = mb | (uint8_t)n;
    } else if (n <= 0xffff) {
        out[h++] = mb | 126;
        out[h++] = (uint8_t)(n >> 8);
        out[h++] = (uint8_t)n;
    } else {
        out[h++] = mb | 127;
        for (int i = 7; i >= 0; i--)
            out[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    if (masked) {
        memcpy(out + h, MASK, 4);
        h += 4;
    }
    const uint8_t *src = payload;
    for (size_t i = 0; i < n; i++)
        out[h + i] = src[i] ^ (masked ? MASK[i & 3] : 0);
    return h + n;
}

/* A client (masked) frame, as a server receives it. */
static size_t cframe(uint8_t *out, uint8_t b0, const void *payload, size_t n)
{
    return build(out, b0, true, payload, n);
}

static size_t cframe_s(uint8_t *out, uint8_t b0, const char *s)
{
    return cframe(out, b0, s, strlen(s));
}

typedef struct recorded {
    int count;
    lr_ws_event_kind kind[16];
    int opcode[16];
    uint16_t code[16];
    size_t len[16];
    uint8_t *data[16];
} recorded;

static void recorded_free(recorded *r)
{
    for (int i = 0; i < r->count; i++)
        free(r->data[i]);
    r->count = 0;
}

/* Feed a whole buffer through the parser like a connection would. Returns
 * the negative close code, or 0 when everything was consumed. Event data is
 * copied because the parser only keeps it until the next call. */
static int feed(lr_ws_parser *p, uint8_t *buf, size_t len, recorded *r)
{
    size_t off = 0;
    while (off < len) {
        size_t used = 0;
        lr_ws_event ev;
        int rc = lr_ws_parse(p, buf + off, len - off, &used, &ev);
        if (rc < 0) return rc;
        assert_true(used <= len - off);
        if (rc == 0 && used == 0) return 1; /* incomplete */
        off += used;
        if (rc == 1) {
            assert_true(r->count < 16);
            int i = r->count++;
            r->kind[i] = ev.kind;
            r->opcode[i] = ev.opcode;
            r->code[i] = ev.close_code;
            r->len[i] = ev.len;
            r->data[i] = malloc(ev.len + 1);
            assert_non_null(r->data[i]);
            if (ev.len) memcpy(r->data[i], ev.data, ev.len);
        }
    }
    return 0;
}

/* Parse one complete frame and return the result code. */
static int parse_one(bool server, uint8_t *buf, size_t len, lr_ws_event *ev)
{
    lr_ws_parser p;
    lr_ws_parser_init(&p, server, BIG_MSG);
    size_t used = 0;
    int rc = lr_ws_parse(&p, buf, len, &used, ev);
    if (rc == 1) assert_int_equal(used, len);
    lr_ws_parser_free(&p);
    return rc;
}

static uint8_t *pattern(size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 31 + 7);
    return b;
}

/* ---- handshake and encoders ---- */

static void test_accept_key_matches_rfc6455_example(void **state)
{
    char out[29];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    lr_ws_accept_key(key, strlen(key), out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    lr_ws_accept_key("x", 1, out);
    assert_int_equal(strlen(out), 28);
    assert_string_not_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static const size_t SIZES[] = {0, 1, 7, 8, 9, 125, 126, 127, 65535, 65536, 65537};

static void test_header_encode_uses_minimal_length_forms(void **state)
{
    uint8_t h[LR_WS_MAX_HEADER];
    assert_int_equal(lr_ws_header_encode(h, LR_WS_OP_TEXT, 0), 2);
    assert_int_equal(h[0], 0x81);
    assert_int_equal(h[1], 0);
    assert_int_equal(lr_ws_header_encode(h, LR_WS_OP_BINARY, 125), 2);
    assert_int_equal(h[0], 0x82);
    assert_int_equal(h[1], 125);
    assert_int_equal(lr_ws_header_encode(h, LR_WS_OP_TEXT, 126), 4);
    assert_int_equal(h[1], 126);
    assert_int_equal(h[2] << 8 | h[3], 126);
    assert_int_equal(lr_ws_header_encode(h, LR_WS_OP_TEXT, 65535), 4);
    assert_int_equal(h[2] << 8 | h[3], 65535);
    assert_int_equal(lr_ws_header_encode(h, LR_WS_OP_TEXT, 65536), 10);
    assert_int_equal(h[1], 127);
    const uint8_t want[8] = {0, 0, 0, 0, 0, 1, 0, 0};
    assert_memory_equal(h + 2, want, 8);
    uint8_t m[4] = {1, 2, 3, 4};
    assert_int_equal(lr_ws_client_header_encode(h, LR_WS_OP_TEXT, 5, m), 6);
    assert_int_equal(h[1], 0x80 | 5);
    assert_memory_equal(h + 2, m, 4);
    assert_int_equal(lr_ws_client_header_encode(h, LR_WS_OP_TEXT, 300, m), 8);
    assert_int_equal(lr_ws_client_header_encode(h, LR_WS_OP_TEXT, 1 << 20, m), 14);
    assert_memory_equal(h + 10, m, 4);
}

static void test_server_frames_round_trip_through_client_parser(void **state)
{
    for (size_t s = 0; s < LR_ARRAY_LEN(SIZES); s++) {
        size_t n = SIZES[s];
        uint8_t *payload = pattern(n);
        uint8_t *buf = malloc(n + LR_WS_MAX_HEADER);
        assert_non_null(buf);
        size_t h = lr_ws_header_encode(buf, LR_WS_OP_BINARY, n);
        memcpy(buf + h, payload, n);
        lr_ws_event ev;
        assert_int_equal(parse_one(false, buf, h + n, &ev), 1);
        assert_int_equal(ev.kind, LR_WS_EV_MESSAGE);
        assert_int_equal(ev.opcode, LR_WS_OP_BINARY);
        assert_int_equal(ev.len, n);
        if (n) assert_memory_equal(ev.data, payload, n);
        free(buf);
        free(payload);
    }
}

static void test_client_frames_round_trip_through_server_parser(void **state)
{
    const uint8_t m[4] = {0xde, 0xad, 0xbe, 0xef};
    for (size_t s = 0; s < LR_ARRAY_LEN(SIZES); s++) {
        size_t n = SIZES[s];
        uint8_t *payload = malloc(n + 1);
        assert_non_null(payload);
        for (size_t i = 0; i < n; i++)
            payload[i] = (uint8_t)('a' + i % 26);
        uint8_t *buf = malloc(n + LR_WS_MAX_HEADER);
        assert_non_null(buf);
        size_t h = lr_ws_client_header_encode(buf, LR_WS_OP_TEXT, n, m);
        memcpy(buf + h, payload, n);
        lr_ws_mask(buf + h, n, m, 0);
        if (n) assert_memory_not_equal(buf + h, payload, n);
        lr_ws_event ev;
        assert_int_equal(parse_one(true, buf, h + n, &ev), 1);
        assert_int_equal(ev.opcode, LR_WS_OP_TEXT);
        assert_int_equal(ev.len, n);
        if (n) assert_memory_equal(ev.data, payload, n);
        free(buf);
        free(payload);
    }
}

static void test_mask_in_pieces_equals_mask_at_once(void **state)
{
    uint8_t ref[80], got[80];
    for (size_t n = 0; n <= sizeof ref; n++) {
        for (size_t split = 0; split <= n; split++) {
            for (size_t start = 0; start < 4; start++) {
                for (size_t i = 0; i < n; i++)
                    ref[i] = got[i] = (uint8_t)(i * 7);
                for (size_t i = 0; i < n; i++)
                    ref[i] ^= MASK[(start + i) & 3];
                lr_ws_mask(got, split, MASK, start);
                lr_ws_mask(got + split, n - split, MASK, start + split);
                if (n) assert_memory_equal(got, ref, n);
            }
        }
    }
}

/* ---- framing (Autobahn 1.x) ---- */

static void test_every_length_boundary_parses(void **state)
{
    for (size_t s = 0; s < LR_ARRAY_LEN(SIZES); s++) {
        size_t n = SIZES[s];
        uint8_t *payload = pattern(n);
        uint8_t *buf = malloc(n + 14);
        assert_non_null(buf);
        size_t len = cframe(buf, FIN | LR_WS_OP_BINARY, payload, n);
        size_t want_h = n < 126 ? 6 : n <= 65535 ? 8 : 14;
        assert_int_equal(len, want_h + n);
        lr_ws_event ev;
        assert_int_equal(parse_one(true, buf, len, &ev), 1);
        assert_int_equal(ev.len, n);
        assert_ptr_equal(ev.data, buf + want_h); /* delivered in place */
        if (n) assert_memory_equal(ev.data, payload, n);
        free(buf);
        free(payload);
    }
}

static void test_non_minimal_length_encodings_are_refused(void **state)
{
    uint8_t buf[32] = {FIN | LR_WS_OP_TEXT, 0x80 | 126, 0, 125};
    lr_ws_event ev;
    assert_int_equal(parse_one(true, buf, 4, &ev), -1002);
    uint8_t b64[16] = {FIN | LR_WS_OP_TEXT, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    assert_int_equal(parse_one(true, b64, 10, &ev), -1002);
    uint8_t top[16] = {FIN | LR_WS_OP_TEXT, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(parse_one(true, top, 10, &ev), -1002);
}

/* Every prefix of a frame is "incomplete, nothing consumed" and leaves the
 * bytes untouched, so the connection can append and call again. */
static void check_every_split(const uint8_t *frame, size_t len, size_t payload_len,
                              size_t step_after)
{
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    lr_ws_parser p;
    lr_ws_parser_init(&p, true, MAX_MSG + 2);
    memcpy(buf, frame, len);
    for (size_t k = 0; k < len; k += (k < 16 ? 1 : step_after)) {
        size_t used = 99;
        lr_ws_event ev;
        assert_int_equal(lr_ws_parse(&p, buf, k, &used, &ev), 0);
        assert_int_equal(used, 0);
        assert_memory_equal(buf, frame, len);
    }
    size_t used = 0;
    lr_ws_event ev;
    assert_int_equal(lr_ws_parse(&p, buf, len, &used, &ev), 1);
    assert_int_equal(used, len);
    assert_int_equal(ev.len, payload_len);
    lr_ws_parser_free(&p);
    free(buf);
}

static void test_frames_split_at_every_byte_boundary(void **state)
{
    const size_t sizes[] = {0, 5, 125, 126, 300, 65535, 65536};
    for (size_t s = 0; s < LR_ARRAY_LEN(sizes); s++) {
        size_t n = sizes[s];
        uint8_t *payload = pattern(n);
        uint8_t *frame = malloc(n + 14);
        assert_non_null(frame);
        size_t len = cframe(frame, FIN | LR_WS_OP_BINARY, payload, n);
        /* every boundary for small frames; the header bytes and a stride
         * through the payload for the big ones (each check copies it). */
        check_every_split(frame, len, n, n > 1000 ? 997 : 1);
        free(frame);
        free(payload);
    }
}

static void test_back_to_back_frames_in_one_buffer(void **state)
{
    uint8_t buf[512];
    size_t len = 0;
    len += cframe_s(buf + len, FIN | LR_WS_OP_TEXT, "one");
    len += cframe_s(buf + len, FIN | LR_WS_OP_PING, "p");
    len += cframe_s(buf + len, FIN | LR_WS_OP_BINARY, "three");
    size_t partial = cframe_s(buf + len, FIN | LR_WS_OP_TEXT, "four");
    len += partial - 2; /* last frame cut short */
    lr_ws_parser p;
    lr_ws_parser_init(&p, true, MAX_MSG);
    recorded r = {0};
    assert_int_equal(feed(&p, buf, len, &r), 1);
    assert_int_equal(r.count, 3);
    assert_int_equal(r.kind[0], LR_WS_EV_MESSAGE);
    assert_memory_equal(r.data[0], "one", 3);
    assert_int_equal(r.kind[1], LR_WS_EV_PING);
    assert_int_equal(r.opcode[2], LR_WS_OP_BINARY);
    assert_memory_equal(r.data[2], "three", 5);
    recorded_free(&r);
    lr_ws_parser_free(&p);
}

/* ---- pings and pongs (Autobahn 2.x) ---- */

static void test_ping_and_pong_payloads_up_to_125(void **state)
{
    uint8_t payload[125], buf[200];
    memset(payload, 0xfe, sizeof payload);
    const size_t ok[] = {0, 1, 125};
    for (size_t i = 0; i < LR_ARRAY_LEN(ok); i++) {
        lr_ws_event ev;
        size_t len = cframe(buf, FIN | LR_WS_OP_PING, payload, ok[i]);
        assert_int_equal(parse_one(true, buf, len, &ev), 1);
        assert_int_equal(ev.kind, LR_WS_EV_PING);
        assert_int_equal(ev.len, ok[i]);
        if (ok[i]) assert_memory_equal(ev.data, payload, ok[i]);
        len = cframe(buf, FIN | LR_WS_OP_PONG, payload, ok[i]);
        assert_int_equal(parse_one(true, buf, len, &ev), 1);
        assert_int_equal(ev.kind, LR_WS_EV_PONG);
        assert_int_equal(ev.len, ok[i]);
    }
}

static void test_control_frame_over_125_is_refused_at_header(void **state)
{
    const int ops[] = {LR_WS_OP_PING, LR_WS_OP_PONG, LR_WS_OP_CLOSE};
    for (size_t i = 0; i < LR_ARRAY_LEN(ops); i++) {
        uint8_t buf[300];
        uint8_t payload[126] = {0x03, 0xe8};
        cframe(buf, FIN | (uint8_t)ops[i], payload, 126);
        lr_ws_event ev;
        assert_int_equal(parse_one(true, buf, 2, &ev), -1002); /* two bytes suffice */
    }
}

static void test_fragmented_control_frame_is_refused(void **state)
{
    const int ops[] = {LR_WS_OP_PING, LR_WS_OP_PONG, LR_WS_OP_CLOSE};
    for (size_t i = 0; i < LR_ARRAY_LEN(ops); i++) {
        uint8_t buf[32];
        size_t len = cframe_s(buf, (uint8_t)ops[i], "");
        lr_ws_event ev;
        assert_int_equal(parse_one(true, buf, len, &ev), -1002);
    }
}

/* ---- reserved bits and opcodes (Autobahn 3.x, 4.x) ---- */

static void test_reserved_bits_are_protocol_errors(void **state)
{
    const int ops[] = {LR_WS_OP_TEXT, LR_WS_OP_BINARY, LR_WS_OP_PING, LR_WS_OP_CLOSE};
    for (int rsv = 1; rsv <= 7; rsv++) {
        for (size_t i = 0; i < LR_ARRAY_LEN(ops); i++) {
            uint8_t buf[32];
            size_t len = cframe_s(buf, (uint8_t)(FIN | rsv << 4 | ops[i]), "");
            lr_ws_event ev;
            assert_int_equal(parse_one(true, buf, len, &ev), -1002);
            assert_int_equal(parse_one(true, buf, 2, &ev), -1002);
        }
    }
}

static void test_reserved_opcodes_are_protocol_errors(void **state)
{
    const int ops[] = {3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf};
    for (size_t i = 0; i < LR_ARRAY_LEN(ops); i++) {
        uint8_t buf[32];
        size_t len = cframe_s(buf, (uint8_t)(FIN | ops[i]), "x");
        lr_ws_event ev;
        assert_int_equal(parse_one(true, buf, len, &ev), -1002);
        assert_int_equal(parse_one(true, buf, 2, &ev), -1002);
    }
}

/* ---- fragmentation (Autobahn 5.x) ---- */

static void check_text_in_fragments(const char *msg, size_t pieces, int opcode)
{
    size_t n = strlen(msg);
    uint8_t buf[4096];
    size_t len = 0, at = 0;
    for (size_t i = 0; i < pieces; i++) {
        size_t end = (i + 1 == pieces) ? n : n * (i + 1) / pieces;
        uint8_t b0 = (uint8_t)((i == 0 ? opcode : LR_WS_OP_CONT) | (i + 1 == pieces ? FIN : 0));
        len += cframe(buf + len, b0, msg + at, end - at);
        at = end;
    }
    lr_ws_parser p;
    lr_ws_parser_init(&p, true, MAX_MSG);
    recorded r = {0};
    assert_int_equal(feed(&p, buf, len, &r), 0);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.kind[0], LR_WS_EV_MESSAGE);
    assert_int_equal(r.opcode[0], opcode);
    assert_int_equal(r.len[0], n);
    assert_memory_equal(r.data[0], msg, n);
    recorded_free(&r);
    lr_ws_parser_free(&p);
}

static void test_message_in_one_to_n_fragments(void **state)
{
    const char *msg = "Hello, \xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 world \xf0\x9f\x98\x80!";
    for (size_t k = 1; k <= strlen(msg); k++) {
        check_text_in_fragments(msg, k, LR_WS_OP_TEXT);
        check_text_in_fragments(msg, k, LR_WS_OP_BINARY);
    }
}

static void test_empty_fragments_make_a_message(void **state)
{
    uint8_t buf[64];
    size_t len = cframe_s(buf, LR_WS_OP_TEXT, "");
    len += cframe_s(buf + len, LR_WS_OP_CONT, "");
    len += cframe_s(buf + len, FIN | LR_WS_OP_CONT, "");
    lr_ws_parser p;
    lr_ws_parser_init(&p, true, MAX_MSG);
    recorded r = {0};
    assert_int_equal(feed(&p, buf, len, &r), 0);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.len[0], 0);
    recorded_free(&r);

    /* empty first fragments, then everything in the last */
    len = cframe_s(buf, LR_WS_OP_BINARY, "");
    len += cframe_s(buf + len, FIN | LR_WS_OP_CONT, "tail");
    assert_int_equal(feed(&p, buf, len, &r), 0);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.len[0], 4);
    assert_memory_equal(r.data[0], "tail", 4);
    recorded_free(&r);
    lr_ws_parser_free(&p);
}

static void test_control_frames_between_fragments(void **state)
{
    uint8_t buf[512];
    size_t len = cframe_s(buf, LR_WS_OP_TEXT, "frag1 ");
    len += cframe_s(buf + len, FIN | LR_WS_OP_PING, "ping");
    len += cframe_s(buf + len, LR_WS_OP_CONT, "frag2 ");
    len += cframe_s(buf + len, FIN | LR_WS_OP_PONG, "pong");
    len += cframe_s(buf + len, FIN | LR_WS_OP_CONT, "frag3");
    lr_ws_parser p;
    lr_ws_parser_init(&p, true, MAX_MSG);
    recorded r = {0};
    assert_int_equal(feed(&p, buf, len, &r), 0);
    assert_int_equal(r.count, 3);
    assert_int_equal(r.kind[0], LR_WS_EV_PING);
    assert_memory_equal(r.data[0], "ping", 4);
    assert_int_equal(r.kind[1], LR_WS_EV_PONG);
    assert_int_equal(r.kind[2], LR_WS_EV_MESSAGE);
    assert_int_equal(r.len[2], 17);
    assert_memory_equal(r.data[2], "frag1 frag2 frag3", 17);
    recorded_free(&r);

    /* a close may also arrive mid-message */
    len = cframe_s(buf, LR_WS_OP_TEXT, "a");
    uint8_t cp[2] = {0x03, 0xe8};
    len += cframe(buf + len, FIN | LR_WS_OP_CLOSE, cp, 2);
    assert_int_equal(feed(&p, buf, len, &r), 0);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.kind[0], LR_WS_EV_CLOSE);
    assert_int_equal(r.code[0], 1000);
    recorded_free(&r);
    lr_ws_parser_free(&p);
}

static void test_continuation_without_start_is_refused(void **state)
{
    uint8_t buf[32];
    lr_ws_event ev;
    size_t len = cframe_s(buf, FIN | LR_WS_OP_CONT, "x");
    assert_int_equal(parse_one(true, buf, len, &ev), -1002);
    len = cframe_s(buf, LR_WS_OP_CONT, "x");
    assert_int_equal(parse_one(true, buf, len, &ev), -1002);
}

static void test_new_message_inside_fragmented_one_is_refused(void **state)
{
    const uint8_t second[] = {LR_WS_OP_TEXT, FIN | LR_WS_OP_TEXT, LR_WS_OP_BINARY,
                              FIN | LR_WS_OP_BINARY};
    for (size_t i = 0; i < LR_ARRAY_LEN(second); i++) {
        uint8_t buf[64];
        size_t len = cframe_s(buf, LR_WS_OP_TEXT, "start");
        len += cframe_s(buf + len, second[i], "again");
        lr_ws_parser p;
        lr_ws_parser_init(&p, true, MAX_MSG);
        recorded r = {0};
        assert_int_equal(feed(&p, buf, len, &r), -1002);
        assert_int_equal(r.count, 0);
        lr_ws_parser_free(&p);
    }
}

static void test_fragments_over_max_message_are_1009_before_payload(void **state)
{
    size_t max = 1000;
    uint8_t *payload = pattern(max);
    uint8_t *buf = malloc(2 * max + 64);
    assert_non_null(buf);

    /* exactly max in two fragments is fine */
    size_t len = cframe(buf, LR_WS_OP_BINARY, payload, 600);
    len += cframe(buf + len, FIN | LR_WS_OP_CONT, payload + 600, max - 600);
    lr_ws_parser p;
    lr_ws_parser_init(&p, true, max);
    recorded r = {0};
    assert_int_equal(feed(&p, buf, len, &r), 0);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.len[0], max);
    assert_memory_equal(r.data[0], payload, max);
    recorded_free(&r);

    /* one more byte: refused when the second header arrives, payload or not */
    size_t first = cframe(buf, LR_WS_OP_BINARY, payload, 600);
    size_t second = cframe(buf + first, FIN | LR_WS_OP_CONT, payload, max - 600 + 1);
    (void)second;
    size_t used = 0;
    lr_ws_event ev;
    assert_int_equal(lr_ws_parse(&p, buf, first, &used, &ev), 0);
    assert_int_equal(used, first);
    assert_int_equal(lr_ws_parse(&p, buf + first, 4, &used, &ev), -1009);
    lr_ws_parser_free(&p);
    free(buf);
    free(payload);
}

static void test_reassembly_buffer_released_after_delivery(void **state)
{
    uint8_t buf[64];
    size_t len = cframe_s(buf, LR_WS_OP_TEXT, "ab");
    len += cframe_s(buf + len, FIN | LR_WS_OP_CONT, "cd");
    lr_ws_parser p;
    lr_ws_parser_init(&p, true, MAX_MSG);
    assert_int_equal(p.frag.cap, 0);
    recorded r = {0};
    assert_int_equal(feed(&p, buf, len, &r), 0);
    assert_int_equal(r.count, 1);
    recorded_free(&r);
    size_t used;
    lr_ws_event ev;
    assert_int_equal(lr_ws_parse(&p, buf, 0, &used, &ev), 0);
    assert_int_equal(p.frag.cap, 0);
    assert_null(p.frag.p);
    lr_ws_parser_free(&p);
}

/* ---- UTF-8 (Autobahn 6.x) ---- */

typedef struct utf8_case {
    const char *s;
    bool valid;
} utf8_case;

static const utf8_case UTF8_CASES[] = {
    {"", true},
    {"plain ascii text, longer than eight bytes", true},
    {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true}, /* κόσμε */
    {"\xc2\x80", true},                                     /* U+0080 */
    {"\xdf\xbf", true},                                     /* U+07FF */
    {"\xe0\xa0\x80", true},                                 /* U+0800 */
    {"\xed\x9f\xbf", true},                                 /* U+D7FF */
    {"\xee\x80\x80", true},                                 /* U+E000 */
    {"\xef\xbf\xbd", true},                                 /* U+FFFD */
    {"\xef\xbf\xbf", true},                                 /* U+FFFF noncharacter is valid */
    {"\xf0\x90\x80\x80", true},                             /* U+10000 */
    {"\xf4\x8f\xbf\xbf", true},                             /* U+10FFFF */
    {"abcdefg\xf0\x9f\x98\x80"
     "abcdefgh",
     true},
    {"\x80", false}, /* lone continuations */
    {"\xbf", false},
    {"a\x80"
     "bcdefghij",
     false},
    {"\xc0\x80", false}, /* overlongs */
    {"\xc0\xaf", false},
    {"\xc1\xbf", false},
    {"\xe0\x80\xaf", false},
    {"\xe0\x9f\xbf", false},
    {"\xf0\x80\x80\xaf", false},
    {"\xf0\x8f\xbf\xbf", false},
    {"\xf8\x88\x80\x80\x80", false},
    {"\xed\xa0\x80", false}, /* surrogates */
    {"\xed\xbf\xbf", false},
    {"\xed\xa0\x80\xed\xb0\x80", false},
    {"\xf4\x90\x80\x80", false}, /* above U+10FFFF */
    {"\xf5\x80\x80\x80", false},
    {"\xf7\xbf\xbf\xbf", false},
    {"\xfe", false},
    {"\xff", false},
    {"\xc2", false}, /* truncated */
    {"\xe2\x82", false},
    {"\xf0\x9f\x98", false},
    {"\xc2"
     "A",
     false},
    {"\xe2\x82"
     "A",
     false},
    {"\xf0\x9f\x98\x80\x80", false},
};

static void test_utf8_valid_table(void **state)
{
    for (size_t i = 0; i < LR_ARRAY_LEN(UTF8_CASES); i++) {
        const utf8_case *c = &UTF8_CASES[i];
        if (lr_utf8_valid((const uint8_t *)c->s, strlen(c->s)) != c->valid)
            fail_msg("case %zu expected %s", i, c->valid ? "valid" : "invalid");
    }
}

/* Reference encoder: every scalar value must validate, every surrogate not. */
static size_t encode_cp(uint32_t cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

static void test_utf8_every_code_point(void **state)
{
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        uint8_t b[4];
        size_t n = encode_cp(cp, b);
        bool want = cp < 0xd800 || cp > 0xdfff;
        if (lr_utf8_valid(b, n) != want) fail_msg("U+%04X", cp);
        /* and every proper prefix of a multi-byte sequence is incomplete */
        for (size_t k = 1; want && k < n; k++) {
            uint32_t st = 0;
            assert_true(lr_utf8_feed(&st, b, k));
            assert_int_not_equal(st, 0);
            assert_true(lr_utf8_feed(&st, b + k, n - k));
            assert_int_equal(st, 0);
        }
    }
}

static void test_utf8_feed_fails_at_first_impossible_byte(void **state)
{
    uint32_t st = 0;
    assert_true(lr_utf8_feed(&st, (const uint8_t *)"ok \xed", 4));
    assert_false(lr_utf8_feed(&st, (const uint8_t *)"\xa0", 1)); /* surrogate */
    assert_false(lr_utf8_feed(&st, (const uint8_t *)"a", 1));    /* stays failed */
    st = 0;
    assert_true(lr_utf8_feed(&st, (const uint8_t *)"\xf4", 1));
    assert_false(lr_utf8_feed(&st, (const uint8_t *)"\x90", 1));
    st = 0;
    assert_false(lr_utf8_feed(&st, (const uint8_t *)"\xc0", 1));
}

static void test_text_frame_with_invalid_utf8_is_1007(void **state)
{
    for (size_t i = 0; i < LR_ARRAY_LEN(UTF8_CASES); i++) {
        const utf8_case *c = &UTF8_CASES[i];
        uint8_t buf[128];
        size_t len = cframe_s(buf, FIN | LR_WS_OP_TEXT, c->s);
        lr_ws_event ev;
        assert_int_equal(parse_one(true, buf, len, &ev), c->valid ? 1 : -1007);
        /* the same bytes are fine as binary */
        len = cframe_s(buf, FIN | LR_WS_OP_BINARY, c->s);
        assert_int_equal(parse_one(true, buf, len, &ev), 1);
    }
}

/* Each UTF-8 case split into one fragment per byte: valid ones arrive
 * whole, invalid ones fail with 1007 no later than the impossible byte. */
static void test_utf8_split_across_fragments(void **state)
{
    for (size_t i = 0; i < LR_ARRAY_LEN(UTF8_CASES); i++) {
        const utf8_case *c = &UTF8_CASES[i];
        size_t n = strlen(c->s);
        uint8_t buf[1024];
        size_t len = 0;
        for (size_t k = 0; k < n; k++) {
            uint8_t b0 = k == 0 ? LR_WS_OP_TEXT : LR_WS_OP_CONT;
            len += cframe(buf + len, b0, c->s + k, 1);
        }
        len += cframe(buf + len, FIN | (n ? LR_WS_OP_CONT : LR_WS_OP_TEXT), "", 0);
        lr_ws_parser p;
        lr_ws_parser_init(&p, true, MAX_MSG);
        recorded r = {0};
        assert_int_equal(feed(&p, buf, len, &r), c->valid ? 0 : -1007);
        assert_int_equal(r.count, c->valid ? 1 : 0);
        if (c->valid && n) assert_memory_equal(r.data[0], c->s, n);
        recorded_free(&r);
        lr_ws_parser_free(&p);
    }
}

static void test_invalid_utf8_detected_at_the_fragment_not_the_end(void **state)
{
    /* fragment 1 valid ending in a lead byte, fragment 2 makes a surrogate,
     * fragment 3 never needs to arrive */
    uint8_t buf[128];
    size_t f1 = cframe_s(buf, LR_WS_OP_TEXT, "\xce\xba\xe1\xbd\xb9\xed");
    size_t f2 = cframe_s(buf + f1, LR_WS_OP_CONT,
                         "\xa0\x80"
                         "edited");
    lr_ws_parser p;
    lr_ws_parser_init(&p, true, MAX_MSG);
    size_t used;
    lr_ws_event ev;
    assert_int_equal(lr_ws_parse(&p, buf, f1, &used, &ev), 0);
    assert_int_equal(used, f1);
    assert_int_equal(lr_ws_parse(&p, buf + f1, f2, &used, &ev), -1007);
    lr_ws_parser_free(&p);

    /* a first fragment that is already impossible fails by itself */
    f1 = cframe_s(buf, LR_WS_OP_TEXT, "hello\xf8");
    lr_ws_parser_init(&p, true, MAX_MSG);
    assert_int_equal(lr_ws_parse(&p, buf, f1, &used, &ev), -1007);
    lr_ws_parser_free(&p);

    /* a message that ends in the middle of a sequence fails at FIN */
    f1 = cframe_s(buf, LR_WS_OP_TEXT, "\xe2");
    f2 = cframe_s(buf + f1, FIN | LR_WS_OP_CONT, "\x82");
    lr_ws_parser_init(&p, true, MAX_MSG);
    recorded r = {0};
    assert_int_equal(feed(&p, buf, f1 + f2, &r), -1007);
    lr_ws_parser_free(&p);
}

static void test_valid_sequence_split_across_fragments_is_accepted(void **state)
{
    uint8_t buf[128];
    size_t len = cframe_s(buf, LR_WS_OP_TEXT, "price \xe2");
    len += cframe_s(buf + len, LR_WS_OP_CONT, "\x82");
    len += cframe_s(buf + len, FIN | LR_WS_OP_CONT, "\xac 5");
    lr_ws_parser p;
    lr_ws_parser_init(&p, true, MAX_MSG);
    recorded r = {0};
    assert_int_equal(feed(&p, buf, len, &r), 0);
    assert_int_equal(r.count, 1);
    assert_memory_equal(r.data[0], "price \xe2\x82\xac 5", 11);
    recorded_free(&r);
    lr_ws_parser_free(&p);
}

/* ---- limits (Autobahn 9.x) ---- */

static void test_declared_length_over_max_refused_at_header(void **state)
{
    uint8_t h[LR_WS_MAX_HEADER];
    const uint8_t m[4] = {1, 2, 3, 4};
    lr_ws_parser p;
    size_t used;
    lr_ws_event ev;

    /* only the header has arrived */
    size_t hl = lr_ws_client_header_encode(h, LR_WS_OP_BINARY, (uint64_t)1 << 40, m);
    lr_ws_parser_init(&p, true, MAX_MSG);
    assert_int_equal(lr_ws_parse(&p, h, hl, &used, &ev), -1009);
    assert_int_equal(lr_ws_parse(&p, h, 10, &used, &ev), -1009); /* even before the mask */
    lr_ws_parser_free(&p);

    hl = lr_ws_client_header_encode(h, LR_WS_OP_TEXT, 1001, m);
    lr_ws_parser_init(&p, true, 1000);
    assert_int_equal(lr_ws_parse(&p, h, 4, &used, &ev), -1009);
    lr_ws_parser_free(&p);

    /* exactly the limit is accepted */
    uint8_t *payload = pattern(MAX_MSG + 1);
    uint8_t *buf = malloc(MAX_MSG + 15);
    assert_non_null(buf);
    lr_ws_parser_init(&p, true, MAX_MSG);
    size_t len = cframe(buf, FIN | LR_WS_OP_BINARY, payload, MAX_MSG);
    assert_int_equal(lr_ws_parse(&p, buf, len, &used, &ev), 1);
    assert_int_equal(used, len);
    len = cframe(buf, FIN | LR_WS_OP_BINARY, payload, MAX_MSG + 1);
    assert_int_equal(lr_ws_parse(&p, buf, len, &used, &ev), -1009);
    lr_ws_parser_free(&p);
    free(buf);
    free(payload);
}

/* ---- close (Autobahn 7.x) ---- */

static int parse_close(const uint8_t *payload, size_t n, lr_ws_event *ev, uint8_t *buf)
{
    size_t len = cframe(buf, FIN | LR_WS_OP_CLOSE, payload, n);
    return parse_one(true, buf, len, ev);
}

static void test_close_payload_forms(void **state)
{
    uint8_t buf[256];
    lr_ws_event ev;
    assert_int_equal(parse_close(NULL, 0, &ev, buf), 1);
    assert_int_equal(ev.kind, LR_WS_EV_CLOSE);
    assert_int_equal(ev.close_code, 1005);
    assert_int_equal(ev.len, 0);

    const uint8_t code_only[] = {0x03, 0xe8};
    assert_int_equal(parse_close(code_only, 2, &ev, buf), 1);
    assert_int_equal(ev.close_code, 1000);
    assert_int_equal(ev.len, 2);

    const uint8_t with_reason[] = {0x03, 0xe9, 'b', 'y', 'e', 0xc3, 0xa9};
    assert_int_equal(parse_close(with_reason, sizeof with_reason, &ev, buf), 1);
    assert_int_equal(ev.close_code, 1001);
    assert_int_equal(ev.len, sizeof with_reason);
    assert_memory_equal(ev.data, with_reason, sizeof with_reason);

    uint8_t longest[125];
    memset(longest, 'r', sizeof longest);
    longest[0] = 0x0f;
    longest[1] = 0xa0; /* 4000 */
    assert_int_equal(parse_close(longest, 125, &ev, buf), 1);
    assert_int_equal(ev.close_code, 4000);

    const uint8_t one[] = {0x03};
    assert_int_equal(parse_close(one, 1, &ev, buf), -1002);
}

static void test_close_codes(void **state)
{
    const unsigned bad[] = {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
    const unsigned good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                             1010, 1011, 3000, 3999, 4000, 4999};
    uint8_t buf[64];
    lr_ws_event ev;
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++) {
        uint8_t pl[2] = {(uint8_t)(bad[i] >> 8), (uint8_t)bad[i]};
        if (parse_close(pl, 2, &ev, buf) != -1002) fail_msg("code %u accepted", bad[i]);
    }
    for (size_t i = 0; i < LR_ARRAY_LEN(good); i++) {
        uint8_t pl[2] = {(uint8_t)(good[i] >> 8), (uint8_t)good[i]};
        if (parse_close(pl, 2, &ev, buf) != 1) fail_msg("code %u refused", good[i]);
        assert_int_equal(ev.close_code, good[i]);
    }
}

static void test_close_reason_must_be_utf8(void **state)
{
    const uint8_t bad[] = {0x03, 0xe8, 'a', 0xed, 0xa0, 0x80};
    const uint8_t cut[] = {0x03, 0xe8, 0xe2, 0x82};
    uint8_t buf[64];
    lr_ws_event ev;
    assert_int_equal(parse_close(bad, sizeof bad, &ev, buf), -1007);
    assert_int_equal(parse_close(cut, sizeof cut, &ev, buf), -1007);
}

static void test_close_payload_builder_truncates_on_char_boundary(void **state)
{
    /* "é" repeated, once starting at an even offset and once after an ASCII
     * byte, so the 123-byte cut falls inside a character and between two */
    char reason[400];
    reason[0] = 'a';
    for (size_t i = 1; i + 2 < sizeof reason; i += 2) {
        reason[i] = '\xc3';
        reason[i + 1] = '\xa9';
    }
    reason[sizeof reason - 1] = '\0';
    const struct {
        const char *s;
        size_t want;
    } cases[] = {{reason + 1, 2 + 122}, {reason, 2 + 123}};
    for (size_t i = 0; i < LR_ARRAY_LEN(cases); i++) {
        uint8_t out[125];
        size_t len = lr_ws_close_payload(out, 1008, cases[i].s);
        assert_int_equal(len, cases[i].want);
        assert_int_equal(out[0] << 8 | out[1], 1008);
        assert_true(lr_utf8_valid(out + 2, len - 2));
        /* and what we build, we parse */
        uint8_t buf[160];
        lr_ws_event ev;
        assert_int_equal(parse_close(out, len, &ev, buf), 1);
        assert_int_equal(ev.close_code, 1008);
    }
    uint8_t out[125];
    assert_int_equal(lr_ws_close_payload(out, 1000, NULL), 2);
    assert_int_equal(lr_ws_close_payload(out, 1000, "bye"), 5);
    assert_memory_equal(out + 2, "bye", 3);
    memset(reason, 'x', 123);
    reason[123] = '\0';
    assert_int_equal(lr_ws_close_payload(out, 1000, reason), 125);
}

/* ---- masking direction ---- */

static void test_unmasked_frame_to_server_is_refused(void **state)
{
    uint8_t buf[32];
    size_t len = build(buf, FIN | LR_WS_OP_TEXT, false, "hi", 2);
    lr_ws_event ev;
    assert_int_equal(parse_one(true, buf, len, &ev), -1002);
    len = build(buf, FIN | LR_WS_OP_PING, false, "", 0);
    assert_int_equal(parse_one(true, buf, len, &ev), -1002);
}

static void test_masked_frame_to_client_is_refused(void **state)
{
    uint8_t buf[32];
    size_t len = build(buf, FIN | LR_WS_OP_TEXT, true, "hi", 2);
    lr_ws_event ev;
    assert_int_equal(parse_one(false, buf, len, &ev), -1002);
    len = build(buf, FIN | LR_WS_OP_TEXT, false, "hi", 2);
    assert_int_equal(parse_one(false, buf, len, &ev), 1);
    assert_memory_equal(ev.data, "hi", 2);
}

static void test_short_input_is_incomplete(void **state)
{
    uint8_t buf[16] = {FIN | LR_WS_OP_TEXT, 0x80 | 126, 0x01};
    lr_ws_parser p;
    lr_ws_parser_init(&p, true, MAX_MSG);
    size_t used = 7;
    lr_ws_event ev;
    assert_int_equal(lr_ws_parse(&p, buf, 0, &used, &ev), 0);
    assert_int_equal(used, 0);
    assert_int_equal(lr_ws_parse(&p, buf, 1, &used, &ev), 0);
    assert_int_equal(lr_ws_parse(&p, buf, 3, &used, &ev), 0);
    assert_int_equal(used, 0);
    lr_ws_parser_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key_matches_rfc6455_example),
        cmocka_unit_test(test_header_encode_uses_minimal_length_forms),
        cmocka_unit_test(test_server_frames_round_trip_through_client_parser),
        cmocka_unit_test(test_client_frames_round_trip_through_server_parser),
        cmocka_unit_test(test_mask_in_pieces_equals_mask_at_once),
        cmocka_unit_test(test_every_length_boundary_parses),
        cmocka_unit_test(test_non_minimal_length_encodings_are_refused),
        cmocka_unit_test(test_frames_split_at_every_byte_boundary),
        cmocka_unit_test(test_back_to_back_frames_in_one_buffer),
        cmocka_unit_test(test_ping_and_pong_payloads_up_to_125),
        cmocka_unit_test(test_control_frame_over_125_is_refused_at_header),
        cmocka_unit_test(test_fragmented_control_frame_is_refused),
        cmocka_unit_test(test_reserved_bits_are_protocol_errors),
        cmocka_unit_test(test_reserved_opcodes_are_protocol_errors),
        cmocka_unit_test(test_message_in_one_to_n_fragments),
        cmocka_unit_test(test_empty_fragments_make_a_message),
        cmocka_unit_test(test_control_frames_between_fragments),
        cmocka_unit_test(test_continuation_without_start_is_refused),
        cmocka_unit_test(test_new_message_inside_fragmented_one_is_refused),
        cmocka_unit_test(test_fragments_over_max_message_are_1009_before_payload),
        cmocka_unit_test(test_reassembly_buffer_released_after_delivery),
        cmocka_unit_test(test_utf8_valid_table),
        cmocka_unit_test(test_utf8_every_code_point),
        cmocka_unit_test(test_utf8_feed_fails_at_first_impossible_byte),
        cmocka_unit_test(test_text_frame_with_invalid_utf8_is_1007),
        cmocka_unit_test(test_utf8_split_across_fragments),
        cmocka_unit_test(test_invalid_utf8_detected_at_the_fragment_not_the_end),
        cmocka_unit_test(test_valid_sequence_split_across_fragments_is_accepted),
        cmocka_unit_test(test_declared_length_over_max_refused_at_header),
        cmocka_unit_test(test_close_payload_forms),
        cmocka_unit_test(test_close_codes),
        cmocka_unit_test(test_close_reason_must_be_utf8),
        cmocka_unit_test(test_close_payload_builder_truncates_on_char_boundary),
        cmocka_unit_test(test_unmasked_frame_to_server_is_refused),
        cmocka_unit_test(test_masked_frame_to_client_is_refused),
        cmocka_unit_test(test_short_input_is_incomplete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
