/*
 * test_admin_cmd proves the pure half of the admin REST API against
 * ADMIN_API.md: the query-string credential check (UserSig and JWT for the
 * configured admins, each refusal with its ErrorCode), the parsing of every
 * command's body into its typed form with Tencent's field names, every
 * limit crossed by exactly one, the MsgBody -> client body mapping, and the
 * HTTP replies, which are read back with jansson rather than compared as
 * text so the tests check meaning, not formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "admin/admin_cmd.h"
#include "auth/sig.h"

#define APP 1400000000ULL
#define T0 1700000000LL
#define SECRET "test-secret-0123456789"
#define G "group_open_http_svc"

/* ---- helpers ----------------------------------------------------------- */

static char errinfo[LR_ADMIN_MAX_ERRINFO];

static int parse_in(const char *svc, const char *cmd, const char *body, lr_admin_cmd *out)
{
    return lr_admin_parse(lr_str_c(svc), lr_str_c(cmd), body, body ? strlen(body) : 0, out, errinfo,
                          sizeof(errinfo));
}

/* Parses a body that must be accepted; the caller frees. */
static void parse_ok(const char *svc, const char *cmd, const char *body, lr_admin_cmd *out)
{
    int rc = parse_in(svc, cmd, body, out);
    if (rc != 0) fail_msg("%s/%s %s -> %d %s", svc, cmd, body, rc, errinfo);
}

/* The body must be refused with code, and ErrorInfo must mention field. */
static void expect_err(const char *svc, const char *cmd, const char *body, int code,
                       const char *field)
{
    lr_admin_cmd c;
    int rc = parse_in(svc, cmd, body, &c);
    if (rc != code)
        fail_msg("%s/%s %.200s: want %d got %d (%s)", svc, cmd, body, code, rc, errinfo);
    if (field && !strstr(errinfo, field))
        fail_msg("%s/%s: ErrorInfo \"%s\" does not name %s", svc, cmd, errinfo, field);
    assert_null(c.json);
    assert_null(c.owned);
    assert_null(c.owned_body);
    lr_admin_cmd_free(&c);
}

static char *dump(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    assert_non_null(s);
    json_decref(o);
    return s;
}

/* An array of n distinct user ids (or group ids). */
static json_t *ids(size_t n, const char *prefix)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char b[32];
        snprintf(b, sizeof(b), "%s%zu", prefix, i);
        json_array_append_new(a, json_string(b));
    }
    return a;
}

/* A string of n copies of c. */
static char *rep(size_t n, char c)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* base (a JSON object text) with key set to value (stolen). */
static char *with(const char *base, const char *key, json_t *value)
{
    json_t *o = json_loads(base, 0, NULL);
    assert_non_null(o);
    json_object_set_new(o, key, value);
    return dump(o);
}

/* A string field of exactly n bytes must pass, n + 1 must be 10004. */
static void check_str_limit(const char *svc, const char *cmd, const char *base, const char *key,
                            size_t n)
{
    char *v = rep(n, 'x');
    char *body = with(base, key, json_string(v));
    lr_admin_cmd c;
    parse_ok(svc, cmd, body, &c);
    lr_admin_cmd_free(&c);
    free(body);
    free(v);
    v = rep(n + 1, 'x');
    body = with(base, key, json_string(v));
    expect_err(svc, cmd, body, LR_ERR_INVALID_PARAM, key);
    free(body);
    free(v);
}

/* A list of n ids must pass, n + 1 (and 0) must be 10004. */
static void check_list_limit(const char *svc, const char *cmd, const char *base, const char *key,
                             size_t n)
{
    char *body = with(base, key, ids(n, "u"));
    lr_admin_cmd c;
    parse_ok(svc, cmd, body, &c);
    lr_admin_cmd_free(&c);
    free(body);
    body = with(base, key, ids(n + 1, "u"));
    expect_err(svc, cmd, body, LR_ERR_INVALID_PARAM, key);
    free(body);
    body = with(base, key, json_array());
    expect_err(svc, cmd, body, LR_ERR_INVALID_PARAM, key);
    free(body);
}

/* An integer field: lo and hi pass, lo - 1 and hi + 1 are 10004. */
static void check_int_range(const char *svc, const char *cmd, const char *base, const char *key,
                            long long lo, long long hi)
{
    long long good[] = {lo, hi}, bad[] = {lo - 1, hi + 1};
    for (int i = 0; i < 2; i++) {
        char *body = with(base, key, json_integer(good[i]));
        lr_admin_cmd c;
        parse_ok(svc, cmd, body, &c);
        lr_admin_cmd_free(&c);
        free(body);
        body = with(base, key, json_integer(bad[i]));
        expect_err(svc, cmd, body, LR_ERR_INVALID_PARAM, key);
        free(body);
    }
    char *body = with(base, key, json_string("1"));
    expect_err(svc, cmd, body, LR_ERR_INVALID_PARAM, key);
    free(body);
    body = with(base, key, json_real(1.5));
    expect_err(svc, cmd, body, LR_ERR_INVALID_PARAM, key);
    free(body);
}

static void assert_str(lr_str s, const char *want)
{
    assert_non_null(s.p);
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.p, want, s.len);
    assert_int_equal(s.p[s.len], '\0');
}

/* ---- authentication ---------------------------------------------------- */

static lr_admin_auth_cfg auth_cfg(void)
{
    lr_admin_auth_cfg cfg;
    lr_admin_auth_cfg_init(&cfg, lr_str_c(SECRET), APP);
    return cfg;
}

static char *usersig(const char *secret, const char *user, uint64_t app, int64_t t, int64_t exp)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    int n = lr_usersig_make(lr_str_c(secret), app, lr_str_c(user), t, exp, b, 512);
    assert_true(n > 0);
    return b;
}

static char *jwt(const char *secret, const char *user, int64_t t, int64_t exp)
{
    static char buf[512];
    assert_true(lr_jwt_make(lr_str_c(secret), lr_str_c(user), t, exp, buf, sizeof(buf)) > 0);
    return buf;
}

static int auth(const lr_admin_auth_cfg *cfg, const char *fmt, ...)
{
    char q[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof(q), fmt, ap);
    va_end(ap);
    char who[LR_MAX_USER_ID + 1] = "";
    return lr_admin_auth(lr_str_c(q), cfg, T0 + 10, who, sizeof(who));
}

static void test_auth_accepts_usersig_of_default_admin_and_returns_identifier(void **st)
{
    lr_admin_auth_cfg cfg = auth_cfg();
    char q[1024], who[LR_MAX_USER_ID + 1] = "";
    snprintf(q, sizeof(q),
             "sdkappid=1400000000&identifier=administrator&usersig=%s"
             "&random=99&contenttype=json",
             usersig(SECRET, "administrator", APP, T0, 86400));
    assert_int_equal(lr_admin_auth(lr_str_c(q), &cfg, T0 + 10, who, sizeof(who)), 0);
    assert_string_equal(who, "administrator");
}

static void test_auth_accepts_jwt_of_default_admin(void **st)
{
    lr_admin_auth_cfg cfg = auth_cfg();
    assert_int_equal(auth(&cfg, "usersig=%s&identifier=administrator&sdkappid=1400000000",
                          jwt(SECRET, "administrator", T0, 3600)),
                     0);
}

static void test_auth_percent_encoded_usersig_is_decoded(void **st)
{
    lr_admin_auth_cfg cfg = auth_cfg();
    const char *sig = usersig(SECRET, "administrator", APP, T0, 86400);
    char enc[1024];
    size_t o = 0;
    for (const char *p = sig; *p; p++)
        o += (size_t)snprintf(enc + o, sizeof(enc) - o, "%%%02X", (unsigned char)*p);
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=administrator&usersig=%s", enc), 0);
}

static void test_auth_configured_admins_replace_the_default(void **st)
{
    lr_admin_auth_cfg cfg = auth_cfg();
    cfg.nadmins = 2;
    cfg.admins[0] = lr_str_c("ops");
    cfg.admins[1] = lr_str_c("backend");
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=backend&usersig=%s",
                          usersig(SECRET, "backend", APP, T0, 60)),
                     0);
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=administrator&usersig=%s",
                          usersig(SECRET, "administrator", APP, T0, 60)),
                     LR_ERR_SIG_USER);
    assert_true(lr_admin_is_admin(&cfg, lr_str_c("ops")));
    assert_false(lr_admin_is_admin(&cfg, lr_str_c("op")));
    cfg.nadmins = 0;
    assert_true(lr_admin_is_admin(&cfg, lr_str_c("administrator")));
}

