/*
 * test_codec.c proves the wire codec of PROTOCOL.md §2–§4: every op and field
 * decodes the same from JSON and msgpack, every field rule reports 10004 on
 * the right field, malformed frames are told apart from bad fields, and what
 * lr_enc writes is read back identically by independent parsers (jansson,
 * msgpack-c). Requests in msgpack are built from the same JSON text with
 * msgpack-c's packer, so both formats are held to one expectation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <jansson.h>
#include <msgpack.h>

#include "proto/codec.h"

/* ---- helpers ---- */

static void pack_json(msgpack_packer *pk, const json_t *j)
{
    const char *k;
    size_t klen, idx;
    json_t *v;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        msgpack_pack_map(pk, json_object_size(j));
        json_object_keylen_foreach((json_t *)j, k, klen, v)
        {
            msgpack_pack_str_with_body(pk, k, klen);
            pack_json(pk, v);
        }
        break;
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(j));
        json_array_foreach(j, idx, v) pack_json(pk, v);
        break;
    case JSON_STRING:
        msgpack_pack_str_with_body(pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        msgpack_pack_int64(pk, json_integer_value(j));
        break;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(j));
        break;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        break;
    case JSON_NULL:
        msgpack_pack_nil(pk);
        break;
    }
}

/* The msgpack equivalent of a JSON text (which must parse). */
static void json_to_mp(const char *text, msgpack_sbuffer *sb)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j) fail_msg("test JSON does not parse: %s: %s", text, jerr.text);
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    pack_json(&pk, j);
    json_decref(j);
}

enum { FMT_J, FMT_M };

/* Decode a request given as JSON text, either directly or as msgpack. */
static int decode_as(int fmt, const char *text, lr_req *r)
{
    if (fmt == FMT_J) return lr_req_decode_json(text, strlen(text), r);
    msgpack_sbuffer sb;
    json_to_mp(text, &sb);
    int rc = lr_req_decode_msgpack((const uint8_t *)sb.data, sb.size, r);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void assert_str(lr_str s, const char *want)
{
    if (!lr_str_eq_c(s, want))
        fail_msg("got \"%.*s\", want \"%s\"", (int)s.len, s.p ? s.p : "", want);
}

/* A decoded request must have exactly this error (0 for none). */
static void expect_err(int fmt, const char *text, int code, const char *field)
{
    lr_req r;
    assert_int_equal(decode_as(fmt, text, &r), 0);
    if (r.err != code)
        fail_msg("%s (%s): err %d, want %d", text, fmt == FMT_J ? "json" : "msgpack", r.err, code);
    if (field) assert_string_equal(r.err_field, field);
    lr_req_free(&r);
}

static void expect_err_both(const char *text, int code, const char *field)
{
    expect_err(FMT_J, text, code, field);
    expect_err(FMT_M, text, code, field);
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = 0;
    return s;
}

/* ---- decoding: ops and fields ---- */

static void decode_maps_every_op_name_in_both_formats(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        lr_op op;
    } ops[] = {
        {"login", LR_OP_LOGIN}, {"join", LR_OP_JOIN},   {"leave", LR_OP_LEAVE},
        {"send", LR_OP_SEND},   {"count", LR_OP_COUNT}, {"members", LR_OP_MEMBERS},
        {"mute", LR_OP_MUTE},   {"kick", LR_OP_KICK},   {"mute_all", LR_OP_MUTE_ALL},
        {"ping", LR_OP_PING},
    };
    for (int fmt = FMT_J; fmt <= FMT_M; fmt++) {
        for (size_t i = 0; i < LR_ARRAY_LEN(ops); i++) {
            char text[128];
            snprintf(text, sizeof(text), "{\"op\":\"%s\",\"id\":%zu}", ops[i].name, i + 1);
            lr_req r;
            assert_int_equal(decode_as(fmt, text, &r), 0);
            assert_int_equal(r.op, ops[i].op);
            assert_str(r.op_name, ops[i].name);
            assert_true(r.has_id);
            assert_int_equal(r.id, i + 1);
            assert_int_equal(r.err, 0);
            lr_req_free(&r);
        }
    }
}

static void decode_reads_every_field_in_both_formats(void **state)
{
    (void)state;
    const char *text =
        "{\"op\":\"send\",\"id\":9007199254740992,\"user\":\"alice\",\"sig\":\"s1g\","
        "\"nick\":\"Al \\u00e9\",\"avatar\":\"http://a/b.png\",\"room\":\"r1\","
        "\"type\":\"gift\",\"pri\":\"high\",\"body\":\"hi\",\"guest\":true,\"on\":false,"
        "\"random\":4294967295,\"limit\":100,\"secs\":-60,\"extra\":[1,{\"x\":2}]}";
    for (int fmt = FMT_J; fmt <= FMT_M; fmt++) {
        lr_req r;
        assert_int_equal(decode_as(fmt, text, &r), 0);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.op, LR_OP_SEND);
        assert_true(r.has_id);
        assert_true(r.id == LR_MAX_REQ_ID);
        assert_str(r.user, "alice");
        assert_str(r.sig, "s1g");
        assert_str(r.nick, "Al \xc3\xa9");
        assert_str(r.avatar, "http://a/b.png");
        assert_str(r.room, "r1");
        assert_str(r.type, "gift");
        assert_str(r.pri, "high");
        assert_true(r.has_body);
        assert_int_equal(r.body_kind, LR_BODY_STR);
        assert_str(r.body, "hi");
        assert_true(r.guest);
        assert_true(r.has_on);
        assert_false(r.on);
        assert_true(r.has_random);
        assert_true(r.random == UINT32_MAX);
        assert_true(r.has_limit);
        assert_int_equal(r.limit, 100);
        assert_true(r.has_secs);
        assert_true(r.secs == -60);
        lr_req_free(&r);
    }
}

static void decode_leaves_absent_fields_unset(void **state)
{
    (void)state;
    for (int fmt = FMT_J; fmt <= FMT_M; fmt++) {
        lr_req r;
        assert_int_equal(decode_as(fmt, "{\"op\":\"ping\"}", &r), 0);
        assert_int_equal(r.op, LR_OP_PING);
        assert_int_equal(r.err, 0);
        assert_false(r.has_id);
        assert_true(r.id == 0);
        assert_null(r.user.p);
        assert_null(r.room.p);
        assert_false(r.has_body || r.has_on || r.has_random || r.has_limit || r.has_secs);
        assert_false(r.guest);
        lr_req_free(&r);
    }
}

static void decode_unknown_op_keeps_name_for_a_10003(void **state)
{
    (void)state;
    for (int fmt = FMT_J; fmt <= FMT_M; fmt++) {
        lr_req r;
        assert_int_equal(decode_as(fmt, "{\"op\":\"teleport\",\"id\":3}", &r), 0);
        assert_int_equal(r.op, LR_OP_UNKNOWN);
        assert_str(r.op_name, "teleport");
        assert_int_equal(r.err, 0);
        assert_true(r.has_id && r.id == 3);
        lr_req_free(&r);
    }
}

static void decode_missing_or_non_string_op_is_10004_on_op(void **state)
{
    (void)state;
    expect_err_both("{\"id\":1}", LR_ERR_INVALID_PARAM, "op");
    expect_err_both("{}", LR_ERR_INVALID_PARAM, "op");
    expect_err_both("{\"op\":5,\"id\":1}", LR_ERR_INVALID_PARAM, "op");
    expect_err_both("{\"op\":null}", LR_ERR_INVALID_PARAM, "op");
    expect_err_both("{\"op\":[\"join\"]}", LR_ERR_INVALID_PARAM, "op");
    /* The id is still available so the error can be answered to it. */
    lr_req r;
    assert_int_equal(decode_as(FMT_J, "{\"op\":true,\"id\":12}", &r), 0);
    assert_int_equal(r.op, LR_OP_UNKNOWN);
    assert_true(r.has_id && r.id == 12);
    lr_req_free(&r);
}

