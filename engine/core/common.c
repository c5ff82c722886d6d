/*
 * common.c owns the helpers declared in common.h: the growable buffer, the
 * names of priorities and message types, and the count of usable CPUs.
 * Never allocates without bound:
 * callers check their limit before appending.
 */
#include "core/common.h"

#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

uint32_t lr_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return (uint32_t)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (uint32_t)n : 1;
}

int lr_buf_reserve(lr_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra) return LR_OK;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) return LR_ENOMEM;
    b->p = p;
    b->cap = cap;
    return LR_OK;
}

int lr_buf_append(lr_buf *b, const void *data, size_t len)
{
    if (lr_buf_reserve(b, len) != LR_OK) return LR_ENOMEM;
    if (len) memcpy(b->p + b->len, data, len);
    b->len += len;
    return LR_OK;
}

void lr_buf_free(lr_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static const char *const pri_names[LR_PRI_COUNT] = {"high", "normal", "low", "lowest"};
static const char *const type_names[LR_TYPE_COUNT] = {"text", "custom", "like", "gift"};

const char *lr_pri_name(lr_pri p)
{
    return (unsigned)p < LR_PRI_COUNT ? pri_names[p] : "normal";
}
const char *lr_type_name(lr_msg_type t)
{
    return (unsigned)t < LR_TYPE_COUNT ? type_names[t] : "text";
}

int lr_pri_parse(lr_str s)
{
    for (int i = 0; i < LR_PRI_COUNT; i++)
        if (lr_str_eq_c(s, pri_names[i])) return i;
    return -1;
}

int lr_type_parse(lr_str s)
{
    for (int i = 0; i < LR_TYPE_COUNT; i++)
        if (lr_str_eq_c(s, type_names[i])) return i;
    return -1;
}

static const int err_codes[LR_ERR_SLOTS - 1] = {
    LR_ERR_INTERNAL,      LR_ERR_UNKNOWN_OP,    LR_ERR_INVALID_PARAM,  LR_ERR_TOO_FAST,
    LR_ERR_NO_PERMISSION, LR_ERR_ADMIN_MISSING, LR_ERR_NO_ROOM,        LR_ERR_MALFORMED,
    LR_ERR_BAD_ROOM_ID,   LR_ERR_REJECTED,      LR_ERR_MUTED,          LR_ERR_BODY_TOO_LARGE,
    LR_ERR_ROOM_EXISTS,   LR_ERR_FREQ_LIMIT,    LR_ERR_KICKED_OFFLINE, LR_ERR_SIG_EXPIRED,
    LR_ERR_SIG_MALFORMED, LR_ERR_SIG_VERIFY,    LR_ERR_SIG_USER};

unsigned lr_err_slot(int code)
{
    for (unsigned i = 0; i < LR_ERR_SLOTS - 1; i++)
        if (err_codes[i] == code) return i;
    return LR_ERR_SLOTS - 1;
}

int lr_err_slot_code(unsigned slot)
{
    return slot < LR_ERR_SLOTS - 1 ? err_codes[slot] : 0;
}

bool lr_id_valid(lr_str s, size_t max)
{
    if (s.len == 0 || s.len > max) return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c < 0x21 || c > 0x7e) return false;
    }
    return true;
}
