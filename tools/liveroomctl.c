/*
 * liveroomctl is the operators' admin CLI: one ADMIN_API.md command per
 * run. It signs a UserSig for the app admin with the engine's secret
 * (engine/auth/sig.c), builds the JSON body from Key=Value words (and an
 * optional --json object), maps the command to its Tencent service, POSTs
 * it over one plain HTTP/1.1 connection, prints the reply and exits 0 when
 * ActionStatus is OK, 1 otherwise, 2 on a usage error.
 *
 * It owns argument handling and one blocking request; it never prints the
 * secret, never creates a data dir or secret file (a typo in --data-dir must
 * not mint a new key), and never retries: a command may have been applied
 * even when its reply was lost, so a retry is the operator's decision.
 *
 * Plain sockets rather than libcurl: the admin port speaks a small, fixed
 * HTTP/1.1 subset (Content-Length bodies, loopback by default), and a
 * `Connection: close` request lets the reply end at EOF.
 */
#include "auth/sig.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT "7071"
#define DEFAULT_APP_ID 1400000000ULL
#define DEFAULT_ADMIN "administrator"
#define DEFAULT_DATA_DIR "./liveroom-data"
#define DEFAULT_TIMEOUT_S 30
#define SIG_EXPIRE_S 300     /* one request: a short-lived signature */
#define MAX_REPLY (8u << 20) /* replies are small; refuse runaway peers */
#define MAX_SECRET 4096      /* same bound as liveroom-sig */
#define MAX_SERVICE_NAME 64  /* longest "service" in "service/command" */

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Commands that do not live in group_open_http_svc (ADMIN_API.md §2). */
static const struct {
    const char *command, *service;
} services[] = {
    {"get_members", "group_open_avchatroom_http_svc"},
    {"account_import", "im_open_login_svc"},
    {"kick", "im_open_login_svc"},
    {"set_room_config", "liveroom_svc"},
};

typedef struct opts {
    const char *host, *port, *secret, *data_dir, *admin, *json;
    uint64_t app_id;
    unsigned timeout_s;
} opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: liveroomctl [--host H] [--port P] [--secret KEY | --data-dir DIR]\n"
            "                   [--app-id N] [--admin ID] [--timeout SECS]\n"
            "                   COMMAND [Key=Value ...] [--json '{...}']\n"
            "  COMMAND         an ADMIN_API.md command (create_group, get_members, kick,\n"
            "                  set_room_config, ...) or SERVICE/COMMAND\n"
            "  Key=Value       a body field; a Value that is JSON (number, array, object,\n"
            "                  true/false/null, \"string\") is sent as that JSON, any other\n"
            "                  Value as a string: GroupId=room1 MuteTime=60\n"
            "                  Members_Account='[\"bob\"]'\n"
            "  --json OBJ      a JSON object to start the body from (Key=Value overrides)\n"
            "  --host H        admin address (default %s)\n"
            "  --port P        admin port (default %s)\n"
            "  --secret KEY    signing key (default: the text of DIR/secret)\n"
            "  --data-dir DIR  the engine's data dir holding `secret` (default %s)\n"
            "  --app-id N      SDKAppID (default %llu)\n"
            "  --admin ID      app admin identifier (default %s)\n"
            "  --timeout SECS  give up on a silent engine (default %d)\n"
            "exit status: 0 ActionStatus OK, 1 FAIL or no valid reply, 2 usage error\n",
            DEFAULT_HOST, DEFAULT_PORT, DEFAULT_DATA_DIR, DEFAULT_APP_ID, DEFAULT_ADMIN,
            DEFAULT_TIMEOUT_S);
}

static int bad_usage(const char *fmt, const char *arg)
{
    fputs("liveroomctl: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    usage(stderr);
    return EXIT_USAGE;
}

static int fail(const char *fmt, const char *arg)
{
    fputs("liveroomctl: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EXIT_FAIL;
}

/* Whole-string unsigned decimal; rejects signs, spaces and overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (!*s || *s < '0' || *s > '9') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

/* ---- body ---------------------------------------------------------------- */

/*
 * A value is JSON when the whole of it parses as JSON; otherwise it is a
 * string. So MuteTime=60 is a number, GroupId=room1 a string, and
 * GroupId='"123"' the string "123" for ids that look like numbers.
 */
static json_t *value_of(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    return v ? v : json_string(text);
}

/* Returns 0, EXIT_USAGE (message printed) or EXIT_FAIL (out of memory). */
static int add_pair(json_t *body, const char *word)
{
    const char *eq = strchr(word, '=');
    if (!eq) return bad_usage("'%s' is not Key=Value", word);
    if (eq == word) return bad_usage("'%s' has an empty key", word);
    size_t klen = (size_t)(eq - word);
    json_t *v = value_of(eq + 1);
    if (!v) return fail("%s", "out of memory");
    if (json_object_setn_new(body, word, klen, v) != 0)
        return bad_usage("'%s' has a key that is not UTF-8", word);
    return 0;
}

/* ---- request ------------------------------------------------------------- */

static int load_secret(const opts *o, char *out, size_t cap)
{
    if (o->secret) {
        if (snprintf(out, cap, "%s", o->secret) >= (int)cap) return -1;
        return 0;
    }
    char path[4096];
    if (snprintf(path, sizeof path, "%s/secret", o->data_dir) >= (int)sizeof path) return -1;
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "liveroomctl: no secret at %s (give --secret or --data-dir): %s\n", path,
                strerror(errno));
        return -1;
    }
    /* The file exists, so this only reads it, with the engine's own rules. */
    int n = lr_secret_load_or_create(o->data_dir, out, cap);
    if (n <= 0) {
        fprintf(stderr, "liveroomctl: cannot read the secret in %s (error %d)\n", o->data_dir, n);
        return -1;
    }
    return 0;
}