static void decode_id_outside_1_to_2p53_is_10004_and_op_survives(void **state)
{
    (void)state;
    const char *bad[] = {
        "{\"op\":\"join\",\"id\":0}",
        "{\"op\":\"join\",\"id\":9007199254740993}",
        "{\"op\":\"join\",\"id\":-1}",
        "{\"op\":\"join\",\"id\":1.5}",
        "{\"op\":\"join\",\"id\":\"7\"}",
        "{\"op\":\"join\",\"id\":true}",
        "{\"op\":\"join\",\"id\":9223372036854775807}",
    };
    for (int fmt = FMT_J; fmt <= FMT_M; fmt++) {
        for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++) {
            lr_req r;
            assert_int_equal(decode_as(fmt, bad[i], &r), 0);
            if (r.err != LR_ERR_INVALID_PARAM) fail_msg("%s: err %d", bad[i], r.err);
            assert_string_equal(r.err_field, "id");
            assert_int_equal(r.op, LR_OP_JOIN);
            assert_false(r.has_id);
            assert_true(r.id == 0);
            lr_req_free(&r);
        }
    }
}

static void decode_json_integer_beyond_64_bits_is_10004_not_malformed(void **state)
{
    (void)state;
    expect_err(FMT_J, "{\"op\":\"join\",\"id\":18446744073709551616}", LR_ERR_INVALID_PARAM, "id");
    expect_err(FMT_J, "{\"op\":\"join\",\"id\":-99999999999999999999}", LR_ERR_INVALID_PARAM, "id");
    /* Other fields of such a frame still decode exactly. */
    lr_req r;
    const char *t = "{\"op\":\"members\",\"id\":77,\"room\":\"r\",\"limit\":1e400000,"
                    "\"random\":5,\"secs\":99999999999999999999999}";
    assert_int_equal(lr_req_decode_json(t, strlen(t), &r), LR_ERR_MALFORMED);
    lr_req_free(&r);
    t = "{\"op\":\"members\",\"id\":77,\"room\":\"r\",\"limit\":99999999999999999999999,"
        "\"random\":5}";
    assert_int_equal(lr_req_decode_json(t, strlen(t), &r), 0);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.op, LR_OP_MEMBERS);
    assert_true(r.has_id && r.id == 77);
    assert_true(r.has_limit && r.limit == UINT32_MAX);
    assert_true(r.has_random && r.random == 5);
    lr_req_free(&r);
    t = "{\"op\":\"mute\",\"secs\":99999999999999999999999}";
    expect_err(FMT_J, t, LR_ERR_INVALID_PARAM, "secs");
}

static void decode_msgpack_id_as_u64_max_or_float_is_10004(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    for (int v = 0; v < 2; v++) {
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        msgpack_pack_str_with_body(&pk, "op", 2);
        msgpack_pack_str_with_body(&pk, "ping", 4);
        msgpack_pack_str_with_body(&pk, "id", 2);
        if (v == 0)
            msgpack_pack_uint64(&pk, UINT64_MAX);
        else
            msgpack_pack_double(&pk, 3.0);
        lr_req r;
        assert_int_equal(lr_req_decode_msgpack((const uint8_t *)sb.data, sb.size, &r), 0);
        assert_int_equal(r.err, LR_ERR_INVALID_PARAM);
        assert_string_equal(r.err_field, "id");
        assert_int_equal(r.op, LR_OP_PING);
        lr_req_free(&r);
        msgpack_sbuffer_destroy(&sb);
    }
}

static void decode_string_limits_are_inclusive_and_checked_per_field(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        size_t max;
    } lim[] = {
        {"user", LR_MAX_USER_ID},
        {"sig", LR_MAX_SIG},
        {"nick", LR_MAX_NICK},
        {"avatar", LR_MAX_AVATAR},
    };
    for (size_t i = 0; i < LR_ARRAY_LEN(lim); i++) {
        for (size_t extra = 0; extra <= 1; extra++) {
            char *v = repeat('a', lim[i].max + extra);
            size_t n = strlen(v) + 64;
            char *t = malloc(n);
            assert_non_null(t);
            snprintf(t, n, "{\"op\":\"login\",\"%s\":\"%s\"}", lim[i].field, v);
            expect_err_both(t, extra ? LR_ERR_INVALID_PARAM : 0, extra ? lim[i].field : NULL);
            free(t);
            free(v);
        }
    }
    /* The room id's syntax and length are the caller's 10015: kept as sent. */
    char *v = repeat('r', 1000);
    char t[1100];
    snprintf(t, sizeof(t), "{\"op\":\"join\",\"room\":\"%s\"}", v);
    for (int fmt = FMT_J; fmt <= FMT_M; fmt++) {
        lr_req r;
        assert_int_equal(decode_as(fmt, t, &r), 0);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.room.len, 1000);
        lr_req_free(&r);
    }
    free(v);
}

static void decode_wrong_type_names_the_field(void **state)
{
    (void)state;
    static const char *const fields[] = {"user", "sig",   "nick", "avatar", "room",  "type", "pri",
                                         "body", "guest", "on",   "random", "limit", "secs"};
    for (size_t i = 0; i < LR_ARRAY_LEN(fields); i++) {
        char t[128];
        bool is_bool = !strcmp(fields[i], "guest") || !strcmp(fields[i], "on");
        bool is_num = !strcmp(fields[i], "random") || !strcmp(fields[i], "limit") ||
                      !strcmp(fields[i], "secs");
        /* A value of a type the field never accepts. */
        snprintf(t, sizeof(t), "{\"op\":\"send\",\"%s\":%s}", fields[i],
                 is_bool  ? "1"
                 : is_num ? "\"1\""
                          : "[1]");
        expect_err_both(t, LR_ERR_INVALID_PARAM, fields[i]);
        if (!is_bool && !is_num) {
            snprintf(t, sizeof(t), "{\"op\":\"send\",\"%s\":false}", fields[i]);
            expect_err_both(t, LR_ERR_INVALID_PARAM, fields[i]);
        }
    }
}

static void decode_nul_byte_is_10004_in_ids_but_kept_in_room_and_body(void **state)
{
    (void)state;
    expect_err_both("{\"op\":\"login\",\"user\":\"al\\u0000ice\"}", LR_ERR_INVALID_PARAM, "user");
    expect_err_both("{\"op\":\"login\",\"nick\":\"\\u0000\"}", LR_ERR_INVALID_PARAM, "nick");
    for (int fmt = FMT_J; fmt <= FMT_M; fmt++) {
        lr_req r;
        assert_int_equal(decode_as(fmt,
                                   "{\"op\":\"send\",\"room\":\"a\\u0000b\",\"body\":"
                                   "\"x\\u0000y\"}",
                                   &r),
                         0);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.room.len, 3);
        assert_memory_equal(r.room.p, "a\0b", 3);
        assert_int_equal(r.body.len, 3);
        assert_memory_equal(r.body.p, "x\0y", 3);
        lr_req_free(&r);
    }
}

static void decode_random_is_u32(void **state)
{
    (void)state;
    expect_err_both("{\"op\":\"send\",\"random\":0}", 0, NULL);
    expect_err_both("{\"op\":\"send\",\"random\":4294967296}", LR_ERR_INVALID_PARAM, "random");
    expect_err_both("{\"op\":\"send\",\"random\":-1}", LR_ERR_INVALID_PARAM, "random");
    expect_err_both("{\"op\":\"send\",\"random\":2.5}", LR_ERR_INVALID_PARAM, "random");
}

