/*
 * test_store_members.c proves the store's member and user-profile contract
 * on the SQLite backend: every field round-trips, a member record that
 * holds no role, mute or ban deletes its row, a room delete takes its
 * members with it, the sweep clears exactly the expired mutes and bans,
 * a version-1 database migrates without losing rooms, and over-long or
 * malformed records are refused with LR_EINVAL. (kill -9 durability of
 * member and user puts is in test_store.c's crash test.) Each test works in
 * its own fresh mkdtemp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "store_fixture.h"

enum { MAX_SEEN = 64 };

/* member_each / user_each results, copied out so the asserts run after
 * the read lock is released. */
typedef struct seen_members {
    int n;
    lr_member_rec rec[MAX_SEEN];
} seen_members;

static void seen_member_cb(void *ctx, const lr_member_rec *rec)
{
    seen_members *sm = ctx;
    if (sm->n < MAX_SEEN) sm->rec[sm->n] = *rec;
    sm->n++;
}

static void members_of(lr_store *s, seen_members *sm)
{
    memset(sm, 0, sizeof(*sm));
    assert_int_equal(lr_store_member_each(s, seen_member_cb, sm), 0);
    assert_true(sm->n <= MAX_SEEN);
}

typedef struct seen_users {
    int n;
    lr_user_rec rec[MAX_SEEN];
} seen_users;

static void seen_user_cb(void *ctx, const lr_user_rec *rec)
{
    seen_users *su = ctx;
    if (su->n < MAX_SEEN) su->rec[su->n] = *rec;
    su->n++;
}

static void put_room(lr_store *s, int n)
{
    lr_room_rec r;
    make_rec(&r, n);
    assert_int_equal(lr_store_room_put(s, &r, NULL, NULL), 0);
}

static void put_member(lr_store *s, const lr_member_rec *m, counts *c)
{
    assert_int_equal(lr_store_member_put(s, m, count_done, c), 0);
}

static int64_t member_rows(const fixture *f)
{
    return raw_int(f->dir, "SELECT COUNT(*) FROM members");
}

static void member_put_each_round_trip_every_field(void **state)
{
    fixture *f = *state;
    lr_store *s = open_store(f);
    counts c = {0};

    /* every string at its limit, UTF-8 passed as bytes, extreme times */
    lr_room_rec room;
    make_rec(&room, 1);
    memset(room.id, 'r', LR_MAX_ROOM_ID);
    assert_int_equal(lr_store_room_put(s, &room, NULL, NULL), 0);
    lr_member_rec big;
    memset(&big, 0, sizeof(big));
    memcpy(big.room, room.id, sizeof(big.room));
    memset(big.user, 'u', LR_MAX_USER_ID);
    big.role = LR_STORE_ROLE_ADMIN;
    big.muted_until_ms = INT64_MAX;
    big.banned_until_ms = INT64_MAX - 1;
    memset(big.ban_desc, 'd', LR_STORE_MAX_BAN_DESC);
    memcpy(big.ban_desc, "\xe5\xb9\xbf\xe5\x91\x8a", 6);

    put_room(s, 2);
    lr_member_rec m[4];
    for (int i = 0; i < 4; i++) {
        make_member(&m[i], 2, i);
        put_member(s, &m[i], &c);
    }
    put_member(s, &big, &c);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok), 5);
    assert_int_equal(atomic_load(&c.eio) + atomic_load(&c.other), 0);

    /* ordered by room then user: "room-000002" < "rrr…" */
    seen_members sm;
    members_of(s, &sm);
    assert_int_equal(sm.n, 5);
    for (int i = 0; i < 4; i++)
        assert_member_equal(&sm.rec[i], &m[i]);
    assert_member_equal(&sm.rec[4], &big);

    /* a second put of the same key replaces every field */
    lr_member_rec changed;
    make_member(&changed, 2, 5);
    memcpy(changed.user, m[1].user, sizeof(changed.user));
    changed.role = (uint8_t)!m[1].role;
    put_member(s, &changed, &c);
    lr_store_sync(s);
    members_of(s, &sm);
    assert_int_equal(sm.n, 5);
    assert_member_equal(&sm.rec[1], &changed);
    assert_member_equal(&sm.rec[0], &m[0]);

    /* members survive close and reopen */
    lr_store_close(s);
    s = open_store(f);
    members_of(s, &sm);
    assert_int_equal(sm.n, 5);
    assert_member_equal(&sm.rec[1], &changed);
    assert_member_equal(&sm.rec[4], &big);
    lr_store_close(s);
}

