"""harness: start liveroomd on free ports and talk to it like a client would.

Everything here is written from PROTOCOL.md and ADMIN_API.md alone, so that a
test that passes proves a client written from those pages works unchanged.
Standard library plus Debian's python3-websockets (10.4, asyncio API) only;
msgpack is the local pure-python `mpack`.

Pieces:
- Daemon: one liveroomd on free loopback ports with a temporary --data-dir and
  a known --secret; started until its stderr says `ready`, stopped with
  SIGTERM and required to exit 0 within 5 s.
- Signatures: UserSig (TLSSigAPIv2) and JWT HS256 made here in python, and
  the same made by the engine's own `liveroom-sig` tool.
- Clients: WsConn (python-websockets, a real third-party client), RawWs (a
  hand-written WebSocket client for what libraries hide: ping frames,
  garbage frames, oversize frames, not answering pings), TcpConn (raw TCP,
  4-byte big-endian length + msgpack map). All share one inbox with bounded
  waits: nothing here sleeps and hopes.
- DaemonCase: an IsolatedAsyncioTestCase with helpers that clean up after
  themselves.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import zlib

import websockets
import websockets.client
import websockets.exceptions
import websockets.typing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpack  # noqa: E402

APP_ID = 1400000000
SECRET = "itest-secret-0123456789abcdef"
JSON_PROTO = "liveroom.v1.json"
MSGPACK_PROTO = "liveroom.v1.msgpack"
HOST = "127.0.0.1"

# Bounded waits. The sanitized build is several times slower, hence the
# generous defaults; a passing test never waits this long.
WAIT = float(os.environ.get("LR_ITEST_WAIT", "10"))
READY_WAIT = float(os.environ.get("LR_ITEST_READY_WAIT", "20"))
# How long a negative check ("nothing more arrives") listens after a
# positive synchronisation point.
QUIET = float(os.environ.get("LR_ITEST_QUIET", "0.3"))


def _source_dir():
    return os.environ.get("LR_SOURCE_DIR") or os.path.abspath(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def _binary(env, name):
    p = os.environ.get(env)
    if p:
        return p
    for b in ("build", "build-itest"):
        cand = os.path.join(_source_dir(), b, name)
        if os.access(cand, os.X_OK):
            return cand
    return os.path.join(_source_dir(), "build", name)


LIVEROOMD = _binary("LIVEROOMD", "liveroomd")
LIVEROOM_SIG = _binary("LIVEROOM_SIG", "liveroom-sig")


def free_ports(n):
    """n distinct loopback ports nobody listens on right now (the kernel
    picks them; all are held open until every one is chosen, so two can
    never be the same)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port():
    """A loopback port nobody listens on right now (the kernel picks it)."""
    return free_ports(1)[0]


# ---------------------------------------------------------------- signatures

