/*
 * freqcheck.c owns the overload scenario's verdict on PROTOCOL.md §6: it
 * turns the acks the publishers read and the (seq, time) pairs one
 * receiver read into the rules a client can verify from outside: the
 * interval bound (rule 1), the per-window priority order (rule 3), full
 * delivery of priorities within the rate (rule 4) and "limited means not
 * delivered" (rule 5). It also builds the priority pattern publishers send.
 *
 * Windows are not visible on the wire, so rule 3 reconstructs them: the
 * messages passed at one window's close carry the same engine `time`. A
 * drop happens while its window is open (frequency control keeps only the
 * best of a window and drops the rest as they come), so it belongs to the
 * first close after it. When the acks carry the engine's `time` of the
 * decision and `held` for passes that waited for a close (liveroom's do),
 * that is read off the engine's clock: a drop stamped within a millisecond
 * of a close is called ambiguous and left out, and a message that passed
 * at once right after a close (the window ended with a token to spare) is
 * not taken for one of the close's. Otherwise the bench's own arrival times are all there is: a
 * drop belongs to the first close the bench saw after its ack, and since acks of different
 * connections travel different paths (a loaded machine delays one shard's acks more than
 * another's), a drop whose ack arrived closer to a close than the worst spread observed within any
 * single close is ambiguous. It must never report a violation the engine did not commit because of
 * that uncertainty. No I/O, no clock, no global state.
 */
#include "freqcheck.h"

#include <stdlib.h>
#include <string.h>

/* Two passes further apart than this (engine ms) belong to different window
 * closes; as a share of the window length. */
#define CLOSE_GAP_DIV 2
/* Passes of one close are stamped within this many ms of each other (the
 * engine delivers them in one loop; the clock may tick once meanwhile). */
#define CLOSE_SPAN_MS 2
/* Budgets below this per window leave windows that pass nothing, and the
 * attribution to "the next close" would then be wrong: rule 3 is not
 * checked. In messages x 1000 (rate x window_ms). */
#define MIN_BUDGET_MILLI 2000

static int cmp_ack(const void *a, const void *b)
{
    const bench_ack_ev *x = a, *y = b;
    return x->at_us < y->at_us ? -1 : x->at_us > y->at_us;
}

static int cmp_seq(const void *a, const void *b)
{
    const bench_seq_time *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

uint32_t bench_mix_pattern(const uint32_t w[LR_PRI_COUNT], uint8_t *out, uint32_t cap)
{
    uint64_t total = 0;
    for (int p = 0; p < LR_PRI_COUNT; p++)
        total += w[p];
    if (total == 0 || total > cap) return 0;
    int64_t credit[LR_PRI_COUNT] = {0};
    for (uint32_t n = 0; n < total; n++) {
        int best = -1;
        for (int p = 0; p < LR_PRI_COUNT; p++) {
            credit[p] += w[p];
            if (w[p] && (best < 0 || credit[p] > credit[best])) best = p;
        }
        credit[best] -= (int64_t)total;
        out[n] = (uint8_t)best;
    }
    return (uint32_t)total;
}

/* rule 1 over the receiver's log, sorted by seq */
static void check_rule1(const bench_freq_in *in, const bench_seq_time *st, size_t nst,
                        bench_freq_out *o)
{
    double rate = in->room_rate;
    o->passed_seen = nst;
    o->worst_excess = -rate;
    o->rule1_ok = true;
    if (nst == 0) return;
    /* the engine's wall clock may step back a little; never let time run
     * backwards within the log */
    int64_t t0 = st[0].time_ms;
    size_t lo = 0, far = 0;
    double min_g = 0;
    bool have_g = false;
    int64_t prev = t0;
    for (size_t j = 0; j < nst; j++) {
        int64_t tj = st[j].time_ms > prev ? st[j].time_ms : prev;
        prev = tj;
        /* intervals up to 1 s: the bound is 2 x rate */
        while (lo < j) {
            int64_t tl = st[lo].time_ms > t0 ? st[lo].time_ms : t0;
            if (tj - tl <= 1000) break;
            lo++;
        }
        uint64_t n = j - lo + 1;
        if (n > o->max_in_1s) o->max_in_1s = n;
        double e = (double)n - 2.0 * rate;
        if (e > o->worst_excess) o->worst_excess = e;
        /* longer intervals: n - rate x T - rate = f(j) - g(i) - rate, with
         * f(j) = j - rate t_j and g(i) = i - 1 - rate t_i (t in s) */
        while (far < j) {
            int64_t tf = st[far].time_ms > t0 ? st[far].time_ms : t0;
            if (tj - tf <= 1000) break;
            double g = (double)far - 1.0 - rate * (double)(tf - t0) / 1000.0;
            if (!have_g || g < min_g) min_g = g;
            have_g = true;
            far++;
        }
        if (have_g) {
            double f = (double)j - rate * (double)(tj - t0) / 1000.0;
            e = f - min_g - rate;
            if (e > o->worst_excess) o->worst_excess = e;
        }
    }
    /* stamps are whole ms: allow the one message that rounding can add */
    o->rule1_ok = o->worst_excess <= 1.0;
}

typedef struct cluster {
    uint64_t seq_lo, seq_hi;
    int64_t t_lo, t_hi;
    uint64_t amin, amax;   /* ack arrivals of its passes */
    uint32_t npass, nheld; /* passes; those that waited for this close */
    int worst_pass;        /* highest lr_pri value passed at the close; -1 none */
    int best_drop;         /* lowest lr_pri value dropped and attributed; -1 none */
} cluster;

typedef struct seen_close {
    uint64_t amin, prefix_max;
    size_t k;
} seen_close;

static int cmp_seen(const void *a, const void *b)
{
    const seen_close *x = a, *y = b;
    return x->amin < y->amin ? -1 : x->amin > y->amin;
}

static size_t cluster_of_seq(const cluster *c, size_t n, uint64_t seq)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c[mid].seq_hi < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && c[lo].seq_lo <= seq && seq <= c[lo].seq_hi ? lo : n;
}

