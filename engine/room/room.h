/*
 * room.h: rooms in their two shapes. On its home shard a room (lr_room) is
 * authoritative: seq, frequency control, history, the online users and the
 * latest-joiner order, per-shard member counts, profile and config. On
 * every shard that holds members, a replica (lr_lroom) keeps the members'
 * list and a bounded ring of recent frames that the members' cursors walk.
 * Frames (lr_frame) are encoded once per wire format by the home shard and
 * shared, immutable and refcounted once per shard, by all replicas.
 */
#ifndef LR_ROOM_ROOM_H
#define LR_ROOM_ROOM_H

#include <stdatomic.h>

#include "core/list.h"
#include "core/shard.h"
#include "room/freq.h"
#include "room/imsg.h"
#include "store/store.h"

enum { LR_FRAME_MSG = 0, LR_FRAME_COUNT, LR_FRAME_EVENT, LR_FRAME_BROADCAST };

struct lr_frame {
    _Atomic uint32_t refs;
    uint8_t kind;
    uint8_t pri;
    uint16_t src_shard;         /* the sending connection, skipped by fan-out */
    uint32_t src_slot, src_gen; /* src_gen 0: nobody is skipped */
    uint64_t seq;
    int64_t time_ms;
    char room[LR_MAX_ROOM_ID + 1];
    uint32_t off[LR_FMT_COUNT], len[LR_FMT_COUNT]; /* framed bytes per format */
    uint32_t poff[2], plen[2];                     /* payload: JSON, msgpack */
    uint8_t data[];
};

typedef void (*lr_frame_encode_fn)(lr_enc *e, void *ctx);
/* Encode a push in every format with fn (called once for JSON into sj,
 * once for msgpack into sm; both are scratch) into one allocation; refs
 * starts at 1. NULL on ENOMEM. */
lr_frame *lr_frame_build(lr_buf *sj, lr_buf *sm, lr_frame_encode_fn fn, void *ctx);
void lr_frame_ref(lr_frame *f, uint32_t n);
void lr_frame_unref(lr_frame *f);

/* A connection's membership in a replica. */
typedef struct lr_member {
    lr_conn *conn;
    struct lr_lroom *room;
    struct lr_member *prev, *next; /* replica's member list */
    struct lr_member *conn_next;   /* connection's memberships */
    uint64_t cursor;               /* next frame index to send */
} lr_member;

#define LR_LROOM_MIN_RING 8 /* slots of a replica's ring when it holds few frames */

typedef struct lr_lroom {
    lr_map_node node;
    char id[LR_MAX_ROOM_ID + 1];
    lr_member *members;
    uint32_t nmembers;
    uint32_t cap;
    uint64_t head, tail; /* frames [tail, head) are in ring */
    lr_frame **ring;
    uint32_t *at; /* when each frame of ring arrived (shard ms, low bits); same block */
    uint64_t last_frame_ms;
    uint32_t gap16; /* smoothed gap between its frames, 1/16 ms (room/pace.h) */
    uint16_t k;     /* frames per send its members take, and the votes to change it */
    uint8_t k_votes;
    bool queued;
    struct lr_lroom *flush_next;
    lr_dlist hold_node;   /* on the shard's hold wheel while members keep frames */
    uint64_t hold_due_ms; /* when the oldest kept frame reaches the delay */
} lr_lroom;

/* An online user of a room, on the room's home shard. */
typedef struct lr_ouser {
    lr_map_node node;
    lr_dlist order; /* newest join first */
    uint32_t nconns;
    int64_t join_ms;
    char id[]; /* "id\0nick\0avatar\0" */
} lr_ouser;

static inline const char *lr_ouser_nick(const lr_ouser *u)
{
    return u->id + u->node.klen + 1;
}
static inline const char *lr_ouser_avatar(const lr_ouser *u)
{
    const char *n = lr_ouser_nick(u);
    return n + strlen(n) + 1;
}

/* What the room remembers about a user beyond presence: role, mute, ban
 * (mirrors lr_member_rec in the store). */
typedef struct lr_rmod {
    lr_map_node node;
    uint8_t role; /* LR_STORE_ROLE_* */
    int64_t muted_until_ms;
    int64_t banned_until_ms;
    char id[LR_MAX_USER_ID + 1];
} lr_rmod;

typedef struct lr_room {
    lr_map_node node;
    lr_shard *sh;
    lr_room_rec rec;
    uint64_t seq;
    lr_freq freq;
    lr_timer freq_timer;
    lr_frame *hist[LR_MAX_HISTORY];
    uint32_t hist_start, hist_n;
    lr_map users;
    lr_dlist order;
    uint32_t count; /* distinct online users */
    uint32_t conns;
    uint32_t *shard_conns; /* connections per shard */
    uint32_t last_count;
    uint64_t last_count_ms;
    lr_timer count_timer;
    lr_map mods; /* lr_rmod by user */
} lr_room;

