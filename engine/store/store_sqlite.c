/*
 * store_sqlite.c owns the embedded backend: <dir>/liveroom.db in WAL mode,
 * its schema migrations, and two connections. The write connection belongs
 * to the store thread (after open); the read connection is used under the
 * store's read lock, so the two never share a connection and WAL lets reads
 * proceed while a batch commits. Every statement is prepared once.
 *
 * Durability: synchronous=FULL fsyncs the WAL at every COMMIT, so a done
 * callback with rc 0 means the change survives kill -9 and power loss.
 * NORMAL would already survive kill -9 in WAL mode, but FULL costs one fsync
 * per batch, not per write, because the store thread commits whatever is
 * queued in one transaction; so the stronger setting is nearly free.
 *
 * Schema: `migrations` below, applied in order, each in its own transaction
 * together with the bump of PRAGMA user_version, so a crash mid-migration
 * leaves the previous version intact. Append new migrations; never edit or
 * reorder shipped ones.
 *
 * Must never: be called for a write off the store thread; keep a read
 * statement open after returning; silently open a database written by a
 * newer schema.
 */
#include "store/store_impl.h"

#include "core/log.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define LR_STORE_DB_NAME "liveroom.db"

static const char *const migrations[] = {
    /* 1: rooms. WITHOUT ROWID: the id is the only key ever looked up. */
    "CREATE TABLE rooms ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " type TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " owner TEXT NOT NULL,"
    " intro TEXT NOT NULL,"
    " notification TEXT NOT NULL,"
    " face_url TEXT NOT NULL,"
    " create_time INTEGER NOT NULL,"
    " mute_all INTEGER NOT NULL,"
    " rate INTEGER NOT NULL,"
    " history INTEGER NOT NULL,"
    " allow_guests INTEGER NOT NULL,"
    " member_events INTEGER NOT NULL,"
    " report_limited INTEGER NOT NULL"
    ") WITHOUT ROWID;",

    /* 2: per-room member state (roles, mutes, bans) and user profiles.
     * The cascade makes a room delete take its members in the same
     * statement; the primary key's room_id prefix serves the cascade's
     * lookup. Times are unix ms, 0 = none. The two expiry indexes are
     * partial so that they only hold the rows a sweep can touch; the third
     * is empty except inside a sweep (a put never stores such a row), which
     * lets the sweep find the rows it emptied without scanning the table. */
    "CREATE TABLE members ("
    " room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,"
    " user_id TEXT NOT NULL,"
    " role INTEGER NOT NULL,"
    " muted_until INTEGER NOT NULL,"
    " banned_until INTEGER NOT NULL,"
    " ban_desc TEXT NOT NULL,"
    " PRIMARY KEY (room_id, user_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX members_mute_expiry ON members (muted_until) WHERE muted_until > 0;"
    "CREATE INDEX members_ban_expiry ON members (banned_until) WHERE banned_until > 0;"
    "CREATE INDEX members_meaningless ON members (room_id)"
    " WHERE role = 0 AND muted_until = 0 AND banned_until = 0;"
    "CREATE TABLE users ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " nick TEXT NOT NULL,"
    " face_url TEXT NOT NULL"
    ") WITHOUT ROWID;",
};

#define ROOM_COLS                                                                                  \
    "id, type, name, owner, intro, notification, face_url, create_time, mute_all, rate, history, " \
    "allow_guests, member_events, report_limited"

/* An upsert rather than INSERT OR REPLACE: REPLACE deletes the old row,
 * which would fire ON DELETE CASCADE on the tables that later migrations
 * hang off rooms (roles, mutes, bans). */
static const char sql_room_put[] =
    "INSERT INTO rooms (" ROOM_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
    "?13, ?14) ON CONFLICT (id) DO UPDATE SET type = excluded.type, name = excluded.name, "
    "owner = excluded.owner, intro = excluded.intro, notification = excluded.notification, "
    "face_url = excluded.face_url, create_time = excluded.create_time, "
    "mute_all = excluded.mute_all, rate = excluded.rate, history = excluded.history, "
    "allow_guests = excluded.allow_guests, member_events = excluded.member_events, "
    "report_limited = excluded.report_limited";
