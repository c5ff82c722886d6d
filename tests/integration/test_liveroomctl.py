"""liveroomctl, the operators' admin CLI (tools/liveroomctl.c): it signs for
the admin with --secret or the data dir's secret, turns Key=Value words into
a typed JSON body, finds each command's service, prints the reply, and
exits 0 on OK, 1 on FAIL or no reply, 2 on a usage error."""

import json
import os
import subprocess
import unittest

from adminhttp import AdminCase
from harness import SECRET, WAIT, _binary, free_port, main, room_name

LIVEROOMCTL = _binary("LIVEROOMCTL", "liveroomctl")


class Ctl(AdminCase):
    async def asyncSetUp(self):
        if not os.access(LIVEROOMCTL, os.X_OK):
            raise unittest.SkipTest("liveroomctl not built (%s)" % LIVEROOMCTL)
        await super().asyncSetUp()

    def ctl(self, *args, d=None, auth=True):
        argv = [LIVEROOMCTL]
        if d is not None:
            argv += ["--port", str(d.admin_port)]
            if auth:
                argv += ["--secret", d.secret] if d.secret else ["--data-dir", d.data_dir]
        argv += list(args)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=WAIT,
                           stdin=subprocess.DEVNULL)
        return r

    def ctl_json(self, *args, d, rc=0):
        r = self.ctl(*args, d=d)
        self.assertEqual(r.returncode, rc, "argv %r\nstdout %s\nstderr %s"
                         % (args, r.stdout, r.stderr))
        return json.loads(r.stdout)


