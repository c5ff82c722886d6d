/*
 * config.c: the engine's options, table-driven so that flags, the config
 * file and LIVEROOM_* environment variables share one parser and one list
 * of limits. Never touches a running engine: a config is copied into the
 * engine at creation.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/log.h"
#include "liveroom/liveroom.h"

typedef enum { T_U16, T_U32, T_U64, T_BOOL, T_STR, T_LOG } opt_type;

typedef struct opt {
    const char *name;
    opt_type type;
    size_t off;
    size_t size; /* for strings */
    uint64_t min, max;
    const char *help;
} opt;

#define O(name, type, field, min, max, help)                                                       \
    {                                                                                              \
        name, type, offsetof(lr_config, field), sizeof(((lr_config *)0)->field), min, max, help    \
    }

static const opt opts[] = {
    O("port", T_U16, port, 0, 65535, "WebSocket client port"),
    O("tcp-port", T_U16, tcp_port, 0, 65535, "raw TCP client port (0 = off)"),
    O("admin-port", T_U16, admin_port, 0, 65535, "admin API port (0 = off)"),
    O("bind", T_STR, bind, 0, 0, "address of the client listeners"),
    O("admin-bind", T_STR, admin_bind, 0, 0, "address of the admin listener"),
    O("shards", T_U32, shards, 0, 256,
      "shard threads (0: one per CPU, more if 120,000 connections need them)"),
    O("files-per-shard", T_U32, files_per_shard, 64, 1048576, "fixed-file table size per shard"),
    O("max-conns", T_U32, max_conns, 1, 100000000, "connections, whole process"),
    O("recv-buffers", T_U32, recv_buffers, 16, 32768, "provided receive buffers per shard"),
    O("recv-buffer-size", T_U32, recv_buffer_size, 512, 1048576, "bytes per receive buffer"),
    O("data-dir", T_STR, data_dir, 0, 0, "directory of the embedded store"),
    O("secret", T_STR, secret, 0, 0, "signing key (default: <data-dir>/secret)"),
    O("app-id", T_U64, app_id, 1, UINT64_MAX, "SDKAppID"),
    O("auto-create", T_BOOL, auto_create, 0, 1, "create a room on its first join"),
    O("admins", T_STR, admins, 0, 0, "app admin identifiers, comma-separated (up to 15)"),
    O("broadcast-rate", T_U32, broadcast_rate, 1, 5, "admin broadcasts per second"),
    O("log-level", T_LOG, log_level, 0, 4, "debug|info|warn|error|off"),
    O("idle-timeout", T_U32, idle_timeout_s, 1, 86400, "seconds without a frame before close"),
    O("ping-interval", T_U32, ping_interval_s, 1, 86400, "seconds of silence before a ping"),
    O("handshake-timeout", T_U32, handshake_timeout_s, 1, 3600, "seconds to finish the upgrade"),
    O("max-rooms-per-conn", T_U32, max_rooms_per_conn, 1, LR_MAX_ROOMS_PER_CONN_CAP,
      "rooms one connection may join"),
    O("max-frame", T_U32, max_frame, 1024, 16777216, "client message size (close 1009 above)"),
    O("max-body", T_U32, max_body, 1, LR_MAX_BODY, "message body bytes (10018 above)"),
    O("user-rate", T_U32, user_rate, 1, 100000, "messages per second per user (10006 above)"),
    O("device-limit", T_U32, device_limit, 1, 10000, "connections per user (6208 to the oldest)"),
    O("max-rooms", T_U32, max_rooms, 1, 100000000, "rooms, whole process"),
    O("rate", T_U32, rate, 1, 100000, "room messages per second (frequency control)"),
    O("rate-window-ms", T_U32, rate_window_ms, 1, 1000, "frequency control window"),
    O("history", T_U32, history, 0, LR_MAX_HISTORY, "messages returned on join"),
    O("history-max-age", T_U32, history_max_age_s, 1, 86400 * 30, "seconds history is kept"),
    O("count-interval-ms", T_U32, count_interval_ms, 10, 3600000, "min interval of count pushes"),
    O("allow-guests", T_BOOL, allow_guests, 0, 1, "rooms admit guests by default"),
    O("member-events", T_BOOL, member_events, 0, 1, "rooms push join/leave events by default"),
    O("report-limited", T_BOOL, report_limited, 0, 1, "dropped sends get err 10023"),
    O("callback-url", T_STR, callback_url, 0, 0, "business backend URL for callbacks"),
    O("callback-token", T_STR, callback_token, 0, 0, "token for the callbacks' Sign"),
    O("callbacks", T_STR, callbacks, 0, 0, "all, or CallbackCommands separated by commas"),
    O("callback-timeout-ms", T_U32, callback_timeout_ms, 10, 60000, "callback timeout"),
    O("callback-fail-closed", T_BOOL, callback_fail_closed, 0, 1,
      "before-send rejects on timeout or error"),
    O("fanout-delay-ms", T_U32, fanout_delay_ms, 1, 10000,
      "batching delay a busy shard takes first (at most fanout-max-delay-ms)"),
    O("fanout-max-delay-ms", T_U32, fanout_max_delay_ms, 0, 10000,
      "longest batching delay, when the first is not enough (0: never batch)"),
    O("room-ring", T_U32, room_ring, 8, 65536, "frames kept per room per shard"),
    O("slow-lag", T_U32, slow_lag, 1, 65536, "frames behind before low priorities are skipped"),
    O("slow-timeout-ms", T_U32, slow_timeout_ms, 100, 3600000, "unwritable this long: close 1013"),
    O("send-max", T_U32, send_max, 4096, 16777216, "bytes per send"),
    O("sndbuf", T_U32, sndbuf, 0, 16777216,
      "kernel send buffer per client socket (SO_SNDBUF; 0: autotuning)"),
};