static void a_member_with_no_role_mute_or_ban_deletes_its_row(void **state)
{
    fixture *f = *state;
    lr_store *s = open_store(f);
    counts c = {0};
    put_room(s, 1);
    lr_member_rec admin, banned, empty;
    make_member(&admin, 1, 1);
    admin.role = LR_STORE_ROLE_ADMIN;
    admin.muted_until_ms = admin.banned_until_ms = 0;
    admin.ban_desc[0] = '\0';
    make_member(&banned, 1, 2);
    put_member(s, &admin, &c);
    put_member(s, &banned, &c);
    lr_store_sync(s);
    assert_int_equal(member_rows(f), 2);

    /* demoting the admin leaves nothing to remember */
    empty = admin;
    empty.role = LR_STORE_ROLE_MEMBER;
    put_member(s, &empty, &c);
    /* unbanning the other, even with a stale description */
    empty = banned;
    empty.role = LR_STORE_ROLE_MEMBER;
    empty.muted_until_ms = empty.banned_until_ms = 0;
    snprintf(empty.ban_desc, sizeof(empty.ban_desc), "left over");
    put_member(s, &empty, &c);
    /* a meaningless record for a row that never existed stores nothing */
    make_member(&empty, 1, 3);
    empty.role = 0;
    empty.muted_until_ms = empty.banned_until_ms = 0;
    put_member(s, &empty, &c);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok), 5);
    assert_int_equal(atomic_load(&c.eio) + atomic_load(&c.other), 0);
    assert_int_equal(member_rows(f), 0);

    /* an expired but non-zero mute still counts until a sweep */
    lr_member_rec muted;
    make_member(&muted, 1, 4);
    muted.role = 0;
    muted.muted_until_ms = 1;
    muted.banned_until_ms = 0;
    muted.ban_desc[0] = '\0';
    put_member(s, &muted, &c);
    lr_store_sync(s);
    seen_members sm;
    members_of(s, &sm);
    assert_int_equal(sm.n, 1);
    assert_member_equal(&sm.rec[0], &muted);
    lr_store_close(s);
}

static void a_member_put_for_a_missing_room_is_dropped_without_failing_its_batch(void **state)
{
    fixture *f = *state;
    lr_store *s = open_store(f);
    counts c = {0};
    lr_member_rec orphan, kept;
    make_member(&orphan, 99, 1);
    make_member(&kept, 1, 2);

    /* paused: the room, the orphan and the kept member share one batch */
    lr_store_test_pause(s, true);
    put_room(s, 1);
    put_member(s, &orphan, &c);
    put_member(s, &kept, &c);
    lr_store_test_pause(s, false);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok), 2);
    assert_int_equal(atomic_load(&c.eio) + atomic_load(&c.other), 0);

    seen_members sm;
    members_of(s, &sm);
    assert_int_equal(sm.n, 1);
    assert_member_equal(&sm.rec[0], &kept);
    lr_room_rec got;
    assert_int_equal(lr_store_room_get(s, "room-000001", &got), 0);
    lr_store_close(s);
}

static void deleting_a_room_deletes_its_members_and_only_those(void **state)
{
    fixture *f = *state;
    lr_store *s = open_store(f);
    counts c = {0};
    put_room(s, 1);
    put_room(s, 2);
    lr_member_rec m;
    for (int i = 0; i < 6; i++) {
        make_member(&m, 1 + i % 2, i);
        put_member(s, &m, &c);
    }
    lr_store_sync(s);
    assert_int_equal(member_rows(f), 6);

    /* updating a room is an upsert, never a delete that would cascade */
    put_room(s, 2);
    lr_store_sync(s);
    assert_int_equal(member_rows(f), 6);

    assert_int_equal(lr_store_room_delete(s, "room-000002", count_done, &c), 0);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok), 7);
    seen_members sm;
    members_of(s, &sm);
    assert_int_equal(sm.n, 3);
    for (int i = 0; i < sm.n; i++) {
        make_member(&m, 1, 2 * i);
        assert_member_equal(&sm.rec[i], &m);
    }

    /* in one batch: a delete, then a late member put for the deleted room,
     * then the room recreated: the recreated room starts with no members */
    lr_store_test_pause(s, true);
    assert_int_equal(lr_store_room_delete(s, "room-000001", count_done, &c), 0);
    make_member(&m, 1, 10);
    put_member(s, &m, &c);
    put_room(s, 1);
    lr_store_test_pause(s, false);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok), 9);
    assert_int_equal(atomic_load(&c.eio) + atomic_load(&c.other), 0);
    assert_int_equal(member_rows(f), 0);
    lr_room_rec got;
    assert_int_equal(lr_store_room_get(s, "room-000001", &got), 0);
    lr_store_close(s);
}

