/*
 * metrics.c owns reading the engine's own counters from its admin port
 * (`GET /metrics`, Prometheus text): slow-consumer events, frequency-control
 * drops per priority, messages passed, deliveries and socket sends, and
 * the shards' batching delays. The run reads them before the first
 * connection and after the last phase, and around the publish window for
 * its deliveries per send (the delays also once a second), and the report
 * shows the difference next to what the bench counted, so a frame the
 * engine shed and did not count (or counted and did not shed) shows. It
 * runs on the main thread only, with bounded waits; a missing or slow admin
 * port leaves the figures unset and never stops a run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define METRICS_MAX_BYTES (1u << 20)

/* The value of one sample line whose name (and, when given, one label
 * key="value") match; the line is [p, e). */
static bool sample_value(const char *p, const char *e, const char *name, const char *label,
                         uint64_t *out)
{
    size_t nl = strlen(name);
    if ((size_t)(e - p) <= nl || memcmp(p, name, nl) != 0) return false;
    const char *q = p + nl;
    if (*q == '{') {
        const char *close = memchr(q, '}', (size_t)(e - q));
        if (!close) return false;
        if (label) {
            size_t ll = strlen(label);
            bool found = false;
            for (const char *s = q + 1; s + ll <= close; s++)
                if (memcmp(s, label, ll) == 0 && (s[-1] == '{' || s[-1] == ',')) {
                    found = true;
                    break;
                }
            if (!found) return false;
        }
        q = close + 1;
    } else if (label || *q != ' ') {
        return false;
    }
    while (q < e && *q == ' ')
        q++;
    if (q >= e) return false;
    char num[40];
    size_t n = (size_t)(e - q) < sizeof(num) - 1 ? (size_t)(e - q) : sizeof(num) - 1;
    memcpy(num, q, n);
    num[n] = '\0';
    char *end;
    double v = strtod(num, &end);
    if (end == num || v < 0) return false;
    *out = (uint64_t)(v + 0.5);
    return true;
}

/* The longest shard delay in liveroom_batch_delay_seconds{shard="N"} v. */
static bool batch_delay(const char *p, const char *e, uint32_t *max_ms)
{
    static const char name[] = "liveroom_batch_delay_seconds{";
    size_t nl = sizeof(name) - 1;
    if ((size_t)(e - p) <= nl || memcmp(p, name, nl) != 0) return false;
    const char *q = memchr(p, '}', (size_t)(e - p));
    if (!q || q + 2 > e || q[1] != ' ') return false;
    char num[40];
    size_t n = (size_t)(e - q - 2) < sizeof(num) - 1 ? (size_t)(e - q - 2) : sizeof(num) - 1;
    memcpy(num, q + 2, n);
    num[n] = '\0';
    char *end;
    double v = strtod(num, &end);
    if (end == num || v < 0 || v > 3600) return false;
    uint32_t ms = (uint32_t)(v * 1000 + 0.5);
    if (ms > *max_ms) *max_ms = ms;
    return true;
}

int bench_metrics_parse(const char *text, size_t n, bench_metrics *m)
{
    static const char *const pri_label[LR_PRI_COUNT] = {"priority=\"high\"", "priority=\"normal\"",
                                                        "priority=\"low\"", "priority=\"lowest\""};
    memset(m, 0, sizeof(*m));
    const char *p = text, *end = text + n;
    int found = 0;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end;
        if (*p != '#') {
            found += sample_value(p, e, "liveroom_slow_consumer_events_total",
                                  "kind=\"skipped_low\"", &m->slow_skipped);
            found += sample_value(p, e, "liveroom_slow_consumer_events_total", "kind=\"overrun\"",
                                  &m->slow_overrun);
            found += sample_value(p, e, "liveroom_slow_consumer_events_total", "kind=\"closed\"",
                                  &m->slow_closed);
            for (int k = 0; k < LR_PRI_COUNT; k++)
                found += sample_value(p, e, "liveroom_frequency_dropped_total", pri_label[k],
                                      &m->freq_dropped[k]);
            found += sample_value(p, e, "liveroom_messages_passed_total", NULL, &m->passed);
            found += sample_value(p, e, "liveroom_deliveries_total", NULL, &m->deliveries);
            found += sample_value(p, e, "liveroom_frequency_windows_total", NULL, &m->windows);
            found += sample_value(p, e, "liveroom_sends_total", NULL, &m->sends);
            found += sample_value(p, e, "liveroom_send_bytes_total", NULL, &m->send_bytes);
            found += batch_delay(p, e, &m->batch_delay_ms);
        }
        p = e + 1;
    }
    m->ok = found > 0;
    return m->ok ? 0 : LR_ENOENT;
}

/* Wait until fd is ready for events or the deadline (µs) passed. */
static bool wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = lr_clock_us();
        if (now >= deadline) return false;
        struct pollfd pfd = {.fd = fd, .events = events};
        int r = poll(&pfd, 1, (int)((deadline - now) / 1000) + 1);
        if (r > 0) return true;
        if (r < 0 && errno != EINTR) return false;
    }
}

int bench_metrics_fetch(const char *host, int port, double timeout_s, bench_metrics *m)
{
    memset(m, 0, sizeof(*m));
    uint64_t deadline = lr_clock_us() + (uint64_t)(timeout_s * 1e6);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) return LR_EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return LR_EIO;
    int rc = LR_EIO;
    char *buf = NULL;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) goto out;
    if (!wait_fd(fd, POLLOUT, deadline)) goto out;
    int err = 0;
    socklen_t el = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) goto out;
    char req[160];
    int rl =
        snprintf(req, sizeof(req),
                 "GET /metrics HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n", host, port);
    if (send(fd, req, (size_t)rl, MSG_NOSIGNAL) != rl) goto out;
    if (!(buf = malloc(METRICS_MAX_BYTES + 1))) {
        rc = LR_ENOMEM;
        goto out;
    }
    size_t n = 0;
    for (;;) {
        if (!wait_fd(fd, POLLIN, deadline)) goto out;
        ssize_t r = recv(fd, buf + n, METRICS_MAX_BYTES - n, 0);
        if (r == 0) break;
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            goto out;
        }
        n += (size_t)r;
        if (n == METRICS_MAX_BYTES) break;
    }
    buf[n] = '\0';
    if (n < 12 || memcmp(buf, "HTTP/1.1 200", 12) != 0) goto out;
    char *body = strstr(buf, "\r\n\r\n");
    if (!body) goto out;
    body += 4;
    rc = bench_metrics_parse(body, n - (size_t)(body - buf), m);
out:
    free(buf);
    close(fd);
    return rc;
}
