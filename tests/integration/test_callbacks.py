"""Callbacks end to end (ADMIN_API.md §3, PROTOCOL.md §6 rule 5): a real
liveroomd with --callback-url pointing at a real HTTP/1.1 backend run by the
test (http.server's ThreadingHTTPServer, keep-alive), driven by WebSocket
and TCP clients and the admin API.

Proves: every CallbackCommand the engine sends, with the query string
(SdkAppid, CallbackCommand, contenttype, ClientIP, OptPlatform, RequestTime)
and a Sign recomputed here as hex(sha256(token + RequestTime)); the body of
each command field by field; the before-send verdicts (allow, reject ->
10016, silent drop -> ok, MsgBody rewrite) for client and REST sends;
timeouts failing open, or closed when configured; the room serving other
messages while a before-send callback is in flight; no after-send for
messages dropped by frequency control or by the backend; a dead backend
(closed port, or one that accepts and never answers) never stopping
delivery, with the failure counters of /metrics growing; after-callbacks
retried exactly once on timeout.

The backend records a request when it arrives, before it answers, and wakes
the test's event loop; every wait is on such an event or on a reply, with a
bound. Requests the backend holds wait on a threading.Event, never on a
clock."""

import asyncio
import hashlib
import ipaddress
import json
import re
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from adminhttp import AdminCase, text_body
from harness import APP_ID, HOST, QUIET, WAIT, free_port, main, make_usersig, room_name

TOKEN = "cb-token-5f3a9e"
CB_PATH = "/im/callback"
FAST = ("--rate", "1000", "--user-rate", "1000")
GROUP_TYPE = "AVChatRoom"
QUERY_KEYS = {"SdkAppid", "CallbackCommand", "contenttype", "ClientIP", "OptPlatform",
              "RequestTime", "Sign"}
# A held request is answered at the latest after this (the test releases it
# long before; the bound only keeps a failed test from hanging a thread).
HOLD_MAX = 30.0
REWRITTEN = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "rewritten by the backend"}}]
SWAPPED = [{"MsgType": "TIMCustomElem",
            "MsgContent": {"Data": "gift:swapped", "Desc": "dd", "Ext": "ee"}}]

BEFORE = "Group.CallbackBeforeSendMsg"
AFTER = "Group.CallbackAfterSendMsg"
JOIN = "Group.CallbackAfterNewMemberJoin"
EXIT = "Group.CallbackAfterMemberExit"
MSTATE = "Group.CallbackOnMemberStateChange"
CREATED = "Group.CallbackAfterCreateGroup"
DESTROYED = "Group.CallbackAfterGroupDestroyed"
STATE = "State.StateChange"


def ok_reply(code=0, **extra):
    body = {"ActionStatus": "OK" if code == 0 else "FAIL", "ErrorCode": code, "ErrorInfo": ""}
    body.update(extra)
    return body


def text_of(msg_body):
    """The Text and Data of every element of a Tencent MsgBody, joined."""
    out = []
    for el in msg_body if isinstance(msg_body, list) else []:
        c = el.get("MsgContent", {}) if isinstance(el, dict) else {}
        out.append(str(c.get("Text", c.get("Data", ""))))
    return " ".join(out)


def marker_policy(hit):
    """Default backend: before-send answers by a word in the message text
    (reject, drop, rewrite, swap, hold); everything else is allowed at once."""
    if hit.command != BEFORE:
        return ok_reply()
    text = text_of(hit.body.get("MsgBody"))
    if "reject" in text:
        return ok_reply(1)
    if "drop" in text:
        return ok_reply(2)
    if "rewrite" in text:
        return ok_reply(0, MsgBody=REWRITTEN)
    if "swap" in text:
        return ok_reply(0, MsgBody=SWAPPED)
    if "hold" in text:
        return "hold"
    return ok_reply()


class Hit:
    """One request as the backend received it."""

    def __init__(self, method, path, query, raw_query, headers, body_bytes, arrived):
        self.method = method
        self.path = path
        self.query = query
        self.raw_query = raw_query
        self.headers = headers
        self.raw = body_bytes
        self.arrived = arrived
        try:
            self.body = json.loads(body_bytes)
        except ValueError:
            self.body = None
        self.command = self.body.get("CallbackCommand") if isinstance(self.body, dict) else None

    def __repr__(self):
        return "<%s %s>" % (self.command, self.raw[:300])


