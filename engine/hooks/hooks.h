/*
 * hooks.h: callbacks (webhooks) to the business backend, ADMIN_API.md §3.
 *
 * One hooks thread runs libcurl's multi interface. Shards (or any thread)
 * hand it events through a lock-free queue and never wait for it; it POSTs
 * each event to the configured URL over keep-alive connections and, for the
 * before-send callback, reports the backend's verdict through a completion
 * callback run on the hooks thread.
 *
 * Accounting: every event accepted by lr_hooks_post/lr_hooks_call ends in
 * exactly one of `sent` (answered with HTTP 2xx, and for before-send with a
 * valid verdict), `failed` (error, non-2xx, bad reply, or timed out for
 * good) or `dropped` (abandoned by lr_hooks_stop). Events refused because
 * the queue was full are counted in `dropped` too. `timeouts` counts
 * attempts that timed out, `retried` the second attempts of
 * after-callbacks. The latency histogram observes every finished attempt.
 */
#ifndef LR_HOOKS_H
#define LR_HOOKS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

/* Connections kept to the callback host; also the number of requests in
 * flight at once, so that every started request owns a connection and its
 * timeout measures the backend, not a wait for a free connection. */
#define LR_HOOKS_MAX_CONNS 16
/* Connections after-callbacks may occupy: the rest stays free for
 * before-send, which holds a message back while it waits. */
#define LR_HOOKS_MAX_AFTER_INFLIGHT 12
#define LR_HOOKS_DEFAULT_TIMEOUT_MS 2000
#define LR_HOOKS_DEFAULT_QUEUE_MAX 65536
/* lr_hooks_stop keeps delivering for this long before it abandons the rest. */
#define LR_HOOKS_STOP_FLUSH_MS 1000
/* A before-send reply larger than this is an error (it carries at most a
 * MsgBody, itself ≤ 12 KiB). */
#define LR_HOOKS_MAX_REPLY (64 * 1024)
#define LR_HOOKS_LATENCY_BUCKETS 12

typedef struct lr_hooks_config {
    char url[512]; /* empty = callbacks off */
    char token[256];
    uint64_t app_id;
    uint32_t commands;   /* bitmask of LR_HOOK_* (0 = all once a URL is set) */
    uint32_t timeout_ms; /* default 2000 (0 = default) */
    bool fail_closed;    /* before-send on timeout/error: reject instead of allow */
    uint32_t queue_max;  /* bounded queue, default 65536 events (0 = default) */
} lr_hooks_config;

enum {
    LR_HOOK_BEFORE_SEND = 1 << 0,
    LR_HOOK_AFTER_SEND = 1 << 1,
    LR_HOOK_AFTER_JOIN = 1 << 2,
    LR_HOOK_AFTER_EXIT = 1 << 3,
    LR_HOOK_MEMBER_STATE = 1 << 4,
    LR_HOOK_AFTER_CREATE = 1 << 5,
    LR_HOOK_AFTER_DESTROY = 1 << 6,
    LR_HOOK_STATE_CHANGE = 1 << 7,
    LR_HOOK_ALL = (1 << 8) - 1,
};

/* Before-send verdicts. */
enum {
    LR_HOOK_ALLOW = 0,
    LR_HOOK_REJECT = 1, /* sender gets 10016 */
    LR_HOOK_DROP = 2,   /* sender gets ok, nobody else sees it */
};

/* "all" or "Group.CallbackBeforeSendMsg,State.StateChange,..." (spaces
 * around names allowed) -> 0 and *mask, or -1 on an empty list or an
 * unknown name (*mask untouched). */
int lr_hooks_parse_commands(const char *list, uint32_t *mask);
/* CallbackCommand of one LR_HOOK_* bit, or NULL for anything else. */
const char *lr_hooks_command_name(uint32_t hook);

typedef struct lr_hooks lr_hooks;

/* Starts the hooks thread. NULL with a message in err on a bad config or
 * when out of resources; an empty url is refused too ("callbacks are
 * off"): callers keep a NULL lr_hooks when callbacks are off. */
lr_hooks *lr_hooks_start(const lr_hooks_config *cfg, char *err, size_t errcap);
/* Delivers what it can within LR_HOOKS_STOP_FLUSH_MS, abandons the rest
 * (a pending before-send still gets its done call, with the timeout
 * verdict), joins the thread and frees h. No post or call may run
 * concurrently or afterwards. h may be NULL. */
void lr_hooks_stop(lr_hooks *h);
/* h may be NULL (callbacks off). */
bool lr_hooks_enabled(const lr_hooks *h, uint32_t hook);

