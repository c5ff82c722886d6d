/*
 * engine.h: the engine object that owns the shards, the store and the
 * secret, and the few process-wide counters that must be shared (the
 * connection and room limits, as relaxed atomics off the message path).
 */
#ifndef LR_CORE_ENGINE_H
#define LR_CORE_ENGINE_H

#include "core/map.h"
#include "core/shard.h"
#include "liveroom/liveroom.h"
#include "store/store.h"

struct lr_engine {
    lr_config cfg;
    char secret[256];
    size_t secret_len;
    lr_store *store;
    uint32_t nshards;
    lr_shard *shards;
    int listen_fd[2]; /* listeners are per shard; these are shard 0's for the port */
    uint16_t port, tcp_port;
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

/* Signal from a shard thread that it is ready (ok) or failed. */
void lr_engine_shard_ready(lr_engine *e, const char *err);

#endif
