/*
 * store_fixture.h: what the store's test files share: a fresh mkdtemp data
 * directory per test, record makers that vary every field with n, field by
 * field comparisons, done-callback counters, and raw SQLite access for
 * setting up databases the store did not write. Everything is static
 * inline so that a file using only part of it still builds with -Werror.
 * Include after <cmocka.h>.
 */
#ifndef LR_TEST_STORE_FIXTURE_H
#define LR_TEST_STORE_FIXTURE_H

#include <ftw.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "store/store.h"
#include "store/store_impl.h"

typedef struct fixture {
    char dir[256];
    char err[256];
} fixture;

static inline int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f) return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/lr_store_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline int teardown(void **state)
{
    fixture *f = *state;
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static inline lr_store *open_store(fixture *f)
{
    f->err[0] = '\0';
    lr_store *s = lr_store_open_sqlite(f->dir, f->err, sizeof(f->err));
    if (!s) fail_msg("open %s: %s", f->dir, f->err);
    return s;
}

/* Fills every field from n so that two records differ in each field. */
static inline void make_rec(lr_room_rec *r, int n)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "room-%06d", n);
    snprintf(r->type, sizeof(r->type), "AVChatRoom");
    snprintf(r->name, sizeof(r->name), "name %d", n);
    if (n % 3) snprintf(r->owner, sizeof(r->owner), "owner%d", n); /* else empty */
    snprintf(r->intro, sizeof(r->intro), "intro %d", n);
    snprintf(r->notification, sizeof(r->notification), "note %d", n);
    snprintf(r->face_url, sizeof(r->face_url), "https://img.example/%d.png", n);
    r->create_time = 1700000000 + n;
    r->mute_all = n % 2;
    r->rate = (uint32_t)n * 7u;
    r->history = n % 52 - 1;
    r->allow_guests = n % 3 == 0;
    r->member_events = n % 5 != 0;
    r->report_limited = n % 7 == 0;
}

static inline void assert_rec_equal(const lr_room_rec *a, const lr_room_rec *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->type, b->type);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->owner, b->owner);
    assert_string_equal(a->intro, b->intro);
    assert_string_equal(a->notification, b->notification);
    assert_string_equal(a->face_url, b->face_url);
    assert_int_equal(a->create_time, b->create_time);
    assert_int_equal(a->mute_all, b->mute_all);
    assert_int_equal(a->rate, b->rate);
    assert_int_equal(a->history, b->history);
    assert_int_equal(a->allow_guests, b->allow_guests);
    assert_int_equal(a->member_events, b->member_events);
    assert_int_equal(a->report_limited, b->report_limited);
}

/* A meaningful member of make_rec(room_n)'s room, every field from n: the
 * role alternates, and at least one of mute and ban is always set. */
static inline void make_member(lr_member_rec *m, int room_n, int n)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->room, sizeof(m->room), "room-%06d", room_n);
    snprintf(m->user, sizeof(m->user), "user-%06d", n);
    m->role = (uint8_t)(n % 2);
    m->muted_until_ms = n % 3 == 2 ? 0 : INT64_C(1700000000000) + n;
    m->banned_until_ms = n % 3 == 0 ? 0 : INT64_C(1800000000000) + 7 * n;
    if (m->banned_until_ms) snprintf(m->ban_desc, sizeof(m->ban_desc), "spam #%d", n);
}

static inline void assert_member_equal(const lr_member_rec *a, const lr_member_rec *b)
{
    assert_string_equal(a->room, b->room);
    assert_string_equal(a->user, b->user);
    assert_int_equal(a->role, b->role);
    assert_int_equal(a->muted_until_ms, b->muted_until_ms);
    assert_int_equal(a->banned_until_ms, b->banned_until_ms);
    assert_string_equal(a->ban_desc, b->ban_desc);
}

static inline void make_user(lr_user_rec *u, int n)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->id, sizeof(u->id), "user-%06d", n);
    if (n % 4) snprintf(u->nick, sizeof(u->nick), "nick %d", n); /* else empty */
    snprintf(u->face_url, sizeof(u->face_url), "https://face.example/%d.jpg", n);
}

static inline void assert_user_equal(const lr_user_rec *a, const lr_user_rec *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->nick, b->nick);
    assert_string_equal(a->face_url, b->face_url);
}

/* Done callbacks run on the store thread; the test reads after a sync. */
typedef struct counts {
    atomic_int ok;
    atomic_int eio;
    atomic_int other;
} counts;

static inline void count_done(void *ctx, int rc)
{
    counts *c = ctx;
    if (rc == 0)
        atomic_fetch_add(&c->ok, 1);
    else if (rc == LR_EIO)
        atomic_fetch_add(&c->eio, 1);
    else
        atomic_fetch_add(&c->other, 1);
}

static inline sqlite3 *raw_open(const char *dir, int flags)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/liveroom.db", dir);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK)
        fail_msg("raw open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
    return db;
}

static inline int raw_user_version(const char *dir)
{
    sqlite3 *db = raw_open(dir, SQLITE_OPEN_READONLY);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static inline void raw_exec(const char *dir, const char *sql)
{
    sqlite3 *db = raw_open(dir, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fail_msg("raw exec: %s", msg ? msg : "?");
    }
    sqlite3_close(db);
}

/* The single integer a raw query answers (COUNT(*) and the like). */
static inline int64_t raw_int(const char *dir, const char *sql)
{
    sqlite3 *db = raw_open(dir, SQLITE_OPEN_READONLY);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("raw query %s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

#endif