static void test_auth_non_admin_identifier_with_its_own_valid_sig_is_70013(void **st)
{
    lr_admin_auth_cfg cfg = auth_cfg();
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=alice&usersig=%s",
                          usersig(SECRET, "alice", APP, T0, 86400)),
                     LR_ERR_SIG_USER);
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=alice&usersig=%s",
                          jwt(SECRET, "alice", T0, 86400)),
                     LR_ERR_SIG_USER);
}

static void test_auth_missing_or_empty_parameters_are_10008(void **st)
{
    lr_admin_auth_cfg cfg = auth_cfg();
    const char *sig = usersig(SECRET, "administrator", APP, T0, 86400);
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&usersig=%s", sig), LR_ERR_ADMIN_MISSING);
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=administrator"),
                     LR_ERR_ADMIN_MISSING);
    assert_int_equal(auth(&cfg, "identifier=administrator&usersig=%s", sig), LR_ERR_ADMIN_MISSING);
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=&usersig=%s", sig),
                     LR_ERR_ADMIN_MISSING);
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=administrator&usersig="),
                     LR_ERR_ADMIN_MISSING);
    assert_int_equal(auth(&cfg, ""), LR_ERR_ADMIN_MISSING);
}

static void test_auth_wrong_sdkappid_is_70003(void **st)
{
    lr_admin_auth_cfg cfg = auth_cfg();
    /* signed for the right app, but the request names another one */
    const char *sig = usersig(SECRET, "administrator", APP, T0, 86400);
    assert_int_equal(auth(&cfg, "sdkappid=1400000001&identifier=administrator&usersig=%s", sig),
                     LR_ERR_SIG_MALFORMED);
    assert_int_equal(auth(&cfg, "sdkappid=14x&identifier=administrator&usersig=%s", sig),
                     LR_ERR_SIG_MALFORMED);
    assert_int_equal(
        auth(&cfg, "sdkappid=99999999999999999999999&identifier=administrator&usersig=%s", sig),
        LR_ERR_SIG_MALFORMED);
    /* and a UserSig made for another app does not pass for this one */
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=administrator&usersig=%s",
                          usersig(SECRET, "administrator", APP + 1, T0, 86400)),
                     LR_ERR_SIG_MALFORMED);
}

static void test_auth_expired_usersig_and_jwt_are_70001(void **st)
{
    lr_admin_auth_cfg cfg = auth_cfg();
    /* valid for 10 s from T0; auth() checks at T0 + 10, the first expired second */
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=administrator&usersig=%s",
                          usersig(SECRET, "administrator", APP, T0, 10)),
                     LR_ERR_SIG_EXPIRED);
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=administrator&usersig=%s",
                          usersig(SECRET, "administrator", APP, T0, 11)),
                     0);
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=administrator&usersig=%s",
                          jwt(SECRET, "administrator", T0, 10)),
                     LR_ERR_SIG_EXPIRED);
}

static void test_auth_bad_signatures_map_to_sig_codes(void **st)
{
    lr_admin_auth_cfg cfg = auth_cfg();
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=administrator&usersig=%s",
                          usersig("another-secret", "administrator", APP, T0, 86400)),
                     LR_ERR_SIG_VERIFY);
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=administrator&usersig=%s",
                          usersig(SECRET, "alice", APP, T0, 86400)),
                     LR_ERR_SIG_USER);
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=administrator&usersig=garbage"),
                     LR_ERR_SIG_MALFORMED);
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=administrator&usersig=%%zz"),
                     LR_ERR_SIG_MALFORMED);
    char *huge = rep(LR_MAX_SIG + 10, 'A');
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=administrator&usersig=%s", huge),
                     LR_ERR_SIG_MALFORMED);
    free(huge);
    char *longid = rep(LR_MAX_USER_ID + 1, 'a');
    assert_int_equal(auth(&cfg, "sdkappid=1400000000&identifier=%s&usersig=x", longid),
                     LR_ERR_SIG_USER);
    free(longid);
}

static void test_auth_identifier_buffer_too_small_is_internal(void **st)
{
    lr_admin_auth_cfg cfg = auth_cfg();
    char q[1024], who[5];
    snprintf(q, sizeof(q), "sdkappid=1400000000&identifier=administrator&usersig=%s",
             usersig(SECRET, "administrator", APP, T0, 86400));
    assert_int_equal(lr_admin_auth(lr_str_c(q), &cfg, T0, who, sizeof(who)), LR_ERR_INTERNAL);
    assert_int_equal(lr_admin_auth(lr_str_c(q), &cfg, T0, NULL, 0), 0);
}

/* ---- routing and envelope errors --------------------------------------- */

/* A minimal valid body of every command. */
static const char *const minimal[LR_ADMIN_OP_COUNT] = {
    [LR_ADMIN_CREATE_GROUP] = "{\"Type\":\"AVChatRoom\"}",
    [LR_ADMIN_DESTROY_GROUP] = "{\"GroupId\":\"r1\"}",
    [LR_ADMIN_GET_GROUP_INFO] = "{\"GroupIdList\":[\"r1\"]}",
    [LR_ADMIN_MODIFY_GROUP_BASE_INFO] = "{\"GroupId\":\"r1\"}",
    [LR_ADMIN_SEND_GROUP_MSG] = "{\"GroupId\":\"r1\",\"Random\":1,\"MsgBody\":[{\"MsgType\":"
                                "\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi\"}}]}",
    [LR_ADMIN_SEND_GROUP_SYSTEM_NOTIFICATION] = "{\"GroupId\":\"r1\",\"Content\":\"notice\"}",
    [LR_ADMIN_SEND_BROADCAST_MSG] = "{\"Random\":1,\"MsgBody\":[{\"MsgType\":\"TIMTextElem\","
                                    "\"MsgContent\":{\"Text\":\"hi\"}}]}",
    [LR_ADMIN_FORBID_SEND_MSG] = "{\"GroupId\":\"r1\",\"Members_Account\":[\"u\"],\"MuteTime\":1}",
    [LR_ADMIN_GET_GROUP_MUTED_ACCOUNT] = "{\"GroupId\":\"r1\"}",
    [LR_ADMIN_BAN_GROUP_MEMBER] = "{\"GroupId\":\"r1\",\"Members_Account\":[\"u\"],\"Duration\":1}",
    [LR_ADMIN_UNBAN_GROUP_MEMBER] = "{\"GroupId\":\"r1\",\"Members_Account\":[\"u\"]}",
    [LR_ADMIN_GET_GROUP_BAN_MEMBER] = "{\"GroupId\":\"r1\"}",
    [LR_ADMIN_DELETE_GROUP_MEMBER] = "{\"GroupId\":\"r1\",\"MemberToDel_Account\":[\"u\"]}",
    [LR_ADMIN_MODIFY_GROUP_MEMBER_INFO] =
        "{\"GroupId\":\"r1\",\"Member_Account\":\"u\",\"Role\":\"Admin\"}",
    [LR_ADMIN_GET_ONLINE_MEMBER_NUM] = "{\"GroupId\":\"r1\"}",
    [LR_ADMIN_GET_MEMBERS] = "{\"GroupId\":\"r1\"}",
    [LR_ADMIN_ACCOUNT_IMPORT] = "{\"UserID\":\"u\"}",
    [LR_ADMIN_KICK] = "{\"UserID\":\"u\"}",
    [LR_ADMIN_SET_ROOM_CONFIG] = "{\"GroupId\":\"r1\"}",
};

static void test_every_command_of_the_spec_is_routed_by_service_and_name(void **st)
{
    static const char *const spec[][2] = {
        {G, "create_group"},
        {G, "destroy_group"},
        {G, "get_group_info"},
        {G, "modify_group_base_info"},
        {G, "send_group_msg"},
        {G, "send_group_system_notification"},
        {G, "send_broadcast_msg"},
        {G, "forbid_send_msg"},
        {G, "get_group_muted_account"},
        {G, "ban_group_member"},
        {G, "unban_group_member"},
        {G, "get_group_ban_member"},
        {G, "delete_group_member"},
        {G, "modify_group_member_info"},
        {G, "get_online_member_num"},
        {"group_open_avchatroom_http_svc", "get_members"},
        {"im_open_login_svc", "account_import"},
        {"im_open_login_svc", "kick"},
        {"liveroom_svc", "set_room_config"},
    };
    assert_int_equal(LR_ARRAY_LEN(spec), LR_ADMIN_OP_COUNT);
    for (int op = 0; op < LR_ADMIN_OP_COUNT; op++) {
        lr_admin_cmd c;
        parse_ok(spec[op][0], spec[op][1], minimal[op], &c);
        assert_int_equal(c.op, op);
        assert_string_equal(lr_admin_op_service((lr_admin_op)op), spec[op][0]);
        assert_string_equal(lr_admin_op_command((lr_admin_op)op), spec[op][1]);
        lr_admin_cmd_free(&c);
        lr_admin_cmd_free(&c); /* idempotent */
    }
    assert_null(lr_admin_op_service(LR_ADMIN_OP_COUNT));
    assert_null(lr_admin_op_command((lr_admin_op)-1));
}