/* After-callbacks: fire and forget. body is a jansson object WITHOUT
 * CallbackCommand (added here); ownership is taken, and the caller must
 * not keep references into it (jansson trees are not thread-safe). Returns
 * 0 (also when the hook is not enabled: the body is just released),
 * LR_ELIMIT when the queue is full (dropped and counted), LR_EINVAL for a
 * bad hook, LR_ENOMEM. Callable from any thread, lock-free on the caller
 * side (an intrusive MPSC queue + curl_multi_wakeup). client_ip may be NULL
 * ("" in the URL). */
int lr_hooks_post(lr_hooks *h, uint32_t hook, json_t *body, const char *client_ip);

/* Before-send: asynchronous. done is called ON THE HOOKS THREAD exactly once
 * with a verdict LR_HOOK_ALLOW/REJECT/DROP and (for allow) an optional
 * replacement MsgBody array (a new reference the callee owns, or NULL). On
 * timeout (counted from this call)/error/non-JSON reply: allow (or reject
 * when fail_closed). Returns 0, or LR_ELIMIT (queue full: caller treats as
 * timeout), LR_EINVAL (before-send not enabled), LR_ENOMEM; done is not
 * called when the return is not 0. body ownership is taken in every case. */
typedef void (*lr_hooks_done_cb)(void *ctx, int verdict, json_t *msg_body);
int lr_hooks_call(lr_hooks *h, json_t *body, const char *client_ip, lr_hooks_done_cb done,
                  void *ctx);

/* Waits until no event is queued or in flight (every done callback has
 * returned and the stats are final for what was posted before). 0, or
 * LR_EAGAIN after timeout_ms, LR_EINVAL from the hooks thread itself. For
 * graceful shutdowns and tests; never call it from a shard. */
int lr_hooks_drain(lr_hooks *h, uint32_t timeout_ms);

typedef struct lr_hooks_stats {
    _Atomic uint64_t sent, failed, timeouts, retried, dropped;
    /* Cumulative like Prometheus: bucket i counts requests that took at most
     * lr_hooks_latency_le_ms[i] ms; the last one (+Inf) counts them all. */
    _Atomic uint64_t latency_bucket[LR_HOOKS_LATENCY_BUCKETS]; /* le 1,2,5,10,25,50,100,250,500,
                                                                  1000,2500,+Inf ms */
    _Atomic uint64_t latency_sum_us;
} lr_hooks_stats;
extern const uint32_t lr_hooks_latency_le_ms[LR_HOOKS_LATENCY_BUCKETS - 1];
const lr_hooks_stats *lr_hooks_get_stats(const lr_hooks *h);

/*
 * Payload builders: the body of each §3 command (without CallbackCommand),
 * with Tencent's field names, ready for lr_hooks_post/lr_hooks_call. NULL
 * strings become "". msg_body is borrowed and deep-copied (NULL = []), so
 * the event never shares nodes with the caller's data. NULL when out of
 * memory.
 */
json_t *lr_hook_body_before_send(const char *group, const char *from, const char *op,
                                 uint32_t random, const char *pri_name, json_t *msg_body,
                                 const char *cloud_custom);
/* The before-send fields plus MsgSeq, MsgTime (unix s) and OnlineOnlyFlag 0. */
json_t *lr_hook_body_after_send(const char *group, const char *from, const char *op,
                                uint32_t random, const char *pri_name, json_t *msg_body,
                                const char *cloud_custom, uint64_t msg_seq, int64_t msg_time);
/* Group.CallbackAfterNewMemberJoin: JoinType "Apply", NewMemberList. */
json_t *lr_hook_body_member_join(const char *group, const char *op, const char *const *members,
                                 size_t n);
/* Group.CallbackAfterMemberExit: ExitType "Kicked" or "Quit", ExitMemberList. */
json_t *lr_hook_body_member_exit(const char *group, bool kicked, const char *op,
                                 const char *const *members, size_t n);
/* Group.CallbackOnMemberStateChange: EventType "Online"/"Offline", MemberList. */
json_t *lr_hook_body_member_state(const char *group, bool online, const char *const *members,
                                  size_t n);
/* Group.CallbackAfterCreateGroup and Group.CallbackAfterGroupDestroyed. */
json_t *lr_hook_body_group(const char *group, const char *owner);

typedef enum lr_hook_state_action {
    LR_HOOK_STATE_LOGIN = 0,
    LR_HOOK_STATE_LOGOUT = 1,
    LR_HOOK_STATE_DISCONNECT = 2,
} lr_hook_state_action;
/* State.StateChange: EventTime (ms; 0 = now), Info{Action, To_Account, Reason}. */
json_t *lr_hook_body_state_change(const char *user, lr_hook_state_action action, const char *reason,
                                  int64_t event_time_ms);

#endif