def _b64url_nopad(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def make_usersig(user, secret=SECRET, app_id=APP_ID, expire=86400, now=None,
                 tamper=False):
    """UserSig per ADMIN_API.md §4, independent of the engine's signer."""
    t = int(time.time()) if now is None else int(now)
    content = ("TLS.identifier:%s\nTLS.sdkappid:%d\nTLS.time:%d\nTLS.expire:%d\n"
               % (user, app_id, t, expire))
    mac = hmac.new(secret.encode(), content.encode(), hashlib.sha256).digest()
    if tamper:
        mac = bytes([mac[0] ^ 1]) + mac[1:]
    doc = {
        "TLS.ver": "2.0",
        "TLS.identifier": user,
        "TLS.sdkappid": app_id,
        "TLS.time": t,
        "TLS.expire": expire,
        "TLS.sig": base64.b64encode(mac).decode(),
    }
    raw = json.dumps(doc, separators=(",", ":")).encode()
    b = base64.b64encode(zlib.compress(raw)).decode()
    return b.replace("+", "*").replace("/", "-").replace("=", "_")


def make_jwt(user, secret=SECRET, expire=86400, now=None, tamper=False):
    """JWT HS256 with sub and exp (and iat), signed with the same secret."""
    t = int(time.time()) if now is None else int(now)
    head = _b64url_nopad(json.dumps({"alg": "HS256", "typ": "JWT"},
                                    separators=(",", ":")).encode())
    body = _b64url_nopad(json.dumps({"sub": user, "iat": t, "exp": t + expire},
                                    separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), (head + "." + body).encode(),
                   hashlib.sha256).digest()
    if tamper:
        mac = bytes([mac[0] ^ 1]) + mac[1:]
    return head + "." + body + "." + _b64url_nopad(mac)


def tool_sig(user, secret=SECRET, expire=None, app_id=None, jwt=False):
    """A signature made by the engine's own `liveroom-sig` tool."""
    if not os.access(LIVEROOM_SIG, os.X_OK):
        raise unittest.SkipTest("liveroom-sig not built (%s)" % LIVEROOM_SIG)
    cmd = [LIVEROOM_SIG, "--secret", secret, "--user", user]
    if expire is not None:
        cmd += ["--expire", str(expire)]
    if app_id is not None:
        cmd += ["--app-id", str(app_id)]
    if jwt:
        cmd.append("--jwt")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=WAIT,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise AssertionError("liveroom-sig failed (%d): %s" % (r.returncode, r.stderr))
    out = r.stdout.strip()
    if not out or "\n" in out:
        raise AssertionError("liveroom-sig printed %r, expected one line" % r.stdout)
    return out


def decode_usersig(sig):
    """The JSON document inside a UserSig (to check what a tool produced)."""
    b = sig.replace("*", "+").replace("-", "/").replace("_", "=")
    return json.loads(zlib.decompress(base64.b64decode(b)))


# -------------------------------------------------------------------- daemon

class DaemonError(AssertionError):
    pass


class Daemon:
    """One liveroomd process on free loopback ports.

    Flags beyond the listeners, data dir and secret are passed as given.
    `secret=None` starts it without --secret (it then creates
    <data-dir>/secret). A data_dir passed in is kept; one made here is
    removed by cleanup().
    """

    def __init__(self, *flags, secret=SECRET, data_dir=None, tcp=True,
                 shards=2, app_id=None, wrap=()):
        self.flags = [str(f) for f in flags]
        self.wrap = list(wrap)  # a command liveroomd runs under, e.g. taskset
        self.secret = secret
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="liveroom-itest-")
        self.tcp = tcp
        self.shards = shards
        self.app_id = app_id
        self.proc = None
        self.stopped = False
        self.lines = []
        self.out_lines = []
        self.port = self.admin_port = self.tcp_port = None
        self._ready = threading.Event()
        self._threads = []

    # -- lifecycle

    def start(self):
        if not os.access(LIVEROOMD, os.X_OK):
            raise DaemonError("liveroomd not found or not executable: %s" % LIVEROOMD)
        last = ""
        for _attempt in range(4):
            if self._start_once():
                return self
            last = self.stderr_text()
            # Another test may have taken a port between bind(0) and the
            # daemon's bind: try fresh ports, but only for that reason.
            if "in use" not in last.lower() and "eaddrinuse" not in last.lower():
                break
        raise DaemonError("liveroomd did not become ready (exit %r); argv %s\nstderr:\n%s"
                          % (self.proc.returncode if self.proc else None,
                             " ".join(self.argv), _tail(last)))

    def _start_once(self):
        self.port, self.admin_port, tcp_port = free_ports(3)
        self.tcp_port = tcp_port if self.tcp else None
        argv = [LIVEROOMD, "--port", str(self.port), "--admin-port", str(self.admin_port),
                "--data-dir", self.data_dir]
        if self.tcp:
            argv += ["--tcp-port", str(self.tcp_port)]
        if self.secret is not None:
            argv += ["--secret", self.secret]
        if self.shards:
            argv += ["--shards", str(self.shards)]
        if self.app_id is not None:
            argv += ["--app-id", str(self.app_id)]
        argv += self.flags
        argv = self.wrap + argv
        self.argv = argv
        self.lines = []
        self.out_lines = []
        self.stopped = False
        self._ready = threading.Event()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t1 = threading.Thread(target=self._pump, args=(self.proc.stderr, self.lines, True),
                              daemon=True)
        t2 = threading.Thread(target=self._pump, args=(self.proc.stdout, self.out_lines, False),
                              daemon=True)
        t1.start()
        t2.start()
        self._threads = [t1, t2]
        deadline = time.monotonic() + READY_WAIT
        while time.monotonic() < deadline:
            if self._ready.wait(0.05):
                return True
            if self.proc.poll() is not None:
                for t in self._threads:
                    t.join(1)
                return self._ready.is_set()
        self.proc.kill()
        self.proc.wait()
        raise DaemonError("liveroomd printed no `ready` line within %.0f s; stderr:\n%s"
                          % (READY_WAIT, _tail(self.stderr_text())))

    def _pump(self, pipe, sink, watch_ready):
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            sink.append(line)
            if watch_ready and "ready" in line:
                self._ready.set()
        pipe.close()

    def stop(self, timeout=5.0, sig=signal.SIGTERM):
        """SIGTERM (by default) and require exit code 0 within `timeout`.
        A daemon that already died is reported with its exit code."""
        if self.proc is None or self.stopped:
            return 0
        if self.proc.poll() is not None:
            self.stopped = True
            rc = self.proc.returncode
            if rc != 0:
                raise DaemonError("liveroomd had exited on its own with %r; stderr:\n%s"
                                  % (rc, _tail(self.stderr_text())))
            return rc
        self.proc.send_signal(sig)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout=5.0, expect=0):
        self.stopped = True
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise DaemonError("liveroomd did not exit within %.0f s of SIGTERM; stderr:\n%s"
                              % (timeout, _tail(self.stderr_text())))
        for t in self._threads:
            t.join(2)
        if expect is not None and rc != expect:
            raise DaemonError("liveroomd exited with %r, expected %r; stderr:\n%s"
                              % (rc, expect, _tail(self.stderr_text())))
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        self.kill()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def restart(self):
        """Start again on the same data dir (after stop())."""
        self.start()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        return "\n".join(self.lines)

    # -- addresses

    def ws_url(self, path="/ws", **query):
        q = ""
        if query:
            q = "?" + "&".join("%s=%s" % (k, urllib.parse.quote(str(v), safe=""))
                               for k, v in query.items())
        return "ws://%s:%d%s%s" % (HOST, self.port, path, q)

    # -- admin API (ADMIN_API.md), for tests that need a room made there

    def admin(self, command, body, service="group_open_http_svc", admin="administrator"):
        import urllib.request
        sig = make_usersig(admin, secret=self.secret or self.read_secret(),
                           app_id=self.app_id or APP_ID)
        qs = urllib.parse.urlencode({
            "sdkappid": self.app_id or APP_ID, "identifier": admin, "usersig": sig,
            "random": int.from_bytes(os.urandom(4), "big"), "contenttype": "json"})
        url = "http://%s:%d/v4/%s/%s?%s" % (HOST, self.admin_port, service, command, qs)
        req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=WAIT) as r:
            if r.status != 200:
                raise AssertionError("admin %s: HTTP %d" % (command, r.status))
            return json.loads(r.read())

    def read_secret(self):
        with open(os.path.join(self.data_dir, "secret")) as f:
            return f.read().rstrip("\n")


