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

#endif
