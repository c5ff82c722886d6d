/*
 * test_bench_wire.c proves the load generator reads and writes the engine's
 * wire formats correctly: numbered bodies round-trip and are found inside
 * any wrapping; the field scanner reads replies and pushes in JSON and
 * msgpack whatever the key order and whatever nested values sit between the
 * fields; requests it writes are what the engine's own decoder accepts;
 * client frames unmask to the original payload; the upgrade check accepts
 * only a 101 with the right Sec-WebSocket-Accept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../bench/wire.c"

static void body_round_trips_and_is_padded_to_size(void **state)
{
    (void)state;
    char buf[256];
    bench_body in = {7, 123456789, 98765432101ull}, out;
    size_t n = bench_body_make(buf, sizeof(buf), &in, 100);
    assert_int_equal(n, 100);
    assert_memory_equal(buf, "LRB1,7,123456789,98765432101,", 29);
    assert_int_equal(buf[99], 'x');
    assert_true(bench_body_parse(buf, n, &out));
    assert_int_equal(out.pub, 7);
    assert_int_equal(out.seq, 123456789);
    assert_int_equal(out.sent_us, 98765432101ull);
}

static void body_smaller_than_its_numbers_still_carries_them(void **state)
{
    (void)state;
    char buf[64];
    bench_body in = {1, 2, 3}, out;
    size_t n = bench_body_make(buf, sizeof(buf), &in, 1);
    assert_int_equal(n, strlen("LRB1,1,2,3,"));
    assert_true(bench_body_parse(buf, n, &out));
    assert_int_equal(bench_body_make(buf, 8, &in, 1), 0);
}

static void body_is_found_inside_a_relay_wrapper(void **state)
{
    (void)state;
    const char *wrapped = "{\"from\":\"x\",\"data\":\"LRB1,3,44,555,xxxx\"}";
    bench_body b;
    assert_true(bench_body_find((const uint8_t *)wrapped, strlen(wrapped), &b));
    assert_int_equal(b.pub, 3);
    assert_int_equal(b.seq, 44);
    assert_int_equal(b.sent_us, 555);
    assert_false(bench_body_find((const uint8_t *)"LRB1,3,44", 9, &b));
    assert_false(bench_body_find((const uint8_t *)"hello", 5, &b));
}

static void json_scanner_reads_fields_past_nested_values(void **state)
{
    (void)state;
    const char *js =
        " { \"history\" : [ {\"op\":\"msg\",\"seq\":99,\"s\":\"}]\\\"\"} ] , \"x\":1.5e3,"
        "\"n\":null,\"op\":\"msg\", \"seq\":42,\"pri\":\"low\",\"t\":true,"
        "\"body\":\"LRB1,1,2,3,\",\"code\":-5,\"limited\":true,\"id\":7 } ";
    bench_push m;
    assert_int_equal(bench_push_scan_json((const uint8_t *)js, strlen(js), &m), 0);
    assert_true(lr_str_eq_c(m.op, "msg"));
    assert_true(m.has_seq);
    assert_int_equal(m.seq, 42);
    assert_true(lr_str_eq_c(m.pri, "low"));
    assert_true(m.has_body);
    assert_true(lr_str_eq_c(m.body, "LRB1,1,2,3,"));
    assert_int_equal(m.code, -5);
    assert_true(m.limited);
    assert_true(m.has_id);
    assert_int_equal(m.id, 7);
}

static void json_scanner_rejects_what_is_not_an_object(void **state)
{
    (void)state;
    bench_push m;
    const char *bad[] = {"[1,2]", "{\"op\":\"ok\"", "{\"op\" \"ok\"}", "{\"op\":tru}",
                         "",      "{\"a\":1,}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(bench_push_scan_json((const uint8_t *)bad[i], strlen(bad[i]), &m),
                         LR_EINVAL);
    assert_int_equal(bench_push_scan_json((const uint8_t *)"{}", 2, &m), 0);
    assert_int_equal(m.op.len, 0);
}

/* A push as the engine writes it, with a nested history array first. */
static void encode_push(lr_buf *b, bool json)
{
    lr_enc e;
    lr_enc_init(&e, b, json);
    lr_enc_map(&e, 7);
    lr_enc_key(&e, "history");
    lr_enc_array(&e, 1);
    lr_enc_map(&e, 2);
    lr_enc_key(&e, "seq");
    lr_enc_u64(&e, 1);
    lr_enc_key(&e, "nested");
    lr_enc_bool(&e, false);
    lr_enc_map_end(&e);
    lr_enc_array_end(&e);
    lr_enc_key(&e, "op");
    lr_enc_cstr(&e, "ok");
    lr_enc_key(&e, "id");
    lr_enc_u64(&e, 70000);
    lr_enc_key(&e, "seq");
    lr_enc_u64(&e, 5000000000ull);
    lr_enc_key(&e, "code");
    lr_enc_i64(&e, -70001);
    lr_enc_key(&e, "body");
    lr_enc_body(&e, LR_BODY_STR, "LRB1,9,8,7,", 11);
    lr_enc_key(&e, "limited");
    lr_enc_bool(&e, true);
    lr_enc_map_end(&e);
    assert_int_equal(lr_enc_finish(&e), 0);
}