static void decode_limit_is_non_negative_integer_clamped_to_u32(void **state)
{
    (void)state;
    for (int fmt = FMT_J; fmt <= FMT_M; fmt++) {
        lr_req r;
        assert_int_equal(decode_as(fmt, "{\"op\":\"members\",\"limit\":1099511627776}", &r), 0);
        assert_int_equal(r.err, 0);
        assert_true(r.has_limit && r.limit == UINT32_MAX);
        lr_req_free(&r);
        assert_int_equal(decode_as(fmt, "{\"op\":\"members\",\"limit\":0}", &r), 0);
        assert_true(r.has_limit && r.limit == 0 && r.err == 0);
        lr_req_free(&r);
    }
    expect_err_both("{\"op\":\"members\",\"limit\":-1}", LR_ERR_INVALID_PARAM, "limit");
    expect_err_both("{\"op\":\"members\",\"limit\":10.5}", LR_ERR_INVALID_PARAM, "limit");
}

static void decode_secs_is_signed_64(void **state)
{
    (void)state;
    for (int fmt = FMT_J; fmt <= FMT_M; fmt++) {
        lr_req r;
        assert_int_equal(decode_as(fmt, "{\"op\":\"mute\",\"secs\":4611686018427387904}", &r), 0);
        assert_true(r.has_secs && r.secs == INT64_C(4611686018427387904) && r.err == 0);
        lr_req_free(&r);
        assert_int_equal(decode_as(fmt, "{\"op\":\"mute\",\"secs\":0}", &r), 0);
        assert_true(r.has_secs && r.secs == 0 && r.err == 0);
        lr_req_free(&r);
    }
    /* msgpack can carry a u64 above i64. */
    uint8_t m[] = {0x82, 0xa2, 'o',  'p',  0xa4, 'm', 'u', 't', 'e', 0xa4, 's', 'e',
                   'c',  's',  0xcf, 0x80, 0,    0,   0,   0,   0,   0,    0};
    lr_req r;
    assert_int_equal(lr_req_decode_msgpack(m, sizeof(m), &r), 0);
    assert_int_equal(r.err, LR_ERR_INVALID_PARAM);
    assert_string_equal(r.err_field, "secs");
    lr_req_free(&r);
}

static void decode_bool_fields(void **state)
{
    (void)state;
    for (int fmt = FMT_J; fmt <= FMT_M; fmt++) {
        lr_req r;
        assert_int_equal(decode_as(fmt, "{\"op\":\"mute_all\",\"on\":true,\"guest\":false}", &r),
                         0);
        assert_true(r.has_on && r.on && !r.guest && r.err == 0);
        lr_req_free(&r);
    }
    expect_err_both("{\"op\":\"login\",\"guest\":\"true\"}", LR_ERR_INVALID_PARAM, "guest");
    expect_err_both("{\"op\":\"mute_all\",\"on\":0}", LR_ERR_INVALID_PARAM, "on");
}

static void decode_first_error_wins(void **state)
{
    (void)state;
    expect_err_both("{\"op\":\"send\",\"nick\":1,\"id\":0,\"user\":2}", LR_ERR_INVALID_PARAM,
                    "nick");
    expect_err_both("{\"id\":-3,\"op\":4}", LR_ERR_INVALID_PARAM, "id");
}

static void decode_ignores_unknown_keys_and_reads_null_as_absent(void **state)
{
    (void)state;
    for (int fmt = FMT_J; fmt <= FMT_M; fmt++) {
        lr_req r;
        assert_int_equal(decode_as(fmt,
                                   "{\"zz\":{\"op\":1},\"op\":\"login\",\"opx\":3,\"nick\":null,"
                                   "\"id\":null,\"guest\":null}",
                                   &r),
                         0);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.op, LR_OP_LOGIN);
        assert_null(r.nick.p);
        assert_false(r.has_id);
        lr_req_free(&r);
    }
    /* msgpack keys that are not strings are not known keys. */
    uint8_t m[] = {0x82, 0x01, 0xa4, 'j', 'u', 'n', 'k', 0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g'};
    lr_req r;
    assert_int_equal(lr_req_decode_msgpack(m, sizeof(m), &r), 0);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.op, LR_OP_PING);
    lr_req_free(&r);
}

static void decode_duplicate_keys_last_one_wins(void **state)
{
    (void)state;
    const char *t = "{\"op\":\"join\",\"room\":\"a\",\"room\":\"b\",\"body\":{\"x\":1},"
                    "\"body\":{\"y\":2}}";
    lr_req r;
    assert_int_equal(lr_req_decode_json(t, strlen(t), &r), 0);
    assert_str(r.room, "b");
    assert_str(r.body, "{\"y\":2}");
    lr_req_free(&r);
    /* msgpack keeps duplicates in the map; build one by hand. */
    uint8_t m[] = {0x83, 0xa2, 'o',  'p', 0xa4, 'j', 'o', 'i', 'n', 0xa4, 'r', 'o',
                   'o',  'm',  0xa1, 'a', 0xa4, 'r', 'o', 'o', 'm', 0xa1, 'b'};
    assert_int_equal(lr_req_decode_msgpack(m, sizeof(m), &r), 0);
    assert_int_equal(r.err, 0);
    assert_str(r.room, "b");
    lr_req_free(&r);
}

/* ---- decoding: body kinds ---- */

static void decode_body_object_becomes_compact_json_in_both_formats(void **state)
{
    (void)state;
    const char *t = "{ \"op\" : \"send\", \"body\" : { \"gift\" : \"rose\" , \"n\" : [ 1 , "
                    "-2.5 , true , null ] , \"o\" : { } } }";
    for (int fmt = FMT_J; fmt <= FMT_M; fmt++) {
        lr_req r;
        assert_int_equal(decode_as(fmt, t, &r), 0);
        assert_int_equal(r.err, 0);
        assert_true(r.has_body);
        assert_int_equal(r.body_kind, LR_BODY_JSON);
        assert_str(r.body, "{\"gift\":\"rose\",\"n\":[1,-2.5,true,null],\"o\":{}}");
        lr_req_free(&r);
    }
}

static void decode_body_rejects_non_string_non_object(void **state)
{
    (void)state;
    expect_err_both("{\"op\":\"send\",\"body\":[1]}", LR_ERR_INVALID_PARAM, "body");
    expect_err_both("{\"op\":\"send\",\"body\":5}", LR_ERR_INVALID_PARAM, "body");
    expect_err_both("{\"op\":\"send\",\"body\":true}", LR_ERR_INVALID_PARAM, "body");
}

static void decode_msgpack_body_bin_str_and_unrepresentable_maps(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    for (int v = 0; v < 5; v++) {
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        msgpack_pack_str_with_body(&pk, "op", 2);
        msgpack_pack_str_with_body(&pk, "send", 4);
        msgpack_pack_str_with_body(&pk, "body", 4);
        switch (v) {
        case 0:
            msgpack_pack_bin_with_body(&pk, "\x00\xff\x01", 3);
            break;
        case 1:
            msgpack_pack_str_with_body(&pk, "plain", 5);
            break;
        case 2: /* map with an integer key: no JSON form */
            msgpack_pack_map(&pk, 1);
            msgpack_pack_int(&pk, 1);
            msgpack_pack_int(&pk, 2);
            break;
        case 3: /* map holding bin: no JSON form */
            msgpack_pack_map(&pk, 1);
            msgpack_pack_str_with_body(&pk, "b", 1);
            msgpack_pack_bin_with_body(&pk, "x", 1);
            break;
        case 4: /* map holding a string that is not UTF-8 */
            msgpack_pack_map(&pk, 1);
            msgpack_pack_str_with_body(&pk, "s", 1);
            msgpack_pack_str_with_body(&pk, "\xff", 1);
            break;
        }
        lr_req r;
        assert_int_equal(lr_req_decode_msgpack((const uint8_t *)sb.data, sb.size, &r), 0);
        if (v == 0) {
            assert_int_equal(r.err, 0);
            assert_int_equal(r.body_kind, LR_BODY_BIN);
            assert_int_equal(r.body.len, 3);
            assert_memory_equal(r.body.p, "\x00\xff\x01", 3);
        } else if (v == 1) {
            assert_int_equal(r.err, 0);
            assert_int_equal(r.body_kind, LR_BODY_STR);
            assert_str(r.body, "plain");
        } else {
            assert_int_equal(r.err, LR_ERR_INVALID_PARAM);
            assert_string_equal(r.err_field, "body");
        }
        lr_req_free(&r);
        msgpack_sbuffer_destroy(&sb);
    }
}