/* A profile imported with account_import, on the user's home shard. */
typedef struct lr_profile {
    lr_map_node node;
    char id[LR_MAX_USER_ID + 1];
    char nick[LR_MAX_NICK + 1];
    char avatar[LR_MAX_AVATAR + 1];
} lr_profile;

/* A user on its home shard: connections (device limit) and send times. */
typedef struct lr_user_conn {
    lr_conn_ref ref;
    uint32_t login_ms; /* low bits of the shard clock: compared wrap-safe */
} lr_user_conn;

/* One allocation, sized to the id: the struct, the id, then the
 * connections (one device is the common case, so a user is one small block:
 * 64 bytes for an id of up to 15 characters). */
typedef struct lr_user {
    lr_map_node node;
    uint16_t nconns, cap;
    uint32_t sends_head;
    uint64_t *sends; /* ring of the last user_rate send times (ms), on first send */
    char id[];       /* then, 8-aligned, lr_user_conn conns[cap] */
} lr_user;

static inline size_t lr_user_conns_off(size_t idlen)
{
    return (offsetof(lr_user, id) + idlen + 1 + 3) & ~(size_t)3;
}
static inline lr_user_conn *lr_user_conns(lr_user *u)
{
    return (lr_user_conn *)((char *)u + lr_user_conns_off(u->node.klen));
}

/* Home shard: handlers (room.c, user.c). */
void lr_room_on_join(lr_shard *sh, lr_imsg *m);
void lr_room_on_leave(lr_shard *sh, lr_imsg *m);
/* A member's nick or avatar changed (an imported profile came after its
 * join): the member list shows the new ones. */
void lr_room_on_identity(lr_shard *sh, lr_imsg *m);
void lr_room_on_send(lr_shard *sh, lr_imsg *m);
void lr_room_on_query(lr_shard *sh, lr_imsg *m);
void lr_user_on_login(lr_shard *sh, lr_imsg *m);
void lr_user_on_logout(lr_shard *sh, lr_imsg *m);
/* Install a room read from the store on its home shard (start-up). */
int lr_room_boot(lr_shard *sh, const lr_room_rec *rec);
int lr_room_boot_member(lr_shard *sh, const lr_member_rec *rec);
/* Moderation and admin commands on the room's home shard (room_admin.c). */
void lr_room_on_mod(lr_shard *sh, lr_imsg *m);
void lr_room_on_admin(lr_shard *sh, lr_imsg *m);
/* Admin commands about a user, on the user's home shard (user.c). */
void lr_user_on_admin(lr_shard *sh, lr_imsg *m);
int lr_user_boot_profile(lr_shard *sh, const lr_user_rec *rec);
void lr_user_free_profiles(lr_shard *sh);
/* State.StateChange callback for a user's login or disconnect. */
void lr_hook_user_state(lr_shard *sh, const char *user, bool login);
void lr_room_free_all(lr_shard *sh);
/* Forget expired mutes and bans (memory and store); run every minute. */
void lr_room_sweep_expired(lr_shard *sh);
void lr_user_free_all(lr_shard *sh);

/* Member shard: handlers and fan-out (fanout.c). */
void lr_fanout_on_join_ack(lr_shard *sh, lr_imsg *m);
void lr_fanout_on_frame(lr_shard *sh, lr_imsg *m);
void lr_fanout_on_reply(lr_shard *sh, lr_imsg *m);
void lr_fanout_on_kick(lr_shard *sh, lr_imsg *m);
void lr_fanout_on_room_kick(lr_shard *sh, lr_imsg *m);
void lr_fanout_on_broadcast(lr_shard *sh, lr_imsg *m);
void lr_fanout_on_profile(lr_shard *sh, lr_imsg *m);
/* Leave every room (connection closing): leaves reach the home shards. */
void lr_fanout_detach(lr_shard *sh, lr_conn *c);
/* Leave one room; false when the connection was not in it. */
bool lr_fanout_leave(lr_shard *sh, lr_conn *c, const char *room, size_t len);
bool lr_fanout_is_member(lr_conn *c, const char *room, size_t len);
/* Append the connection's pending frames to out (bounded by send_max);
 * returns deliveries added. */
uint32_t lr_fanout_fill(lr_shard *sh, lr_conn *c, lr_buf *out);
/* Flush replicas queued this turn: their lagging members are due. */
void lr_fanout_flush(lr_shard *sh);
/* The shard's hold tick: replicas whose kept frames reach the delay send
 * them without waiting for another frame. Returns when to tick again (0:
 * nothing kept anywhere). */
uint64_t lr_fanout_hold_tick(lr_shard *sh);
/* Once a second: release frames every member has passed. */
void lr_fanout_sweep(lr_shard *sh);
void lr_fanout_free_all(lr_shard *sh);

#endif
