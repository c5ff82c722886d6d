/*
 * ws.c owns RFC 6455 framing for both ends of a connection: the handshake
 * accept key, frame header encoding, masking, and the frame parser with its
 * fragment reassembly. It does no I/O and never allocates except the
 * reassembly buffer of a fragmented message, which it frees on the call
 * after that message was delivered. It never reads past the caller's len and
 * never touches a payload before the whole frame is in the buffer, so an
 * incomplete frame can be handed back unchanged with more bytes appended.
 */
#include "net/ws.h"

#include <openssl/evp.h>

#define WS_FIN 0x80
#define WS_RSV 0x70
#define WS_MASK_BIT 0x80
#define WS_MAX_CONTROL 125
#define WS_SHA1_LEN 20

void lr_ws_accept_key(const char *key, size_t key_len, char out[29])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    /* Streamed rather than concatenated so a hostile key of any length
     * needs no buffer; only the handshake pays for it. */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, key, key_len) == 1 &&
              EVP_DigestUpdate(ctx, LR_WS_GUID, sizeof(LR_WS_GUID) - 1) == 1 &&
              EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len == WS_SHA1_LEN;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        /* An empty accept fails the client's handshake check, which is the
         * right outcome when we could not compute the real one. */
        out[0] = '\0';
        return;
    }
    EVP_EncodeBlock((unsigned char *)out, md, WS_SHA1_LEN); /* 28 chars + NUL */
}

static size_t put_len(uint8_t *out, uint8_t mask_bit, uint64_t n)
{
    if (n < 126) {
        out[1] = mask_bit | (uint8_t)n;
        return 2;
    }
    if (n <= 0xffff) {
        out[1] = mask_bit | 126;
        out[2] = (uint8_t)(n >> 8);
        out[3] = (uint8_t)n;
        return 4;
    }
    out[1] = mask_bit | 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(n >> (56 - 8 * i));
    return 10;
}

size_t lr_ws_header_encode(uint8_t out[LR_WS_MAX_HEADER], int opcode, uint64_t payload_len)
{
    out[0] = WS_FIN | (uint8_t)(opcode & 0x0f);
    return put_len(out, 0, payload_len);
}

size_t lr_ws_client_header_encode(uint8_t out[LR_WS_MAX_HEADER], int opcode, uint64_t payload_len,
                                  const uint8_t mask[4])
{
    out[0] = WS_FIN | (uint8_t)(opcode & 0x0f);
    size_t n = put_len(out, WS_MASK_BIT, payload_len);
    memcpy(out + n, mask, 4);
    return n + 4;
}

/* 16-byte generic vector: SSE2/NEON where present, scalar pairs elsewhere. */
typedef uint64_t ws_v128 __attribute__((vector_size(16)));

void lr_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset)
{
    /* The mask repeats every 4 bytes, so a copy rotated to `offset` XORs a
     * whole word per step; memcpy keeps unaligned access legal and compiles
     * to plain loads and stores. Two 16-byte vectors per step run about
     * twice as fast as one 64-bit word here; the word loop and the byte loop
     * finish the tail. */
    uint32_t m32;
    memcpy(&m32, mask, 4);
    unsigned rot = (unsigned)(offset & 3) * 8;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (rot) m32 = m32 >> rot | m32 << (32 - rot);
#else
    if (rot) m32 = m32 << rot | m32 >> (32 - rot);
#endif
    uint64_t m64 = (uint64_t)m32 << 32 | m32;
    uint8_t m[8];
    memcpy(m, &m64, 8);
    ws_v128 mv = {m64, m64};
    size_t i = 0;
    for (; len - i >= 32; i += 32) {
        ws_v128 a, b;
        memcpy(&a, data + i, 16);
        memcpy(&b, data + i + 16, 16);
        a ^= mv;
        b ^= mv;
        memcpy(data + i, &a, 16);
        memcpy(data + i + 16, &b, 16);
    }
    for (; len - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, data + i, 8);
        w ^= m64;
        memcpy(data + i, &w, 8);
    }
    for (; i < len; i++)
        data[i] ^= m[i & 7];
}

size_t lr_ws_close_payload(uint8_t out[125], uint16_t code, const char *reason)
{
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    size_t n = reason ? strnlen(reason, WS_MAX_CONTROL - 1) : 0;
    if (n > WS_MAX_CONTROL - 2) {
        /* Cut on a character boundary: a reason split mid-sequence would
         * make the peer fail our close with 1007. */
        n = WS_MAX_CONTROL - 2;
        while (n > 0 && ((uint8_t)reason[n] & 0xc0) == 0x80)
            n--;
    }
    if (n) memcpy(out + 2, reason, n);
    return 2 + n;
}

void lr_ws_parser_init(lr_ws_parser *p, bool server, size_t max_message)
{
    memset(p, 0, sizeof *p);
    p->server = server;
    p->max_message = max_message;
}

void lr_ws_parser_free(lr_ws_parser *p)
{
    lr_buf_free(&p->frag);
    p->frag_opcode = 0;
    p->utf8_state = 0;
}

/* RFC 6455 §7.4 plus the IANA registry: 1004-1006 and 1015 are reserved or
 * must never be sent; 3000-4999 belong to libraries and applications. */
static bool close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

