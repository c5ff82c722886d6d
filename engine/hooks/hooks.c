/*
 * hooks.c owns the delivery of callbacks: the queue from the engine's
 * threads to the hooks thread, and the hooks thread itself, which drives
 * libcurl's multi interface over a small pool of keep-alive connections.
 *
 * The queue is Vyukov's intrusive MPSC list: a producer links its event
 * with one atomic exchange and wakes the thread with curl_multi_wakeup only
 * when no wake-up is already pending, so a shard posting an event never
 * takes a lock and never waits for the hooks thread, whatever the backend
 * does. Memory stays bounded by one atomic counter of queued + in-flight
 * events checked before anything is allocated.
 *
 * On the hooks thread events wait in two FIFOs: before-send calls first,
 * because a message is held back until they answer, then after-callbacks,
 * which may occupy only LR_HOOKS_MAX_AFTER_INFLIGHT of the connections. At
 * most LR_HOOKS_MAX_CONNS requests run at once, one per connection, so a
 * request's timeout measures the backend rather than a wait for a free
 * connection. A before-send's deadline runs from lr_hooks_call, queue time
 * included: the message never waits longer than timeout_ms for its
 * verdict. Easy handles are pooled; the multi handle's connection cache
 * keeps the connections alive between requests.
 *
 * Must never: block a caller of lr_hooks_post/lr_hooks_call; call a done
 * callback anywhere but on the hooks thread or more than once per call;
 * hold more than queue_max events; follow redirects or use a proxy from the
 * environment (the callback goes where it is configured to go).
 */
#include "hooks/hooks.h"

#include "core/log.h"

#include <assert.h>
#include <ctype.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

const uint32_t lr_hooks_latency_le_ms[LR_HOOKS_LATENCY_BUCKETS - 1] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500,
};

/* INET6_ADDRSTRLEN */
#define HOOKS_MAX_IP 46
/* base url + our query string */
#define HOOKS_MAX_URL 1024

typedef struct mpsc_node {
    _Atomic(struct mpsc_node *) next;
} mpsc_node;

typedef struct hook_ev {
    mpsc_node node;     /* first: the MPSC link */
    struct hook_ev *qn; /* hooks thread: FIFO link */
    uint32_t hook;      /* one LR_HOOK_* bit */
    json_t *body;       /* until serialised into payload */
    char *payload;      /* JSON text, kept for a retry */
    lr_hooks_done_cb done;
    void *ctx;
    uint64_t deadline_us; /* before-send: verdict due (lr_clock_us) */
    uint64_t start_us;    /* current attempt */
    unsigned attempts;
    CURL *easy;    /* while in flight */
    unsigned slot; /* its index in lr_hooks.running while in flight */
    lr_buf reply;
    bool reply_too_big;
    char ip[HOOKS_MAX_IP];
} hook_ev;

typedef struct ev_fifo {
    hook_ev *head, *tail;
} ev_fifo;

struct lr_hooks {
    lr_hooks_config cfg;
    lr_hooks_stats stats;

    /* producers' side */
    _Atomic(mpsc_node *) q_head;
    _Atomic uint64_t pending; /* queued + in flight: ≤ cfg.queue_max */
    _Atomic bool wake_pending;
    _Atomic bool stopping;

    /* hooks thread only */
    mpsc_node *q_tail;
    mpsc_node stub;
    ev_fifo before, after;
    unsigned inflight, inflight_after;
    hook_ev *running[LR_HOOKS_MAX_CONNS]; /* in flight, for lr_hooks_stop */
    CURL *idle[LR_HOOKS_MAX_CONNS];
    unsigned n_idle;
    struct curl_slist *headers;
    bool failing; /* the last attempt failed: log transitions, not floods */

    CURLM *multi;
    pthread_t thread;

    /* lr_hooks_drain */
    pthread_mutex_t mu;
    pthread_cond_t idle_cv;
    _Atomic unsigned drain_waiters;
};

static void set_err(char *err, size_t errcap, const char *msg)
{
    if (err && errcap) snprintf(err, errcap, "%s", msg);
}

