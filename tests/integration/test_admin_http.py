"""Admin API transport (ADMIN_API.md §1): HTTP/1.1 keep-alive with an
ordinary client, pipelined requests answered in order, every reply HTTP 200
with the JSON envelope, malformed JSON (10011), unknown service or command
(10003), and the 1 MiB body limit (10018) enforced from the head alone."""

import json
import socket

from adminhttp import (MIB, AdminCase, read_response, raw_socket, request_bytes, rnd,
                       v4_path)
from harness import HOST, WAIT, main, room_name


class KeepAlive(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon()
        self.a = self.admin_client(self.d)

    async def test_many_requests_share_one_keep_alive_connection(self):
        room = room_name("ka")
        self.a.ok("create_group", {"Type": "AVChatRoom", "GroupId": room})
        for _ in range(5):
            r = self.a.ok("get_online_member_num", {"GroupId": room})
            self.assertEqual(r["OnlineMemberNum"], 0)
        self.a.fail("no_such_command", {}, 10003)  # an error keeps it open too
        self.a.ok("destroy_group", {"GroupId": room})
        # http.client reconnects silently when the server closes: one socket
        # object over all eight requests proves the engine never did.
        self.assertEqual(len(self.a.sockets), 1, self.a.sockets)
        self.assertIsNotNone(self.a.conn, "the engine asked to close the connection")

    async def test_get_endpoints_share_the_connection_with_posts(self):
        for path in ("/healthz", "/readyz", "/metrics"):
            status, _h, _b = self.a.get(path)
            self.assertEqual(status, 200, path)
            self.a.ok("get_group_info", {"GroupIdList": [room_name("x")]})
        self.assertEqual(len(self.a.sockets), 1)

    async def test_pipelined_requests_are_answered_in_order(self):
        d = self.d
        room = room_name("pipe")
        reqs = [
            request_bytes(d, "create_group", {"Type": "AVChatRoom", "GroupId": room}),
            request_bytes(d, "get_online_member_num", {"GroupId": room_name("none")}),
            request_bytes(d, "no_such_command", {}),
            request_bytes(d, "get_group_info", {"GroupIdList": [room]}),
            request_bytes(d, "create_group", {"Type": "AVChatRoom", "GroupId": room}),
            request_bytes(d, "send_group_msg", {"GroupId": room, "Random": rnd(),
                                                "MsgBody": [{"MsgType": "TIMTextElem",
                                                             "MsgContent": {"Text": "p"}}]}),
        ]
        with raw_socket(d) as s:
            s.sendall(b"".join(reqs))  # all six in one write
            f = s.makefile("rb")
            replies = []
            for _ in reqs:
                status, _h, body = read_response(f)
                self.assertEqual(status, 200)
                replies.append(json.loads(body))
        codes = [r["ErrorCode"] for r in replies]
        self.assertEqual(codes, [0, 10010, 10003, 0, 10021, 0], replies)
        self.assertEqual(replies[0]["GroupId"], room)
        self.assertEqual(replies[3]["GroupInfo"][0]["GroupId"], room)
        self.assertEqual(replies[5]["MsgSeq"], 1)

    async def test_request_split_across_writes_is_reassembled(self):
        d = self.d
        room = room_name("split")
        data = request_bytes(d, "create_group", {"Type": "AVChatRoom", "GroupId": room})
        with raw_socket(d) as s:
            # Byte by byte through the head, then the body in two pieces.
            cut = data.index(b"\r\n\r\n") + 4
            for i in range(cut):
                s.sendall(data[i:i + 1])
            s.sendall(data[cut:cut + 5])
            s.sendall(data[cut + 5:])
            status, _h, body = read_response(s.makefile("rb"))
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body).get("GroupId"), room)

    async def test_connection_close_request_gets_its_reply_then_close(self):
        d = self.d
        data = request_bytes(d, "get_group_info", {"GroupIdList": [room_name("cc")]},
                             extra_headers=[("Connection", "close")])
        with raw_socket(d) as s:
            s.sendall(data)
            f = s.makefile("rb")
            status, _h, body = read_response(f)
            self.assertEqual(status, 200)
            json.loads(body)
            self.assertEqual(f.read(), b"", "bytes after the reply of a Connection: close")