static void test_unknown_service_or_command_is_10003_before_the_body_is_read(void **st)
{
    expect_err(G, "no_such_command", "{}", LR_ERR_UNKNOWN_OP, "no_such_command");
    expect_err("no_such_svc", "create_group", "{}", LR_ERR_UNKNOWN_OP, "no_such_svc");
    /* a real command under another real service is still unknown */
    expect_err(G, "get_members", minimal[LR_ADMIN_GET_MEMBERS], LR_ERR_UNKNOWN_OP, NULL);
    expect_err("im_open_login_svc", "create_group", minimal[0], LR_ERR_UNKNOWN_OP, NULL);
    expect_err(G, "create_grou", minimal[0], LR_ERR_UNKNOWN_OP, NULL);
    expect_err(G, "create_groupx", minimal[0], LR_ERR_UNKNOWN_OP, NULL);
    expect_err(G, "nope", "not json at all", LR_ERR_UNKNOWN_OP, NULL);
    /* bytes that are not printable never reach ErrorInfo */
    lr_admin_cmd c;
    assert_int_equal(
        lr_admin_parse(lr_str_c(G), (lr_str){"a\xff\n", 3}, "{}", 2, &c, errinfo, sizeof(errinfo)),
        LR_ERR_UNKNOWN_OP);
    for (const char *p = errinfo; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
}

static void test_malformed_or_non_object_body_is_10011(void **st)
{
    const char *bad[] = {"",
                         "{",
                         "{\"GroupId\":\"r1\"",
                         "{\"GroupId\":\"r1\"} trailing",
                         "[{\"GroupId\":\"r1\"}]",
                         "\"r1\"",
                         "42",
                         "null",
                         "{GroupId:\"r1\"}",
                         "{\"GroupId\":\"r1\",\"GroupId\":\"r2\"}",
                         "{\"GroupId\":\"r\\u0000\"}",
                         "{\"GroupId\":\"\xff\xfe\"}",
                         "{\"Limit\":99999999999999999999999}"};
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++)
        expect_err(G, "destroy_group", bad[i], LR_ERR_MALFORMED, NULL);
    lr_admin_cmd c;
    assert_int_equal(lr_admin_parse(lr_str_c(G), lr_str_c("destroy_group"), NULL, 0, &c, errinfo,
                                    sizeof(errinfo)),
                     LR_ERR_MALFORMED);
    /* a length shorter than the text cuts it: only the given bytes count */
    const char *b = "{\"GroupId\":\"r1\"}";
    assert_int_equal(lr_admin_parse(lr_str_c(G), lr_str_c("destroy_group"), b, strlen(b) - 1, &c,
                                    errinfo, sizeof(errinfo)),
                     LR_ERR_MALFORMED);
}

static void test_body_over_one_mib_is_10018_and_at_the_limit_is_parsed(void **st)
{
    size_t n = LR_ADMIN_MAX_REQ_BODY;
    char *b = malloc(n + 2);
    assert_non_null(b);
    const char *head = "{\"GroupId\":\"r1\",\"pad\":\"";
    size_t hl = strlen(head);
    memcpy(b, head, hl);
    memset(b + hl, 'p', n - hl - 2);
    memcpy(b + n - 2, "\"}", 3);
    lr_admin_cmd c;
    assert_int_equal(
        lr_admin_parse(lr_str_c(G), lr_str_c("destroy_group"), b, n, &c, errinfo, sizeof(errinfo)),
        0);
    lr_admin_cmd_free(&c);
    b[n] = ' ';
    assert_int_equal(lr_admin_parse(lr_str_c(G), lr_str_c("destroy_group"), b, n + 1, &c, errinfo,
                                    sizeof(errinfo)),
                     LR_ERR_BODY_TOO_LARGE);
    assert_null(c.json);
    free(b);
}

static void test_group_id_missing_is_10004_and_invalid_is_10015(void **st)
{
    expect_err(G, "destroy_group", "{}", LR_ERR_INVALID_PARAM, "GroupId");
    expect_err(G, "destroy_group", "{\"GroupId\":7}", LR_ERR_INVALID_PARAM, "GroupId");
    expect_err(G, "destroy_group", "{\"GroupId\":null}", LR_ERR_INVALID_PARAM, "GroupId");
    expect_err(G, "destroy_group", "{\"GroupId\":\"\"}", LR_ERR_BAD_ROOM_ID, "GroupId");
    expect_err(G, "destroy_group", "{\"GroupId\":\"a b\"}", LR_ERR_BAD_ROOM_ID, "GroupId");
    expect_err(G, "destroy_group", "{\"GroupId\":\"caf\\u00e9\"}", LR_ERR_BAD_ROOM_ID, "GroupId");
    expect_err(G, "destroy_group", "{\"GroupId\":\"tab\\t\"}", LR_ERR_BAD_ROOM_ID, "GroupId");
    char *id = rep(LR_MAX_ROOM_ID, 'g');
    char *body = with("{}", "GroupId", json_string(id));
    lr_admin_cmd c;
    parse_ok(G, "destroy_group", body, &c);
    assert_int_equal(c.group_id.len, LR_MAX_ROOM_ID);
    lr_admin_cmd_free(&c);
    free(body);
    free(id);
    id = rep(LR_MAX_ROOM_ID + 1, 'g');
    body = with("{}", "GroupId", json_string(id));
    expect_err(G, "destroy_group", body, LR_ERR_BAD_ROOM_ID, "GroupId");
    free(body);
    free(id);
    /* every command that names a room checks it the same way */
    for (int op = 0; op < LR_ADMIN_OP_COUNT; op++) {
        json_t *o = json_loads(minimal[op], 0, NULL);
        if (!json_object_get(o, "GroupId")) {
            json_decref(o);
            continue;
        }
        json_object_set_new(o, "GroupId", json_string("bad id"));
        body = dump(o);
        expect_err(lr_admin_op_service((lr_admin_op)op), lr_admin_op_command((lr_admin_op)op), body,
                   LR_ERR_BAD_ROOM_ID, "GroupId");
        free(body);
    }
}

static void test_unknown_fields_are_ignored(void **st)
{
    lr_admin_cmd c;
    parse_ok(G, "create_group",
             "{\"Type\":\"AVChatRoom\",\"ApplyJoinOption\":\"FreeAccess\",\"MaxMemberCount\":0,"
             "\"AppDefinedData\":[{\"Key\":\"k\",\"Value\":\"v\"}]}",
             &c);
    lr_admin_cmd_free(&c);
}

/* ---- group commands ---------------------------------------------------- */

static void test_create_group_full_request(void **st)
{
    lr_admin_cmd c;
    parse_ok(G, "create_group",
             "{\"Type\":\"AVChatRoom\",\"GroupId\":\"@TGS#room1\",\"Name\":\"Live \\u00e9\","
             "\"Owner_Account\":\"owner1\",\"Introduction\":\"intro\",\"Notification\":\"\","
             "\"FaceUrl\":\"http://x/y.png\"}",
             &c);
    assert_int_equal(c.op, LR_ADMIN_CREATE_GROUP);
    assert_str(c.group_id, "@TGS#room1");
    assert_str(c.u.create.name, "Live \xc3\xa9");
    assert_str(c.u.create.owner, "owner1");
    assert_str(c.u.create.introduction, "intro");
    assert_str(c.u.create.notification, ""); /* given empty: p set, len 0 */
    assert_str(c.u.create.face_url, "http://x/y.png");
    lr_admin_cmd_free(&c);

    parse_ok(G, "create_group", "{\"Type\":\"AVChatRoom\"}", &c);
    assert_null(c.group_id.p); /* the server generates one */
    assert_null(c.u.create.name.p);
    assert_null(c.u.create.owner.p);
    assert_null(c.u.create.introduction.p);
    assert_null(c.u.create.notification.p);
    assert_null(c.u.create.face_url.p);
    lr_admin_cmd_free(&c);
}

