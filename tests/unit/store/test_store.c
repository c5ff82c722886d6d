/*
 * test_store.c proves the store's contract on the SQLite backend: every
 * field round-trips, batches commit and report through done callbacks,
 * state survives close and kill -9 (rooms, users and members alike), the schema migrates by
 * user_version, the write queue is bounded, and a failed commit reports LR_EIO. Each test works in
 * its own fresh mkdtemp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_fixture.h"

typedef struct collect {
    int n;
    char last[LR_MAX_ROOM_ID + 1];
    bool ordered;
    lr_room_rec first;
} collect;

static void collect_cb(void *ctx, const lr_room_rec *rec)
{
    collect *c = ctx;
    if (c->n == 0) c->first = *rec;
    if (c->n > 0 && strcmp(c->last, rec->id) >= 0) c->ordered = false;
    snprintf(c->last, sizeof(c->last), "%s", rec->id);
    c->n++;
}

static void fill_max(lr_room_rec *r)
{
    memset(r, 0, sizeof(*r));
    memset(r->id, 'i', LR_MAX_ROOM_ID);
    snprintf(r->type, sizeof(r->type), "AVChatRoom");
    memset(r->name, 'n', sizeof(r->name) - 1);
    memcpy(r->name, "\xe7\x9b\xb4\xe6\x92\xad", 6); /* UTF-8 must pass as bytes */
    memset(r->owner, 'o', sizeof(r->owner) - 1);
    memset(r->intro, 'r', sizeof(r->intro) - 1);
    memset(r->notification, 'x', sizeof(r->notification) - 1);
    memset(r->face_url, 'f', sizeof(r->face_url) - 1);
    r->create_time = INT64_C(4102444800123);
    r->mute_all = true;
    r->rate = UINT32_MAX;
    r->history = -1;
    r->allow_guests = true;
    r->member_events = false;
    r->report_limited = true;
}

static void put_get_each_delete_round_trip_every_field(void **state)
{
    fixture *f = *state;
    lr_store *s = open_store(f);
    counts c = {0};
    lr_room_rec big, small, got;
    fill_max(&big);
    make_rec(&small, 42);

    assert_int_equal(lr_store_room_put(s, &big, count_done, &c), 0);
    assert_int_equal(lr_store_room_put(s, &small, count_done, &c), 0);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok), 2);

    assert_int_equal(lr_store_room_get(s, big.id, &got), 0);
    assert_rec_equal(&got, &big);
    assert_int_equal(lr_store_room_get(s, small.id, &got), 0);
    assert_rec_equal(&got, &small);

    /* a second put of the same id replaces every field */
    lr_room_rec changed;
    make_rec(&changed, 43);
    snprintf(changed.id, sizeof(changed.id), "%s", small.id);
    changed.history = 50;
    changed.rate = 0;
    assert_int_equal(lr_store_room_put(s, &changed, NULL, NULL), 0);
    lr_store_sync(s);
    assert_int_equal(lr_store_room_get(s, small.id, &got), 0);
    assert_rec_equal(&got, &changed);

    collect col = {.ordered = true};
    assert_int_equal(lr_store_room_each(s, collect_cb, &col), 0);
    assert_int_equal(col.n, 2);
    assert_true(col.ordered);
    assert_rec_equal(&col.first, &big); /* "iii…" sorts before "room-…" */

    assert_int_equal(lr_store_room_delete(s, big.id, count_done, &c), 0);
    assert_int_equal(lr_store_room_delete(s, "never-existed", count_done, &c), 0);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok), 4);
    assert_int_equal(atomic_load(&c.eio) + atomic_load(&c.other), 0);
    assert_int_equal(lr_store_room_get(s, big.id, &got), LR_ENOENT);
    assert_int_equal(lr_store_room_get(s, small.id, &got), 0);
    assert_int_equal(lr_store_room_get(s, "missing", &got), LR_ENOENT);
    assert_int_equal(lr_store_check(s), 0);
    lr_store_close(s);
}