static void both_scanners_read_the_engines_own_encoding(void **state)
{
    (void)state;
    for (int json = 0; json <= 1; json++) {
        lr_buf b = {0};
        bench_push m;
        encode_push(&b, json);
        int rc =
            json ? bench_push_scan_json(b.p, b.len, &m) : bench_push_scan_msgpack(b.p, b.len, &m);
        assert_int_equal(rc, 0);
        assert_true(lr_str_eq_c(m.op, "ok"));
        assert_int_equal(m.id, 70000);
        assert_int_equal(m.seq, 5000000000ull);
        assert_int_equal(m.code, -70001);
        assert_true(lr_str_eq_c(m.body, "LRB1,9,8,7,"));
        assert_true(m.limited);
        lr_buf_free(&b);
    }
}

static void msgpack_scanner_rejects_truncation_at_every_length(void **state)
{
    (void)state;
    lr_buf b = {0};
    bench_push m;
    encode_push(&b, false);
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(bench_push_scan_msgpack(b.p, n, &m), LR_EINVAL);
    const uint8_t not_map[] = {0x93, 1, 2, 3};
    assert_int_equal(bench_push_scan_msgpack(not_map, sizeof(not_map), &m), LR_EINVAL);
    lr_buf_free(&b);
}

static void send_request_is_what_the_engine_decodes(void **state)
{
    (void)state;
    for (int json = 0; json <= 1; json++) {
        lr_buf b = {0};
        lr_req req;
        assert_int_equal(bench_req_send(&b, json, 77, LR_STR_LIT("room-1"),
                                        LR_STR_LIT("LRB1,1,1,1,xx"), LR_PRI_HIGH),
                         0);
        int rc = json ? lr_req_decode_json((const char *)b.p, b.len, &req)
                      : lr_req_decode_msgpack(b.p, b.len, &req);
        assert_int_equal(rc, 0);
        assert_int_equal(req.err, 0);
        assert_int_equal(req.op, LR_OP_SEND);
        assert_int_equal(req.id, 77);
        assert_true(lr_str_eq_c(req.room, "room-1"));
        assert_true(lr_str_eq_c(req.pri, "high"));
        assert_true(lr_str_eq_c(req.body, "LRB1,1,1,1,xx"));
        lr_req_free(&req);
        lr_buf_free(&b);
    }
}

static void login_join_and_ping_are_what_the_engine_decodes(void **state)
{
    (void)state;
    lr_buf b = {0};
    lr_req req;
    assert_int_equal(bench_req_login(&b, false, 1, LR_STR_LIT("u1"), LR_STR_LIT("sig")), 0);
    assert_int_equal(lr_req_decode_msgpack(b.p, b.len, &req), 0);
    assert_int_equal(req.op, LR_OP_LOGIN);
    assert_true(lr_str_eq_c(req.user, "u1"));
    assert_true(lr_str_eq_c(req.sig, "sig"));
    lr_req_free(&req);
    lr_buf_reset(&b);
    assert_int_equal(bench_req_join(&b, false, 2, LR_STR_LIT("r")), 0);
    assert_int_equal(lr_req_decode_msgpack(b.p, b.len, &req), 0);
    assert_int_equal(req.op, LR_OP_JOIN);
    assert_int_equal(req.id, 2);
    lr_req_free(&req);
    lr_buf_reset(&b);
    assert_int_equal(bench_req_ping(&b, true, 3), 0);
    assert_int_equal(lr_req_decode_json((const char *)b.p, b.len, &req), 0);
    assert_int_equal(req.op, LR_OP_PING);
    lr_req_free(&req);
    lr_buf_free(&b);
}

static void client_frames_unmask_to_the_payload(void **state)
{
    (void)state;
    static uint8_t payload[70000];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
    const size_t sizes[] = {0, 5, 125, 126, 65535, 65536, 70000};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        lr_buf out = {0};
        const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
        assert_int_equal(bench_ws_append(&out, LR_WS_OP_BINARY, payload, sizes[k], mask), 0);
        lr_ws_parser p;
        lr_ws_parser_init(&p, true, 1 << 20);
        lr_ws_event ev;
        size_t used = 0;
        assert_int_equal(lr_ws_parse(&p, out.p, out.len, &used, &ev), 1);
        assert_int_equal(used, out.len);
        assert_int_equal(ev.kind, LR_WS_EV_MESSAGE);
        assert_int_equal(ev.opcode, LR_WS_OP_BINARY);
        assert_int_equal(ev.len, sizes[k]);
        if (sizes[k]) assert_memory_equal(ev.data, payload, sizes[k]);
        lr_ws_parser_free(&p);
        lr_buf_free(&out);
    }
}

