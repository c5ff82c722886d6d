/*
 * batch.c: the batching controller (see batch.h). One loopback send costs
 * ~7 us of CPU here whatever it carries, so a shard's fan-out cost is its
 * sends, and the delay it may hold frames decides how many go into each.
 * The controller has three regimes:
 *
 *  - 0: every frame goes out at once. A shard stays here while that costs
 *    it less than LR_HOT_CPU of a core: a room of 2,000 at 40 msg/s is
 *    fanned out frame by frame with ~10 ms latency.
 *  - base (fanout-delay-ms, 175 ms): a shard that is hot at 0 goes straight
 *    to base, not through small steps. A delay shorter than the gap
 *    between a room's frames batches nothing and only adds latency, and the
 *    figure of merit is frames per send: at 10,000 receivers of 40 msg/s a
 *    step to 175 ms puts 7 frames in every send. It returns to 0 when the
 *    cost without batching, estimated as CPU x deliveries per send, would
 *    be clearly below the hot mark (the gap between LR_UNBATCH_EST and
 *    LR_HOT_CPU keeps the two from alternating).
 *  - above base, up to fanout-max-delay-ms: a shard still hot at base (a
 *    room so large, or rooms so many, that even base cannot keep up)
 *    lengthens the delay by half each interval, and shortens it by a
 *    quarter, not below base, once the shorter delay's cost (CPU and load
 *    grow about as 1/delay) would still be clearly below the hot marks. A longer delay costs
 * latency but bounds it; falling behind lets it grow without end.
 *
 * "Hot" is more than LR_HOT_CPU of the shard's share of the cores (a
 * whole core when there are no more shards than cores), or almost never
 * waiting for events: a shard that other threads keep off the CPU (other shards, the
 * load generator on the same cores) uses little CPU time and still falls
 * behind. Leaving 0 reads the last two intervals or so, so that a large
 * room is batched within ~100 ms but one burst moves nothing. Every other
 * decision is taken once per block of five intervals (250 ms) on the
 * block's means, a block that saw a change being dropped: a room of
 * 4 msg/s makes all its members due at each frame, and its bursts must
 * read as the load they average to, not as a hot shard.
 */
#include "core/batch.h"

#define LR_HOT_CPU 0.6      /* of a core: batch more */
#define LR_HOT_LOAD 0.9     /* share of wall time not waiting: batch more */
#define LR_CALM_CPU 0.45    /* above base: CPU the shorter delay would cost below this ... */
#define LR_CALM_LOAD 0.7    /* ... and load below this ... */
#define LR_CALM_N 2         /* ... for this many blocks: shorten the delay */
#define LR_UNBATCH_EST 0.45 /* at base: estimated unbatched CPU below this ... */
#define LR_UNBATCH_LOAD 0.7 /* ... with load below this ... */
#define LR_COOL_N 4         /* ... for this many blocks (1 s): back to 0 */
#define LR_FAST 0.5         /* smoothing of the readings that leave 0 (about 2 intervals) */
#define LR_BLOCK_N 5        /* intervals averaged for every other decision (250 ms) */

void lr_batch_init(lr_batch *b, uint32_t base_ms, uint32_t max_ms, double share)
{
    *b = (lr_batch){0};
    lr_batch_share(b, share);
    b->max_ms = max_ms;
    b->base_ms = base_ms > max_ms ? max_ms : base_ms;
    if (b->base_ms == 0) b->base_ms = max_ms; /* a busy shard must batch somewhere */
    b->fps = 1;
}

void lr_batch_share(lr_batch *b, double share)
{
    b->share = share > 0 && share < 1 ? share : 1;
}

static uint32_t change(lr_batch *b, uint32_t d)
{
    b->calm = b->cool = 0;
    b->n = 0; /* a new block: the old one read the old delay */
    b->sum_cpu = b->sum_load = 0;
    b->sum_deliveries = b->sum_sends = 0;
    return b->delay_ms = d;
}

uint32_t lr_batch_sample(lr_batch *b, double cpu, double load, uint64_t deliveries, uint64_t sends)
{
    b->cpu_f += LR_FAST * (cpu - b->cpu_f);
    b->load_f += LR_FAST * (load - b->load_f);
    b->sum_cpu += cpu;
    b->sum_load += load;
    b->sum_deliveries += deliveries;
    b->sum_sends += sends;
    if (b->max_ms == 0) return b->delay_ms = 0;

    uint32_t d = b->delay_ms;
    if (d == 0) {
        /* a room too large to fan out frame by frame must not wait long */
        if (b->cpu_f > LR_HOT_CPU * b->share || b->load_f > LR_HOT_LOAD)
            return change(b, b->base_ms);
    }
    if (++b->n < LR_BLOCK_N) return d;
    b->cpu = b->sum_cpu / b->n;
    b->load = b->sum_load / b->n;
    if (b->sum_sends) b->fps = (double)b->sum_deliveries / (double)b->sum_sends;
    b->n = 0;
    b->sum_cpu = b->sum_load = 0;
    b->sum_deliveries = b->sum_sends = 0;
    if (d == 0) return 0;

    if (b->cpu > LR_HOT_CPU * b->share || b->load > LR_HOT_LOAD) {
        uint32_t up = d + d / 2;
        if (up > b->max_ms) up = b->max_ms;
        b->calm = b->cool = 0;
        return up == d ? d : change(b, up);
    }
    if (d > b->base_ms) {
        /* the cost goes about as 1/delay: would the shorter one stay calm? */
        uint32_t down = d - d / 4;
        if (down < b->base_ms) down = b->base_ms;
        double grow = (double)d / (double)down;
        if (b->cpu * grow < LR_CALM_CPU * b->share && b->load * grow < LR_CALM_LOAD) {
            if (++b->calm >= LR_CALM_N) return change(b, down);
        } else {
            b->calm = 0;
        }
        return d;
    }
    double fps = b->fps > 1 ? b->fps : 1;
    if (b->cpu * fps < LR_UNBATCH_EST * b->share && b->load < LR_UNBATCH_LOAD) {
        if (++b->cool >= LR_COOL_N) return change(b, 0);
    } else {
        b->cool = 0;
    }
    return d;
}
