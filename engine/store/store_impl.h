/*
 * store_impl.h: the seam between the generic store (store.c: write queue,
 * store thread, read lock) and a backend (store_sqlite.c today, Redis
 * later). A backend only knows how to apply one write inside a transaction
 * and how to answer one read; it never sees the queue, never starts a
 * thread and never calls a done callback. Internal to engine/store and its
 * tests: nothing outside the store includes this file.
 */
#ifndef LR_STORE_STORE_IMPL_H
#define LR_STORE_STORE_IMPL_H

#include "store/store.h"

/* How long a write waits for a lock held by another connection (SQLite
 * busy_timeout) or for the server (Redis) before its batch fails with
 * LR_EIO. Only external tools ever hold the lock, so this is generous. */
#define LR_STORE_TIMEOUT_MS 5000

typedef struct lr_store_ops {
    const char *name; /* "sqlite": prefixes messages */
    /* Open (create, migrate) the backend at `where` (a directory for SQLite,
     * an address for Redis). NULL and a message in err on failure. */
    void *(*open)(const char *where, int timeout_ms, char *err, size_t errcap);
    void (*close)(void *be);

    /* Write side: called only on the store thread. begin, any number of
     * writes, then commit; after any failure the store calls rollback, which
     * must be harmless when no transaction is open. All return 0 or LR_EIO. */
    int (*begin)(void *be);
    int (*commit)(void *be);
    void (*rollback)(void *be);
    int (*room_put)(void *be, const lr_room_rec *rec);
    /* Also deletes the room's member rows. */
    int (*room_delete)(void *be, const char *id);
    /* Upsert; a no-op (0) when the room is not stored. The store routes a
     * meaningless record to member_delete, so the backend never sees one. */
    int (*member_put)(void *be, const lr_member_rec *rec);
    int (*member_delete)(void *be, const char *room, const char *user);
    int (*user_put)(void *be, const lr_user_rec *rec);
    /* Semantics of lr_store_sweep_expired. */
    int (*sweep_expired)(void *be, int64_t now_ms);

    /* Read side: called from any thread, one at a time (the store holds its
     * read lock), concurrently with the write side. */
    int (*room_get)(void *be, const char *id, lr_room_rec *out);    /* 0, ENOENT, EIO */
    int (*room_each)(void *be, lr_store_room_cb cb, void *ctx);     /* 0, EIO */
    int (*member_each)(void *be, lr_store_member_cb cb, void *ctx); /* 0, EIO */
    int (*user_get)(void *be, const char *id, lr_user_rec *out);    /* 0, ENOENT, EIO */
    int (*user_each)(void *be, lr_store_user_cb cb, void *ctx);     /* 0, EIO */
    int (*check)(void *be);                                         /* 0, EIO */
} lr_store_ops;

/* Open a backend through its ops and start the store thread on it. */
lr_store *lr_store_open_ops(const lr_store_ops *ops, const char *where, int timeout_ms, char *err,
                            size_t errcap);

extern const lr_store_ops lr_store_sqlite_ops;

/* lr_store_open_sqlite with another lock timeout (tests that hold the
 * database lock on purpose use a short one). */
lr_store *lr_store_open_sqlite_ex(const char *dir, int timeout_ms, char *err, size_t errcap);

/* The PRAGMA user_version a fully migrated SQLite store has. */
int lr_store_sqlite_schema_version(void);

/* TEST ONLY, never called by the engine: while paused the store thread
 * takes no new batch, so writes pile up in the queue deterministically.
 * lr_store_sync blocks while paused; lr_store_close unpauses. */
void lr_store_test_pause(lr_store *s, bool paused);

#endif