static const char sql_room_delete[] = "DELETE FROM rooms WHERE id = ?1";
static const char sql_room_get[] = "SELECT " ROOM_COLS " FROM rooms WHERE id = ?1";
static const char sql_room_each[] = "SELECT " ROOM_COLS " FROM rooms ORDER BY id";

#define MEMBER_COLS "room_id, user_id, role, muted_until, banned_until, ban_desc"

/* INSERT … SELECT … WHERE EXISTS rather than a plain insert: a put racing
 * a room delete must not violate the foreign key, since that would fail the
 * whole batch and every unrelated write in it. (The WHERE also settles
 * SQLite's parsing ambiguity between an upsert's ON and a join's.) */
static const char sql_member_put[] =
    "INSERT INTO members (" MEMBER_COLS ") SELECT ?1, ?2, ?3, ?4, ?5, ?6 "
    "WHERE EXISTS (SELECT 1 FROM rooms WHERE id = ?1) "
    "ON CONFLICT (room_id, user_id) DO UPDATE SET role = excluded.role, "
    "muted_until = excluded.muted_until, banned_until = excluded.banned_until, "
    "ban_desc = excluded.ban_desc";
static const char sql_member_delete[] = "DELETE FROM members WHERE room_id = ?1 AND user_id = ?2";
static const char sql_member_each[] =
    "SELECT " MEMBER_COLS " FROM members ORDER BY room_id, user_id";
/* Each clause repeats its partial index's condition so the planner can use
 * the index. */
static const char sql_sweep_mutes[] =
    "UPDATE members SET muted_until = 0 WHERE muted_until > 0 AND muted_until <= ?1";
static const char sql_sweep_bans[] = "UPDATE members SET banned_until = 0, ban_desc = '' "
                                     "WHERE banned_until > 0 AND banned_until <= ?1";
static const char sql_sweep_empty[] =
    "DELETE FROM members WHERE role = 0 AND muted_until = 0 AND banned_until = 0";

#define USER_COLS "id, nick, face_url"
static const char sql_user_put[] =
    "INSERT INTO users (" USER_COLS ") VALUES (?1, ?2, ?3) ON CONFLICT (id) DO UPDATE SET "
    "nick = excluded.nick, face_url = excluded.face_url";
static const char sql_user_get[] = "SELECT " USER_COLS " FROM users WHERE id = ?1";
static const char sql_user_each[] = "SELECT " USER_COLS " FROM users ORDER BY id";

typedef struct sqlite_be {
    sqlite3 *w; /* store thread */
    sqlite3 *r; /* under the store's read lock */
    sqlite3_stmt *begin, *commit, *rollback, *room_put, *room_delete;
    sqlite3_stmt *member_put, *member_delete, *user_put;
    sqlite3_stmt *sweep_mutes, *sweep_bans, *sweep_empty;
    sqlite3_stmt *room_get, *room_each, *check;
    sqlite3_stmt *member_each, *user_get, *user_each;
} sqlite_be;

int lr_store_sqlite_schema_version(void)
{
    return (int)LR_ARRAY_LEN(migrations);
}

static void set_err(char *err, size_t errcap, const char *what, sqlite3 *db)
{
    if (!err || !errcap) return;
    if (db)
        snprintf(err, errcap, "store: %s: %s", what, sqlite3_errmsg(db));
    else
        snprintf(err, errcap, "store: %s", what);
}

/* mkdir -p with mode 0700 for what it creates; existing directories keep
 * their mode (the operator may have chosen it). */
static int make_dirs(const char *dir, char *err, size_t errcap)
{
    char path[PATH_MAX];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof(path)) {
        set_err(err, errcap, "data directory path is empty or too long", NULL);
        return LR_EINVAL;
    }
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            if (err && errcap)
                snprintf(err, errcap, "store: cannot create directory %s: %s", path,
                         strerror(errno));
            return LR_EIO;
        }
        path[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (err && errcap) snprintf(err, errcap, "store: %s is not a directory", dir);
        return LR_EIO;
    }
    return LR_OK;
}

