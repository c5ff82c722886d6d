"""adminhttp: a client of the admin REST API (ADMIN_API.md) for the tests.

Written from ADMIN_API.md alone, on Python's http.client with ONE keep-alive
connection per client, so that a test passing here proves a business
backend on an ordinary HTTP/1.1 client library works unchanged. Beside it:
raw-socket helpers for what a library hides (pipelining, a head whose body
never comes), and AdminCase, a DaemonCase whose admin calls run off the
event loop so WebSocket clients keep reading while the engine answers.

Every reply is checked against ADMIN_API.md §1 as it arrives: HTTP 200, a
JSON object with ActionStatus "OK"/"FAIL", an integer ErrorCode (0 exactly
when OK) and a string ErrorInfo.
"""

import asyncio
import http.client
import json
import os
import socket
import time
import urllib.parse

from harness import APP_ID, HOST, WAIT, DaemonCase, make_usersig

GROUP = "group_open_http_svc"
AVCHAT = "group_open_avchatroom_http_svc"
LOGIN = "im_open_login_svc"
LIVEROOM = "liveroom_svc"

# Which service each command lives in (ADMIN_API.md §2).
SERVICE = {
    "get_members": AVCHAT,
    "account_import": LOGIN,
    "kick": LOGIN,
    "set_room_config": LIVEROOM,
}

MIB = 1024 * 1024


def service_of(command):
    return SERVICE.get(command, GROUP)


def text_body(text):
    """A Tencent MsgBody of one TIMTextElem."""
    return [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]


def rnd():
    """A fresh u32 Random."""
    return int.from_bytes(os.urandom(4), "big")


def check_envelope(test, status, reply, what=""):
    """ADMIN_API.md §1: every reply is HTTP 200 with the three fields."""
    test.assertEqual(status, 200, "%s: HTTP %r %r" % (what, status, reply))
    test.assertIsInstance(reply, dict, what)
    test.assertIn(reply.get("ActionStatus"), ("OK", "FAIL"), "%s: %r" % (what, reply))
    test.assertIsInstance(reply.get("ErrorCode"), int, "%s: %r" % (what, reply))
    test.assertIsInstance(reply.get("ErrorInfo"), str, "%s: %r" % (what, reply))
    test.assertEqual(reply["ActionStatus"] == "OK", reply["ErrorCode"] == 0,
                     "%s: ActionStatus and ErrorCode disagree: %r" % (what, reply))


def query_string(d, identifier="administrator", usersig=None, sdkappid=None, omit=(),
                 secret=None):
    """The credential query of §1; `omit` leaves parameters out."""
    if usersig is None:
        usersig = make_usersig(identifier, secret=secret or d.secret or d.read_secret(),
                               app_id=d.app_id or APP_ID)
    q = [("sdkappid", str(sdkappid if sdkappid is not None else (d.app_id or APP_ID))),
         ("identifier", identifier), ("usersig", usersig), ("random", str(rnd())),
         ("contenttype", "json")]
    return urllib.parse.urlencode([(k, v) for k, v in q if k not in omit])


def v4_path(d, command, service=None, **qs):
    return "/v4/%s/%s?%s" % (service or service_of(command), command, query_string(d, **qs))


class Admin:
    """One keep-alive HTTP/1.1 connection to a daemon's admin port."""

    def __init__(self, d, test, identifier="administrator"):
        self.d = d
        self.test = test
        self.identifier = identifier
        self.port = None
        self.conn = None
        self.sockets = []  # every socket object used, to prove keep-alive

    def _connect(self):
        if self.conn is None or self.port != self.d.admin_port:
            if self.conn is not None:
                self.conn.close()
            self.port = self.d.admin_port
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=WAIT)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def raw(self, method, path, body=None, headers=None):
        """One request; returns (status, headers, body bytes)."""
        c = self._connect()
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        if c.sock is not None and (not self.sockets or self.sockets[-1] is not c.sock):
            self.sockets.append(c.sock)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if r.will_close:
            self.close()
        return r.status, hdrs, data

    def call(self, command, body=None, service=None, raw_body=None, **qs):
        """POST a command; returns the checked JSON reply."""
        qs.setdefault("identifier", self.identifier)
        path = v4_path(self.d, command, service, **qs)
        data = raw_body if raw_body is not None else json.dumps(body or {}).encode()
        status, _h, out = self.raw("POST", path, data)
        try:
            reply = json.loads(out)
        except ValueError:
            raise AssertionError("%s: reply is not JSON: %r" % (command, out[:300]))
        check_envelope(self.test, status, reply, command)
        return reply

    def ok(self, command, body=None, service=None, **qs):
        r = self.call(command, body, service, **qs)
        self.test.assertEqual(r["ActionStatus"], "OK", "%s %r: %r" % (command, body, r))
        return r

    def fail(self, command, body=None, code=None, service=None, raw_body=None, **qs):
        r = self.call(command, body, service, raw_body=raw_body, **qs)
        self.test.assertEqual(r["ActionStatus"], "FAIL", "%s: expected FAIL, got %r" % (command, r))
        if code is not None:
            self.test.assertEqual(r["ErrorCode"], code, "%s %s: %r" % (command, _short(body), r))
        return r

    def get(self, path):
        return self.raw("GET", path)


