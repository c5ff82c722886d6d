/*
 * wire.h: what the load generator puts on and takes off the wire, with no
 * I/O: the numbered body every published message carries, requests in the
 * engine's encodings, client (masked) WebSocket and raw-TCP framing, the
 * HTTP upgrade, and a top-level field scanner for the engine's replies and
 * pushes that reads only the handful of fields the bench counts.
 */
#ifndef LR_BENCH_WIRE_H
#define LR_BENCH_WIRE_H

#include "core/common.h"

/* Every published body starts with "LRB1,<pub>,<seq>,<send_us>," and is
 * padded with 'x' up to the requested size. The marker lets a receiver find
 * the numbers inside whatever wrapping a relay server adds. */
#define BENCH_MARK "LRB1,"
#define BENCH_MARK_LEN 5
#define BENCH_BODY_MAX LR_MAX_BODY

typedef struct bench_body {
    uint32_t pub;     /* publisher number */
    uint64_t seq;     /* publisher's own sequence, from 1 */
    uint64_t sent_us; /* CLOCK_MONOTONIC µs when the publisher queued it */
} bench_body;

/* Write a body of max(size, marker length) bytes into out; returns its length
 * or 0 when cap is too small. Not NUL-terminated. */
size_t bench_body_make(char *out, size_t cap, const bench_body *b, uint32_t size);
/* Parse a body that starts at p. */
bool bench_body_parse(const char *p, size_t n, bench_body *b);
/* Find a body anywhere inside an opaque payload (relay targets). */
bool bench_body_find(const uint8_t *p, size_t n, bench_body *b);

/* The fields of an engine reply or push that the bench reads. Strings borrow
 * from the scanned buffer. Absent fields stay zero / empty. */
typedef struct bench_push {
    lr_str op;
    uint64_t id;
    bool has_id;
    uint64_t seq;
    bool has_seq;
    lr_str pri;
    lr_str body;
    bool has_body;
    int64_t code;
    bool limited;
    bool held;       /* a send's ok: passed at the close of a window */
    int64_t time_ms; /* a push's `time` (engine wall clock, ms); 0 when absent */
} bench_push;

/* Scan a JSON object or a msgpack map. Returns 0, or LR_EINVAL when the frame is
 * not a well-formed map (nested values are skipped, not validated deeply). */
int bench_push_scan_json(const uint8_t *p, size_t n, bench_push *m);
int bench_push_scan_msgpack(const uint8_t *p, size_t n, bench_push *m);

/* Requests, appended to payload (unframed) in JSON or msgpack. */
int bench_req_login(lr_buf *payload, bool json, uint64_t id, lr_str user, lr_str sig);
int bench_req_join(lr_buf *payload, bool json, uint64_t id, lr_str room);
int bench_req_send(lr_buf *payload, bool json, uint64_t id, lr_str room, lr_str body, lr_pri pri);
int bench_req_ping(lr_buf *payload, bool json, uint64_t id);

/* Framing: append one masked WebSocket frame (FIN set) or one raw-TCP frame
 * (4-byte big-endian length) holding payload to out. */
int bench_ws_append(lr_buf *out, int opcode, const uint8_t *payload, size_t len,
                    const uint8_t mask[4]);
int bench_tcp_append(lr_buf *out, const uint8_t *payload, size_t len);

/* Parse one raw-TCP frame from p[0..n): 1 with *msg, *msg_len and *consumed
 * set, 0 when incomplete, LR_ELIMIT when the declared length exceeds max. */
int bench_tcp_parse(const uint8_t *p, size_t n, size_t max, const uint8_t **msg, size_t *msg_len,
                    size_t *consumed);

/* Percent-encode everything but unreserved characters; returns the length
 * written (NUL-terminated), or 0 when cap is too small. */
size_t bench_urlencode(char *out, size_t cap, const char *in, size_t len);

/* The upgrade request. query and protocol may be NULL. */
int bench_upgrade_request(lr_buf *out, const char *host, const char *path, const char *query,
                          const char *protocol, const char *key);

/*
 * Look for a complete response head in p[0..n). Returns its length (bytes up
 * to and including the blank line) when it is a 101 whose
 * Sec-WebSocket-Accept equals expect_accept (when not NULL); 0 when the head
 * is incomplete; LR_EINVAL when it is not an acceptable upgrade (*status
 * receives the HTTP status, 0 when unparsable).
 */
int bench_upgrade_response(const uint8_t *p, size_t n, const char *expect_accept, int *status);

#endif