static void test_create_group_type_and_field_errors(void **st)
{
    expect_err(G, "create_group", "{}", LR_ERR_INVALID_PARAM, "Type");
    expect_err(G, "create_group", "{\"Type\":\"Public\"}", LR_ERR_INVALID_PARAM, "Type");
    expect_err(G, "create_group", "{\"Type\":\"avchatroom\"}", LR_ERR_INVALID_PARAM, "Type");
    expect_err(G, "create_group", "{\"Type\":1}", LR_ERR_INVALID_PARAM, "Type");
    expect_err(G, "create_group", "{\"Type\":\"AVChatRoom\",\"GroupId\":\"a b\"}",
               LR_ERR_BAD_ROOM_ID, "GroupId");
    const char *base = "{\"Type\":\"AVChatRoom\"}";
    expect_err(G, "create_group", "{\"Type\":\"AVChatRoom\",\"Name\":\"\"}", LR_ERR_INVALID_PARAM,
               "Name");
    expect_err(G, "create_group", "{\"Type\":\"AVChatRoom\",\"Name\":5}", LR_ERR_INVALID_PARAM,
               "Name");
    expect_err(G, "create_group", "{\"Type\":\"AVChatRoom\",\"Owner_Account\":\"a b\"}",
               LR_ERR_INVALID_PARAM, "Owner_Account");
    check_str_limit(G, "create_group", base, "Name", LR_ADMIN_MAX_NAME);
    check_str_limit(G, "create_group", base, "Introduction", LR_ADMIN_MAX_INTRODUCTION);
    check_str_limit(G, "create_group", base, "Notification", LR_ADMIN_MAX_NOTIFICATION);
    check_str_limit(G, "create_group", base, "FaceUrl", LR_ADMIN_MAX_FACE_URL);
    check_str_limit(G, "create_group", base, "Owner_Account", LR_MAX_USER_ID);
}

static void test_destroy_get_muted_and_online_num_take_a_group_id(void **st)
{
    const char *cmds[] = {"destroy_group", "get_group_muted_account", "get_online_member_num"};
    const lr_admin_op ops[] = {LR_ADMIN_DESTROY_GROUP, LR_ADMIN_GET_GROUP_MUTED_ACCOUNT,
                               LR_ADMIN_GET_ONLINE_MEMBER_NUM};
    for (size_t i = 0; i < LR_ARRAY_LEN(cmds); i++) {
        lr_admin_cmd c;
        parse_ok(G, cmds[i], "{\"GroupId\":\"room-9\"}", &c);
        assert_int_equal(c.op, ops[i]);
        assert_str(c.group_id, "room-9");
        lr_admin_cmd_free(&c);
        expect_err(G, cmds[i], "{}", LR_ERR_INVALID_PARAM, "GroupId");
    }
}

static void test_get_group_info_list(void **st)
{
    lr_admin_cmd c;
    parse_ok(G, "get_group_info", "{\"GroupIdList\":[\"a\",\"@TGS#b\"]}", &c);
    assert_int_equal(c.op, LR_ADMIN_GET_GROUP_INFO);
    assert_null(c.group_id.p);
    assert_int_equal(c.u.info.ids.n, 2);
    assert_str(c.u.info.ids.v[0], "a");
    assert_str(c.u.info.ids.v[1], "@TGS#b");
    lr_admin_cmd_free(&c);
    check_list_limit(G, "get_group_info", "{}", "GroupIdList", LR_ADMIN_MAX_GROUP_IDS);
    expect_err(G, "get_group_info", "{}", LR_ERR_INVALID_PARAM, "GroupIdList");
    expect_err(G, "get_group_info", "{\"GroupIdList\":\"a\"}", LR_ERR_INVALID_PARAM, "GroupIdList");
    expect_err(G, "get_group_info", "{\"GroupIdList\":[\"a\",3]}", LR_ERR_INVALID_PARAM,
               "GroupIdList[1]");
    expect_err(G, "get_group_info", "{\"GroupIdList\":[\"a\",\"b c\"]}", LR_ERR_BAD_ROOM_ID,
               "GroupIdList[1]");
}

static void test_modify_group_base_info_fields(void **st)
{
    lr_admin_cmd c;
    parse_ok(G, "modify_group_base_info",
             "{\"GroupId\":\"r1\",\"Name\":\"n\",\"Introduction\":\"i\",\"Notification\":\"no\","
             "\"FaceUrl\":\"f\",\"MuteAllMember\":\"On\"}",
             &c);
    assert_int_equal(c.op, LR_ADMIN_MODIFY_GROUP_BASE_INFO);
    assert_str(c.group_id, "r1");
    assert_str(c.u.modify.name, "n");
    assert_str(c.u.modify.introduction, "i");
    assert_str(c.u.modify.notification, "no");
    assert_str(c.u.modify.face_url, "f");
    assert_int_equal(c.u.modify.mute_all, 1);
    lr_admin_cmd_free(&c);
    parse_ok(G, "modify_group_base_info", "{\"GroupId\":\"r1\",\"MuteAllMember\":\"Off\"}", &c);
    assert_int_equal(c.u.modify.mute_all, 0);
    assert_null(c.u.modify.name.p);
    lr_admin_cmd_free(&c);
    parse_ok(G, "modify_group_base_info", "{\"GroupId\":\"r1\"}", &c);
    assert_int_equal(c.u.modify.mute_all, -1);
    lr_admin_cmd_free(&c);
    expect_err(G, "modify_group_base_info", "{\"GroupId\":\"r1\",\"MuteAllMember\":\"on\"}",
               LR_ERR_INVALID_PARAM, "MuteAllMember");
    expect_err(G, "modify_group_base_info", "{\"GroupId\":\"r1\",\"MuteAllMember\":true}",
               LR_ERR_INVALID_PARAM, "MuteAllMember");
    const char *base = "{\"GroupId\":\"r1\"}";
    check_str_limit(G, "modify_group_base_info", base, "Name", LR_ADMIN_MAX_NAME);
    check_str_limit(G, "modify_group_base_info", base, "Introduction", LR_ADMIN_MAX_INTRODUCTION);
    check_str_limit(G, "modify_group_base_info", base, "Notification", LR_ADMIN_MAX_NOTIFICATION);
    check_str_limit(G, "modify_group_base_info", base, "FaceUrl", LR_ADMIN_MAX_FACE_URL);
}

/* ---- messages ---------------------------------------------------------- */

#define TEXT_HI "[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi\"}}]"

static void test_send_group_msg_single_text_becomes_a_text_body(void **st)
{
    lr_admin_cmd c;
    parse_ok(G, "send_group_msg",
             "{\"GroupId\":\"r1\",\"Random\":4294967295,\"From_Account\":\"bot\","
             "\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"h\\u00e9llo\"}}"
             "]}",
             &c);
    assert_int_equal(c.op, LR_ADMIN_SEND_GROUP_MSG);
    assert_str(c.group_id, "r1");
    assert_int_equal(c.u.msg.random, 4294967295u);
    assert_int_equal(c.u.msg.pri, LR_PRI_HIGH);
    assert_str(c.u.msg.from, "bot");
    assert_null(c.u.msg.cloud_custom_data.p);
    assert_int_equal(c.u.msg.type, LR_TYPE_TEXT);
    assert_str(c.u.msg.body, "h\xc3\xa9llo");
    assert_true(json_is_array(c.u.msg.msg_body));
    assert_int_equal(json_array_size(c.u.msg.msg_body), 1);
    lr_admin_cmd_free(&c);
}

static void test_send_group_msg_priorities(void **st)
{
    const char *names[] = {"High", "Normal", "Low", "Lowest"};
    const lr_pri want[] = {LR_PRI_HIGH, LR_PRI_NORMAL, LR_PRI_LOW, LR_PRI_LOWEST};
    for (size_t i = 0; i < LR_ARRAY_LEN(names); i++) {
        char *body = with(minimal[LR_ADMIN_SEND_GROUP_MSG], "MsgPriority", json_string(names[i]));
        lr_admin_cmd c;
        parse_ok(G, "send_group_msg", body, &c);
        assert_int_equal(c.u.msg.pri, want[i]);
        lr_admin_cmd_free(&c);
        free(body);
    }
    const char *bad[] = {"high", "Urgent", ""};
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++) {
        char *body = with(minimal[LR_ADMIN_SEND_GROUP_MSG], "MsgPriority", json_string(bad[i]));
        expect_err(G, "send_group_msg", body, LR_ERR_INVALID_PARAM, "MsgPriority");
        free(body);
    }
}

