// server.mjs: a broadcast relay on the npm package `ws`, the Node.js peer that
// liveroom-bench measures with `--target ws-relay`. Every text or binary
// message any client sends goes to every open client, the sender included,
// with the broadcast loop from ws's README ("Server broadcast"). It must stay
// that plain: one process, no clustering, no prepared frames or other tricks
// the README does not show, so the figures are those of ws as people use it.
//
//   node server.mjs [PORT] [HOST]      (or PORT=... HOST=... node server.mjs)
//
// Defaults: 127.0.0.1:7090. Prints "ready" on stderr once listening.
import { WebSocketServer, WebSocket } from 'ws';

const port = Number(process.argv[2] ?? process.env.PORT ?? 7090);
const host = process.argv[3] ?? process.env.HOST ?? '127.0.0.1';

// perMessageDeflate is off by default on a ws server; it is spelled out
// because compressing every copy would measure zlib, not the relay.
// backlog: 10,000 clients connect within a second.
const wss = new WebSocketServer({ port, host, backlog: 4096, perMessageDeflate: false });

wss.on('connection', (ws) => {
  ws.on('error', console.error);
  ws.on('message', (data, isBinary) => {
    wss.clients.forEach((client) => {
      if (client.readyState === WebSocket.OPEN) {
        client.send(data, { binary: isBinary });
      }
    });
  });
});

wss.on('listening', () => console.error('ready'));
wss.on('error', (err) => {
  console.error(err.message);
  process.exit(1);
});

const stop = () => {
  for (const client of wss.clients) client.terminate();
  wss.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