static void sweep_clears_expired_mutes_and_bans_and_deletes_emptied_rows(void **state)
{
    fixture *f = *state;
    lr_store *s = open_store(f);
    counts c = {0};
    const int64_t now = INT64_C(1750000000000);
    put_room(s, 1);
    put_room(s, 2);

    /* user-00000N in rooms 1 and 2 alike; the room 2 copy is all active */
    struct {
        uint8_t role;
        int64_t mute, ban;
        const char *desc;
    } in[] = {
        {0, now - 1, now + 1000, "still banned"}, /* 0: mute expired, ban active */
        {0, now, 0, ""},                          /* 1: expires exactly now: gone */
        {1, 0, now - 1, "over"},                  /* 2: admin, ban expired */
        {0, now + 1, now - 5, "over"},            /* 3: mute active, ban expired */
        {0, now - 10, now - 20, "over"},          /* 4: both expired: gone */
        {1, 0, 0, ""},                            /* 5: admin only: untouched */
    };
    lr_member_rec m;
    for (size_t i = 0; i < LR_ARRAY_LEN(in); i++) {
        for (int room = 1; room <= 2; room++) {
            memset(&m, 0, sizeof(m));
            snprintf(m.room, sizeof(m.room), "room-%06d", room);
            snprintf(m.user, sizeof(m.user), "user-%06zu", i);
            m.role = in[i].role;
            m.muted_until_ms = in[i].mute ? in[i].mute + (room == 2) * 100000 : 0;
            m.banned_until_ms = in[i].ban ? in[i].ban + (room == 2) * 100000 : 0;
            snprintf(m.ban_desc, sizeof(m.ban_desc), "%s", in[i].desc);
            put_member(s, &m, &c);
        }
    }
    assert_int_equal(lr_store_sweep_expired(s, now, count_done, &c), 0);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok), (int)LR_ARRAY_LEN(in) * 2 + 1);
    assert_int_equal(atomic_load(&c.eio) + atomic_load(&c.other), 0);

    seen_members sm;
    members_of(s, &sm);
    assert_int_equal(sm.n, 4 + (int)LR_ARRAY_LEN(in));
    /* room 1, in user order: 0, 2, 3, 5 */
    assert_string_equal(sm.rec[0].user, "user-000000");
    assert_int_equal(sm.rec[0].muted_until_ms, 0);
    assert_int_equal(sm.rec[0].banned_until_ms, now + 1000);
    assert_string_equal(sm.rec[0].ban_desc, "still banned");
    assert_string_equal(sm.rec[1].user, "user-000002");
    assert_int_equal(sm.rec[1].role, 1);
    assert_int_equal(sm.rec[1].banned_until_ms, 0);
    assert_string_equal(sm.rec[1].ban_desc, "");
    assert_string_equal(sm.rec[2].user, "user-000003");
    assert_int_equal(sm.rec[2].muted_until_ms, now + 1);
    assert_int_equal(sm.rec[2].banned_until_ms, 0);
    assert_string_equal(sm.rec[2].ban_desc, "");
    assert_string_equal(sm.rec[3].user, "user-000005");
    assert_int_equal(sm.rec[3].role, 1);
    for (int i = 0; i < 4; i++)
        assert_string_equal(sm.rec[i].room, "room-000001");
    /* room 2: nothing had expired, so every row is as put */
    for (size_t i = 0; i < LR_ARRAY_LEN(in); i++) {
        const lr_member_rec *r = &sm.rec[4 + i];
        assert_string_equal(r->room, "room-000002");
        assert_int_equal(r->muted_until_ms, in[i].mute ? in[i].mute + 100000 : 0);
        assert_int_equal(r->banned_until_ms, in[i].ban ? in[i].ban + 100000 : 0);
        assert_string_equal(r->ban_desc, in[i].desc);
    }
    /* no emptied row was left behind, whatever the store's reads show */
    assert_int_equal(raw_int(f->dir,
                             "SELECT COUNT(*) FROM members WHERE role = 0 AND muted_until = 0 "
                             "AND banned_until = 0"),
                     0);

    /* a later sweep finishes room 2 once its times pass */
    assert_int_equal(lr_store_sweep_expired(s, now + 200000, count_done, &c), 0);
    lr_store_sync(s);
    members_of(s, &sm);
    assert_int_equal(sm.n, 2 + 2); /* the two admins in each room */
    for (int i = 0; i < sm.n; i++) {
        assert_int_equal(sm.rec[i].role, 1);
        assert_int_equal(sm.rec[i].muted_until_ms + sm.rec[i].banned_until_ms, 0);
    }
    lr_store_close(s);
}