static void invalid_writes_are_refused_without_callback(void **state)
{
    fixture *f = *state;
    lr_store *s = open_store(f);
    counts c = {0};
    lr_room_rec r;
    make_rec(&r, 1);
    r.id[0] = '\0';
    assert_int_equal(lr_store_room_put(s, &r, count_done, &c), LR_EINVAL);
    make_rec(&r, 1);
    memset(r.name, 'n', sizeof(r.name)); /* no terminator */
    assert_int_equal(lr_store_room_put(s, &r, count_done, &c), LR_EINVAL);
    char longid[LR_MAX_ROOM_ID + 2];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_int_equal(lr_store_room_delete(s, longid, count_done, &c), LR_EINVAL);
    assert_int_equal(lr_store_room_delete(s, "", count_done, &c), LR_EINVAL);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok) + atomic_load(&c.eio) + atomic_load(&c.other), 0);
    lr_store_close(s);
}

enum { BATCH_N = 10000 };

static void ten_thousand_puts_all_commit_and_call_done(void **state)
{
    fixture *f = *state;
    lr_store *s = open_store(f);
    counts c = {0};
    lr_room_rec r;
    for (int i = 0; i < BATCH_N; i++) {
        make_rec(&r, i);
        assert_int_equal(lr_store_room_put(s, &r, count_done, &c), 0);
    }
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok), BATCH_N);
    assert_int_equal(atomic_load(&c.eio) + atomic_load(&c.other), 0);

    collect col = {.ordered = true};
    assert_int_equal(lr_store_room_each(s, collect_cb, &col), 0);
    assert_int_equal(col.n, BATCH_N);
    assert_true(col.ordered);
    lr_room_rec got, want;
    make_rec(&want, BATCH_N - 1);
    assert_int_equal(lr_store_room_get(s, want.id, &got), 0);
    assert_rec_equal(&got, &want);
    lr_store_close(s);
}

static void close_drains_and_reopen_sees_everything(void **state)
{
    fixture *f = *state;
    lr_store *s = open_store(f);
    lr_room_rec r, got;
    /* paused: the writes are certainly still queued when close starts */
    lr_store_test_pause(s, true);
    for (int i = 0; i < 500; i++) {
        make_rec(&r, i);
        assert_int_equal(lr_store_room_put(s, &r, NULL, NULL), 0);
    }
    make_rec(&r, 7);
    assert_int_equal(lr_store_room_delete(s, r.id, NULL, NULL), 0);
    lr_store_close(s);

    s = open_store(f);
    collect col = {.ordered = true};
    assert_int_equal(lr_store_room_each(s, collect_cb, &col), 0);
    assert_int_equal(col.n, 499);
    for (int i = 0; i < 500; i++) {
        make_rec(&r, i);
        int rc = lr_store_room_get(s, r.id, &got);
        if (i == 7) {
            assert_int_equal(rc, LR_ENOENT);
        } else {
            assert_int_equal(rc, 0);
            assert_rec_equal(&got, &r);
        }
    }
    lr_store_close(s);
}

static void migration_sets_user_version_on_a_new_db(void **state)
{
    fixture *f = *state;
    assert_true(lr_store_sqlite_schema_version() >= 1);
    lr_store *s = open_store(f);
    lr_store_close(s);
    assert_int_equal(raw_user_version(f->dir), lr_store_sqlite_schema_version());
    /* reopening does not run migration 1 again (it would fail: table exists) */
    s = open_store(f);
    lr_store_close(s);
    assert_int_equal(raw_user_version(f->dir), lr_store_sqlite_schema_version());
}

