#!/usr/bin/python3
"""A business backend stand-in for test_hooks.c.

Listens on 127.0.0.1 on a free port (HTTP/1.1, keep-alive, one thread per
connection), prints {"port": N} as its first line on stdout, then one JSON
line per request it receives: method, path, query (first value of each
parameter), raw query, body, Content-Type and the client's port (which tells
connections apart). A request is recorded when it arrives, before the reply.

The first path segment picks the reply:
  allow    ErrorCode 0            reject  ErrorCode 1      drop  ErrorCode 2
  rewrite  ErrorCode 0 + MsgBody  slow    allow after 3 s
  500      HTTP 500               garbage 200 with a body that is not JSON
  barrier  200 (the test's own marker: every request logged before it is
           already on stdout)
It exits when its stdin closes, so it never outlives the test.
"""
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OUT_LOCK = threading.Lock()
REWRITTEN = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "rewritten by backend"}}]


def emit(obj):
    line = json.dumps(obj, separators=(",", ":"))
    with OUT_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def verdict(code, **extra):
    body = {"ActionStatus": "OK" if code == 0 else "FAIL", "ErrorCode": code, "ErrorInfo": ""}
    body.update(extra)
    return 200, json.dumps(body).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: without this, Nagle holds the
    # body until the client's delayed ACK, 40 ms per request
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def serve(self):
        url = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        emit({
            "method": self.command,
            "path": url.path,
            "query": query,
            "raw_query": url.query,
            "body": body.decode("utf-8", "replace"),
            "content_type": self.headers.get("Content-Type", ""),
            "client_port": self.client_address[1],
        })
        mode = url.path.strip("/").split("/")[0]
        if mode == "reject":
            status, out = verdict(1)
        elif mode == "drop":
            status, out = verdict(2)
        elif mode == "rewrite":
            status, out = verdict(0, MsgBody=REWRITTEN)
        elif mode == "slow":
            time.sleep(3)
            status, out = verdict(0)
        elif mode == "500":
            status, out = 500, b'{"ActionStatus":"FAIL","ErrorCode":1}'
        elif mode == "garbage":
            status, out = 200, b"<html>this is not json"
        else:  # allow, barrier
            status, out = verdict(0)
        try:
            self.reply(status, out)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout)

    do_POST = serve
    do_GET = serve


class Server(ThreadingHTTPServer):
    # the default listen backlog of 5 drops the SYNs of a burst of new
    # connections, and the client retries them only after 1 s
    request_queue_size = 128
    daemon_threads = True


def main():
    server = Server(("127.0.0.1", 0), Handler)
    emit({"port": server.server_address[1]})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.buffer.read()  # until the test closes our stdin (or dies)
    os._exit(0)


if __name__ == "__main__":
    main()
