"""Operations endpoints on the admin port (ADMIN_API.md §2): GET /metrics in
the Prometheus text format (checked by promtool) whose counters follow
what clients do, GET /healthz and GET /readyz.

The family names (liveroom_joins_total, ...) are the engine's own; the spec
asks only for the format. Each test runs its own daemon, so a counter's
change is exactly what the test did."""

import asyncio
import re
import shutil
import subprocess

from adminhttp import AdminCase
from harness import WAIT, main, room_name

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, ((label, value), ...)): float} of every sample."""
    out = {}
    for ln in text.splitlines():
        if not ln or ln.startswith("#"):
            continue
        m = SAMPLE.match(ln)
        if not m:
            raise AssertionError("unparsable sample line %r" % ln)
        labels = tuple(sorted(LABEL.findall(m.group(3) or "")))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


class MetricsBase(AdminCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.d = self.daemon(*self.flags)
        self.a = self.admin_client(self.d)

    flags = ("--user-rate", "1000")

    def scrape(self):
        status, h, body = self.a.get("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(h.get("content-type", "").startswith("text/plain"), h)
        return body.decode("utf-8")

    def value(self, name, **labels):
        samples = parse(self.scrape())
        key = (name, tuple(sorted(labels.items())))
        self.assertIn(key, samples, "no sample %s%r" % (name, labels))
        return samples[key]

    async def settle(self, name, want, **labels):
        """Counters are bumped by shard threads: wait (bounded) until the
        sample reaches `want`, then require it to be exactly that."""
        loop = asyncio.get_running_loop()
        end = loop.time() + WAIT
        while True:
            v = await self._run(self.value, name, **labels)
            if v >= want or loop.time() > end:
                break
            await asyncio.sleep(0.05)
        self.assertEqual(v, want, "%s%r" % (name, labels))


class Metrics(MetricsBase):
    async def test_metrics_pass_promtool_check_metrics(self):
        promtool = shutil.which("promtool")
        if not promtool:
            self.skipTest("promtool not installed (tools/setup.sh installs Debian's prometheus)")
        # Some activity first, so that labelled series have samples.
        room = room_name("prom")
        a = await self.user(self.d, "alice", room=room)
        await self.user(self.d, "bob", room=room, transport="tcp")
        await a.ok("send", room=room, body="x")
        await a.request("nope")
        text = self.scrape()
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, "promtool: %s%s" % (r.stdout, r.stderr))
        parse(text)  # and every sample line is well formed

    async def test_joins_counter_counts_each_join(self):
        before = self.value("liveroom_joins_total")
        room = room_name("j")
        a = await self.user(self.d, "alice", room=room)
        await self.user(self.d, "bob", room=room)
        await a.ok("join", room=room_name("j2"))
        await self.settle("liveroom_joins_total", before + 3)

    async def test_messages_passed_and_deliveries_follow_fan_out(self):
        room = room_name("fan")
        s = await self.user(self.d, "sender", room=room)
        rs = [await self.user(self.d, "r%d" % i, room=room) for i in range(3)]
        # Let join-time pushes (counts) go out before the baseline.
        await s.ping()
        passed0 = self.value("liveroom_messages_passed_total")
        deliv0 = self.value("liveroom_deliveries_total")
        for i in range(2):
            r = await s.ok("send", room=room, body="m%d" % i)
            for c in rs:
                await c.push("msg", room=room, seq=r["seq"])
        await self.settle("liveroom_messages_passed_total", passed0 + 2)
        # Two messages to three receivers each: at least six pushes copied.
        self.assertGreaterEqual(self.value("liveroom_deliveries_total") - deliv0, 6)

    async def test_errors_are_counted_by_code(self):
        room = room_name("err")
        await self.user(self.d, "bob", room=room)
        c = await self.user(self.d, "alice")
        e3 = self.value("liveroom_errors_total", code="10003")
        e7 = self.value("liveroom_errors_total", code="10007")
        for _ in range(2):
            self.assertErr(await c.request("no_such_op"), 10003)
        # Not a member of this (existing) room.
        self.assertErr(await c.request("send", room=room, body="x"), 10007)
        await self.settle("liveroom_errors_total", e3 + 2, code="10003")
        await self.settle("liveroom_errors_total", e7 + 1, code="10007")

    async def test_connections_gauge_follows_open_connections(self):
        base = self.value("liveroom_connections", transport="websocket", encoding="json")
        conns = [await self.client(self.d) for _ in range(3)]
        for c in conns:
            await c.ping()
        await self.settle("liveroom_connections", base + 3, transport="websocket",
                          encoding="json")
        await conns[0].close()
        loop = asyncio.get_running_loop()
        end = loop.time() + WAIT
        while self.value("liveroom_connections", transport="websocket",
                         encoding="json") != base + 2:
            self.assertLess(loop.time(), end, "gauge did not go down after a close")
            await asyncio.sleep(0.05)


class FrequencyDrops(MetricsBase):
    flags = ("--user-rate", "1000", "--rate", "1")

    async def flood(self, c, room, pri, n=8):
        replies = [await c.request("send", room=room, body="%s%d" % (pri, i), pri=pri)
                   for i in range(n)]
        self.assertTrue(all(r["op"] == "ok" for r in replies), replies)
        return sum(1 for r in replies if r.get("limited") is True)

    async def test_frequency_drops_are_counted_by_priority(self):
        room = room_name("freq")
        c = await self.user(self.d, "alice", room=room)
        base = {p: self.value("liveroom_frequency_dropped_total", priority=p)
                for p in ("high", "normal", "low", "lowest")}
        dropped_lowest = await self.flood(c, room, "lowest")
        self.assertGreater(dropped_lowest, 0, "rate 1 dropped nothing: test cannot judge")
        await self.settle("liveroom_frequency_dropped_total", base["lowest"] + dropped_lowest,
                          priority="lowest")
        dropped_low = await self.flood(c, room, "low")
        await self.settle("liveroom_frequency_dropped_total", base["low"] + dropped_low,
                          priority="low")
        for p in ("high", "normal"):
            self.assertEqual(self.value("liveroom_frequency_dropped_total", priority=p),
                             base[p], p)


class Health(AdminCase):
    async def test_healthz_and_readyz_answer_200(self):
        d = self.daemon()
        a = self.admin_client(d)
        for path in ("/healthz", "/readyz"):
            status, _h, _b = a.get(path)
            self.assertEqual(status, 200, path)

    async def test_readyz_while_clients_are_served(self):
        d = self.daemon()
        c = await self.user(d, "alice", room=room_name("rz"))
        await c.ping()
        status, _h, _b = self.admin_client(d).get("/readyz")
        self.assertEqual(status, 200)


if __name__ == "__main__":
    main()