static void migration_upgrades_an_existing_empty_db(void **state)
{
    fixture *f = *state;
    /* a database someone created with no schema of ours: user_version 0 */
    raw_exec(f->dir, "CREATE TABLE unrelated (x); INSERT INTO unrelated VALUES (1);");
    assert_int_equal(raw_user_version(f->dir), 0);
    lr_store *s = open_store(f);
    lr_room_rec r, got;
    make_rec(&r, 5);
    assert_int_equal(lr_store_room_put(s, &r, NULL, NULL), 0);
    lr_store_sync(s);
    assert_int_equal(lr_store_room_get(s, r.id, &got), 0);
    assert_rec_equal(&got, &r);
    lr_store_close(s);
    assert_int_equal(raw_user_version(f->dir), lr_store_sqlite_schema_version());
}

static void a_newer_schema_is_refused_with_a_message(void **state)
{
    fixture *f = *state;
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", lr_store_sqlite_schema_version() + 1);
    raw_exec(f->dir, sql);
    f->err[0] = '\0';
    lr_store *s = lr_store_open_sqlite(f->dir, f->err, sizeof(f->err));
    assert_null(s);
    assert_non_null(strstr(f->err, "newer"));
}

static void open_creates_missing_dirs_private(void **state)
{
    fixture *f = *state;
    char sub[512];
    snprintf(sub, sizeof(sub), "%s/a/b/c", f->dir);
    lr_store *s = lr_store_open_sqlite(sub, f->err, sizeof(f->err));
    if (!s) fail_msg("open %s: %s", sub, f->err);
    assert_int_equal(lr_store_check(s), 0);
    lr_store_close(s);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
}

static void a_file_where_the_dir_should_be_fails_with_a_message(void **state)
{
    fixture *f = *state;
    char file[512], below[600];
    snprintf(file, sizeof(file), "%s/not-a-dir", f->dir);
    int fd = open(file, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);

    f->err[0] = '\0';
    assert_null(lr_store_open_sqlite(file, f->err, sizeof(f->err)));
    assert_true(strlen(f->err) > 0);
    assert_non_null(strstr(f->err, "not-a-dir"));

    snprintf(below, sizeof(below), "%s/sub", file);
    f->err[0] = '\0';
    assert_null(lr_store_open_sqlite(below, f->err, sizeof(f->err)));
    assert_true(strlen(f->err) > 0);
}

static void queue_is_bounded_while_the_thread_is_stalled(void **state)
{
    fixture *f = *state;
    lr_store *s = open_store(f);
    counts c = {0};
    lr_store_test_pause(s, true);
    /* deletes: the bound counts writes of any kind, and they are small */
    char id[32];
    for (int i = 0; i < LR_STORE_MAX_PENDING; i++) {
        snprintf(id, sizeof(id), "gone-%d", i);
        assert_int_equal(lr_store_room_delete(s, id, count_done, &c), 0);
    }
    lr_room_rec r;
    make_rec(&r, 1);
    assert_int_equal(lr_store_room_put(s, &r, count_done, &c), LR_ENOMEM);
    assert_int_equal(lr_store_room_delete(s, "one-more", count_done, &c), LR_ENOMEM);

    lr_store_test_pause(s, false);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok), LR_STORE_MAX_PENDING);
    assert_int_equal(atomic_load(&c.eio) + atomic_load(&c.other), 0);
    /* room again once drained */
    assert_int_equal(lr_store_room_put(s, &r, count_done, &c), 0);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok), LR_STORE_MAX_PENDING + 1);
    lr_store_close(s);
}