static bool is_close(const cluster *c)
{
    return c->npass > 0 && c->t_hi - c->t_lo <= CLOSE_SPAN_MS;
}

/* The window close a drop stamped t (engine ms) belongs to: the first
 * cluster of passes after t, when it is a close and t is more than a
 * millisecond away from every cluster's stamps (a drop in the same ms as a
 * close may have come just before or just after it). ncl when none. */
static size_t close_after(const cluster *cl, size_t ncl, int64_t t)
{
    size_t lo = 0, hi = ncl;
    while (lo < hi) { /* first cluster whose stamps reach t - 1 */
        size_t mid = (lo + hi) / 2;
        if (cl[mid].t_hi < t - 1)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == ncl || cl[lo].t_lo <= t + 1 || !is_close(&cl[lo]) || !cl[lo].nheld) return ncl;
    return lo;
}

static int check_rule3(const bench_freq_in *in, const bench_ack_ev *acks, size_t nacks,
                       const bench_seq_time *st, size_t nst, bench_freq_out *o)
{
    o->rule3_ok = true;
    o->rule3_checked = false;
    if (nst == 0 || (uint64_t)in->room_rate * in->window_ms < MIN_BUDGET_MILLI) return 0;
    cluster *cl = calloc(nst, sizeof(*cl));
    seen_close *seen = calloc(nst, sizeof(*seen));
    uint32_t *owner = calloc(nacks ? nacks : 1, sizeof(*owner));
    if (!cl || !seen || !owner) {
        free(cl);
        free(seen);
        free(owner);
        return LR_ENOMEM;
    }
    size_t ncl = 0;
    int64_t gap = in->window_ms / CLOSE_GAP_DIV;
    for (size_t i = 0; i < nst; i++) {
        if (ncl == 0 || st[i].time_ms - cl[ncl - 1].t_hi > gap) {
            cluster *c = &cl[ncl++];
            c->seq_lo = st[i].seq;
            c->t_lo = c->t_hi = st[i].time_ms;
            c->amin = UINT64_MAX;
            c->worst_pass = c->best_drop = -1;
        }
        cluster *c = &cl[ncl - 1];
        c->seq_hi = st[i].seq;
        if (st[i].time_ms > c->t_hi) c->t_hi = st[i].time_ms;
    }
    /* acks that carry the engine's time also say which passes waited for
     * a close (`held`); one that passed at once in the same millisecond
     * (the window before ended with a token to spare) belongs to no window */
    bool stamped = nacks > 0;
    for (size_t a = 0; a < nacks; a++)
        if (!acks[a].time_ms) stamped = false;
    for (size_t a = 0; a < nacks; a++) {
        if (acks[a].limited || !acks[a].seq) continue;
        size_t k = cluster_of_seq(cl, ncl, acks[a].seq);
        if (k == ncl) continue;
        cluster *c = &cl[k];
        c->npass++;
        if (acks[a].at_us < c->amin) c->amin = acks[a].at_us;
        if (acks[a].at_us > c->amax) c->amax = acks[a].at_us;
        if (stamped && !acks[a].held) continue;
        c->nheld++;
        if ((int)acks[a].pri > c->worst_pass) c->worst_pass = acks[a].pri;
    }
    double margin = BENCH_FREQ_MIN_MARGIN_MS;
    size_t nord = 0;
    for (size_t k = 0; k < ncl; k++) {
        if (!cl[k].npass) continue;
        if (is_close(&cl[k])) {
            o->windows++;
            double spread = (double)(cl[k].amax - cl[k].amin) / 1000.0;
            if (cl[k].npass > 1 && spread > margin) margin = spread;
        }
        seen[nord].amin = cl[k].amin;
        seen[nord].k = k;
        nord++;
    }
    o->margin_ms = margin;
    /* closes in the order the bench saw them begin; prefix_max[i] is the
     * last ack of any close seen before seen[i], so a drop must come after
     * all of them (by the margin) to be placed */
    qsort(seen, nord, sizeof(*seen), cmp_seen);
    uint64_t run_max = 0;
    for (size_t i = 0; i < nord; i++) {
        seen[i].prefix_max = run_max;
        if (cl[seen[i].k].amax > run_max) run_max = cl[seen[i].k].amax;
    }
    uint64_t m_us = (uint64_t)(margin * 1000.0);
    for (size_t a = 0; a < nacks; a++) {
        owner[a] = UINT32_MAX;
        if (!acks[a].limited) continue;
        if (stamped) {
            size_t k = close_after(cl, ncl, acks[a].time_ms);
            if (k == ncl) {
                o->drops_ambiguous++;
                continue;
            }
            owner[a] = (uint32_t)k;
            o->drops_attributed++;
            if (cl[k].best_drop < 0 || acks[a].pri < cl[k].best_drop) cl[k].best_drop = acks[a].pri;
            continue;
        }
        uint64_t at = acks[a].at_us;
        /* first close seen after this drop's ack */
        size_t lo = 0, hi = nord;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (seen[mid].amin <= at)
                lo = mid + 1;
            else
                hi = mid;
        }
        bool ok = lo < nord;
        if (ok) {
            const cluster *next = &cl[seen[lo].k];
            ok = is_close(next) && next->amin - at > m_us;
            if (ok && lo > 0) ok = seen[lo].prefix_max < at && at - seen[lo].prefix_max > m_us;
        }
        if (!ok) {
            o->drops_ambiguous++;
            continue;
        }
        cluster *c = &cl[seen[lo].k];
        owner[a] = (uint32_t)seen[lo].k;
        o->drops_attributed++;
        if (c->best_drop < 0 || acks[a].pri < c->best_drop) c->best_drop = acks[a].pri;
    }
    for (size_t k = 0; k < ncl; k++) {
        if (cl[k].best_drop < 0 || !is_close(&cl[k])) continue;
        o->windows_checked++;
        if (cl[k].best_drop < cl[k].worst_pass) o->windows_violating++;
    }
    for (size_t a = 0; a < nacks; a++)
        if (owner[a] != UINT32_MAX && (int)acks[a].pri < cl[owner[a]].worst_pass)
            o->drops_violating++;
    o->rule3_checked = o->windows_checked > 0;
    o->rule3_ok = o->windows_violating == 0;
    free(cl);
    free(seen);
    free(owner);
    return 0;
}