def _tail(text, n=80):
    lines = text.splitlines()
    return "\n".join(lines[-n:]) if lines else "(empty)"


# ------------------------------------------------------------------ clients

class Closed(AssertionError):
    pass


class Conn:
    """Common inbox logic. Subclasses provide _read_obj() and _write_obj()."""

    encoding = "json"
    name = "conn"

    def __init__(self):
        self.inbox = []  # decoded messages not yet consumed by a wait
        self.log = []  # every message, in arrival order
        self.violations = []  # protocol violations seen by the reader
        self.close_code = None
        self.close_reason = None
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._next_id = 1
        self._task = None

    def _start_reader(self):
        self._task = asyncio.get_running_loop().create_task(self._reader())

    async def _reader(self):
        try:
            while True:
                obj = await self._read_obj()
                if obj is None:
                    break
                self.inbox.append(obj)
                self.log.append(obj)
                self._changed.set()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - recorded, the waits report it
            if not isinstance(e, (ConnectionError, asyncio.IncompleteReadError,
                                  websockets.exceptions.ConnectionClosed)):
                self.violations.append("reader: %r" % (e,))
        finally:
            self._on_closed()
            self.closed.set()
            self._changed.set()

    def _on_closed(self):
        pass

    def _violation(self, what):
        self.violations.append(what)
        self._changed.set()

    def new_id(self):
        i = self._next_id
        self._next_id += 1
        return i

    # -- sending

    async def send(self, obj):
        await self._write_obj(obj)

    async def request(self, op, timeout=None, **fields):
        """Send a request with a fresh id; return the reply echoing that id."""
        rid = fields.pop("id", None) or self.new_id()
        msg = {"op": op, "id": rid}
        msg.update(fields)
        await self.send(msg)
        return await self.wait_for(lambda m: m.get("id") == rid and m.get("op") in
                                   ("ok", "err", "pong"),
                                   timeout=timeout, what="reply to %s id %d" % (op, rid))

    async def ok(self, op, **fields):
        """A request that must succeed; returns the `ok` reply."""
        r = await self.request(op, **fields)
        if r.get("op") != "ok":
            raise AssertionError("%s %s: expected ok, got %r" % (self.name, op, r))
        return r

    async def err(self, op, **fields):
        """A request that must fail; returns the `err` reply."""
        r = await self.request(op, **fields)
        if r.get("op") != "err":
            raise AssertionError("%s %s: expected err, got %r" % (self.name, op, r))
        return r

    async def ping(self):
        """One ping/pong round trip: a synchronisation point on this conn."""
        r = await self.request("ping")
        if r.get("op") != "pong":
            raise AssertionError("ping: expected pong, got %r" % (r,))
        return r

    # -- receiving

    def _check(self):
        if self.violations:
            raise AssertionError("%s: protocol violation: %s" % (self.name, self.violations))

    async def wait_for(self, pred, timeout=None, what="message"):
        timeout = WAIT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            self._check()
            for i, m in enumerate(self.inbox):
                if pred(m):
                    del self.inbox[i]
                    return m
            if self.closed.is_set():
                raise Closed("%s: closed (code %r %r) while waiting for %s; inbox %r"
                             % (self.name, self.close_code, self.close_reason, what,
                                self.inbox[-5:]))
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%s: no %s within %.1f s; inbox %r"
                                     % (self.name, what, timeout, self.inbox[-5:]))
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def push(self, op, timeout=None, **match):
        """Wait for a push (no id) with this op whose fields equal `match`."""
        def pred(m):
            return (m.get("op") == op and "id" not in m
                    and all(m.get(k) == v for k, v in match.items()))
        return await self.wait_for(pred, timeout, "push %s %r" % (op, match))

    async def msgs(self, n, room=None, timeout=None):
        """The next n `msg` pushes (of `room` when given), in arrival order."""
        out = []
        for _ in range(n):
            if room is None:
                out.append(await self.push("msg", timeout))
            else:
                out.append(await self.push("msg", timeout, room=room))
        return out

    def take(self, pred):
        """Remove and return every message already received matching pred."""
        got = [m for m in self.inbox if pred(m)]
        self.inbox = [m for m in self.inbox if not pred(m)]
        return got

    async def quiet(self, pred, duration=None, what="message"):
        """Negative check: nothing matching pred arrives within `duration`.
        Call it after a positive sync point (a reply or a later push)."""
        duration = QUIET if duration is None else duration
        deadline = time.monotonic() + duration
        while True:
            self._check()
            for m in self.inbox:
                if pred(m):
                    raise AssertionError("%s: unexpected %s: %r" % (self.name, what, m))
            left = deadline - time.monotonic()
            if left <= 0 or self.closed.is_set():
                return
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def wait_closed(self, timeout=None):
        """Wait until the engine closed the connection; returns the close code
        (None for raw TCP, which has no close frame)."""
        timeout = WAIT if timeout is None else timeout
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError("%s: still open after %.1f s; inbox %r"
                                 % (self.name, timeout, self.inbox[-5:]))
        return self.close_code

    async def close(self):
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except BaseException:  # noqa: BLE001
                pass
        await self._close_transport()

    async def _close_transport(self):
        pass


