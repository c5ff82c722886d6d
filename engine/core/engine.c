/*
 * engine.c: assembles an engine: loads the secret, opens the store, reads
 * the rooms it holds, creates the listeners (one SO_REUSEPORT socket per
 * shard and port, so the kernel spreads connections), starts the shard
 * threads and waits until each accepts; then drains and tears everything
 * down in the reverse order. The only place that sees every shard; it never
 * runs on the message path.
 */
#include "core/engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin/server.h"
#include "auth/sig.h"
#include "hooks/hooks.h"
#include "core/log.h"
#include "net/conn.h"
#include "room/room.h"

/* Slots of each ring between two shards (one ring per ordered pair). Every
 * page of a ring is resident once its indexes have wrapped, so this is
 * memory per pair (8 KiB here; it was 128 KiB, 40 bytes per connection at
 * 100,000 connections on 6 shards). A full ring spills into the sender's
 * backlog (core/shard.c), so a burst costs latency, not messages. */
#define LR_SPSC_CAP 1024

/* A socket bound to addr:port (SO_REUSEADDR, and SO_REUSEPORT when shared
 * is set), or -1 with err set. */
static int bound_socket(const char *addr, uint16_t port, bool shared, char *err, size_t errcap)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        snprintf(err, errcap, "bad listen address '%s'", addr);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errcap, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (shared) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        snprintf(err, errcap, "listen on %s:%u: %s", addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* SO_REUSEPORT lets any process of the same user join a listening port and
 * silently take a share of its connections (a second liveroomd started by
 * mistake would split every room): a port another socket listens on is
 * refused before the shards' listeners share it. */
static int port_free(const char *addr, uint16_t port, char *err, size_t errcap)
{
    if (port == 0) return 0;
    int fd = bound_socket(addr, port, false, err, errcap);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}

/* sndbuf: SO_SNDBUF of the accepted sockets, 0 leaves the kernel's
 * autotuning (which lets one connection that stops reading hold up to
 * tcp_wmem's maximum, 4 MiB, of kernel memory). */
static int listen_socket(const char *addr, uint16_t port, uint32_t sndbuf, char *err, size_t errcap)
{
    int fd = bound_socket(addr, port, true, err, errcap);
    if (fd < 0) return -1;
    int one = 1;
    /* accepted sockets inherit both: a push must not wait for Nagle */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int sb = (int)sndbuf;
    if (sb && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb)) != 0) {
        snprintf(err, errcap, "SO_SNDBUF %u: %s", sndbuf, strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, 4096) != 0) {
        snprintf(err, errcap, "listen on %s:%u: %s", addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0) return 0;
    return ntohs(sa.sin_port);
}

static void boot_room_cb(void *ctx, const lr_room_rec *rec)
{
    lr_engine *e = ctx;
    if (e->nboot_rooms == e->boot_cap) {
        size_t cap = e->boot_cap ? e->boot_cap * 2 : 64;
        lr_room_rec *p = realloc(e->boot_rooms, cap * sizeof(*p));
        if (!p) return;
        e->boot_rooms = p;
        e->boot_cap = cap;
    }
    e->boot_rooms[e->nboot_rooms++] = *rec;
}

/* Members and profiles are read after the shards exist: straight to their
 * home shards (no thread runs yet). */
static void boot_member_cb(void *ctx, const lr_member_rec *rec)
{
    lr_engine *e = ctx;
    lr_room_boot_member(&e->shards[lr_shard_of(e, rec->room, strlen(rec->room))], rec);
}

static void boot_user_cb(void *ctx, const lr_user_rec *rec)
{
    lr_engine *e = ctx;
    lr_user_boot_profile(&e->shards[lr_shard_of(e, rec->id, strlen(rec->id))], rec);
}