static void user_put_get_each_round_trip_every_field(void **state)
{
    fixture *f = *state;
    lr_store *s = open_store(f);
    counts c = {0};
    lr_user_rec big, u[3], got;
    memset(&big, 0, sizeof(big));
    memset(big.id, 'z', LR_MAX_USER_ID);
    memset(big.nick, 'n', LR_MAX_NICK);
    memcpy(big.nick, "\xe4\xb8\xbb\xe6\x92\xad", 6);
    memset(big.face_url, 'f', LR_MAX_AVATAR);
    assert_int_equal(lr_store_user_put(s, &big, count_done, &c), 0);
    for (int i = 0; i < 3; i++) {
        make_user(&u[i], i); /* user 0 has an empty nick */
        assert_int_equal(lr_store_user_put(s, &u[i], count_done, &c), 0);
    }
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok), 4);
    assert_int_equal(lr_store_user_get(s, big.id, &got), 0);
    assert_user_equal(&got, &big);
    assert_int_equal(lr_store_user_get(s, u[0].id, &got), 0);
    assert_user_equal(&got, &u[0]);

    /* account_import again replaces the profile */
    lr_user_rec changed;
    make_user(&changed, 7);
    memcpy(changed.id, u[1].id, sizeof(changed.id));
    assert_int_equal(lr_store_user_put(s, &changed, count_done, &c), 0);
    lr_store_sync(s);
    assert_int_equal(lr_store_user_get(s, u[1].id, &got), 0);
    assert_user_equal(&got, &changed);

    seen_users su = {0};
    assert_int_equal(lr_store_user_each(s, seen_user_cb, &su), 0);
    assert_int_equal(su.n, 4);
    assert_user_equal(&su.rec[0], &u[0]);
    assert_user_equal(&su.rec[1], &changed);
    assert_user_equal(&su.rec[2], &u[2]);
    assert_user_equal(&su.rec[3], &big); /* "zzz…" sorts last */

    assert_int_equal(lr_store_user_get(s, "nobody", &got), LR_ENOENT);
    assert_int_equal(lr_store_user_get(s, "", &got), LR_ENOENT);
    char longid[LR_MAX_USER_ID + 2];
    memset(longid, 'z', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_int_equal(lr_store_user_get(s, longid, &got), LR_ENOENT);

    /* profiles survive close and reopen */
    lr_store_close(s);
    s = open_store(f);
    assert_int_equal(lr_store_user_get(s, big.id, &got), 0);
    assert_user_equal(&got, &big);
    lr_store_close(s);
}

static void overlong_or_malformed_records_are_refused_without_callback(void **state)
{
    fixture *f = *state;
    lr_store *s = open_store(f);
    counts c = {0};
    put_room(s, 1);

    lr_member_rec m;
#define MEMBER_REFUSED(mutate)                                                                     \
    do {                                                                                           \
        make_member(&m, 1, 1);                                                                     \
        mutate;                                                                                    \
        assert_int_equal(lr_store_member_put(s, &m, count_done, &c), LR_EINVAL);                   \
    } while (0)
    MEMBER_REFUSED(m.room[0] = '\0');
    MEMBER_REFUSED(memset(m.room, 'r', sizeof(m.room)));
    MEMBER_REFUSED(m.user[0] = '\0');
    MEMBER_REFUSED(memset(m.user, 'u', sizeof(m.user)));
    MEMBER_REFUSED(m.role = 2);
    MEMBER_REFUSED(m.role = UINT8_MAX);
    MEMBER_REFUSED(m.muted_until_ms = -1);
    MEMBER_REFUSED(m.banned_until_ms = INT64_MIN);
    MEMBER_REFUSED(memset(m.ban_desc, 'd', sizeof(m.ban_desc)));
#undef MEMBER_REFUSED

    lr_user_rec u;
#define USER_REFUSED(mutate)                                                                       \
    do {                                                                                           \
        make_user(&u, 1);                                                                          \
        mutate;                                                                                    \
        assert_int_equal(lr_store_user_put(s, &u, count_done, &c), LR_EINVAL);                     \
    } while (0)
    USER_REFUSED(u.id[0] = '\0');
    USER_REFUSED(memset(u.id, 'i', sizeof(u.id)));
    USER_REFUSED(memset(u.nick, 'n', sizeof(u.nick)));
    USER_REFUSED(memset(u.face_url, 'f', sizeof(u.face_url)));
#undef USER_REFUSED

    assert_int_equal(lr_store_sweep_expired(s, -1, count_done, &c), LR_EINVAL);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok) + atomic_load(&c.eio) + atomic_load(&c.other), 0);
    assert_int_equal(member_rows(f), 0);
    assert_int_equal(raw_int(f->dir, "SELECT COUNT(*) FROM users"), 0);

    /* the same records at exactly their limits are accepted */
    make_member(&m, 1, 1);
    memset(m.user, 'u', LR_MAX_USER_ID);
    memset(m.ban_desc, 'd', LR_STORE_MAX_BAN_DESC);
    assert_int_equal(lr_store_member_put(s, &m, count_done, &c), 0);
    make_user(&u, 1);
    memset(u.id, 'i', LR_MAX_USER_ID);
    memset(u.nick, 'n', LR_MAX_NICK);
    memset(u.face_url, 'f', LR_MAX_AVATAR);
    assert_int_equal(lr_store_user_put(s, &u, count_done, &c), 0);
    assert_int_equal(lr_store_sweep_expired(s, 0, count_done, &c), 0);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok), 3);
    assert_int_equal(member_rows(f), 1);
    lr_store_close(s);
}