static void test_send_group_msg_custom_and_mixed_bodies_become_custom_json(void **st)
{
    lr_admin_cmd c;
    /* keys out of order and an unknown field (Sound): the output is normalised */
    parse_ok(G, "send_group_msg",
             "{\"GroupId\":\"r1\",\"Random\":7,\"CloudCustomData\":\"ccd\",\"MsgBody\":["
             "{\"MsgContent\":{\"Text\":\"a\\\"b\"},\"MsgType\":\"TIMTextElem\"},"
             "{\"MsgType\":\"TIMCustomElem\",\"MsgContent\":{\"Ext\":\"e\",\"Sound\":\"s\","
             "\"Data\":\"{\\\"gift\\\":1}\",\"Desc\":\"d\"}}]}",
             &c);
    assert_int_equal(c.u.msg.type, LR_TYPE_CUSTOM);
    assert_str(c.u.msg.cloud_custom_data, "ccd");
    assert_str(c.u.msg.body,
               "{\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"a\\\"b\"}},"
               "{\"MsgType\":\"TIMCustomElem\",\"MsgContent\":{\"Data\":\"{\\\"gift\\\":1}\","
               "\"Desc\":\"d\",\"Ext\":\"e\"}}],\"CloudCustomData\":\"ccd\"}");
    lr_admin_cmd_free(&c);

    /* a single custom element, without CloudCustomData */
    parse_ok(G, "send_group_msg",
             "{\"GroupId\":\"r1\",\"Random\":7,\"MsgBody\":[{\"MsgType\":\"TIMCustomElem\","
             "\"MsgContent\":{\"Data\":\"x\"}}]}",
             &c);
    assert_int_equal(c.u.msg.type, LR_TYPE_CUSTOM);
    assert_str(c.u.msg.body,
               "{\"MsgBody\":[{\"MsgType\":\"TIMCustomElem\",\"MsgContent\":{\"Data\":\"x\"}}]}");
    lr_admin_cmd_free(&c);

    /* one text with CloudCustomData keeps the data: custom */
    parse_ok(G, "send_group_msg",
             "{\"GroupId\":\"r1\",\"Random\":7,\"CloudCustomData\":\"c\",\"MsgBody\":" TEXT_HI "}",
             &c);
    assert_int_equal(c.u.msg.type, LR_TYPE_CUSTOM);
    assert_str(c.u.msg.body, "{\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{"
                             "\"Text\":\"hi\"}}],\"CloudCustomData\":\"c\"}");
    lr_admin_cmd_free(&c);

    /* an empty CloudCustomData is no data: text */
    parse_ok(G, "send_group_msg",
             "{\"GroupId\":\"r1\",\"Random\":7,\"CloudCustomData\":\"\",\"MsgBody\":" TEXT_HI "}",
             &c);
    assert_int_equal(c.u.msg.type, LR_TYPE_TEXT);
    assert_str(c.u.msg.body, "hi");
    lr_admin_cmd_free(&c);

    /* two texts cannot be one string: custom */
    parse_ok(G, "send_group_msg",
             "{\"GroupId\":\"r1\",\"Random\":7,\"MsgBody\":[{\"MsgType\":\"TIMTextElem\","
             "\"MsgContent\":{\"Text\":\"a\"}},{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{"
             "\"Text\":\"b\"}}]}",
             &c);
    assert_int_equal(c.u.msg.type, LR_TYPE_CUSTOM);
    json_t *back = json_loadb(c.u.msg.body.p, c.u.msg.body.len, 0, NULL);
    assert_non_null(back);
    assert_int_equal(json_array_size(json_object_get(back, "MsgBody")), 2);
    json_decref(back);
    lr_admin_cmd_free(&c);
}

static void test_msg_conversion_is_deterministic(void **st)
{
    const char *a = "{\"GroupId\":\"r1\",\"Random\":1,\"MsgBody\":[{\"MsgType\":\"TIMCustomElem\","
                    "\"MsgContent\":{\"Desc\":\"d\",\"Data\":\"x\",\"Ext\":\"e\"}}]}";
    const char *b = "{\"MsgBody\":[{\"MsgContent\":{\"Ext\":\"e\",\"Data\":\"x\",\"Desc\":\"d\"},"
                    "\"MsgType\":\"TIMCustomElem\"}],\"Random\":1,\"GroupId\":\"r1\"}";
    lr_admin_cmd ca, cb;
    parse_ok(G, "send_group_msg", a, &ca);
    parse_ok(G, "send_group_msg", b, &cb);
    assert_int_equal(ca.u.msg.body.len, cb.u.msg.body.len);
    assert_memory_equal(ca.u.msg.body.p, cb.u.msg.body.p, ca.u.msg.body.len);
    lr_admin_cmd_free(&ca);
    lr_admin_cmd_free(&cb);
}

static void test_msg_body_errors(void **st)
{
    const char *base = "{\"GroupId\":\"r1\",\"Random\":1}";
    struct {
        const char *msgbody;
        const char *field;
    } bad[] = {
        {"[]", "MsgBody"},
        {"{}", "MsgBody"},
        {"\"hi\"", "MsgBody"},
        {"[1]", "MsgBody[0]"},
        {"[{\"MsgContent\":{\"Text\":\"a\"}}]", "MsgBody[0].MsgType"},
        {"[{\"MsgType\":5,\"MsgContent\":{\"Text\":\"a\"}}]", "MsgBody[0].MsgType"},
        {"[{\"MsgType\":\"TIMImageElem\",\"MsgContent\":{}}]", "MsgBody[0].MsgType"},
        {"[{\"MsgType\":\"TIMFaceElem\",\"MsgContent\":{\"Index\":1}}]", "MsgBody[0].MsgType"},
        {"[{\"MsgType\":\"TIMTextElem\"}]", "MsgBody[0].MsgContent"},
        {"[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":\"a\"}]", "MsgBody[0].MsgContent"},
        {"[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{}}]", "MsgBody[0].MsgContent.Text"},
        {"[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":1}}]",
         "MsgBody[0].MsgContent.Text"},
        {"[" TEXT_HI "]", "MsgBody[0]"},
        {"[{\"MsgType\":\"TIMCustomElem\",\"MsgContent\":{\"Data\":{}}}]",
         "MsgBody[0].MsgContent.Data"},
        {"[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"a\"}},{\"MsgType\":"
         "\"TIMCustomElem\",\"MsgContent\":{\"Desc\":1}}]",
         "MsgBody[1].MsgContent.Desc"},
        {"[{\"MsgType\":\"TIMCustomElem\",\"MsgContent\":{\"Ext\":null}}]",
         "MsgBody[0].MsgContent.Ext"},
    };
    for (size_t i = 0; i < LR_ARRAY_LEN(bad); i++) {
        json_t *mb = json_loads(bad[i].msgbody, JSON_DECODE_ANY, NULL);
        assert_non_null(mb);
        char *body = with(base, "MsgBody", mb);
        expect_err(G, "send_group_msg", body, LR_ERR_INVALID_PARAM, bad[i].field);
        free(body);
    }
    expect_err(G, "send_group_msg", base, LR_ERR_INVALID_PARAM, "MsgBody");
}

static void test_send_group_msg_field_errors(void **st)
{
    const char *good = minimal[LR_ADMIN_SEND_GROUP_MSG];
    /* Random: u32, required */
    check_int_range(G, "send_group_msg", good, "Random", 0, UINT32_MAX);
    json_t *o = json_loads(good, 0, NULL);
    json_object_del(o, "Random");
    char *body = dump(o);
    expect_err(G, "send_group_msg", body, LR_ERR_INVALID_PARAM, "Random");
    free(body);
    body = with(good, "From_Account", json_string("a b"));
    expect_err(G, "send_group_msg", body, LR_ERR_INVALID_PARAM, "From_Account");
    free(body);
    check_str_limit(G, "send_group_msg", good, "From_Account", LR_MAX_USER_ID);
    body = with(good, "CloudCustomData", json_integer(1));
    expect_err(G, "send_group_msg", body, LR_ERR_INVALID_PARAM, "CloudCustomData");
    free(body);
    expect_err(G, "send_group_msg", "{\"Random\":1,\"MsgBody\":" TEXT_HI "}", LR_ERR_INVALID_PARAM,
               "GroupId");
}

static void test_msg_convert_direct_use(void **st)
{
    json_t *mb = json_loads(TEXT_HI, JSON_DECODE_ANY, NULL);
    lr_msg_type t = LR_TYPE_GIFT;
    char *body;
    size_t len;
    assert_int_equal(
        lr_admin_msg_convert(mb, (lr_str){NULL, 0}, &t, &body, &len, errinfo, sizeof(errinfo)), 0);
    assert_int_equal(t, LR_TYPE_TEXT);
    assert_int_equal(len, 2);
    assert_string_equal(body, "hi");
    free(body);
    /* CloudCustomData that is not UTF-8 cannot be put in JSON */
    assert_int_equal(
        lr_admin_msg_convert(mb, (lr_str){"\xff", 1}, &t, &body, &len, errinfo, sizeof(errinfo)),
        LR_ERR_INVALID_PARAM);
    assert_null(body);
    assert_int_equal(
        lr_admin_msg_convert(NULL, (lr_str){NULL, 0}, &t, &body, &len, errinfo, sizeof(errinfo)),
        LR_ERR_INVALID_PARAM);
    json_decref(mb);
}