/* ---- MPSC queue ---------------------------------------------------- */

static void mpsc_push(lr_hooks *h, mpsc_node *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    mpsc_node *prev = atomic_exchange_explicit(&h->q_head, n, memory_order_acq_rel);
    /* Between the exchange and this store the list is cut: the consumer
     * stops there and the wake-up that follows brings it back. */
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

/* Hooks thread only. NULL when empty or when a producer is mid-push. */
static hook_ev *mpsc_pop(lr_hooks *h)
{
    mpsc_node *tail = h->q_tail;
    mpsc_node *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &h->stub) {
        if (!next) return NULL;
        h->q_tail = next;
        tail = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next) {
        h->q_tail = next;
        return (hook_ev *)tail;
    }
    if (tail != atomic_load_explicit(&h->q_head, memory_order_acquire)) return NULL;
    mpsc_push(h, &h->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (!next) return NULL;
    h->q_tail = next;
    return (hook_ev *)tail;
}

static void fifo_push(ev_fifo *f, hook_ev *ev)
{
    ev->qn = NULL;
    if (f->tail)
        f->tail->qn = ev;
    else
        f->head = ev;
    f->tail = ev;
}

static void fifo_push_front(ev_fifo *f, hook_ev *ev)
{
    ev->qn = f->head;
    f->head = ev;
    if (!f->tail) f->tail = ev;
}

static hook_ev *fifo_pop(ev_fifo *f)
{
    hook_ev *ev = f->head;
    if (ev) {
        f->head = ev->qn;
        if (!f->head) f->tail = NULL;
    }
    return ev;
}

/* ---- producers ----------------------------------------------------- */

bool lr_hooks_enabled(const lr_hooks *h, uint32_t hook)
{
    return h && (h->cfg.commands & hook) != 0;
}

const lr_hooks_stats *lr_hooks_get_stats(const lr_hooks *h)
{
    return h ? &h->stats : NULL;
}

static void copy_ip(char *dst, const char *ip)
{
    dst[0] = '\0';
    if (!ip) return;
    size_t n = strlen(ip);
    if (n >= HOOKS_MAX_IP) return;
    /* only what an IPv4/IPv6 literal holds: nothing to escape in a URL */
    for (size_t i = 0; i < n; i++) {
        char c = ip[i];
        if (!isxdigit((unsigned char)c) && c != '.' && c != ':') return;
    }
    memcpy(dst, ip, n + 1);
}

static int enqueue(lr_hooks *h, uint32_t hook, json_t *body, const char *client_ip,
                   lr_hooks_done_cb done, void *ctx)
{
    /* Reserve before allocating: a full queue costs the caller nothing. */
    if (atomic_fetch_add(&h->pending, 1) >= h->cfg.queue_max) {
        atomic_fetch_sub(&h->pending, 1);
        atomic_fetch_add_explicit(&h->stats.dropped, 1, memory_order_relaxed);
        json_decref(body);
        return LR_ELIMIT;
    }
    hook_ev *ev = calloc(1, sizeof(*ev));
    if (!ev) {
        atomic_fetch_sub(&h->pending, 1);
        atomic_fetch_add_explicit(&h->stats.dropped, 1, memory_order_relaxed);
        json_decref(body);
        return LR_ENOMEM;
    }
    ev->hook = hook;
    ev->body = body;
    ev->done = done;
    ev->ctx = ctx;
    if (hook == LR_HOOK_BEFORE_SEND)
        ev->deadline_us = lr_clock_us() + (uint64_t)h->cfg.timeout_ms * 1000u;
    copy_ip(ev->ip, client_ip);
    mpsc_push(h, &ev->node);
    /* seq_cst pairs with the thread clearing the flag before it pops: either
     * it sees our node, or we see the flag cleared and wake it. */
    if (!atomic_exchange(&h->wake_pending, true)) curl_multi_wakeup(h->multi);
    return 0;
}

int lr_hooks_post(lr_hooks *h, uint32_t hook, json_t *body, const char *client_ip)
{
    if (!h || !body || !json_is_object(body) || hook == LR_HOOK_BEFORE_SEND ||
        !lr_hooks_command_name(hook)) {
        json_decref(body);
        return LR_EINVAL;
    }
    if (!lr_hooks_enabled(h, hook)) {
        json_decref(body);
        return 0;
    }
    return enqueue(h, hook, body, client_ip, NULL, NULL);
}

int lr_hooks_call(lr_hooks *h, json_t *body, const char *client_ip, lr_hooks_done_cb done,
                  void *ctx)
{
    if (!h || !body || !json_is_object(body) || !done ||
        !lr_hooks_enabled(h, LR_HOOK_BEFORE_SEND)) {
        json_decref(body);
        return LR_EINVAL;
    }
    return enqueue(h, LR_HOOK_BEFORE_SEND, body, client_ip, done, ctx);
}

int lr_hooks_drain(lr_hooks *h, uint32_t timeout_ms)
{
    if (!h || pthread_equal(pthread_self(), h->thread)) return LR_EINVAL;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&h->mu);
    atomic_fetch_add(&h->drain_waiters, 1);
    while (atomic_load(&h->pending) != 0) {
        if (pthread_cond_timedwait(&h->idle_cv, &h->mu, &until) != 0 &&
            atomic_load(&h->pending) != 0) {
            rc = LR_EAGAIN;
            break;
        }
    }
    atomic_fetch_sub(&h->drain_waiters, 1);
    pthread_mutex_unlock(&h->mu);
    return rc;
}

