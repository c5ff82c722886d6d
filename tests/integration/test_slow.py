"""Slow consumers (ARCHITECTURE.md, Memory and slow consumers): a member
that stops reading is closed after slow_timeout and counted in /metrics,
while the members that keep reading get every message in seq order."""

import asyncio
import re
import socket
import subprocess
import urllib.request

from harness import HOST, WAIT, DaemonCase, main, make_usersig, room_name, upgrade_request

N_MSGS = 800
BODY = "x" * 12000  # 800 x 12 KB is far more than a stuck socket's buffers hold


def metric(d, name, **labels):
    """One sample of /metrics, or 0 when absent."""
    text = urllib.request.urlopen("http://%s:%d/metrics" % (HOST, d.admin_port),
                                  timeout=WAIT).read().decode()
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r'^%s(?:\{(.*)\})? (\S+)$' % re.escape(name), line)
        if m and ",".join(sorted((m.group(1) or "").split(","))) == want:
            return float(m.group(2))
    return 0.0


def engine_side(d, client_port):
    """(send buffer size, bytes queued) of the engine's end of the TCP
    connection whose client end is client_port, read with ss (iproute2):
    skmem's tb is the socket's send buffer, Send-Q what is not acked."""
    out = subprocess.run(["ss", "-tmnH", "state", "established", "( sport = :%d and dport = :%d )"
                          % (d.port, client_port)], capture_output=True, text=True,
                         check=True).stdout
    lines = out.splitlines()
    for i, line in enumerate(lines):
        f = line.split()
        if len(f) >= 4 and f[2].endswith(":%d" % d.port) and f[3].endswith(":%d" % client_port):
            m = re.search(r"\btb(\d+)\b", " ".join(lines[i:i + 2]))
            return int(m.group(1)), int(f[1])
    raise AssertionError("no engine socket for client port %d in:\n%s" % (client_port, out))


async def stuck_member(d, room, user):
    """A raw client with a tiny receive buffer that joins, then never reads."""
    s = socket.create_connection((HOST, d.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sig = make_usersig(user, secret=d.secret)
    req, _ = upgrade_request("/ws?user=%s&sig=%s&room=%s" % (user, sig, room))
    s.sendall(req)
    s.settimeout(WAIT)
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    return s


class KernelSendBuffer(DaemonCase):
    """--sndbuf bounds what the kernel holds for a client that stops
    reading (autotuning would let each such socket hold up to 4 MiB)."""

    async def flood_one_stuck(self, *args):
        d = self.daemon("--rate", "1000", "--user-rate", "1000", *args)
        room = room_name("sndbuf")
        alice = await self.user(d, "alice", room=room)
        carol = await self.user(d, "carol", room=room)
        bob = await stuck_member(d, room, "bob")
        self.addCleanup(bob.close)
        await carol.push("count", room=room, count=3, timeout=WAIT)
        for i in range(200):
            await alice.send({"op": "send", "id": i + 1, "room": room, "body": "x" * 4000,
                              "pri": "high"})
        await carol.msgs(200, room=room, timeout=3 * WAIT)  # the engine has written them all
        return engine_side(d, bob.getsockname()[1])

    async def test_default_is_32_kib(self):
        tb, queued = await self.flood_one_stuck()
        self.assertEqual(tb, 2 * 32768)  # the kernel doubles SO_SNDBUF
        self.assertLess(queued, tb + 65536)  # 800 KB were owed; one skb may go over

    async def test_flag_sets_it(self):
        tb, queued = await self.flood_one_stuck("--sndbuf", "8192")
        self.assertEqual(tb, 2 * 8192)
        self.assertLess(queued, tb + 65536)

    async def test_zero_leaves_autotuning(self):
        tb, queued = await self.flood_one_stuck("--sndbuf", "0")
        self.assertGreater(tb, 2 * 32768)  # grown by the kernel
        self.assertGreater(queued, 2 * 32768)


class SlowConsumer(DaemonCase):
    async def test_a_member_that_stops_reading_is_closed_and_counted_others_get_everything(self):
        # a ring longer than the burst, so the reading member (a python
        # client, slow itself) is never overrun: only the stuck one is shed
        d = self.daemon("--rate", "1000", "--user-rate", "1000", "--slow-timeout-ms", "500",
                        "--shards", "2", "--room-ring", "2048")
        room = room_name("slow")
        alice = await self.user(d, "alice", room=room)
        carol = await self.user(d, "carol", room=room)
        bob = await stuck_member(d, room, "bob")
        await carol.push("count", room=room, count=3, timeout=WAIT)
        try:
            for i in range(N_MSGS):
                await alice.send({"op": "send", "id": i + 1, "room": room, "body": BODY,
                                  "pri": "high"})
            seqs = [m["seq"] for m in await carol.msgs(N_MSGS, room=room, timeout=3 * WAIT)]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + N_MSGS)))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 3 * WAIT
            closed = 0.0
            while loop.time() < deadline:
                closed = metric(d, "liveroom_slow_consumer_events_total", kind="closed")
                if closed >= 1:
                    break
                await asyncio.sleep(0.2)  # polling /metrics, bounded by the deadline
            self.assertGreaterEqual(closed, 1, "the stuck member was never closed")
            # the room lost its stuck member: count comes back to 2
            await carol.push("count", room=room, count=2, timeout=3 * WAIT)
        finally:
            bob.close()


if __name__ == "__main__":
    main()