lr_engine *lr_engine_create(const lr_config *cfg, char *err, size_t errcap)
{
    lr_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    e->cfg = *cfg;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cond, NULL);
    lr_log_set_level(cfg->log_level);
    if (cfg->secret[0]) {
        snprintf(e->secret, sizeof(e->secret), "%s", cfg->secret);
        e->secret_len = strlen(e->secret);
    } else {
        int n = lr_secret_load_or_create(cfg->data_dir, e->secret, sizeof(e->secret));
        if (n <= 0) {
            snprintf(err, errcap, "cannot load or create the secret in %s", cfg->data_dir);
            goto fail;
        }
        e->secret_len = (size_t)n;
    }
    for (const char *p = cfg->admins; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n && p[0] == ' ')
            p++, n--;
        while (n && p[n - 1] == ' ')
            n--;
        if (n) {
            if (e->nadmins == 15 || !lr_id_valid((lr_str){p, n}, LR_MAX_USER_ID)) {
                snprintf(err, errcap, "admins: at most 15 ids of 1-32 printable characters");
                goto fail;
            }
            snprintf(e->admins[e->nadmins++], LR_MAX_USER_ID + 1, "%.*s", (int)n, p);
        }
        if (!comma) break;
        p = comma + 1;
    }
    if (cfg->callback_url[0]) {
        lr_hooks_config hc = {0};
        snprintf(hc.url, sizeof(hc.url), "%s", cfg->callback_url);
        snprintf(hc.token, sizeof(hc.token), "%s", cfg->callback_token);
        hc.app_id = cfg->app_id;
        hc.timeout_ms = cfg->callback_timeout_ms;
        hc.fail_closed = cfg->callback_fail_closed;
        if (lr_hooks_parse_commands(cfg->callbacks, &hc.commands) != 0) {
            snprintf(err, errcap, "callbacks: 'all' or CallbackCommands separated by commas");
            goto fail;
        }
        e->hooks = lr_hooks_start(&hc, err, errcap);
        if (!e->hooks) goto fail;
    }
    e->store = lr_store_open_sqlite(cfg->data_dir, err, errcap);
    if (!e->store) goto fail;
    if (lr_store_room_each(e->store, boot_room_cb, e) != 0) {
        snprintf(err, errcap, "cannot read rooms from the store");
        goto fail;
    }
    e->nshards = lr_config_shards(cfg);
    e->cfg.shards = e->nshards;
    e->cpus = lr_cpu_count();
    /* the admin API runs on one more loop of the same kind, after the shards */
    e->nthreads = e->nshards + (cfg->admin_port ? 1 : 0);
    e->shards = calloc(e->nthreads, sizeof(lr_shard));
    if (!e->shards || lr_steer_init(&e->steer, e->nshards, e->cpus, cfg->files_per_shard) != 0) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < e->nthreads; i++) {
        lr_shard *sh = &e->shards[i];
        bool admin = i == e->nshards;
        sh->id = i;
        sh->admin = admin;
        sh->eng = e;
        sh->cfg = &e->cfg;
        sh->ring_fd = -1;
        sh->event_fd = -1;
        sh->listeners[0].fd = sh->listeners[1].fd = -1;
        sh->nfiles = cfg->files_per_shard;
        if (!admin) e->steer.counts[i] = &sh->st.conns;
        sh->nbufs = 1;
        while (sh->nbufs < cfg->recv_buffers)
            sh->nbufs <<= 1;
        sh->buf_size = cfg->recv_buffer_size;
        sh->rng = (uint64_t)lr_clock_us() * 2654435761u + i + 1;
        sh->conns = calloc(sh->nfiles, sizeof(lr_conn *));
        sh->in = calloc(e->nthreads, sizeof(lr_spsc *));
        sh->out = calloc(e->nthreads, sizeof(lr_spsc *));
        sh->backlog_head = calloc(e->nthreads, sizeof(lr_imsg *));
        sh->backlog_tail = calloc(e->nthreads, sizeof(lr_imsg *));
        sh->wake = calloc(e->nthreads, 1);
        sh->sig = lr_sig_ctx_new((lr_str){e->secret, e->secret_len});
        if (!sh->conns || !sh->in || !sh->out || !sh->backlog_head || !sh->backlog_tail ||
            !sh->wake || !sh->sig ||
            lr_map_init(&sh->rooms, 64, LR_MAP_KEY_OFF(lr_room, node, rec.id)) ||
            lr_map_init(&sh->lrooms, 64, LR_MAP_KEY_OFF(lr_lroom, node, id)) ||
            lr_map_init(&sh->users, 64, LR_MAP_KEY_OFF(lr_user, node, id)) ||
            lr_map_init(&sh->profiles, 64, LR_MAP_KEY_OFF(lr_profile, node, id))) {
            snprintf(err, errcap, "out of memory");
            goto fail;
        }
        lr_mpsc_init(&sh->foreign);
        lr_dlist_init(&sh->send_list);
        for (uint32_t k = 0; k < LR_HOLD_SLOTS; k++)
            lr_dlist_init(&sh->hold_wheel[k]);
        lr_timers_init(&sh->timers);
        sh->event_fd = eventfd(0, EFD_CLOEXEC);
        if (sh->event_fd < 0) {
            snprintf(err, errcap, "eventfd: %s", strerror(errno));
            goto fail;
        }
    }
    for (uint32_t i = 0; i < e->nthreads; i++)
        for (uint32_t j = 0; j < e->nthreads; j++) {
            if (i == j) continue;
            lr_spsc *r = lr_spsc_new(LR_SPSC_CAP);
            if (!r) {
                snprintf(err, errcap, "out of memory");
                goto fail;
            }
            e->shards[i].out[j] = r;
            e->shards[j].in[i] = r;
        }
    /* rooms read from the store go to their home shards before any thread runs */
    for (size_t k = 0; k < e->nboot_rooms; k++) {
        const lr_room_rec *rec = &e->boot_rooms[k];
        lr_shard *sh = &e->shards[lr_shard_of(e, rec->id, strlen(rec->id))];
        sh->now_ms = lr_clock_ms();
        if (lr_room_boot(sh, rec) != 0) {
            snprintf(err, errcap, "out of memory loading rooms");
            goto fail;
        }
    }
    free(e->boot_rooms);
    e->boot_rooms = NULL;
    if (lr_store_member_each(e->store, boot_member_cb, e) != 0 ||
        lr_store_user_each(e->store, boot_user_cb, e) != 0) {
        snprintf(err, errcap, "cannot read members or profiles from the store");
        goto fail;
    }
    return e;