static void a_failed_commit_reports_eio_to_every_write(void **state)
{
    fixture *f = *state;
    f->err[0] = '\0';
    lr_store *s = lr_store_open_sqlite_ex(f->dir, 50, f->err, sizeof(f->err));
    if (!s) fail_msg("open: %s", f->err);

    /* another connection holds the write lock past the store's timeout */
    char path[512];
    snprintf(path, sizeof(path), "%s/liveroom.db", f->dir);
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);

    counts c = {0};
    lr_room_rec r, got;
    lr_store_test_pause(s, true);
    for (int i = 0; i < 10; i++) {
        make_rec(&r, i);
        assert_int_equal(lr_store_room_put(s, &r, count_done, &c), 0);
    }
    lr_store_test_pause(s, false);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.eio), 10);
    assert_int_equal(atomic_load(&c.ok) + atomic_load(&c.other), 0);
    /* WAL: reads still work while the lock is held */
    assert_int_equal(lr_store_check(s), 0);
    assert_int_equal(lr_store_room_get(s, r.id, &got), LR_ENOENT);

    assert_int_equal(sqlite3_exec(raw, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    make_rec(&r, 100);
    assert_int_equal(lr_store_room_put(s, &r, count_done, &c), 0);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok), 1);
    assert_int_equal(lr_store_room_get(s, r.id, &got), 0);
    make_rec(&r, 3);
    assert_int_equal(lr_store_room_get(s, r.id, &got), LR_ENOENT);
    lr_store_close(s);
}

typedef struct chain {
    lr_store *s;
    int rc;
} chain;

static void chain_done(void *ctx, int rc)
{
    chain *ch = ctx;
    lr_room_rec next;
    make_rec(&next, 2);
    ch->rc = rc == 0 ? lr_store_room_put(ch->s, &next, NULL, NULL) : rc;
}

static void a_done_callback_may_queue_the_next_write(void **state)
{
    fixture *f = *state;
    lr_store *s = open_store(f);
    chain ch = {.s = s, .rc = 1};
    lr_room_rec r, got;
    make_rec(&r, 1);
    assert_int_equal(lr_store_room_put(s, &r, chain_done, &ch), 0);
    lr_store_sync(s); /* the first write is done, so the second is queued */
    lr_store_sync(s); /* ... and now done */
    assert_int_equal(ch.rc, 0);
    make_rec(&r, 2);
    assert_int_equal(lr_store_room_get(s, r.id, &got), 0);
    lr_store_close(s);
}

/* The child writes rounds of rooms, users and members (one per even n, in
 * room n) and reports after each acknowledged round; it never stops on its
 * own before being killed. */
enum { CRASH_ROUND = 50, CRASH_MIN_ACKED = 1000, CRASH_CHILD_MAX = 2000000 };

static void crash_child(const char *dir, int wfd)
{
    char err[256];
    lr_store *s = lr_store_open_sqlite(dir, err, sizeof(err));
    if (!s) _exit(2);
    counts c = {0};
    lr_room_rec r;
    lr_user_rec u;
    lr_member_rec m;
    for (int n = 0; n < CRASH_CHILD_MAX;) {
        for (int i = 0; i < CRASH_ROUND; i++, n++) {
            make_rec(&r, n);
            make_user(&u, n);
            make_member(&m, n, n);
            if (lr_store_room_put(s, &r, count_done, &c) != 0 ||
                lr_store_user_put(s, &u, count_done, &c) != 0 ||
                (n % 2 == 0 && lr_store_member_put(s, &m, count_done, &c) != 0))
                _exit(3);
        }
        lr_store_sync(s);
        if (atomic_load(&c.ok) != n * 2 + (n + 1) / 2) _exit(4);
        char line[32];
        int len = snprintf(line, sizeof(line), "acked %d\n", n);
        if (write(wfd, line, (size_t)len) != len) _exit(5);
    }
    _exit(6);
}

/* Reads "acked N" lines; returns the last N seen, or -1 on EOF/timeout. */
static int read_acked(int fd, char *buf, size_t cap, size_t *len, int *last, int min)
{
    for (;;) {
        char *nl;
        while ((nl = memchr(buf, '\n', *len)) != NULL) {
            int n;
            if (sscanf(buf, "acked %d", &n) == 1) *last = n;
            size_t used = (size_t)(nl - buf) + 1;
            memmove(buf, nl + 1, *len - used);
            *len -= used;
        }
        if (min >= 0 && *last >= min) return *last;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 120000) <= 0) return -1;
        ssize_t got = read(fd, buf + *len, cap - *len);
        if (got <= 0) return got == 0 ? *last : -1;
        *len += (size_t)got;
    }
}