/* Percent-encode everything but RFC 3986 unreserved characters. */
static bool pct_append(char *dst, size_t cap, size_t *len, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~';
        size_t need = plain ? 1 : 3;
        if (*len + need >= cap) return false;
        if (plain) {
            dst[(*len)++] = (char)c;
        } else {
            dst[(*len)++] = '%';
            dst[(*len)++] = hex[c >> 4];
            dst[(*len)++] = hex[c & 15];
        }
    }
    dst[*len] = '\0';
    return true;
}

static int connect_to(const opts *o)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "liveroomctl: %s:%s: %s\n", o->host, o->port, gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        struct timeval tv = {.tv_sec = o->timeout_s};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "liveroomctl: cannot connect to %s:%s: %s\n", o->host, o->port,
                strerror(err));
    return fd;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Read until EOF (the request asked for Connection: close). */
static char *read_all(int fd, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return NULL;
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_REPLY) break;
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = recv(fd, buf + n, cap - n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            fprintf(stderr, "liveroomctl: reading the reply: %s\n",
                    errno == EAGAIN ? "timed out" : strerror(errno));
            free(buf);
            return NULL;
        }
        if (r == 0) {
            buf[n] = '\0';
            *len = n;
            return buf;
        }
        n += (size_t)r;
    }
    fprintf(stderr, "liveroomctl: reply too large or out of memory\n");
    free(buf);
    return NULL;
}

/*
 * Split a response into status and body. The body is what Content-Length
 * says when present (the engine always sends it), else everything to EOF.
 */
