/*
 * freq.c owns one room's frequency control (PROTOCOL.md §6): the token
 * bucket, the window mode and the bounded set of held messages. It is pure
 * logic: the clock and the random seed come from the caller, so the same
 * inputs always give the same decisions and the rules can be tested as
 * properties. It never reads a clock, never delivers or frees a message (it
 * only hands pointers back) and never allocates outside init/configure/close.
 *
 * Tokens are kept as whole milli-tokens while computing: the clock has
 * millisecond resolution and the rate is a whole number, so a millisecond
 * refills exactly `rate` milli-tokens. A binary fraction would drift over
 * days and turn a budget of 1.0 into 0.999..., losing a message per window
 * or, worse, granting one too many. f->tokens stores the same value divided
 * by 1000, which round-trips exactly.
 *
 * The held set is a max-heap on key (worst message at the root), so an offer
 * compares against the worst in O(1) and replaces it in O(log budget); the
 * close sorts the heap in place (heapsort), needing no extra memory.
 */
#include "room/freq.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

#define MILLI 1000u /* milli-tokens per token */
#define RANDOM_BITS 56

static bool settings_valid(uint32_t rate, uint32_t window_ms)
{
    return rate >= 1 && rate <= LR_FREQ_MAX_RATE && window_ms >= 1 &&
           window_ms <= LR_FREQ_MAX_WINDOW_MS;
}

/*
 * A window starts only when the bucket holds less than one token, so its
 * budget is below 1 + rate x window: ceil of that product suffices, and the
 * extra slot keeps the bound obvious.
 */
static uint32_t cap_for(uint32_t rate, uint32_t window_ms)
{
    return (uint32_t)(((uint64_t)rate * window_ms + 999u) / 1000u) + 1u;
}

static uint64_t units_get(const lr_freq *f)
{
    return (uint64_t)llround(f->tokens * MILLI);
}

static void units_set(lr_freq *f, uint64_t units)
{
    f->tokens = (double)units / MILLI;
}

/* Tokens at now_ms; a clock that steps back refills nothing. */
static uint64_t refill(lr_freq *f, uint64_t now_ms)
{
    uint64_t units = units_get(f);
    uint64_t full = (uint64_t)f->rate * MILLI;
    if (now_ms > f->last_ms) {
        uint64_t dt = now_ms - f->last_ms;
        /* Capping dt first keeps the product far from overflow after a
         * long idle time; a full bucket takes exactly one second. */
        if (dt > 1000) dt = 1000;
        units += (uint64_t)f->rate * dt;
        f->last_ms = now_ms;
    }
    if (units > full) units = full;
    units_set(f, units);
    return units;
}

/*
 * Whole tokens the bucket will hold at window_end given `units` now: nothing
 * is consumed during a window, so this is exactly what can pass at its end.
 */
static uint32_t budget_at_end(const lr_freq *f, uint64_t units, uint64_t now_ms)
{
    uint64_t full = (uint64_t)f->rate * MILLI;
    uint64_t span = f->window_end > now_ms ? f->window_end - now_ms : 0;
    if (span > 1000) span = 1000;
    uint64_t at_end = units + (uint64_t)f->rate * span;
    if (at_end > full) at_end = full;
    uint64_t budget = at_end / MILLI;
    assert(budget < f->cap);
    return budget < f->cap ? (uint32_t)budget : f->cap;
}

static int realloc_held(lr_freq *f, uint32_t cap)
{
    assert(cap >= f->nheld);
    lr_freq_item *p = realloc(f->held, (size_t)cap * sizeof(*p));
    if (!p) return LR_ENOMEM;
    f->held = p;
    f->cap = cap;
    return LR_OK;
}

int lr_freq_init(lr_freq *f, uint32_t rate, uint32_t window_ms, uint64_t seed, uint64_t now_ms)
{
    memset(f, 0, sizeof(*f));
    if (!settings_valid(rate, window_ms)) return LR_EINVAL;
    f->rate = rate;
    f->window_ms = window_ms;
    /* A new room may burst one second's worth at once; rule 1 allows it. */
    units_set(f, (uint64_t)rate * MILLI);
    f->last_ms = now_ms;
    f->rng = seed;
    if (realloc_held(f, cap_for(rate, window_ms)) != LR_OK) return LR_ENOMEM;
    return LR_OK;
}

void lr_freq_free(lr_freq *f)
{
    free(f->held);
    memset(f, 0, sizeof(*f));
}

