"""Admin member commands (ADMIN_API.md §2): forbid_send_msg,
get_group_muted_account, ban_group_member, unban_group_member,
get_group_ban_member and delete_group_member: their replies, what the lists
show, error codes, and each list limit crossed by one. What a mute or ban
does to clients is in test_moderation.py."""

import time

from adminhttp import AdminCase
from harness import main, room_name


def users(n, tag="u"):
    return ["%s%d" % (tag, i) for i in range(n)]


class Mutes(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon()
        self.a = self.admin_client(self.d)
        self.room = room_name("mute")
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": self.room})

    def muted(self):
        r = self.a.ok("get_group_muted_account", {"GroupId": self.room})
        return {m["Member_Account"]: m["MutedUntil"] for m in r["MutedAccountList"]}

    async def test_muted_accounts_are_listed_with_their_end_in_unix_seconds(self):
        self.assertEqual(self.muted(), {})
        t0 = int(time.time())
        self.assertEqual(self.a.ok("forbid_send_msg", {
            "GroupId": self.room, "Members_Account": ["bob", "eve"], "MuteTime": 600}),
            {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
        t1 = int(time.time())
        m = self.muted()
        self.assertEqual(sorted(m), ["bob", "eve"])
        for until in m.values():
            self.assertGreaterEqual(until, t0 + 600 - 1)
            self.assertLessEqual(until, t1 + 600 + 1)

    async def test_mute_time_0_unmutes(self):
        self.a.ok("forbid_send_msg", {"GroupId": self.room, "Members_Account": ["bob", "eve"],
                                      "MuteTime": 600})
        self.a.ok("forbid_send_msg", {"GroupId": self.room, "Members_Account": ["bob"],
                                      "MuteTime": 0})
        self.assertEqual(sorted(self.muted()), ["eve"])

    async def test_a_new_mute_time_replaces_the_old_one(self):
        self.a.ok("forbid_send_msg", {"GroupId": self.room, "Members_Account": ["bob"],
                                      "MuteTime": 100000})
        self.a.ok("forbid_send_msg", {"GroupId": self.room, "Members_Account": ["bob"],
                                      "MuteTime": 60})
        self.assertLessEqual(self.muted()["bob"], int(time.time()) + 61)

    async def test_500_accounts_ok_501_gets_10004(self):
        self.a.ok("forbid_send_msg", {"GroupId": self.room, "Members_Account": users(500),
                                      "MuteTime": 60})
        self.assertEqual(len(self.muted()), 500)
        self.a.fail("forbid_send_msg", {"GroupId": self.room,
                                        "Members_Account": users(501, "v"), "MuteTime": 60},
                    10004)
        self.assertNotIn("v0", self.muted())  # nothing of the refused list applied

    async def test_bad_fields_get_10004(self):
        for body in ({"Members_Account": ["bob"]},
                     {"MuteTime": 60},
                     {"Members_Account": "bob", "MuteTime": 60},
                     {"Members_Account": ["bob"], "MuteTime": "60"},
                     {"Members_Account": ["bob"], "MuteTime": -1},
                     {"Members_Account": [7], "MuteTime": 60}):
            body["GroupId"] = self.room
            self.a.fail("forbid_send_msg", body, 10004)
        self.assertEqual(self.muted(), {})

    async def test_unknown_group_10010(self):
        self.a.fail("forbid_send_msg", {"GroupId": room_name("no"), "Members_Account": ["bob"],
                                        "MuteTime": 60}, 10010)
        self.a.fail("get_group_muted_account", {"GroupId": room_name("no")}, 10010)
        self.a.fail("get_group_muted_account", {"GroupId": "has space"}, 10015)


class Bans(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon()
        self.a = self.admin_client(self.d)
        self.room = room_name("ban")
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": self.room})

    def banned(self, **page):
        body = {"GroupId": self.room}
        body.update(page)
        return self.a.ok("get_group_ban_member", body)

    def all_banned(self, limit):
        seen, offset = [], 0
        for _ in range(50):  # bounded: 50 pages is far more than any test needs
            r = self.banned(Offset=offset, Limit=limit)
            page = r["BannedAccountList"]
            self.assertLessEqual(len(page), limit, r)
            seen += [b["Member_Account"] for b in page]
            if len(page) < limit or not r["NextOffset"]:
                return seen
            self.assertGreater(r["NextOffset"], offset, r)
            offset = r["NextOffset"]
        self.fail("paging never ended")

    async def test_banned_accounts_are_listed_with_their_end_in_unix_seconds(self):
        r = self.banned()
        self.assertEqual(r["BannedAccountList"], [])
        self.assertIn("NextOffset", r)
        t0 = int(time.time())
        self.a.ok("ban_group_member", {"GroupId": self.room, "Members_Account": ["bob"],
                                       "Duration": 3600, "Description": "spam"})
        t1 = int(time.time())
        lst = self.banned()["BannedAccountList"]
        self.assertEqual([b["Member_Account"] for b in lst], ["bob"])
        self.assertGreaterEqual(lst[0]["BannedUntil"], t0 + 3600 - 1)
        self.assertLessEqual(lst[0]["BannedUntil"], t1 + 3600 + 1)

    async def test_unban_removes_from_the_list(self):
        self.a.ok("ban_group_member", {"GroupId": self.room, "Members_Account": ["bob", "eve"],
                                       "Duration": 3600})
        self.assertEqual(self.a.ok("unban_group_member", {
            "GroupId": self.room, "Members_Account": ["bob"]}),
            {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
        self.assertEqual([b["Member_Account"] for b in self.banned()["BannedAccountList"]],
                         ["eve"])

    async def test_paging_with_offset_and_limit_returns_each_ban_once(self):
        self.a.ok("ban_group_member", {"GroupId": self.room, "Members_Account": users(7),
                                       "Duration": 3600})
        got = self.all_banned(limit=3)
        self.assertEqual(sorted(got), sorted(users(7)))
        first = self.banned(Offset=0, Limit=3)
        self.assertEqual(len(first["BannedAccountList"]), 3)
        self.assertEqual(first["NextOffset"], 3)

    async def test_ban_20_ok_21_gets_10004(self):
        self.a.ok("ban_group_member", {"GroupId": self.room, "Members_Account": users(20),
                                       "Duration": 60})
        self.a.fail("ban_group_member", {"GroupId": self.room,
                                         "Members_Account": users(21, "v"), "Duration": 60},
                    10004)
        self.assertEqual(sorted(self.all_banned(100)), sorted(users(20)))

    async def test_unban_20_ok_21_gets_10004(self):
        self.a.ok("ban_group_member", {"GroupId": self.room, "Members_Account": users(20),
                                       "Duration": 60})
        self.a.fail("unban_group_member", {"GroupId": self.room,
                                           "Members_Account": users(21)}, 10004)
        self.assertEqual(len(self.all_banned(100)), 20)  # the refused unban did nothing
        self.a.ok("unban_group_member", {"GroupId": self.room, "Members_Account": users(20)})
        self.assertEqual(self.all_banned(100), [])

    async def test_description_1000_bytes_ok_1001_gets_10004(self):
        self.a.ok("ban_group_member", {"GroupId": self.room, "Members_Account": ["a"],
                                       "Duration": 60, "Description": "\u00e9" * 500})
        self.a.fail("ban_group_member", {"GroupId": self.room, "Members_Account": ["b"],
                                         "Duration": 60, "Description": "\u00e9" * 500 + "x"},
                    10004)

    async def test_limit_100_ok_101_gets_10004(self):
        self.banned(Limit=100)
        self.a.fail("get_group_ban_member", {"GroupId": self.room, "Limit": 101}, 10004)
        self.a.fail("get_group_ban_member", {"GroupId": self.room, "Offset": -1}, 10004)

    async def test_bad_fields_get_10004(self):
        for body in ({"Duration": 60}, {"Members_Account": "bob", "Duration": 60},
                     {"Members_Account": ["bob"], "Duration": "60"},
                     {"Members_Account": ["bob"], "Duration": -5}):
            body["GroupId"] = self.room
            self.a.fail("ban_group_member", body, 10004)
        self.a.fail("unban_group_member", {"GroupId": self.room}, 10004)
        self.assertEqual(self.all_banned(100), [])

    async def test_unknown_group_10010(self):
        no = room_name("no")
        self.a.fail("ban_group_member", {"GroupId": no, "Members_Account": ["b"],
                                         "Duration": 60}, 10010)
        self.a.fail("unban_group_member", {"GroupId": no, "Members_Account": ["b"]}, 10010)
        self.a.fail("get_group_ban_member", {"GroupId": no}, 10010)
        self.a.fail("get_group_ban_member", {"GroupId": "has space"}, 10015)


class DeleteGroupMember(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon()
        self.a = self.admin_client(self.d)
        self.room = room_name("del")
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": self.room})

    async def test_100_accounts_ok_101_gets_10004(self):
        self.assertEqual(self.a.ok("delete_group_member", {
            "GroupId": self.room, "MemberToDel_Account": users(100), "Reason": "cleanup"}),
            {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
        self.a.fail("delete_group_member", {"GroupId": self.room,
                                            "MemberToDel_Account": users(101)}, 10004)

    async def test_bad_fields_get_10004(self):
        self.a.fail("delete_group_member", {"GroupId": self.room}, 10004)
        self.a.fail("delete_group_member", {"GroupId": self.room,
                                            "MemberToDel_Account": "bob"}, 10004)

    async def test_unknown_group_10010(self):
        self.a.fail("delete_group_member", {"GroupId": room_name("no"),
                                            "MemberToDel_Account": ["bob"]}, 10010)


if __name__ == "__main__":
    main()