static void test_send_group_system_notification(void **st)
{
    lr_admin_cmd c;
    parse_ok(G, "send_group_system_notification", "{\"GroupId\":\"r1\",\"Content\":\"hello all\"}",
             &c);
    assert_int_equal(c.op, LR_ADMIN_SEND_GROUP_SYSTEM_NOTIFICATION);
    assert_str(c.group_id, "r1");
    assert_str(c.u.notice.content, "hello all");
    lr_admin_cmd_free(&c);
    expect_err(G, "send_group_system_notification", "{\"GroupId\":\"r1\"}", LR_ERR_INVALID_PARAM,
               "Content");
    expect_err(G, "send_group_system_notification", "{\"GroupId\":\"r1\",\"Content\":\"\"}",
               LR_ERR_INVALID_PARAM, "Content");
    expect_err(G, "send_group_system_notification", "{\"GroupId\":\"r1\",\"Content\":[]}",
               LR_ERR_INVALID_PARAM, "Content");
    check_str_limit(G, "send_group_system_notification", "{\"GroupId\":\"r1\"}", "Content",
                    LR_ADMIN_MAX_NOTICE);
}

static void test_send_broadcast_msg(void **st)
{
    lr_admin_cmd c;
    parse_ok(G, "send_broadcast_msg",
             "{\"Random\":99,\"From_Account\":\"sys\",\"MsgBody\":[{\"MsgType\":\"TIMCustomElem\","
             "\"MsgContent\":{\"Data\":\"d\"}}]}",
             &c);
    assert_int_equal(c.op, LR_ADMIN_SEND_BROADCAST_MSG);
    assert_null(c.group_id.p);
    assert_int_equal(c.u.msg.random, 99);
    assert_str(c.u.msg.from, "sys");
    assert_int_equal(c.u.msg.pri, LR_PRI_HIGH);
    assert_int_equal(c.u.msg.type, LR_TYPE_CUSTOM);
    assert_str(c.u.msg.body,
               "{\"MsgBody\":[{\"MsgType\":\"TIMCustomElem\",\"MsgContent\":{\"Data\":\"d\"}}]}");
    lr_admin_cmd_free(&c);
    parse_ok(G, "send_broadcast_msg", minimal[LR_ADMIN_SEND_BROADCAST_MSG], &c);
    assert_int_equal(c.u.msg.type, LR_TYPE_TEXT);
    assert_str(c.u.msg.body, "hi");
    assert_null(c.u.msg.from.p);
    lr_admin_cmd_free(&c);
    expect_err(G, "send_broadcast_msg", "{\"MsgBody\":" TEXT_HI "}", LR_ERR_INVALID_PARAM,
               "Random");
    expect_err(G, "send_broadcast_msg", "{\"Random\":1}", LR_ERR_INVALID_PARAM, "MsgBody");
    expect_err(G, "send_broadcast_msg",
               "{\"Random\":1,\"MsgBody\":[{\"MsgType\":\"TIMSoundElem\",\"MsgContent\":{}}]}",
               LR_ERR_INVALID_PARAM, "MsgType");
    check_int_range(G, "send_broadcast_msg", minimal[LR_ADMIN_SEND_BROADCAST_MSG], "Random", 0,
                    UINT32_MAX);
}

/* ---- moderation -------------------------------------------------------- */

static void test_forbid_send_msg(void **st)
{
    lr_admin_cmd c;
    parse_ok(G, "forbid_send_msg",
             "{\"GroupId\":\"r1\",\"Members_Account\":[\"a\",\"b\"],\"MuteTime\":60}", &c);
    assert_int_equal(c.op, LR_ADMIN_FORBID_SEND_MSG);
    assert_int_equal(c.u.forbid.users.n, 2);
    assert_str(c.u.forbid.users.v[1], "b");
    assert_int_equal(c.u.forbid.mute_time, 60);
    lr_admin_cmd_free(&c);
    const char *base = "{\"GroupId\":\"r1\",\"MuteTime\":0}";
    check_list_limit(G, "forbid_send_msg", base, "Members_Account", LR_ADMIN_MAX_MUTE_ACCOUNTS);
    check_int_range(G, "forbid_send_msg", minimal[LR_ADMIN_FORBID_SEND_MSG], "MuteTime", 0,
                    UINT32_MAX);
    expect_err(G, "forbid_send_msg", "{\"GroupId\":\"r1\",\"Members_Account\":[\"a\"]}",
               LR_ERR_INVALID_PARAM, "MuteTime");
    expect_err(G, "forbid_send_msg", "{\"GroupId\":\"r1\",\"MuteTime\":1}", LR_ERR_INVALID_PARAM,
               "Members_Account");
    expect_err(G, "forbid_send_msg",
               "{\"GroupId\":\"r1\",\"Members_Account\":[\"a\",1],\"MuteTime\":1}",
               LR_ERR_INVALID_PARAM, "Members_Account[1]");
    char *longid = rep(LR_MAX_USER_ID + 1, 'u');
    json_t *list = json_array();
    json_array_append_new(list, json_string(longid));
    char *body = with(base, "Members_Account", list);
    expect_err(G, "forbid_send_msg", body, LR_ERR_INVALID_PARAM, "Members_Account[0]");
    free(body);
    free(longid);
    expect_err(G, "forbid_send_msg",
               "{\"GroupId\":\"r1\",\"Members_Account\":[\"\"],\"MuteTime\":1}",
               LR_ERR_INVALID_PARAM, "Members_Account[0]");
}

static void test_ban_and_unban_group_member(void **st)
{
    lr_admin_cmd c;
    parse_ok(G, "ban_group_member",
             "{\"GroupId\":\"r1\",\"Members_Account\":[\"a\"],\"Duration\":3600,"
             "\"Description\":\"spam\"}",
             &c);
    assert_int_equal(c.op, LR_ADMIN_BAN_GROUP_MEMBER);
    assert_str(c.u.ban.users.v[0], "a");
    assert_int_equal(c.u.ban.duration, 3600);
    assert_str(c.u.ban.description, "spam");
    lr_admin_cmd_free(&c);
    parse_ok(G, "ban_group_member", minimal[LR_ADMIN_BAN_GROUP_MEMBER], &c);
    assert_null(c.u.ban.description.p);
    lr_admin_cmd_free(&c);
    check_list_limit(G, "ban_group_member", "{\"GroupId\":\"r1\",\"Duration\":1}",
                     "Members_Account", LR_ADMIN_MAX_BAN_ACCOUNTS);
    check_int_range(G, "ban_group_member", minimal[LR_ADMIN_BAN_GROUP_MEMBER], "Duration", 0,
                    UINT32_MAX);
    expect_err(G, "ban_group_member", "{\"GroupId\":\"r1\",\"Members_Account\":[\"a\"]}",
               LR_ERR_INVALID_PARAM, "Duration");
    check_str_limit(G, "ban_group_member", minimal[LR_ADMIN_BAN_GROUP_MEMBER], "Description",
                    LR_ADMIN_MAX_DESCRIPTION);

    parse_ok(G, "unban_group_member", "{\"GroupId\":\"r1\",\"Members_Account\":[\"a\",\"b\"]}", &c);
    assert_int_equal(c.op, LR_ADMIN_UNBAN_GROUP_MEMBER);
    assert_int_equal(c.u.unban.users.n, 2);
    lr_admin_cmd_free(&c);
    check_list_limit(G, "unban_group_member", "{\"GroupId\":\"r1\"}", "Members_Account",
                     LR_ADMIN_MAX_BAN_ACCOUNTS);
    expect_err(G, "unban_group_member", "{\"GroupId\":\"r1\"}", LR_ERR_INVALID_PARAM,
               "Members_Account");
}

static void test_get_group_ban_member_offset_and_limit(void **st)
{
    lr_admin_cmd c;
    parse_ok(G, "get_group_ban_member", "{\"GroupId\":\"r1\"}", &c);
    assert_int_equal(c.op, LR_ADMIN_GET_GROUP_BAN_MEMBER);
    assert_int_equal(c.u.ban_list.offset, 0);
    assert_int_equal(c.u.ban_list.limit, LR_ADMIN_DEFAULT_BAN_LIMIT);
    lr_admin_cmd_free(&c);
    parse_ok(G, "get_group_ban_member", "{\"GroupId\":\"r1\",\"Offset\":40,\"Limit\":20}", &c);
    assert_int_equal(c.u.ban_list.offset, 40);
    assert_int_equal(c.u.ban_list.limit, 20);
    lr_admin_cmd_free(&c);
    check_int_range(G, "get_group_ban_member", "{\"GroupId\":\"r1\"}", "Limit", 1,
                    LR_ADMIN_MAX_BAN_LIMIT);
    check_int_range(G, "get_group_ban_member", "{\"GroupId\":\"r1\"}", "Offset", 0, UINT32_MAX);
}

