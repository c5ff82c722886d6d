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
int lr_store_room_delete(lr_store *s, const char *id, lr_store_done_cb done, void *ctx);

/* Block until every write queued before the call is committed (drain, tests).
 * Never call it from a done callback: that runs on the store thread. */
void lr_store_sync(lr_store *s);

#endif