/* Migration 1 as it shipped, frozen here: the test must keep describing the
 * old database even if the store's copy were (wrongly) edited. */
static const char v1_schema[] = "CREATE TABLE rooms ("
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
                                ") WITHOUT ROWID;";

static void a_version_1_database_migrates_and_keeps_its_rooms(void **state)
{
    fixture *f = *state;
    lr_room_rec r[3], got;
    char sql[4096];
    raw_exec(f->dir, "PRAGMA journal_mode = WAL");
    raw_exec(f->dir, v1_schema);
    for (int i = 0; i < 3; i++) {
        make_rec(&r[i], i + 1);
        snprintf(sql, sizeof(sql),
                 "INSERT INTO rooms VALUES ('%s', '%s', '%s', '%s', '%s', '%s', '%s', %" PRId64
                 ", %d, %u, %d, %d, %d, %d)",
                 r[i].id, r[i].type, r[i].name, r[i].owner, r[i].intro, r[i].notification,
                 r[i].face_url, r[i].create_time, r[i].mute_all, r[i].rate, r[i].history,
                 r[i].allow_guests, r[i].member_events, r[i].report_limited);
        raw_exec(f->dir, sql);
    }
    raw_exec(f->dir, "PRAGMA user_version = 1");
    assert_int_equal(raw_int(f->dir, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'members'"),
                     0);

    lr_store *s = open_store(f);
    assert_int_equal(raw_user_version(f->dir), lr_store_sqlite_schema_version());
    assert_true(lr_store_sqlite_schema_version() >= 2);
    const char *const objects[] = {"members", "users", "members_mute_expiry", "members_ban_expiry",
                                   "members_meaningless"};
    for (size_t i = 0; i < LR_ARRAY_LEN(objects); i++) {
        snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM sqlite_master WHERE name = '%s'",
                 objects[i]);
        if (raw_int(f->dir, sql) != 1) fail_msg("%s missing after migration", objects[i]);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lr_store_room_get(s, r[i].id, &got), 0);
        assert_rec_equal(&got, &r[i]);
    }

    /* the new tables work against the old rooms, cascade included */
    counts c = {0};
    lr_member_rec m;
    make_member(&m, 2, 1);
    put_member(s, &m, &c);
    lr_user_rec u;
    make_user(&u, 1);
    assert_int_equal(lr_store_user_put(s, &u, count_done, &c), 0);
    lr_store_sync(s);
    assert_int_equal(member_rows(f), 1);
    assert_int_equal(lr_store_room_delete(s, r[1].id, count_done, &c), 0);
    lr_store_sync(s);
    assert_int_equal(atomic_load(&c.ok), 3);
    assert_int_equal(member_rows(f), 0);
    lr_user_rec got_user;
    assert_int_equal(lr_store_user_get(s, u.id, &got_user), 0);
    assert_user_equal(&got_user, &u);
    lr_store_close(s);

    /* reopening does not run migration 2 again */
    s = open_store(f);
    assert_int_equal(lr_store_room_get(s, r[0].id, &got), 0);
    lr_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(member_put_each_round_trip_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(a_member_with_no_role_mute_or_ban_deletes_its_row, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            a_member_put_for_a_missing_room_is_dropped_without_failing_its_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(deleting_a_room_deletes_its_members_and_only_those, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            sweep_clears_expired_mutes_and_bans_and_deletes_emptied_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(user_put_get_each_round_trip_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(overlong_or_malformed_records_are_refused_without_callback,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_version_1_database_migrates_and_keeps_its_rooms, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
