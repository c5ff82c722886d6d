/*
 * engine.h: the engine object that owns the shards, the store and the
 * secret, and the few process-wide counters that must be shared (the
 * connection and room limits, as relaxed atomics off the message path).
 */
#ifndef LR_CORE_ENGINE_H
#define LR_CORE_ENGINE_H

#include "core/map.h"
#include "core/shard.h"
#include "core/steer.h"
#include "liveroom/liveroom.h"
#include "store/store.h"

struct lr_engine {
    lr_config cfg;
    char secret[256];
    size_t secret_len;
    lr_store *store;
    struct lr_hooks *hooks;              /* NULL when no callback URL is set */
    char admins[15][LR_MAX_USER_ID + 1]; /* app admins (cfg.admins split) */
    uint32_t nadmins;
    uint32_t nshards;  /* room/user/connection shards: homes hash over these */
    uint32_t nthreads; /* nshards, plus the admin loop when the admin port is on */
    lr_shard *shards;
    uint32_t cpus;    /* CPUs the process may use */
    lr_steer steer;   /* which shards take new connections */
    int listen_fd[2]; /* listeners are per shard; these are shard 0's for the port */
    uint16_t port, tcp_port, admin_port;
    _Atomic uint32_t nconns;
    _Atomic uint32_t nrooms;
    _Atomic uint32_t ready;
    _Atomic uint32_t exited;
    _Atomic bool stop;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    char start_err[256];
    /* rooms read from the store at start-up, handed to their home shards */
    lr_room_rec *boot_rooms;
    size_t nboot_rooms, boot_cap;
};

static inline uint32_t lr_shard_of(const lr_engine *e, const char *key, size_t len)
{
    return (uint32_t)(lr_hash(key, len) % e->nshards);
}

/* The admin loop, or NULL when the admin port is off. */
static inline lr_shard *lr_engine_admin(lr_engine *e)
{
    return e->nthreads > e->nshards ? &e->shards[e->nshards] : NULL;
}

/* Signal from a shard thread that it is ready (ok) or failed. */
void lr_engine_shard_ready(lr_engine *e, const char *err);

#endif