class Envelope(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon()
        self.a = self.admin_client(self.d)

    async def test_reply_is_json_with_content_type_json(self):
        status, h, body = self.a.raw("POST", v4_path(self.d, "get_group_info"),
                                     json.dumps({"GroupIdList": [room_name("ct")]}).encode())
        self.assertEqual(status, 200)
        self.assertIn("json", h.get("content-type", ""), h)
        r = json.loads(body)
        self.assertEqual((r["ActionStatus"], r["ErrorCode"]), ("OK", 0), r)
        self.assertEqual(r["ErrorInfo"], "")

    async def test_malformed_json_gets_10011(self):
        for raw in (b'{"GroupIdList": [', b"not json", b'{"a":1}}', b"\xff\xfe{}"):
            r = self.a.fail("get_group_info", raw_body=raw, code=10011)
            self.assertTrue(r["ErrorInfo"], r)

    async def test_unknown_command_gets_10003(self):
        self.a.fail("no_such_command", {}, 10003)
        self.a.fail("create_group", {"Type": "AVChatRoom"}, 10003, service="im_open_login_svc")

    async def test_unknown_service_gets_10003(self):
        self.a.fail("create_group", {"Type": "AVChatRoom"}, 10003, service="no_such_svc")

    async def test_errors_keep_the_connection_usable(self):
        self.a.fail("get_group_info", raw_body=b"{", code=10011)
        self.a.fail("nope", {}, 10003)
        self.a.ok("get_group_info", {"GroupIdList": [room_name("ok")]})
        self.assertEqual(len(self.a.sockets), 1)


class BodyLimit(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon()

    def _head(self, length):
        path = v4_path(self.d, "get_group_info")
        return ("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % (path, HOST, length)).encode()

    async def test_2_mib_body_is_refused_from_the_head_without_the_body_sent(self):
        with raw_socket(self.d) as s:
            s.sendall(self._head(2 * MIB))  # and not one byte of body
            status, _h, body = read_response(s.makefile("rb"))
        self.assertEqual(status, 200)
        r = json.loads(body)
        self.assertEqual((r["ActionStatus"], r["ErrorCode"]), ("FAIL", 10018), r)

    async def test_one_byte_over_1_mib_is_refused_before_the_body(self):
        with raw_socket(self.d) as s:
            s.sendall(self._head(MIB + 1) + b'{"GroupIdList":')  # a start of body only
            status, _h, body = read_response(s.makefile("rb"))
        self.assertEqual(json.loads(body)["ErrorCode"], 10018)

    async def test_body_of_exactly_1_mib_is_read_and_parsed(self):
        room = room_name("mib")
        a = self.admin_client(self.d)
        a.ok("create_group", {"Type": "AVChatRoom", "GroupId": room})
        doc = json.dumps({"GroupIdList": [room]}).encode()
        body = doc + b" " * (MIB - len(doc))  # trailing whitespace is valid JSON
        self.assertEqual(len(body), MIB)
        r = a.ok("get_group_info", raw_body=body)
        self.assertEqual(r["GroupInfo"][0]["GroupId"], room)

    async def test_engine_keeps_serving_after_refusing_a_big_body(self):
        with raw_socket(self.d) as s:
            s.sendall(self._head(2 * MIB))
            read_response(s.makefile("rb"))
        a = self.admin_client(self.d)
        a.ok("get_group_info", {"GroupIdList": [room_name("after")]})
        # And the client port was never affected.
        c = await self.client(self.d)
        await c.ping()


class ConnectionReuse(AdminCase):
    async def test_connection_opened_right_after_a_close_is_served(self):
        # A closed admin connection must not take the next one down with it.
        # The race needs a young engine, so each round starts a fresh one;
        # forty rounds make a miss unlikely when the race is there.
        for i in range(40):
            d = self.daemon()
            with raw_socket(d) as s:
                s.sendall(request_bytes(d, "get_group_info", {"GroupIdList": ["a"]},
                                        extra_headers=[("Connection", "close")]))
                read_response(s.makefile("rb"))
            with raw_socket(d) as s:  # at once, no pause
                s.sendall(request_bytes(d, "get_group_info", {"GroupIdList": ["b"]}))
                try:
                    status, _h, body = read_response(s.makefile("rb"))
                except (AssertionError, OSError) as e:
                    self.fail("round %d: the connection after a closed one got no reply (%s)"
                              % (i, e))
            self.assertEqual(json.loads(body)["GroupInfo"][0]["GroupId"], "b")
            d.stop()
            d.cleanup()


class Misc(AdminCase):
    async def test_admin_port_answers_only_on_loopback_by_default(self):
        d = self.daemon()
        # §1: binds to 127.0.0.1 unless configured otherwise. Reaching it on
        # another local address of this host must fail.
        other = _non_loopback_address()
        if other is None:
            self.skipTest("this host has no non-loopback IPv4 address")
        s = socket.socket()
        s.settimeout(WAIT)
        try:
            with self.assertRaises(OSError):
                s.connect((other, d.admin_port))
        finally:
            s.close()


def _non_loopback_address():
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent for UDP connect
            addr = s.getsockname()[0]
        finally:
            s.close()
    except OSError:
        return None
    return None if addr.startswith("127.") else addr


if __name__ == "__main__":
    main()
