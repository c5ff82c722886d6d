/*
 * pace.h: when a room's frames leave for each member of a replica (the
 * arithmetic of room/fanout.c's dispatch, kept apart so that a model of a
 * room can test it). A shard may hold a frame for its batching delay D.
 * Sends go right after a frame arrives, so that the newest frame of a send
 * waits for nothing: with frames every g ms a member can take k of them
 * per send, k - 1 gaps fitting in D, the oldest waiting (k - 1) g. Members take
 * their turns by phase, one k-th of them at each frame, so a room's sends
 * spread over its frames instead of leaving in one burst every k frames.
 * A member also goes when its oldest frame would pass D before the next
 * frame is expected (the room slowed down), or when it holds k frames
 * already (k shrank). No state, no clock, no I/O.
 */
#ifndef LR_ROOM_PACE_H
#define LR_ROOM_PACE_H

#include <stdbool.h>
#include <stdint.h>

/* A longer silence counts as this in a room's smoothed frame gap. */
#define LR_PACE_GAP_MAX_MS 2000
/* The most frames per send the phases plan for; send-max bounds a send's
 * bytes anyway. */
#define LR_PACE_K_MAX 1024

/* The room's gap between frames, in 1/16 ms, after a gap of dt_ms, while
 * its members take k frames per send: smoothed (a quarter of the new gap)
 * while it is batched; while it is not (k 1: a quiet room, or a shard that
 * does not batch) the last gap as it is, so that the second frame after a
 * silence already batches the rest of a burst instead of the first dozen
 * going to every member one by one. */
static inline uint32_t lr_pace_gap(uint32_t gap16, uint64_t dt_ms, uint32_t k)
{
    if (dt_ms > LR_PACE_GAP_MAX_MS) dt_ms = LR_PACE_GAP_MAX_MS;
    if (k <= 1) return (uint32_t)(16 * dt_ms);
    return (uint32_t)((3 * (uint64_t)gap16 + 16 * dt_ms) / 4);
}

/* Frames per send when frames may wait delay_ms and come every gap16 / 16
 * ms; 1 means every frame goes to every member at once. The oldest frame
 * of a send waits (k - 1) gaps, planned a quarter gap short of the delay
 * so that a frame a little late still comes before the hold timer sends
 * without it (at 40 msg/s and 175 ms: 7 frames, the oldest 150 ms old). */
static inline uint32_t lr_pace_k(uint32_t delay_ms, uint32_t gap16)
{
    if (delay_ms == 0) return 1;
    uint64_t d16 = 16 * (uint64_t)delay_ms, margin = gap16 / 4;
    if (d16 <= margin) return 1;
    uint64_t k = gap16 ? (d16 - margin) / gap16 + 1 : LR_PACE_K_MAX;
    return k > LR_PACE_K_MAX ? LR_PACE_K_MAX : (uint32_t)k;
}

/* Consecutive frames that must ask for another k before it changes. */
#define LR_PACE_VOTES 8

/* The replica's k after a frame: `want` is lr_pace_k of the frame. A
 * smoothed gap still jitters by a few per cent, and every change of k
 * moves members to other phases (some go twice), so a batched k follows
 * `want` only after LR_PACE_VOTES frames in a row asked for more (or for
 * less); votes counts them, up positive, down negative. It shrinks at once
 * when its oldest frame would wait longer than the delay, and an unbatched
 * one (k 1) takes `want` at once. */
static inline uint32_t lr_pace_k_next(uint32_t k, uint32_t want, int8_t *votes, uint32_t delay_ms,
                                      uint32_t gap16)
{
    if (k <= 1 || (uint64_t)(k - 1) * gap16 > 16 * (uint64_t)delay_ms) {
        *votes = 0;
        return want;
    }
    if (want == k) {
        *votes = 0;
        return k;
    }
    int8_t v = *votes;
    v = want > k ? (v > 0 ? v + 1 : 1) : (v < 0 ? v - 1 : -1);
    if (v >= LR_PACE_VOTES || v <= -LR_PACE_VOTES) {
        *votes = 0;
        return want;
    }
    *votes = v;
    return k;
}

/* A member's phase in [0, k), from a key that stays the same for the
 * member's life (its address): spread evenly whatever k is. */
static inline uint32_t lr_pace_phase(uint64_t key, uint32_t k)
{
    uint32_t h = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32);
    return (uint32_t)(((uint64_t)h * k) >> 32);
}

/* The phase whose turn it is at the frame of index h. */
static inline uint32_t lr_pace_turn(uint64_t h, uint32_t k)
{
    return (uint32_t)((k - h % k) % k);
}

/* Whether a member with `pending` frames (pending > 0), the oldest of them
 * age_ms old, goes with the frame that just arrived. */
static inline bool lr_pace_due(uint32_t phase, uint32_t turn, uint64_t pending, uint32_t k,
                               uint64_t age_ms, uint32_t gap16, uint32_t delay_ms)
{
    return phase == turn || pending >= k || 16 * age_ms + gap16 > 16 * (uint64_t)delay_ms;
}

/* Whether a member whose oldest frame is age_ms old goes when the
 * replica's hold timer fires: frames stopped coming, and those it holds
 * reach the delay. Those within an eighth of it go too, so one firing
 * takes a room's stragglers together. */
static inline bool lr_pace_overdue(uint64_t age_ms, uint32_t delay_ms)
{
    return age_ms + delay_ms / 8 >= delay_ms;
}

#endif