static int parse_close(uint8_t *payload, size_t n, lr_ws_event *ev)
{
    if (n == 0) {
        ev->close_code = 1005; /* "no status received" is ours to report, never sent */
        return 1;
    }
    if (n == 1) return -LR_WS_CLOSE_PROTOCOL;
    unsigned code = (unsigned)payload[0] << 8 | payload[1];
    if (!close_code_valid(code)) return -LR_WS_CLOSE_PROTOCOL;
    if (!lr_utf8_valid(payload + 2, n - 2)) return -LR_WS_CLOSE_BAD_DATA;
    ev->close_code = (uint16_t)code;
    return 1;
}

int lr_ws_parse(lr_ws_parser *p, uint8_t *buf, size_t len, size_t *consumed, lr_ws_event *ev)
{
    *consumed = 0;
    /* The last reassembled message was only promised until this call. */
    if (!p->frag_opcode && p->frag.p) lr_buf_free(&p->frag);
    if (len < 2) return 0;

    /* Everything decidable from the first two bytes is decided before we
     * wait for the rest, so a bad frame is refused as soon as it starts. */
    uint8_t b0 = buf[0], b1 = buf[1];
    bool fin = b0 & WS_FIN;
    int op = b0 & 0x0f;
    bool control = op & 0x8;
    if (b0 & WS_RSV) return -LR_WS_CLOSE_PROTOCOL; /* no extension is negotiated */
    if ((bool)(b1 & WS_MASK_BIT) != p->server) return -LR_WS_CLOSE_PROTOCOL;
    uint64_t plen = b1 & 0x7f;
    if (control) {
        if (op > LR_WS_OP_PONG) return -LR_WS_CLOSE_PROTOCOL;
        if (!fin || plen > WS_MAX_CONTROL) return -LR_WS_CLOSE_PROTOCOL;
    } else {
        if (op > LR_WS_OP_BINARY) return -LR_WS_CLOSE_PROTOCOL;
        if (op == LR_WS_OP_CONT ? !p->frag_opcode : p->frag_opcode != 0)
            return -LR_WS_CLOSE_PROTOCOL;
    }

    size_t hlen = 2;
    if (plen == 126) {
        if (len < 4) return 0;
        plen = (uint64_t)buf[2] << 8 | buf[3];
        if (plen < 126) return -LR_WS_CLOSE_PROTOCOL; /* §5.2: minimal length encoding */
        hlen = 4;
    } else if (plen == 127) {
        if (len < 10) return 0;
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = plen << 8 | buf[2 + i];
        if ((plen >> 63) || plen <= 0xffff) return -LR_WS_CLOSE_PROTOCOL;
        hlen = 10;
    }
    if (!control) {
        /* frag.len never exceeds max_message, so the subtraction is safe. */
        size_t have = p->frag_opcode ? p->frag.len : 0;
        if (plen > p->max_message - have) return -LR_WS_CLOSE_TOO_BIG;
    }

    uint8_t mask[4];
    if (p->server) {
        if (len < hlen + 4) return 0;
        memcpy(mask, buf + hlen, 4);
        hlen += 4;
    }
    if (len - hlen < plen) return 0;
    size_t n = (size_t)plen;
    uint8_t *payload = buf + hlen;
    if (p->server) lr_ws_mask(payload, n, mask, 0);
    size_t total = hlen + n;

    ev->opcode = op;
    ev->data = payload;
    ev->len = n;
    ev->close_code = 0;
    if (control) {
        int rc = 1;
        if (op == LR_WS_OP_PING)
            ev->kind = LR_WS_EV_PING;
        else if (op == LR_WS_OP_PONG)
            ev->kind = LR_WS_EV_PONG;
        else {
            ev->kind = LR_WS_EV_CLOSE;
            rc = parse_close(payload, n, ev);
        }
        if (rc == 1) *consumed = total;
        return rc;
    }

    if (op != LR_WS_OP_CONT && fin) {
        /* The common case: a whole message in one frame, delivered in place. */
        if (op == LR_WS_OP_TEXT && !lr_utf8_valid(payload, n)) return -LR_WS_CLOSE_BAD_DATA;
        ev->kind = LR_WS_EV_MESSAGE;
        *consumed = total;
        return 1;
    }

    if (op != LR_WS_OP_CONT) {
        p->frag_opcode = op;
        p->utf8_state = 0;
        p->frag.len = 0;
    }
    /* Validated per fragment so an impossible sequence is refused now, not
     * after the rest of the message has been buffered. */
    if (p->frag_opcode == LR_WS_OP_TEXT) {
        if (!lr_utf8_feed(&p->utf8_state, payload, n)) return -LR_WS_CLOSE_BAD_DATA;
        if (fin && p->utf8_state != 0) return -LR_WS_CLOSE_BAD_DATA; /* truncated at the end */
    }
    if (fin && p->frag.len == 0) {
        /* Every earlier fragment was empty: this payload is the message. */
    } else if (lr_buf_append(&p->frag, payload, n) != LR_OK) {
        return -LR_WS_CLOSE_INTERNAL;
    }
    *consumed = total;
    if (!fin) return 0;

    ev->kind = LR_WS_EV_MESSAGE;
    ev->opcode = p->frag_opcode;
    if (p->frag.len) {
        ev->data = p->frag.p;
        ev->len = p->frag.len;
    }
    p->frag_opcode = 0;
    p->utf8_state = 0;
    return 1;
}
