#!/usr/bin/python3
"""relay.py: a tiny WebSocket relay (python3-websockets from Debian) that
sends every frame it receives to all connected clients, the sender included.
It is the smoke target of `liveroom-bench --target ws-relay` and a model of
the "any relay server" that mode supports. Not a benchmark opponent: one
Python thread, so keep it to a few hundred connections.

    /usr/bin/python3 bench/tools/relay.py [--host 127.0.0.1] [--port 7090]

It prints "ready" on stderr once listening.
"""
import argparse
import asyncio
import sys

import websockets


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7090)
    args = ap.parse_args()
    clients = set()

    async def handler(ws, path):
        clients.add(ws)
        try:
            async for message in ws:
                websockets.broadcast(clients, message)
        except websockets.ConnectionClosed:
            pass
        finally:
            clients.discard(ws)

    async with websockets.serve(handler, args.host, args.port, max_size=1 << 20,
                                ping_interval=None, backlog=4096):
        print("ready", file=sys.stderr, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