static void check_rule4(const bench_freq_in *in, bench_freq_out *o)
{
    double cum = 0, total = 0;
    for (int p = 0; p < LR_PRI_COUNT; p++)
        total += in->offered[p];
    o->rule4_ok = true;
    for (int p = 0; p < LR_PRI_COUNT; p++) {
        double room = (double)in->room_rate - cum;
        if (room < 0) room = 0;
        o->expected_rate[p] = total <= in->room_rate  ? in->offered[p]
                              : in->offered[p] < room ? in->offered[p]
                                                      : room;
        cum += in->offered[p];
        o->must_be_full[p] =
            in->offered[p] > 0 && cum <= BENCH_FREQ_FULL_HEADROOM * (double)in->room_rate;
        if (o->must_be_full[p] && in->limited[p]) o->rule4_ok = false;
    }
}

int bench_freq_check(const bench_freq_in *in, bench_ack_ev *acks, size_t nacks, bench_seq_time *st,
                     size_t nst, bench_freq_out *out)
{
    memset(out, 0, sizeof(*out));
    if (nacks) qsort(acks, nacks, sizeof(*acks), cmp_ack);
    if (nst) qsort(st, nst, sizeof(*st), cmp_seq);
    check_rule1(in, st, nst, out);
    int rc = check_rule3(in, acks, nacks, st, nst, out);
    if (rc) return rc;
    check_rule4(in, out);
    out->rule5_ok = true;
    for (int p = 0; p < LR_PRI_COUNT; p++)
        if (in->delivered[p] > in->ok[p] * in->receivers) out->rule5_ok = false;
    out->ok =
        out->rule1_ok && (!out->rule3_checked || out->rule3_ok) && out->rule4_ok && out->rule5_ok;
    return 0;
}