static int exec(sqlite3 *db, const char *sql, const char *what, char *err, size_t errcap)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK) return LR_OK;
    set_err(err, errcap, what, db);
    return LR_EIO;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err, size_t errcap)
{
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK)
        return LR_OK;
    set_err(err, errcap, "cannot prepare a statement", db);
    return LR_EIO;
}

static int user_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return LR_EIO;
    int rc = LR_EIO;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = LR_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int migrate(sqlite3 *db, char *err, size_t errcap)
{
    int have;
    if (user_version(db, &have) != LR_OK) {
        set_err(err, errcap, "cannot read the schema version", db);
        return LR_EIO;
    }
    int want = lr_store_sqlite_schema_version();
    if (have > want) {
        if (err && errcap)
            snprintf(err, errcap, "store: database schema version %d is newer than this build's %d",
                     have, want);
        return LR_EINVAL;
    }
    for (int v = have; v < want; v++) {
        char bump[48];
        snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
        if (exec(db, "BEGIN IMMEDIATE", "cannot start a migration", err, errcap) != LR_OK)
            return LR_EIO;
        if (exec(db, migrations[v], "migration failed", err, errcap) != LR_OK ||
            exec(db, bump, "cannot record the schema version", err, errcap) != LR_OK ||
            exec(db, "COMMIT", "cannot commit a migration", err, errcap) != LR_OK) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return LR_EIO;
        }
    }
    return LR_OK;
}

static int open_conn(const char *path, int flags, int timeout_ms, sqlite3 **out, char *err,
                     size_t errcap)
{
    /* NOMUTEX: each connection is used by one thread at a time by design
     * (store thread, or the holder of the read lock), so SQLite's own
     * per-connection mutex would only add cost. */
    flags |= SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, out, flags, NULL) != SQLITE_OK) {
        if (*out) {
            set_err(err, errcap, "cannot open the database", *out);
        } else {
            set_err(err, errcap, "cannot open the database: out of memory", NULL);
        }
        return LR_EIO;
    }
    sqlite3_extended_result_codes(*out, 1);
    if (sqlite3_busy_timeout(*out, timeout_ms) != SQLITE_OK) {
        set_err(err, errcap, "cannot set busy_timeout", *out);
        return LR_EIO;
    }
    return LR_OK;
}

static void sqlite_close(void *p)
{
    sqlite_be *be = p;
    if (!be) return;
    sqlite3_stmt *all[] = {be->begin,       be->commit,     be->rollback,      be->room_put,
                           be->room_delete, be->member_put, be->member_delete, be->user_put,
                           be->sweep_mutes, be->sweep_bans, be->sweep_empty,   be->room_get,
                           be->room_each,   be->check,      be->member_each,   be->user_get,
                           be->user_each};
    for (size_t i = 0; i < LR_ARRAY_LEN(all); i++)
        sqlite3_finalize(all[i]);
    /* close_v2 would defer a close that statements still block; every
     * statement is finalized above, so a plain close must succeed. */
    int rc = sqlite3_close(be->r);
    assert(rc == SQLITE_OK);
    rc = sqlite3_close(be->w);
    assert(rc == SQLITE_OK);
    LR_UNUSED(rc);
    free(be);
}

