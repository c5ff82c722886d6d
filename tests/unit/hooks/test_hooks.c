/*
 * test_hooks.c proves the callbacks module against a real HTTP server
 * (callback_server.py, started once for the whole file): every §3 command
 * is POSTed with the signed query and Tencent's payload, every before-send
 * verdict (rewrite included) reaches the caller, timeouts fail open or
 * closed, after-callbacks are retried exactly once, the queue is bounded,
 * connections are kept alive, a dead backend never blocks a poster, and
 * lr_hooks_stop returns with events still pending. Waits are on condition
 * variables with bounded timeouts; nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hooks/hooks.h"

#define SERVER_SCRIPT LR_SOURCE_DIR "/tests/unit/hooks/callback_server.py"
#define WAIT_MS 10000     /* bound on every wait: far above any honest delay */
#define SHORT_TIMEOUT 300 /* hook timeout against the 3 s "slow" mode */
#define TOKEN "tok-5ecret"
#define APP_ID 1400000042ull

#define STAT(h, f) atomic_load(&lr_hooks_get_stats(h)->f)

/* ---- the backend stand-in ----------------------------------------- */

typedef struct server {
    pid_t pid;
    int to_child;   /* its stdin: closing it stops it */
    int from_child; /* its stdout: JSON lines */
    int port;
    pthread_t reader;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    json_t *records; /* every request, in arrival order */
    bool eof;
    unsigned barrier_seq;
} server;

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

static void *reader_main(void *arg)
{
    server *s = arg;
    FILE *f = fdopen(s->from_child, "r");
    char *line = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) > 0) {
        json_t *rec = json_loads(line, 0, NULL);
        if (!rec) continue;
        pthread_mutex_lock(&s->mu);
        json_t *port = json_object_get(rec, "port");
        if (json_is_integer(port)) {
            s->port = (int)json_integer_value(port);
            json_decref(rec);
        } else {
            /* the array's reference only: the main thread may take more
             * under the lock, and jansson's incref reads the count plainly */
            json_array_append_new(s->records, rec);
        }
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    free(line);
    if (f) fclose(f);
    pthread_mutex_lock(&s->mu);
    s->eof = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int group_setup(void **state)
{
    server *s = calloc(1, sizeof(*s));
    int in[2], out[2];
    if (!s || pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return -1;
    s->pid = fork();
    if (s->pid < 0) return -1;
    if (s->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execl("/usr/bin/python3", "python3", "-u", SERVER_SCRIPT, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    s->to_child = in[1];
    s->from_child = out[0];
    s->records = json_array();
    pthread_mutex_init(&s->mu, NULL);
    cond_init_mono(&s->cv);
    if (pthread_create(&s->reader, NULL, reader_main, s) != 0) return -1;

    struct timespec until;
    deadline_in(&until, WAIT_MS);
    pthread_mutex_lock(&s->mu);
    while (!s->port && !s->eof && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0)
        ;
    int port = s->port;
    pthread_mutex_unlock(&s->mu);
    if (!port) {
        fprintf(stderr, "callback_server.py did not start\n");
        return -1;
    }
    *state = s;
    return 0;
}

static int group_teardown(void **state)
{
    server *s = *state;
    close(s->to_child); /* the server exits on EOF, which ends the reader */
    pthread_join(s->reader, NULL);
    waitpid(s->pid, NULL, 0);
    json_decref(s->records);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return 0;
}

static size_t count_path_locked(server *s, const char *path)
{
    size_t i, n = 0;
    json_t *r;
    json_array_foreach(s->records, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "path")), path) == 0) n++;
    }
    return n;
}

/* Waits until the server has logged at least n requests on path; returns
 * a new array of them (in arrival order), however many arrived. */
static json_t *wait_requests(server *s, const char *path, size_t n)
{
    struct timespec until;
    deadline_in(&until, WAIT_MS);
    pthread_mutex_lock(&s->mu);
    while (count_path_locked(s, path) < n && !s->eof &&
           pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0)
        ;
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(s->records, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "path")), path) == 0)
            json_array_append(out, r);
    }
    pthread_mutex_unlock(&s->mu);
    return out;
}

/* A request of the test's own, sent after the ones under test have been
 * answered or abandoned: once it is logged, every earlier request is too,
 * so a count taken afterwards is final. */
static void barrier(server *s)
{
    char path[64], req[160];
    snprintf(path, sizeof(path), "/barrier/%u", ++s->barrier_seq);
    int n =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    char buf[512];
    while (recv(fd, buf, sizeof(buf), 0) > 0)
        ;
    close(fd);
    json_t *got = wait_requests(s, path, 1);
    assert_int_equal(json_array_size(got), 1);
    json_decref(got);
}

