"""Slow consumers (ARCHITECTURE.md, Memory and slow consumers): a member
that stops reading is closed after slow_timeout and counted in /metrics,
while the members that keep reading get every message in seq order."""

import asyncio
import re
import socket
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


class SlowConsumer(DaemonCase):
    async def test_a_member_that_stops_reading_is_closed_and_counted_others_get_everything(self):
        # a ring longer than the burst, so the reading member (a python
        # client, slow itself) is never overrun: only the stuck one is shed
        d = self.daemon("--rate", "1000", "--user-rate", "1000", "--slow-timeout-ms", "500",
                        "--shards", "2", "--room-ring", "2048")
        room = room_name("slow")
        alice = await self.user(d, "alice", room=room)
        carol = await self.user(d, "carol", room=room)
        # bob: a raw socket with a tiny receive buffer that joins, then never reads
        bob = socket.create_connection((HOST, d.port))
        bob.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sig = make_usersig("bob", secret=d.secret)
        req, _ = upgrade_request("/ws?user=bob&sig=%s&room=%s" % (sig, room))
        bob.sendall(req)
        bob.settimeout(WAIT)
        head = b""
        while b"\r\n\r\n" not in head:
            head += bob.recv(1)
        self.assertIn(b" 101 ", head.split(b"\r\n")[0])
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
