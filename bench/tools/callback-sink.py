#!/usr/bin/python3
"""callback-sink.py: a business backend for benchmarks with callbacks on
(ADMIN_API.md §3). It answers every callback at once with
{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""} (so before-send allows
every message unchanged), over HTTP/1.1 keep-alive, one thread per
connection (the engine keeps up to 16 open), and counts what it got.

    /usr/bin/python3 bench/tools/callback-sink.py [--host 127.0.0.1] [--port 7095]
    build/liveroomd ... --callback-url http://127.0.0.1:7095/cb

It prints "ready port=N" on stderr once listening, and on SIGTERM or SIGINT
the number of callbacks per CallbackCommand (from the query string; the body
is read but not parsed, to keep the sink cheap) before it exits.
"""
import argparse
import collections
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLY = b'{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7095)
    args = ap.parse_args()
    counts = collections.Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive
        # head and body go out in two writes: without this, Nagle holds the
        # body until the engine's delayed ACK, 40 ms per callback
        disable_nagle_algorithm = True

        def log_message(self, fmt, *a):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            q = self.path.partition("?")[2]
            cmd = "?"
            for kv in q.split("&"):
                if kv.startswith("CallbackCommand="):
                    cmd = kv[len("CallbackCommand="):]
                    break
            with lock:
                counts[cmd] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(REPLY)))
            self.end_headers()
            self.wfile.write(REPLY)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # the default 5 drops SYNs of a burst

        def handle_error(self, request, client_address):
            # an engine that stops (or times a callback out) closes its
            # connections with replies still on the way: not worth a traceback
            if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                super().handle_error(request, client_address)

    server = Server((args.host, args.port), Handler)

    def stop(_sig, _frame):
        with lock:
            total = sum(counts.values())
            lines = ["%s %d" % kv for kv in sorted(counts.items())]
        sys.stderr.write("callback-sink: %d callbacks\n%s\n" % (total, "\n".join(lines)))
        sys.stderr.flush()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stderr.write("ready port=%d\n" % server.server_address[1])
    sys.stderr.flush()
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