static void test_delete_group_member(void **st)
{
    lr_admin_cmd c;
    parse_ok(G, "delete_group_member",
             "{\"GroupId\":\"r1\",\"MemberToDel_Account\":[\"x\"],\"Reason\":\"bye\"}", &c);
    assert_int_equal(c.op, LR_ADMIN_DELETE_GROUP_MEMBER);
    assert_str(c.u.del.users.v[0], "x");
    assert_str(c.u.del.reason, "bye");
    lr_admin_cmd_free(&c);
    check_list_limit(G, "delete_group_member", "{\"GroupId\":\"r1\"}", "MemberToDel_Account",
                     LR_ADMIN_MAX_DEL_ACCOUNTS);
    check_str_limit(G, "delete_group_member", minimal[LR_ADMIN_DELETE_GROUP_MEMBER], "Reason",
                    LR_ADMIN_MAX_REASON);
    expect_err(G, "delete_group_member", "{\"GroupId\":\"r1\",\"Members_Account\":[\"x\"]}",
               LR_ERR_INVALID_PARAM, "MemberToDel_Account");
}

static void test_modify_group_member_info_role(void **st)
{
    lr_admin_cmd c;
    parse_ok(G, "modify_group_member_info",
             "{\"GroupId\":\"r1\",\"Member_Account\":\"m\",\"Role\":\"Admin\"}", &c);
    assert_int_equal(c.op, LR_ADMIN_MODIFY_GROUP_MEMBER_INFO);
    assert_str(c.u.role.user, "m");
    assert_true(c.u.role.admin);
    lr_admin_cmd_free(&c);
    parse_ok(G, "modify_group_member_info",
             "{\"GroupId\":\"r1\",\"Member_Account\":\"m\",\"Role\":\"Member\"}", &c);
    assert_false(c.u.role.admin);
    lr_admin_cmd_free(&c);
    expect_err(G, "modify_group_member_info",
               "{\"GroupId\":\"r1\",\"Member_Account\":\"m\",\"Role\":\"Owner\"}",
               LR_ERR_INVALID_PARAM, "Role");
    expect_err(G, "modify_group_member_info", "{\"GroupId\":\"r1\",\"Member_Account\":\"m\"}",
               LR_ERR_INVALID_PARAM, "Role");
    expect_err(G, "modify_group_member_info", "{\"GroupId\":\"r1\",\"Role\":\"Admin\"}",
               LR_ERR_INVALID_PARAM, "Member_Account");
    check_str_limit(G, "modify_group_member_info", minimal[LR_ADMIN_MODIFY_GROUP_MEMBER_INFO],
                    "Member_Account", LR_MAX_USER_ID);
}

static void test_get_members_limit(void **st)
{
    lr_admin_cmd c;
    const char *svc = "group_open_avchatroom_http_svc";
    parse_ok(svc, "get_members", "{\"GroupId\":\"r1\"}", &c);
    assert_int_equal(c.op, LR_ADMIN_GET_MEMBERS);
    assert_str(c.group_id, "r1");
    assert_int_equal(c.u.members.limit, LR_ADMIN_DEFAULT_MEMBERS_LIMIT);
    lr_admin_cmd_free(&c);
    parse_ok(svc, "get_members", "{\"GroupId\":\"r1\",\"Limit\":7}", &c);
    assert_int_equal(c.u.members.limit, 7);
    lr_admin_cmd_free(&c);
    check_int_range(svc, "get_members", "{\"GroupId\":\"r1\"}", "Limit", 1,
                    LR_ADMIN_MAX_MEMBERS_LIMIT);
}

/* ---- accounts ---------------------------------------------------------- */

static void test_account_import_and_kick(void **st)
{
    const char *svc = "im_open_login_svc";
    lr_admin_cmd c;
    parse_ok(svc, "account_import",
             "{\"UserID\":\"alice\",\"Nick\":\"Al\",\"FaceUrl\":\"http://a/p.png\"}", &c);
    assert_int_equal(c.op, LR_ADMIN_ACCOUNT_IMPORT);
    assert_null(c.group_id.p);
    assert_str(c.u.account.user, "alice");
    assert_str(c.u.account.nick, "Al");
    assert_str(c.u.account.face_url, "http://a/p.png");
    lr_admin_cmd_free(&c);
    parse_ok(svc, "account_import", "{\"UserID\":\"bob\"}", &c);
    assert_null(c.u.account.nick.p);
    assert_null(c.u.account.face_url.p);
    lr_admin_cmd_free(&c);
    expect_err(svc, "account_import", "{}", LR_ERR_INVALID_PARAM, "UserID");
    expect_err(svc, "account_import", "{\"UserID\":\"a b\"}", LR_ERR_INVALID_PARAM, "UserID");
    expect_err(svc, "account_import", "{\"UserID\":\"\"}", LR_ERR_INVALID_PARAM, "UserID");
    expect_err(svc, "account_import", "{\"UserID\":\"a\",\"Nick\":1}", LR_ERR_INVALID_PARAM,
               "Nick");
    check_str_limit(svc, "account_import", "{}", "UserID", LR_MAX_USER_ID);
    check_str_limit(svc, "account_import", "{\"UserID\":\"a\"}", "Nick", LR_MAX_NICK);
    check_str_limit(svc, "account_import", "{\"UserID\":\"a\"}", "FaceUrl", LR_MAX_AVATAR);

    parse_ok(svc, "kick", "{\"UserID\":\"mallory\"}", &c);
    assert_int_equal(c.op, LR_ADMIN_KICK);
    assert_str(c.u.kick.user, "mallory");
    lr_admin_cmd_free(&c);
    expect_err(svc, "kick", "{}", LR_ERR_INVALID_PARAM, "UserID");
    expect_err(svc, "kick", "{\"UserID\":[\"a\"]}", LR_ERR_INVALID_PARAM, "UserID");
    check_str_limit(svc, "kick", "{}", "UserID", LR_MAX_USER_ID);
}

/* ---- room config ------------------------------------------------------- */

static void test_set_room_config(void **st)
{
    const char *svc = "liveroom_svc";
    lr_admin_cmd c;
    parse_ok(svc, "set_room_config",
             "{\"GroupId\":\"r1\",\"Rate\":100,\"History\":0,\"AllowGuests\":false,"
             "\"MemberEvents\":true,\"ReportLimited\":true}",
             &c);
    assert_int_equal(c.op, LR_ADMIN_SET_ROOM_CONFIG);
    assert_int_equal(c.u.config.rate, 100);
    assert_int_equal(c.u.config.history, 0);
    assert_int_equal(c.u.config.allow_guests, 0);
    assert_int_equal(c.u.config.member_events, 1);
    assert_int_equal(c.u.config.report_limited, 1);
    lr_admin_cmd_free(&c);
    parse_ok(svc, "set_room_config", "{\"GroupId\":\"r1\"}", &c);
    assert_int_equal(c.u.config.rate, -1);
    assert_int_equal(c.u.config.history, -1);
    assert_int_equal(c.u.config.allow_guests, -1);
    assert_int_equal(c.u.config.member_events, -1);
    assert_int_equal(c.u.config.report_limited, -1);
    lr_admin_cmd_free(&c);
    const char *base = "{\"GroupId\":\"r1\"}";
    check_int_range(svc, "set_room_config", base, "Rate", LR_ADMIN_MIN_RATE, LR_ADMIN_MAX_RATE);
    check_int_range(svc, "set_room_config", base, "History", 0, LR_MAX_HISTORY);
    const char *bools[] = {"AllowGuests", "MemberEvents", "ReportLimited"};
    for (size_t i = 0; i < LR_ARRAY_LEN(bools); i++) {
        char *body = with(base, bools[i], json_integer(1));
        expect_err(svc, "set_room_config", body, LR_ERR_INVALID_PARAM, bools[i]);
        free(body);
        body = with(base, bools[i], json_string("true"));
        expect_err(svc, "set_room_config", body, LR_ERR_INVALID_PARAM, bools[i]);
        free(body);
    }
}

/* ---- replies ----------------------------------------------------------- */

typedef struct http_resp {
    int status;
    char head[1024];
    json_t *json;
    const char *body;
    size_t body_len;
} http_resp;

