"""Handshake (PROTOCOL.md §1): subprotocol negotiation, bad upgrade requests,
and login/join riding on the upgrade query."""

import urllib.parse

import mpack
from harness import (DaemonCase, JSON_PROTO, MSGPACK_PROTO, OP_BIN, OP_TEXT, http_request,
                     main, make_jwt, make_usersig, room_name, upgrade_request)

JOIN_FIELDS = ("room", "seq", "count", "profile", "history", "muted_until", "mute_all")


class Subprotocols(DaemonCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon()

    async def test_no_subprotocol_offered_means_json_text_frames(self):
        c = await self.raw(self.d, protocols=None)
        # RFC 6455 §4.2.2: a server must not select a subprotocol not offered.
        self.assertIsNone(c.subprotocol)
        r = await c.ping()
        self.assertEqual(r["op"], "pong")
        self.assertEqual(c.frames[-1][0], OP_TEXT)

    async def test_no_subprotocol_with_python_websockets_speaks_json(self):
        c = await self.ws(self.d, enc=None)
        self.assertIsNone(c.subprotocol)
        self.assertEqual(c.encoding, "json")
        await c.ping()

    async def test_json_subprotocol_is_selected_and_uses_text_frames(self):
        c = await self.raw(self.d, protocols=[JSON_PROTO])
        self.assertEqual(c.subprotocol, JSON_PROTO)
        await c.ping()
        self.assertEqual(c.frames[-1][0], OP_TEXT)

    async def test_msgpack_subprotocol_is_selected_and_uses_binary_frames(self):
        c = await self.raw(self.d, protocols=[MSGPACK_PROTO])
        self.assertEqual(c.subprotocol, MSGPACK_PROTO)
        r = await c.ping()
        self.assertEqual(r["op"], "pong")
        self.assertEqual(c.frames[-1][0], OP_BIN)
        # The binary frame is exactly one msgpack map with string keys.
        obj = mpack.unpackb(c.frames[-1][1])
        self.assertTrue(all(isinstance(k, str) for k in obj))

    async def test_msgpack_with_python_websockets(self):
        c = await self.ws(self.d, enc="msgpack")
        self.assertEqual(c.subprotocol, MSGPACK_PROTO)
        await c.ping()

    async def test_both_offered_msgpack_first_selects_msgpack(self):
        c = await self.ws(self.d, subprotocols=[MSGPACK_PROTO, JSON_PROTO])
        self.assertEqual(c.subprotocol, MSGPACK_PROTO)
        await c.ping()

    async def test_both_offered_json_first_selects_json(self):
        c = await self.ws(self.d, subprotocols=[JSON_PROTO, MSGPACK_PROTO])
        self.assertEqual(c.subprotocol, JSON_PROTO)
        await c.ping()

    async def test_unknown_subprotocol_before_a_supported_one_is_skipped(self):
        # Interpretation: the engine picks the first subprotocol in the
        # client's list that it supports, skipping ones it does not know.
        c = await self.ws(self.d, subprotocols=["chat.v9", MSGPACK_PROTO])
        self.assertEqual(c.subprotocol, MSGPACK_PROTO)
        await c.ping()


class BadUpgrades(DaemonCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon()

    async def _status(self, raw):
        status, _headers, _r, w = await http_request(self.d.port, raw)
        w.close()
        return status

    async def test_upgrade_without_key_gets_400(self):
        raw, _ = upgrade_request(key=False)
        self.assertEqual(await self._status(raw), 400)

    async def test_upgrade_without_version_gets_400(self):
        raw, _ = upgrade_request(version=False)
        self.assertEqual(await self._status(raw), 400)

    async def test_upgrade_with_unsupported_version_gets_426_naming_13(self):
        # RFC 6455 §4.4: a version the server does not speak gets 426 and
        # the versions it does speak.
        raw, _ = upgrade_request(version=False, extra=[("Sec-WebSocket-Version", "8")])
        status, headers, _r, w = await http_request(self.d.port, raw)
        w.close()
        self.assertEqual(status, 426)
        self.assertEqual(headers.get("sec-websocket-version"), "13")

    async def test_upgrade_on_wrong_path_gets_404(self):
        raw, _ = upgrade_request(path="/nope")
        self.assertEqual(await self._status(raw), 404)

    async def test_engine_still_serves_after_bad_upgrades(self):
        for raw in (upgrade_request(key=False)[0], upgrade_request(path="/x")[0]):
            await self._status(raw)
        c = await self.ws(self.d)
        await c.ping()


class QueryLogin(DaemonCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon()

    async def _first(self, c):
        m = await c.wait_for(lambda m: True, what="first frame")
        self.assertEqual(c.log[0], m, "the reply with id 0 must be the first frame")
        return m

    async def test_query_login_replies_ok_id_0_with_user(self):
        c = await self.ws(self.d, user="alice", sig=make_usersig("alice"))
        m = await self._first(c)
        self.assertEqual(m.get("op"), "ok", m)
        self.assertEqual(m.get("id"), 0, m)
        self.assertEqual(m.get("user"), "alice", m)
        # Logged in: may join and send without another login.
        room = room_name("q")
        await c.ok("join", room=room)
        r = await c.ok("send", room=room, body="hi")
        self.assertGreater(r["seq"], 0)

    async def test_query_login_with_jwt(self):
        c = await self.ws(self.d, enc="msgpack", user="bob", sig=make_jwt("bob"))
        m = await self._first(c)
        self.assertEqual((m.get("op"), m.get("id"), m.get("user")), ("ok", 0, "bob"), m)

    async def test_query_login_and_room_reply_has_every_join_field(self):
        room = room_name("qj")
        c = await self.ws(self.d, user="carol", sig=make_usersig("carol"), room=room)
        m = await self._first(c)
        self.assertEqual((m.get("op"), m.get("id"), m.get("user")), ("ok", 0, "carol"), m)
        for f in JOIN_FIELDS:
            self.assertIn(f, m)
        self.assertEqual(m["room"], room)
        self.assertEqual(m["count"], 1)
        self.assertEqual(m["history"], [])
        # Joined: a second member's message reaches this connection.
        other = await self.user(self.d, "dave", room=room)
        await other.ok("send", room=room, body="hello carol")
        got = await c.push("msg", room=room)
        self.assertEqual(got["body"], "hello carol")
        self.assertEqual(got["from"], "dave")

    async def test_query_room_alone_joins_as_guest(self):
        room = room_name("qg")
        c = await self.ws(self.d, room=room)
        m = await self._first(c)
        self.assertEqual((m.get("op"), m.get("id")), ("ok", 0), m)
        self.assertTrue(str(m.get("user", "")).startswith("guest-"), m)
        for f in JOIN_FIELDS:
            self.assertIn(f, m)
        self.assertEqual(m["room"], room)
        # A guest receives...
        sender = await self.user(self.d, "erin", room=room)
        await sender.ok("send", room=room, body="to guests too")
        self.assertEqual((await c.push("msg", room=room))["body"], "to guests too")
        # ...and can never send.
        self.assertErr(await c.request("send", room=room, body="x"), 10007)

    async def test_query_values_are_percent_decoded(self):
        # Every byte of the sig percent-encoded, and a room id with '@' and
        # '#' (Tencent's generated ids look like @TGS#...) which a URL must
        # encode.
        sig = make_usersig("frank")
        room = "@TGS#" + room_name("pct")
        path = "/ws?user=%s&sig=%s&room=%s" % (
            "".join("%%%02X" % b for b in b"frank"),
            "".join("%%%02X" % b for b in sig.encode()),
            urllib.parse.quote(room, safe=""))
        c = await self.ws(self.d, path=path)
        m = await self._first(c)
        self.assertEqual((m.get("op"), m.get("id"), m.get("user")), ("ok", 0, "frank"), m)
        self.assertEqual(m.get("room"), room)

    async def test_query_bad_sig_gets_err_id_0_then_close_1008(self):
        c = await self.ws(self.d, user="gina", sig="not-a-signature")
        m = await self._first(c)
        self.assertEqual((m.get("op"), m.get("id")), ("err", 0), m)
        self.assertEqual(m.get("code"), 70003, m)
        self.assertEqual(await c.wait_closed(), 1008)
        # A `bye` may precede the close (§4); nothing else may.
        self.assertTrue(all(m.get("op") == "bye" for m in c.log[1:]), c.log)

    async def test_query_sig_with_wrong_secret_gets_70009_then_close_1008(self):
        c = await self.ws(self.d, enc="msgpack", user="hank",
                          sig=make_usersig("hank", secret="another-secret"), room=room_name("x"))
        m = await self._first(c)
        self.assertEqual((m.get("op"), m.get("id"), m.get("code")), ("err", 0, 70009), m)
        self.assertEqual(await c.wait_closed(), 1008)

    async def test_query_sig_for_another_user_gets_70013_then_close_1008(self):
        c = await self.ws(self.d, user="ivan", sig=make_usersig("someone-else"))
        m = await self._first(c)
        self.assertEqual((m.get("op"), m.get("id"), m.get("code")), ("err", 0, 70013), m)
        self.assertEqual(await c.wait_closed(), 1008)

    async def test_no_query_sends_nothing_first(self):
        # Without login or room in the query there is no id-0 reply: the
        # first frame this client sees is the reply to its own request.
        c = await self.ws(self.d)
        r = await c.ping()
        self.assertEqual(c.log[0], r)


if __name__ == "__main__":
    main()