fail:
    lr_engine_destroy(e);
    return NULL;
}

void lr_engine_shard_ready(lr_engine *e, const char *err)
{
    pthread_mutex_lock(&e->mu);
    if (err && !e->start_err[0]) snprintf(e->start_err, sizeof(e->start_err), "%s", err);
    atomic_fetch_add(&e->ready, 1);
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->mu);
}

int lr_engine_start(lr_engine *e, char *err, size_t errcap)
{
    const lr_config *cfg = &e->cfg;
    /* SO_REUSEPORT would let two listeners share a port and split its
     * connections between them */
    if ((cfg->tcp_port && cfg->tcp_port == cfg->port) ||
        (cfg->admin_port && (cfg->admin_port == cfg->port || cfg->admin_port == cfg->tcp_port))) {
        snprintf(err, errcap, "--port, --tcp-port and --admin-port must differ");
        return -1;
    }
    uint16_t ports[2] = {cfg->port, cfg->tcp_port};
    for (int k = 0; k < 2; k++) {
        if (k == 1 && cfg->tcp_port == 0) continue;
        uint16_t port = ports[k];
        if (port_free(cfg->bind, port, err, errcap) != 0) return -1;
        for (uint32_t i = 0; i < e->nshards; i++) {
            int fd = listen_socket(cfg->bind, port, cfg->sndbuf, err, errcap);
            if (fd < 0) return -1;
            if (port == 0) port = bound_port(fd); /* the other shards share it */
            e->shards[i].listeners[k] =
                (lr_listener){.fd = fd, .kind = (uint8_t)k, .sh = &e->shards[i]};
        }
        if (k == 0)
            e->port = port;
        else
            e->tcp_port = port;
    }
    int groups[2] = {e->shards[0].listeners[0].fd, e->shards[0].listeners[1].fd};
    lr_steer_start(&e->steer, groups);
    if (e->nthreads > e->nshards) {
        lr_shard *ash = &e->shards[e->nshards];
        if (port_free(cfg->admin_bind, cfg->admin_port, err, errcap) != 0) return -1;
        int fd = listen_socket(cfg->admin_bind, cfg->admin_port, 0, err, errcap);
        if (fd < 0) return -1;
        ash->listeners[0] = (lr_listener){.fd = fd, .kind = LR_LISTEN_ADMIN, .sh = ash};
        e->admin_port = bound_port(fd);
    }
    for (uint32_t i = 0; i < e->nthreads; i++) {
        if (pthread_create(&e->shards[i].thread, NULL, lr_shard_main, &e->shards[i]) != 0) {
            snprintf(err, errcap, "cannot start shard thread %u", i);
            atomic_store(&e->stop, true);
            return -1;
        }
        e->started = true;
    }
    pthread_mutex_lock(&e->mu);
    while (atomic_load(&e->ready) < e->nthreads)
        pthread_cond_wait(&e->cond, &e->mu);
    pthread_mutex_unlock(&e->mu);
    if (e->start_err[0]) {
        snprintf(err, errcap, "%s", e->start_err);
        lr_engine_stop(e);
        return -1;
    }
    return 0;
}