/* ---- helpers ------------------------------------------------------- */

static lr_hooks *start_hooks(const server *s, const char *path, uint32_t timeout_ms,
                             bool fail_closed, uint32_t queue_max, uint32_t commands)
{
    lr_hooks_config c = {0};
    if (s)
        snprintf(c.url, sizeof(c.url), "http://127.0.0.1:%d%s", s->port, path);
    else
        snprintf(c.url, sizeof(c.url), "%s", path);
    snprintf(c.token, sizeof(c.token), "%s", TOKEN);
    c.app_id = APP_ID;
    c.commands = commands;
    c.timeout_ms = timeout_ms;
    c.fail_closed = fail_closed;
    c.queue_max = queue_max;
    char err[256] = "";
    lr_hooks *h = lr_hooks_start(&c, err, sizeof(err));
    if (!h) fprintf(stderr, "lr_hooks_start: %s\n", err);
    assert_non_null(h);
    return h;
}

/* A local port where nothing listens: connections are refused. */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A listener that never accepts: the kernel completes the connections and
 * takes the requests, and no reply ever comes. Returns the fd; *port set. */
static int black_hole(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 128), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* One before-send caller: records every done call. */
typedef struct box {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    int verdict;
    json_t *msg_body;
} box;

static void box_init(box *b)
{
    memset(b, 0, sizeof(*b));
    pthread_mutex_init(&b->mu, NULL);
    cond_init_mono(&b->cv);
    b->verdict = -1;
}

