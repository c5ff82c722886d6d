/*
 * fuzz_ws.c drives the WebSocket frame parser with arbitrary byte streams
 * and aborts when a property the connection code relies on breaks. The same
 * stream is parsed twice, once whole and once delivered in chunks the way
 * recv() delivers it, and both must produce the same events and the same
 * final close code; an incomplete frame must leave its bytes untouched;
 * delivered text is valid UTF-8 and within the size limit. The UTF-8
 * validator is also checked against a plain decoder written here.
 */
#include <stdlib.h>

#include "net/ws.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

#define MAX_EVENTS 4096

typedef struct ev_rec {
    int kind, opcode;
    uint16_t code;
    size_t len;
    uint64_t hash;
} ev_rec;

typedef struct run {
    ev_rec ev[MAX_EVENTS];
    size_t nev;
    int final; /* 0 or the negative close code */
} run;

static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* Straightforward decoder: the reference the table-free validator must match. */
static bool ref_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i - 1 < k) return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += k + 1;
    }
    return true;
}

static bool within(const uint8_t *p, size_t n, const uint8_t *base, size_t cap)
{
    return n == 0 || (p >= base && n <= cap && (size_t)(p - base) <= cap - n);
}

static void record(run *r, const lr_ws_event *ev, const lr_ws_parser *p, const uint8_t *buf,
                   size_t avail)
{
    CHECK(within(ev->data, ev->len, buf, avail) ||
          within(ev->data, ev->len, p->frag.p, p->frag.len));
    switch (ev->kind) {
    case LR_WS_EV_MESSAGE:
        CHECK(ev->opcode == LR_WS_OP_TEXT || ev->opcode == LR_WS_OP_BINARY);
        CHECK(ev->len <= p->max_message);
        if (ev->opcode == LR_WS_OP_TEXT) CHECK(lr_utf8_valid(ev->data, ev->len));
        break;
    case LR_WS_EV_PING:
    case LR_WS_EV_PONG:
        CHECK(ev->len <= 125);
        break;
    case LR_WS_EV_CLOSE:
        CHECK(ev->len <= 125 && ev->len != 1);
        CHECK(ev->len ? ev->close_code == (ev->data[0] << 8 | ev->data[1])
                      : ev->close_code == 1005);
        break;
    default:
        CHECK(0);
    }
    if (r->nev < MAX_EVENTS)
        r->ev[r->nev++] =
            (ev_rec){ev->kind, ev->opcode, ev->close_code, ev->len, fnv(ev->data, ev->len)};
}

/* Parse what is buffered; returns false once the parser gave a close code. */
static bool drain(lr_ws_parser *p, uint8_t *buf, size_t *off, size_t end, const uint8_t *orig,
                  run *r)
{
    for (;;) {
        size_t avail = end - *off, used = 0;
        lr_ws_event ev;
        int rc = lr_ws_parse(p, buf + *off, avail, &used, &ev);
        CHECK(rc == 1 || rc == 0 || rc == -1002 || rc == -1007 || rc == -1009 || rc == -1011);
        if (rc < 0) {
            r->final = rc;
            return false;
        }
        CHECK(used <= avail);
        if (rc == 0 && used == 0) {
            CHECK(memcmp(buf + *off, orig + *off, avail) == 0); /* untouched */
            return true;
        }
        if (rc == 1) record(r, &ev, p, buf + *off, avail);
        *off += used;
    }
}

static void parse_stream(const uint8_t *orig, size_t n, bool server, size_t max_message,
                         size_t chunk, run *r)
{
    uint8_t *buf = malloc(n ? n : 1);
    CHECK(buf);
    memcpy(buf, orig, n);
    lr_ws_parser p;
    lr_ws_parser_init(&p, server, max_message);
    r->nev = 0;
    r->final = 0;
    size_t off = 0;
    for (size_t end = 0; end < n;) {
        end = (chunk && n - end > chunk) ? end + chunk : n;
        if (!drain(&p, buf, &off, end, orig, r)) break;
    }
    lr_ws_parser_free(&p);
    free(buf);
}

static run whole, chunked;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    CHECK(lr_utf8_valid(data, size) == ref_utf8_valid(data, size));
    if (size > 0) {
        /* streamed validation agrees with whole validation at any split */
        size_t split = data[0] % (size + 1);
        uint32_t st = 0;
        bool ok = lr_utf8_feed(&st, data, split) && lr_utf8_feed(&st, data + split, size - split);
        CHECK((ok && st == 0) == ref_utf8_valid(data, size));
        if (!ok) CHECK(!ref_utf8_valid(data, size));
    }

    if (size < 2) return 0;
    uint8_t flags = data[0];
    bool server = flags & 1;
    /* A small limit half of the time so 1009 is reachable. */
    size_t max_message = (flags & 2) ? LR_MAX_WS_MESSAGE : 64;
    size_t chunk = 1 + (flags >> 2) % 16;
    data++;
    size--;

    parse_stream(data, size, server, max_message, 0, &whole);
    parse_stream(data, size, server, max_message, chunk, &chunked);
    CHECK(whole.final == chunked.final && whole.nev == chunked.nev);
    for (size_t i = 0; i < whole.nev; i++) {
        const ev_rec *a = &whole.ev[i], *b = &chunked.ev[i];
        CHECK(a->kind == b->kind && a->opcode == b->opcode && a->code == b->code &&
              a->len == b->len && a->hash == b->hash);
    }
    return 0;
}