static void decode_msgpack_strings_survive_the_input_buffer(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    json_to_mp("{\"op\":\"join\",\"room\":\"lobby\",\"user\":\"bob\"}", &sb);
    lr_req r;
    assert_int_equal(lr_req_decode_msgpack((const uint8_t *)sb.data, sb.size, &r), 0);
    memset(sb.data, 'X', sb.size);
    msgpack_sbuffer_destroy(&sb);
    assert_str(r.room, "lobby");
    assert_str(r.user, "bob");
    assert_str(r.op_name, "join");
    lr_req_free(&r);
}

/* ---- decoding: malformed frames ---- */

static void decode_json_malformed_frames(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "   ",
        "{\"op\":\"ping\"",
        "{\"op\":\"ping\",}",
        "{\"op\":\"ping\"} x",
        "{\"op\":\"ping\"}{\"op\":\"ping\"}",
        "[{\"op\":\"ping\"}]",
        "42",
        "\"ping\"",
        "null",
        "{op:\"ping\"}",
        "{\"op\":\"p\xffng\"}",
        "{\"op\":\"ping\",\"x\":01}",
    };
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++) {
        lr_req r;
        int rc = lr_req_decode_json(bad[i], strlen(bad[i]), &r);
        if (rc != LR_ERR_MALFORMED) fail_msg("\"%s\": rc %d", bad[i], rc);
        lr_req_free(&r);
    }
    /* Whitespace around the one value is fine. */
    lr_req r;
    const char *ok = " \n{\"op\":\"ping\"}\r\n ";
    assert_int_equal(lr_req_decode_json(ok, strlen(ok), &r), 0);
    lr_req_free(&r);
    /* The length bounds the text, not a NUL. */
    assert_int_equal(lr_req_decode_json("{\"op\":\"ping\"}JUNK", 13, &r), 0);
    assert_int_equal(r.op, LR_OP_PING);
    lr_req_free(&r);
}

static void decode_msgpack_malformed_frames(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    json_to_mp("{\"op\":\"join\",\"room\":\"lobby\",\"id\":300}", &sb);
    lr_req r;
    /* Every truncation of a valid frame is malformed, never a crash. */
    for (size_t n = 0; n < sb.size; n++) {
        assert_int_equal(lr_req_decode_msgpack((const uint8_t *)sb.data, n, &r), LR_ERR_MALFORMED);
        lr_req_free(&r);
    }
    assert_int_equal(lr_req_decode_msgpack((const uint8_t *)sb.data, sb.size, &r), 0);
    lr_req_free(&r);
    /* Trailing bytes after the map. */
    uint8_t *longer = malloc(sb.size + 1);
    assert_non_null(longer);
    memcpy(longer, sb.data, sb.size);
    longer[sb.size] = 0xc0;
    assert_int_equal(lr_req_decode_msgpack(longer, sb.size + 1, &r), LR_ERR_MALFORMED);
    lr_req_free(&r);
    free(longer);
    msgpack_sbuffer_destroy(&sb);

    static const struct {
        uint8_t b[8];
        size_t n;
    } bad[] = {
        {{0x91, 0x80}, 2},               /* top-level array */
        {{0x2a}, 1},                     /* top-level integer */
        {{0xa4, 'p', 'i', 'n', 'g'}, 5}, /* top-level string */
        {{0xc0}, 1},                     /* nil */
        {{0xc1}, 1},                     /* never-used byte */
        {{0x81, 0xa2, 'o', 'p', 0xc1}, 5},
    };
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++) {
        assert_int_equal(lr_req_decode_msgpack(bad[i].b, bad[i].n, &r), LR_ERR_MALFORMED);
        lr_req_free(&r);
    }
    /* Nesting deeper than the unpacker's stack. */
    uint8_t deep[64];
    deep[0] = 0x81;
    deep[1] = 0xa1;
    deep[2] = 'x';
    for (size_t i = 3; i < sizeof(deep) - 1; i++)
        deep[i] = 0x91;
    deep[sizeof(deep) - 1] = 0xc0;
    assert_int_equal(lr_req_decode_msgpack(deep, sizeof(deep), &r), LR_ERR_MALFORMED);
    lr_req_free(&r);
}

/* ---- encoding ---- */

static char *buf_text(const lr_buf *b)
{
    char *s = malloc(b->len + 1);
    assert_non_null(s);
    memcpy(s, b->p, b->len);
    s[b->len] = 0;
    return s;
}

/* A map with every value kind the writer knows; the same calls for both
 * formats. */
static void write_sample(lr_enc *e)
{
    lr_enc_map(e, 12);
    lr_enc_key(e, "op");
    lr_enc_cstr(e, "msg");
    lr_enc_key(e, "seq");
    lr_enc_u64(e, UINT64_MAX);
    lr_enc_key(e, "neg");
    lr_enc_i64(e, INT64_MIN);
    lr_enc_key(e, "small");
    lr_enc_i64(e, 5);
    lr_enc_key(e, "t");
    lr_enc_bool(e, true);
    lr_enc_key(e, "f");
    lr_enc_bool(e, false);
    lr_enc_key(e, "nil");
    lr_enc_null(e);
    lr_enc_key(e, "s");
    lr_enc_cstr(e, "a\"b\\c\nd\x01 \xc3\xa9");
    lr_enc_key(e, "arr");
    lr_enc_array(e, 3);
    lr_enc_u64(e, 1);
    lr_enc_map(e, 1);
    lr_enc_key(e, "k");
    lr_enc_array(e, 0);
    lr_enc_array_end(e);
    lr_enc_map_end(e);
    lr_enc_map(e, 0);
    lr_enc_map_end(e);
    lr_enc_array_end(e);
    lr_enc_key(e, "body");
    const char *body = "{\"g\":\"rose\",\"n\":[1,2.5,null]}";
    lr_enc_body(e, LR_BODY_JSON, body, strlen(body));
    lr_enc_key(e, "text");
    lr_enc_body(e, LR_BODY_STR, "hello", 5);
    lr_enc_key(e, "empty");
    lr_enc_str(e, "", 0);
    lr_enc_map_end(e);
}