void lr_config_defaults(lr_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->bind, sizeof(c->bind), "0.0.0.0");
    snprintf(c->admin_bind, sizeof(c->admin_bind), "127.0.0.1");
    c->port = 7070;
    c->admin_port = 7071;
    c->shards = 0; /* lr_config_shards */
    c->files_per_shard = 20000;
    c->max_conns = 1000000;
    c->recv_buffers = 256;
    c->recv_buffer_size = 2048;
    snprintf(c->data_dir, sizeof(c->data_dir), "./liveroom-data");
    c->app_id = 1400000000;
    c->auto_create = true;
    snprintf(c->admins, sizeof(c->admins), "administrator");
    c->broadcast_rate = 1;
    c->log_level = LR_LOG_INFO;
    c->idle_timeout_s = 60;
    c->ping_interval_s = 30;
    c->handshake_timeout_s = 10;
    c->max_rooms_per_conn = LR_MAX_ROOMS_PER_CONN;
    c->max_frame = LR_MAX_WS_MESSAGE;
    c->max_body = LR_MAX_BODY;
    c->user_rate = 20;
    c->device_limit = 10;
    c->max_rooms = 200000;
    c->rate = 40;
    c->rate_window_ms = 100;
    c->history = 20;
    c->history_max_age_s = 86400;
    c->count_interval_ms = 2000;
    c->allow_guests = true;
    c->fanout_delay_ms = 175;
    c->fanout_max_delay_ms = 1000;
    snprintf(c->callbacks, sizeof(c->callbacks), "all");
    c->callback_timeout_ms = 2000;
    c->room_ring = 256;
    c->slow_lag = 64;
    c->slow_timeout_ms = 10000;
    c->send_max = 16 * 1024; /* bounds what a connection that does not read holds */
    c->sndbuf = 32 * 1024;   /* the same in the kernel (which doubles it) */
}