static void box_free(box *b)
{
    json_decref(b->msg_body);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

static void on_verdict(void *ctx, int verdict, json_t *msg_body)
{
    box *b = ctx;
    pthread_mutex_lock(&b->mu);
    b->calls++;
    b->verdict = verdict;
    json_decref(b->msg_body);
    b->msg_body = msg_body;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static int box_wait(box *b, int calls)
{
    struct timespec until;
    deadline_in(&until, WAIT_MS);
    pthread_mutex_lock(&b->mu);
    while (b->calls < calls && pthread_cond_timedwait(&b->cv, &b->mu, &until) == 0)
        ;
    int n = b->calls;
    pthread_mutex_unlock(&b->mu);
    return n;
}

static json_t *text_body(const char *text)
{
    return json_pack("[{s:s, s:{s:s}}]", "MsgType", "TIMTextElem", "MsgContent", "Text", text);
}

static json_t *before_send_body(void)
{
    json_t *mb = text_body("hello");
    json_t *b = lr_hook_body_before_send("room1", "alice", NULL, 12345, "Normal", mb, "cc");
    json_decref(mb);
    assert_non_null(b);
    return b;
}

/* One before-send round trip: the verdict, and the rewritten body if any. */
static int call_once(lr_hooks *h, json_t **msg_body)
{
    box b;
    box_init(&b);
    assert_int_equal(lr_hooks_call(h, before_send_body(), "10.0.0.1", on_verdict, &b), 0);
    assert_int_equal(box_wait(&b, 1), 1);
    int v = b.verdict;
    if (msg_body) {
        *msg_body = b.msg_body;
        b.msg_body = NULL;
    }
    box_free(&b);
    return v;
}

static void sha256_hex(const char *a, const char *b, char out[65])
{
    char in[512];
    unsigned char d[32];
    unsigned int dl = 0;
    int n = snprintf(in, sizeof(in), "%s%s", a, b);
    assert_true(EVP_Digest(in, (size_t)n, d, &dl, EVP_sha256(), NULL) == 1);
    for (unsigned i = 0; i < dl; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static const char *rec_str(json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

static const char *query_str(json_t *rec, const char *key)
{
    return json_string_value(json_object_get(json_object_get(rec, "query"), key));
}

/* ---- tests --------------------------------------------------------- */

static void parse_commands_accepts_all_and_names_and_refuses_unknown(void **state)
{
    (void)state;
    uint32_t m = 0;
    assert_int_equal(lr_hooks_parse_commands("all", &m), 0);
    assert_int_equal(m, LR_HOOK_ALL);
    assert_int_equal(lr_hooks_parse_commands("Group.CallbackBeforeSendMsg, State.StateChange", &m),
                     0);
    assert_int_equal(m, LR_HOOK_BEFORE_SEND | LR_HOOK_STATE_CHANGE);
    assert_int_equal(lr_hooks_parse_commands("Group.CallbackAfterSendMsg,Group."
                                             "CallbackAfterNewMemberJoin,Group."
                                             "CallbackAfterMemberExit,Group."
                                             "CallbackOnMemberStateChange,Group."
                                             "CallbackAfterCreateGroup,Group."
                                             "CallbackAfterGroupDestroyed",
                                             &m),
                     0);
    assert_int_equal(m, LR_HOOK_ALL & ~(LR_HOOK_BEFORE_SEND | LR_HOOK_STATE_CHANGE));

    m = 77;
    assert_int_equal(lr_hooks_parse_commands("", &m), -1);
    assert_int_equal(lr_hooks_parse_commands("Group.CallbackBeforeSendMsg,", &m), -1);
    assert_int_equal(lr_hooks_parse_commands("Group.Nope", &m), -1);
    assert_int_equal(lr_hooks_parse_commands("group.callbackbeforesendmsg", &m), -1);
    assert_int_equal(m, 77);

    assert_string_equal(lr_hooks_command_name(LR_HOOK_AFTER_DESTROY),
                        "Group.CallbackAfterGroupDestroyed");
    assert_null(lr_hooks_command_name(LR_HOOK_AFTER_SEND | LR_HOOK_AFTER_JOIN));
    assert_null(lr_hooks_command_name(1u << 8));
}

static void start_refuses_bad_urls_and_null_hooks_are_off(void **state)
{
    (void)state;
    lr_hooks_config c = {0};
    char err[128] = "";
    assert_null(lr_hooks_start(&c, err, sizeof(err)));
    assert_true(err[0] != '\0');
    snprintf(c.url, sizeof(c.url), "ftp://example.com/cb");
    err[0] = '\0';
    assert_null(lr_hooks_start(&c, err, sizeof(err)));
    assert_true(err[0] != '\0');
    snprintf(c.url, sizeof(c.url), "http://example.com/a b");
    assert_null(lr_hooks_start(&c, err, sizeof(err)));

    assert_false(lr_hooks_enabled(NULL, LR_HOOK_AFTER_SEND));
    assert_int_equal(lr_hooks_post(NULL, LR_HOOK_AFTER_SEND, json_object(), NULL), LR_EINVAL);
    lr_hooks_stop(NULL);
}

static void payload_builders_use_tencent_field_names(void **state)
{
    (void)state;
    json_t *mb = text_body("hi");
    json_t *b = lr_hook_body_after_send("g", "u1", "admin", 7, "Low", mb, NULL, 9, 1700000000);
    /* the builder copied mb: changing it afterwards does not reach the body */
    json_array_clear(mb);
    json_t *want =
        json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:[{s:s, s:{s:s}}], s:s, s:i, s:i, "
                  "s:i}",
                  "GroupId", "g", "Type", "AVChatRoom", "From_Account", "u1", "Operator_Account",
                  "admin", "Random", 7, "MsgPriority", "Low", "MsgBody", "MsgType", "TIMTextElem",
                  "MsgContent", "Text", "hi", "CloudCustomData", "", "MsgSeq", 9, "MsgTime",
                  1700000000, "OnlineOnlyFlag", 0);
    assert_true(json_equal(b, want));
    json_decref(b);
    json_decref(want);
    json_decref(mb);

    const char *two[] = {"a", "b"};
    b = lr_hook_body_member_exit("g", false, "a", two, 2);
    want = json_pack("{s:s, s:s, s:s, s:s, s:[{s:s}, {s:s}]}", "GroupId", "g", "Type", "AVChatRoom",
                     "ExitType", "Quit", "Operator_Account", "a", "ExitMemberList",
                     "Member_Account", "a", "Member_Account", "b");
    assert_true(json_equal(b, want));
    json_decref(b);
    json_decref(want);

    b = lr_hook_body_state_change("u", LR_HOOK_STATE_LOGIN, NULL, 0);
    json_int_t t = json_integer_value(json_object_get(b, "EventTime"));
    assert_true(t > 1600000000000LL); /* milliseconds, filled in */
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "Info"), "Action")),
                        "Login");
    json_decref(b);
    assert_null(lr_hook_body_state_change("u", (lr_hook_state_action)9, NULL, 0));

    /* not UTF-8: refused, and the copied MsgBody is not leaked */
    mb = text_body("x");
    assert_null(lr_hook_body_before_send("\xff\xfe", "u", NULL, 1, NULL, mb, NULL));
    json_decref(mb);
}

