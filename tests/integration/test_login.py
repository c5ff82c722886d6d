"""Login (PROTOCOL.md §3, §5; ADMIN_API.md §4): UserSig and JWT, made both by
the engine's liveroom-sig tool and by an independent python signer; guest
login; every 700xx signature error."""

import asyncio
import base64
import hashlib
import hmac
import json
import time

from harness import (APP_ID, SECRET, DaemonCase, decode_usersig, main, make_jwt,
                     make_usersig, room_name, tool_sig)


def _b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class ToolSignaturesFollowTheSpec(DaemonCase):
    """liveroom-sig output checked against ADMIN_API.md §4 without the engine."""

    def test_liveroom_sig_usersig_is_tlssigapiv2_signed_with_the_secret(self):
        before = int(time.time())
        sig = tool_sig("alice", expire=3600)
        doc = decode_usersig(sig)
        self.assertEqual(doc["TLS.ver"], "2.0")
        self.assertEqual(doc["TLS.identifier"], "alice")
        self.assertEqual(int(doc["TLS.sdkappid"]), APP_ID)
        self.assertEqual(int(doc["TLS.expire"]), 3600)
        t = int(doc["TLS.time"])
        self.assertTrue(before - 5 <= t <= int(time.time()) + 5, t)
        content = ("TLS.identifier:alice\nTLS.sdkappid:%d\nTLS.time:%d\nTLS.expire:3600\n"
                   % (APP_ID, t))
        mac = hmac.new(SECRET.encode(), content.encode(), hashlib.sha256).digest()
        self.assertEqual(base64.b64decode(doc["TLS.sig"]), mac)
        # Tencent's URL-safe alphabet: no '+', '/', '='.
        self.assertFalse(set(sig) & set("+/="), sig)

    def test_liveroom_sig_app_id_flag_is_signed_in(self):
        doc = decode_usersig(tool_sig("bob", app_id=1400000123))
        self.assertEqual(int(doc["TLS.sdkappid"]), 1400000123)

    def test_liveroom_sig_jwt_is_hs256_with_sub_and_exp(self):
        before = int(time.time())
        tok = tool_sig("carol", expire=600, jwt=True)
        head, body, mac = tok.split(".")
        self.assertEqual(json.loads(_b64url_decode(head))["alg"], "HS256")
        claims = json.loads(_b64url_decode(body))
        self.assertEqual(claims["sub"], "carol")
        self.assertTrue(before + 600 - 5 <= int(claims["exp"]) <= int(time.time()) + 605, claims)
        want = hmac.new(SECRET.encode(), (head + "." + body).encode(), hashlib.sha256).digest()
        self.assertEqual(_b64url_decode(mac), want)


