"""Admin room commands (ADMIN_API.md §2): create_group, destroy_group,
get_group_info, modify_group_base_info, get_online_member_num, get_members,
modify_group_member_info and liveroom_svc/set_room_config: good input and
its reply fields, every error code, and each limit crossed by one."""

import time

from adminhttp import AVCHAT, AdminCase
from harness import main, room_name

INFO_FIELDS = ("GroupId", "ErrorCode", "Type", "Name", "Owner_Account", "Introduction",
               "Notification", "FaceUrl", "CreateTime", "MemberNum", "MuteAllMember")
FAST = ("--rate", "1000", "--user-rate", "1000")


def assert_group_gone(test, reply, room):
    """Unknown GroupId is 10010 (§2): for get_group_info either the whole
    reply or the group's own entry may carry it."""
    if reply["ActionStatus"] == "FAIL":
        test.assertEqual(reply["ErrorCode"], 10010, reply)
        return
    entries = [g for g in reply.get("GroupInfo", []) if g.get("GroupId") == room]
    test.assertEqual(len(entries), 1, reply)
    test.assertEqual(entries[0].get("ErrorCode"), 10010, reply)


class CreateGroup(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon(*FAST)
        self.a = self.admin_client(self.d)

    async def test_create_with_every_field_shows_them_in_get_group_info(self):
        room = room_name("full")
        t0 = int(time.time())
        r = self.a.ok("create_group", {
            "Type": "AVChatRoom", "GroupId": room, "Name": "Launch party",
            "Owner_Account": "olivia", "Introduction": "intro", "Notification": "note",
            "FaceUrl": "https://example.com/f.png"})
        t1 = int(time.time())
        self.assertEqual(r["GroupId"], room)
        info = self.a.ok("get_group_info", {"GroupIdList": [room]})["GroupInfo"]
        self.assertEqual(len(info), 1, info)
        g = info[0]
        for f in INFO_FIELDS:
            self.assertIn(f, g)
        self.assertEqual(g["GroupId"], room)
        self.assertEqual(g["ErrorCode"], 0)
        self.assertEqual(g["Type"], "AVChatRoom")
        self.assertEqual(g["Name"], "Launch party")
        self.assertEqual(g["Owner_Account"], "olivia")
        self.assertEqual(g["Introduction"], "intro")
        self.assertEqual(g["Notification"], "note")
        self.assertEqual(g["FaceUrl"], "https://example.com/f.png")
        self.assertEqual(g["MemberNum"], 0)
        self.assertEqual(g["MuteAllMember"], "Off")
        # CreateTime is unix seconds (not ms): allow a minute of clock slack.
        self.assertGreaterEqual(g["CreateTime"], t0 - 60)
        self.assertLessEqual(g["CreateTime"], t1 + 60)

    async def test_join_reply_profile_carries_the_created_fields(self):
        room = room_name("prof")
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": room, "Name": "N",
                                   "Owner_Account": "olivia", "Introduction": "I",
                                   "Notification": "T", "FaceUrl": "F"})
        c = await self.user(self.d, "alice")
        p = (await c.ok("join", room=room))["profile"]
        # docs/PROTOCOL-NOTES.md names the join reply's profile keys.
        self.assertEqual(p, {"name": "N", "owner": "olivia", "introduction": "I",
                             "notification": "T", "face_url": "F"})

    async def test_create_without_group_id_generates_a_tgs_id_that_clients_can_join(self):
        ids = set()
        for _ in range(3):
            gid = self.a.ok("create_group", {"Type": "AVChatRoom"})["GroupId"]
            self.assertTrue(gid.startswith("@TGS#"), gid)
            self.assertLessEqual(len(gid), 48)
            ids.add(gid)
        self.assertEqual(len(ids), 3, ids)
        gid = ids.pop()
        self.assertEqual(self.a.ok("get_group_info", {"GroupIdList": [gid]})
                         ["GroupInfo"][0]["ErrorCode"], 0)
        c = await self.user(self.d, "alice")
        self.assertEqual((await c.ok("join", room=gid))["room"], gid)

    async def test_existing_group_id_gets_10021(self):
        room = room_name("dup")
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": room, "Name": "first"})
        self.a.fail("create_group", {"Type": "AVChatRoom", "GroupId": room, "Name": "second"},
                    10021)
        g = self.a.ok("get_group_info", {"GroupIdList": [room]})["GroupInfo"][0]
        self.assertEqual(g["Name"], "first")  # the refused create changed nothing

    async def test_room_auto_created_by_a_join_also_counts_as_existing(self):
        room = room_name("auto")
        c = await self.user(self.d, "alice")
        await c.ok("join", room=room)
        self.a.fail("create_group", {"Type": "AVChatRoom", "GroupId": room}, 10021)

    async def test_type_other_than_avchatroom_gets_10004(self):
        for t in ("Public", "ChatRoom", "Private", "avchatroom", ""):
            self.a.fail("create_group", {"Type": t, "GroupId": room_name("t")}, 10004)
        self.a.fail("create_group", {"GroupId": room_name("t")}, 10004)  # no Type
        self.a.fail("create_group", {"Type": 1, "GroupId": room_name("t")}, 10004)

    async def test_introduction_240_bytes_ok_241_bytes_10004(self):
        # 120 two-byte characters: the limit is in bytes, not characters.
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": room_name("i"),
                                   "Introduction": "\u00e9" * 120})
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": room_name("i"),
                                   "Introduction": "a" * 240})
        self.a.fail("create_group", {"Type": "AVChatRoom", "GroupId": room_name("i"),
                                     "Introduction": "\u00e9" * 120 + "a"}, 10004)
        self.a.fail("create_group", {"Type": "AVChatRoom", "GroupId": room_name("i"),
                                     "Introduction": "a" * 241}, 10004)

    async def test_notification_300_bytes_ok_301_bytes_10004(self):
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": room_name("n"),
                                   "Notification": "\u00e9" * 150})
        self.a.fail("create_group", {"Type": "AVChatRoom", "GroupId": room_name("n"),
                                     "Notification": "\u00e9" * 150 + "a"}, 10004)
        self.a.fail("create_group", {"Type": "AVChatRoom", "GroupId": room_name("n"),
                                     "Notification": "a" * 301}, 10004)

    async def test_invalid_group_id_gets_10015(self):
        for bad in ("has space", "x" * 49, "tab\there", "caf\u00e9"):
            self.a.fail("create_group", {"Type": "AVChatRoom", "GroupId": bad}, 10015)
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": "y" * 48})

    async def test_wrongly_typed_fields_get_10004(self):
        self.a.fail("create_group", {"Type": "AVChatRoom", "GroupId": room_name("w"),
                                     "Name": 5}, 10004)
        self.a.fail("create_group", {"Type": "AVChatRoom", "GroupId": 17}, 10004)


