/*
 * common.h owns the small types every concern shares: a borrowed string
 * (lr_str), a growable byte buffer (lr_buf), wire formats and priorities,
 * and the engine's clocks. Nothing here allocates behind the caller's back
 * except lr_buf, whose growth is always bounded by the caller's limit.
 */
#ifndef LR_COMMON_H
#define LR_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "core/limits.h"

#define LR_UNUSED(x) ((void)(x))
#define LR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define LR_LIKELY(x) __builtin_expect(!!(x), 1)
#define LR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LR_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Return codes of library functions: 0 or a negative LR_E… value. */
enum {
    LR_OK = 0,
    LR_ENOMEM = -1,
    LR_EINVAL = -2,
    LR_EAGAIN = -3, /* need more input */
    LR_ELIMIT = -4, /* a configured limit was crossed */
    LR_EIO = -5,
    LR_EEXIST = -6,
    LR_ENOENT = -7,
};

/* A borrowed, not necessarily NUL-terminated, byte string. */
typedef struct lr_str {
    const char *p;
    size_t len;
} lr_str;

#define LR_STR_LIT(s) ((lr_str){(s), sizeof(s) - 1})
static inline lr_str lr_str_c(const char *s)
{
    return (lr_str){s, s ? strlen(s) : 0};
}
static inline bool lr_str_eq(lr_str a, lr_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}
static inline bool lr_str_eq_c(lr_str a, const char *c)
{
    return lr_str_eq(a, lr_str_c(c));
}

/* Growable byte buffer. len <= cap; p may be NULL when cap == 0. */
typedef struct lr_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
} lr_buf;

int lr_buf_reserve(lr_buf *b, size_t extra); /* 0 or LR_ENOMEM */
int lr_buf_append(lr_buf *b, const void *data, size_t len);
void lr_buf_free(lr_buf *b);
static inline void lr_buf_reset(lr_buf *b)
{
    b->len = 0;
}

/* Wire formats a push may be encoded in. */
typedef enum lr_fmt {
    LR_FMT_JSON = 0,    /* WebSocket text frame, JSON object */
    LR_FMT_MSGPACK = 1, /* WebSocket binary frame, msgpack map */
    LR_FMT_TCP = 2,     /* 4-byte big-endian length, msgpack map */
    LR_FMT_COUNT = 3,
} lr_fmt;

/* Message priorities, highest first (PROTOCOL.md §6). */
typedef enum lr_pri {
    LR_PRI_HIGH = 0,
    LR_PRI_NORMAL = 1,
    LR_PRI_LOW = 2,
    LR_PRI_LOWEST = 3,
    LR_PRI_COUNT = 4,
} lr_pri;

/* Message types of `send` (`type` field). */
typedef enum lr_msg_type {
    LR_TYPE_TEXT = 0,
    LR_TYPE_CUSTOM = 1,
    LR_TYPE_LIKE = 2,
    LR_TYPE_GIFT = 3,
    LR_TYPE_COUNT = 4,
} lr_msg_type;

const char *lr_pri_name(lr_pri p);
int lr_pri_parse(lr_str s); /* lr_pri or -1 */
const char *lr_type_name(lr_msg_type t);
int lr_type_parse(lr_str s); /* lr_msg_type or -1 */

/* Error codes counted in metrics: slot of a code (the last slot counts any
 * other code) and the code of a slot (0 for the last). */
#define LR_ERR_SLOTS 20
unsigned lr_err_slot(int code);
/* CPUs this process may run on (its affinity mask; online CPUs without one). */
uint32_t lr_cpu_count(void);
int lr_err_slot_code(unsigned slot);

/* Room and user ids: 1..max bytes of printable ASCII (0x21..0x7e). */
bool lr_id_valid(lr_str s, size_t max);

/* v in decimal at out (at most 20 digits, no NUL); returns the digits. */
static inline size_t lr_u64_dec(uint64_t v, char out[20])
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static inline uint64_t lr_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
static inline uint64_t lr_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
static inline int64_t lr_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64* PRNG: cheap, per-owner state, never shared between threads. */
static inline uint64_t lr_rand_next(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

#endif