static void every_command_is_posted_signed_with_its_payload(void **state)
{
    server *s = *state;
    lr_hooks *h = start_hooks(s, "/allow/commands", 0, false, 0, 0);
    const char *alice[] = {"alice"}, *bob[] = {"bob"}, *carol[] = {"carol"};
    json_t *mb = text_body("hello");

    assert_int_equal(lr_hooks_post(h, LR_HOOK_AFTER_SEND,
                                   lr_hook_body_after_send("room1", "alice", "alice", 12345,
                                                           "Normal", mb, "cc", 42, 1700000000),
                                   "10.1.2.3"),
                     0);
    assert_int_equal(lr_hooks_post(h, LR_HOOK_AFTER_JOIN,
                                   lr_hook_body_member_join("room1", "alice", alice, 1), NULL),
                     0);
    assert_int_equal(lr_hooks_post(h, LR_HOOK_AFTER_EXIT,
                                   lr_hook_body_member_exit("room1", true, "admin", bob, 1), "::1"),
                     0);
    assert_int_equal(lr_hooks_post(h, LR_HOOK_MEMBER_STATE,
                                   lr_hook_body_member_state("room1", false, carol, 1),
                                   "1.2.3.4&x=y"),
                     0);
    assert_int_equal(
        lr_hooks_post(h, LR_HOOK_AFTER_CREATE, lr_hook_body_group("room1", "owner"), NULL), 0);
    assert_int_equal(
        lr_hooks_post(h, LR_HOOK_AFTER_DESTROY, lr_hook_body_group("room1", "owner"), NULL), 0);
    assert_int_equal(lr_hooks_post(h, LR_HOOK_STATE_CHANGE,
                                   lr_hook_body_state_change("dave", LR_HOOK_STATE_DISCONNECT,
                                                             "LinkClose", 1700000000123LL),
                                   "192.168.0.9"),
                     0);
    box b;
    box_init(&b);
    assert_int_equal(lr_hooks_call(h, before_send_body(), "10.0.0.1", on_verdict, &b), 0);
    assert_int_equal(box_wait(&b, 1), 1);
    assert_int_equal(b.verdict, LR_HOOK_ALLOW);
    assert_null(b.msg_body);
    box_free(&b);
    assert_int_equal(lr_hooks_drain(h, WAIT_MS), 0);

    json_t *want[8];
    const char *want_ip[8];
    want[0] = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:O, s:s}", "CallbackCommand",
                        "Group.CallbackBeforeSendMsg", "GroupId", "room1", "Type", "AVChatRoom",
                        "From_Account", "alice", "Operator_Account", "alice", "Random", 12345,
                        "MsgPriority", "Normal", "MsgBody", mb, "CloudCustomData", "cc");
    want_ip[0] = "10.0.0.1";
    want[1] = json_deep_copy(want[0]);
    json_object_set_new(want[1], "CallbackCommand", json_string("Group.CallbackAfterSendMsg"));
    json_object_set_new(want[1], "MsgSeq", json_integer(42));
    json_object_set_new(want[1], "MsgTime", json_integer(1700000000));
    json_object_set_new(want[1], "OnlineOnlyFlag", json_integer(0));
    want_ip[1] = "10.1.2.3";
    want[2] = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s}]}", "CallbackCommand",
                        "Group.CallbackAfterNewMemberJoin", "GroupId", "room1", "Type",
                        "AVChatRoom", "JoinType", "Apply", "Operator_Account", "alice",
                        "NewMemberList", "Member_Account", "alice");
    want_ip[2] = "";
    want[3] = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s}]}", "CallbackCommand",
                        "Group.CallbackAfterMemberExit", "GroupId", "room1", "Type", "AVChatRoom",
                        "ExitType", "Kicked", "Operator_Account", "admin", "ExitMemberList",
                        "Member_Account", "bob");
    want_ip[3] = "::1";
    want[4] = json_pack("{s:s, s:s, s:s, s:[{s:s}]}", "CallbackCommand",
                        "Group.CallbackOnMemberStateChange", "GroupId", "room1", "EventType",
                        "Offline", "MemberList", "Member_Account", "carol");
    want_ip[4] = ""; /* not an IP literal: left out rather than injected */
    want[5] = json_pack("{s:s, s:s, s:s, s:s}", "CallbackCommand", "Group.CallbackAfterCreateGroup",
                        "GroupId", "room1", "Type", "AVChatRoom", "Owner_Account", "owner");
    want_ip[5] = "";
    want[6] =
        json_pack("{s:s, s:s, s:s, s:s}", "CallbackCommand", "Group.CallbackAfterGroupDestroyed",
                  "GroupId", "room1", "Type", "AVChatRoom", "Owner_Account", "owner");
    want_ip[6] = "";
    want[7] = json_pack("{s:s, s:I, s:{s:s, s:s, s:s}}", "CallbackCommand", "State.StateChange",
                        "EventTime", (json_int_t)1700000000123LL, "Info", "Action", "Disconnect",
                        "To_Account", "dave", "Reason", "LinkClose");
    want_ip[7] = "192.168.0.9";
    json_decref(mb);

    json_t *reqs = wait_requests(s, "/allow/commands", 8);
    assert_int_equal(json_array_size(reqs), 8);
    int64_t now = (int64_t)time(NULL);
    for (int i = 0; i < 8; i++) {
        assert_non_null(want[i]);
        const char *cmd = json_string_value(json_object_get(want[i], "CallbackCommand"));
        json_t *rec = NULL, *r;
        size_t k;
        json_array_foreach(reqs, k, r)
        {
            if (strcmp(query_str(r, "CallbackCommand"), cmd) == 0) rec = r;
        }
        assert_non_null(rec);
        assert_string_equal(rec_str(rec, "method"), "POST");
        assert_string_equal(rec_str(rec, "content_type"), "application/json");
        assert_string_equal(query_str(rec, "SdkAppid"), "1400000042");
        assert_string_equal(query_str(rec, "contenttype"), "json");
        assert_string_equal(query_str(rec, "OptPlatform"), "Web");
        assert_string_equal(query_str(rec, "ClientIP"), want_ip[i]);
        const char *rt = query_str(rec, "RequestTime");
        assert_non_null(rt);
        int64_t t = strtoll(rt, NULL, 10);
        assert_true(t > now - 600 && t < now + 600); /* unix seconds, not ms */
        char sign[65];
        sha256_hex(TOKEN, rt, sign);
        assert_string_equal(query_str(rec, "Sign"), sign);
        /* parameters in the documented order */
        char prefix[128];
        snprintf(prefix, sizeof(prefix), "SdkAppid=1400000042&CallbackCommand=%s&contenttype=json",
                 cmd);
        assert_true(strncmp(rec_str(rec, "raw_query"), prefix, strlen(prefix)) == 0);

        const char *raw = rec_str(rec, "body");
        assert_true(strncmp(raw, "{\"CallbackCommand\":", 19) == 0);
        json_t *body = json_loads(raw, 0, NULL);
        assert_non_null(body);
        if (!json_equal(body, want[i])) {
            char *w = json_dumps(want[i], JSON_SORT_KEYS);
            fprintf(stderr, "got  %s\nwant %s\n", raw, w);
            free(w);
            fail();
        }
        json_decref(body);
        json_decref(want[i]);
    }
    json_decref(reqs);
    assert_int_equal(STAT(h, sent), 8);
    assert_int_equal(STAT(h, failed), 0);
    lr_hooks_stop(h);
}