/* Splits one response at out[from..]; checks Content-Length against it. */
static void read_resp(const lr_buf *b, size_t from, http_resp *r)
{
    const char *p = (const char *)b->p + from;
    size_t len = b->len - from;
    const char *end = memmem(p, len, "\r\n\r\n", 4);
    assert_non_null(end);
    size_t hl = (size_t)(end - p) + 4;
    assert_true(hl < sizeof(r->head));
    memcpy(r->head, p, hl);
    r->head[hl] = '\0';
    assert_int_equal(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
    const char *cl = strstr(r->head, "\r\nContent-Length: ");
    assert_non_null(cl);
    size_t n = strtoul(cl + 18, NULL, 10);
    assert_int_equal(n, len - hl);
    r->body = p + hl;
    r->body_len = n;
    r->json = json_loadb(r->body, n, 0, NULL);
}

static void test_reply_ok_with_extra_fields(void **st)
{
    lr_buf b = {0};
    lr_buf_append(&b, "previous", 8);
    json_t *extra = json_object();
    json_object_set_new(extra, "GroupId", json_string("@TGS#1"));
    json_object_set_new(extra, "MsgSeq", json_integer(12));
    assert_int_equal(lr_admin_reply(&b, 0, "", extra, true), 0);
    assert_memory_equal(b.p, "previous", 8);
    http_resp r;
    read_resp(&b, 8, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(r.head, "\r\nContent-Type: application/json; charset=utf-8\r\n"));
    assert_non_null(strstr(r.head, "\r\nConnection: keep-alive\r\n"));
    assert_non_null(r.json);
    assert_string_equal(json_string_value(json_object_get(r.json, "ActionStatus")), "OK");
    assert_int_equal(json_integer_value(json_object_get(r.json, "ErrorCode")), 0);
    assert_string_equal(json_string_value(json_object_get(r.json, "ErrorInfo")), "");
    assert_string_equal(json_string_value(json_object_get(r.json, "GroupId")), "@TGS#1");
    assert_int_equal(json_integer_value(json_object_get(r.json, "MsgSeq")), 12);
    /* Tencent's order: the envelope first */
    assert_true(r.body_len > 16 && memcmp(r.body, "{\"ActionStatus\":", 16) == 0);
    json_decref(r.json);
    lr_buf_free(&b);
}

static void test_reply_fail_closes_and_keeps_envelope_keys(void **st)
{
    lr_buf b = {0};
    json_t *extra = json_object();
    json_object_set_new(extra, "ActionStatus", json_string("OK"));
    json_object_set_new(extra, "ErrorCode", json_integer(0));
    json_object_set_new(extra, "Other", json_true());
    assert_int_equal(lr_admin_reply(&b, LR_ERR_INVALID_PARAM, "Name: too long", extra, false), 0);
    http_resp r;
    read_resp(&b, 0, &r);
    assert_int_equal(r.status, 200); /* errors are in the JSON, never the status */
    assert_non_null(strstr(r.head, "\r\nConnection: close\r\n"));
    assert_null(strstr(r.head, "keep-alive"));
    assert_string_equal(json_string_value(json_object_get(r.json, "ActionStatus")), "FAIL");
    assert_int_equal(json_integer_value(json_object_get(r.json, "ErrorCode")), 10004);
    assert_string_equal(json_string_value(json_object_get(r.json, "ErrorInfo")), "Name: too long");
    assert_true(json_is_true(json_object_get(r.json, "Other")));
    json_decref(r.json);
    lr_buf_free(&b);
}

static void test_reply_with_null_or_non_utf8_info_is_still_json(void **st)
{
    lr_buf b = {0};
    assert_int_equal(lr_admin_reply(&b, LR_ERR_MALFORMED, "bad \xff\xfe byte", NULL, true), 0);
    http_resp r;
    read_resp(&b, 0, &r);
    assert_non_null(r.json);
    const char *info = json_string_value(json_object_get(r.json, "ErrorInfo"));
    assert_non_null(strstr(info, "bad "));
    assert_non_null(strstr(info, " byte"));
    json_decref(r.json);
    size_t at = b.len;
    assert_int_equal(lr_admin_reply(&b, 0, NULL, NULL, true), 0);
    read_resp(&b, at, &r);
    assert_string_equal(json_string_value(json_object_get(r.json, "ErrorInfo")), "");
    assert_int_equal(json_object_size(r.json), 3);
    json_decref(r.json);
    lr_buf_free(&b);
}

static void test_http_error_and_plain_responses(void **st)
{
    lr_buf b = {0};
    assert_int_equal(lr_admin_http_error(&b, 404, NULL, true), 0);
    http_resp r;
    read_resp(&b, 0, &r);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.head, "HTTP/1.1 404 Not Found\r\n"));
    assert_null(strstr(r.head, "Allow:"));
    assert_int_equal(r.body_len, strlen("404 Not Found\n"));
    assert_memory_equal(r.body, "404 Not Found\n", r.body_len);
    json_decref(r.json);

    size_t at = b.len;
    assert_int_equal(lr_admin_http_error(&b, 405, "POST", false), 0);
    read_resp(&b, at, &r);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.head, "\r\nAllow: POST\r\n"));
    assert_non_null(strstr(r.head, "\r\nConnection: close\r\n"));
    json_decref(r.json);

    at = b.len;
    assert_int_equal(lr_admin_http_response(&b, 200, "text/plain; version=0.0.4", "a 1\n", 4, true),
                     0);
    read_resp(&b, at, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "\r\nContent-Type: text/plain; version=0.0.4\r\n"));
    assert_memory_equal(r.body, "a 1\n", 4);
    json_decref(r.json);

    at = b.len;
    assert_int_equal(lr_admin_http_response(&b, 503, "text/plain", "", 0, true), 0);
    read_resp(&b, at, &r);
    assert_int_equal(r.status, 503);
    assert_int_equal(r.body_len, 0);
    json_decref(r.json);
    lr_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_accepts_usersig_of_default_admin_and_returns_identifier),
        cmocka_unit_test(test_auth_accepts_jwt_of_default_admin),
        cmocka_unit_test(test_auth_percent_encoded_usersig_is_decoded),
        cmocka_unit_test(test_auth_configured_admins_replace_the_default),
        cmocka_unit_test(test_auth_non_admin_identifier_with_its_own_valid_sig_is_70013),
        cmocka_unit_test(test_auth_missing_or_empty_parameters_are_10008),
        cmocka_unit_test(test_auth_wrong_sdkappid_is_70003),
        cmocka_unit_test(test_auth_expired_usersig_and_jwt_are_70001),
        cmocka_unit_test(test_auth_bad_signatures_map_to_sig_codes),
        cmocka_unit_test(test_auth_identifier_buffer_too_small_is_internal),
        cmocka_unit_test(test_every_command_of_the_spec_is_routed_by_service_and_name),
        cmocka_unit_test(test_unknown_service_or_command_is_10003_before_the_body_is_read),
        cmocka_unit_test(test_malformed_or_non_object_body_is_10011),
        cmocka_unit_test(test_body_over_one_mib_is_10018_and_at_the_limit_is_parsed),
        cmocka_unit_test(test_group_id_missing_is_10004_and_invalid_is_10015),
        cmocka_unit_test(test_unknown_fields_are_ignored),
        cmocka_unit_test(test_create_group_full_request),
        cmocka_unit_test(test_create_group_type_and_field_errors),
        cmocka_unit_test(test_destroy_get_muted_and_online_num_take_a_group_id),
        cmocka_unit_test(test_get_group_info_list),
        cmocka_unit_test(test_modify_group_base_info_fields),
        cmocka_unit_test(test_send_group_msg_single_text_becomes_a_text_body),
        cmocka_unit_test(test_send_group_msg_priorities),
        cmocka_unit_test(test_send_group_msg_custom_and_mixed_bodies_become_custom_json),
        cmocka_unit_test(test_msg_conversion_is_deterministic),
        cmocka_unit_test(test_msg_body_errors),
        cmocka_unit_test(test_send_group_msg_field_errors),
        cmocka_unit_test(test_msg_convert_direct_use),
        cmocka_unit_test(test_send_group_system_notification),
        cmocka_unit_test(test_send_broadcast_msg),
        cmocka_unit_test(test_forbid_send_msg),
        cmocka_unit_test(test_ban_and_unban_group_member),
        cmocka_unit_test(test_get_group_ban_member_offset_and_limit),
        cmocka_unit_test(test_delete_group_member),
        cmocka_unit_test(test_modify_group_member_info_role),
        cmocka_unit_test(test_get_members_limit),
        cmocka_unit_test(test_account_import_and_kick),
        cmocka_unit_test(test_set_room_config),
        cmocka_unit_test(test_reply_ok_with_extra_fields),
        cmocka_unit_test(test_reply_fail_closes_and_keeps_envelope_keys),
        cmocka_unit_test(test_reply_with_null_or_non_utf8_info_is_still_json),
        cmocka_unit_test(test_http_error_and_plain_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
