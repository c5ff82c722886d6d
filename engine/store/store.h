/*
 * store.h: durable state behind one small interface so that the embedded
 * backend (SQLite, WAL, under the data dir) and the cluster backend (Redis)
 * share every caller. Writes go through a store thread that batches them
 * into transactions and reports each commit through a completion callback
 * on that thread; the caller hands the result back to its own shard. Reads
 * are synchronous and only used at start-up and by the admin thread.
 */
#ifndef LR_STORE_STORE_H
#define LR_STORE_STORE_H

#include <stdatomic.h>

#include "core/common.h"

typedef struct lr_room_rec {
    char id[LR_MAX_ROOM_ID + 1];
    char type[16];                  /* "AVChatRoom" */
    char name[128];                 /* ≤ 30 chars in Tencent; bytes here */
    char owner[LR_MAX_USER_ID + 1]; /* may be empty */
    char intro[241];                /* Introduction ≤ 240 B */
    char notification[301];         /* Notification ≤ 300 B */
    char face_url[256];
    int64_t create_time; /* unix seconds */
    bool mute_all;
    /* room config (liveroom_svc/set_room_config) */
    uint32_t rate;   /* msg/s; 0 = engine default */
    int32_t history; /* -1 = engine default, else 0..50 */
    bool allow_guests;
    bool member_events;
    bool report_limited;
} lr_room_rec;

/* ban_group_member's Description, bytes. */
#define LR_STORE_MAX_BAN_DESC 1000

/* What a room remembers about one user beyond its online presence. The
 * owner is not here: it lives in the room record. */
typedef struct lr_member_rec {
    char room[LR_MAX_ROOM_ID + 1];
    char user[LR_MAX_USER_ID + 1];
    uint8_t role;            /* 0 member, 1 admin (owner lives in the room rec) */
    int64_t muted_until_ms;  /* 0 = none */
    int64_t banned_until_ms; /* 0 = none */
    char ban_desc[LR_STORE_MAX_BAN_DESC + 1];
} lr_member_rec;

#define LR_STORE_ROLE_MEMBER 0
#define LR_STORE_ROLE_ADMIN 1

/* A user profile from im_open_login_svc/account_import: the nick and avatar
 * put into pushes. */
typedef struct lr_user_rec {
    char id[LR_MAX_USER_ID + 1];
    char nick[LR_MAX_NICK + 1];
    char face_url[LR_MAX_AVATAR + 1];
} lr_user_rec;

typedef struct lr_store lr_store;

/* Writes queued and not yet completed (done called), across every kind of
 * write; beyond it a write is refused with LR_ENOMEM so that a stalled disk
 * bounds memory instead of growing it. */
#define LR_STORE_MAX_PENDING 65536

/* Open (creating and migrating) the SQLite store in dir/liveroom.db.
 * Returns NULL and writes a message to err on failure. Starts the store
 * thread. */
lr_store *lr_store_open_sqlite(const char *dir, char *err, size_t errcap);
/* Flush pending writes, stop the thread, close. */
void lr_store_close(lr_store *s);

/* 0 when the database answers a trivial query, LR_EIO otherwise (/readyz). */
int lr_store_check(lr_store *s);

/* Synchronous reads (start-up, admin). Return 0, LR_ENOENT or LR_EIO.
 * room_each calls cb in id order while holding the read side: cb may queue
 * writes but must not call another read. */
int lr_store_room_get(lr_store *s, const char *id, lr_room_rec *out);
typedef void (*lr_store_room_cb)(void *ctx, const lr_room_rec *rec);
int lr_store_room_each(lr_store *s, lr_store_room_cb cb, void *ctx);
/* Every member row, ordered by room then user; same rules as room_each. */
typedef void (*lr_store_member_cb)(void *ctx, const lr_member_rec *rec);
int lr_store_member_each(lr_store *s, lr_store_member_cb cb, void *ctx);
/* LR_ENOENT also for an id that no put could have accepted. */
int lr_store_user_get(lr_store *s, const char *id, lr_user_rec *out);
/* Every user profile in id order; same rules as room_each. */
typedef void (*lr_store_user_cb)(void *ctx, const lr_user_rec *rec);
int lr_store_user_each(lr_store *s, lr_store_user_cb cb, void *ctx);

/*
 * Asynchronous writes. Each is queued to the store thread, committed in a
 * batch, then done(ctx, rc) is called ON THE STORE THREAD with rc 0 or
 * LR_EIO (done may be NULL for fire-and-forget). Returns 0 when queued,
 * LR_ENOMEM when it could not be queued (done is not called then), or
 * LR_EINVAL for an empty or over-long id or a record string field that is not
 * NUL-terminated inside its array. Writes are applied in the order queued.
 */
typedef void (*lr_store_done_cb)(void *ctx, int rc);
int lr_store_room_put(lr_store *s, const lr_room_rec *rec, lr_store_done_cb done, void *ctx);
/* Deleting a room deletes its member rows in the same transaction. */
int lr_store_room_delete(lr_store *s, const char *id, lr_store_done_cb done, void *ctx);

/* Upsert of (rec->room, rec->user). A record with role 0 and no mute or ban
 * (both times 0) deletes the row instead, so only meaningful state is kept.
 * An expired but non-zero time still counts until lr_store_sweep_expired.
 * A put for a room the store does not hold (deleted before the put was
 * applied) is dropped and reported as success: the member state of a
 * destroyed room is meaningless. LR_EINVAL also for a role other than 0 or
 * 1 or a negative time. */
int lr_store_member_put(lr_store *s, const lr_member_rec *rec, lr_store_done_cb done, void *ctx);

/* Upsert of the profile rec->id. */
int lr_store_user_put(lr_store *s, const lr_user_rec *rec, lr_store_done_cb done, void *ctx);

/* Clears every mute and ban with 0 < until <= now_ms (a ban's description
 * with it) and deletes the rows that leaves meaningless. LR_EINVAL for a
 * negative now_ms. */
int lr_store_sweep_expired(lr_store *s, int64_t now_ms, lr_store_done_cb done, void *ctx);

/* Queue no write: done(ctx, rc) runs on the store thread once every write
 * queued before it is committed (rc is that batch's result). This is how an
 * admin command that made several writes is answered only when all of them
 * are durable. 0 or LR_ENOMEM (queue full; done is not called). */
int lr_store_barrier(lr_store *s, lr_store_done_cb done, void *ctx);

/* Commit statistics, for /metrics. Buckets are per bucket (not
 * cumulative): latency_bucket[i] counts batches that took at most
 * lr_store_latency_le_ms[i] (the last one: longer). */
#define LR_STORE_LATENCY_BUCKETS 11
typedef struct lr_store_stats {
    _Atomic uint64_t commits, writes, failures, latency_sum_us;
    _Atomic uint64_t latency_bucket[LR_STORE_LATENCY_BUCKETS];
} lr_store_stats;
extern const uint32_t lr_store_latency_le_ms[LR_STORE_LATENCY_BUCKETS - 1];
const lr_store_stats *lr_store_get_stats(const lr_store *s);

/* Block until every write queued before the call is committed (drain, tests).
 * Never call it from a done callback: that runs on the store thread. */
void lr_store_sync(lr_store *s);

#endif