class DestroyGroup(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon(*FAST)
        self.a = self.admin_client(self.d)

    async def test_destroyed_group_is_gone_and_its_id_reusable(self):
        room = room_name("gone")
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": room, "Name": "old"})
        self.assertEqual(self.a.ok("destroy_group", {"GroupId": room}), {
            "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
        assert_group_gone(self, self.a.call("get_group_info", {"GroupIdList": [room]}), room)
        self.a.fail("destroy_group", {"GroupId": room}, 10010)
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": room, "Name": "new"})
        g = self.a.ok("get_group_info", {"GroupIdList": [room]})["GroupInfo"][0]
        self.assertEqual((g["ErrorCode"], g["Name"]), (0, "new"))

    async def test_destroy_unknown_group_gets_10010(self):
        self.a.fail("destroy_group", {"GroupId": room_name("never")}, 10010)

    async def test_destroy_with_bad_or_missing_group_id(self):
        self.a.fail("destroy_group", {"GroupId": "has space"}, 10015)
        self.a.fail("destroy_group", {}, 10004)


class GetGroupInfo(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon(*FAST)
        self.a = self.admin_client(self.d)

    async def test_member_num_counts_distinct_online_users(self):
        room = room_name("num")
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": room})
        await self.user(self.d, "alice", room=room)
        await self.user(self.d, "alice", room=room, transport="msgpack")  # same user
        await self.user(self.d, "bob", room=room)
        await self.guest(self.d, room=room)
        g = self.a.ok("get_group_info", {"GroupIdList": [room]})["GroupInfo"][0]
        self.assertEqual(g["MemberNum"], 3)

    async def test_50_groups_ok_51_gets_10004(self):
        rooms = [room_name("l%d" % i) for i in range(50)]
        for r in rooms[:5]:
            self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": r})
        info = self.a.ok("get_group_info", {"GroupIdList": rooms})["GroupInfo"]
        self.assertEqual([g["GroupId"] for g in info], rooms)  # in request order
        self.assertEqual([g["ErrorCode"] for g in info], [0] * 5 + [10010] * 45)
        self.a.fail("get_group_info", {"GroupIdList": rooms + [room_name("x")]}, 10004)

    async def test_unknown_group_reports_10010(self):
        room = room_name("unknown")
        assert_group_gone(self, self.a.call("get_group_info", {"GroupIdList": [room]}), room)

    async def test_missing_or_wrong_group_id_list_gets_10004(self):
        self.a.fail("get_group_info", {}, 10004)
        self.a.fail("get_group_info", {"GroupIdList": "r1"}, 10004)
        self.a.fail("get_group_info", {"GroupIdList": [1]}, 10004)

    async def test_invalid_group_id_in_the_list_gets_10015(self):
        self.a.fail("get_group_info", {"GroupIdList": ["has space"]}, 10015)


class ModifyGroupBaseInfo(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon(*FAST)
        self.a = self.admin_client(self.d)
        self.room = room_name("mod")
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": self.room, "Name": "before",
                                   "Introduction": "keep me", "Owner_Account": "olivia"})

    async def test_changed_fields_show_in_info_and_join_and_members_get_profile_event(self):
        c = await self.user(self.d, "alice", room=self.room)
        self.a.ok("modify_group_base_info", {"GroupId": self.room, "Name": "after",
                                             "Notification": "new note",
                                             "FaceUrl": "https://example.com/n.png"})
        ev = await c.push("event", room=self.room, kind="profile")
        # "changed profile fields": flat or under `profile`, named as in the
        # join reply's profile.
        fields = ev.get("profile", ev)
        self.assertEqual(fields.get("name"), "after", ev)
        self.assertEqual(fields.get("notification"), "new note", ev)
        g = self.a.ok("get_group_info", {"GroupIdList": [self.room]})["GroupInfo"][0]
        self.assertEqual((g["Name"], g["Notification"], g["FaceUrl"]),
                         ("after", "new note", "https://example.com/n.png"))
        self.assertEqual(g["Introduction"], "keep me")  # not named: unchanged
        self.assertEqual(g["Owner_Account"], "olivia")
        late = await self.user(self.d, "bob")
        p = (await late.ok("join", room=self.room))["profile"]
        self.assertEqual((p["name"], p["notification"], p["introduction"]),
                         ("after", "new note", "keep me"))

    async def test_mute_all_member_on_off_shows_in_info_join_and_events(self):
        c = await self.user(self.d, "alice", room=self.room)
        self.a.ok("modify_group_base_info", {"GroupId": self.room, "MuteAllMember": "On"})
        ev = await c.push("event", room=self.room, kind="mute_all")
        self.assertIs(ev.get("on"), True, ev)
        g = self.a.ok("get_group_info", {"GroupIdList": [self.room]})["GroupInfo"][0]
        self.assertEqual(g["MuteAllMember"], "On")
        late = await self.user(self.d, "bob")
        self.assertIs((await late.ok("join", room=self.room))["mute_all"], True)
        self.a.ok("modify_group_base_info", {"GroupId": self.room, "MuteAllMember": "Off"})
        ev = await c.push("event", room=self.room, kind="mute_all")
        self.assertIs(ev.get("on"), False, ev)
        g = self.a.ok("get_group_info", {"GroupIdList": [self.room]})["GroupInfo"][0]
        self.assertEqual(g["MuteAllMember"], "Off")

    async def test_bad_values_get_10004_and_change_nothing(self):
        for bad in ({"MuteAllMember": "Yes"}, {"MuteAllMember": True},
                    {"Introduction": "a" * 241}, {"Notification": "a" * 301},
                    {"Name": 3}):
            body = {"GroupId": self.room, "Name": "should not stick"}
            body.update(bad)
            self.a.fail("modify_group_base_info", body, 10004)
        g = self.a.ok("get_group_info", {"GroupIdList": [self.room]})["GroupInfo"][0]
        self.assertEqual((g["Name"], g["MuteAllMember"]), ("before", "Off"))

    async def test_limits_at_the_edge_are_accepted(self):
        self.a.ok("modify_group_base_info", {"GroupId": self.room,
                                             "Introduction": "a" * 240,
                                             "Notification": "b" * 300})
        g = self.a.ok("get_group_info", {"GroupIdList": [self.room]})["GroupInfo"][0]
        self.assertEqual((len(g["Introduction"]), len(g["Notification"])), (240, 300))

    async def test_unknown_or_invalid_group(self):
        self.a.fail("modify_group_base_info", {"GroupId": room_name("no"), "Name": "x"}, 10010)
        self.a.fail("modify_group_base_info", {"GroupId": "has space", "Name": "x"}, 10015)


class OnlineAndMembers(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon(*FAST)
        self.a = self.admin_client(self.d)
        self.room = room_name("mem")
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": self.room})

    async def test_get_online_member_num_counts_distinct_users(self):
        self.assertEqual(self.a.ok("get_online_member_num", {"GroupId": self.room}),
                         {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
                          "OnlineMemberNum": 0})
        a1 = await self.user(self.d, "alice", room=self.room)
        await self.user(self.d, "alice", room=self.room, transport="tcp")
        await self.user(self.d, "bob", room=self.room)
        self.assertEqual(self.a.ok("get_online_member_num", {"GroupId": self.room})
                         ["OnlineMemberNum"], 2)
        await a1.ok("leave", room=self.room)  # alice still has her tcp connection
        self.assertEqual(self.a.ok("get_online_member_num", {"GroupId": self.room})
                         ["OnlineMemberNum"], 2)

    async def test_get_online_member_num_unknown_group_10010(self):
        self.a.fail("get_online_member_num", {"GroupId": room_name("no")}, 10010)
        self.a.fail("get_online_member_num", {"GroupId": "has space"}, 10015)
        self.a.fail("get_online_member_num", {}, 10004)

    async def test_get_members_lists_newest_join_first_with_nicks(self):
        for u in ("ann", "ben", "cat"):
            await self.user(self.d, u, nick="Nick-" + u, room=self.room)
        r = self.a.ok("get_members", {"GroupId": self.room}, service=AVCHAT)
        self.assertEqual(r["OnlineMemberNum"], 3)
        names = [m["Member_Account"] for m in r["MemberList"]]
        self.assertEqual(names, ["cat", "ben", "ann"])
        for m in r["MemberList"]:
            self.assertEqual(m["NickName"], "Nick-" + m["Member_Account"])
            self.assertIsInstance(m["JoinTime"], int)
        times = [m["JoinTime"] for m in r["MemberList"]]
        self.assertEqual(times, sorted(times, reverse=True))
        r = self.a.ok("get_members", {"GroupId": self.room, "Limit": 1}, service=AVCHAT)
        self.assertEqual([m["Member_Account"] for m in r["MemberList"]], ["cat"])
        self.assertEqual(r["OnlineMemberNum"], 3)  # the count is not the page

    async def test_get_members_limit_1000_ok_1001_10004(self):
        self.a.ok("get_members", {"GroupId": self.room, "Limit": 1000}, service=AVCHAT)
        self.a.fail("get_members", {"GroupId": self.room, "Limit": 1001}, 10004, service=AVCHAT)
        self.a.fail("get_members", {"GroupId": self.room, "Limit": "10"}, 10004, service=AVCHAT)

    async def test_get_members_unknown_group_10010(self):
        self.a.fail("get_members", {"GroupId": room_name("no")}, 10010, service=AVCHAT)


class ModifyGroupMemberInfo(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon(*FAST)
        self.a = self.admin_client(self.d)
        self.room = room_name("role")
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": self.room})

    async def test_role_admin_grants_and_member_revokes_client_moderation(self):
        mod = await self.user(self.d, "mod", room=self.room)
        await self.user(self.d, "bob", room=self.room)
        self.assertErr(await mod.request("mute", room=self.room, user="bob", secs=60), 10007)
        self.a.ok("modify_group_member_info", {"GroupId": self.room, "Member_Account": "mod",
                                               "Role": "Admin"})
        await mod.ok("mute", room=self.room, user="bob", secs=60)
        self.a.ok("modify_group_member_info", {"GroupId": self.room, "Member_Account": "mod",
                                               "Role": "Member"})
        self.assertErr(await mod.request("mute", room=self.room, user="bob", secs=0), 10007)

    async def test_role_of_a_user_not_online_can_be_set(self):
        self.a.ok("modify_group_member_info", {"GroupId": self.room, "Member_Account": "later",
                                               "Role": "Admin"})
        later = await self.user(self.d, "later", room=self.room)
        await self.user(self.d, "bob", room=self.room)
        await later.ok("kick", room=self.room, user="bob")

    async def test_bad_role_or_missing_fields_get_10004(self):
        for body in ({"Member_Account": "bob", "Role": "Owner"},
                     {"Member_Account": "bob", "Role": "admin!"},
                     {"Member_Account": "bob"}, {"Role": "Admin"},
                     {"Member_Account": 5, "Role": "Admin"}):
            body["GroupId"] = self.room
            self.a.fail("modify_group_member_info", body, 10004)

    async def test_unknown_group_10010(self):
        self.a.fail("modify_group_member_info", {"GroupId": room_name("no"),
                                                 "Member_Account": "bob", "Role": "Admin"},
                    10010)


class SetRoomConfig(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon("--user-rate", "1000")
        self.a = self.admin_client(self.d)
        self.room = room_name("cfg")
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": self.room})

    def cfg(self, **fields):
        fields["GroupId"] = self.room
        return self.a.ok("set_room_config", fields)

    async def test_history_sets_how_many_messages_a_join_returns(self):
        s = await self.user(self.d, "sam", room=self.room)
        for i in range(3):
            await s.ok("send", room=self.room, body="h%d" % i)
        self.cfg(History=2)
        j = await self.user(self.d, "jo")
        hist = (await j.ok("join", room=self.room))["history"]
        self.assertEqual([m["body"] for m in hist], ["h1", "h2"])
        self.cfg(History=0)
        k = await self.user(self.d, "kim")
        self.assertEqual((await k.ok("join", room=self.room))["history"], [])

    async def test_allow_guests_false_refuses_guest_joins(self):
        self.cfg(AllowGuests=False)
        g = await self.guest(self.d)
        self.assertErr(await g.request("join", room=self.room), 10007)
        self.cfg(AllowGuests=True)
        await g.ok("join", room=self.room)

    async def test_member_events_true_pushes_join_and_leave(self):
        w = await self.user(self.d, "watcher", room=self.room)
        self.cfg(MemberEvents=True)
        b = await self.user(self.d, "bob", room=self.room)
        await w.push("event", room=self.room, kind="join", user="bob")
        await b.ok("leave", room=self.room)
        await w.push("event", room=self.room, kind="leave", user="bob")

    async def test_rate_1_limits_and_report_limited_turns_drops_into_10023(self):
        self.cfg(Rate=1)
        s = await self.user(self.d, "sam", room=self.room)
        replies = [await s.request("send", room=self.room, body="m%d" % i) for i in range(8)]
        self.assertTrue(all(r["op"] == "ok" for r in replies), replies)
        limited = [r for r in replies if r.get("limited") is True]
        self.assertGreater(len(limited), 0, replies)
        self.assertTrue(all(r["seq"] == 0 for r in limited), limited)
        self.cfg(ReportLimited=True)
        replies = [await s.request("send", room=self.room, body="n%d" % i) for i in range(8)]
        codes = [r.get("code") for r in replies if r["op"] == "err"]
        self.assertGreater(len(codes), 0, replies)
        self.assertEqual(set(codes), {10023}, replies)

    async def test_out_of_range_values_get_10004(self):
        for bad in ({"Rate": 0}, {"Rate": 1001}, {"Rate": "40"}, {"History": 51},
                    {"History": -1}, {"AllowGuests": "yes"}, {"MemberEvents": 1},
                    {"ReportLimited": "true"}):
            body = {"GroupId": self.room}
            body.update(bad)
            self.a.fail("set_room_config", body, 10004)
        self.cfg(Rate=1000, History=50)  # the edges are accepted
        self.cfg(Rate=1, History=0)

    async def test_unknown_group_10010(self):
        self.a.fail("set_room_config", {"GroupId": room_name("no"), "Rate": 5}, 10010)
        self.a.fail("set_room_config", {"GroupId": "has space", "Rate": 5}, 10015)


if __name__ == "__main__":
    main()