class WsConn(Conn):
    """A client on python-websockets (a real third-party implementation)."""

    def __init__(self, url, subprotocols=None, name="ws"):
        super().__init__()
        self.url = url
        self.subprotocols = subprotocols
        self.name = name
        self.ws = None

    async def connect(self):
        protos = None
        if self.subprotocols is not None:
            protos = [websockets.typing.Subprotocol(p) for p in self.subprotocols]
        self.ws = await websockets.client.connect(
            self.url, subprotocols=protos, ping_interval=None, max_size=None,
            close_timeout=2, open_timeout=WAIT)
        self.subprotocol = self.ws.subprotocol
        self.encoding = "msgpack" if self.subprotocol == MSGPACK_PROTO else "json"
        self._start_reader()
        return self

    async def _read_obj(self):
        try:
            data = await self.ws.recv()
        except websockets.exceptions.ConnectionClosed:
            return None
        return _decode_frame(self, data)

    def _on_closed(self):
        if self.ws is not None:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason

    async def _write_obj(self, obj):
        if self.encoding == "msgpack":
            await self.ws.send(mpack.packb(obj))
        else:
            await self.ws.send(json.dumps(obj))

    async def send_text(self, text):
        await self.ws.send(text)

    async def send_binary(self, data):
        await self.ws.send(bytes(data))

    async def _close_transport(self):
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 3)
            except Exception:  # noqa: BLE001
                pass