/* member_each after the crash: each row must be the one the child wrote
 * for its n; counted, not asserted, because cb runs under the read lock. */
typedef struct crash_members {
    bool *seen;
    int wrong;
} crash_members;

static void crash_member_cb(void *ctx, const lr_member_rec *rec)
{
    crash_members *cm = ctx;
    int n;
    lr_member_rec want;
    if (sscanf(rec->room, "room-%d", &n) != 1 || n < 0 || n >= CRASH_CHILD_MAX) {
        cm->wrong++;
        return;
    }
    make_member(&want, n, n);
    if (cm->seen[n] || strcmp(rec->user, want.user) != 0 || rec->role != want.role ||
        rec->muted_until_ms != want.muted_until_ms ||
        rec->banned_until_ms != want.banned_until_ms || strcmp(rec->ban_desc, want.ban_desc) != 0)
        cm->wrong++;
    cm->seen[n] = true;
}

static void acked_writes_survive_kill_9(void **state)
{
    fixture *f = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        crash_child(f->dir, p[1]);
    }
    close(p[1]);
    char buf[4096];
    size_t len = 0;
    int last = -1;
    int got = read_acked(p[0], buf, sizeof(buf), &len, &last, CRASH_MIN_ACKED);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (got < 0) fail_msg("child reported no acks (status %d)", status);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    /* acks written just before the kill count too */
    read_acked(p[0], buf, sizeof(buf), &len, &last, -1);
    close(p[0]);
    assert_true(last >= CRASH_MIN_ACKED);

    lr_store *s = open_store(f);
    lr_room_rec r, got_rec;
    for (int i = 0; i < last; i++) {
        make_rec(&r, i);
        int rc = lr_store_room_get(s, r.id, &got_rec);
        if (rc != 0) fail_msg("acked room %d of %d missing after kill -9 (rc %d)", i, last, rc);
        assert_rec_equal(&got_rec, &r);
    }
    collect col = {.ordered = true};
    assert_int_equal(lr_store_room_each(s, collect_cb, &col), 0);
    assert_true(col.n >= last);

    lr_user_rec u, got_user;
    for (int i = 0; i < last; i++) {
        make_user(&u, i);
        int rc = lr_store_user_get(s, u.id, &got_user);
        if (rc != 0) fail_msg("acked user %d of %d missing after kill -9 (rc %d)", i, last, rc);
        assert_user_equal(&got_user, &u);
    }
    crash_members cm = {.seen = calloc(CRASH_CHILD_MAX, sizeof(bool))};
    assert_non_null(cm.seen);
    int rc = lr_store_member_each(s, crash_member_cb, &cm);
    lr_store_close(s);
    int missing = 0;
    for (int i = 0; i < last; i += 2)
        missing += !cm.seen[i];
    free(cm.seen);
    assert_int_equal(rc, 0);
    assert_int_equal(cm.wrong, 0);
    assert_int_equal(missing, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(put_get_each_delete_round_trip_every_field, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(invalid_writes_are_refused_without_callback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(ten_thousand_puts_all_commit_and_call_done, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(close_drains_and_reopen_sees_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(migration_sets_user_version_on_a_new_db, setup, teardown),
        cmocka_unit_test_setup_teardown(migration_upgrades_an_existing_empty_db, setup, teardown),
        cmocka_unit_test_setup_teardown(a_newer_schema_is_refused_with_a_message, setup, teardown),
        cmocka_unit_test_setup_teardown(open_creates_missing_dirs_private, setup, teardown),
        cmocka_unit_test_setup_teardown(a_file_where_the_dir_should_be_fails_with_a_message, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(queue_is_bounded_while_the_thread_is_stalled, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_failed_commit_reports_eio_to_every_write, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_done_callback_may_queue_the_next_write, setup, teardown),
        cmocka_unit_test_setup_teardown(acked_writes_survive_kill_9, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