static void enc_json_round_trips_every_value_kind_through_jansson(void **state)
{
    (void)state;
    lr_buf b = {0};
    lr_enc e;
    lr_enc_init(&e, &b, true);
    write_sample(&e);
    assert_int_equal(lr_enc_finish(&e), 0);

    /* jansson cannot hold u64 max: check its text, then drop its last digit
     * (keeping the length) so the whole map can be compared by value. */
    char *text = buf_text(&b);
    /* Compact: no whitespace anywhere, keys in the order written. */
    assert_string_equal(text, "{\"op\":\"msg\",\"seq\":18446744073709551615,\"neg\":"
                              "-9223372036854775808,\"small\":5,\"t\":true,\"f\":false,"
                              "\"nil\":null,\"s\":\"a\\\"b\\\\c\\nd\\u0001 \xc3\xa9\",\"arr\":"
                              "[1,{\"k\":[]},{}],\"body\":{\"g\":\"rose\",\"n\":[1,2.5,null]},"
                              "\"text\":\"hello\",\"empty\":\"\"}");
    const char *seq_text = "\"seq\":18446744073709551615,";
    char *seq = strstr(text, seq_text);
    if (!seq) fail_msg("no exact u64 max in %s", text);
    seq[strlen(seq_text) - 2] = ',';
    seq[strlen(seq_text) - 1] = ' ';

    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j) fail_msg("not JSON: %s (%s)", text, jerr.text);
    json_t *want = json_loads(
        "{\"op\":\"msg\",\"seq\":1844674407370955161,\"neg\":-9223372036854775808,"
        "\"small\":5,\"t\":true,\"f\":false,\"nil\":null,\"s\":\"a\\\"b\\\\c\\nd\\u0001 "
        "\\u00e9\",\"arr\":[1,{\"k\":[]},{}],"
        "\"body\":{\"g\":\"rose\",\"n\":[1,2.5,null]},\"text\":\"hello\",\"empty\":\"\"}",
        0, &jerr);
    assert_non_null(want);
    if (!json_equal(j, want)) fail_msg("got %s", text);
    free(text);
    json_decref(j);
    json_decref(want);
    lr_buf_free(&b);
}