class Backend:
    """The business backend: a real HTTP/1.1 server with keep-alive."""

    def __init__(self, loop, policy=marker_policy):
        self.loop = loop
        self.policy = policy
        self.hits = []
        self.lock = threading.Lock()
        self.changed = asyncio.Event()
        self.release = threading.Event()  # held requests are answered once set
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, fmt, *args):
                pass

            def do_POST(self):
                url = urllib.parse.urlsplit(self.path)
                n = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(n) if n else b""
                q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
                hit = Hit(self.command, url.path, {k: v for k, v in q.items()}, url.query,
                          {k.lower(): v for k, v in self.headers.items()}, data, time.monotonic())
                backend._record(hit)
                action = backend.policy(hit)
                if action == "hold":
                    backend.release.wait(HOLD_MAX)
                    action = ok_reply()
                status, out = 200, json.dumps(action).encode()
                if isinstance(action, tuple):
                    status, out = action
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    self.wfile.flush()
                except OSError:
                    self.close_connection = True  # the engine gave up (timeout)

            do_GET = do_POST

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

        self.server = Server((HOST, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self):
        return "http://%s:%d%s" % (HOST, self.port, CB_PATH)

    def _record(self, hit):
        with self.lock:
            self.hits.append(hit)
        try:
            self.loop.call_soon_threadsafe(self.changed.set)
        except RuntimeError:
            pass  # the test's loop is gone: nobody waits any more

    def find(self, pred=None, command=None):
        with self.lock:
            hits = list(self.hits)
        return [h for h in hits if (command is None or h.command == command)
                and (pred is None or pred(h))]

    async def wait(self, command=None, pred=None, n=1, timeout=None, what=None):
        """The matching hits once there are at least n (bounded wait)."""
        timeout = WAIT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            got = self.find(pred, command)
            if len(got) >= n:
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("backend: %d of %d %s within %.1f s; last hits %r"
                                     % (len(got), n, what or command, timeout, self.hits[-6:]))
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(left, 0.5))
            except asyncio.TimeoutError:
                pass

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Blackhole:
    """A callback host that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((HOST, 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.accepted = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)  # read nothing, answer nothing
            self.accepted.set()

    def url(self):
        return "http://%s:%d%s" % (HOST, self.port, CB_PATH)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            c.close()


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    out = {}
    for ln in text.splitlines():
        if not ln or ln.startswith("#"):
            continue
        m = _SAMPLE.match(ln)
        if m:
            out[(m.group(1), tuple(sorted(_LABEL.findall(m.group(3) or ""))))] = float(m.group(4))
    return out


def is_msg(m):
    return m.get("op") == "msg"


class Base(AdminCase):
    flags = FAST
    timeout_ms = 5000
    policy = staticmethod(marker_policy)
    make_room = True

    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.backend = self.make_backend()
        self.addCleanup(self.backend.close)
        self.d = self.daemon(*self.flags, *self.callback_flags())
        self.room = room_name("cb")
        if self.make_room:
            await self.create(self.d, self.room, Owner_Account="olivia")

    async def asyncTearDown(self):
        if isinstance(self.backend, Backend):
            # held requests go first, so the daemon's shutdown flush is quick
            self.backend.release.set()
            # every callback of the test, not only those it looked at
            for hit in self.backend.find():
                self.assertSigned(hit)
        await super().asyncTearDown()

    def make_backend(self):
        return Backend(asyncio.get_running_loop(), self.policy)

    def callback_flags(self):
        return ("--callback-url", self.backend.url(), "--callback-token", TOKEN,
                "--callback-timeout-ms", str(self.timeout_ms))

    # -- checks

    def assertSigned(self, hit, command=None):
        """§3: POST {url}?SdkAppid=APP&CallbackCommand=CMD&contenttype=json&
        ClientIP=IP&OptPlatform=Web&RequestTime=UNIX&Sign=HEX, a JSON body
        whose CallbackCommand is the query's, Sign = hex(sha256(token +
        RequestTime))."""
        self.assertEqual(hit.method, "POST", hit)
        self.assertEqual(hit.path, CB_PATH, hit)
        self.assertTrue(hit.headers.get("content-type", "").startswith("application/json"),
                        hit.headers)
        self.assertIsInstance(hit.body, dict, "body is not a JSON object: %r" % hit.raw[:300])
        self.assertTrue(QUERY_KEYS <= set(hit.query), "query %r" % hit.raw_query)
        for k in QUERY_KEYS:
            self.assertEqual(len(hit.query[k]), 1, "%s given %d times: %r"
                             % (k, len(hit.query[k]), hit.raw_query))
        q = {k: v[0] for k, v in hit.query.items()}
        self.assertEqual(q["SdkAppid"], str(APP_ID), hit.raw_query)
        self.assertEqual(q["CallbackCommand"], hit.command, hit.raw_query)
        if command is not None:
            self.assertEqual(hit.command, command)
        self.assertEqual(q["contenttype"], "json", hit.raw_query)
        self.assertEqual(q["OptPlatform"], "Web", hit.raw_query)
        if q["ClientIP"]:
            ipaddress.ip_address(q["ClientIP"])  # an address when given at all
        self.assertRegex(q["RequestTime"], r"^[0-9]+$", hit.raw_query)
        self.assertLess(abs(int(q["RequestTime"]) - time.time()), 300,
                        "RequestTime is unix seconds: %r" % q["RequestTime"])
        want = hashlib.sha256((TOKEN + q["RequestTime"]).encode()).hexdigest()
        self.assertEqual(q["Sign"].lower(), want, "Sign of %r" % hit.raw_query)

    def assertBody(self, hit, want):
        """The body is exactly `want` plus CallbackCommand."""
        self.assertSigned(hit)
        got = dict(hit.body)
        self.assertEqual(got.pop("CallbackCommand"), hit.command)
        self.assertEqual(got, want, hit.command)

    def send_fields(self, frm, random, pri, msg_body, ccd="", op=None):
        return {"GroupId": self.room, "Type": GROUP_TYPE, "From_Account": frm,
                "Operator_Account": frm if op is None else op, "Random": random,
                "MsgPriority": pri, "MsgBody": msg_body, "CloudCustomData": ccd}

    def assertAfterSend(self, hit, fields, seq):
        self.assertSigned(hit, AFTER)
        got = dict(hit.body)
        got.pop("CallbackCommand")
        self.assertEqual(got.pop("MsgSeq"), seq)
        t = got.pop("MsgTime")
        self.assertIsInstance(t, int)
        self.assertLess(abs(t - time.time()), 300, "MsgTime is unix seconds: %r" % t)
        self.assertEqual(got.pop("OnlineOnlyFlag"), 0)
        self.assertEqual(got, fields)

    def by_random(self, command, random):
        return self.backend.find(lambda h: h.body.get("Random") == random, command)

    # -- metrics

    def metrics(self):
        status, _h, body = self.admin_client(self.d).get("/metrics")
        self.assertEqual(status, 200)
        return parse_metrics(body.decode())

    def failures(self, kind):
        return self.metrics().get(("liveroom_callback_failures_total", (("kind", kind),)), 0.0)

    async def failures_reach(self, kind, n):
        """Wait (bounded) until the failure counter of `kind` is at least n;
        counters move on the hooks thread, so they are polled."""
        end = time.monotonic() + WAIT
        while True:
            v = await self._run(self.failures, kind)
            if v >= n:
                return v
            if time.monotonic() > end:
                self.fail("liveroom_callback_failures_total{kind=%r} = %r, want >= %r"
                          % (kind, v, n))
            await asyncio.sleep(0.05)

    # -- traffic

    async def send_and_deliver(self, sender, receivers, body, **kw):
        """A send that must pass; every receiver gets it. Returns the seq."""
        r = await sender.ok("send", room=self.room, body=body, **kw)
        self.assertGreater(r.get("seq", 0), 0, r)
        for c in receivers:
            m = await c.push("msg", room=self.room, seq=r["seq"])
            self.assertEqual(m["body"], body)
        return r["seq"]


# ------------------------------------------------------------- payloads


class Payloads(Base):
    async def test_group_created_and_destroyed_by_the_admin_api(self):
        hit = (await self.backend.wait(CREATED, lambda h: h.body.get("GroupId") == self.room))[0]
        self.assertBody(hit, {"GroupId": self.room, "Type": GROUP_TYPE, "Owner_Account": "olivia"})
        await self.aok(self.d, "destroy_group", {"GroupId": self.room})
        hit = (await self.backend.wait(DESTROYED,
                                       lambda h: h.body.get("GroupId") == self.room))[0]
        self.assertBody(hit, {"GroupId": self.room, "Type": GROUP_TYPE, "Owner_Account": "olivia"})
        self.assertEqual(len(self.backend.find(command=CREATED)), 1)

    async def test_room_created_by_a_first_join_is_reported(self):
        other = room_name("auto")
        c = await self.user(self.d, "alice")
        await c.ok("join", room=other)
        hit = (await self.backend.wait(CREATED, lambda h: h.body.get("GroupId") == other))[0]
        self.assertSigned(hit)
        self.assertEqual(set(hit.body), {"CallbackCommand", "GroupId", "Type", "Owner_Account"})
        self.assertEqual(hit.body["Type"], GROUP_TYPE)
        self.assertIsInstance(hit.body["Owner_Account"], str)

    async def test_login_join_and_the_last_exit_of_a_user(self):
        a1 = await self.user(self.d, "alice")
        hit = (await self.backend.wait(STATE, lambda h: h.body["Info"]["To_Account"] == "alice"))[0]
        self.assertSigned(hit)
        self.assertEqual(set(hit.body), {"CallbackCommand", "EventTime", "Info"})
        self.assertIsInstance(hit.body["EventTime"], int)
        self.assertLess(abs(hit.body["EventTime"] - time.time() * 1000), 300000,
                        "EventTime is in ms: %r" % hit.body["EventTime"])
        info = dict(hit.body["Info"])
        self.assertEqual(info.pop("Action"), "Login")
        self.assertEqual(info.pop("To_Account"), "alice")
        self.assertIsInstance(info.pop("Reason"), str)
        self.assertEqual(info, {})

        await a1.ok("join", room=self.room)
        join = (await self.backend.wait(JOIN, lambda h: h.body["GroupId"] == self.room))[0]
        self.assertBody(join, {"GroupId": self.room, "Type": GROUP_TYPE, "JoinType": "Apply",
                               "Operator_Account": "alice",
                               "NewMemberList": [{"Member_Account": "alice"}]})
        online = (await self.backend.wait(MSTATE, lambda h: h.body["GroupId"] == self.room))[0]
        self.assertBody(online, {"GroupId": self.room, "EventType": "Online",
                                 "MemberList": [{"Member_Account": "alice"}]})

        # alice's second device joins: she is not a new member, and is still
        # online when her first device leaves.
        a2 = await self.user(self.d, "alice", transport="tcp", room=self.room)
        await a1.ok("leave", room=self.room)
        # bob's join and exit are the sync points: posted after alice's.
        bob = await self.user(self.d, "bob", room=self.room)
        await self.backend.wait(JOIN, lambda h: h.body["NewMemberList"][0]["Member_Account"] ==
                                "bob")
        await bob.ok("leave", room=self.room)
        await self.backend.wait(EXIT, lambda h: h.body["ExitMemberList"][0]["Member_Account"] ==
                                "bob")
        await asyncio.sleep(QUIET)  # a stray callback posted earlier would be in by now

        def alice(h, key):
            return any(m.get("Member_Account") == "alice" for m in h.body.get(key, []))

        self.assertEqual(len(self.backend.find(lambda h: alice(h, "NewMemberList"), JOIN)), 1)
        self.assertEqual(self.backend.find(lambda h: alice(h, "ExitMemberList"), EXIT), [])
        self.assertEqual(len(self.backend.find(lambda h: alice(h, "MemberList"), MSTATE)), 1)

        await a2.close()  # her last connection in the room goes
        exit_ = (await self.backend.wait(EXIT, lambda h: alice(h, "ExitMemberList")))[0]
        self.assertBody(exit_, {"GroupId": self.room, "Type": GROUP_TYPE, "ExitType": "Quit",
                                "Operator_Account": "alice",
                                "ExitMemberList": [{"Member_Account": "alice"}]})
        off = await self.backend.wait(MSTATE, lambda h: alice(h, "MemberList"), n=2)
        self.assertBody(off[1], {"GroupId": self.room, "EventType": "Offline",
                                 "MemberList": [{"Member_Account": "alice"}]})
        gone = (await self.backend.wait(STATE, lambda h: h.body["Info"]["To_Account"] == "alice"
                                        and h.body["Info"]["Action"] != "Login"))[0]
        self.assertSigned(gone)
        self.assertIn(gone.body["Info"]["Action"], ("Logout", "Disconnect"))
        # each of alice's two logins was reported
        self.assertEqual(len(self.backend.find(
            lambda h: h.body["Info"]["To_Account"] == "alice" and
            h.body["Info"]["Action"] == "Login", STATE)), 2)

    async def test_kicked_member_exits_with_exit_type_kicked(self):
        await self.user(self.d, "bob", room=self.room)
        await self.backend.wait(JOIN, lambda h: h.body["GroupId"] == self.room)
        await self.aok(self.d, "delete_group_member", {"GroupId": self.room,
                                                       "MemberToDel_Account": ["bob"]})
        hit = (await self.backend.wait(EXIT, lambda h: h.body["GroupId"] == self.room))[0]
        self.assertSigned(hit)
        body = dict(hit.body)
        self.assertIsInstance(body.pop("Operator_Account"), str)
        self.assertEqual(body, {"CallbackCommand": EXIT, "GroupId": self.room, "Type": GROUP_TYPE,
                                "ExitType": "Kicked",
                                "ExitMemberList": [{"Member_Account": "bob"}]})
        off = await self.backend.wait(MSTATE, lambda h: h.body["EventType"] == "Offline")
        self.assertEqual(off[0].body["MemberList"], [{"Member_Account": "bob"}])

    async def test_before_and_after_send_of_a_client_message(self):
        alice = await self.user(self.d, "alice", room=self.room)
        bob = await self.user(self.d, "bob", room=self.room, transport="msgpack")
        seq = await self.send_and_deliver(alice, [bob], "hello callbacks", pri="low",
                                          random=4077)
        fields = self.send_fields("alice", 4077, "Low", text_body("hello callbacks"))
        before = await self.backend.wait(BEFORE, lambda h: h.body["Random"] == 4077)
        self.assertEqual(len(before), 1)
        self.assertBody(before[0], fields)
        after = await self.backend.wait(AFTER, lambda h: h.body["Random"] == 4077)
        self.assertAfterSend(after[0], fields, seq)
        self.assertLessEqual(before[0].arrived, after[0].arrived)

        # another type and the default priority
        r = await alice.ok("send", room=self.room, body="rose", type="gift", random=4078)
        await bob.push("msg", room=self.room, seq=r["seq"])
        b = (await self.backend.wait(BEFORE, lambda h: h.body["Random"] == 4078))[0]
        self.assertSigned(b)
        self.assertEqual(b.body["MsgPriority"], "Normal")
        self.assertEqual(b.body["From_Account"], "alice")
        self.assertEqual(len(b.body["MsgBody"]), 1, b.body)
        self.assertEqual(b.body["MsgBody"][0]["MsgType"], "TIMCustomElem", b.body)
        self.assertEqual(b.body["MsgBody"][0]["MsgContent"]["Data"], "rose", b.body)
        a = (await self.backend.wait(AFTER, lambda h: h.body["Random"] == 4078))[0]
        self.assertEqual(a.body["MsgSeq"], r["seq"])
        self.assertEqual(a.body["MsgBody"], b.body["MsgBody"])

    async def test_before_and_after_send_of_a_rest_message(self):
        bob = await self.user(self.d, "bob", room=self.room)
        body = [{"MsgType": "TIMCustomElem",
                 "MsgContent": {"Data": "gift:rocket", "Desc": "d", "Ext": "e"}},
                {"MsgType": "TIMTextElem", "MsgContent": {"Text": "and words"}}]
        r = await self.aok(self.d, "send_group_msg", {
            "GroupId": self.room, "Random": 5151, "From_Account": "alice",
            "MsgPriority": "Normal", "MsgBody": body, "CloudCustomData": "ccd-1"})
        self.assertGreater(r["MsgSeq"], 0)
        await bob.push("msg", room=self.room, seq=r["MsgSeq"])
        before = await self.backend.wait(BEFORE, lambda h: h.body["Random"] == 5151,
                                         what="before-send of a REST send")
        self.assertEqual(len(before), 1)
        self.assertSigned(before[0])
        got = dict(before[0].body)
        self.assertIsInstance(got.pop("Operator_Account"), str)
        fields = self.send_fields("alice", 5151, "Normal", body, ccd="ccd-1")
        fields.pop("Operator_Account")
        got.pop("CallbackCommand")
        self.assertEqual(got, fields)
        after = (await self.backend.wait(AFTER, lambda h: h.body["Random"] == 5151))[0]
        self.assertEqual(after.body["MsgSeq"], r["MsgSeq"])
        self.assertEqual(after.body["MsgBody"], body)
        self.assertEqual(after.body["CloudCustomData"], "ccd-1")

        # a plain text REST send with the default priority
        r = await self.aok(self.d, "send_group_msg", {
            "GroupId": self.room, "Random": 5152, "MsgBody": text_body("plain")})
        b = (await self.backend.wait(BEFORE, lambda h: h.body["Random"] == 5152))[0]
        self.assertEqual(b.body["MsgBody"], text_body("plain"))
        self.assertEqual(b.body["MsgPriority"], "High")
        self.assertEqual(b.body["CloudCustomData"], "")
        a = (await self.backend.wait(AFTER, lambda h: h.body["Random"] == 5152))[0]
        self.assertEqual(a.body["MsgSeq"], r["MsgSeq"])


class HeartbeatLost(Base):
    flags = FAST + ("--idle-timeout", "2", "--ping-interval", "1")

    async def test_a_member_whose_heartbeat_stops_goes_offline(self):
        c = await self.raw(self.d, protocols=["liveroom.v1.json"], auto_pong=False)
        await c.ok("login", user="carol", sig=make_usersig("carol", secret=self.d.secret))
        await c.ok("join", room=self.room)
        await self.backend.wait(MSTATE, lambda h: h.body["EventType"] == "Online")
        await c.wait_closed(timeout=15)  # never answered the engine's pings
        off = (await self.backend.wait(MSTATE, lambda h: h.body["EventType"] == "Offline"))[0]
        self.assertBody(off, {"GroupId": self.room, "EventType": "Offline",
                              "MemberList": [{"Member_Account": "carol"}]})
        ex = (await self.backend.wait(EXIT))[0]
        self.assertEqual(ex.body["ExitMemberList"], [{"Member_Account": "carol"}])
        st = (await self.backend.wait(STATE, lambda h: h.body["Info"]["Action"] != "Login"))[0]
        self.assertEqual(st.body["Info"]["To_Account"], "carol")
        self.assertEqual(st.body["Info"]["Action"], "Disconnect")


class OnlySomeCallbacks(Base):
    def callback_flags(self):
        return super().callback_flags() + ("--callbacks", "%s, %s" % (AFTER, CREATED))

    async def test_only_the_listed_commands_are_sent(self):
        await self.backend.wait(CREATED)
        alice = await self.user(self.d, "alice", room=self.room)
        bob = await self.user(self.d, "bob", room=self.room)
        # no before-send: a word the backend would reject passes
        seq = await self.send_and_deliver(alice, [bob], "please reject me", random=9)
        await self.backend.wait(AFTER, lambda h: h.body["MsgSeq"] == seq)
        await bob.close()
        await asyncio.sleep(QUIET)
        self.assertEqual({h.command for h in self.backend.find()}, {AFTER, CREATED})


# ------------------------------------------------------------- verdicts


class Verdicts(Base):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.alice = await self.user(self.d, "alice", room=self.room)
        self.bob = await self.user(self.d, "bob", room=self.room)
        self.carl = await self.user(self.d, "carl", room=self.room, transport="tcp")

    async def sync_then_nothing_of(self, random):
        """A later allowed message reaches everyone (the sync point); then no
        push of `random` was seen and no after-send was sent for it."""
        seq = await self.send_and_deliver(self.bob, [self.alice, self.carl], "sync", random=1)
        await self.backend.wait(AFTER, lambda h: h.body["MsgSeq"] == seq)
        for c in (self.bob, self.carl):
            await c.quiet(lambda m: is_msg(m) and m.get("random") == random,
                          what="message the backend refused")
        self.assertEqual(self.by_random(AFTER, random), [],
                         "after-send for a message that was not delivered")
        self.assertEqual(len(self.by_random(BEFORE, random)), 1)

    async def test_allow_delivers_to_every_member(self):
        seq = await self.send_and_deliver(self.alice, [self.bob, self.carl], "just words",
                                          random=11)
        self.assertEqual(len(self.by_random(BEFORE, 11)), 1)
        after = await self.backend.wait(AFTER, lambda h: h.body["Random"] == 11)
        self.assertEqual(after[0].body["MsgSeq"], seq)

    async def test_reject_gives_the_sender_10016_and_nobody_receives(self):
        r = await self.alice.request("send", room=self.room, body="please reject", random=12)
        self.assertErr(r, 10016)
        await self.sync_then_nothing_of(12)

    async def test_drop_acks_the_sender_and_nobody_receives(self):
        r = await self.alice.request("send", room=self.room, body="please drop", random=13)
        self.assertEqual(r.get("op"), "ok", r)
        self.assertEqual(r.get("seq", 0), 0, r)
        # not frequency control's doing, so not `limited` (PROTOCOL.md §3)
        self.assertFalse(r.get("limited", False), r)
        await self.sync_then_nothing_of(13)
        # silently even where frequency drops are reported as 10023
        await self.aok(self.d, "set_room_config", {"GroupId": self.room,
                                                   "ReportLimited": True})
        r = await self.alice.request("send", room=self.room, body="please drop", random=15)
        self.assertEqual(r.get("op"), "ok", r)
        self.assertEqual(r.get("seq", 0), 0, r)
        await self.sync_then_nothing_of(15)

    async def test_rewrite_replaces_the_body_members_see(self):
        r = await self.alice.ok("send", room=self.room, body="please rewrite", random=14)
        self.assertGreater(r["seq"], 0)
        for c in (self.bob, self.carl):
            m = await c.push("msg", room=self.room, seq=r["seq"])
            self.assertEqual(m["type"], "text", m)
            got = m["body"]
            if isinstance(got, (bytes, bytearray)):
                got = bytes(got).decode()
            self.assertEqual(got, "rewritten by the backend", m)
        after = (await self.backend.wait(AFTER, lambda h: h.body["Random"] == 14))[0]
        self.assertEqual(after.body["MsgSeq"], r["seq"])
        self.assertEqual(after.body["MsgBody"], REWRITTEN)

    async def test_rewrite_to_a_custom_element(self):
        r = await self.alice.ok("send", room=self.room, body="please swap", random=16)
        m = await self.bob.push("msg", room=self.room, seq=r["seq"])
        self.assertEqual(m["type"], "custom", m)
        self.assertIn("gift:swapped", json.dumps(m["body"]), m)
        after = (await self.backend.wait(AFTER, lambda h: h.body["Random"] == 16))[0]
        self.assertEqual(after.body["MsgBody"], SWAPPED)
        self.assertEqual(after.body["CloudCustomData"], "")
        # a REST send keeps its CloudCustomData when the backend swaps its body
        r = await self.aok(self.d, "send_group_msg", {
            "GroupId": self.room, "Random": 17, "MsgBody": text_body("please swap"),
            "CloudCustomData": "keep-me"})
        m = await self.bob.push("msg", room=self.room, seq=r["MsgSeq"])
        self.assertIn("gift:swapped", json.dumps(m["body"]), m)
        self.assertIn("keep-me", json.dumps(m["body"]), m)
        after = (await self.backend.wait(AFTER, lambda h: h.body["Random"] == 17))[0]
        self.assertEqual(after.body["MsgBody"], SWAPPED)
        self.assertEqual(after.body["CloudCustomData"], "keep-me")

    async def test_rest_sends_get_the_verdicts_too(self):
        r = await self.afail(self.d, "send_group_msg", {
            "GroupId": self.room, "Random": 21, "MsgBody": text_body("please reject")}, 10016)
        r = await self.aok(self.d, "send_group_msg", {
            "GroupId": self.room, "Random": 22, "MsgBody": text_body("please drop")})
        self.assertEqual(r["MsgSeq"], 0)
        r = await self.aok(self.d, "send_group_msg", {
            "GroupId": self.room, "Random": 23, "MsgBody": text_body("please rewrite")})
        self.assertGreater(r["MsgSeq"], 0)
        m = await self.bob.push("msg", room=self.room, seq=r["MsgSeq"])
        self.assertEqual(m["body"], "rewritten by the backend")
        await self.sync_then_nothing_of(21)
        await self.sync_then_nothing_of(22)

    async def test_room_keeps_serving_while_a_before_send_waits(self):
        """alice's message waits on a backend that holds its before-send;
        bob's, answered at once, is delivered meanwhile, and alice's follows
        when the backend answers. No timeout is involved (5 s)."""
        rid = self.alice.new_id()
        await self.alice.send({"op": "send", "id": rid, "room": self.room,
                               "body": "please hold", "random": 31})
        await self.backend.wait(BEFORE, lambda h: h.body["Random"] == 31)
        seq = await self.send_and_deliver(self.bob, [self.carl], "meanwhile", random=32)
        self.assertEqual(seq, 1)
        self.assertEqual(self.alice.take(lambda m: m.get("id") == rid), [],
                         "alice was answered before the backend was")
        self.assertEqual(self.carl.take(lambda m: is_msg(m) and m.get("random") == 31), [])
        self.assertEqual(await self._run(self.failures, "timeout"), 0)
        self.backend.release.set()
        r = await self.alice.wait_for(lambda m: m.get("id") == rid, what="the held send's reply")
        self.assertEqual(r.get("op"), "ok", r)
        self.assertEqual(r.get("seq"), 2, r)
        m = await self.carl.push("msg", room=self.room, seq=2)
        self.assertEqual(m["random"], 31)


class FrequencyControl(Base):
    flags = ("--rate", "2", "--user-rate", "1000")

    async def test_after_send_only_for_messages_that_passed(self):
        alice = await self.user(self.d, "alice", room=self.room)
        bob = await self.user(self.d, "bob", room=self.room)
        randoms = list(range(100, 116))
        ids = {}
        for x in randoms:
            ids[x] = alice.new_id()
            await alice.send({"op": "send", "id": ids[x], "room": self.room,
                              "body": "burst %d" % x, "pri": "lowest", "random": x})
        replies = {}
        for x in randoms:
            replies[x] = await alice.wait_for(lambda m, i=ids[x]: m.get("id") == i,
                                              what="reply to burst %d" % x)
            self.assertEqual(replies[x].get("op"), "ok", replies[x])
        passed = {x: r["seq"] for x, r in replies.items() if r.get("seq", 0) > 0}
        dropped = [x for x, r in replies.items() if r.get("seq", 0) == 0]
        self.assertGreater(len(passed), 0, replies)
        self.assertGreater(len(dropped), 0, "frequency control dropped nothing: %r" % replies)
        for x in dropped:
            self.assertIs(replies[x].get("limited"), True, replies[x])
        got = await bob.msgs(len(passed), room=self.room)
        self.assertEqual(sorted(m["random"] for m in got), sorted(passed))
        # before frequency control: every send asked the backend
        before = await self.backend.wait(BEFORE, n=len(randoms))
        self.assertEqual(sorted(h.body["Random"] for h in before), randoms)
        after = await self.backend.wait(AFTER, n=len(passed))
        # bob's exit is posted after every delivery: once it is in, so is
        # every after-send the engine would have sent
        await bob.close()
        await self.backend.wait(EXIT)
        await asyncio.sleep(QUIET)
        after = self.backend.find(command=AFTER)
        self.assertEqual({h.body["Random"]: h.body["MsgSeq"] for h in after}, passed)
        self.assertEqual(len(after), len(passed))


# ------------------------------------------------------------- timeouts


class Timeouts(Base):
    timeout_ms = 200

    async def test_a_slow_before_send_fails_open(self):
        alice = await self.user(self.d, "alice", room=self.room)
        bob = await self.user(self.d, "bob", room=self.room)
        seq = await self.send_and_deliver(alice, [bob], "please hold on", random=41)
        self.assertEqual(seq, 1)
        self.assertEqual(len(self.by_random(BEFORE, 41)), 1)  # before-send is not retried
        await self.failures_reach("timeout", 1)
        await self.failures_reach("failed", 1)

    async def test_after_callbacks_are_retried_once_on_timeout(self):
        self.backend.policy = lambda h: "hold" if h.command == AFTER else marker_policy(h)
        alice = await self.user(self.d, "alice", room=self.room)
        bob = await self.user(self.d, "bob", room=self.room)
        seq = await self.send_and_deliver(alice, [bob], "count my callbacks", random=42)
        hits = await self.backend.wait(AFTER, lambda h: h.body["Random"] == 42, n=2)
        self.assertEqual([h.body["MsgSeq"] for h in hits], [seq, seq])
        self.assertEqual(hits[0].raw, hits[1].raw, "the retry sends the same event")
        # failed is counted once both attempts timed out: no third one comes
        await self.failures_reach("failed", 1)
        self.assertGreaterEqual(await self._run(self.failures, "retried"), 1)
        self.assertGreaterEqual(await self._run(self.failures, "timeout"), 2)
        self.assertEqual(len(self.by_random(AFTER, 42)), 2)
        # and messages kept flowing meanwhile
        await self.send_and_deliver(bob, [alice], "still here", random=43)


class FailClosed(Base):
    # the message after the held one must be answered within this, even on
    # a loaded machine under ASan: the hold itself ends on the timeout
    timeout_ms = 1000

    def callback_flags(self):
        return super().callback_flags() + ("--callback-fail-closed", "on")

    async def test_a_slow_before_send_rejects_with_10016(self):
        alice = await self.user(self.d, "alice", room=self.room)
        bob = await self.user(self.d, "bob", room=self.room)
        r = await alice.request("send", room=self.room, body="please hold on", random=51)
        self.assertErr(r, 10016)
        await self.failures_reach("timeout", 1)
        self.backend.release.set()  # from now on the backend answers at once
        await self.send_and_deliver(bob, [alice], "answered in time", random=52)
        await alice.quiet(lambda m: is_msg(m) and m.get("random") == 51)
        self.assertEqual(self.by_random(AFTER, 51), [])


# ------------------------------------------------------------- dead hosts


class ClosedPort(Base):
    make_room = False

    def make_backend(self):
        class Nobody:
            port = free_port()

            def url(self):
                return "http://%s:%d%s" % (HOST, self.port, CB_PATH)

            def close(self):
                pass
        return Nobody()

    async def test_delivery_goes_on_and_failures_are_counted(self):
        await self.create(self.d, self.room)
        alice = await self.user(self.d, "alice", room=self.room)
        bob = await self.user(self.d, "bob", room=self.room, transport="tcp")
        for i in range(3):
            await self.send_and_deliver(alice, [bob], "into the void %d" % i)
        first = await self.failures_reach("failed", 1)
        await self.send_and_deliver(bob, [alice], "and again")
        await self.failures_reach("failed", first + 1)
        self.assertEqual(self.metrics().get(("liveroom_callbacks_sent_total", ()), 0.0), 0.0)


class SilentHost(Base):
    timeout_ms = 200
    make_room = False

    def make_backend(self):
        return Blackhole()

    async def test_a_host_that_never_answers_does_not_stop_delivery(self):
        await self.create(self.d, self.room)
        alice = await self.user(self.d, "alice", room=self.room)
        bob = await self.user(self.d, "bob", room=self.room)
        for i in range(3):
            await self.send_and_deliver(alice, [bob], "anyone there %d" % i)
        self.assertTrue(self.backend.accepted.is_set())
        await self.failures_reach("timeout", 3)
        await self.failures_reach("retried", 1)
        await self.send_and_deliver(bob, [alice], "still delivering")


if __name__ == "__main__":
    main()