static int parse_response(char *resp, size_t len, int *status, const char **body, size_t *body_len)
{
    char *end = strstr(resp, "\r\n\r\n");
    if (strncmp(resp, "HTTP/1.", 7) != 0 || !end || len < 12) return -1;
    *status = atoi(resp + 9);
    *body = end + 4;
    size_t avail = len - (size_t)(*body - resp);
    *body_len = avail;
    for (char *h = strstr(resp, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n")) {
        if (strncasecmp(h + 2, "content-length:", 15) == 0) {
            unsigned long long cl = strtoull(h + 17, NULL, 10);
            if (cl < avail) *body_len = (size_t)cl;
            break;
        }
    }
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

static int run(const opts *o, const char *service, const char *command, const char *payload)
{
    char secret[MAX_SECRET];
    if (load_secret(o, secret, sizeof secret) != 0) return EXIT_FAIL;
    char sig[4096];
    int n = lr_usersig_make(lr_str_c(secret), o->app_id, lr_str_c(o->admin), lr_wall_ms() / 1000,
                            SIG_EXPIRE_S, sig, sizeof sig);
    memset(secret, 0, sizeof secret);
    if (n < 0) return fail("%s", "cannot sign the request");

    uint32_t random = 0;
    if (getrandom(&random, sizeof random, 0) != (ssize_t)sizeof random)
        random = (uint32_t)lr_wall_ms();

    char target[8192];
    size_t tl = 0;
    int w = snprintf(target, sizeof target, "/v4/%s/%s?sdkappid=%llu&identifier=", service, command,
                     (unsigned long long)o->app_id);
    if (w < 0 || (size_t)w >= sizeof target) return bad_usage("command '%s' too long", command);
    tl = (size_t)w;
    bool fits = pct_append(target, sizeof target, &tl, o->admin);
    fits = fits && tl + 9 < sizeof target;
    if (fits) {
        memcpy(target + tl, "&usersig=", 10);
        tl += 9;
        fits = pct_append(target, sizeof target, &tl, sig);
    }
    if (fits) {
        w = snprintf(target + tl, sizeof target - tl, "&random=%u&contenttype=json", random);
        fits = w > 0 && (size_t)w < sizeof target - tl;
    }
    if (!fits) return bad_usage("%s", "request line too long");

    size_t plen = strlen(payload);
    char head[10240];
    w = snprintf(head, sizeof head,
                 "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                 target, o->host, o->port, plen);
    if (w < 0 || (size_t)w >= sizeof head) return bad_usage("%s", "request head too long");

    int fd = connect_to(o);
    if (fd < 0) return EXIT_FAIL;
    if (!write_all(fd, head, (size_t)w) || !write_all(fd, payload, plen)) {
        int e = errno;
        close(fd);
        return fail("sending the request: %s", strerror(e));
    }
    size_t rlen = 0;
    char *resp = read_all(fd, &rlen);
    close(fd);
    if (!resp) return EXIT_FAIL;

    int status = 0, rc = EXIT_FAIL;
    const char *body;
    size_t blen;
    if (parse_response(resp, rlen, &status, &body, &blen) != 0) {
        fprintf(stderr, "liveroomctl: not an HTTP response (%zu bytes)\n", rlen);
        free(resp);
        return EXIT_FAIL;
    }
    fwrite(body, 1, blen, stdout);
    if (blen == 0 || body[blen - 1] != '\n') fputc('\n', stdout);
    json_t *reply = json_loadb(body, blen, 0, NULL);
    const char *st = reply ? json_string_value(json_object_get(reply, "ActionStatus")) : NULL;
    if (status != 200)
        fprintf(stderr, "liveroomctl: HTTP %d\n", status);
    else if (!reply)
        fprintf(stderr, "liveroomctl: the reply is not JSON\n");
    else if (st && !strcmp(st, "OK"))
        rc = EXIT_OK;
    json_decref(reply);
    free(resp);
    if (fflush(stdout) != 0) rc = EXIT_FAIL;
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'H'},   {"port", required_argument, NULL, 'p'},
        {"secret", required_argument, NULL, 's'}, {"data-dir", required_argument, NULL, 'd'},
        {"app-id", required_argument, NULL, 'a'}, {"admin", required_argument, NULL, 'u'},
        {"json", required_argument, NULL, 'j'},   {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    opts o = {.host = DEFAULT_HOST,
              .port = DEFAULT_PORT,
              .admin = DEFAULT_ADMIN,
              .app_id = DEFAULT_APP_ID,
              .timeout_s = DEFAULT_TIMEOUT_S};
    uint64_t u;

    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'H':
            o.host = optarg;
            break;
        case 'p':
            if (!parse_u64(optarg, &u) || u == 0 || u > 65535)
                return bad_usage("--port wants 1-65535, not '%s'", optarg);
            o.port = optarg;
            break;
        case 's':
            o.secret = optarg;
            break;
        case 'd':
            o.data_dir = optarg;
            break;
        case 'a':
            if (!parse_u64(optarg, &o.app_id))
                return bad_usage("--app-id wants an unsigned number, not '%s'", optarg);
            break;
        case 'u':
            o.admin = optarg;
            break;
        case 'j':
            o.json = optarg;
            break;
        case 't':
            if (!parse_u64(optarg, &u) || u == 0 || u > 86400)
                return bad_usage("--timeout wants 1-86400 seconds, not '%s'", optarg);
            o.timeout_s = (unsigned)u;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case ':':
            return bad_usage("%s needs a value", argv[optind - 1]);
        default:
            return bad_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return bad_usage("%s", "no COMMAND given");
    if (o.secret && o.data_dir) return bad_usage("%s", "give --secret or --data-dir, not both");
    if (o.secret && !*o.secret) return bad_usage("%s", "--secret must not be empty");
    if (!o.secret && !o.data_dir) o.data_dir = DEFAULT_DATA_DIR;
    if (!lr_id_valid(lr_str_c(o.admin), LR_MAX_USER_ID))
        return bad_usage("invalid --admin '%s' (1-32 printable ASCII, no space)", o.admin);

    /* COMMAND or SERVICE/COMMAND. */
    const char *arg = argv[optind++];
    char service[MAX_SERVICE_NAME + 1];
    const char *command = arg, *slash = strchr(arg, '/');
    if (slash) {
        size_t sl = (size_t)(slash - arg);
        if (sl == 0 || sl > MAX_SERVICE_NAME || !slash[1] || strchr(slash + 1, '/'))
            return bad_usage("'%s' is not COMMAND or SERVICE/COMMAND", arg);
        memcpy(service, arg, sl);
        service[sl] = '\0';
        command = slash + 1;
    } else {
        snprintf(service, sizeof service, "group_open_http_svc");
        for (size_t i = 0; i < LR_ARRAY_LEN(services); i++)
            if (!strcmp(command, services[i].command))
                snprintf(service, sizeof service, "%s", services[i].service);
    }
    for (const char *p = arg; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '/' || *p == '.' || *p == '-'))
            return bad_usage("'%s' is not a command name", arg);

    json_t *body;
    if (o.json) {
        json_error_t jerr;
        body = json_loads(o.json, JSON_REJECT_DUPLICATES, &jerr);
        if (!body) return bad_usage("--json is not valid JSON: %s", jerr.text);
        if (!json_is_object(body)) {
            json_decref(body);
            return bad_usage("%s", "--json must be a JSON object");
        }
    } else {
        body = json_object();
        if (!body) return fail("%s", "out of memory");
    }
    for (; optind < argc; optind++) {
        int rc = add_pair(body, argv[optind]);
        if (rc) {
            json_decref(body);
            return rc;
        }
    }
    char *payload = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!payload) return fail("%s", "out of memory");
    int rc = run(&o, service, command, payload);
    free(payload);
    return rc;
}
