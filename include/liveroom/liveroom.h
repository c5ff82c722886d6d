/*
 * liveroom.h: the public embedding API. An application fills an lr_config
 * (lr_config_defaults, then lr_config_set for "key", "value" pairs as the
 * daemon's flags and config file do), creates an engine, starts it, and
 * stops it. Everything else (rooms, messages, moderation) happens over the
 * client protocol and the admin API; in-process publish and hooks are added
 * here as they land.
 */
#ifndef LIVEROOM_H
#define LIVEROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lr_config {
    /* listeners */
    char bind[64];       /* client listeners' address, default 0.0.0.0 */
    uint16_t port;       /* WebSocket, default 7070 */
    uint16_t tcp_port;   /* raw TCP, 0 = off (default) */
    char admin_bind[64]; /* default 127.0.0.1 */
    uint16_t admin_port; /* default 7071, 0 = off */
    /* engine */
    uint32_t shards;           /* 0 (default): lr_config_shards */
    uint32_t files_per_shard;  /* fixed-file table per shard, default 20000 */
    uint32_t max_conns;        /* whole process, default 1000000 */
    uint32_t recv_buffers;     /* provided buffers per shard, default 256 */
    uint32_t recv_buffer_size; /* bytes each, default 2048 */
    char data_dir[512];        /* default ./liveroom-data */
    char secret[256];          /* empty: <data_dir>/secret */
    uint64_t app_id;           /* default 1400000000 */
    bool auto_create;          /* default on */
    char admins[512];          /* app admins, comma-separated (<= 15), default administrator */
    uint32_t broadcast_rate;   /* send_broadcast_msg per second, default 1, max 5 */
    int log_level;             /* LR_LOG_*: default info */
    /* connections */
    uint32_t idle_timeout_s;      /* default 60 */
    uint32_t ping_interval_s;     /* default 30 */
    uint32_t handshake_timeout_s; /* default 10 */
    uint32_t max_rooms_per_conn;  /* default 8 */
    uint32_t max_frame;           /* client WebSocket message / TCP frame, default 65536 */
    uint32_t max_body;            /* message body, default 12288 */
    uint32_t user_rate;           /* messages per second per user, default 20 */
    uint32_t device_limit;        /* connections per user, default 10 */
    /* rooms */
    uint32_t max_rooms;         /* whole process, default 200000 */
    uint32_t rate;              /* room messages per second, default 40 */
    uint32_t rate_window_ms;    /* default 100 */
    uint32_t history;           /* default 20, max 50 */
    uint32_t history_max_age_s; /* default 86400 */
    uint32_t count_interval_ms; /* default 2000 */
    bool allow_guests;          /* default on */
    bool member_events;         /* default off */
    bool report_limited;        /* default off */
    /* callbacks (ADMIN_API.md §3) */
    char callback_url[512]; /* empty: callbacks off */
    char callback_token[256];
    char callbacks[1024];         /* "all" or a comma list of CallbackCommands */
    uint32_t callback_timeout_ms; /* default 2000 */
    bool callback_fail_closed;    /* before-send on timeout/error rejects (default: allows) */
    /* fan-out */
    uint32_t fanout_delay_ms;     /* batching delay of a busy shard, default 175 */
    uint32_t fanout_max_delay_ms; /* when that is not enough, up to this; default 1000 */
    uint32_t room_ring;           /* frames kept per room per shard, default 256 */
    uint32_t slow_lag;            /* frames behind before low/lowest are skipped, default 64 */
    uint32_t slow_timeout_ms;     /* unwritable this long: close 1013, default 10000 */
    uint32_t send_max;            /* bytes put into one send, default 16384 */
    uint32_t sndbuf;              /* SO_SNDBUF of client sockets, default 32768, 0 = kernel's */
} lr_config;

void lr_config_defaults(lr_config *cfg);
/*
 * The shard count the engine runs: cfg->shards, or when that is 0 one per
 * CPU, raised until the shards' fixed-file tables hold LR_AUTO_CONNS
 * connections (a table is capped by the open-file limit, so capacity comes
 * from shards, not cores: 6 shards at the default 20,000 files each). The
 * shards beyond one per CPU take connections only once the others are
 * nearly full (docs/DESIGN.md, "Shards").
 */
#define LR_AUTO_CONNS 120000
uint32_t lr_config_shards(const lr_config *cfg);
/*
 * Set one option by its name as a flag without dashes or as a config-file
 * key ("port", "tcp-port" or "tcp_port", ...). Returns 0, or -1 with a
 * message in err for an unknown key or a bad value.
 */
int lr_config_set(lr_config *cfg, const char *key, const char *value, char *err, size_t errcap);
/* Read "key = value" lines ('#' comments) from a file. 0 or -1 with err. */
int lr_config_load_file(lr_config *cfg, const char *path, char *err, size_t errcap);
/* Apply LIVEROOM_<KEY> environment variables (KEY upper case, '_' for '-'). */
int lr_config_load_env(lr_config *cfg, char *err, size_t errcap);
/* Print every option with its default (for --help). */
void lr_config_usage(void *file);

typedef struct lr_engine lr_engine;

/* Create an engine (opens the store, loads the secret). NULL with err. */
lr_engine *lr_engine_create(const lr_config *cfg, char *err, size_t errcap);
/* Start the shards; returns when every listener accepts, or -1 with err. */
int lr_engine_start(lr_engine *e, char *err, size_t errcap);
/* Ask the engine to drain: stop accepting, bye + close 1001 to every
 * connection. Async-signal-safe; returns at once. */
void lr_engine_stop(lr_engine *e);
/* Wait for the shards to finish draining (bounded by 5 s), flush the store. */
void lr_engine_wait(lr_engine *e);
void lr_engine_destroy(lr_engine *e);
/* The ports actually bound (useful with port 0). */
uint16_t lr_engine_port(const lr_engine *e);
uint16_t lr_engine_tcp_port(const lr_engine *e);
uint16_t lr_engine_admin_port(const lr_engine *e);
/* The shard threads it runs (lr_config_shards of its config). */
uint32_t lr_engine_shards(const lr_engine *e);

#ifdef __cplusplus
}
#endif

#endif