uint32_t lr_config_shards(const lr_config *c)
{
    if (c->shards) return c->shards;
    uint32_t cpus = lr_cpu_count();
    uint32_t per = c->files_per_shard ? c->files_per_shard : 1;
    uint32_t need = (LR_AUTO_CONNS + per - 1) / per;
    return need > cpus ? need : cpus;
}

static const opt *find(const char *key)
{
    char k[64];
    size_t i = 0;
    for (; key[i] && i < sizeof(k) - 1; i++)
        k[i] = key[i] == '_' ? '-' : (char)tolower(key[i]);
    k[i] = 0;
    for (size_t j = 0; j < LR_ARRAY_LEN(opts); j++)
        if (strcmp(opts[j].name, k) == 0) return &opts[j];
    return NULL;
}

int lr_config_set(lr_config *c, const char *key, const char *value, char *err, size_t errcap)
{
    const opt *o = find(key);
    if (!o) {
        snprintf(err, errcap, "unknown option '%s'", key);
        return -1;
    }
    char *p = (char *)c + o->off;
    if (o->type == T_STR) {
        if (strlen(value) >= o->size) {
            snprintf(err, errcap, "value of '%s' is too long", o->name);
            return -1;
        }
        snprintf(p, o->size, "%s", value);
        return 0;
    }
    if (o->type == T_BOOL) {
        if (!strcmp(value, "on") || !strcmp(value, "true") || !strcmp(value, "1") ||
            !strcmp(value, "yes"))
            *(bool *)p = true;
        else if (!strcmp(value, "off") || !strcmp(value, "false") || !strcmp(value, "0") ||
                 !strcmp(value, "no"))
            *(bool *)p = false;
        else {
            snprintf(err, errcap, "'%s' takes on|off, not '%s'", o->name, value);
            return -1;
        }
        return 0;
    }
    if (o->type == T_LOG) {
        int l = lr_log_parse_level(value);
        if (l < 0) {
            snprintf(err, errcap, "'%s' takes debug|info|warn|error|off", o->name);
            return -1;
        }
        *(int *)p = l;
        return 0;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(value, &end, 10);
    /* digits only: strtoull would skip spaces and take " -1" as 2^64-1 */
    if (errno || !isdigit((unsigned char)value[0]) || *end || v < o->min || v > o->max) {
        snprintf(err, errcap, "'%s' takes a whole number from %llu to %llu, not '%s'", o->name,
                 (unsigned long long)o->min, (unsigned long long)o->max, value);
        return -1;
    }
    if (o->type == T_U16)
        *(uint16_t *)p = (uint16_t)v;
    else if (o->type == T_U32)
        *(uint32_t *)p = (uint32_t)v;
    else
        *(uint64_t *)p = v;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

int lr_config_load_file(lr_config *c, const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "cannot open config file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024], sub[512];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *s = trim(line);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errcap, "%s:%d: expected key = value", path, lineno);
            rc = -1;
            break;
        }
        *eq = 0;
        if (lr_config_set(c, trim(s), trim(eq + 1), sub, sizeof(sub)) != 0) {
            snprintf(err, errcap, "%s:%d: %s", path, lineno, sub);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

int lr_config_load_env(lr_config *c, char *err, size_t errcap)
{
    for (size_t j = 0; j < LR_ARRAY_LEN(opts); j++) {
        char env[80] = "LIVEROOM_";
        size_t k = strlen(env);
        for (const char *n = opts[j].name; *n && k < sizeof(env) - 1; n++)
            env[k++] = *n == '-' ? '_' : (char)toupper(*n);
        env[k] = 0;
        const char *v = getenv(env);
        if (v && lr_config_set(c, opts[j].name, v, err, errcap) != 0) return -1;
    }
    return 0;
}

void lr_config_usage(void *file)
{
    FILE *f = file;
    for (size_t j = 0; j < LR_ARRAY_LEN(opts); j++)
        fprintf(f, "  --%-22s %s\n", opts[j].name, opts[j].help);
}