def _short(body):
    s = json.dumps(body)
    return s if len(s) < 200 else s[:200] + "..."


# ---------------------------------------------------------- raw HTTP bytes

def request_bytes(d, command, body, service=None, extra_headers=(), **qs):
    """The bytes of one POST, with Content-Length (keep-alive by default)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = ("POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n" % (v4_path(d, command, service, **qs), HOST,
                                         d.admin_port, len(data)))
    head += "".join("%s: %s\r\n" % kv for kv in extra_headers)
    return head.encode() + b"\r\n" + data


def read_response(f):
    """One HTTP/1.1 response from a buffered reader shared by successive
    responses (http.client cannot read pipelined replies on one socket).
    Returns (status, headers, body)."""
    line = f.readline()
    if not line:
        raise AssertionError("connection closed before a response")
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise AssertionError("bad status line %r" % line)
    status = int(parts[1])
    headers = {}
    while True:
        ln = f.readline()
        if not ln:
            raise AssertionError("connection closed inside a response head")
        ln = ln.decode("latin-1").rstrip("\r\n")
        if not ln:
            break
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" not in headers:
        raise AssertionError("response without Content-Length: %r" % headers)
    n = int(headers["content-length"])
    body = f.read(n)
    if len(body) != n:
        raise AssertionError("response body cut short (%d of %d)" % (len(body), n))
    return status, headers, body


def raw_socket(d):
    s = socket.create_connection((HOST, d.admin_port), timeout=WAIT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


# ---------------------------------------------------------------- test case

class AdminCase(DaemonCase):
    """DaemonCase plus admin calls that leave the event loop free (the
    WebSocket readers keep draining while the engine answers)."""

    async def asyncSetUp(self):
        await super().asyncSetUp()
        self._admins = {}
        # unittest skips asyncTearDown when asyncSetUp raises, but always
        # runs cleanups: without this a failed setUp leaves daemons running.
        self.addCleanup(self._kill_leftovers)

    def _kill_leftovers(self):
        for d in self._daemons:
            d.cleanup()  # kill -9 if still running; a stopped one is untouched

    async def asyncTearDown(self):
        for a in self._admins.values():
            a.close()
        await super().asyncTearDown()

    def admin_client(self, d, identifier="administrator"):
        key = (id(d), identifier)
        if key not in self._admins:
            self._admins[key] = Admin(d, self, identifier)
        return self._admins[key]

    async def _run(self, fn, *a, **kw):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: fn(*a, **kw))

    async def call(self, d, command, body=None, **kw):
        return await self._run(self.admin_client(d).call, command, body, **kw)

    async def aok(self, d, command, body=None, **kw):
        return await self._run(self.admin_client(d).ok, command, body, **kw)

    async def afail(self, d, command, body=None, code=None, **kw):
        return await self._run(self.admin_client(d).fail, command, body, code, **kw)

    async def create(self, d, room, **fields):
        body = {"Type": "AVChatRoom", "GroupId": room}
        body.update(fields)
        r = await self.aok(d, "create_group", body)
        self.assertEqual(r.get("GroupId"), room, r)
        return r

    async def group_info(self, d, room):
        r = await self.aok(d, "get_group_info", {"GroupIdList": [room]})
        self.assertEqual(len(r["GroupInfo"]), 1, r)
        return r["GroupInfo"][0]


def now_ms():
    return int(time.time() * 1000)
