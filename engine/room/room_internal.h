/*
 * room_internal.h: what room.c shares with room_admin.c on a room's home
 * shard. Not for other concerns: they talk to rooms through lr_imsg.
 */
#ifndef LR_ROOM_INTERNAL_H
#define LR_ROOM_INTERNAL_H

#include "room/room.h"

lr_room *lr_room_find(lr_shard *sh, const char *id);
lr_room *lr_room_create(lr_shard *sh, const lr_room_rec *rec);
void lr_room_destroy(lr_shard *sh, lr_room *r);
void lr_room_fan_out(lr_shard *sh, lr_room *r, lr_frame *f, bool keep_in_history);
lr_rmod *lr_room_mod(lr_room *r, const char *user, bool create);
/* Role of a user in a room: 2 owner, 1 admin, 0 member (app admins: 1). */
int lr_room_role(lr_shard *sh, lr_room *r, const char *user);
/* Offer a message to frequency control and deliver it (room.c). */
void lr_room_offer(lr_shard *sh, lr_room *r, lr_im_send *m);
/* Configure frequency control after a config change. */
void lr_room_reconfigure(lr_shard *sh, lr_room *r);
bool lr_is_app_admin(const lr_shard *sh, const char *user);

/* Callbacks (room_hooks.c). lr_room_before_send returns true when the
 * message went to the before-send callback: it comes back later with
 * m->hooked set and m->verdict. */
bool lr_room_before_send(lr_shard *sh, lr_room *r, lr_im_send *m);
void lr_room_after_send(lr_shard *sh, lr_room *r, const lr_im_send *m, uint64_t seq,
                        int64_t time_ms);
void lr_room_hook_member(lr_shard *sh, lr_room *r, const char *user, bool joined, bool kicked);
void lr_room_hook_group(lr_shard *sh, lr_room *r, bool created);
/* Member events (join/leave) for rooms that enable them (room_admin.c). */
void lr_room_member_event(lr_shard *sh, lr_room *r, const char *user, bool joined);

#endif