/* ---- hooks thread: finishing events --------------------------------- */

typedef enum outcome {
    OUT_SENT,
    OUT_FAILED,
    OUT_DROPPED,
} outcome;

static int error_verdict(const lr_hooks *h)
{
    return h->cfg.fail_closed ? LR_HOOK_REJECT : LR_HOOK_ALLOW;
}

/* The one place an event ends: its done call, its counter, its memory. */
static void ev_finish(lr_hooks *h, hook_ev *ev, outcome out, int verdict, json_t *msg_body)
{
    /* counted first: whoever the done call wakes sees final stats */
    _Atomic uint64_t *c = out == OUT_SENT     ? &h->stats.sent
                          : out == OUT_FAILED ? &h->stats.failed
                                              : &h->stats.dropped;
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
    if (ev->done) ev->done(ev->ctx, verdict, msg_body);
    json_decref(ev->body);
    free(ev->payload);
    lr_buf_free(&ev->reply);
    free(ev);
    /* seq_cst pairs with lr_hooks_drain registering itself before it reads
     * pending: one of the two sees the other. */
    if (atomic_fetch_sub(&h->pending, 1) == 1 && atomic_load(&h->drain_waiters) != 0) {
        pthread_mutex_lock(&h->mu);
        pthread_cond_broadcast(&h->idle_cv);
        pthread_mutex_unlock(&h->mu);
    }
}

static void ev_fail(lr_hooks *h, hook_ev *ev, outcome out)
{
    ev_finish(h, ev, out, error_verdict(h), NULL);
}