static void enc_msgpack_round_trips_every_value_kind_through_msgpack_c(void **state)
{
    (void)state;
    lr_buf b = {0};
    lr_enc e;
    lr_enc_init(&e, &b, false);
    write_sample(&e);
    assert_int_equal(lr_enc_finish(&e), 0);

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, (const char *)b.p, b.len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, b.len);
    const msgpack_object *m = &u.data;
    assert_int_equal(m->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(m->via.map.size, 12);
#define KV(i) (&m->via.map.ptr[i])
#define KEYIS(i, s)                                                                                \
    do {                                                                                           \
        assert_int_equal(KV(i)->key.type, MSGPACK_OBJECT_STR);                                     \
        assert_int_equal(KV(i)->key.via.str.size, strlen(s));                                      \
        assert_memory_equal(KV(i)->key.via.str.ptr, s, strlen(s));                                 \
    } while (0)
#define STRIS(o, s)                                                                                \
    do {                                                                                           \
        assert_int_equal((o)->type, MSGPACK_OBJECT_STR);                                           \
        assert_int_equal((o)->via.str.size, sizeof(s) - 1);                                        \
        assert_memory_equal((o)->via.str.ptr, s, sizeof(s) - 1);                                   \
    } while (0)
    KEYIS(0, "op");
    STRIS(&KV(0)->val, "msg");
    KEYIS(1, "seq");
    assert_int_equal(KV(1)->val.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    assert_true(KV(1)->val.via.u64 == UINT64_MAX);
    KEYIS(2, "neg");
    assert_int_equal(KV(2)->val.type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    assert_true(KV(2)->val.via.i64 == INT64_MIN);
    KEYIS(3, "small");
    assert_true(KV(3)->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER && KV(3)->val.via.u64 == 5);
    KEYIS(4, "t");
    assert_true(KV(4)->val.type == MSGPACK_OBJECT_BOOLEAN && KV(4)->val.via.boolean);
    KEYIS(5, "f");
    assert_true(KV(5)->val.type == MSGPACK_OBJECT_BOOLEAN && !KV(5)->val.via.boolean);
    KEYIS(6, "nil");
    assert_int_equal(KV(6)->val.type, MSGPACK_OBJECT_NIL);
    KEYIS(7, "s");
    STRIS(&KV(7)->val, "a\"b\\c\nd\x01 \xc3\xa9");
    KEYIS(8, "arr");
    const msgpack_object *arr = &KV(8)->val;
    assert_true(arr->type == MSGPACK_OBJECT_ARRAY && arr->via.array.size == 3);
    assert_true(arr->via.array.ptr[0].via.u64 == 1);
    const msgpack_object *inner = &arr->via.array.ptr[1];
    assert_true(inner->type == MSGPACK_OBJECT_MAP && inner->via.map.size == 1);
    assert_true(inner->via.map.ptr[0].val.type == MSGPACK_OBJECT_ARRAY &&
                inner->via.map.ptr[0].val.via.array.size == 0);
    assert_true(arr->via.array.ptr[2].type == MSGPACK_OBJECT_MAP &&
                arr->via.array.ptr[2].via.map.size == 0);
    KEYIS(9, "body");
    const msgpack_object *body = &KV(9)->val;
    assert_true(body->type == MSGPACK_OBJECT_MAP && body->via.map.size == 2);
    STRIS(&body->via.map.ptr[0].key, "g");
    STRIS(&body->via.map.ptr[0].val, "rose");
    const msgpack_object *n = &body->via.map.ptr[1].val;
    assert_true(n->type == MSGPACK_OBJECT_ARRAY && n->via.array.size == 3);
    assert_true(n->via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER);
    assert_true(n->via.array.ptr[1].type == MSGPACK_OBJECT_FLOAT64 &&
                n->via.array.ptr[1].via.f64 == 2.5);
    assert_true(n->via.array.ptr[2].type == MSGPACK_OBJECT_NIL);
    KEYIS(10, "text");
    STRIS(&KV(10)->val, "hello");
    KEYIS(11, "empty");
    STRIS(&KV(11)->val, "");
#undef KV
#undef KEYIS
#undef STRIS
    msgpack_unpacked_destroy(&u);
    lr_buf_free(&b);
}

/* Bytes of one value written alone. */
static size_t enc_one(lr_buf *b, bool json, void (*fn)(lr_enc *, const void *), const void *arg)
{
    lr_buf_reset(b);
    lr_enc e;
    lr_enc_init(&e, b, json);
    fn(&e, arg);
    assert_int_equal(lr_enc_finish(&e), 0);
    return b->len;
}

static void put_u64(lr_enc *e, const void *a)
{
    lr_enc_u64(e, *(const uint64_t *)a);
}
static void put_i64(lr_enc *e, const void *a)
{
    lr_enc_i64(e, *(const int64_t *)a);
}

static void enc_msgpack_uses_smallest_integer_forms(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        uint8_t head;
        size_t len;
    } u[] = {
        {0, 0x00, 1},          {127, 0x7f, 1},        {128, 0xcc, 2},
        {255, 0xcc, 2},        {256, 0xcd, 3},        {65535, 0xcd, 3},
        {65536, 0xce, 5},      {UINT32_MAX, 0xce, 5}, {UINT64_C(1) << 32, 0xcf, 9},
        {UINT64_MAX, 0xcf, 9},
    };
    static const struct {
        int64_t v;
        uint8_t head;
        size_t len;
    } s[] = {
        {-1, 0xff, 1},        {-32, 0xe0, 1},       {-33, 0xd0, 2},
        {-128, 0xd0, 2},      {-129, 0xd1, 3},      {-32768, 0xd1, 3},
        {-32769, 0xd2, 5},    {INT32_MIN, 0xd2, 5}, {(int64_t)INT32_MIN - 1, 0xd3, 9},
        {INT64_MIN, 0xd3, 9}, {7, 0x07, 1},         {300, 0xcd, 3},
    };
    lr_buf b = {0};
    for (size_t i = 0; i < LR_ARRAY_LEN(u); i++) {
        assert_int_equal(enc_one(&b, false, put_u64, &u[i].v), u[i].len);
        assert_int_equal(b.p[0], u[i].head);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        size_t off = 0;
        assert_int_equal(msgpack_unpack_next(&up, (const char *)b.p, b.len, &off),
                         MSGPACK_UNPACK_SUCCESS);
        assert_true(up.data.via.u64 == u[i].v);
        msgpack_unpacked_destroy(&up);
    }
    for (size_t i = 0; i < LR_ARRAY_LEN(s); i++) {
        assert_int_equal(enc_one(&b, false, put_i64, &s[i].v), s[i].len);
        assert_int_equal(b.p[0], s[i].head);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        size_t off = 0;
        assert_int_equal(msgpack_unpack_next(&up, (const char *)b.p, b.len, &off),
                         MSGPACK_UNPACK_SUCCESS);
        assert_true(up.data.via.i64 == s[i].v);
        msgpack_unpacked_destroy(&up);
    }
    /* JSON writes the same numbers as decimal text. */
    int64_t m = INT64_MIN;
    enc_one(&b, true, put_i64, &m);
    assert_memory_equal(b.p, "-9223372036854775808", b.len);
    lr_buf_free(&b);
}

static void put_str_n(lr_enc *e, const void *a)
{
    lr_enc_str(e, a, strlen(a));
}
static void put_bin_n(lr_enc *e, const void *a)
{
    lr_enc_body(e, LR_BODY_BIN, a, strlen(a));
}

static void enc_msgpack_str_and_bin_headers_by_length(void **state)
{
    (void)state;
    static const struct {
        size_t n;
        uint8_t str_head[5];
        size_t str_hlen;
        uint8_t bin_head[5];
        size_t bin_hlen;
    } c[] = {
        {0, {0xa0}, 1, {0xc4, 0}, 2},
        {31, {0xbf}, 1, {0xc4, 31}, 2},
        {32, {0xd9, 32}, 2, {0xc4, 32}, 2},
        {255, {0xd9, 0xff}, 2, {0xc4, 0xff}, 2},
        {256, {0xda, 1, 0}, 3, {0xc5, 1, 0}, 3},
        {65535, {0xda, 0xff, 0xff}, 3, {0xc5, 0xff, 0xff}, 3},
        {65536, {0xdb, 0, 1, 0, 0}, 5, {0xc6, 0, 1, 0, 0}, 5},
    };
    lr_buf b = {0};
    for (size_t i = 0; i < LR_ARRAY_LEN(c); i++) {
        char *s = repeat('z', c[i].n);
        assert_int_equal(enc_one(&b, false, put_str_n, s), c[i].str_hlen + c[i].n);
        assert_memory_equal(b.p, c[i].str_head, c[i].str_hlen);
        assert_memory_equal(b.p + c[i].str_hlen, s, c[i].n);
        assert_int_equal(enc_one(&b, false, put_bin_n, s), c[i].bin_hlen + c[i].n);
        assert_memory_equal(b.p, c[i].bin_head, c[i].bin_hlen);
        free(s);
    }
    /* Container headers: fix, 16-bit, 32-bit counts. */
    static const struct {
        uint32_t n;
        uint8_t map[5], arr[5];
        size_t hlen;
    } h[] = {
        {0, {0x80}, {0x90}, 1},
        {15, {0x8f}, {0x9f}, 1},
        {16, {0xde, 0, 16}, {0xdc, 0, 16}, 3},
        {65535, {0xde, 0xff, 0xff}, {0xdc, 0xff, 0xff}, 3},
        {65536, {0xdf, 0, 1, 0, 0}, {0xdd, 0, 1, 0, 0}, 5},
    };
    for (size_t i = 0; i < LR_ARRAY_LEN(h); i++) {
        lr_enc e;
        lr_buf_reset(&b);
        lr_enc_init(&e, &b, false);
        lr_enc_map(&e, h[i].n);
        lr_enc_array(&e, h[i].n);
        assert_int_equal(b.len, 2 * h[i].hlen);
        assert_memory_equal(b.p, h[i].map, h[i].hlen);
        assert_memory_equal(b.p + h[i].hlen, h[i].arr, h[i].hlen);
    }
    lr_buf_free(&b);
}

static void put_str(lr_enc *e, const void *a)
{
    lr_enc_cstr(e, a);
}

static void expect_json_str(const char *in, const char *want)
{
    lr_buf b = {0};
    enc_one(&b, true, put_str, in);
    char *got = buf_text(&b);
    if (strcmp(got, want)) fail_msg("escape of \"%s\": got %s, want %s", in, got, want);
    /* And it must be a JSON string jansson reads. */
    json_error_t jerr;
    json_t *j = json_loadb((const char *)b.p, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j || !json_is_string(j)) fail_msg("%s is not a JSON string: %s", got, jerr.text);
    json_decref(j);
    free(got);
    lr_buf_free(&b);
}

static void enc_json_escapes_quotes_backslash_and_controls(void **state)
{
    (void)state;
    expect_json_str("say \"hi\"", "\"say \\\"hi\\\"\"");
    expect_json_str("a\\b", "\"a\\\\b\"");
    expect_json_str("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"");
    expect_json_str("\x01\x1f\x7f/", "\"\\u0001\\u001f\x7f/\"");
    expect_json_str("", "\"\"");
    /* Valid UTF-8 of every length is kept byte for byte. */
    expect_json_str("\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80",
                    "\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"");
    expect_json_str("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");
    /* A NUL inside a counted string is escaped, not a terminator. */
    lr_buf b = {0};
    lr_enc e;
    lr_enc_init(&e, &b, true);
    lr_enc_str(&e, "a\0b", 3);
    assert_int_equal(lr_enc_finish(&e), 0);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.p, "\"a\\u0000b\"", 10);
    lr_buf_free(&b);
}

/* The fast paths skip plain text in 8-byte words: a special byte must be
 * caught wherever it falls relative to a word, in both formats. */
static void enc_finds_special_bytes_at_every_offset(void **state)
{
    (void)state;
    static const char *const specials[] = {
        "\"", "\\", "\x01", "\x1f", "\n", "\x7f", "\xc3\xa9", "\xf0\x9f\x98\x80", " ", "~"};
    lr_buf b = {0};
    for (size_t k = 0; k < LR_ARRAY_LEN(specials); k++) {
        for (size_t pos = 0; pos <= 24; pos++) {
            char in[64];
            memset(in, 'x', pos);
            strcpy(in + pos, specials[k]);
            strcat(in, "yyyyyyyyyyyyyyyy");
            size_t n = strlen(in);
            enc_one(&b, true, put_str, in);
            json_error_t jerr;
            json_t *j = json_loadb((const char *)b.p, b.len, JSON_DECODE_ANY, &jerr);
            if (!j) fail_msg("k=%zu pos=%zu: %s", k, pos, jerr.text);
            assert_int_equal(json_string_length(j), n);
            assert_memory_equal(json_string_value(j), in, n);
            json_decref(j);
            /* Escapes only where needed: plain bytes are never expanded. */
            size_t extra = specials[k][0] == '"' || specials[k][0] == '\\' || specials[k][0] == '\n'
                               ? 1
                           : (uint8_t)specials[k][0] < 0x20 ? 5
                                                            : 0;
            assert_int_equal(b.len, n + 2 + extra);

            enc_one(&b, false, put_str, in);
            assert_int_equal(b.len, 1 + (n < 32 ? 0 : 1) + n);
            assert_memory_equal(b.p + b.len - n, in, n);
        }
    }
    lr_buf_free(&b);
}

#define FFFD "\xef\xbf\xbd"

static void enc_replaces_invalid_utf8_with_fffd_in_both_formats(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } c[] = {
        {"a\x80z", "a" FFFD "z"},                  /* lone continuation */
        {"\xc0\xaf", FFFD FFFD},                   /* overlong lead */
        {"\xe0\x80\xaf", FFFD FFFD FFFD},          /* overlong 3-byte */
        {"\xed\xa0\x80", FFFD FFFD FFFD},          /* surrogate */
        {"\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD}, /* above U+10FFFF */
        {"\xf5", FFFD},
        {"x\xe2\x82", "x" FFFD}, /* truncated at the end */
        {"\xe2\x82x", FFFD "x"}, /* truncated in the middle */
        {"\xf0\x9f\x98", FFFD},
        {"\xf0\x9f\x98\x80\xff", "\xf0\x9f\x98\x80" FFFD},
        {"\xff\xfe", FFFD FFFD},
    };
    lr_buf b = {0};
    for (size_t i = 0; i < LR_ARRAY_LEN(c); i++) {
        char want[64];
        snprintf(want, sizeof(want), "\"%s\"", c[i].out);
        expect_json_str(c[i].in, want);
        size_t n = enc_one(&b, false, put_str, c[i].in);
        size_t olen = strlen(c[i].out);
        assert_int_equal(n, 1 + olen);
        assert_int_equal(b.p[0], 0xa0 | olen);
        assert_memory_equal(b.p + 1, c[i].out, olen);
        /* jansson's own UTF-8 check agrees on what is bad and what is fixed. */
        json_t *j = json_stringn(c[i].in, strlen(c[i].in));
        assert_null(j);
        j = json_stringn(c[i].out, olen);
        assert_non_null(j);
        json_decref(j);
    }
    lr_buf_free(&b);
}

static void enc_body_kinds_across_formats(void **state)
{
    (void)state;
    lr_buf b = {0};
    lr_enc e;
    /* BIN in JSON: a string when it is UTF-8, else standard base64. */
    static const struct {
        const char *in;
        size_t n;
        const char *json;
    } bin[] = {
        {"text\xc3\xa9", 6, "\"text\xc3\xa9\""},
        {"\xff\xfe\x01", 3, "\"//4B\""},
        {"\xff", 1, "\"/w==\""},
        {"\xff\x00", 2, "\"/wA=\""},
        {"\xfb\xef\xbe\xff", 4, "\"++++/w==\""},
    };
    for (size_t i = 0; i < LR_ARRAY_LEN(bin); i++) {
        lr_buf_reset(&b);
        lr_enc_init(&e, &b, true);
        lr_enc_body(&e, LR_BODY_BIN, bin[i].in, bin[i].n);
        assert_int_equal(lr_enc_finish(&e), 0);
        assert_int_equal(b.len, strlen(bin[i].json));
        assert_memory_equal(b.p, bin[i].json, b.len);
    }

    /* A JSON object body sent by a JSON client reaches a msgpack client as a
     * map, which decodes back to the same compact text. */
    const char *req =
        "{\"op\":\"send\",\"body\":{\"gift\":\"rose\",\"qty\":-3,\"meta\":{\"a\":[true,"
        "null,1.25,\"\\u00e9\\u0000\"]},\"big\":9007199254740993}}";
    lr_req r;
    assert_int_equal(lr_req_decode_json(req, strlen(req), &r), 0);
    assert_int_equal(r.body_kind, LR_BODY_JSON);
    lr_buf_reset(&b);
    lr_enc_init(&e, &b, false);
    lr_enc_map(&e, 2);
    lr_enc_key(&e, "op");
    lr_enc_cstr(&e, "send");
    lr_enc_key(&e, "body");
    lr_enc_body(&e, r.body_kind, r.body.p, r.body.len);
    lr_enc_map_end(&e);
    assert_int_equal(lr_enc_finish(&e), 0);
    lr_req r2;
    assert_int_equal(lr_req_decode_msgpack(b.p, b.len, &r2), 0);
    assert_int_equal(r2.err, 0);
    assert_int_equal(r2.body_kind, LR_BODY_JSON);
    assert_int_equal(r2.body.len, r.body.len);
    assert_memory_equal(r2.body.p, r.body.p, r.body.len);
    lr_req_free(&r2);

    /* ... and the same body in JSON output is spliced as the object. */
    lr_buf_reset(&b);
    lr_enc_init(&e, &b, true);
    lr_enc_map(&e, 1);
    lr_enc_key(&e, "body");
    lr_enc_body(&e, r.body_kind, r.body.p, r.body.len);
    lr_enc_map_end(&e);
    assert_int_equal(lr_enc_finish(&e), 0);
    assert_int_equal(lr_req_decode_json((const char *)b.p, b.len, &r2), 0);
    assert_int_equal(r2.body_kind, LR_BODY_JSON);
    assert_int_equal(r2.body.len, r.body.len);
    assert_memory_equal(r2.body.p, r.body.p, r.body.len);
    lr_req_free(&r2);
    lr_req_free(&r);

    /* BIN stays bin and STR stays str in msgpack, and decode back as such. */
    lr_buf_reset(&b);
    lr_enc_init(&e, &b, false);
    lr_enc_map(&e, 2);
    lr_enc_key(&e, "op");
    lr_enc_cstr(&e, "send");
    lr_enc_key(&e, "body");
    lr_enc_body(&e, LR_BODY_BIN, "\x00\xff", 2);
    lr_enc_map_end(&e);
    assert_int_equal(lr_enc_finish(&e), 0);
    assert_int_equal(lr_req_decode_msgpack(b.p, b.len, &r2), 0);
    assert_int_equal(r2.body_kind, LR_BODY_BIN);
    assert_int_equal(r2.body.len, 2);
    assert_memory_equal(r2.body.p, "\x00\xff", 2);
    lr_req_free(&r2);

    /* An invalid JSON body cannot be converted: the encoding fails. */
    lr_buf_reset(&b);
    lr_enc_init(&e, &b, false);
    lr_enc_body(&e, LR_BODY_JSON, "{nope", 5);
    assert_int_equal(lr_enc_finish(&e), LR_EINVAL);
    lr_buf_free(&b);
}

static void enc_raw_counts_as_one_value_for_commas(void **state)
{
    (void)state;
    lr_buf b = {0};
    lr_enc e;
    lr_enc_init(&e, &b, true);
    lr_enc_map(&e, 2);
    lr_enc_key(&e, "history");
    lr_enc_array(&e, 3);
    lr_enc_raw(&e, "{\"seq\":1}", 9);
    lr_enc_raw(&e, "{\"seq\":2}", 9);
    lr_enc_u64(&e, 3);
    lr_enc_array_end(&e);
    lr_enc_key(&e, "x");
    lr_enc_raw(&e, "7", 1);
    lr_enc_map_end(&e);
    assert_int_equal(lr_enc_finish(&e), 0);
    char *t = buf_text(&b);
    assert_string_equal(t, "{\"history\":[{\"seq\":1},{\"seq\":2},3],\"x\":7}");
    free(t);

    /* msgpack: raw bytes are spliced untouched. */
    lr_buf_reset(&b);
    lr_enc_init(&e, &b, false);
    lr_enc_array(&e, 2);
    lr_enc_raw(&e, "\x81\xa1k\x01", 4);
    lr_enc_u64(&e, 2);
    lr_enc_array_end(&e);
    assert_int_equal(lr_enc_finish(&e), 0);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.p, "\x92\x81\xa1k\x01\x02", 6);
    lr_buf_free(&b);
}

static void enc_nesting_is_capped_at_15_and_misuse_is_reported(void **state)
{
    (void)state;
    lr_buf b = {0};
    lr_enc e;
    for (int json = 0; json <= 1; json++) {
        lr_buf_reset(&b);
        lr_enc_init(&e, &b, json);
        for (int i = 0; i < 15; i++)
            lr_enc_array(&e, 1);
        lr_enc_u64(&e, 1);
        for (int i = 0; i < 15; i++)
            lr_enc_array_end(&e);
        assert_int_equal(lr_enc_finish(&e), 0);
        if (json) {
            char *t = buf_text(&b);
            assert_string_equal(t, "[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]");
            free(t);
        }

        lr_buf_reset(&b);
        lr_enc_init(&e, &b, json);
        for (int i = 0; i < 16; i++)
            lr_enc_array(&e, 1);
        assert_int_equal(lr_enc_finish(&e), LR_EINVAL);

        lr_buf_reset(&b);
        lr_enc_init(&e, &b, json);
        lr_enc_map(&e, 1);
        assert_int_equal(lr_enc_finish(&e), LR_EINVAL);
    }
    lr_buf_free(&b);
}

/* Encoded requests decode to what was written: the two halves agree. */
static void enc_then_decode_agree_in_both_formats(void **state)
{
    (void)state;
    for (int json = 0; json <= 1; json++) {
        lr_buf b = {0};
        lr_enc e;
        lr_enc_init(&e, &b, json);
        lr_enc_map(&e, 7);
        lr_enc_key(&e, "op");
        lr_enc_cstr(&e, "send");
        lr_enc_key(&e, "id");
        lr_enc_u64(&e, LR_MAX_REQ_ID);
        lr_enc_key(&e, "room");
        lr_enc_cstr(&e, "r-1");
        lr_enc_key(&e, "body");
        lr_enc_body(&e, LR_BODY_STR, "he said \"\xf0\x9f\x98\x80\"\n", 15);
        lr_enc_key(&e, "random");
        lr_enc_u64(&e, 123456);
        lr_enc_key(&e, "secs");
        lr_enc_i64(&e, -7);
        lr_enc_key(&e, "on");
        lr_enc_bool(&e, true);
        lr_enc_map_end(&e);
        assert_int_equal(lr_enc_finish(&e), 0);
        lr_req r;
        int rc = json ? lr_req_decode_json((const char *)b.p, b.len, &r)
                      : lr_req_decode_msgpack(b.p, b.len, &r);
        assert_int_equal(rc, 0);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.op, LR_OP_SEND);
        assert_true(r.id == LR_MAX_REQ_ID);
        assert_str(r.room, "r-1");
        assert_int_equal(r.body_kind, LR_BODY_STR);
        assert_str(r.body, "he said \"\xf0\x9f\x98\x80\"\n");
        assert_true(r.random == 123456 && r.secs == -7 && r.on && r.has_on);
        lr_req_free(&r);
        lr_buf_free(&b);
    }
}

