"""Admin messages and accounts (ADMIN_API.md §2): send_group_msg reaches
every member with the returned MsgSeq, system notifications become `event`
system, send_broadcast_msg reaches every connection in any room exactly once
(deduplicated by Random, limited by --broadcast-rate), account_import sets
the nick/avatar of pushes, and im_open_login_svc/kick closes every
connection of the user."""

import asyncio
import json
import time

from adminhttp import AdminCase, read_response, raw_socket, request_bytes, rnd, text_body
from harness import WAIT, DaemonError, Daemon, TcpConn, main, make_usersig, room_name

FAST = ("--rate", "1000", "--user-rate", "1000")
MSG_FIELDS = ("room", "seq", "from", "nick", "avatar", "type", "pri", "body", "time", "random")
BCAST_FIELDS = ("from", "body", "type", "time", "random")


def carries(body, text):
    """The pushed body carries `text` (a TIMTextElem's Text travels as the
    body itself or inside the Tencent shape)."""
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", "replace")
    if isinstance(body, str):
        return text in body
    return text in json.dumps(body, ensure_ascii=False)


class SendGroupMsg(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon(*FAST)
        self.room = room_name("rest")
        await self.create(self.d, self.room)

    async def test_members_get_the_msg_with_the_returned_msg_seq(self):
        a = await self.user(self.d, "alice", room=self.room)
        b = await self.user(self.d, "bob", room=self.room, transport="msgpack")
        t0 = time.time()
        r = await self.aok(self.d, "send_group_msg", {
            "GroupId": self.room, "Random": 4242, "From_Account": "alice",
            "MsgBody": text_body("hello room")})
        self.assertEqual(r["MsgSeq"], 1)
        self.assertIsInstance(r["MsgTime"], int)
        self.assertLess(abs(r["MsgTime"] - t0), 60)  # unix seconds, not ms
        for c in (a, b):  # alice too: REST sends come from no connection
            m = await c.push("msg", room=self.room, seq=1)
            for f in MSG_FIELDS:
                self.assertIn(f, m)
            self.assertEqual(m["from"], "alice")
            self.assertEqual(m["random"], 4242)
            self.assertEqual(m["pri"], "high")  # REST default (§6 rule 6)
            self.assertTrue(carries(m["body"], "hello room"), m)
        r2 = await self.aok(self.d, "send_group_msg", {
            "GroupId": self.room, "Random": rnd(), "MsgBody": text_body("second")})
        self.assertEqual(r2["MsgSeq"], 2)
        await a.push("msg", room=self.room, seq=2)

    async def test_rest_and_client_messages_share_one_seq(self):
        a = await self.user(self.d, "alice", room=self.room)
        self.assertEqual((await a.ok("send", room=self.room, body="c1"))["seq"], 1)
        r = await self.aok(self.d, "send_group_msg", {"GroupId": self.room, "Random": rnd(),
                                                      "MsgBody": text_body("r2")})
        self.assertEqual(r["MsgSeq"], 2)
        self.assertEqual((await a.ok("send", room=self.room, body="c3"))["seq"], 3)

    async def test_msg_priority_is_carried_to_the_push(self):
        a = await self.user(self.d, "alice", room=self.room)
        for pri in ("High", "Normal", "Low", "Lowest"):
            r = await self.aok(self.d, "send_group_msg", {
                "GroupId": self.room, "Random": rnd(), "MsgPriority": pri,
                "MsgBody": text_body(pri)})
            m = await a.push("msg", room=self.room, seq=r["MsgSeq"])
            self.assertEqual(m["pri"], pri.lower())

    async def test_custom_elem_data_reaches_members(self):
        a = await self.user(self.d, "alice", room=self.room)
        r = await self.aok(self.d, "send_group_msg", {
            "GroupId": self.room, "Random": rnd(),
            "MsgBody": [{"MsgType": "TIMCustomElem",
                         "MsgContent": {"Data": "gift:rocket", "Desc": "d", "Ext": "e"}}]})
        m = await a.push("msg", room=self.room, seq=r["MsgSeq"])
        self.assertTrue(carries(m["body"], "gift:rocket"), m)

    async def test_rest_messages_are_in_history(self):
        r = await self.aok(self.d, "send_group_msg", {"GroupId": self.room, "Random": rnd(),
                                                      "MsgBody": text_body("kept")})
        late = await self.user(self.d, "late")
        hist = (await late.ok("join", room=self.room))["history"]
        self.assertEqual([m["seq"] for m in hist], [r["MsgSeq"]])
        self.assertTrue(carries(hist[0]["body"], "kept"), hist)

    async def test_msg_seq_0_when_frequency_control_drops_it(self):
        await self.aok(self.d, "set_room_config", {"GroupId": self.room, "Rate": 1})
        a = await self.user(self.d, "alice", room=self.room)
        seqs = []
        for i in range(8):
            r = await self.aok(self.d, "send_group_msg", {
                "GroupId": self.room, "Random": rnd(), "MsgPriority": "Lowest",
                "MsgBody": text_body("flood%d" % i)})
            seqs.append(r["MsgSeq"])
        self.assertIn(0, seqs)
        passed = [s for s in seqs if s]
        self.assertGreater(len(passed), 0, seqs)
        self.assertEqual(passed, list(range(1, len(passed) + 1)), seqs)
        got = [(await a.push("msg", room=self.room, seq=s))["seq"] for s in passed]
        self.assertEqual(got, passed)
        await a.ping()
        await a.quiet(lambda m: m.get("op") == "msg", what="a dropped REST message")

    async def test_bad_input(self):
        no = room_name("no")
        await self.afail(self.d, "send_group_msg", {"GroupId": no, "Random": 1,
                                                    "MsgBody": text_body("x")}, 10010)
        await self.afail(self.d, "send_group_msg", {"GroupId": "has space", "Random": 1,
                                                    "MsgBody": text_body("x")}, 10015)
        for body in ({"Random": 1},
                     {"Random": 1, "MsgBody": "hello"},
                     {"Random": 1, "MsgBody": [{"MsgType": "TIMTextElem"}]},
                     {"Random": 1, "MsgBody": [{"MsgType": "TIMNoSuchElem",
                                                "MsgContent": {"Text": "x"}}]},
                     {"Random": 1, "MsgBody": text_body("x"), "MsgPriority": "Urgent"},
                     {"Random": "1", "MsgBody": text_body("x")}):
            body["GroupId"] = self.room
            await self.afail(self.d, "send_group_msg", body, 10004)
        # None of them was delivered: the next message is seq 1.
        r = await self.aok(self.d, "send_group_msg", {"GroupId": self.room, "Random": 1,
                                                      "MsgBody": text_body("x")})
        self.assertEqual(r["MsgSeq"], 1)


class SystemNotification(AdminCase):
    async def test_members_get_event_system_with_the_content(self):
        d = self.daemon()
        room = room_name("sys")
        await self.create(d, room)
        a = await self.user(d, "alice", room=room)
        g = await self.guest(d, room=room, transport="tcp")
        self.assertEqual(await self.aok(d, "send_group_system_notification",
                                        {"GroupId": room, "Content": "maintenance at 5"}),
                         {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
        for c in (a, g):
            ev = await c.push("event", room=room, kind="system")
            self.assertEqual(ev["content"], "maintenance at 5")
        # A notice is not a room message: no seq used.
        self.assertEqual((await a.ok("send", room=room, body="x"))["seq"], 1)

    async def test_bad_input(self):
        d = self.daemon()
        room = room_name("sys")
        await self.create(d, room)
        await self.afail(d, "send_group_system_notification",
                         {"GroupId": room_name("no"), "Content": "x"}, 10010)
        await self.afail(d, "send_group_system_notification", {"GroupId": room}, 10004)
        await self.afail(d, "send_group_system_notification",
                         {"GroupId": room, "Content": 5}, 10004)


class Broadcast(AdminCase):
    async def _setup_conns(self, d):
        r1, r2 = room_name("b1"), room_name("b2")
        self.in_r1 = await self.user(d, "ann", room=r1)
        self.in_r2 = await self.user(d, "ben", room=r2, transport="msgpack")
        self.in_both = await self.user(d, "cat", room=r1, transport="tcp")
        await self.in_both.ok("join", room=r2)
        self.guest_r1 = await self.guest(d, room=r1)
        self.ann_second = await self.user(d, "ann", room=r2)  # another device of ann
        self.in_none = await self.user(d, "dan")  # logged in, in no room
        self.left = await self.user(d, "eve", room=r1)
        await self.left.ok("leave", room=r1)  # was in a room, is in none now
        self.receivers = [self.in_r1, self.in_r2, self.in_both, self.guest_r1, self.ann_second]
        self.silent = [self.in_none, self.left]

    async def test_every_connection_in_any_room_gets_exactly_one_broadcast(self):
        d = self.daemon()
        await self._setup_conns(d)
        self.assertEqual(await self.aok(d, "send_broadcast_msg", {
            "Random": 777, "From_Account": "system", "MsgBody": text_body("to everyone")}),
            {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
        for c in self.receivers:
            b = await c.push("broadcast", random=777)
            for f in BCAST_FIELDS:
                self.assertIn(f, b)
            self.assertEqual(b["from"], "system")
            self.assertTrue(carries(b["body"], "to everyone"), b)
        # Sync: each receiver answers a ping after its broadcast; no second copy.
        for c in self.receivers + self.silent:
            await c.ping()
        for c in self.receivers:
            await c.quiet(lambda m: m.get("op") == "broadcast", what="a second broadcast")
        for c in self.silent:
            await c.quiet(lambda m: m.get("op") == "broadcast",
                          what="a broadcast on a connection in no room")

    async def test_same_random_within_5_minutes_is_a_no_op_success(self):
        d = self.daemon("--broadcast-rate", "5")
        await self._setup_conns(d)
        body = {"Random": 31337, "MsgBody": text_body("once")}
        await self.aok(d, "send_broadcast_msg", body)
        await self.aok(d, "send_broadcast_msg", body)  # same Random: OK, nothing sent
        await self.aok(d, "send_broadcast_msg", {"Random": 31338, "MsgBody": text_body("next")})
        for c in self.receivers:
            await c.push("broadcast", random=31337)
            await c.push("broadcast", random=31338)  # arrives after any duplicate would
            self.assertEqual(c.take(lambda m: m.get("op") == "broadcast"), [],
                             "%s got the duplicate" % c.name)

    async def _pipelined_broadcasts(self, d, n):
        reqs = [request_bytes(d, "send_broadcast_msg", {"Random": rnd(),
                                                        "MsgBody": text_body("b%d" % i)})
                for i in range(n)]
        loop = asyncio.get_running_loop()

        def run():
            with raw_socket(d) as s:
                s.sendall(b"".join(reqs))
                f = s.makefile("rb")
                return [json.loads(read_response(f)[2]) for _ in reqs]
        return await loop.run_in_executor(None, run)

    async def test_default_rate_allows_one_broadcast_per_second(self):
        d = self.daemon()
        replies = await self._pipelined_broadcasts(d, 2)
        self.assertEqual([r["ErrorCode"] for r in replies], [0, 10023], replies)

    async def test_broadcast_rate_flag_sets_the_limit(self):
        d = self.daemon("--broadcast-rate", "3")
        c = await self.user(d, "ann", room=room_name("br"))
        replies = await self._pipelined_broadcasts(d, 4)
        self.assertEqual([r["ErrorCode"] for r in replies], [0, 0, 0, 10023], replies)
        got = [await c.push("broadcast") for _ in range(3)]
        self.assertEqual(len(got), 3)
        await c.ping()
        await c.quiet(lambda m: m.get("op") == "broadcast", what="the refused broadcast")

    async def test_broadcast_rate_above_5_is_refused_at_start(self):
        d = Daemon("--broadcast-rate", "6")
        try:
            with self.assertRaises(DaemonError):
                d.start()
        finally:
            d.cleanup()

    async def test_bad_input_gets_10004(self):
        d = self.daemon()
        await self.afail(d, "send_broadcast_msg", {"Random": 1}, 10004)
        await self.afail(d, "send_broadcast_msg", {"Random": 1, "MsgBody": "x"}, 10004)


class AccountImport(AdminCase):
    async def test_imported_nick_and_avatar_appear_in_the_users_pushes(self):
        d = self.daemon(*FAST)
        room = room_name("acct")
        w = await self.user(d, "watcher", room=room)
        self.assertEqual(await self.aok(d, "account_import", {
            "UserID": "star", "Nick": "The Star", "FaceUrl": "https://example.com/s.png"}),
            {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
        s = await self.user(d, "star", room=room)  # logs in with no nick of its own
        r = await s.ok("send", room=room, body="hi")
        m = await w.push("msg", room=room, seq=r["seq"])
        self.assertEqual((m["nick"], m["avatar"]), ("The Star", "https://example.com/s.png"))
        mem = await self.aok(d, "get_members", {"GroupId": room})
        nicks = {x["Member_Account"]: x["NickName"] for x in mem["MemberList"]}
        self.assertEqual(nicks.get("star"), "The Star", mem)

    async def test_member_list_has_imported_nicks_whatever_came_first(self):
        # The login's profile (from the user's home shard) and the join (to
        # the room's) travel separately; whichever lands first, the member
        # list must end with the imported nick. Half join on the upgrade
        # (the join first, always), half with ops after the login.
        d = self.daemon("--shards", "4", *FAST)
        room = room_name("acct3")
        names = ["imp%02d" % i for i in range(24)]
        for n in names:
            await self.aok(d, "account_import", {"UserID": n, "Nick": "Nick " + n,
                                                 "FaceUrl": "https://example.com/%s.png" % n})

        async def upgrade_join(n):
            # login and join on the query string leave together: the join
            # always reaches the room before the profile reaches the login
            c = await self.ws(d, user=n, sig=make_usersig(n, secret=d.secret), room=room)
            await c.wait_for(lambda m: m.get("op") == "ok" and m.get("id") == 0)
            return c

        clients = await asyncio.gather(*(upgrade_join(n) if i % 2 else self.user(d, n, room=room)
                                         for i, n in enumerate(names)))
        want = {n: "Nick " + n for n in names}
        # the update is a message of its own: wait for it, bounded
        deadline = time.monotonic() + WAIT
        while True:
            mem = await self.aok(d, "get_members", {"GroupId": room})
            nicks = {x["Member_Account"]: x["NickName"] for x in mem["MemberList"]}
            if nicks == want or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        self.assertEqual(nicks, want, mem)
        # and a member list pushed to a client shows them too
        r = await clients[0].ok("members", room=room)
        self.assertEqual({m["user"]: m["nick"] for m in r["members"]}, want, r)

    async def test_reimport_changes_the_profile_for_the_next_login(self):
        d = self.daemon(*FAST)
        room = room_name("acct2")
        w = await self.user(d, "watcher", room=room)
        await self.aok(d, "account_import", {"UserID": "star", "Nick": "Old"})
        s = await self.user(d, "star", room=room)
        await self.aok(d, "account_import", {"UserID": "star", "Nick": "New"})
        await s.close()
        s = await self.user(d, "star", room=room)
        r = await s.ok("send", room=room, body="hi")
        m = await w.push("msg", room=room, seq=r["seq"])
        self.assertEqual(m["nick"], "New")

    async def test_bad_input_gets_10004(self):
        d = self.daemon()
        await self.afail(d, "account_import", {"Nick": "x"}, 10004)
        await self.afail(d, "account_import", {"UserID": 5}, 10004)
        await self.afail(d, "account_import", {"UserID": "has space"}, 10004)


class LoginKick(AdminCase):
    async def test_every_connection_of_the_user_gets_bye_and_closes(self):
        d = self.daemon()
        room = room_name("kick")
        conns = [await self.user(d, "bob", room=room),
                 await self.user(d, "bob", transport="msgpack"),
                 await self.user(d, "bob", transport="tcp", room=room)]
        other = await self.user(d, "alice", room=room)
        self.assertEqual(await self.aok(d, "kick", {"UserID": "bob"}),
                         {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
        for c in conns:
            bye = await c.push("bye")
            self.assertIsInstance(bye.get("code"), int, bye)
            self.assertIsInstance(bye.get("msg"), str, bye)
            code = await c.wait_closed()
            if not isinstance(c, TcpConn):
                self.assertEqual(code, 1008, c.name)  # PROTOCOL.md §1: kicked
        await other.ping()  # alice is untouched
        self.assertFalse(other.closed.is_set())
        # A kick is not a ban: bob may log in and join again.
        again = await self.user(d, "bob", room=room)
        await again.ping()

    async def test_bad_input_gets_10004(self):
        d = self.daemon()
        await self.afail(d, "kick", {}, 10004)
        await self.afail(d, "kick", {"UserID": ["bob"]}, 10004)


if __name__ == "__main__":
    main()
