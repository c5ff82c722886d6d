"""The project's own C client (liveroom-bench, io_uring) against liveroomd in
all three encodings: every published message reaches every receiver once,
in seq order (no loss, no duplicate, no gap), read from its --json report."""

import json
import os
import subprocess
import tempfile

from harness import WAIT, DaemonCase, main

BENCH = os.environ.get("LIVEROOM_BENCH")


class CClient(DaemonCase):
    def run_bench(self, d, encoding, *extra):
        self.assertTrue(BENCH and os.path.exists(BENCH), "LIVEROOM_BENCH is not set")
        port = d.tcp_port if encoding == "tcp" else d.port
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "report.json")
            argv = [BENCH, "--port", str(port), "--encoding", encoding, "--secret", d.secret,
                    "--server-pid", str(d.proc.pid), "--json", out, "--quiet", *extra]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=12 * WAIT)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            with open(out) as f:
                return json.load(f)

    def check(self, rep):
        text = json.dumps(rep)
        # figures named as in bench/README.md
        def fig(*path):
            v = rep
            for k in path:
                self.assertIn(k, v, "report lacks %s: %s" % (".".join(path), text[:2000]))
                v = v[k]
            return v
        self.assertEqual(fig("connect", "failed"), 0)
        self.assertEqual(fig("connect", "joined"), fig("connect", "total"))
        self.assertGreater(fig("messages", "accepted"), 0)
        self.assertEqual(fig("messages", "limited"), 0)
        self.assertGreater(fig("messages", "expected"), 0)
        self.assertEqual(fig("messages", "delivered"), fig("messages", "expected"))
        self.assertEqual(fig("messages", "lost"), 0)
        self.assertEqual(fig("messages", "duplicates"), 0)
        self.assertEqual(fig("messages", "seq_gaps"), 0)

    async def test_stadium_over_json_msgpack_and_tcp_loses_nothing(self):
        d = self.daemon()
        for enc in ("json", "msgpack", "tcp"):
            with self.subTest(encoding=enc):
                self.check(self.run_bench(d, enc, "--scenario", "stadium", "--conns", "200",
                                          "--rate", "20", "--duration", "2"))


if __name__ == "__main__":
    main()
