"""Errors and limits (PROTOCOL.md §1, §2, §3, §5): unknown op, bad
parameters, body size, malformed frames and repeated garbage, oversize
frames, the per-user send rate and the device limit."""

import asyncio
import json
import math
import time

import mpack
from harness import (OP_BIN, OP_TEXT, DaemonCase, body_bytes, main, make_usersig,
                     room_name)

FAST = ("--rate", "1000", "--user-rate", "1000")


class Requests(DaemonCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon(*FAST)

    async def test_unknown_op_gets_10003_echoing_the_id(self):
        for t in ("json", "msgpack", "tcp"):
            c = await self.client(self.d, t)
            r = await c.request("fly", id=77)
            self.assertErr(r, 10003, t)
            self.assertEqual(r["id"], 77)
            r = await c.request("fly", id=2 ** 53)  # the largest id a client may use
            self.assertErr(r, 10003, t)
            self.assertEqual(r["id"], 2 ** 53)

    async def test_missing_field_gets_10004(self):
        room = room_name("miss")
        for t in ("json", "msgpack", "tcp"):
            c = await self.user(self.d, "alice-" + t, transport=t, room=room)
            for op, fields in (("join", {}), ("leave", {}), ("send", {"room": room}),
                               ("send", {"body": "x"}), ("count", {}), ("members", {}),
                               ("login", {"user": "bob"})):
                self.assertErr(await c.request(op, **fields), 10004, (t, op, fields))

    async def test_wrong_type_gets_10004(self):
        room = room_name("type")
        c = await self.user(self.d, "alice", room=room)
        for op, fields in (("join", {"room": 123}), ("send", {"room": room, "body": 42}),
                           ("send", {"room": room, "body": "x", "random": "r"}),
                           ("members", {"room": room, "limit": "ten"})):
            self.assertErr(await c.request(op, **fields), 10004, (op, fields))

    async def test_unknown_pri_or_type_value_gets_10004(self):
        # Interpretation: `type` and `pri` take only the values PROTOCOL.md
        # lists; anything else is an invalid parameter.
        room = room_name("enum")
        c = await self.user(self.d, "alice", room=room)
        self.assertErr(await c.request("send", room=room, body="x", pri="urgent"), 10004)
        self.assertErr(await c.request("send", room=room, body="x", type="video"), 10004)

    async def test_unknown_keys_are_ignored(self):
        room = room_name("extra")
        c = await self.user(self.d, "alice", room=room)
        r = await c.ok("send", room=room, body="x", colour="blue", extra={"a": [1]})
        self.assertGreater(r["seq"], 0)
        await c.ok("count", room=room, whatever=True)

    async def test_body_over_12_kib_gets_10018_and_12_kib_passes(self):
        room = room_name("big")
        for t in ("json", "msgpack", "tcp"):
            a = await self.user(self.d, "a-" + t, transport=t, room=room)
            self.assertErr(await a.request("send", room=room, body="x" * (12 * 1024 + 1)),
                           10018, t)
            r = await a.ok("send", room=room, body="y" * (12 * 1024))
            self.assertGreater(r["seq"], 0)
        m = await self.user(self.d, "m", transport="msgpack", room=room)
        self.assertErr(await m.request("send", room=room, body=b"z" * (12 * 1024 + 1)), 10018)
        r = await m.ok("send", room=room, body=b"z" * (12 * 1024))
        watcher = await self.user(self.d, "w", transport="msgpack")
        h = (await watcher.ok("join", room=room))["history"]
        self.assertEqual(body_bytes(h[-1]["body"]), b"z" * (12 * 1024))


class MalformedFrames(DaemonCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon()

    async def _bad_gets_10011(self, c, payloads, send):
        for p in payloads:
            await send(p)
            r = await c.wait_for(lambda m: m.get("op") == "err", what="err for %r" % (p,))
            self.assertEqual(r.get("id"), 0, r)
            self.assertEqual(r.get("code"), 10011, r)
        await c.ping()  # still open and serving

    async def test_malformed_json_gets_10011_with_id_0_and_stays_open(self):
        c = await self.raw(self.d, protocols=["liveroom.v1.json"])
        await self._bad_gets_10011(c, ["not json", "{\"op\":", "[1,2]", "42", "\"op\""],
                                   c.send_text)
        self.assertEqual(c.frames[-1][0], OP_TEXT)

    async def test_malformed_msgpack_gets_10011_with_id_0_and_stays_open(self):
        c = await self.raw(self.d, protocols=["liveroom.v1.msgpack"])
        await self._bad_gets_10011(
            c, [b"\xc1", mpack.packb([1, 2]), mpack.packb({"op": "ping"})[:-2], b"",
                mpack.packb("op")], c.send_binary)
        self.assertEqual(c.frames[-1][0], OP_BIN)

    async def test_malformed_tcp_frame_gets_10011_with_id_0_and_stays_open(self):
        c = await self.tcp(self.d)
        await self._bad_gets_10011(c, [b"\xc1", mpack.packb([1]), b"\x81\xa2op"],
                                   c.send_frame)

    async def test_malformed_frames_with_python_websockets(self):
        c = await self.ws(self.d, enc="json")
        await self._bad_gets_10011(c, ["{oops", "[]"], c.send_text)
        m = await self.ws(self.d, enc="msgpack")
        await self._bad_gets_10011(m, [b"\xc1", mpack.packb(7)], m.send_binary)

    async def test_ten_bad_frames_are_tolerated_and_the_eleventh_closes_1002(self):
        c = await self.raw(self.d)
        for i in range(10):
            await c.send_text("garbage %d" % i)
        for i in range(10):
            await c.wait_for(lambda m: m.get("op") == "err" and m.get("code") == 10011)
        await c.ping()
        await c.send_text("garbage 11")
        self.assertEqual(await c.wait_closed(), 1002)

    async def test_repeated_garbage_on_msgpack_closes_1002(self):
        c = await self.ws(self.d, enc="msgpack")
        for i in range(11):
            await c.send_binary(b"\xc1")
        self.assertEqual(await c.wait_closed(), 1002)

    async def test_repeated_garbage_on_tcp_closes_the_connection(self):
        c = await self.tcp(self.d)
        for i in range(11):
            await c.send_frame(b"\xc1")
        await c.wait_closed()


class FrameSize(DaemonCase):
    async def test_frame_over_max_frame_closes_1009(self):
        d = self.daemon("--max-frame", "4096")
        room = room_name("mf")
        c = await self.raw(d)
        await c.ok("login", user="alice", sig=make_usersig("alice"))
        await c.ok("join", room=room)
        # Just under the limit passes...
        msg = {"op": "send", "id": 9, "room": room, "body": ""}
        msg["body"] = "x" * (4096 - len(json.dumps(msg)) - 8)
        await c.send_text(json.dumps(msg))
        r = await c.wait_for(lambda m: m.get("id") == 9)
        self.assertEqual(r["op"], "ok", r)
        # ...one frame over it is closed with 1009.
        await c.send_text(json.dumps({"op": "send", "id": 10, "room": room,
                                      "body": "x" * 5000}))
        self.assertEqual(await c.wait_closed(), 1009)

    async def test_frame_over_max_frame_with_python_websockets_closes_1009(self):
        d = self.daemon("--max-frame", "4096")
        c = await self.ws(d, enc="msgpack")
        await c.send_binary(mpack.packb({"op": "ping", "id": 1, "pad": b"p" * 8000}))
        self.assertEqual(await c.wait_closed(), 1009)


class UserRate(DaemonCase):
    async def test_user_over_user_rate_gets_10006_across_its_connections(self):
        d = self.daemon("--user-rate", "5", "--rate", "1000")
        room = room_name("ur")
        a1 = await self.user(d, "alice", room=room)
        a2 = await self.user(d, "alice", transport="msgpack", room=room)
        bob = await self.user(d, "bob", room=room)
        # Pipelined over both of alice's connections: 8 sends at once.
        t0 = time.monotonic()
        pending = []
        for i in range(8):
            c = a1 if i % 2 == 0 else a2
            rid = c.new_id()
            await c.send({"op": "send", "id": rid, "room": room, "body": "b%d" % i})
            pending.append((c, rid))
        replies = [await c.wait_for(lambda m, rid=rid: m.get("id") == rid)
                   for c, rid in pending]
        elapsed = time.monotonic() - t0
        oks = [r for r in replies if r["op"] == "ok"]
        errs = [r for r in replies if r["op"] == "err"]
        for r in errs:
            self.assertErr(r, 10006)
        if elapsed < 0.9:
            self.assertEqual(len(oks), 5, replies)
        else:  # a very slow machine: the window slid while sending
            self.assertLessEqual(len(oks), 5 * math.ceil(elapsed + 1), replies)
            self.assertGreater(len(errs), 0, replies)
        # Another user is not affected.
        await bob.ok("send", room=room, body="bob is fine")
        # Sliding 1-s window: once a second has passed, alice may send again.
        await asyncio.sleep(max(0.0, t0 + elapsed + 1.1 - time.monotonic()))
        await a1.ok("send", room=room, body="later")


class DeviceLimit(DaemonCase):
    async def test_login_beyond_device_limit_kicks_the_oldest_with_bye_6208(self):
        d = self.daemon("--device-limit", "2")
        room = room_name("dl")
        first = await self.user(d, "alice", room=room, name="alice-1")
        second = await self.user(d, "alice", transport="msgpack", room=room, name="alice-2")
        other = await self.user(d, "bob", room=room)
        await first.ping()
        await second.ping()
        third = await self.user(d, "alice", transport="tcp", room=room, name="alice-3")
        bye = await first.push("bye")
        self.assertEqual(bye.get("code"), 6208, bye)
        self.assertIsInstance(bye.get("msg"), str, bye)
        # Interpretation: being kicked offline is a "kicked" close (1008).
        self.assertEqual(await first.wait_closed(), 1008)
        # The two newest stay and work.
        await second.ping()
        await third.ping()
        r = await other.ok("send", room=room, body="still here?")
        await second.push("msg", room=room, seq=r["seq"])
        await third.push("msg", room=room, seq=r["seq"])
        # Other users are not affected by alice's limit.
        await other.ping()


if __name__ == "__main__":
    main()
