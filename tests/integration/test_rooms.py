"""Rooms (PROTOCOL.md §3, §4, §7, §8): join/leave/count/members, history on
join, seq order, fan-out across the three encodings, echo rules, bodies,
online count and member list, room-level refusals."""

import asyncio

from harness import DaemonCase, body_bytes, main, room_name

JOIN_FIELDS = ("room", "seq", "count", "profile", "history", "muted_until", "mute_all")
MSG_FIELDS = ("room", "seq", "from", "nick", "avatar", "type", "pri", "body", "time", "random")
# Enough room and user rate that frequency control never interferes.
FAST = ("--rate", "1000", "--user-rate", "1000")


class JoinLeave(DaemonCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon(*FAST)

    async def test_join_reply_has_every_field_for_a_fresh_room(self):
        room = room_name("fresh")
        a = await self.user(self.d, "alice")
        r = await a.ok("join", room=room)
        for f in JOIN_FIELDS:
            self.assertIn(f, r)
        self.assertEqual(r["room"], room)
        self.assertEqual(r["seq"], 0)
        self.assertEqual(r["count"], 1)
        self.assertEqual(r["history"], [])
        self.assertEqual(r["muted_until"], 0)
        self.assertIs(r["mute_all"], False)

    async def test_join_reply_seq_is_the_latest_seq(self):
        room = room_name("seq")
        a = await self.user(self.d, "alice", room=room)
        for i in range(3):
            ok = await a.ok("send", room=room, body="m%d" % i)
            self.assertEqual(ok["seq"], i + 1)
            # below the rate a message passes at once: `time`, no `held`
            self.assertIsInstance(ok["time"], int)
            self.assertNotIn("held", ok)
            self.assertNotIn("limited", ok)
        b = await self.user(self.d, "bob")
        r = await b.ok("join", room=room)
        self.assertEqual(r["seq"], 3)
        self.assertEqual(r["count"], 2)

    async def test_leave_replies_ok_and_stops_delivery(self):
        room = room_name("leave")
        a = await self.user(self.d, "alice", room=room)
        b = await self.user(self.d, "bob", room=room)
        c = await self.user(self.d, "carol", room=room)
        await b.ok("leave", room=room)
        await a.ok("send", room=room, body="after leave")
        # Sync point: a member that stayed got it; then bob stays quiet.
        await c.push("msg", room=room, body="after leave")
        await b.quiet(lambda m: m.get("op") == "msg", what="msg after leave")

    async def test_send_after_leave_gets_10007(self):
        room = room_name("sal")
        a = await self.user(self.d, "alice", room=room)
        await a.ok("leave", room=room)
        self.assertErr(await a.request("send", room=room, body="x"), 10007)

    async def test_send_without_join_gets_10007(self):
        room = room_name("nojoin")
        owner = await self.user(self.d, "owner", room=room)  # the room exists
        a = await self.user(self.d, "alice")
        self.assertErr(await a.request("send", room=room, body="x"), 10007)
        await owner.ping()

    async def test_guest_cannot_send_10007(self):
        room = room_name("guest")
        g = await self.guest(self.d, "msgpack", room=room)
        self.assertErr(await g.request("send", room=room, body="x"), 10007)
        # Not logged in at all: joins as a guest (allowed by default) and
        # is refused the same way.
        n = await self.guest(self.d, "json", room=room, login=False)
        self.assertErr(await n.request("send", room=room, body="x"), 10007)
        t = await self.guest(self.d, "tcp", room=room, login=False)
        self.assertErr(await t.request("send", room=room, body="x"), 10007)

    async def test_invalid_room_id_gets_10015(self):
        a = await self.user(self.d, "alice")
        # Interpretation: a room id with a space or a control character is
        # an invalid room id (10015), not merely a bad parameter.
        for bad in ("has space", "ctl\x01char", "new\nline"):
            self.assertErr(await a.request("join", room=bad), 10015, repr(bad))

    async def test_guests_joining_without_login_receive(self):
        room = room_name("gr")
        g = await self.guest(self.d, "tcp", room=room, login=False)
        a = await self.user(self.d, "alice", room=room)
        await a.ok("send", room=room, body="hello")
        self.assertEqual((await g.push("msg", room=room))["body"], "hello")


class Guests(DaemonCase):
    async def test_allow_guests_off_refuses_guest_joins_but_not_users(self):
        d = self.daemon("--allow-guests", "off")
        room = room_name("ng")
        a = await self.user(d, "alice", room=room)
        # Interpretation: a guest join the room does not allow is refused
        # for lack of permission (10007).
        n = await self.guest(d, "json", login=False)
        self.assertErr(await n.request("join", room=room), 10007)
        g = await self.client(d, "msgpack")
        r = await g.request("login", guest=True)
        if r.get("op") == "ok":  # guest login itself may be refused too
            self.assertErr(await g.request("join", room=room), 10007)
        q = await self.ws(d, room=room)
        m = await q.wait_for(lambda m: True, what="first frame")
        self.assertEqual((m.get("op"), m.get("id")), ("err", 0), m)
        self.assertEqual(await q.wait_closed(), 1008)
        self.assertEqual((await a.ok("count", room=room))["count"], 1)


class Moderation(DaemonCase):
    async def test_moderation_by_a_plain_member_gets_10007(self):
        d = self.daemon()
        room = room_name("mod")
        a = await self.user(d, "alice", room=room)
        b = await self.user(d, "bob", room=room)
        self.assertErr(await a.request("mute", room=room, user="bob", secs=60), 10007)
        self.assertErr(await a.request("kick", room=room, user="bob"), 10007)
        self.assertErr(await a.request("mute_all", room=room, on=True), 10007)
        # Nothing happened to bob.
        r = await b.ok("send", room=room, body="still talking")
        self.assertGreater(r["seq"], 0)
        await a.push("msg", room=room, seq=r["seq"])
        self.assertEqual(a.take(lambda m: m.get("op") == "event"), [])


class MaxRooms(DaemonCase):
    async def test_max_rooms_per_conn_refuses_one_more_until_a_leave(self):
        d = self.daemon("--max-rooms-per-conn", "2")
        a = await self.user(d, "alice")
        r1, r2, r3 = room_name("m1"), room_name("m2"), room_name("m3")
        await a.ok("join", room=r1)
        await a.ok("join", room=r2)
        # PROTOCOL.md names no code for this limit: any err will do.
        r = await a.request("join", room=r3)
        self.assertEqual(r.get("op"), "err", r)
        self.assertIsInstance(r.get("code"), int, r)
        await a.ok("leave", room=r1)
        await a.ok("join", room=r3)
        # The limit is per connection: another connection of the same user
        # has its own.
        b = await self.user(d, "alice")
        await b.ok("join", room=r1)
        await b.ok("join", room=r2)


class AutoCreate(DaemonCase):
    async def test_auto_create_off_join_unknown_room_gets_10010(self):
        d = self.daemon("--auto-create", "off")
        a = await self.user(d, "alice")
        self.assertErr(await a.request("join", room=room_name("none")), 10010)
        g = await self.guest(d, "msgpack")
        self.assertErr(await g.request("join", room=room_name("none")), 10010)

    async def test_auto_create_on_creates_the_room_on_first_join(self):
        d = self.daemon("--auto-create", "on")
        a = await self.user(d, "alice")
        r = await a.ok("join", room=room_name("new"))
        self.assertEqual(r["count"], 1)


class History(DaemonCase):
    async def test_history_on_join_is_oldest_first_and_limited_to_history(self):
        d = self.daemon("--history", "5", *FAST)
        room = room_name("hist")
        a = await self.user(d, "alice", nick="Al", room=room)
        for i in range(8):
            await a.ok("send", room=room, body="m%d" % i, type="custom", random=1000 + i)
        b = await self.user(d, "bob")
        r = await b.ok("join", room=room)
        h = r["history"]
        self.assertEqual([m["seq"] for m in h], [4, 5, 6, 7, 8])
        self.assertEqual([m["body"] for m in h], ["m3", "m4", "m5", "m6", "m7"])
        self.assertEqual([m["random"] for m in h], [1003, 1004, 1005, 1006, 1007])
        for m in h:
            self.assertEqual(m["from"], "alice")
            self.assertEqual(m["nick"], "Al")
            self.assertEqual(m["type"], "custom")
            self.assertEqual(m["room"], room)

    async def test_history_defaults_to_the_last_20(self):
        d = self.daemon(*FAST)
        room = room_name("h20")
        a = await self.user(d, "alice", room=room)
        for i in range(25):
            await a.ok("send", room=room, body="m%d" % i)
        b = await self.user(d, "bob", transport="msgpack")
        h = (await b.ok("join", room=room))["history"]
        self.assertEqual([m["seq"] for m in h], list(range(6, 26)))
        self.assertEqual([body_bytes(m["body"]) for m in h],
                         [("m%d" % i).encode() for i in range(5, 25)])

    async def test_history_zero_keeps_nothing(self):
        d = self.daemon("--history", "0")
        room = room_name("h0")
        a = await self.user(d, "alice", room=room)
        await a.ok("send", room=room, body="x")
        b = await self.user(d, "bob")
        self.assertEqual((await b.ok("join", room=room))["history"], [])


class Delivery(DaemonCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon(*FAST)

    async def test_seq_is_contiguous_and_every_receiver_sees_seq_order(self):
        room = room_name("order")
        senders = [await self.user(self.d, "s%d" % i, transport=t, room=room)
                   for i, t in enumerate(("json", "msgpack", "tcp"))]
        watchers = [await self.user(self.d, "w%d" % i, transport=t, room=room)
                    for i, t in enumerate(("json", "msgpack", "tcp"))]
        per = 100
        ids = {}
        # Pipelined: all requests go out before any reply is awaited.
        for s in senders:
            ids[s] = []
            for i in range(per):
                rid = s.new_id()
                ids[s].append(rid)
                await s.send({"op": "send", "id": rid, "room": room,
                              "body": "%s-%d" % (s.name, i)})
        seqs = []
        own = {}
        for s in senders:
            own[s] = set()
            for rid in ids[s]:
                r = await s.wait_for(lambda m, rid=rid: m.get("id") == rid)
                self.assertEqual(r.get("op"), "ok", r)
                self.assertFalse(r.get("limited", False), r)
                seqs.append(r["seq"])
                own[s].add(r["seq"])
        total = per * len(senders)
        self.assertEqual(sorted(seqs), list(range(1, total + 1)))
        for w in watchers:
            got = [m["seq"] for m in await w.msgs(total, room=room)]
            self.assertEqual(got, list(range(1, total + 1)), w.name)
        # A sender sees everyone's messages but its own, still in order.
        for s in senders:
            got = [m["seq"] for m in await s.msgs(total - per, room=room)]
            self.assertEqual(got, sorted(got), s.name)
            self.assertEqual(set(got), set(seqs) - own[s], s.name)

    async def test_same_message_reaches_json_msgpack_and_tcp_alike(self):
        room = room_name("enc")
        conns = {}
        for t in ("json", "msgpack", "tcp"):
            conns[t] = await self.user(self.d, "u-" + t, transport=t, nick="N" + t,
                                       avatar="http://a/" + t, room=room)
        for i, (t, sender) in enumerate(conns.items()):
            r = await sender.ok("send", room=room, body="caf\u00e9 %d" % i, type="gift",
                                pri="high", random=4000000000 + i)
            got = {}
            for u, c in conns.items():
                if c is sender:
                    continue
                m = await c.push("msg", room=room, seq=r["seq"])
                for f in MSG_FIELDS:
                    self.assertIn(f, m, (u, m))
                got[u] = m
            for u, m in got.items():
                self.assertEqual(m["room"], room)
                self.assertEqual(m["from"], "u-" + t)
                self.assertEqual(m["nick"], "N" + t)
                self.assertEqual(m["avatar"], "http://a/" + t)
                self.assertEqual(m["type"], "gift")
                self.assertEqual(m["pri"], "high")
                self.assertEqual(m["random"], 4000000000 + i)
                self.assertEqual(body_bytes(m["body"]), ("caf\u00e9 %d" % i).encode())
                self.assertIsInstance(m["time"], int)
            # No per-recipient data: every receiver got the same fields.
            vals = list(got.values())
            norm = [{k: (body_bytes(v) if k == "body" else v) for k, v in m.items()}
                    for m in vals]
            self.assertEqual(norm[0], norm[1])

    async def test_sender_gets_no_msg_but_its_other_device_does(self):
        room = room_name("echo")
        dev1 = await self.user(self.d, "alice", room=room, name="alice-1")
        dev2 = await self.user(self.d, "alice", transport="msgpack", room=room, name="alice-2")
        bob = await self.user(self.d, "bob", room=room)
        r1 = await dev1.ok("send", room=room, body="from dev1")
        m = await dev2.push("msg", room=room, seq=r1["seq"])
        self.assertEqual(m["from"], "alice")
        self.assertEqual(body_bytes(m["body"]), b"from dev1")
        await bob.push("msg", room=room, seq=r1["seq"])
        # Sync point: a later message reaches dev1; messages arrive in seq
        # order, so its own earlier one would have come before.
        r2 = await bob.ok("send", room=room, body="from bob")
        await dev1.push("msg", room=room, seq=r2["seq"])
        self.assertEqual(dev1.take(lambda m: m.get("op") == "msg" and m.get("seq") == r1["seq"]),
                         [])

    async def test_json_body_object_arrives_as_an_object(self):
        room = room_name("obj")
        a = await self.user(self.d, "alice", room=room)
        b = await self.user(self.d, "bob", room=room)
        body = {"text": "hi", "n": [1, 2, 3], "nested": {"ok": True}}
        await a.ok("send", room=room, body=body, type="custom")
        m = await b.push("msg", room=room)
        self.assertEqual(m["body"], body)
        self.assertEqual(m["type"], "custom")
        # And in history the same.
        c = await self.user(self.d, "carol")
        h = (await c.ok("join", room=room))["history"]
        self.assertEqual(h[-1]["body"], body)

    async def test_msgpack_body_as_bin_or_str_arrives_with_the_same_bytes(self):
        room = room_name("bin")
        a = await self.user(self.d, "alice", transport="msgpack", room=room)
        b = await self.user(self.d, "bob", transport="msgpack", room=room)
        j = await self.user(self.d, "jay", transport="json", room=room)
        for body in (b"bin body \x01\x02", "str body \u00e9"):
            await a.ok("send", room=room, body=body)
            m = await b.push("msg", room=room)
            self.assertEqual(body_bytes(m["body"]), body_bytes(body))
        # Interpretation: a JSON receiver gets the body as a string (JSON has
        # no bytes); both bodies above are valid UTF-8.
        m1 = await j.push("msg", room=room)
        m2 = await j.push("msg", room=room)
        self.assertEqual(m1["body"], "bin body \x01\x02")
        self.assertEqual(m2["body"], "str body \u00e9")

    async def test_type_and_pri_default_to_text_and_normal(self):
        room = room_name("def")
        a = await self.user(self.d, "alice", room=room)
        b = await self.user(self.d, "bob", room=room)
        await a.ok("send", room=room, body="plain")
        m = await b.push("msg", room=room)
        self.assertEqual((m["type"], m["pri"]), ("text", "normal"))
        for t in ("text", "custom", "like", "gift"):
            for p in ("high", "normal", "low", "lowest"):
                r = await a.ok("send", room=room, body=t + p, type=t, pri=p)
                m = await b.push("msg", room=room, seq=r["seq"])
                self.assertEqual((m["type"], m["pri"]), (t, p))

    async def test_msg_time_is_wall_clock_ms(self):
        import time
        room = room_name("time")
        a = await self.user(self.d, "alice", room=room)
        b = await self.user(self.d, "bob", room=room)
        before = int(time.time() * 1000)
        await a.ok("send", room=room, body="t")
        m = await b.push("msg", room=room)
        after = int(time.time() * 1000)
        # Same machine: only a sanity bound (ms since epoch, not seconds).
        self.assertTrue(before - 5000 <= m["time"] <= after + 5000, (before, m["time"], after))


class CountAndMembers(DaemonCase):
    async def test_user_on_two_devices_counts_once_and_guests_count_each(self):
        d = self.daemon()
        room = room_name("cnt")
        a1 = await self.user(d, "alice", room=room)
        await self.user(d, "alice", transport="tcp", room=room)
        await self.user(d, "bob", transport="msgpack", room=room)
        self.assertEqual((await a1.ok("count", room=room))["count"], 2)
        await self.guest(d, room=room)
        await self.guest(d, "tcp", room=room, login=False)
        self.assertEqual((await a1.ok("count", room=room))["count"], 4)
        c = await self.user(d, "carol")
        self.assertEqual((await c.ok("join", room=room))["count"], 5)

    async def test_count_drops_only_when_a_users_last_device_leaves(self):
        d = self.daemon()
        room = room_name("cnt2")
        a1 = await self.user(d, "alice", room=room)
        a2 = await self.user(d, "alice", room=room)
        b = await self.user(d, "bob", room=room)
        await a1.ok("leave", room=room)
        self.assertEqual((await b.ok("count", room=room))["count"], 2)
        await a2.close()  # a disconnect leaves every room
        deadline = asyncio.get_running_loop().time() + 10
        while (await b.ok("count", room=room))["count"] != 1:
            self.assertLess(asyncio.get_running_loop().time(), deadline,
                            "count never dropped to 1 after alice disconnected")
            await asyncio.sleep(0.05)

    async def test_count_is_pushed_after_joins(self):
        d = self.daemon("--count-interval-ms", "200")
        room = room_name("cpush")
        a = await self.user(d, "alice", room=room)
        await self.user(d, "bob", room=room)
        await self.user(d, "carol", transport="msgpack", room=room)
        # Pushes are rate-limited: intermediate values may be skipped, but
        # the count settles at 3 and is pushed.
        m = await a.push("count", room=room, count=3)
        self.assertEqual(set(m) >= {"op", "room", "count"}, True)
        dave = await self.user(d, "dave", room=room)
        await a.push("count", room=room, count=4)
        await dave.ok("leave", room=room)
        await a.push("count", room=room, count=3)

    async def test_members_are_newest_first_and_the_next_takes_a_leavers_place(self):
        d = self.daemon()
        room = room_name("mem")
        conns = {}
        for i in range(1, 6):
            conns["u%d" % i] = await self.user(d, "u%d" % i, nick="nick%d" % i,
                                               avatar="av%d" % i, room=room)
        q = conns["u1"]
        r = await q.ok("members", room=room, limit=3)
        self.assertEqual([m["user"] for m in r["members"]], ["u5", "u4", "u3"])
        self.assertEqual(r["count"], 5)
        for m in r["members"]:
            self.assertEqual(m["nick"], "nick" + m["user"][1:])
            self.assertEqual(m["avatar"], "av" + m["user"][1:])
            self.assertIsInstance(m["joined"], int)
        joined = [m["joined"] for m in r["members"]]
        self.assertEqual(joined, sorted(joined, reverse=True))
        await conns["u4"].ok("leave", room=room)
        r = await q.ok("members", room=room, limit=3)
        self.assertEqual([m["user"] for m in r["members"]], ["u5", "u3", "u2"])
        self.assertEqual(r["count"], 4)
        r = await q.ok("members", room=room)  # default limit 100
        self.assertEqual([m["user"] for m in r["members"]], ["u5", "u3", "u2", "u1"])

    async def test_members_lists_a_user_with_two_devices_once(self):
        d = self.daemon()
        room = room_name("mem2")
        a = await self.user(d, "alice", room=room)
        b1 = await self.user(d, "bob", room=room)
        await self.user(d, "bob", transport="tcp", room=room)
        r = await a.ok("members", room=room)
        self.assertEqual([m["user"] for m in r["members"]], ["bob", "alice"])
        await b1.ok("leave", room=room)  # bob's other device is still there
        r = await a.ok("members", room=room)
        self.assertEqual(sorted(m["user"] for m in r["members"]), ["alice", "bob"])

    async def test_members_limit_outside_1_to_1000_gets_10004(self):
        d = self.daemon()
        room = room_name("meml")
        a = await self.user(d, "alice", room=room)
        # Interpretation: limit is 1-1000; outside it is an invalid parameter.
        for bad in (0, 1001):
            self.assertErr(await a.request("members", room=room, limit=bad), 10004, bad)
        self.assertEqual(len((await a.ok("members", room=room, limit=1000))["members"]), 1)


if __name__ == "__main__":
    main()