class Login(DaemonCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon()

    async def _login_ok(self, user, sig, transport="json"):
        c = await self.client(self.d, transport)
        r = await c.ok("login", user=user, sig=sig)
        self.assertEqual(r["user"], user)
        # Logged in for real: may send to a joined room.
        room = room_name("login")
        await c.ok("join", room=room)
        s = await c.ok("send", room=room, body="x")
        self.assertGreater(s["seq"], 0)
        return c

    async def test_usersig_from_liveroom_sig_logs_in(self):
        await self._login_ok("alice", tool_sig("alice"))

    async def test_usersig_from_python_logs_in(self):
        await self._login_ok("bob", make_usersig("bob"))

    async def test_jwt_from_liveroom_sig_logs_in(self):
        await self._login_ok("carol", tool_sig("carol", jwt=True))

    async def test_jwt_from_python_logs_in(self):
        await self._login_ok("dave", make_jwt("dave"))

    async def test_login_over_msgpack_and_raw_tcp(self):
        await self._login_ok("erin", make_usersig("erin"), "msgpack")
        await self._login_ok("erin2", make_jwt("erin2"), "tcp")

    async def test_guest_login_gets_generated_guest_id(self):
        a = await self.client(self.d, "json")
        b = await self.client(self.d, "msgpack")
        ra = await a.ok("login", guest=True)
        rb = await b.ok("login", guest=True)
        self.assertTrue(ra["user"].startswith("guest-"), ra)
        self.assertTrue(rb["user"].startswith("guest-"), rb)
        self.assertNotEqual(ra["user"], rb["user"])

    async def test_guest_login_cannot_send(self):
        room = room_name("g")
        g = await self.guest(self.d, room=room)
        self.assertErr(await g.request("send", room=room, body="hi"), 10007)

    async def test_expired_usersig_gets_70001(self):
        c = await self.client(self.d)
        sig = make_usersig("frank", now=time.time() - 3600, expire=60)
        self.assertErr(await c.request("login", user="frank", sig=sig), 70001)

    async def test_expired_jwt_gets_70001(self):
        c = await self.client(self.d)
        tok = make_jwt("frank", now=time.time() - 3600, expire=60)
        self.assertErr(await c.request("login", user="frank", sig=tok), 70001)

    async def test_liveroom_sig_expired_usersig_gets_70001(self):
        # Valid while now < time + expire: with --expire 1 it is expired once
        # the wall clock reaches time + 1 (a bounded wait on the clock).
        sig = tool_sig("gina", expire=1)
        t = int(decode_usersig(sig)["TLS.time"])
        while time.time() < t + 1.05:
            await asyncio.sleep(0.05)
        c = await self.client(self.d)
        self.assertErr(await c.request("login", user="gina", sig=sig), 70001)

    async def test_garbage_sig_gets_70003(self):
        c = await self.client(self.d)
        for bad in ("garbage", "eJw_", "a.b", "!!!"):
            self.assertErr(await c.request("login", user="hank", sig=bad), 70003, bad)

    async def test_usersig_with_wrong_secret_gets_70009(self):
        c = await self.client(self.d)
        sig = make_usersig("ivan", secret="not-the-secret")
        self.assertErr(await c.request("login", user="ivan", sig=sig), 70009)

    async def test_usersig_with_tampered_mac_gets_70009(self):
        c = await self.client(self.d)
        self.assertErr(await c.request("login", user="ivan",
                                       sig=make_usersig("ivan", tamper=True)), 70009)

    async def test_jwt_with_wrong_secret_gets_70009(self):
        c = await self.client(self.d)
        self.assertErr(await c.request("login", user="ivan",
                                       sig=make_jwt("ivan", secret="not-the-secret")), 70009)
        self.assertErr(await c.request("login", user="ivan",
                                       sig=make_jwt("ivan", tamper=True)), 70009)

    async def test_usersig_for_another_user_gets_70013(self):
        c = await self.client(self.d)
        self.assertErr(await c.request("login", user="judy", sig=make_usersig("mallory")), 70013)

    async def test_liveroom_sig_for_another_user_gets_70013(self):
        c = await self.client(self.d, "msgpack")
        self.assertErr(await c.request("login", user="judy", sig=tool_sig("mallory")), 70013)

    async def test_jwt_for_another_user_gets_70013(self):
        c = await self.client(self.d)
        self.assertErr(await c.request("login", user="judy", sig=make_jwt("mallory")), 70013)

    async def test_failed_login_does_not_log_in(self):
        c = await self.client(self.d)
        room = room_name("nolog")
        await c.request("login", user="kate", sig=make_usersig("kate", secret="wrong"))
        if c.closed.is_set():
            return  # closing after a failed login is also acceptable
        # Interpretation: without a successful login the connection is at
        # best a guest (join allowed by default), so it cannot send.
        r = await c.request("join", room=room)
        if r.get("op") == "ok":
            self.assertErr(await c.request("send", room=room, body="x"), 10007)

    async def test_nick_and_avatar_from_login_appear_in_msg(self):
        room = room_name("nick")
        a = await self.user(self.d, "lena", nick="Lena L", avatar="https://a.example/l.png",
                            room=room)
        b = await self.user(self.d, "mike", room=room)
        await a.ok("send", room=room, body="hi")
        m = await b.push("msg", room=room)
        self.assertEqual(m["from"], "lena")
        self.assertEqual(m["nick"], "Lena L")
        self.assertEqual(m["avatar"], "https://a.example/l.png")


if __name__ == "__main__":
    main()