static void before_send_verdicts_follow_the_reply(void **state)
{
    server *s = *state;
    static const struct {
        const char *path;
        int verdict;
        bool rewritten, failed;
    } cases[] = {
        {"/allow/verdict", LR_HOOK_ALLOW, false, false},
        {"/reject/verdict", LR_HOOK_REJECT, false, false},
        {"/drop/verdict", LR_HOOK_DROP, false, false},
        {"/rewrite/verdict", LR_HOOK_ALLOW, true, false},
        {"/500/verdict", LR_HOOK_ALLOW, false, true},
        {"/garbage/verdict", LR_HOOK_ALLOW, false, true},
    };
    for (size_t i = 0; i < LR_ARRAY_LEN(cases); i++) {
        lr_hooks *h = start_hooks(s, cases[i].path, 0, false, 0, 0);
        json_t *mb = NULL;
        int v = call_once(h, &mb);
        if (v != cases[i].verdict) fprintf(stderr, "%s: verdict %d\n", cases[i].path, v);
        assert_int_equal(v, cases[i].verdict);
        if (cases[i].rewritten) {
            json_t *want = text_body("rewritten by backend");
            assert_true(json_equal(mb, want));
            json_decref(want);
        } else {
            assert_null(mb);
        }
        json_decref(mb);
        assert_int_equal(STAT(h, failed), cases[i].failed ? 1 : 0);
        assert_int_equal(STAT(h, sent), cases[i].failed ? 0 : 1);
        lr_hooks_stop(h);
    }
}

static void before_send_fails_open_or_closed_on_timeout_and_errors(void **state)
{
    server *s = *state;
    lr_hooks *h = start_hooks(s, "/slow/open", SHORT_TIMEOUT, false, 0, 0);
    assert_int_equal(call_once(h, NULL), LR_HOOK_ALLOW);
    assert_int_equal(STAT(h, timeouts), 1);
    assert_int_equal(STAT(h, failed), 1);
    assert_int_equal(STAT(h, retried), 0); /* before-send is never retried */
    lr_hooks_stop(h);

    h = start_hooks(s, "/slow/closed", SHORT_TIMEOUT, true, 0, 0);
    assert_int_equal(call_once(h, NULL), LR_HOOK_REJECT);
    assert_int_equal(STAT(h, timeouts), 1);
    lr_hooks_stop(h);

    h = start_hooks(s, "/500/closed", 0, true, 0, 0);
    assert_int_equal(call_once(h, NULL), LR_HOOK_REJECT);
    assert_int_equal(STAT(h, timeouts), 0);
    assert_int_equal(STAT(h, failed), 1);
    lr_hooks_stop(h);

    h = start_hooks(s, "/reject/closed", 0, true, 0, 0);
    assert_int_equal(call_once(h, NULL), LR_HOOK_REJECT);
    lr_hooks_stop(h);
    h = start_hooks(s, "/allow/closed", 0, true, 0, 0);
    assert_int_equal(call_once(h, NULL), LR_HOOK_ALLOW);
    lr_hooks_stop(h);
}