static void observe_latency(lr_hooks *h, uint64_t us)
{
    uint64_t ms_ceil = (us + 999) / 1000;
    for (size_t i = 0; i < LR_HOOKS_LATENCY_BUCKETS; i++) {
        if (i + 1 == LR_HOOKS_LATENCY_BUCKETS || ms_ceil <= lr_hooks_latency_le_ms[i])
            atomic_fetch_add_explicit(&h->stats.latency_bucket[i], 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&h->stats.latency_sum_us, us, memory_order_relaxed);
}

/* The backend's before-send answer: verdict, and for allow an optional
 * replacement MsgBody. -1 when the reply is not a verdict. */
static int parse_verdict(const hook_ev *ev, json_t **msg_body)
{
    *msg_body = NULL;
    if (ev->reply_too_big || ev->reply.len == 0) return -1;
    json_t *root = json_loadb((const char *)ev->reply.p, ev->reply.len, 0, NULL);
    if (!root) return -1;
    json_t *code = json_object_get(root, "ErrorCode");
    int verdict = -1;
    if (json_is_integer(code)) {
        json_int_t v = json_integer_value(code);
        if (v == LR_HOOK_ALLOW || v == LR_HOOK_REJECT || v == LR_HOOK_DROP) verdict = (int)v;
    }
    if (verdict == LR_HOOK_ALLOW) {
        json_t *mb = json_object_get(root, "MsgBody");
        if (json_is_array(mb)) *msg_body = json_incref(mb);
    }
    json_decref(root); /* the callee now holds the only reference to MsgBody */
    return verdict;
}

/* ---- hooks thread: requests ---------------------------------------- */

static size_t on_reply(char *data, size_t size, size_t nmemb, void *arg)
{
    hook_ev *ev = arg;
    size_t n = size * nmemb;
    if (ev->hook != LR_HOOK_BEFORE_SEND) return n; /* nobody reads it */
    if (ev->reply.len + n > LR_HOOKS_MAX_REPLY || lr_buf_append(&ev->reply, data, n) != 0) {
        ev->reply_too_big = true;
        return 0; /* aborts the transfer: a bad reply */
    }
    return n;
}

static CURL *easy_get(lr_hooks *h)
{
    if (h->n_idle) return h->idle[--h->n_idle];
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    /* Options every request shares; per-request ones are set in start(). */
    if (curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 0L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_reply) != CURLE_OK) {
        curl_easy_cleanup(e);
        return NULL;
    }
    return e;
}

static void easy_put(lr_hooks *h, CURL *e)
{
    if (h->n_idle < LR_HOOKS_MAX_CONNS)
        h->idle[h->n_idle++] = e;
    else
        curl_easy_cleanup(e);
}

/* {"CallbackCommand": CMD, ...body}: the command first, as Tencent sends it. */
static int serialise(hook_ev *ev)
{
    json_t *o = json_pack("{s:s}", "CallbackCommand", lr_hooks_command_name(ev->hook));
    if (!o) return LR_ENOMEM;
    json_object_del(ev->body, "CallbackCommand");
    if (json_object_update(o, ev->body) != 0) {
        json_decref(o);
        return LR_ENOMEM;
    }
    ev->payload = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!ev->payload) return LR_ENOMEM;
    json_decref(ev->body);
    ev->body = NULL;
    return 0;
}

static void sign(const char *token, const char *reqtime, char hex[65])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char d[32];
    unsigned int dlen = 0;
    hex[0] = '\0';
    if (!md) return;
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(md, token, strlen(token)) == 1 &&
        EVP_DigestUpdate(md, reqtime, strlen(reqtime)) == 1 &&
        EVP_DigestFinal_ex(md, d, &dlen) == 1 && dlen == sizeof(d)) {
        static const char xd[] = "0123456789abcdef";
        for (unsigned i = 0; i < dlen; i++) {
            hex[2 * i] = xd[d[i] >> 4];
            hex[2 * i + 1] = xd[d[i] & 15];
        }
        hex[64] = '\0';
    }
    EVP_MD_CTX_free(md);
}