void lr_engine_stop(lr_engine *e)
{
    atomic_store(&e->stop, true);
    uint64_t one = 1;
    for (uint32_t i = 0; i < e->nthreads; i++)
        if (e->shards[i].event_fd >= 0) {
            ssize_t w = write(e->shards[i].event_fd, &one, sizeof(one));
            (void)w;
        }
}

void lr_engine_wait(lr_engine *e)
{
    if (!e->started) return;
    for (uint32_t i = 0; i < e->nthreads; i++)
        if (e->shards[i].thread) pthread_join(e->shards[i].thread, NULL);
    e->started = false;
    if (e->store) lr_store_sync(e->store);
}

uint16_t lr_engine_port(const lr_engine *e)
{
    return e->port;
}
uint32_t lr_engine_shards(const lr_engine *e)
{
    return e->nshards;
}
uint16_t lr_engine_tcp_port(const lr_engine *e)
{
    return e->tcp_port;
}

void lr_engine_destroy(lr_engine *e)
{
    if (!e) return;
    if (e->started) {
        lr_engine_stop(e);
        lr_engine_wait(e);
    }
    /* no shard runs now: what the hooks thread still answers lands in
     * foreign queues that are discarded below */
    if (e->hooks) lr_hooks_stop(e->hooks);
    e->hooks = NULL;
    for (uint32_t i = 0; e->shards && i < e->nthreads; i++) {
        lr_shard *sh = &e->shards[i];
        /* the ring first: after this no operation can touch a connection */
        if (sh->ring_fd >= 0) io_uring_queue_exit(&sh->ring);
        for (int k = 0; k < 2; k++)
            if (sh->listeners[k].fd >= 0) close(sh->listeners[k].fd);
        if (sh->conns) lr_conn_free_all(sh);
        if (sh->bufs) munmap(sh->bufs, (size_t)sh->nbufs * sh->buf_size);
        if (sh->br) munmap(sh->br, sh->nbufs * sizeof(struct io_uring_buf));
        if (sh->event_fd >= 0) close(sh->event_fd);
    }
    for (uint32_t i = 0; e->shards && i < e->nthreads; i++) {
        lr_shard *sh = &e->shards[i];
        /* messages still in flight between shards */
        for (uint32_t j = 0; sh->in && j < e->nthreads; j++) {
            lr_imsg *m;
            if (sh->in[j])
                while ((m = lr_spsc_pop(sh->in[j])))
                    lr_imsg_discard(m);
            for (m = sh->backlog_head ? sh->backlog_head[j] : NULL; m;) {
                lr_imsg *next = m->next;
                lr_imsg_discard(m);
                m = next;
            }
        }
        for (lr_imsg *m; (m = lr_mpsc_pop(&sh->foreign));)
            lr_imsg_discard(m);
        for (lr_imsg *m = sh->self_head; m;) {
            lr_imsg *next = m->next;
            lr_imsg_discard(m);
            m = next;
        }
    }
    for (uint32_t i = 0; e->shards && i < e->nthreads; i++) {
        lr_shard *sh = &e->shards[i];
        if (sh->rooms.b) lr_room_free_all(sh);
        if (sh->lrooms.b) lr_fanout_free_all(sh);
        if (sh->users.b) lr_user_free_all(sh);
        if (sh->profiles.b) lr_user_free_profiles(sh);
        if (sh->admin) lr_admin_free(sh);
        for (uint32_t j = 0; sh->out && j < e->nthreads; j++)
            lr_spsc_free(sh->out[j]);
        free(sh->in);
        free(sh->out);
        free(sh->backlog_head);
        free(sh->backlog_tail);
        free(sh->wake);
        free(sh->conns);
        lr_sig_ctx_free(sh->sig);
        lr_timers_free(&sh->timers);
        lr_buf_free(&sh->scratch);
        lr_buf_free(&sh->scratch2);
    }
    free(e->shards);
    if (e->steer.counts) lr_steer_destroy(&e->steer);
    if (e->store) lr_store_close(e->store);
    free(e->boot_rooms);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cond);
    free(e);
}
