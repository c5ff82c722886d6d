/*
 * steer.c: the phases of steer.h and the classic BPF programs that put them
 * into effect. The kernel runs a SO_REUSEPORT group's program on each new
 * connection and takes the listener at the index it returns; the index is
 * the order in which the group's sockets started listening, which is shard
 * order (lr_engine_start listens shard by shard). A phase change is rare
 * (a shard crossing 90 % or 80 % of its table), so it takes a mutex and a
 * setsockopt; the accept and close paths only compare a count with two
 * marks.
 */
#include "core/steer.h"

#include <errno.h>
#include <linux/filter.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/common.h"
#include "core/log.h"

int lr_steer_next(int phase, const uint64_t *counts, uint32_t nshards, uint32_t primary,
                  uint32_t fill, uint32_t low)
{
    if (nshards <= primary) return LR_STEER_ALL;
    uint64_t max_p = 0, max_o = 0;
    for (uint32_t i = 0; i < nshards; i++) {
        uint64_t *m = i < primary ? &max_p : &max_o;
        if (counts[i] > *m) *m = counts[i];
    }
    bool pfull = max_p >= (phase >= LR_STEER_OTHERS ? low : fill);
    bool ofull = max_o >= (phase >= LR_STEER_ALL ? low : fill);
    return !pfull ? LR_STEER_PRIMARY : !ofull ? LR_STEER_OTHERS : LR_STEER_ALL;
}

int lr_steer_init(lr_steer *s, uint32_t nshards, uint32_t primary, uint32_t files)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->nshards = nshards;
    s->primary = primary < nshards ? primary : nshards;
    s->fill = files - files / 10;
    s->low = s->fill - files / 10;
    s->fds[0] = s->fds[1] = -1;
    atomic_init(&s->phase, nshards <= primary ? LR_STEER_ALL : LR_STEER_PRIMARY);
    s->counts = calloc(nshards ? nshards : 1, sizeof(*s->counts));
    return s->counts ? 0 : LR_ENOMEM;
}

void lr_steer_destroy(lr_steer *s)
{
    free(s->counts);
    s->counts = NULL;
    pthread_mutex_destroy(&s->mu);
}

/* index = base + random % count */
static int attach(const lr_steer *s, int phase)
{
    uint32_t base = phase == LR_STEER_OTHERS ? s->primary : 0;
    uint32_t count = phase == LR_STEER_PRIMARY  ? s->primary
                     : phase == LR_STEER_OTHERS ? s->nshards - s->primary
                                                : s->nshards;
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_RANDOM)),
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, count),
        BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, base),
        BPF_STMT(BPF_RET | BPF_A, 0),
    };
    struct sock_fprog prog = {.len = LR_ARRAY_LEN(code), .filter = code};
    for (int k = 0; k < 2; k++)
        if (s->fds[k] >= 0 &&
            setsockopt(s->fds[k], SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) != 0)
            return -errno;
    return 0;
}

void lr_steer_start(lr_steer *s, const int fds[2])
{
    s->fds[0] = fds[0];
    s->fds[1] = fds[1];
    if (s->nshards <= s->primary) return;
    int rc = attach(s, atomic_load(&s->phase));
    if (rc != 0) {
        /* every shard takes connections, as the kernel spreads them */
        LR_WARN("event=steer_off err=\"%s\"", strerror(-rc));
        s->primary = s->nshards;
        atomic_store(&s->phase, LR_STEER_ALL);
    }
}

void lr_steer_note(lr_steer *s, uint64_t count)
{
    if (s->nshards <= s->primary || (count != s->fill && count + 1 != s->low)) return;
    pthread_mutex_lock(&s->mu);
    uint64_t counts[LR_STEER_MAX_SHARDS];
    uint32_t n = s->nshards < LR_STEER_MAX_SHARDS ? s->nshards : LR_STEER_MAX_SHARDS;
    for (uint32_t i = 0; i < n; i++)
        counts[i] = atomic_load_explicit(s->counts[i], memory_order_relaxed);
    int was = atomic_load(&s->phase);
    int phase = lr_steer_next(was, counts, n, s->primary, s->fill, s->low);
    if (phase != was) {
        int rc = attach(s, phase);
        if (rc == 0) {
            atomic_store(&s->phase, phase);
            LR_INFO("event=steer phase=%d was=%d primary=%u shards=%u", phase, was, s->primary,
                    s->nshards);
        } else {
            LR_WARN("event=steer_failed phase=%d err=%d", phase, -rc);
        }
    }
    pthread_mutex_unlock(&s->mu);
}

uint32_t lr_steer_active(const lr_steer *s)
{
    return atomic_load(&s->phase) == LR_STEER_PRIMARY ? s->primary : s->nshards;
}