/* Starts one attempt. 0, or an error (the caller finishes the event). */
static int start(lr_hooks *h, hook_ev *ev)
{
    uint64_t now = lr_clock_us();
    long timeout_ms = (long)h->cfg.timeout_ms;
    if (ev->hook == LR_HOOK_BEFORE_SEND) {
        if (now >= ev->deadline_us) return LR_ELIMIT;
        timeout_ms = (long)((ev->deadline_us - now + 999) / 1000);
    }
    if (!ev->payload && serialise(ev) != 0) return LR_ENOMEM;

    char reqtime[24], hex[65], url[HOOKS_MAX_URL];
    snprintf(reqtime, sizeof(reqtime), "%lld", (long long)time(NULL));
    sign(h->cfg.token, reqtime, hex);
    if (!hex[0]) return LR_ENOMEM;
    int n =
        snprintf(url, sizeof(url),
                 "%s%cSdkAppid=%llu&CallbackCommand=%s&contenttype=json&ClientIP=%s"
                 "&OptPlatform=Web&RequestTime=%s&Sign=%s",
                 h->cfg.url, strchr(h->cfg.url, '?') ? '&' : '?', (unsigned long long)h->cfg.app_id,
                 lr_hooks_command_name(ev->hook), ev->ip, reqtime, hex);
    if (n < 0 || (size_t)n >= sizeof(url)) return LR_EINVAL;

    CURL *e = easy_get(h);
    if (!e) return LR_ENOMEM;
    lr_buf_reset(&ev->reply);
    ev->reply_too_big = false;
    if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, ev->payload) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(ev->payload)) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, ev) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PRIVATE, ev) != CURLE_OK ||
        curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        easy_put(h, e);
        return LR_ENOMEM;
    }
    unsigned slot = 0;
    while (slot < LR_HOOKS_MAX_CONNS && h->running[slot])
        slot++;
    assert(slot < LR_HOOKS_MAX_CONNS); /* callers check inflight first */
    h->running[slot] = ev;
    ev->slot = slot;
    ev->easy = e;
    ev->attempts++;
    ev->start_us = now;
    h->inflight++;
    if (ev->hook != LR_HOOK_BEFORE_SEND) h->inflight_after++;
    return 0;
}

static void detach(lr_hooks *h, hook_ev *ev)
{
    curl_multi_remove_handle(h->multi, ev->easy);
    easy_put(h, ev->easy);
    ev->easy = NULL;
    h->running[ev->slot] = NULL;
    h->inflight--;
    if (ev->hook != LR_HOOK_BEFORE_SEND) h->inflight_after--;
}

/* Fills free connections from the FIFOs, before-send first. */
static void start_queued(lr_hooks *h)
{
    while (h->inflight < LR_HOOKS_MAX_CONNS && h->before.head) {
        hook_ev *ev = fifo_pop(&h->before);
        int rc = start(h, ev);
        if (rc == LR_ELIMIT) { /* its deadline passed while it queued */
            atomic_fetch_add_explicit(&h->stats.timeouts, 1, memory_order_relaxed);
            ev_fail(h, ev, OUT_FAILED);
        } else if (rc != 0) {
            ev_fail(h, ev, OUT_FAILED);
        }
    }
    while (h->inflight < LR_HOOKS_MAX_CONNS && h->inflight_after < LR_HOOKS_MAX_AFTER_INFLIGHT &&
           h->after.head) {
        hook_ev *ev = fifo_pop(&h->after);
        if (start(h, ev) != 0) ev_fail(h, ev, OUT_FAILED);
    }
}

/* Before-send calls still queued past their deadline get the timeout
 * verdict now rather than when a connection frees up. */
static void expire_queued(lr_hooks *h, uint64_t now)
{
    while (h->before.head && now >= h->before.head->deadline_us) {
        hook_ev *ev = fifo_pop(&h->before);
        atomic_fetch_add_explicit(&h->stats.timeouts, 1, memory_order_relaxed);
        ev_fail(h, ev, OUT_FAILED);
    }
}

/* One line when the backend starts failing and one when it recovers: a
 * dead backend at thousands of events per second must not flood the log. */
static void note_result(lr_hooks *h, const hook_ev *ev, bool ok, CURLcode res, long status)
{
    if (ok == !h->failing) return;
    h->failing = !ok;
    if (ok)
        LR_INFO("event=hooks_recovered command=%s", lr_hooks_command_name(ev->hook));
    else if (res != CURLE_OK)
        LR_WARN("event=hooks_failing command=%s error=\"%s\"", lr_hooks_command_name(ev->hook),
                curl_easy_strerror(res));
    else
        LR_WARN("event=hooks_failing command=%s status=%ld%s", lr_hooks_command_name(ev->hook),
                status, status >= 200 && status < 300 ? " error=\"reply is not a verdict\"" : "");
}

