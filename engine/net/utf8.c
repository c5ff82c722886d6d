/*
 * utf8.c owns UTF-8 validation for WebSocket text messages and close
 * reasons, whole or streamed across fragments. It never allocates and never
 * reads past len. It must fail at the first byte that makes the input
 * impossible to complete (RFC 6455 §8.1 "fail fast"), not at the end.
 *
 * The state carried between bytes is (continuation bytes still expected,
 * allowed range of the next byte): the range is what rules out overlongs
 * (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points above
 * U+10FFFF (F4 90..BF) without decoding the code point at all.
 */
#include "net/ws.h"

#define UTF8_REJECT 0xffffffffu

static inline uint32_t utf8_state(uint32_t remaining, uint32_t lo, uint32_t hi)
{
    return remaining << 16 | hi << 8 | lo;
}

/* State after a lead byte; UTF8_REJECT for bytes that cannot start one. */
static inline uint32_t utf8_lead(uint8_t c)
{
    if (c < 0xc2) return UTF8_REJECT; /* continuation, or C0/C1 overlong */
    if (c < 0xe0) return utf8_state(1, 0x80, 0xbf);
    if (c == 0xe0) return utf8_state(2, 0xa0, 0xbf);
    if (c == 0xed) return utf8_state(2, 0x80, 0x9f);
    if (c < 0xf0) return utf8_state(2, 0x80, 0xbf);
    if (c == 0xf0) return utf8_state(3, 0x90, 0xbf);
    if (c < 0xf4) return utf8_state(3, 0x80, 0xbf);
    if (c == 0xf4) return utf8_state(3, 0x80, 0x8f);
    return UTF8_REJECT;
}

bool lr_utf8_feed(uint32_t *state, const uint8_t *data, size_t len)
{
    uint32_t st = *state;
    if (st == UTF8_REJECT) return false;
    size_t i = 0;
    while (i < len) {
        if (st == 0) {
            /* Chat text is mostly ASCII: skip it two words at a time. */
            while (len - i >= 16) {
                uint64_t w[2];
                memcpy(w, data + i, 16);
                if ((w[0] | w[1]) & 0x8080808080808080ULL) break;
                i += 16;
            }
            while (len - i >= 8) {
                uint64_t w;
                memcpy(&w, data + i, 8);
                if (w & 0x8080808080808080ULL) break;
                i += 8;
            }
            while (i < len && data[i] < 0x80)
                i++;
            if (i == len) break;
            st = utf8_lead(data[i++]);
            if (st == UTF8_REJECT) break;
        } else {
            uint8_t c = data[i++];
            if (c < (st & 0xff) || c > ((st >> 8) & 0xff)) {
                st = UTF8_REJECT;
                break;
            }
            uint32_t remaining = (st >> 16) - 1;
            st = remaining ? utf8_state(remaining, 0x80, 0xbf) : 0;
        }
    }
    *state = st;
    return st != UTF8_REJECT;
}

bool lr_utf8_valid(const uint8_t *data, size_t len)
{
    uint32_t st = 0;
    return lr_utf8_feed(&st, data, len) && st == 0;
}
