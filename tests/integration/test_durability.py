"""Durability (ADMIN_API.md §2, PROTOCOL.md §9): every state change is
durable once `OK` is returned. Each test makes a change, sends the engine
SIGKILL the moment the reply arrives (no drain, no flush), restarts it on the
same data dir, and checks both what the admin API reports and that clients
are held to it (mutes and bans enforced, roles honoured)."""

import time

from adminhttp import AVCHAT, AdminCase, text_body
from harness import main, room_name

# --auto-create off: a room that answers a join after the restart can only
# have come from the store.
FLAGS = ("--auto-create", "off", "--rate", "1000", "--user-rate", "1000")


class Durable(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon(*FLAGS)
        self.room = room_name("dur")

    async def ok_then_kill(self, command, body):
        """The command, then kill -9 as soon as its OK is in; then restart."""
        a = self.admin_client(self.d)

        def run():
            r = a.ok(command, body)
            self.d.kill()  # SIGKILL, right after the reply
            return r
        r = await self._run(run)
        await self._close_clients()
        self.d.start()
        return r

    async def _close_clients(self):
        for c in self._conns:
            await c.close()
        self._conns = []

    async def info(self):
        return await self.group_info(self.d, self.room)

    async def make_room(self, **fields):
        body = {"Type": "AVChatRoom", "GroupId": self.room}
        body.update(fields)
        await self.ok_then_kill("create_group", body)

    # ---- rooms

    async def test_created_room_and_its_fields_survive(self):
        fields = {"Name": "Durable", "Owner_Account": "olivia", "Introduction": "intro",
                  "Notification": "note", "FaceUrl": "https://example.com/d.png"}
        await self.make_room(**fields)
        g = await self.info()
        self.assertEqual(g["ErrorCode"], 0, g)
        for k, v in fields.items():
            self.assertEqual(g[k], v, k)
        created = g["CreateTime"]
        c = await self.user(self.d, "alice")
        p = (await c.ok("join", room=self.room))["profile"]
        self.assertEqual((p["name"], p["owner"]), ("Durable", "olivia"))
        # CreateTime is the original one, not the restart's.
        await self._close_clients()
        self.d.kill()
        self.d.start()
        self.assertEqual((await self.info())["CreateTime"], created)

    async def test_generated_group_id_survives(self):
        r = await self.ok_then_kill("create_group", {"Type": "AVChatRoom"})
        gid = r["GroupId"]
        c = await self.user(self.d, "alice")
        await c.ok("join", room=gid)
        await self.afail(self.d, "create_group", {"Type": "AVChatRoom", "GroupId": gid}, 10021)

    async def test_modified_base_info_survives(self):
        await self.make_room(Name="before", Introduction="keep")
        await self.ok_then_kill("modify_group_base_info", {
            "GroupId": self.room, "Name": "after", "Notification": "n2", "FaceUrl": "f2"})
        g = await self.info()
        self.assertEqual((g["Name"], g["Introduction"], g["Notification"], g["FaceUrl"]),
                         ("after", "keep", "n2", "f2"))

    async def test_destroy_survives(self):
        await self.make_room()
        await self.ok_then_kill("destroy_group", {"GroupId": self.room})
        c = await self.user(self.d, "alice")
        self.assertErr(await c.request("join", room=self.room), 10010)
        await self.create(self.d, self.room)  # and the id is free again

    # ---- mutes

    async def test_mute_survives_and_is_enforced(self):
        await self.make_room()
        await self.ok_then_kill("forbid_send_msg", {"GroupId": self.room,
                                                    "Members_Account": ["bob"],
                                                    "MuteTime": 3600})
        lst = (await self.aok(self.d, "get_group_muted_account",
                              {"GroupId": self.room}))["MutedAccountList"]
        self.assertEqual([m["Member_Account"] for m in lst], ["bob"])
        self.assertGreater(lst[0]["MutedUntil"], time.time() + 3000)
        bob = await self.user(self.d, "bob")
        self.assertGreater((await bob.ok("join", room=self.room))["muted_until"], 0)
        self.assertErr(await bob.request("send", room=self.room, body="x"), 10017)

    async def test_unmute_survives(self):
        await self.make_room()
        await self.aok(self.d, "forbid_send_msg", {"GroupId": self.room,
                                                   "Members_Account": ["bob"], "MuteTime": 3600})
        await self.ok_then_kill("forbid_send_msg", {"GroupId": self.room,
                                                    "Members_Account": ["bob"], "MuteTime": 0})
        lst = (await self.aok(self.d, "get_group_muted_account",
                              {"GroupId": self.room}))["MutedAccountList"]
        self.assertEqual(lst, [])
        bob = await self.user(self.d, "bob", room=self.room)
        await bob.ok("send", room=self.room, body="free")

    async def test_client_mute_by_a_room_admin_survives(self):
        await self.make_room()
        await self.aok(self.d, "modify_group_member_info", {
            "GroupId": self.room, "Member_Account": "adam", "Role": "Admin"})
        adam = await self.user(self.d, "adam", room=self.room)
        await self.user(self.d, "bob", room=self.room)
        await adam.ok("mute", room=self.room, user="bob", secs=3600)
        self.d.kill()  # right after the client's ok
        await self._close_clients()
        self.d.start()
        bob = await self.user(self.d, "bob", room=self.room)
        self.assertErr(await bob.request("send", room=self.room, body="x"), 10017)

    # ---- bans

    async def test_ban_survives_and_is_enforced(self):
        await self.make_room()
        await self.ok_then_kill("ban_group_member", {"GroupId": self.room,
                                                     "Members_Account": ["bob"],
                                                     "Duration": 3600})
        lst = (await self.aok(self.d, "get_group_ban_member",
                              {"GroupId": self.room}))["BannedAccountList"]
        self.assertEqual([b["Member_Account"] for b in lst], ["bob"])
        bob = await self.user(self.d, "bob")
        self.assertErr(await bob.request("join", room=self.room), 10007)

    async def test_unban_survives(self):
        await self.make_room()
        await self.aok(self.d, "ban_group_member", {"GroupId": self.room,
                                                    "Members_Account": ["bob"],
                                                    "Duration": 3600})
        await self.ok_then_kill("unban_group_member", {"GroupId": self.room,
                                                       "Members_Account": ["bob"]})
        bob = await self.user(self.d, "bob")
        await bob.ok("join", room=self.room)

    # ---- mute-all and roles

    async def test_mute_all_survives_with_its_exceptions(self):
        await self.make_room(Owner_Account="olivia")
        await self.aok(self.d, "modify_group_member_info", {
            "GroupId": self.room, "Member_Account": "adam", "Role": "Admin"})
        await self.ok_then_kill("modify_group_base_info", {"GroupId": self.room,
                                                           "MuteAllMember": "On"})
        self.assertEqual((await self.info())["MuteAllMember"], "On")
        bob = await self.user(self.d, "bob")
        self.assertIs((await bob.ok("join", room=self.room))["mute_all"], True)
        self.assertErr(await bob.request("send", room=self.room, body="x"), 10017)
        for who in ("olivia", "adam"):  # owner and room admin both survived too
            c = await self.user(self.d, who, room=self.room)
            await c.ok("send", room=self.room, body="allowed")
        await self.ok_then_kill("modify_group_base_info", {"GroupId": self.room,
                                                           "MuteAllMember": "Off"})
        self.assertEqual((await self.info())["MuteAllMember"], "Off")
        bob = await self.user(self.d, "bob", room=self.room)
        await bob.ok("send", room=self.room, body="free")

    async def test_room_admin_role_survives_and_revocation_too(self):
        await self.make_room()
        await self.ok_then_kill("modify_group_member_info", {
            "GroupId": self.room, "Member_Account": "adam", "Role": "Admin"})
        adam = await self.user(self.d, "adam", room=self.room)
        await self.user(self.d, "bob", room=self.room)
        await adam.ok("kick", room=self.room, user="bob")
        await self.ok_then_kill("modify_group_member_info", {
            "GroupId": self.room, "Member_Account": "adam", "Role": "Member"})
        adam = await self.user(self.d, "adam", room=self.room)
        await self.user(self.d, "bob", room=self.room)
        self.assertErr(await adam.request("kick", room=self.room, user="bob"), 10007)

    async def test_client_mute_all_survives(self):
        # A client op's `ok` is held to the same rule as an admin `OK`: a
        # moderator who saw ok must not see the change vanish in a crash.
        await self.make_room(Owner_Account="olivia")
        owner = await self.user(self.d, "olivia", room=self.room)
        await owner.ok("mute_all", room=self.room, on=True)
        self.d.kill()
        await self._close_clients()
        self.d.start()
        self.assertEqual((await self.info())["MuteAllMember"], "On")

    # PROTOCOL.md §9 promises that mutes survive a restart; the kill -9
    # tests above also hold client ops to the admin API's "durable once OK".
    async def test_client_mute_and_mute_all_survive_a_graceful_restart(self):
        await self.make_room(Owner_Account="olivia")
        owner = await self.user(self.d, "olivia", room=self.room)
        await self.user(self.d, "bob", room=self.room)
        await owner.ok("mute", room=self.room, user="bob", secs=3600)
        await owner.ok("mute_all", room=self.room, on=True)
        await self._close_clients()
        self.d.stop()  # SIGTERM: drain and flush, exit 0
        self.d.start()
        self.assertEqual((await self.info())["MuteAllMember"], "On")
        lst = (await self.aok(self.d, "get_group_muted_account",
                              {"GroupId": self.room}))["MutedAccountList"]
        self.assertEqual([m["Member_Account"] for m in lst], ["bob"])
        await self.aok(self.d, "modify_group_base_info", {"GroupId": self.room,
                                                          "MuteAllMember": "Off"})
        bob = await self.user(self.d, "bob", room=self.room)
        self.assertErr(await bob.request("send", room=self.room, body="x"), 10017)

    # ---- room config and profiles

    async def test_room_config_survives(self):
        await self.make_room()
        await self.ok_then_kill("set_room_config", {
            "GroupId": self.room, "AllowGuests": False, "History": 1, "MemberEvents": True,
            "Rate": 1, "ReportLimited": True})
        g = await self.guest(self.d)
        self.assertErr(await g.request("join", room=self.room), 10007)
        w = await self.user(self.d, "watcher", room=self.room)
        s = await self.user(self.d, "sam", room=self.room)
        await w.push("event", room=self.room, kind="join", user="sam")  # MemberEvents
        replies = [await s.request("send", room=self.room, body="m%d" % i) for i in range(6)]
        passed = [r for r in replies if r["op"] == "ok"]
        refused = [r for r in replies if r["op"] == "err"]
        self.assertGreater(len(passed), 0, replies)
        self.assertGreater(len(refused), 0, replies)  # Rate 1 with ReportLimited
        self.assertEqual({r["code"] for r in refused}, {10023}, replies)
        j = await self.user(self.d, "jo")
        hist = (await j.ok("join", room=self.room))["history"]
        self.assertEqual(len(hist), 1, hist)  # History 1

    async def test_imported_profile_survives(self):
        await self.make_room()
        await self.ok_then_kill("account_import", {"UserID": "star", "Nick": "The Star",
                                                   "FaceUrl": "https://example.com/s.png"})
        w = await self.user(self.d, "watcher", room=self.room)
        s = await self.user(self.d, "star", room=self.room)
        r = await s.ok("send", room=self.room, body="hi")
        m = await w.push("msg", room=self.room, seq=r["seq"])
        self.assertEqual((m["nick"], m["avatar"]), ("The Star", "https://example.com/s.png"))
        mem = await self.aok(self.d, "get_members", {"GroupId": self.room}, service=AVCHAT)
        self.assertIn("star", [x["Member_Account"] for x in mem["MemberList"]])

    async def test_many_changes_in_a_row_all_survive_one_kill(self):
        await self.make_room()
        a = self.admin_client(self.d)

        def run():
            a.ok("forbid_send_msg", {"GroupId": self.room, "Members_Account": ["m1"],
                                     "MuteTime": 3600})
            a.ok("ban_group_member", {"GroupId": self.room, "Members_Account": ["b1"],
                                      "Duration": 3600})
            a.ok("modify_group_base_info", {"GroupId": self.room, "Name": "last"})
            a.ok("send_group_msg", {"GroupId": self.room, "Random": 1,
                                    "MsgBody": text_body("x")})
            a.ok("forbid_send_msg", {"GroupId": self.room, "Members_Account": ["m2"],
                                     "MuteTime": 3600})
            self.d.kill()
        await self._run(run)
        self.d.start()
        muted = (await self.aok(self.d, "get_group_muted_account",
                                {"GroupId": self.room}))["MutedAccountList"]
        self.assertEqual(sorted(m["Member_Account"] for m in muted), ["m1", "m2"])
        banned = (await self.aok(self.d, "get_group_ban_member",
                                 {"GroupId": self.room}))["BannedAccountList"]
        self.assertEqual([b["Member_Account"] for b in banned], ["b1"])
        self.assertEqual((await self.info())["Name"], "last")


if __name__ == "__main__":
    main()