static void after_send_is_retried_exactly_once_on_timeout(void **state)
{
    server *s = *state;
    lr_hooks *h = start_hooks(s, "/slow/retry", SHORT_TIMEOUT, false, 0, 0);
    json_t *mb = text_body("x");
    assert_int_equal(
        lr_hooks_post(h, LR_HOOK_AFTER_SEND,
                      lr_hook_body_after_send("r", "u", NULL, 1, "High", mb, NULL, 1, 1700000000),
                      NULL),
        0);
    json_decref(mb);
    assert_int_equal(lr_hooks_drain(h, WAIT_MS), 0);
    assert_int_equal(STAT(h, timeouts), 2);
    assert_int_equal(STAT(h, retried), 1);
    assert_int_equal(STAT(h, failed), 1);
    assert_int_equal(STAT(h, sent), 0);
    assert_int_equal(STAT(h, latency_bucket[LR_HOOKS_LATENCY_BUCKETS - 1]), 2);
    lr_hooks_stop(h);

    barrier(s);
    json_t *reqs = wait_requests(s, "/slow/retry", 2);
    assert_int_equal(json_array_size(reqs), 2);
    assert_string_equal(rec_str(json_array_get(reqs, 0), "body"),
                        rec_str(json_array_get(reqs, 1), "body"));
    json_decref(reqs);

    /* an error that is not a timeout is not retried */
    h = start_hooks(s, "/500/retry", 0, false, 0, 0);
    assert_int_equal(lr_hooks_post(h, LR_HOOK_AFTER_CREATE, lr_hook_body_group("r", "o"), NULL), 0);
    assert_int_equal(lr_hooks_drain(h, WAIT_MS), 0);
    assert_int_equal(STAT(h, retried), 0);
    assert_int_equal(STAT(h, failed), 1);
    lr_hooks_stop(h);
    barrier(s);
    reqs = wait_requests(s, "/500/retry", 1);
    assert_int_equal(json_array_size(reqs), 1);
    json_decref(reqs);
}