static void tcp_frames_round_trip_and_wait_for_the_rest(void **state)
{
    (void)state;
    lr_buf out = {0};
    assert_int_equal(bench_tcp_append(&out, (const uint8_t *)"hello", 5), 0);
    assert_int_equal(bench_tcp_append(&out, (const uint8_t *)"", 0), 0);
    const uint8_t *msg = NULL;
    size_t ml = 0, used = 0;
    for (size_t n = 0; n < 9; n++)
        assert_int_equal(bench_tcp_parse(out.p, n, 100, &msg, &ml, &used), 0);
    assert_int_equal(bench_tcp_parse(out.p, out.len, 100, &msg, &ml, &used), 1);
    assert_int_equal(ml, 5);
    assert_memory_equal(msg, "hello", 5);
    assert_int_equal(used, 9);
    assert_int_equal(bench_tcp_parse(out.p + used, out.len - used, 100, &msg, &ml, &used), 1);
    assert_int_equal(ml, 0);
    assert_int_equal(bench_tcp_parse(out.p, out.len, 4, &msg, &ml, &used), LR_ELIMIT);
    lr_buf_free(&out);
}

static void upgrade_needs_101_and_the_right_accept(void **state)
{
    (void)state;
    char accept[29];
    lr_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, accept);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    static const char ok[] =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSEC-WEBSOCKET-ACCEPT:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= "
        "\r\n\r\n\x81\x00";
    size_t len = sizeof(ok) - 1; /* the head, then a 2-byte frame */
    int status;
    assert_int_equal(bench_upgrade_response((const uint8_t *)ok, len, accept, &status),
                     (int)len - 2);
    assert_int_equal(status, 101);
    assert_int_equal(bench_upgrade_response((const uint8_t *)ok, 40, accept, &status), 0);
    assert_int_equal(
        bench_upgrade_response((const uint8_t *)ok, len, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", &status),
        LR_EINVAL);
    const char *no_accept = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    assert_int_equal(
        bench_upgrade_response((const uint8_t *)no_accept, strlen(no_accept), accept, &status),
        LR_EINVAL);
    const char *denied = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(
        bench_upgrade_response((const uint8_t *)denied, strlen(denied), accept, &status),
        LR_EINVAL);
    assert_int_equal(status, 403);
}

static void upgrade_request_carries_query_and_protocol(void **state)
{
    (void)state;
    lr_buf out = {0};
    assert_int_equal(bench_upgrade_request(&out, "127.0.0.1:7070", "/ws", "user=a&room=b",
                                           "liveroom.v1.msgpack", "KEY"),
                     0);
    assert_non_null(memmem(out.p, out.len, "GET /ws?user=a&room=b HTTP/1.1\r\n", 32));
    assert_non_null(memmem(out.p, out.len, "Sec-WebSocket-Protocol: liveroom.v1.msgpack\r\n", 45));
    assert_memory_equal(out.p + out.len - 4, "\r\n\r\n", 4);
    lr_buf_reset(&out);
    assert_int_equal(bench_upgrade_request(&out, "h:1", "/", NULL, NULL, "KEY"), 0);
    assert_non_null(memmem(out.p, out.len, "GET / HTTP/1.1\r\n", 16));
    assert_null(memmem(out.p, out.len, "Protocol", 8));
    lr_buf_free(&out);
}

static void urlencode_escapes_all_but_unreserved(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(bench_urlencode(out, sizeof(out), "aZ9-_.~*+/= &", 13), 25);
    assert_string_equal(out, "aZ9-_.~%2A%2B%2F%3D%20%26");
    assert_int_equal(bench_urlencode(out, 4, "****", 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(body_round_trips_and_is_padded_to_size),
        cmocka_unit_test(body_smaller_than_its_numbers_still_carries_them),
        cmocka_unit_test(body_is_found_inside_a_relay_wrapper),
        cmocka_unit_test(json_scanner_reads_fields_past_nested_values),
        cmocka_unit_test(json_scanner_rejects_what_is_not_an_object),
        cmocka_unit_test(both_scanners_read_the_engines_own_encoding),
        cmocka_unit_test(msgpack_scanner_rejects_truncation_at_every_length),
        cmocka_unit_test(send_request_is_what_the_engine_decodes),
        cmocka_unit_test(login_join_and_ping_are_what_the_engine_decodes),
        cmocka_unit_test(client_frames_unmask_to_the_payload),
        cmocka_unit_test(tcp_frames_round_trip_and_wait_for_the_rest),
        cmocka_unit_test(upgrade_needs_101_and_the_right_accept),
        cmocka_unit_test(upgrade_request_carries_query_and_protocol),
        cmocka_unit_test(urlencode_escapes_all_but_unreserved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
