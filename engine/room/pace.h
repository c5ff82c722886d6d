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
 * frame is expected (the room slowed down, or k changed). No state, no
 * clock, no I/O.
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

/* The hold tick's period, and how early it sends a kept frame: a
 * sixteenth of the delay (pace_overdue). */
static inline uint64_t lr_pace_slack(uint32_t delay_ms)
{
    return delay_ms / 16;
}

/* Whether k frames per send fit the delay with a margin (1/16 ms units):
 * the oldest waits (k - 1) gaps, and a frame a little late must still come
 * before the hold tick sends its members without it. */
static inline bool lr_pace_fits(uint64_t k, uint32_t delay_ms, uint32_t gap16, uint64_t margin16)
{
    return (k - 1) * gap16 + margin16 <= 16 * (uint64_t)delay_ms;
}

/* Frames per send when frames may wait delay_ms and come every gap16 / 16
 * ms; 1 means every frame goes to every member at once. Planned with a
 * margin of a quarter gap or twice the slack, whichever is more (at
 * 40 msg/s and 175 ms: 7 frames, the oldest 150 ms old; at 4 msg/s and
 * 1,000 ms: 4, the oldest 750 ms old). */
static inline uint32_t lr_pace_k(uint32_t delay_ms, uint32_t gap16)
{
    if (delay_ms == 0) return 1;
    uint64_t d16 = 16 * (uint64_t)delay_ms, margin = gap16 / 4;
    if (margin < 32 * lr_pace_slack(delay_ms)) margin = 32 * lr_pace_slack(delay_ms);
    if (d16 <= margin) return 1;
    uint64_t k = gap16 ? (d16 - margin) / gap16 + 1 : LR_PACE_K_MAX;
    return k > LR_PACE_K_MAX ? LR_PACE_K_MAX : (uint32_t)k;
}

/* Consecutive frames that must ask for a larger k before it grows. */
#define LR_PACE_VOTES 8

/* The replica's k after a frame: `want` is lr_pace_k of the frame. A
 * smoothed gap still jitters by a few per cent, and every change of k
 * moves members to other phases (some go twice), so k grows only after
 * LR_PACE_VOTES frames in a row asked for more (votes counts them), and
 * shrinks only when it no longer fits with half the planning margin (an
 * eighth of a gap, or the slack): the band between keeps it still. An
 * unbatched replica (k 1) takes `want` at once. */
static inline uint32_t lr_pace_k_next(uint32_t k, uint32_t want, uint8_t *votes, uint32_t delay_ms,
                                      uint32_t gap16)
{
    uint64_t half = gap16 / 8;
    if (half < 16 * lr_pace_slack(delay_ms)) half = 16 * lr_pace_slack(delay_ms);
    if (k <= 1 || want == 0 || !lr_pace_fits(k, delay_ms, gap16, half)) {
        *votes = 0;
        return want;
    }
    if (want <= k) {
        *votes = 0;
        return k;
    }
    if (++*votes < LR_PACE_VOTES) return k;
    *votes = 0;
    return want;
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

/* Whether a member whose oldest frame is age_ms old goes with the frame
 * that just arrived: its phase's turn, or the next frame, expected a gap
 * from now, would come after the delay (the room slowed down, or k just
 * changed and its phase moved away). */
static inline bool lr_pace_due(uint32_t phase, uint32_t turn, uint64_t age_ms, uint32_t gap16,
                               uint32_t delay_ms)
{
    return phase == turn || 16 * age_ms + gap16 > 16 * (uint64_t)delay_ms;
}

/* Whether a member whose oldest frame is age_ms old goes when the hold
 * tick finds its replica due: frames stopped coming, and those it keeps
 * reach the delay within a slack, so one tick takes a room's stragglers
 * together and none waits past the delay. */
static inline bool lr_pace_overdue(uint64_t age_ms, uint32_t delay_ms)
{
    return age_ms + lr_pace_slack(delay_ms) >= delay_ms;
}

#endif
