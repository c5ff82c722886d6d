"""Which shards take new connections (engine/core/steer.h).

Shards beyond one per CPU are there for capacity: new connections go to the
first (one per CPU) until one of them holds 90 % of its fixed-file table,
then to the others, then, once those are that full too, to all; a phase
goes back when its shards fall below 80 %. The engine runs on one CPU here
(taskset), so shard 0 is the only primary; 64 files per shard make the
marks 58 (full) and 52 (back). Every connection is a plain TCP connect to
the WebSocket port that never upgrades: the engine counts it at accept."""

import re
import socket
import time
import urllib.request

from harness import HOST, WAIT, DaemonCase, main

FILES = 64
FULL = FILES - FILES // 10      # 58
BACK = FULL - FILES // 10       # 52


def shard_conns(d, n):
    text = urllib.request.urlopen("http://%s:%d/metrics" % (HOST, d.admin_port),
                                  timeout=WAIT).read().decode()
    got = [0] * n
    for line in text.splitlines():
        m = re.match(r'^liveroom_shard_connections\{shard="(\d+)"\} (\S+)$', line)
        if m and int(m.group(1)) < n:
            got[int(m.group(1))] = int(float(m.group(2)))
    return got


class Steer(DaemonCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.socks = []

    async def asyncTearDown(self):
        for s in self.socks:
            s.close()
        await super().asyncTearDown()

    def open_one(self, d, n):
        """Connect once and wait until the engine accepted it, so that each
        connection is placed by the phase its predecessors left."""
        want = sum(shard_conns(d, n)) + 1
        s = socket.create_connection((HOST, d.port), timeout=WAIT)
        self.socks.append(s)
        deadline = time.monotonic() + WAIT
        while True:
            counts = shard_conns(d, n)
            if sum(counts) >= want:
                return counts
            self.assertLess(time.monotonic(), deadline, "connection %d never accepted" % want)
            time.sleep(0.01)

    def wait_total(self, d, n, total):
        deadline = time.monotonic() + WAIT
        while sum(shard_conns(d, n)) != total:
            self.assertLess(time.monotonic(), deadline, "open connections never became %d" % total)
            time.sleep(0.01)
        return shard_conns(d, n)

    async def test_primary_first_then_the_others_then_back(self):
        d = self.daemon("--files-per-shard", str(FILES), "--handshake-timeout", "120",
                        shards=3, wrap=["taskset", "-c", "0"])
        for _ in range(40):
            counts = self.open_one(d, 3)
        self.assertEqual(counts, [40, 0, 0], "below the mark only the primary takes connections")
        for _ in range(60):
            counts = self.open_one(d, 3)
        self.assertEqual(counts[0], FULL, "the primary stops taking connections at 90 %%: %s"
                         % counts)
        self.assertEqual(sum(counts), 100)
        self.assertGreater(counts[1], 0, counts)
        self.assertGreater(counts[2], 0, counts)
        self.assertTrue(any("event=steer phase=1" in l for l in d.lines), "no steer log line")

        # shard 0 holds the first FULL connections: close enough of them to
        # take it below 80 %, and new connections go to it again
        for s in self.socks[:FULL - BACK + 1]:
            s.close()
        del self.socks[:FULL - BACK + 1]
        before = self.wait_total(d, 3, 100 - (FULL - BACK + 1))
        self.assertEqual(before[0], BACK - 1)
        for _ in range(5):
            counts = self.open_one(d, 3)
        self.assertEqual(counts[0], BACK - 1 + 5, "back below 80 %%, the primary takes them: %s"
                         % counts)
        self.assertEqual(counts[1:], before[1:])

    async def test_no_more_shards_than_cpus_steers_nothing(self):
        # one shard on one CPU: no shard beyond one per CPU, nothing to
        # steer, and the shard takes connections past the mark
        d = self.daemon("--files-per-shard", str(FILES), "--handshake-timeout", "120",
                        shards=1, wrap=["taskset", "-c", "0"])
        for _ in range(FULL + 3):
            counts = self.open_one(d, 1)
        self.assertEqual(counts, [FULL + 3])
        self.assertFalse(any("event=steer" in l for l in d.lines))


if __name__ == "__main__":
    main()