/* ---- framing ---- */

static void frame_headers_for_every_length_form(void **state)
{
    (void)state;
    static const struct {
        size_t n;
        uint8_t len_bytes[9];
        size_t hlen; /* header bytes after the opcode byte */
    } ws[] = {
        {0, {0}, 1},
        {125, {125}, 1},
        {126, {126, 0, 126}, 3},
        {65535, {126, 0xff, 0xff}, 3},
        {65536, {127, 0, 0, 0, 0, 0, 1, 0, 0}, 9},
    };
    lr_buf b = {0};
    for (int fmt = LR_FMT_JSON; fmt < LR_FMT_COUNT; fmt++) {
        for (size_t i = 0; i < LR_ARRAY_LEN(ws); i++) {
            /* Something already in the buffer: offsets are relative to it. */
            lr_buf_reset(&b);
            assert_int_equal(lr_buf_append(&b, "prev", 4), 0);
            size_t off = lr_frame_begin(&b);
            assert_int_equal(off, 4);
            assert_int_equal(b.len, 4 + LR_FRAME_RESERVE);
            char *payload = repeat('p', ws[i].n);
            assert_int_equal(lr_buf_append(&b, payload, ws[i].n), 0);
            size_t start = lr_frame_end(&b, off, (lr_fmt)fmt);
            size_t h;
            if (fmt == LR_FMT_TCP) {
                h = 4;
                uint8_t want[4] = {(uint8_t)(ws[i].n >> 24), (uint8_t)(ws[i].n >> 16),
                                   (uint8_t)(ws[i].n >> 8), (uint8_t)ws[i].n};
                assert_memory_equal(b.p + start, want, 4);
            } else {
                h = 1 + ws[i].hlen;
                assert_int_equal(b.p[start], fmt == LR_FMT_JSON ? 0x81 : 0x82);
                assert_memory_equal(b.p + start + 1, ws[i].len_bytes, ws[i].hlen);
            }
            assert_int_equal(start, off + LR_FRAME_RESERVE - h);
            assert_int_equal(b.len - start, h + ws[i].n);
            assert_memory_equal(b.p + start + h, payload, ws[i].n);
            assert_memory_equal(b.p, "prev", 4);
            free(payload);
        }
    }
    lr_buf_free(&b);
}