/* Switch to new settings with no window open: nothing held, so nothing lost. */
static void apply_settings(lr_freq *f, uint32_t rate, uint32_t window_ms, uint64_t units)
{
    assert(f->nheld == 0);
    f->rate = rate;
    f->window_ms = window_ms;
    f->next_rate = 0;
    f->next_window_ms = 0;
    uint64_t full = (uint64_t)rate * MILLI;
    units_set(f, units < full ? units : full);
    uint32_t cap = cap_for(rate, window_ms);
    /* Shrinking cannot be needed for correctness; if it fails the larger
     * array simply stays. */
    if (cap < f->cap) (void)realloc_held(f, cap);
}

int lr_freq_configure(lr_freq *f, uint32_t rate, uint32_t window_ms, uint64_t now_ms)
{
    if (!settings_valid(rate, window_ms)) return LR_EINVAL;
    uint32_t cap = cap_for(rate, window_ms);
    if (cap > f->cap && realloc_held(f, cap) != LR_OK) return LR_ENOMEM;
    uint64_t units = refill(f, now_ms);
    if (f->in_window) {
        f->next_rate = rate;
        f->next_window_ms = window_ms;
        return LR_OK;
    }
    apply_settings(f, rate, window_ms, units);
    return LR_OK;
}

uint64_t lr_freq_deadline(const lr_freq *f)
{
    return f->in_window ? f->window_end : 0;
}

static void sift_down(lr_freq_item *h, uint32_t n, uint32_t i)
{
    lr_freq_item x = h[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h[c + 1].key > h[c].key) c++;
        if (h[c].key <= x.key) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void sift_up(lr_freq_item *h, uint32_t i)
{
    lr_freq_item x = h[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (h[p].key >= x.key) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

int lr_freq_offer(lr_freq *f, uint64_t now_ms, lr_pri pri, void *msg, void **evicted)
{
    assert(evicted);
    *evicted = NULL;
    /* The caller must close a due window first. If it did not, the message
     * still joins the open window: closing here would lose the output. */
    assert(!f->in_window || now_ms < f->window_end);
    assert((unsigned)pri < LR_PRI_COUNT);
    if ((unsigned)pri >= LR_PRI_COUNT) pri = LR_PRI_LOWEST;

    uint64_t units = refill(f, now_ms);
    if (!f->in_window) {
        if (units >= MILLI) {
            units_set(f, units - MILLI);
            return LR_FREQ_PASS;
        }
        f->in_window = true;
        f->window_end = now_ms + f->window_ms;
        f->budget = budget_at_end(f, units, now_ms);
        assert(f->nheld == 0);
    }
    if (f->budget == 0) return LR_FREQ_DROP;

    uint64_t key = ((uint64_t)pri << RANDOM_BITS) | (lr_rand_next(&f->rng) >> (64 - RANDOM_BITS));
    if (f->nheld < f->budget) {
        f->held[f->nheld] = (lr_freq_item){msg, key};
        sift_up(f->held, f->nheld);
        f->nheld++;
        return LR_FREQ_HELD;
    }
    if (key >= f->held[0].key) return LR_FREQ_DROP;
    *evicted = f->held[0].msg;
    f->held[0] = (lr_freq_item){msg, key};
    sift_down(f->held, f->nheld, 0);
    return LR_FREQ_HELD;
}

size_t lr_freq_close_window(lr_freq *f, uint64_t now_ms, void **out)
{
    if (!f->in_window || now_ms < f->window_end) return 0;
    uint64_t units = refill(f, now_ms);
    uint32_t n = f->nheld;
    assert(n <= f->budget && (uint64_t)n * MILLI <= units);

    /* Heapsort: popping the worst to the back leaves the best in front. */
    for (uint32_t end = n; end > 1; end--) {
        lr_freq_item worst = f->held[0];
        f->held[0] = f->held[end - 1];
        f->held[end - 1] = worst;
        sift_down(f->held, end - 1, 0);
    }
    for (uint32_t i = 0; i < n; i++)
        out[i] = f->held[i].msg;
    f->nheld = 0;
    units = (uint64_t)n * MILLI <= units ? units - (uint64_t)n * MILLI : 0;

    uint64_t ended = f->window_end;
    if (f->next_rate)
        apply_settings(f, f->next_rate, f->next_window_ms, units);
    else
        units_set(f, units);
    units = units_get(f);

    if (units >= MILLI) {
        f->in_window = false;
        f->window_end = 0;
        f->budget = 0;
        return n;
    }
    /* Back to back, unless the caller came so late that a whole window has
     * gone by since: that window could hold nothing (offers must close
     * first), so start afresh now instead of replaying empty windows. */
    uint64_t start = now_ms >= ended + f->window_ms ? now_ms : ended;
    f->window_end = start + f->window_ms;
    f->budget = budget_at_end(f, units, now_ms);
    return n;
}