def _decode_frame(conn, data):
    """Decode one engine frame and check it used the negotiated frame type."""
    if isinstance(data, str):
        if conn.encoding != "json":
            conn._violation("text frame on a msgpack connection: %r" % data[:200])
        try:
            obj = json.loads(data)
        except ValueError:
            conn._violation("engine sent invalid JSON: %r" % data[:200])
            return {"op": "_invalid", "raw": data}
    else:
        if conn.encoding != "msgpack":
            conn._violation("binary frame on a JSON connection: %r" % bytes(data[:200]))
        try:
            obj = mpack.unpackb(data)
        except ValueError as e:
            conn._violation("engine sent invalid msgpack (%s): %r" % (e, bytes(data[:200])))
            return {"op": "_invalid", "raw": data}
    if not isinstance(obj, dict) or not isinstance(obj.get("op"), str):
        conn._violation("engine message is not a map with a string op: %r" % (obj,))
        return {"op": "_invalid", "raw": obj}
    return obj


class TcpConn(Conn):
    """Raw TCP: 4-byte big-endian length, then one msgpack map."""

    encoding = "msgpack"

    def __init__(self, port, name="tcp"):
        super().__init__()
        self.port = port
        self.name = name

    async def connect(self):
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, self.port), WAIT)
        self._start_reader()
        return self

    async def _read_obj(self):
        try:
            head = await self.reader.readexactly(4)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        n = struct.unpack(">I", head)[0]
        data = await self.reader.readexactly(n)
        return _decode_frame(self, data)

    async def _write_obj(self, obj):
        await self.send_frame(mpack.packb(obj))

    async def send_frame(self, payload):
        self.writer.write(struct.pack(">I", len(payload)) + payload)
        await self.writer.drain()

    async def _close_transport(self):
        try:
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        except Exception:  # noqa: BLE001
            pass