static void a_full_queue_refuses_with_elimit_and_counts_dropped(void **state)
{
    (void)state;
    int port, hole = black_hole(&port);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/cb", port);
    lr_hooks *h = start_hooks(NULL, url, WAIT_MS, false, 4, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(lr_hooks_post(h, LR_HOOK_AFTER_CREATE, lr_hook_body_group("r", "o"), NULL),
                         0);
    /* four events queued or in flight, none of them can finish */
    assert_int_equal(lr_hooks_post(h, LR_HOOK_AFTER_CREATE, lr_hook_body_group("r", "o"), NULL),
                     LR_ELIMIT);
    box b;
    box_init(&b);
    assert_int_equal(lr_hooks_call(h, before_send_body(), NULL, on_verdict, &b), LR_ELIMIT);
    assert_int_equal(STAT(h, dropped), 2);
    assert_int_equal(lr_hooks_drain(h, 1), LR_EAGAIN);
    lr_hooks_stop(h);
    assert_int_equal(b.calls, 0); /* refused calls get no done */
    box_free(&b);
    close(hole);
}

static void requests_reuse_one_keep_alive_connection(void **state)
{
    server *s = *state;
    lr_hooks *h = start_hooks(s, "/allow/keepalive", 0, false, 0, 0);
    enum { N = 6 };
    for (int i = 0; i < N; i++) {
        if (i % 2) {
            assert_int_equal(call_once(h, NULL), LR_HOOK_ALLOW);
        } else {
            assert_int_equal(
                lr_hooks_post(h, LR_HOOK_AFTER_DESTROY, lr_hook_body_group("r", "o"), NULL), 0);
            assert_int_equal(lr_hooks_drain(h, WAIT_MS), 0);
        }
    }
    json_t *reqs = wait_requests(s, "/allow/keepalive", N);
    assert_int_equal(json_array_size(reqs), N);
    json_int_t port0 = json_integer_value(json_object_get(json_array_get(reqs, 0), "client_port"));
    for (size_t i = 1; i < N; i++)
        assert_int_equal(
            json_integer_value(json_object_get(json_array_get(reqs, i), "client_port")), port0);
    json_decref(reqs);

    /* one latency observation per request, cumulative buckets */
    const lr_hooks_stats *st = lr_hooks_get_stats(h);
    assert_int_equal(atomic_load(&st->latency_bucket[LR_HOOKS_LATENCY_BUCKETS - 1]), N);
    for (int i = 1; i < LR_HOOKS_LATENCY_BUCKETS; i++)
        assert_true(atomic_load(&st->latency_bucket[i]) >= atomic_load(&st->latency_bucket[i - 1]));
    assert_true(atomic_load(&st->latency_sum_us) > 0);
    assert_int_equal(STAT(h, sent), N);
    lr_hooks_stop(h);
}

/* A done callback that holds the hooks thread until the test lets go. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, open;
    int verdict;
} gate;

static void gate_done(void *ctx, int verdict, json_t *msg_body)
{
    gate *g = ctx;
    json_decref(msg_body);
    struct timespec until;
    deadline_in(&until, WAIT_MS);
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    g->verdict = verdict;
    pthread_cond_broadcast(&g->cv);
    while (!g->open && pthread_cond_timedwait(&g->cv, &g->mu, &until) == 0)
        ;
    pthread_mutex_unlock(&g->mu);
}

static void a_dead_backend_never_blocks_posters_and_counts_failures(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/cb", dead_port());
    enum { QMAX = 32, POSTS = 50 };
    lr_hooks *h = start_hooks(NULL, url, 0, false, QMAX, 0);
    gate g = {.verdict = -1};
    pthread_mutex_init(&g.mu, NULL);
    cond_init_mono(&g.cv);
    assert_int_equal(lr_hooks_call(h, before_send_body(), NULL, gate_done, &g), 0);
    struct timespec until;
    deadline_in(&until, WAIT_MS);
    pthread_mutex_lock(&g.mu);
    while (!g.entered && pthread_cond_timedwait(&g.cv, &g.mu, &until) == 0)
        ;
    bool entered = g.entered;
    pthread_mutex_unlock(&g.mu);
    assert_true(entered);
    assert_int_equal(g.verdict, LR_HOOK_ALLOW); /* refused: fail open */

    /* The hooks thread is stuck in gate_done: every post below returns
     * without it, first queued, then refused once the queue is full. */
    int ok = 0, limited = 0;
    for (int i = 0; i < POSTS; i++) {
        int rc = lr_hooks_post(h, LR_HOOK_STATE_CHANGE,
                               lr_hook_body_state_change("u", LR_HOOK_STATE_LOGOUT, "x", 1), NULL);
        if (rc == 0) ok++;
        if (rc == LR_ELIMIT) limited++;
    }
    assert_int_equal(ok, QMAX - 1); /* the gated call still counts */
    assert_int_equal(limited, POSTS - (QMAX - 1));

    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    assert_int_equal(lr_hooks_drain(h, WAIT_MS), 0);
    assert_int_equal(STAT(h, failed), QMAX);
    assert_int_equal(STAT(h, dropped), POSTS - (QMAX - 1));
    assert_int_equal(STAT(h, sent), 0);
    assert_int_equal(STAT(h, timeouts), 0);
    assert_int_equal(STAT(h, retried), 0); /* refused is not a timeout */
    lr_hooks_stop(h);
    pthread_cond_destroy(&g.cv);
    pthread_mutex_destroy(&g.mu);
}

typedef struct poster {
    lr_hooks *h;
    int ok;
} poster;

static void *poster_main(void *arg)
{
    poster *p = arg;
    for (int i = 0; i < 200; i++) {
        const char *who[] = {"u"};
        if (lr_hooks_post(p->h, LR_HOOK_MEMBER_STATE, lr_hook_body_member_state("r", true, who, 1),
                          "127.0.0.1") == 0)
            p->ok++;
    }
    return NULL;
}

