"""Admin API credentials (ADMIN_API.md §1, §4): the identifier must be an app
admin and usersig its valid signature; absent credentials get 10008, bad
ones 70001/70003/70009/70013; a refused request changes nothing."""

import time

from adminhttp import AdminCase
from harness import SECRET, main, make_jwt, make_usersig, room_name

SIG_CODES = (70001, 70003, 70009, 70013)


class Credentials(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon()
        self.a = self.admin_client(self.d)
        self.body = {"GroupIdList": [room_name("auth")]}

    async def test_valid_usersig_of_the_default_admin_is_accepted(self):
        self.a.ok("get_group_info", self.body)

    async def test_jwt_of_the_admin_is_accepted_as_usersig(self):
        self.a.ok("get_group_info", self.body, usersig=make_jwt("administrator"))

    async def test_missing_identifier_gets_10008(self):
        self.a.fail("get_group_info", self.body, 10008, omit=("identifier",))

    async def test_missing_usersig_gets_10008(self):
        self.a.fail("get_group_info", self.body, 10008, omit=("usersig",))

    async def test_empty_identifier_or_usersig_gets_10008(self):
        self.a.fail("get_group_info", self.body, 10008, identifier="", usersig="x")
        self.a.fail("get_group_info", self.body, 10008, usersig="")

    async def test_expired_usersig_gets_70001(self):
        old = make_usersig("administrator", now=time.time() - 3600, expire=60)
        self.a.fail("get_group_info", self.body, 70001, usersig=old)

    async def test_expired_jwt_gets_70001(self):
        old = make_jwt("administrator", now=time.time() - 3600, expire=60)
        self.a.fail("get_group_info", self.body, 70001, usersig=old)

    async def test_undecodable_usersig_gets_70003(self):
        for bad in ("garbage", "eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwokpuZl5"):
            self.a.fail("get_group_info", self.body, 70003, usersig=bad)

    async def test_usersig_with_a_wrong_mac_gets_70009(self):
        self.a.fail("get_group_info", self.body, 70009,
                    usersig=make_usersig("administrator", tamper=True))

    async def test_usersig_signed_with_another_secret_gets_70009(self):
        self.a.fail("get_group_info", self.body, 70009,
                    usersig=make_usersig("administrator", secret=SECRET + "-other"))

    async def test_usersig_of_another_user_gets_70013(self):
        # identifier names the admin, but the signature was made for bob.
        self.a.fail("get_group_info", self.body, 70013, usersig=make_usersig("bob"))

    async def test_non_admin_identifier_with_its_own_valid_usersig_is_refused(self):
        r = self.a.fail("get_group_info", self.body, identifier="bob")
        self.assertIn(r["ErrorCode"], SIG_CODES, r)

    async def test_other_sdkappid_is_refused(self):
        r = self.a.fail("get_group_info", self.body, sdkappid=1400000001)
        self.assertNotEqual(r["ErrorCode"], 0)

    async def test_refused_request_changes_nothing(self):
        room = room_name("noop")
        self.a.fail("create_group", {"Type": "AVChatRoom", "GroupId": room},
                    usersig=make_usersig("administrator", tamper=True))
        self.a.fail("create_group", {"Type": "AVChatRoom", "GroupId": room}, identifier="bob")
        # Had either gone through, this create would be 10021.
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": room})

    async def test_signature_is_checked_before_the_command_is_looked_up(self):
        # An outsider learns nothing about which commands exist.
        r = self.a.fail("no_such_command", {}, usersig=make_usersig("administrator", tamper=True))
        self.assertIn(r["ErrorCode"], SIG_CODES, r)


class AdminList(AdminCase):
    async def test_every_configured_admin_is_accepted(self):
        d = self.daemon("--admins", "administrator,ops")
        a = self.admin_client(d)
        body = {"GroupIdList": [room_name("adm")]}
        a.ok("get_group_info", body)
        a.ok("get_group_info", body, identifier="ops")
        r = a.fail("get_group_info", body, identifier="bob")
        self.assertIn(r["ErrorCode"], SIG_CODES, r)

    async def test_administrator_is_refused_when_not_in_the_configured_list(self):
        d = self.daemon("--admins", "ops")
        a = self.admin_client(d)
        body = {"GroupIdList": [room_name("adm")]}
        a.ok("get_group_info", body, identifier="ops")
        r = a.fail("get_group_info", body, identifier="administrator")
        self.assertIn(r["ErrorCode"], SIG_CODES, r)

    async def test_without_secret_flag_the_data_dir_secret_signs_admins(self):
        d = self.daemon(secret=None)
        a = self.admin_client(d)
        body = {"GroupIdList": [room_name("sf")]}
        a.ok("get_group_info", body, secret=d.read_secret())
        a.fail("get_group_info", body, 70009, secret=SECRET)


if __name__ == "__main__":
    main()