static void *sqlite_open(const char *dir, int timeout_ms, char *err, size_t errcap)
{
    if (err && errcap) err[0] = '\0';
    if (!dir || make_dirs(dir, err, errcap) != LR_OK) {
        if (!dir) set_err(err, errcap, "no data directory", NULL);
        return NULL;
    }
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, LR_STORE_DB_NAME) >= sizeof(path)) {
        set_err(err, errcap, "data directory path too long", NULL);
        return NULL;
    }
    sqlite_be *be = calloc(1, sizeof(*be));
    if (!be) {
        set_err(err, errcap, "out of memory", NULL);
        return NULL;
    }

    if (open_conn(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, timeout_ms, &be->w, err,
                  errcap) != LR_OK)
        goto err;

    /* WAL must be on before the first transaction; it is persistent, but
     * ask every time and insist, since readers must not block the writer. */
    sqlite3_stmt *st = NULL;
    bool wal = false;
    if (sqlite3_prepare_v2(be->w, "PRAGMA journal_mode = WAL", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *mode = sqlite3_column_text(st, 0);
        wal = mode && strcmp((const char *)mode, "wal") == 0;
    }
    sqlite3_finalize(st);
    if (!wal) {
        set_err(err, errcap, "cannot switch the database to WAL mode", be->w);
        goto err;
    }
    if (exec(be->w, "PRAGMA synchronous = FULL", "cannot set synchronous", err, errcap) ||
        exec(be->w, "PRAGMA foreign_keys = ON", "cannot enable foreign keys", err, errcap) ||
        migrate(be->w, err, errcap) != LR_OK)
        goto err;

    /* Read connection: opened after migrating so it sees the final schema;
     * query_only turns a misrouted write into an error, not a second
     * writer racing the store thread. */
    if (open_conn(path, SQLITE_OPEN_READWRITE, timeout_ms, &be->r, err, errcap) != LR_OK ||
        exec(be->r, "PRAGMA query_only = ON", "cannot set query_only", err, errcap))
        goto err;

    if (prepare(be->w, "BEGIN IMMEDIATE", &be->begin, err, errcap) ||
        prepare(be->w, "COMMIT", &be->commit, err, errcap) ||
        prepare(be->w, "ROLLBACK", &be->rollback, err, errcap) ||
        prepare(be->w, sql_room_put, &be->room_put, err, errcap) ||
        prepare(be->w, sql_room_delete, &be->room_delete, err, errcap) ||
        prepare(be->w, sql_member_put, &be->member_put, err, errcap) ||
        prepare(be->w, sql_member_delete, &be->member_delete, err, errcap) ||
        prepare(be->w, sql_user_put, &be->user_put, err, errcap) ||
        prepare(be->w, sql_sweep_mutes, &be->sweep_mutes, err, errcap) ||
        prepare(be->w, sql_sweep_bans, &be->sweep_bans, err, errcap) ||
        prepare(be->w, sql_sweep_empty, &be->sweep_empty, err, errcap) ||
        prepare(be->r, sql_room_get, &be->room_get, err, errcap) ||
        prepare(be->r, sql_room_each, &be->room_each, err, errcap) ||
        prepare(be->r, sql_member_each, &be->member_each, err, errcap) ||
        prepare(be->r, sql_user_get, &be->user_get, err, errcap) ||
        prepare(be->r, sql_user_each, &be->user_each, err, errcap) ||
        prepare(be->r, "PRAGMA user_version", &be->check, err, errcap))
        goto err;
    return be;

err:
    sqlite_close(be); /* also right for half-opened: NULLs are no-ops */
    return NULL;
}

/* Steps a write-side statement that returns no row, then resets it. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? LR_OK : LR_EIO;
}

static int sqlite_begin(void *p)
{
    return step_done(((sqlite_be *)p)->begin);
}

static int sqlite_commit(void *p)
{
    sqlite_be *be = p;
    int rc = step_done(be->commit);
    if (rc != LR_OK)
        LR_ERROR("event=store_commit_failed backend=sqlite err=\"%s\"", sqlite3_errmsg(be->w));
    return rc;
}

static void sqlite_rollback(void *p)
{
    sqlite_be *be = p;
    if (sqlite3_get_autocommit(be->w)) return; /* SQLite already rolled back */
    if (step_done(be->rollback) != LR_OK)
        LR_ERROR("event=store_rollback_failed backend=sqlite err=\"%s\"", sqlite3_errmsg(be->w));
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) == SQLITE_OK ? 0 : -1;
}

static int sqlite_room_put(void *p, const lr_room_rec *r)
{
    sqlite3_stmt *st = ((sqlite_be *)p)->room_put;
    if (bind_text(st, 1, r->id) || bind_text(st, 2, r->type) || bind_text(st, 3, r->name) ||
        bind_text(st, 4, r->owner) || bind_text(st, 5, r->intro) ||
        bind_text(st, 6, r->notification) || bind_text(st, 7, r->face_url) ||
        sqlite3_bind_int64(st, 8, r->create_time) != SQLITE_OK ||
        sqlite3_bind_int(st, 9, r->mute_all) != SQLITE_OK ||
        sqlite3_bind_int64(st, 10, r->rate) != SQLITE_OK ||
        sqlite3_bind_int(st, 11, r->history) != SQLITE_OK ||
        sqlite3_bind_int(st, 12, r->allow_guests) != SQLITE_OK ||
        sqlite3_bind_int(st, 13, r->member_events) != SQLITE_OK ||
        sqlite3_bind_int(st, 14, r->report_limited) != SQLITE_OK) {
        sqlite3_clear_bindings(st);
        return LR_EIO;
    }
    return step_done(st);
}