static void on_done(lr_hooks *h, CURL *e, CURLcode res)
{
    char *priv = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
    hook_ev *ev = (hook_ev *)priv;
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    observe_latency(h, lr_clock_us() - ev->start_us);
    detach(h, ev);

    bool ok = res == CURLE_OK && status >= 200 && status < 300;
    json_t *mb = NULL;
    int verdict = LR_HOOK_ALLOW;
    if (ok && ev->hook == LR_HOOK_BEFORE_SEND) {
        verdict = parse_verdict(ev, &mb);
        ok = verdict >= 0;
    }
    note_result(h, ev, ok, res, status);
    if (res == CURLE_OPERATION_TIMEDOUT) {
        atomic_fetch_add_explicit(&h->stats.timeouts, 1, memory_order_relaxed);
        if (ev->hook != LR_HOOK_BEFORE_SEND && ev->attempts == 1) {
            /* once, and ahead of newer events: it is the oldest */
            atomic_fetch_add_explicit(&h->stats.retried, 1, memory_order_relaxed);
            fifo_push_front(&h->after, ev);
            return;
        }
    }
    if (ok)
        ev_finish(h, ev, OUT_SENT, verdict, mb);
    else
        ev_fail(h, ev, OUT_FAILED);
}

static void collect(lr_hooks *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg == CURLMSG_DONE) on_done(h, m->easy_handle, m->data.result);
    }
}

static void take_posted(lr_hooks *h)
{
    hook_ev *ev;
    while ((ev = mpsc_pop(h)))
        fifo_push(ev->hook == LR_HOOK_BEFORE_SEND ? &h->before : &h->after, ev);
}

static bool idle(const lr_hooks *h)
{
    return h->inflight == 0 && !h->before.head && !h->after.head;
}

/* lr_hooks_stop's last step: whatever is left gets its done call. */
static void abandon_all(lr_hooks *h)
{
    for (unsigned i = 0; i < LR_HOOKS_MAX_CONNS; i++) {
        hook_ev *ev = h->running[i];
        if (!ev) continue;
        detach(h, ev);
        ev_fail(h, ev, OUT_DROPPED);
    }
    take_posted(h);
    hook_ev *ev;
    while ((ev = fifo_pop(&h->before)))
        ev_fail(h, ev, OUT_DROPPED);
    while ((ev = fifo_pop(&h->after)))
        ev_fail(h, ev, OUT_DROPPED);
}

static void *hooks_main(void *arg)
{
    lr_hooks *h = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);

    uint64_t stop_deadline_ms = 0;
    for (;;) {
        /* An exchange, not a store: as a read-modify-write it is ordered
         * against the producers' exchange, so a producer either finds the
         * flag cleared (and wakes us) or its node is visible to the pops
         * below. A plain store could be reordered after those loads. */
        atomic_exchange(&h->wake_pending, false);
        take_posted(h);
        uint64_t now_ms = lr_clock_ms();
        if (atomic_load(&h->stopping) && !stop_deadline_ms)
            stop_deadline_ms = now_ms + LR_HOOKS_STOP_FLUSH_MS;
        expire_queued(h, lr_clock_us());
        start_queued(h);
        int running = 0;
        curl_multi_perform(h->multi, &running);
        collect(h);
        start_queued(h); /* connections freed by collect() */
        if (stop_deadline_ms && (idle(h) || now_ms >= stop_deadline_ms)) break;

        long wait_ms = -1;
        curl_multi_timeout(h->multi, &wait_ms);
        if (wait_ms < 0 || wait_ms > 1000) wait_ms = 1000;
        if (h->before.head) {
            uint64_t now_us = lr_clock_us(), due = h->before.head->deadline_us;
            long ms = due > now_us ? (long)((due - now_us + 999) / 1000) : 0;
            if (ms < wait_ms) wait_ms = ms;
        }
        if (stop_deadline_ms) {
            long ms = stop_deadline_ms > now_ms ? (long)(stop_deadline_ms - now_ms) : 0;
            if (ms < wait_ms) wait_ms = ms;
        }
        curl_multi_poll(h->multi, NULL, 0, (int)wait_ms, NULL);
    }
    abandon_all(h);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------ */