static void concurrent_posters_lose_no_event(void **state)
{
    server *s = *state;
    lr_hooks *h = start_hooks(s, "/allow/concurrent", 0, false, 0, 0);
    enum { THREADS = 4 };
    poster p[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        p[i] = (poster){.h = h};
        assert_int_equal(pthread_create(&t[i], NULL, poster_main, &p[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        ok += p[i].ok;
    }
    assert_int_equal(ok, THREADS * 200);
    assert_int_equal(lr_hooks_drain(h, WAIT_MS), 0);
    assert_int_equal(STAT(h, sent), THREADS * 200);
    assert_int_equal(STAT(h, failed) + STAT(h, dropped), 0);
    lr_hooks_stop(h);
    barrier(s);
    json_t *reqs = wait_requests(s, "/allow/concurrent", THREADS * 200);
    assert_int_equal(json_array_size(reqs), THREADS * 200);
    json_decref(reqs);
}

typedef struct stopper {
    lr_hooks *h;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool returned;
} stopper;

static void *stop_main(void *arg)
{
    stopper *st = arg;
    lr_hooks_stop(st->h);
    pthread_mutex_lock(&st->mu);
    st->returned = true;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

typedef struct counted {
    int calls, verdict;
} counted;

static void count_done(void *ctx, int verdict, json_t *msg_body)
{
    counted *c = ctx;
    c->calls++;
    c->verdict = verdict;
    json_decref(msg_body);
}

static void stop_returns_with_pending_events_and_answers_every_call(void **state)
{
    (void)state;
    int port, hole = black_hole(&port);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/cb", port);
    /* the backend never answers and the timeout is far away: only stop's
     * flush window can end these */
    lr_hooks *h = start_hooks(NULL, url, 60000, false, 0, 0);
    enum { CALLS = 24, POSTS = 40 };
    counted c[CALLS] = {{0, 0}};
    for (int i = 0; i < CALLS; i++)
        assert_int_equal(lr_hooks_call(h, before_send_body(), NULL, count_done, &c[i]), 0);
    for (int i = 0; i < POSTS; i++)
        assert_int_equal(lr_hooks_post(h, LR_HOOK_AFTER_CREATE, lr_hook_body_group("r", "o"), NULL),
                         0);

    stopper st = {.h = h};
    pthread_mutex_init(&st.mu, NULL);
    cond_init_mono(&st.cv);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stop_main, &st), 0);
    struct timespec until;
    deadline_in(&until, WAIT_MS);
    pthread_mutex_lock(&st.mu);
    while (!st.returned && pthread_cond_timedwait(&st.cv, &st.mu, &until) == 0)
        ;
    bool returned = st.returned;
    pthread_mutex_unlock(&st.mu);
    assert_true(returned);
    pthread_join(t, NULL);
    for (int i = 0; i < CALLS; i++) {
        assert_int_equal(c[i].calls, 1);
        assert_int_equal(c[i].verdict, LR_HOOK_ALLOW);
    }
    pthread_cond_destroy(&st.cv);
    pthread_mutex_destroy(&st.mu);
    close(hole);
}

static void only_configured_commands_are_sent(void **state)
{
    server *s = *state;
    lr_hooks *h = start_hooks(s, "/allow/mask", 0, false, 0, LR_HOOK_AFTER_SEND);
    assert_true(lr_hooks_enabled(h, LR_HOOK_AFTER_SEND));
    assert_false(lr_hooks_enabled(h, LR_HOOK_BEFORE_SEND));
    assert_int_equal(
        lr_hooks_post(h, LR_HOOK_AFTER_JOIN, lr_hook_body_member_join("r", "u", NULL, 0), NULL), 0);
    assert_int_equal(lr_hooks_call(h, before_send_body(), NULL, on_verdict, NULL), LR_EINVAL);
    assert_int_equal(lr_hooks_post(h, LR_HOOK_BEFORE_SEND, before_send_body(), NULL), LR_EINVAL);
    json_t *mb = text_body("m");
    assert_int_equal(
        lr_hooks_post(h, LR_HOOK_AFTER_SEND,
                      lr_hook_body_after_send("r", "u", NULL, 1, "High", mb, NULL, 1, 1), NULL),
        0);
    json_decref(mb);
    assert_int_equal(lr_hooks_drain(h, WAIT_MS), 0);
    lr_hooks_stop(h);
    barrier(s);
    json_t *reqs = wait_requests(s, "/allow/mask", 1);
    assert_int_equal(json_array_size(reqs), 1);
    assert_string_equal(query_str(json_array_get(reqs, 0), "CallbackCommand"),
                        "Group.CallbackAfterSendMsg");
    json_decref(reqs);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_commands_accepts_all_and_names_and_refuses_unknown),
        cmocka_unit_test(start_refuses_bad_urls_and_null_hooks_are_off),
        cmocka_unit_test(payload_builders_use_tencent_field_names),
        cmocka_unit_test(every_command_is_posted_signed_with_its_payload),
        cmocka_unit_test(before_send_verdicts_follow_the_reply),
        cmocka_unit_test(before_send_fails_open_or_closed_on_timeout_and_errors),
        cmocka_unit_test(after_send_is_retried_exactly_once_on_timeout),
        cmocka_unit_test(a_full_queue_refuses_with_elimit_and_counts_dropped),
        cmocka_unit_test(requests_reuse_one_keep_alive_connection),
        cmocka_unit_test(a_dead_backend_never_blocks_posters_and_counts_failures),
        cmocka_unit_test(stop_returns_with_pending_events_and_answers_every_call),
        cmocka_unit_test(concurrent_posters_lose_no_event),
        cmocka_unit_test(only_configured_commands_are_sent),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