static int sqlite_room_delete(void *p, const char *id)
{
    sqlite3_stmt *st = ((sqlite_be *)p)->room_delete;
    if (bind_text(st, 1, id)) return LR_EIO;
    return step_done(st);
}

static int sqlite_member_put(void *p, const lr_member_rec *m)
{
    sqlite3_stmt *st = ((sqlite_be *)p)->member_put;
    if (bind_text(st, 1, m->room) || bind_text(st, 2, m->user) ||
        sqlite3_bind_int(st, 3, m->role) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, m->muted_until_ms) != SQLITE_OK ||
        sqlite3_bind_int64(st, 5, m->banned_until_ms) != SQLITE_OK ||
        bind_text(st, 6, m->ban_desc)) {
        sqlite3_clear_bindings(st);
        return LR_EIO;
    }
    return step_done(st);
}

static int sqlite_member_delete(void *p, const char *room, const char *user)
{
    sqlite3_stmt *st = ((sqlite_be *)p)->member_delete;
    if (bind_text(st, 1, room) || bind_text(st, 2, user)) {
        sqlite3_clear_bindings(st);
        return LR_EIO;
    }
    return step_done(st);
}

static int sqlite_user_put(void *p, const lr_user_rec *u)
{
    sqlite3_stmt *st = ((sqlite_be *)p)->user_put;
    if (bind_text(st, 1, u->id) || bind_text(st, 2, u->nick) || bind_text(st, 3, u->face_url)) {
        sqlite3_clear_bindings(st);
        return LR_EIO;
    }
    return step_done(st);
}

static int sqlite_sweep_expired(void *p, int64_t now_ms)
{
    sqlite_be *be = p;
    sqlite3_stmt *clear[] = {be->sweep_mutes, be->sweep_bans};
    for (size_t i = 0; i < LR_ARRAY_LEN(clear); i++) {
        if (sqlite3_bind_int64(clear[i], 1, now_ms) != SQLITE_OK || step_done(clear[i]) != LR_OK)
            return LR_EIO;
    }
    /* only after both clears: a row is meaningless when neither is left */
    return step_done(be->sweep_empty);
}

/* Copies a text column, truncating to the field (only a database edited by
 * hand can hold a longer value). NULL only comes from out-of-memory since
 * every column is NOT NULL. */
static int col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t) return LR_EIO;
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    if (n >= cap) n = cap - 1;
    memcpy(dst, t, n);
    dst[n] = '\0';
    return LR_OK;
}

static int row_to_rec(sqlite3_stmt *st, lr_room_rec *r)
{
    memset(r, 0, sizeof(*r));
    if (col_text(st, 0, r->id, sizeof(r->id)) || col_text(st, 1, r->type, sizeof(r->type)) ||
        col_text(st, 2, r->name, sizeof(r->name)) || col_text(st, 3, r->owner, sizeof(r->owner)) ||
        col_text(st, 4, r->intro, sizeof(r->intro)) ||
        col_text(st, 5, r->notification, sizeof(r->notification)) ||
        col_text(st, 6, r->face_url, sizeof(r->face_url)))
        return LR_EIO;
    r->create_time = sqlite3_column_int64(st, 7);
    r->mute_all = sqlite3_column_int(st, 8) != 0;
    r->rate = (uint32_t)sqlite3_column_int64(st, 9);
    r->history = (int32_t)sqlite3_column_int(st, 10);
    r->allow_guests = sqlite3_column_int(st, 11) != 0;
    r->member_events = sqlite3_column_int(st, 12) != 0;
    r->report_limited = sqlite3_column_int(st, 13) != 0;
    return LR_OK;
}

