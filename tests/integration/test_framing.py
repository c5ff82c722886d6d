"""Framing (PROTOCOL.md §1, RFC 6455): frames split and batched on the wire,
fragmented messages, the close handshake, and protocol violations (1002).
These use the hand-written RawWs / TcpConn because libraries hide exactly
what is checked here."""

import asyncio
import json
import struct

import mpack
from harness import (OP_BIN, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, DaemonCase, main,
                     ws_frame)


class Batching(DaemonCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon()

    async def test_several_ws_frames_in_one_write_each_get_a_reply(self):
        c = await self.raw(self.d)
        data = b"".join(ws_frame(OP_TEXT, json.dumps({"op": "ping", "id": i}).encode())
                        for i in range(100, 110))
        await c._raw_write(data)
        for i in range(100, 110):
            r = await c.wait_for(lambda m, i=i: m.get("id") == i)
            self.assertEqual(r["op"], "pong")

    async def test_a_ws_frame_trickled_byte_by_byte_is_one_request(self):
        c = await self.raw(self.d)
        frame = ws_frame(OP_TEXT, json.dumps({"op": "ping", "id": 5}).encode())
        for i in range(len(frame)):
            await c._raw_write(frame[i:i + 1])
            await asyncio.sleep(0.005)
        r = await c.wait_for(lambda m: m.get("id") == 5)
        self.assertEqual(r["op"], "pong")

    async def test_several_tcp_frames_in_one_write_and_one_trickled(self):
        c = await self.tcp(self.d)
        data = b""
        for i in range(1, 6):
            p = mpack.packb({"op": "ping", "id": i})
            data += struct.pack(">I", len(p)) + p
        c.writer.write(data)
        await c.writer.drain()
        for i in range(1, 6):
            await c.wait_for(lambda m, i=i: m.get("id") == i and m.get("op") == "pong")
        p = mpack.packb({"op": "ping", "id": 99})
        frame = struct.pack(">I", len(p)) + p
        for i in range(len(frame)):
            c.writer.write(frame[i:i + 1])
            await c.writer.drain()
            await asyncio.sleep(0.005)
        await c.wait_for(lambda m: m.get("id") == 99 and m.get("op") == "pong")

    async def test_a_fragmented_message_is_reassembled_around_a_ping(self):
        c = await self.raw(self.d, protocols=["liveroom.v1.msgpack"])
        payload = mpack.packb({"op": "ping", "id": 31, "pad": "x" * 300})
        a, b, e = payload[:100], payload[100:200], payload[200:]
        await c._raw_write(ws_frame(OP_BIN, a, fin=False))
        await c._raw_write(ws_frame(OP_CONT, b, fin=False))
        # Control frames may come between fragments (RFC 6455 §5.4).
        await c._raw_write(ws_frame(OP_PING, b"mid"))
        await c._raw_write(ws_frame(OP_CONT, e, fin=True))
        await c.wait_pong(b"mid")
        r = await c.wait_for(lambda m: m.get("id") == 31)
        self.assertEqual(r["op"], "pong")


class CloseHandshake(DaemonCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon()

    async def test_client_close_is_answered_with_a_close_frame(self):
        c = await self.raw(self.d)
        await c.ping()
        await c._raw_write(ws_frame(OP_CLOSE, struct.pack(">H", 1000) + b"done"))
        # The engine answers with its own close frame, then closes TCP.
        self.assertEqual(await c.wait_closed(), 1000)

    async def test_python_websockets_close_completes_cleanly(self):
        c = await self.ws(self.d)
        await c.ping()
        await asyncio.wait_for(c.ws.close(1000, "bye"), 5)
        self.assertEqual(c.ws.close_code, 1000)
        # The engine keeps serving others.
        other = await self.ws(self.d, enc="msgpack")
        await other.ping()


class Violations(DaemonCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon()

    async def _closes_1002(self, frame):
        c = await self.raw(self.d)
        await c.ping()
        await c._raw_write(frame)
        self.assertEqual(await c.wait_closed(), 1002)
        other = await self.raw(self.d)
        await other.ping()  # the engine is fine

    async def test_unmasked_client_frame_closes_1002(self):
        # RFC 6455 §5.1: a server must close on an unmasked client frame.
        await self._closes_1002(ws_frame(OP_TEXT, b'{"op":"ping","id":1}', mask=False))

    async def test_reserved_opcode_closes_1002(self):
        await self._closes_1002(ws_frame(0x3, b"?"))

    async def test_rsv_bits_without_an_extension_close_1002(self):
        await self._closes_1002(ws_frame(OP_TEXT, b'{"op":"ping","id":1}', rsv=4))

    async def test_continuation_without_a_start_closes_1002(self):
        await self._closes_1002(ws_frame(OP_CONT, b"x"))

    async def test_fragmented_control_frame_closes_1002(self):
        await self._closes_1002(ws_frame(OP_PING, b"x", fin=False))


if __name__ == "__main__":
    main()