class Commands(Ctl):
    async def test_create_group_then_get_group_info(self):
        d = self.daemon()
        room = room_name("ctl")
        r = self.ctl_json("create_group", "Type=AVChatRoom", "GroupId=" + room,
                          "Name=From the CLI", d=d)
        self.assertEqual((r["ActionStatus"], r["GroupId"]), ("OK", room))
        r = self.ctl_json("get_group_info", 'GroupIdList=["%s"]' % room, d=d)
        g = r["GroupInfo"][0]
        self.assertEqual((g["GroupId"], g["ErrorCode"], g["Name"]), (room, 0, "From the CLI"))

    async def test_failing_command_prints_the_reply_and_exits_1(self):
        d = self.daemon()
        r = self.ctl_json("destroy_group", "GroupId=" + room_name("none"), d=d, rc=1)
        self.assertEqual((r["ActionStatus"], r["ErrorCode"]), ("FAIL", 10010))
        r = self.ctl_json("no_such_command", d=d, rc=1)
        self.assertEqual(r["ErrorCode"], 10003)

    async def test_numbers_and_arrays_are_sent_as_json(self):
        d = self.daemon()
        room = room_name("typed")
        await self.create(d, room)
        self.ctl_json("forbid_send_msg", "GroupId=" + room, 'Members_Account=["bob","eve"]',
                      "MuteTime=60", d=d)
        lst = (await self.aok(d, "get_group_muted_account", {"GroupId": room}))
        self.assertEqual(sorted(m["Member_Account"] for m in lst["MutedAccountList"]),
                         ["bob", "eve"])
        self.ctl_json("set_room_config", "GroupId=" + room, "AllowGuests=false", "History=0",
                      d=d)
        g = await self.guest(d)
        self.assertErr(await g.request("join", room=room), 10007)

    async def test_quoted_json_string_keeps_a_numeric_looking_value_a_string(self):
        d = self.daemon()
        r = self.ctl_json("create_group", "Type=AVChatRoom", 'GroupId="12345"', d=d)
        self.assertEqual(r["GroupId"], "12345")

    async def test_json_option_gives_the_body_and_pairs_override(self):
        d = self.daemon()
        room = room_name("js")
        r = self.ctl_json("create_group", "--json",
                          json.dumps({"Type": "AVChatRoom", "GroupId": room, "Name": "old"}),
                          "Name=new", d=d)
        self.assertEqual(r["GroupId"], room)
        self.assertEqual((await self.group_info(d, room))["Name"], "new")

    async def test_each_command_reaches_its_service(self):
        d = self.daemon()
        room = room_name("svc")
        await self.create(d, room)
        r = self.ctl_json("get_members", "GroupId=" + room, d=d)  # avchatroom service
        self.assertEqual(r["MemberList"], [])
        self.ctl_json("account_import", "UserID=star", "Nick=Star", d=d)  # login service
        self.ctl_json("kick", "UserID=star", d=d)
        self.ctl_json("set_room_config", "GroupId=" + room, "Rate=5", d=d)  # liveroom_svc
        r = self.ctl_json("group_open_http_svc/get_online_member_num", "GroupId=" + room, d=d)
        self.assertEqual(r["OnlineMemberNum"], 0)
        r = self.ctl_json("im_open_login_svc/get_online_member_num", "GroupId=" + room, d=d,
                          rc=1)
        self.assertEqual(r["ErrorCode"], 10003)  # the explicit service is used as given

    async def test_data_dir_secret_signs_and_admin_option_is_used(self):
        d = self.daemon("--admins", "ops", secret=None)
        room = room_name("dd")
        r = self.ctl_json("create_group", "Type=AVChatRoom", "GroupId=" + room, "--admin",
                          "ops", d=d)
        self.assertEqual(r["GroupId"], room)
        r = self.ctl_json("create_group", "Type=AVChatRoom", "GroupId=" + room_name("x"), d=d,
                          rc=1)  # administrator is not an admin of this engine
        self.assertNotEqual(r["ErrorCode"], 0)

    async def test_wrong_secret_exits_1(self):
        d = self.daemon()
        r = self.ctl("get_group_info", 'GroupIdList=["x"]', "--port", str(d.admin_port),
                     "--secret", SECRET + "-wrong")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(json.loads(r.stdout)["ErrorCode"], 70009)

    async def test_no_engine_listening_exits_1(self):
        r = self.ctl("get_group_info", 'GroupIdList=["x"]', "--port", str(free_port()),
                     "--secret", SECRET)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertTrue(r.stderr, "no message on stderr")

    async def test_missing_secret_file_exits_1_without_creating_one(self):
        d = self.daemon()
        empty = os.path.join(d.data_dir, "no-such-dir")
        r = self.ctl("get_group_info", 'GroupIdList=["x"]', "--port", str(d.admin_port),
                     "--data-dir", empty)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertFalse(os.path.exists(empty), "liveroomctl created a data dir")


class Usage(Ctl):
    def assertUsage(self, *args):
        r = self.ctl(*args)
        self.assertEqual(r.returncode, 2, "argv %r: %s%s" % (args, r.stdout, r.stderr))
        self.assertTrue(r.stderr, "argv %r: no message" % (args,))
        self.assertEqual(r.stdout, "", "argv %r printed a reply" % (args,))

    async def test_bad_usage_exits_2(self):
        s = ("--secret", SECRET, "--port", str(free_port()))
        self.assertUsage(*s)  # no command
        self.assertUsage(*s, "create_group", "NoEqualsSign")
        self.assertUsage(*s, "create_group", "=value")
        self.assertUsage(*s, "create_group", "--json", "[1, 2]")
        self.assertUsage(*s, "create_group", "--json", "{not json")
        self.assertUsage(*s, "--no-such-option", "create_group")
        self.assertUsage("--port", "http", "--secret", SECRET, "create_group")
        self.assertUsage("--port", "70000", "--secret", SECRET, "create_group")
        self.assertUsage("--secret", SECRET, "--data-dir", "/tmp", "create_group")
        self.assertUsage("--app-id", "-1", "--secret", SECRET, "create_group")
        self.assertUsage(*s, "create_group", "--json")  # option without its value
        self.assertUsage(*s, "bad/service/command")

    async def test_help_exits_0_with_usage_on_stdout(self):
        r = self.ctl("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage", r.stdout)


if __name__ == "__main__":
    main()
