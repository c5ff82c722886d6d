/*
 * ws.h: RFC 6455 framing, both directions, with no I/O. The server side
 * parses masked client frames (unmasking in place), reassembles fragmented
 * messages within a size limit, validates UTF-8 of text messages and close
 * reasons, and encodes unmasked frame headers for pushes. The client side
 * (used by the load generator and the project's C client) encodes masked
 * frames and parses unmasked ones with the same parser.
 */
#ifndef LR_NET_WS_H
#define LR_NET_WS_H

#include "core/common.h"

enum {
    LR_WS_OP_CONT = 0x0,
    LR_WS_OP_TEXT = 0x1,
    LR_WS_OP_BINARY = 0x2,
    LR_WS_OP_CLOSE = 0x8,
    LR_WS_OP_PING = 0x9,
    LR_WS_OP_PONG = 0xA,
};

#define LR_WS_MAX_HEADER 14 /* 2 + 8 extended length + 4 mask */
#define LR_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
 * out receives 28 characters and a NUL. */
void lr_ws_accept_key(const char *key, size_t key_len, char out[29]);

/* Encode an unmasked (server) frame header with FIN set into out; returns its
 * length (2, 4 or 10). */
size_t lr_ws_header_encode(uint8_t out[LR_WS_MAX_HEADER], int opcode, uint64_t payload_len);

/* Encode a masked (client) frame header with FIN set; writes the 4 mask bytes
 * at the end of the header. Returns the header length (6, 8 or 14). */
size_t lr_ws_client_header_encode(uint8_t out[LR_WS_MAX_HEADER], int opcode, uint64_t payload_len,
                                  const uint8_t mask[4]);

/* XOR payload bytes with the mask, starting at mask offset `offset`. */
void lr_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset);

/* Build a close frame payload: 2-byte code + reason (truncated to fit 125). */
size_t lr_ws_close_payload(uint8_t out[125], uint16_t code, const char *reason);

/* True when data[0..len) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
bool lr_utf8_valid(const uint8_t *data, size_t len);

/* Incremental UTF-8 validator for fragmented text: state starts at 0;
 * returns false as soon as the bytes can no longer be valid UTF-8. After the
 * last fragment the message is valid iff *state == 0. */
bool lr_utf8_feed(uint32_t *state, const uint8_t *data, size_t len);

typedef enum lr_ws_event_kind {
    LR_WS_EV_MESSAGE = 1, /* complete text or binary message */
    LR_WS_EV_PING,
    LR_WS_EV_PONG,
    LR_WS_EV_CLOSE,
} lr_ws_event_kind;

typedef struct lr_ws_event {
    lr_ws_event_kind kind;
    int opcode;          /* LR_WS_OP_TEXT or LR_WS_OP_BINARY for messages */
    uint8_t *data;       /* payload: in the caller's buffer or the parser's */
    size_t len;          /* reassembly buffer; valid until the next call */
    uint16_t close_code; /* LR_WS_EV_CLOSE: code sent by the peer, 1005 when none */
} lr_ws_event;

typedef struct lr_ws_parser {
    bool server;        /* true: frames must be masked; false: must not be */
    size_t max_message; /* reassembled message limit (LR_MAX_WS_MESSAGE) */
    /* fragmentation state */
    int frag_opcode;     /* opcode of the message being reassembled, 0 when none */
    uint32_t utf8_state; /* streaming UTF-8 validation of a fragmented text */
    lr_buf frag;         /* reassembly buffer, allocated only while fragmented */
} lr_ws_parser;

void lr_ws_parser_init(lr_ws_parser *p, bool server, size_t max_message);
void lr_ws_parser_free(lr_ws_parser *p); /* releases the reassembly buffer */

/*
 * Parse at most one frame from buf[0..len). Returns:
 *   1  an event is in *ev; *consumed bytes of buf were used
 *   0  no event: either the frame is incomplete (*consumed == 0, keep the
 *      bytes and call again with more), or a non-final fragment was absorbed
 *      (*consumed > 0; call again with the rest)
 *  <0  the negated close code to send (-1002 protocol error, -1007 invalid
 *      UTF-8, -1009 too big, -1011 out of memory for reassembly); the
 *      connection must be closed.
 * A server parser rejects unmasked frames, reserved bits (no extension is
 * negotiated), unknown opcodes, control frames over 125 bytes or fragmented,
 * continuation without a start, a new message inside a fragmented one, and
 * close payloads of 1 byte, with an invalid code, or a non-UTF-8 reason.
 * Control frames may arrive between fragments. Payloads are unmasked in place.
 * A frame whose declared length alone exceeds max_message is refused at its
 * header, before its payload arrives. Length fields must use the minimal
 * encoding (RFC 6455 §5.2). Close codes accepted from the peer: 1000-1003,
 * 1007-1014, 3000-4999. For LR_WS_EV_CLOSE, data/len is the whole payload
 * (code included) so it can be echoed back verbatim.
 */
int lr_ws_parse(lr_ws_parser *p, uint8_t *buf, size_t len, size_t *consumed, lr_ws_event *ev);

#endif
