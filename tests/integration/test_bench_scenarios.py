"""The load generator's scenarios rooms, overload and slow, run tiny against a
real liveroomd, and its --json and --svg outputs: the figures in the report
must agree with each other and with PROTOCOL.md, so a bench that miscounts
(or an engine that loses, reorders or drops the wrong priority) fails here.

Nothing here asserts a rate or a latency: only counts, which do not depend
on how loaded the machine is."""

import json
import os
import subprocess
import tempfile
import xml.etree.ElementTree as ET

from harness import WAIT, DaemonCase, main

BENCH = os.environ.get("LIVEROOM_BENCH")
SVG_NS = "{http://www.w3.org/2000/svg}"
PRIS = ("high", "normal", "low", "lowest")


class BenchScenarios(DaemonCase):
    def run_bench(self, d, *extra, svg=False):
        self.assertTrue(BENCH and os.path.exists(BENCH), "LIVEROOM_BENCH is not set")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "report.json")
            argv = [BENCH, "--port", str(d.port), "--secret", d.secret,
                    "--server-pid", str(d.proc.pid), "--admin-port", str(d.admin_port),
                    "--json", out, "--quiet", "--settle", "0.5", *extra]
            if svg:
                argv += ["--svg", os.path.join(tmp, "report.svg")]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=12 * WAIT)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            with open(out) as f:
                rep = json.load(f)
            rep["_stdout"] = p.stdout
            if svg:
                rep["_svg"] = ET.parse(os.path.join(tmp, "report.svg")).getroot()
            return rep

    def fig(self, rep, *path):
        v = rep
        for k in path:
            self.assertIn(k, v, "report lacks %s:\n%s" % (".".join(path), rep["_stdout"]))
            v = v[k]
        return v

    def assert_joined_and_lossless(self, rep):
        self.assertEqual(self.fig(rep, "connect", "failed"), 0)
        self.assertEqual(self.fig(rep, "connect", "joined"), self.fig(rep, "connect", "total"))
        self.assertGreater(self.fig(rep, "messages", "expected"), 0)
        self.assertEqual(self.fig(rep, "messages", "delivered"),
                         self.fig(rep, "messages", "expected"), rep["_stdout"])
        self.assertEqual(self.fig(rep, "messages", "lost"), 0)
        self.assertEqual(self.fig(rep, "messages", "duplicates"), 0)
        self.assertEqual(self.fig(rep, "messages", "seq_gaps"), 0)

    def assert_series_adds_up(self, rep):
        series = self.fig(rep, "series")
        self.assertGreater(len(series), 0)
        # every delivery of the window falls in exactly one second
        self.assertEqual(sum(p["deliveries"] for p in series),
                         self.fig(rep, "messages", "delivered"))
        self.assertEqual(sum(p["published"] for p in series),
                         self.fig(rep, "messages", "published"))
        ts = [p["t"] for p in series]
        self.assertEqual(ts, sorted(ts))
        for p in series:
            if p["deliveries"]:
                self.assertLessEqual(p["p50_us"], p["p99_us"])
                self.assertLessEqual(p["p99_us"], p["max_us"])

    async def test_rooms_deliver_everything_in_every_room_and_draw_it(self):
        d = self.daemon()
        rep = self.run_bench(d, "--scenario", "rooms", "--rooms", "20", "--members", "5",
                             "--duration", "2", svg=True)
        self.assert_joined_and_lossless(rep)
        # 5 members per room: one publisher and four receivers
        self.assertEqual(self.fig(rep, "config", "conns"), 20 * 4)
        self.assertEqual(self.fig(rep, "config", "publishers_per_room"), 1)
        self.assertEqual(self.fig(rep, "messages", "receivers_at_start"), 80)
        self.assertEqual(self.fig(rep, "rooms", "rooms"), 20)
        self.assertEqual(self.fig(rep, "rooms", "with_loss"), 0)
        acc = self.fig(rep, "messages", "accepted")
        self.assertEqual(self.fig(rep, "messages", "expected"), acc * 4)
        self.assertEqual(self.fig(rep, "messages", "limited"), 0)
        self.assert_series_adds_up(rep)
        # the engine's own count of messages passed agrees with the acks
        self.assertEqual(self.fig(rep, "engine_metrics", "passed"), acc)

        svg = rep["_svg"]
        self.assertEqual(svg.tag, SVG_NS + "svg")
        title = svg.find(SVG_NS + "title")
        self.assertIsNotNone(title)
        self.assertIn("rooms", title.text)
        self.assertIn("--members 5", title.text)
        lines = {p.get("id"): p for p in svg.iter(SVG_NS + "polyline")}
        for sid in ("deliveries_per_s", "p99_ms", "p50_ms"):
            self.assertIn(sid, lines)
            points = lines[sid].get("points").split()
            self.assertEqual(len(points), len(rep["series"]), sid)
            for pt in points:
                x, y = (float(v) for v in pt.split(","))
                self.assertGreaterEqual(y, 0)

    async def test_a_shard_that_batches_delivers_everything_in_order(self):
        # 5,000 receivers of 40 msg/s on one shard need ~200,000 sends a
        # second unbatched: the controller must batch (fanout-delay-ms),
        # and pacing (members by phase, the hold wheel for the frames left
        # when publishing stops) must still bring every message, once, in
        # seq order
        d = self.daemon("--shards", "1")
        rep = self.run_bench(d, "--scenario", "stadium", "--conns", "5000", "--duration", "3")
        self.assert_joined_and_lossless(rep)
        self.assertGreater(self.fig(rep, "engine_metrics", "batch_delay_max_ms"), 0,
                           rep["_stdout"])
        self.assertIn("batching      longest delay", rep["_stdout"])

    async def test_overload_delivers_by_priority_as_protocol_section_6_says(self):
        d = self.daemon()  # the engine's defaults: rate 40, 100-ms windows
        rep = self.run_bench(d, "--scenario", "overload", "--conns", "5", "--duration", "3")
        self.assert_joined_and_lossless(rep)
        pri = self.fig(rep, "priorities")
        rx = self.fig(rep, "messages", "receivers_at_start")
        self.assertEqual(rx, 5)
        sent = {p: pri[p]["sent"] for p in PRIS}
        ok = {p: pri[p]["ok"] for p in PRIS}
        limited = {p: pri[p]["limited"] for p in PRIS}
        # offered 200 msg/s against 40: the room really was overloaded
        self.assertGreater(sum(limited.values()), sum(ok.values()))
        self.assertEqual(self.fig(rep, "messages", "too_fast"), 0)
        for p in PRIS:
            self.assertGreater(sent[p], 0, p)
            self.assertEqual(pri[p]["errors"], 0, p)
            self.assertEqual(ok[p] + limited[p], sent[p], p)
            # delivered = acked ok x receivers: nothing limited reached anyone
            self.assertEqual(pri[p]["delivered"], ok[p] * rx, p)
        # high (20 msg/s, within the rate) is never dropped
        self.assertEqual(limited["high"], 0)
        # lower priorities keep a smaller share: high > normal > low, lowest
        share = {p: ok[p] / sent[p] for p in PRIS}
        self.assertGreater(share["high"], share["normal"])
        self.assertGreater(share["normal"], share["low"])
        self.assertGreater(share["normal"], share["lowest"])
        # the engine counted exactly the drops the publishers were told of
        for p in PRIS:
            self.assertEqual(self.fig(rep, "engine_metrics", "frequency_dropped", p),
                             limited[p], p)
        fc = self.fig(rep, "freq_check")
        self.assertEqual(fc["log_overflow"], 0)
        self.assertTrue(fc["rule1"]["ok"], fc)
        self.assertLessEqual(fc["rule1"]["max_in_1s"], 2 * 40)
        self.assertEqual(fc["rule1"]["passes_seen"], sum(ok.values()))
        self.assertTrue(fc["rule3"]["checked"], fc)
        self.assertGreater(fc["rule3"]["windows_checked"], 0)
        self.assertEqual(fc["rule3"]["windows_violating"], 0, fc)
        self.assertEqual(fc["rule3"]["drops_placed"] + fc["rule3"]["drops_ambiguous"],
                         sum(limited.values()))
        self.assertEqual(fc["rule4"]["must_be_full"], ["high"])
        self.assertTrue(fc["rule4"]["ok"])
        self.assertTrue(fc["rule5"]["ok"])
        self.assertTrue(fc["ok"])
        self.assertIn("PROTOCOL.md 6   followed", rep["_stdout"])

    async def test_slow_readers_stop_and_the_others_lose_nothing(self):
        # a short slow timeout, so the engine may act on stalled readers
        # within the run
        d = self.daemon("--slow-timeout-ms", "1000")
        rep = self.run_bench(d, "--scenario", "slow", "--conns", "50", "--duration", "4",
                             "--slow-after", "1", "--size", "2000", svg=True)
        # the others: every message, in order
        self.assert_joined_and_lossless(rep)
        slow = self.fig(rep, "slow")
        self.assertEqual(slow["readers"], 5)
        self.assertEqual(slow["stopped"], 5)
        self.assertEqual(self.fig(rep, "messages", "receivers_at_start"), 45)
        acc = self.fig(rep, "messages", "accepted")
        self.assertEqual(self.fig(rep, "messages", "expected"), acc * 45)
        self.assertEqual(slow["owed"], acc * 5)
        self.assertLessEqual(slow["received"], slow["owed"])
        self.assertEqual(slow["duplicates"], 0)
        # what a slow reader did not get, it either saw as a seq gap or lost
        # with a connection the engine closed; and whatever was shed the
        # engine counted
        missed = slow["owed"] - slow["received"]
        m = self.fig(rep, "engine_metrics", "slow_consumer")
        if missed:
            self.assertGreater(slow["seq_gaps"] + slow["closed"], 0, rep["_stdout"])
            self.assertGreater(m["skipped_low"] + m["overrun"] + m["closed"], 0, rep["_stdout"])
        else:
            self.assertEqual(slow["seq_gaps"], 0)
        self.assertEqual(m["closed"], slow["closed"], rep["_stdout"])
        self.assertGreater(self.fig(rep, "engine", "rss_end"), 0)
        self.assert_series_adds_up(rep)
        lines = {p.get("id") for p in rep["_svg"].iter(SVG_NS + "polyline")}
        self.assertTrue({"deliveries_per_s", "p99_ms", "engine_rss_mib",
                         "engine_sendq_mib"} <= lines, lines)

    async def test_slow_pct_zero_is_the_baseline_and_compares(self):
        d = self.daemon()
        with tempfile.TemporaryDirectory() as tmp:
            base = os.path.join(tmp, "base.json")
            with open(base, "w") as f:
                json.dump({"latency": {"p99_us": 1000}}, f)
            rep = self.run_bench(d, "--scenario", "slow", "--conns", "20", "--duration", "1",
                                 "--slow-pct", "0", "--baseline", base)
        self.assert_joined_and_lossless(rep)
        self.assertNotIn("slow", rep)
        self.assertEqual(self.fig(rep, "baseline", "p99_us"), 1000)
        self.assertEqual(self.fig(rep, "baseline", "this_p99_us"),
                         self.fig(rep, "latency", "p99_us"))
        self.assertIn("vs baseline", rep["_stdout"])


if __name__ == "__main__":
    main()