static int sqlite_room_get(void *p, const char *id, lr_room_rec *out)
{
    sqlite3_stmt *st = ((sqlite_be *)p)->room_get;
    int rc = LR_EIO;
    if (bind_text(st, 1, id) == 0) {
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW)
            rc = row_to_rec(st, out);
        else if (s == SQLITE_DONE)
            rc = LR_ENOENT;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int sqlite_room_each(void *p, lr_store_room_cb cb, void *ctx)
{
    sqlite3_stmt *st = ((sqlite_be *)p)->room_each;
    lr_room_rec rec;
    int s, rc = LR_OK;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (row_to_rec(st, &rec) != LR_OK) {
            rc = LR_EIO;
            break;
        }
        cb(ctx, &rec);
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE) rc = LR_EIO;
    sqlite3_reset(st);
    return rc;
}

static int member_row(sqlite3_stmt *st, lr_member_rec *m)
{
    memset(m, 0, sizeof(*m));
    if (col_text(st, 0, m->room, sizeof(m->room)) || col_text(st, 1, m->user, sizeof(m->user)) ||
        col_text(st, 5, m->ban_desc, sizeof(m->ban_desc)))
        return LR_EIO;
    m->role = (uint8_t)sqlite3_column_int(st, 2);
    m->muted_until_ms = sqlite3_column_int64(st, 3);
    m->banned_until_ms = sqlite3_column_int64(st, 4);
    return LR_OK;
}

static int user_row(sqlite3_stmt *st, lr_user_rec *u)
{
    memset(u, 0, sizeof(*u));
    if (col_text(st, 0, u->id, sizeof(u->id)) || col_text(st, 1, u->nick, sizeof(u->nick)) ||
        col_text(st, 2, u->face_url, sizeof(u->face_url)))
        return LR_EIO;
    return LR_OK;
}

static int sqlite_member_each(void *p, lr_store_member_cb cb, void *ctx)
{
    sqlite3_stmt *st = ((sqlite_be *)p)->member_each;
    lr_member_rec rec;
    int s, rc = LR_OK;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (member_row(st, &rec) != LR_OK) {
            rc = LR_EIO;
            break;
        }
        cb(ctx, &rec);
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE) rc = LR_EIO;
    sqlite3_reset(st);
    return rc;
}

static int sqlite_user_get(void *p, const char *id, lr_user_rec *out)
{
    sqlite3_stmt *st = ((sqlite_be *)p)->user_get;
    int rc = LR_EIO;
    if (bind_text(st, 1, id) == 0) {
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW)
            rc = user_row(st, out);
        else if (s == SQLITE_DONE)
            rc = LR_ENOENT;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int sqlite_user_each(void *p, lr_store_user_cb cb, void *ctx)
{
    sqlite3_stmt *st = ((sqlite_be *)p)->user_each;
    lr_user_rec rec;
    int s, rc = LR_OK;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (user_row(st, &rec) != LR_OK) {
            rc = LR_EIO;
            break;
        }
        cb(ctx, &rec);
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE) rc = LR_EIO;
    sqlite3_reset(st);
    return rc;
}

static int sqlite_check(void *p)
{
    sqlite3_stmt *st = ((sqlite_be *)p)->check;
    int rc = sqlite3_step(st) == SQLITE_ROW ? LR_OK : LR_EIO;
    sqlite3_reset(st);
    return rc;
}

const lr_store_ops lr_store_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .room_put = sqlite_room_put,
    .room_delete = sqlite_room_delete,
    .member_put = sqlite_member_put,
    .member_delete = sqlite_member_delete,
    .user_put = sqlite_user_put,
    .sweep_expired = sqlite_sweep_expired,
    .room_get = sqlite_room_get,
    .room_each = sqlite_room_each,
    .member_each = sqlite_member_each,
    .user_get = sqlite_user_get,
    .user_each = sqlite_user_each,
    .check = sqlite_check,
};

lr_store *lr_store_open_sqlite_ex(const char *dir, int timeout_ms, char *err, size_t errcap)
{
    return lr_store_open_ops(&lr_store_sqlite_ops, dir, timeout_ms, err, errcap);
}

lr_store *lr_store_open_sqlite(const char *dir, char *err, size_t errcap)
{
    return lr_store_open_sqlite_ex(dir, LR_STORE_TIMEOUT_MS, err, errcap);
}
