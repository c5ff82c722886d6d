"""Moderation end to end (PROTOCOL.md §3, §4, §9 with ADMIN_API.md §2):
WebSocket and TCP clients in a room while the admin API or a room
owner/admin mutes, mutes all, kicks, bans and destroys; what each member
sees and what each may do afterwards."""

import asyncio

from adminhttp import AdminCase, now_ms, rnd, text_body
from harness import main, make_usersig, room_name

FAST = ("--rate", "1000", "--user-rate", "1000")


def is_msg(m):
    return m.get("op") == "msg"


class Base(AdminCase):
    flags = FAST

    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon(*self.flags)
        self.room = room_name("mod")
        await self.create(self.d, self.room, Owner_Account="olivia")

    async def role(self, user, role="Admin"):
        await self.aok(self.d, "modify_group_member_info", {
            "GroupId": self.room, "Member_Account": user, "Role": role})

    async def mute(self, user, secs, room=None):
        await self.aok(self.d, "forbid_send_msg", {
            "GroupId": room or self.room, "Members_Account": [user], "MuteTime": secs})

    async def delivered(self, sender, receivers, body):
        """sender sends; every receiver gets it. Returns the seq."""
        r = await sender.ok("send", room=self.room, body=body)
        self.assertGreater(r["seq"], 0, r)
        for c in receivers:
            await c.push("msg", room=self.room, seq=r["seq"])
        return r["seq"]

    def assertUntilMs(self, until, secs, what):
        """Event times are ms since the epoch, like join's muted_until."""
        self.assertIsInstance(until, int, what)
        self.assertLess(abs(until - (now_ms() + secs * 1000)), 30000,
                        "%s: until %r is not now + %d s in ms" % (what, until, secs))

    async def poll(self, fn, what, timeout=10.0):
        """Retry fn() (a coroutine returning True when done) until it is
        done, for state that ends on a timer; bounded."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not await fn():
            if loop.time() > end:
                self.fail("%s not within %.0f s" % (what, timeout))
            await asyncio.sleep(0.2)


class AdminMute(Base):
    async def test_muted_user_gets_10017_and_the_room_gets_event_muted(self):
        w = await self.user(self.d, "watcher", room=self.room)
        bob = await self.user(self.d, "bob", room=self.room)
        bob2 = await self.user(self.d, "bob", room=self.room, transport="tcp")
        await self.mute("bob", 60)
        ev = await w.push("event", room=self.room, kind="muted")
        self.assertEqual(ev["user"], "bob")
        self.assertUntilMs(ev.get("until"), 60, "event muted")
        for c in (bob, bob2):  # the mute is the user's, on every device
            r = await c.request("send", room=self.room, body="let me talk")
            self.assertErr(r, 10017)
        # Nothing of bob's reached the room; the room itself carries on.
        await self.delivered(w, [bob], "watcher still talks")
        await w.quiet(lambda m: is_msg(m) and m.get("from") == "bob", what="bob's message")

    async def test_mute_survives_reconnect(self):
        bob = await self.user(self.d, "bob", room=self.room)
        await self.mute("bob", 60)
        await bob.close()
        bob = await self.user(self.d, "bob")
        j = await bob.ok("join", room=self.room)
        self.assertUntilMs(j["muted_until"], 60, "join muted_until")
        self.assertErr(await bob.request("send", room=self.room, body="x"), 10017)

    async def test_mute_of_a_user_not_yet_in_the_room_applies_when_he_joins(self):
        await self.mute("late", 60)
        late = await self.user(self.d, "late")
        self.assertGreater((await late.ok("join", room=self.room))["muted_until"], 0)
        self.assertErr(await late.request("send", room=self.room, body="x"), 10017)

    async def test_mute_time_0_unmutes_with_event_unmuted(self):
        w = await self.user(self.d, "watcher", room=self.room)
        bob = await self.user(self.d, "bob", room=self.room)
        await self.mute("bob", 60)
        await w.push("event", room=self.room, kind="muted", user="bob")
        await self.mute("bob", 0)
        await w.push("event", room=self.room, kind="unmuted", user="bob")
        await self.delivered(bob, [w], "free again")
        again = await self.user(self.d, "bob")
        self.assertEqual((await again.ok("join", room=self.room))["muted_until"], 0)

    async def test_mute_ends_by_itself_after_mute_time(self):
        bob = await self.user(self.d, "bob", room=self.room)
        await self.mute("bob", 1)
        self.assertErr(await bob.request("send", room=self.room, body="x"), 10017)

        async def can_send():
            r = await bob.request("send", room=self.room, body="y")
            if r["op"] == "err":
                self.assertEqual(r["code"], 10017, r)
                return False
            return True
        await self.poll(can_send, "the 1 s mute ending")

    async def test_mute_is_per_room(self):
        other = room_name("other")
        bob = await self.user(self.d, "bob", room=self.room)
        await bob.ok("join", room=other)
        await self.mute("bob", 60)
        self.assertErr(await bob.request("send", room=self.room, body="x"), 10017)
        self.assertGreater((await bob.ok("send", room=other, body="y"))["seq"], 0)


class MuteAll(Base):
    flags = FAST + ("--admins", "administrator,ops")

    async def asyncSetUp(self):
        await super().asyncSetUp()
        await self.role("adam")
        self.w = await self.user(self.d, "watcher", room=self.room)
        self.bob = await self.user(self.d, "bob", room=self.room)
        self.owner = await self.user(self.d, "olivia", room=self.room)
        self.radmin = await self.user(self.d, "adam", room=self.room)
        self.app_admin = await self.user(self.d, "administrator", room=self.room)
        self.ops = await self.user(self.d, "ops", room=self.room)

    async def mute_all(self, on):
        await self.aok(self.d, "modify_group_base_info", {
            "GroupId": self.room, "MuteAllMember": "On" if on else "Off"})
        ev = await self.w.push("event", room=self.room, kind="mute_all")
        self.assertIs(ev["on"], on, ev)

    async def test_mute_all_silences_plain_members_with_10017(self):
        await self.mute_all(True)
        for c in (self.bob, self.w):
            self.assertErr(await c.request("send", room=self.room, body="x"), 10017)
        late = await self.user(self.d, "late")
        self.assertIs((await late.ok("join", room=self.room))["mute_all"], True)
        self.assertErr(await late.request("send", room=self.room, body="x"), 10017)

    async def test_owner_room_admins_and_app_admins_still_send_under_mute_all(self):
        await self.mute_all(True)
        for c in (self.owner, self.radmin, self.app_admin, self.ops):
            await self.delivered(c, [self.w], "allowed: " + c.name)

    async def test_rest_messages_still_go_out_under_mute_all(self):
        await self.mute_all(True)
        r = await self.aok(self.d, "send_group_msg", {"GroupId": self.room, "Random": rnd(),
                                                      "MsgBody": text_body("official")})
        self.assertGreater(r["MsgSeq"], 0)
        await self.w.push("msg", room=self.room, seq=r["MsgSeq"])

    async def test_mute_all_off_lets_members_send_again(self):
        await self.mute_all(True)
        self.assertErr(await self.bob.request("send", room=self.room, body="x"), 10017)
        await self.mute_all(False)
        await self.delivered(self.bob, [self.w], "back")

    async def test_client_mute_all_by_owner_and_room_admin(self):
        await self.owner.ok("mute_all", room=self.room, on=True)
        ev = await self.w.push("event", room=self.room, kind="mute_all")
        self.assertIs(ev["on"], True)
        self.assertErr(await self.bob.request("send", room=self.room, body="x"), 10017)
        g = await self.group_info(self.d, self.room)
        self.assertEqual(g["MuteAllMember"], "On")
        await self.radmin.ok("mute_all", room=self.room, on=False)
        ev = await self.w.push("event", room=self.room, kind="mute_all")
        self.assertIs(ev["on"], False)
        await self.delivered(self.bob, [self.w], "talking again")

    async def test_client_mute_all_by_a_plain_member_gets_10007(self):
        self.assertErr(await self.bob.request("mute_all", room=self.room, on=True), 10007)
        await self.delivered(self.w, [self.bob], "nothing changed")
        g = await self.group_info(self.d, self.room)
        self.assertEqual(g["MuteAllMember"], "Off")


class ClientModeration(Base):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        await self.role("adam")
        self.w = await self.user(self.d, "watcher", room=self.room)
        self.bob = await self.user(self.d, "bob", room=self.room)
        self.radmin = await self.user(self.d, "adam", room=self.room)
        self.owner = await self.user(self.d, "olivia", room=self.room)

    async def test_room_admin_mutes_and_unmutes_a_member(self):
        await self.radmin.ok("mute", room=self.room, user="bob", secs=60)
        ev = await self.w.push("event", room=self.room, kind="muted", user="bob")
        self.assertUntilMs(ev.get("until"), 60, "event muted")
        self.assertErr(await self.bob.request("send", room=self.room, body="x"), 10017)
        lst = (await self.aok(self.d, "get_group_muted_account",
                              {"GroupId": self.room}))["MutedAccountList"]
        self.assertEqual([m["Member_Account"] for m in lst], ["bob"])
        await self.radmin.ok("mute", room=self.room, user="bob", secs=0)
        await self.w.push("event", room=self.room, kind="unmuted", user="bob")
        await self.delivered(self.bob, [self.w], "unmuted")

    async def test_owner_mutes_a_member(self):
        await self.owner.ok("mute", room=self.room, user="bob", secs=60)
        await self.w.push("event", room=self.room, kind="muted", user="bob")
        self.assertErr(await self.bob.request("send", room=self.room, body="x"), 10017)

    async def test_plain_member_gets_10007_for_mute_and_kick(self):
        self.assertErr(await self.w.request("mute", room=self.room, user="bob", secs=60), 10007)
        self.assertErr(await self.w.request("kick", room=self.room, user="bob"), 10007)
        await self.delivered(self.bob, [self.w], "untouched")

    async def test_revoked_room_admin_gets_10007(self):
        await self.role("adam", "Member")
        self.assertErr(await self.radmin.request("mute", room=self.room, user="bob", secs=60),
                       10007)

    async def test_room_admin_kicks_a_member_who_may_rejoin(self):
        bob_tcp = await self.user(self.d, "bob", room=self.room, transport="tcp")
        await self.radmin.ok("kick", room=self.room, user="bob")
        await self.w.push("event", room=self.room, kind="kicked", user="bob")
        seq = await self.delivered(self.w, [self.radmin], "after the kick")
        for c in (self.bob, bob_tcp):  # every device of bob left the room
            await c.quiet(lambda m, s=seq: is_msg(m) and m.get("seq") == s,
                          what="a message after the kick")
            self.assertErr(await c.request("send", room=self.room, body="x"), 10007)
        await self.bob.ok("join", room=self.room)  # a kick is not a ban
        await self.delivered(self.w, [self.bob], "welcome back")


class Ban(Base):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.w = await self.user(self.d, "watcher", room=self.room)

    async def ban(self, user, secs=3600):
        await self.aok(self.d, "ban_group_member", {
            "GroupId": self.room, "Members_Account": [user], "Duration": secs})

    async def test_ban_sends_event_banned_and_removes_every_connection(self):
        bob = await self.user(self.d, "bob", room=self.room)
        bob_mp = await self.user(self.d, "bob", room=self.room, transport="msgpack")
        bob_tcp = await self.user(self.d, "bob", room=self.room, transport="tcp")
        await self.ban("bob")
        ev = await self.w.push("event", room=self.room, kind="banned", user="bob")
        self.assertUntilMs(ev.get("until"), 3600, "event banned")
        seq = await self.delivered(self.w, [], "after the ban")
        late = await self.user(self.d, "late", room=self.room)  # a sync point past seq
        await self.delivered(self.w, [late], "sync")
        for c in (bob, bob_mp, bob_tcp):
            await c.quiet(lambda m: is_msg(m) and m.get("seq", 0) >= seq,
                          what="a message after the ban")
        self.assertEqual((await self.aok(self.d, "get_online_member_num",
                                         {"GroupId": self.room}))["OnlineMemberNum"], 2)

    async def test_banned_user_cannot_rejoin_on_any_connection(self):
        bob = await self.user(self.d, "bob", room=self.room)
        await self.ban("bob")
        await self.w.push("event", room=self.room, kind="banned", user="bob")
        self.assertErr(await bob.request("join", room=self.room), 10007)
        for t in ("json", "msgpack", "tcp"):
            c = await self.user(self.d, "bob", transport=t)
            self.assertErr(await c.request("join", room=self.room), 10007)

    async def test_banned_user_is_refused_on_the_upgrade_join(self):
        await self.ban("bob")
        q = await self.ws(self.d, user="bob", sig=make_usersig("bob"), room=self.room)
        first = await q.wait_for(lambda m: True, what="first frame")
        self.assertEqual((first.get("op"), first.get("id"), first.get("code")),
                         ("err", 0, 10007), first)
        self.assertEqual(await q.wait_closed(), 1008)

    async def test_ban_of_a_user_not_in_the_room_refuses_his_join(self):
        await self.ban("stranger")
        s = await self.user(self.d, "stranger")
        self.assertErr(await s.request("join", room=self.room), 10007)
        await s.ok("join", room=room_name("elsewhere"))  # other rooms are fine

    async def test_unban_lets_the_user_rejoin_and_receive(self):
        bob = await self.user(self.d, "bob", room=self.room)
        await self.ban("bob")
        await self.w.push("event", room=self.room, kind="banned", user="bob")
        await self.aok(self.d, "unban_group_member", {"GroupId": self.room,
                                                       "Members_Account": ["bob"]})
        await bob.ok("join", room=self.room)
        await self.delivered(self.w, [bob], "welcome back")
        await self.delivered(bob, [self.w], "thanks")

    async def test_ban_ends_by_itself_after_duration(self):
        bob = await self.user(self.d, "bob", room=self.room)
        await self.ban("bob", secs=1)
        await self.w.push("event", room=self.room, kind="banned", user="bob")

        async def can_join():
            r = await bob.request("join", room=self.room)
            if r["op"] == "err":
                self.assertEqual(r["code"], 10007, r)
                return False
            return True
        await self.poll(can_join, "the 1 s ban ending")


class DeleteGroupMember(Base):
    async def test_delete_group_member_kicks_with_event_and_allows_rejoin(self):
        w = await self.user(self.d, "watcher", room=self.room)
        bob = await self.user(self.d, "bob", room=self.room)
        bob_tcp = await self.user(self.d, "bob", room=self.room, transport="tcp")
        await self.aok(self.d, "delete_group_member", {
            "GroupId": self.room, "MemberToDel_Account": ["bob"], "Reason": "spam"})
        await w.push("event", room=self.room, kind="kicked", user="bob")
        seq = await self.delivered(w, [], "after the kick")
        late = await self.user(self.d, "late", room=self.room)
        await self.delivered(w, [late], "sync")
        for c in (bob, bob_tcp):
            await c.quiet(lambda m: is_msg(m) and m.get("seq", 0) >= seq,
                          what="a message after the kick")
        await bob.ok("join", room=self.room)
        await self.delivered(w, [bob], "back in")


class Destroy(AdminCase):
    async def test_destroy_sends_event_destroyed_and_the_room_is_gone(self):
        d = self.daemon("--auto-create", "off", *FAST)
        room = room_name("boom")
        await self.create(d, room)
        a = await self.user(d, "alice", room=room)
        b = await self.user(d, "bob", room=room, transport="tcp")
        g = await self.guest(d, room=room, transport="msgpack")
        await self.aok(d, "destroy_group", {"GroupId": room})
        for c in (a, b, g):
            await c.push("event", room=room, kind="destroyed")
        self.assertErr(await b.request("join", room=room), 10010)
        fresh = await self.user(d, "carol")
        self.assertErr(await fresh.request("join", room=room), 10010)
        r = await self.call(d, "get_group_info", {"GroupIdList": [room]})
        if r["ActionStatus"] == "FAIL":
            self.assertEqual(r["ErrorCode"], 10010, r)
        else:
            self.assertEqual(r["GroupInfo"][0]["ErrorCode"], 10010, r)
        await self.afail(d, "send_group_msg", {"GroupId": room, "Random": rnd(),
                                               "MsgBody": text_body("x")}, 10010)
        # The id may be reused, as a fresh room.
        await self.create(d, room)
        j = await a.ok("join", room=room)
        self.assertEqual((j["seq"], j["history"], j["count"]), (0, [], 1))

    async def test_send_to_a_destroyed_room_gets_10010(self):
        # PROTOCOL.md §5: 10010 is "room does not exist or was destroyed";
        # the room is gone, which says more than "you are not in it" (10007).
        d = self.daemon("--auto-create", "off", *FAST)
        room = room_name("boom")
        await self.create(d, room)
        a = await self.user(d, "alice", room=room)
        await self.aok(d, "destroy_group", {"GroupId": room})
        await a.push("event", room=room, kind="destroyed")
        self.assertErr(await a.request("send", room=room, body="anyone?"), 10010)

    async def test_connections_of_a_destroyed_room_stay_in_their_other_rooms(self):
        d = self.daemon(*FAST)
        room, other = room_name("boom"), room_name("keep")
        await self.create(d, room)
        a = await self.user(d, "alice", room=room)
        await a.ok("join", room=other)
        b = await self.user(d, "bob", room=other)
        await self.aok(d, "destroy_group", {"GroupId": room})
        await a.push("event", room=room, kind="destroyed")
        r = await b.ok("send", room=other, body="still here")
        await a.push("msg", room=other, seq=r["seq"])


if __name__ == "__main__":
    main()