# WebSocket opcodes (RFC 6455 §5.2)
OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def ws_frame(opcode, payload=b"", fin=True, mask=True, rsv=0):
    """One client frame (masked unless told otherwise)."""
    payload = bytes(payload)
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    if n < 126:
        head = bytes((b0, (0x80 if mask else 0) | n))
    elif n < 0x10000:
        head = bytes((b0, (0x80 if mask else 0) | 126)) + struct.pack(">H", n)
    else:
        head = bytes((b0, (0x80 if mask else 0) | 127)) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    body = bytes(c ^ key[i & 3] for i, c in enumerate(payload))
    return head + key + body


async def http_request(port, raw, timeout=None):
    """Send raw HTTP bytes; return (status, headers dict lower-cased, reader,
    writer) once the response head arrived."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), WAIT)
    writer.write(raw)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout or WAIT)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    headers = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers, reader, writer


def upgrade_request(path="/ws", host=None, key=True, version=True, protocols=None,
                    extra=None, omit=()):
    """The bytes of a WebSocket upgrade request, with parts left out on demand."""
    hdr = [("Host", host or "localhost"), ("Upgrade", "websocket"),
           ("Connection", "Upgrade")]
    if key:
        hdr.append(("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode()))
    if version:
        hdr.append(("Sec-WebSocket-Version", "13"))
    if protocols:
        hdr.append(("Sec-WebSocket-Protocol", ", ".join(protocols)))
    for k, v in (extra or []):
        hdr.append((k, v))
    hdr = [(k, v) for k, v in hdr if k.lower() not in {o.lower() for o in omit}]
    text = "GET %s HTTP/1.1\r\n" % path + "".join("%s: %s\r\n" % kv for kv in hdr) + "\r\n"
    return text.encode("latin-1"), dict(hdr)


class RawWs(Conn):
    """A minimal hand-written WebSocket client, for what libraries hide."""

    def __init__(self, port, path="/ws", protocols=None, auto_pong=True, name="raw"):
        super().__init__()
        self.port = port
        self.path = path
        self.protocols = protocols
        self.auto_pong = auto_pong
        self.name = name
        self.pings = []  # payloads of ping frames received from the engine
        self.pongs = []  # payloads of pong frames received from the engine
        self.frames = []  # (opcode, payload) of every data frame
        self._ctrl = asyncio.Event()

    async def connect(self):
        raw, hdr = upgrade_request(self.path, protocols=self.protocols)
        status, headers, self.reader, self.writer = await http_request(self.port, raw)
        if status != 101:
            raise AssertionError("upgrade: HTTP %d %r" % (status, headers))
        key = hdr["Sec-WebSocket-Key"]
        want = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != want:
            raise AssertionError("bad Sec-WebSocket-Accept %r" % headers)
        self.headers = headers
        self.subprotocol = headers.get("sec-websocket-protocol")
        self.encoding = "msgpack" if self.subprotocol == MSGPACK_PROTO else "json"
        self._start_reader()
        return self

    async def _read_frame(self):
        h = await self.reader.readexactly(2)
        fin = bool(h[0] & 0x80)
        if h[0] & 0x70:
            self._violation("engine frame with RSV bits set")
        op = h[0] & 0x0F
        if h[1] & 0x80:
            self._violation("engine frame is masked")
        n = h[1] & 0x7F
        if n == 126:
            n = struct.unpack(">H", await self.reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", await self.reader.readexactly(8))[0]
        if h[1] & 0x80:
            key = await self.reader.readexactly(4)
            data = bytes(c ^ key[i & 3] for i, c in enumerate(await self.reader.readexactly(n)))
        else:
            data = await self.reader.readexactly(n) if n else b""
        return fin, op, data

    async def _read_obj(self):
        buf = b""
        first_op = None
        while True:
            try:
                fin, op, data = await self._read_frame()
            except (asyncio.IncompleteReadError, ConnectionError):
                if self.close_code is None:
                    self.close_code = 1006
                return None
            if op == OP_PING:
                self.pings.append(data)
                self._ctrl.set()
                self._changed.set()
                if self.auto_pong:
                    await self._raw_write(ws_frame(OP_PONG, data))
                continue
            if op == OP_PONG:
                self.pongs.append(data)
                self._ctrl.set()
                self._changed.set()
                continue
            if op == OP_CLOSE:
                if len(data) >= 2:
                    self.close_code = struct.unpack(">H", data[:2])[0]
                    self.close_reason = data[2:].decode("utf-8", "replace")
                else:
                    self.close_code = 1005
                try:
                    await self._raw_write(ws_frame(OP_CLOSE, data[:2]))
                except Exception:  # noqa: BLE001
                    pass
                # Wait for the engine to close TCP (it must, after a close).
                try:
                    await asyncio.wait_for(self.reader.read(), WAIT)
                except Exception:  # noqa: BLE001
                    pass
                return None
            if op in (OP_TEXT, OP_BIN):
                first_op = op
                buf = data
            elif op == OP_CONT:
                buf += data
            else:
                self._violation("unknown opcode %d" % op)
                continue
            if fin:
                self.frames.append((first_op, buf))
                if first_op == OP_TEXT:
                    try:
                        return _decode_frame(self, buf.decode("utf-8"))
                    except UnicodeDecodeError:
                        self._violation("text frame not UTF-8")
                        return {"op": "_invalid", "raw": buf}
                return _decode_frame(self, buf)

    async def _raw_write(self, data):
        self.writer.write(data)
        await self.writer.drain()

    async def _write_obj(self, obj):
        if self.encoding == "msgpack":
            await self._raw_write(ws_frame(OP_BIN, mpack.packb(obj)))
        else:
            await self._raw_write(ws_frame(OP_TEXT, json.dumps(obj).encode()))

    async def send_text(self, text):
        await self._raw_write(ws_frame(OP_TEXT, text.encode() if isinstance(text, str) else text))

    async def send_binary(self, data):
        await self._raw_write(ws_frame(OP_BIN, data))

    async def send_frame(self, opcode, payload=b"", **kw):
        await self._raw_write(ws_frame(opcode, payload, **kw))

    async def wait_pong(self, payload, timeout=None):
        timeout = WAIT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while payload not in self.pongs:
            if self.closed.is_set():
                raise Closed("closed (code %r) before pong" % self.close_code)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no pong %r within %.1f s" % (payload, timeout))
            self._ctrl.clear()
            try:
                await asyncio.wait_for(self._ctrl.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def wait_ping(self, timeout=None):
        timeout = WAIT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while not self.pings:
            if self.closed.is_set():
                raise Closed("closed (code %r) before any ping" % self.close_code)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no ping within %.1f s" % timeout)
            self._ctrl.clear()
            try:
                await asyncio.wait_for(self._ctrl.wait(), left)
            except asyncio.TimeoutError:
                pass
        return self.pings[0]

    async def _close_transport(self):
        try:
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        except Exception:  # noqa: BLE001
            pass


# --------------------------------------------------------------- test case

class DaemonCase(unittest.IsolatedAsyncioTestCase):
    """Helpers that start daemons and clients and clean up after them."""

    async def asyncSetUp(self):
        self._conns = []
        self._daemons = []
        # unittest runs the loop in debug mode, which reports every callback
        # over 0.1 s; starting and stopping a daemon blocks on purpose.
        asyncio.get_running_loop().slow_callback_duration = 30.0

    async def asyncTearDown(self):
        # Clients first, then each daemon must stop cleanly (exit 0 <= 5 s).
        for c in reversed(self._conns):
            await c.close()
        errors = []
        for d in self._daemons:
            # The daemon's warnings and errors explain most failures; ctest
            # shows this output only when the test fails.
            notable = [ln for ln in d.lines
                       if ln and "level=info" not in ln and "level=debug" not in ln]
            if notable:
                sys.stderr.write("-- liveroomd stderr (%s), info lines left out:\n%s\n"
                                 % (self.id(), _tail("\n".join(notable), 40)))
            try:
                d.stop()
            except AssertionError as e:
                errors.append(str(e))
            finally:
                d.cleanup()
        if errors:
            raise AssertionError("\n".join(errors))

    def daemon(self, *flags, **kw):
        d = Daemon(*flags, **kw)
        self._daemons.append(d)
        return d.start()

    async def ws(self, d, enc="json", subprotocols=None, name=None, path="/ws", **query):
        """A python-websockets client. enc picks the offered subprotocol
        (None offers none)."""
        if subprotocols is None and enc is not None:
            subprotocols = [MSGPACK_PROTO if enc == "msgpack" else JSON_PROTO]
        c = WsConn(d.ws_url(path, **query), subprotocols, name=name or "ws-%s" % enc)
        self._conns.append(c)
        await c.connect()
        return c

    async def raw(self, d, protocols=None, auto_pong=True, name="raw", path="/ws"):
        c = RawWs(d.port, path=path, protocols=protocols, auto_pong=auto_pong, name=name)
        self._conns.append(c)
        await c.connect()
        return c

    async def tcp(self, d, name="tcp"):
        c = TcpConn(d.tcp_port, name=name)
        self._conns.append(c)
        await c.connect()
        return c

    async def client(self, d, transport="json", name=None):
        """transport: json | msgpack (WebSocket) | tcp."""
        if transport == "tcp":
            return await self.tcp(d, name=name or "tcp")
        return await self.ws(d, enc=transport, name=name)

    async def user(self, d, user, transport="json", nick=None, avatar=None, room=None,
                   secret=None, name=None):
        """A logged-in client (login op with a python-made UserSig), joined to
        `room` when given."""
        c = await self.client(d, transport, name=name or "%s/%s" % (user, transport))
        fields = {"user": user, "sig": make_usersig(user, secret=secret or d.secret or
                                                    d.read_secret())}
        if nick is not None:
            fields["nick"] = nick
        if avatar is not None:
            fields["avatar"] = avatar
        r = await c.ok("login", **fields)
        self.assertEqual(r.get("user"), user)
        if room is not None:
            await c.ok("join", room=room)
        return c

    async def guest(self, d, transport="json", room=None, login=True):
        c = await self.client(d, transport, name="guest/%s" % transport)
        if login:
            r = await c.ok("login", guest=True)
            self.assertTrue(str(r.get("user", "")).startswith("guest-"), r)
        if room is not None:
            await c.ok("join", room=room)
        return c

    def assertErr(self, reply, code, msg=None):
        self.assertEqual(reply.get("op"), "err", msg or reply)
        self.assertEqual(reply.get("code"), code, msg or reply)
        self.assertIsInstance(reply.get("msg"), str, reply)


def room_name(tag):
    """A fresh valid room id (so tests sharing a daemon never collide)."""
    return "r-%s-%s" % (tag, os.urandom(3).hex())


def body_bytes(b):
    """A msgpack body may be bin or str: compare contents as bytes."""
    if isinstance(b, str):
        return b.encode("utf-8")
    return bytes(b)


def main():
    unittest.main(verbosity=2)