static bool has_http_scheme(const char *url)
{
    return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

lr_hooks *lr_hooks_start(const lr_hooks_config *cfg, char *err, size_t errcap)
{
    if (!cfg) {
        set_err(err, errcap, "no callback config");
        return NULL;
    }
    if (strnlen(cfg->url, sizeof(cfg->url)) == sizeof(cfg->url) ||
        strnlen(cfg->token, sizeof(cfg->token)) == sizeof(cfg->token)) {
        set_err(err, errcap, "callback URL or token too long");
        return NULL;
    }
    if (!cfg->url[0]) {
        set_err(err, errcap, "callbacks are off (empty URL)");
        return NULL;
    }
    if (!has_http_scheme(cfg->url) || strpbrk(cfg->url, " \t\r\n#")) {
        set_err(err, errcap, "callback URL must be http:// or https:// without spaces or #");
        return NULL;
    }
    if (cfg->commands & ~(uint32_t)LR_HOOK_ALL) {
        set_err(err, errcap, "unknown callback command bits");
        return NULL;
    }
    lr_hooks *h = calloc(1, sizeof(*h));
    if (!h) {
        set_err(err, errcap, "out of memory");
        return NULL;
    }
    h->cfg = *cfg;
    if (!h->cfg.commands) h->cfg.commands = LR_HOOK_ALL;
    if (!h->cfg.timeout_ms) h->cfg.timeout_ms = LR_HOOKS_DEFAULT_TIMEOUT_MS;
    if (!h->cfg.queue_max) h->cfg.queue_max = LR_HOOKS_DEFAULT_QUEUE_MAX;
    atomic_store(&h->stub.next, NULL);
    atomic_store(&h->q_head, &h->stub);
    h->q_tail = &h->stub;

    bool curl_inited = false, mu_inited = false, cv_inited = false;
    pthread_condattr_t ca;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        set_err(err, errcap, "curl_global_init failed");
        goto err;
    }
    curl_inited = true;
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        set_err(err, errcap, "pthread_mutex_init failed");
        goto err;
    }
    mu_inited = true;
    if (pthread_condattr_init(&ca) != 0) {
        set_err(err, errcap, "pthread_condattr_init failed");
        goto err;
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    cv_inited = pthread_cond_init(&h->idle_cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!cv_inited) {
        set_err(err, errcap, "pthread_cond_init failed");
        goto err;
    }

    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/json");
    if (l) h->headers = l;
    /* no "Expect: 100-continue" round trip before larger bodies */
    l = l ? curl_slist_append(h->headers, "Expect:") : NULL;
    h->multi = l ? curl_multi_init() : NULL;
    if (!h->multi ||
        curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)LR_HOOKS_MAX_CONNS) !=
            CURLM_OK ||
        curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)LR_HOOKS_MAX_CONNS) !=
            CURLM_OK ||
        curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)LR_HOOKS_MAX_CONNS) != CURLM_OK ||
        curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING) != CURLM_OK) {
        set_err(err, errcap, "cannot set up libcurl");
        goto err;
    }
    if (pthread_create(&h->thread, NULL, hooks_main, h) != 0) {
        set_err(err, errcap, "cannot start the hooks thread");
        goto err;
    }
    return h;

err:
    if (h->multi) curl_multi_cleanup(h->multi);
    curl_slist_free_all(h->headers);
    if (cv_inited) pthread_cond_destroy(&h->idle_cv);
    if (mu_inited) pthread_mutex_destroy(&h->mu);
    if (curl_inited) curl_global_cleanup();
    free(h);
    return NULL;
}

void lr_hooks_stop(lr_hooks *h)
{
    if (!h) return;
    atomic_store(&h->stopping, true);
    curl_multi_wakeup(h->multi);
    pthread_join(h->thread, NULL);
    curl_multi_cleanup(h->multi);
    while (h->n_idle)
        curl_easy_cleanup(h->idle[--h->n_idle]);
    curl_slist_free_all(h->headers);
    pthread_cond_destroy(&h->idle_cv);
    pthread_mutex_destroy(&h->mu);
    curl_global_cleanup();
    free(h);
}