static void frame_wraps_an_encoded_push(void **state)
{
    (void)state;
    lr_buf b = {0};
    size_t off = lr_frame_begin(&b);
    lr_enc e;
    lr_enc_init(&e, &b, false);
    lr_enc_map(&e, 1);
    lr_enc_key(&e, "op");
    lr_enc_cstr(&e, "count");
    lr_enc_map_end(&e);
    assert_int_equal(lr_enc_finish(&e), 0);
    size_t start = lr_frame_end(&b, off, LR_FMT_TCP);
    assert_int_equal(b.len - start, 4 + 10);
    assert_memory_equal(b.p + start,
                        "\0\0\0\x0a\x81\xa2op\xa5"
                        "count",
                        14);
    lr_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_maps_every_op_name_in_both_formats),
        cmocka_unit_test(decode_reads_every_field_in_both_formats),
        cmocka_unit_test(decode_leaves_absent_fields_unset),
        cmocka_unit_test(decode_unknown_op_keeps_name_for_a_10003),
        cmocka_unit_test(decode_missing_or_non_string_op_is_10004_on_op),
        cmocka_unit_test(decode_id_outside_1_to_2p53_is_10004_and_op_survives),
        cmocka_unit_test(decode_json_integer_beyond_64_bits_is_10004_not_malformed),
        cmocka_unit_test(decode_msgpack_id_as_u64_max_or_float_is_10004),
        cmocka_unit_test(decode_string_limits_are_inclusive_and_checked_per_field),
        cmocka_unit_test(decode_wrong_type_names_the_field),
        cmocka_unit_test(decode_nul_byte_is_10004_in_ids_but_kept_in_room_and_body),
        cmocka_unit_test(decode_random_is_u32),
        cmocka_unit_test(decode_limit_is_non_negative_integer_clamped_to_u32),
        cmocka_unit_test(decode_secs_is_signed_64),
        cmocka_unit_test(decode_bool_fields),
        cmocka_unit_test(decode_first_error_wins),
        cmocka_unit_test(decode_ignores_unknown_keys_and_reads_null_as_absent),
        cmocka_unit_test(decode_duplicate_keys_last_one_wins),
        cmocka_unit_test(decode_body_object_becomes_compact_json_in_both_formats),
        cmocka_unit_test(decode_body_rejects_non_string_non_object),
        cmocka_unit_test(decode_msgpack_body_bin_str_and_unrepresentable_maps),
        cmocka_unit_test(decode_msgpack_strings_survive_the_input_buffer),
        cmocka_unit_test(decode_json_malformed_frames),
        cmocka_unit_test(decode_msgpack_malformed_frames),
        cmocka_unit_test(enc_json_round_trips_every_value_kind_through_jansson),
        cmocka_unit_test(enc_msgpack_round_trips_every_value_kind_through_msgpack_c),
        cmocka_unit_test(enc_msgpack_uses_smallest_integer_forms),
        cmocka_unit_test(enc_msgpack_str_and_bin_headers_by_length),
        cmocka_unit_test(enc_json_escapes_quotes_backslash_and_controls),
        cmocka_unit_test(enc_finds_special_bytes_at_every_offset),
        cmocka_unit_test(enc_replaces_invalid_utf8_with_fffd_in_both_formats),
        cmocka_unit_test(enc_body_kinds_across_formats),
        cmocka_unit_test(enc_raw_counts_as_one_value_for_commas),
        cmocka_unit_test(enc_nesting_is_capped_at_15_and_misuse_is_reported),
        cmocka_unit_test(enc_then_decode_agree_in_both_formats),
        cmocka_unit_test(frame_headers_for_every_length_form),
        cmocka_unit_test(frame_wraps_an_encoded_push),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
