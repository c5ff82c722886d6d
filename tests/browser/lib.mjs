// lib.mjs: what the browser-side tests share: start liveroomd on free
// loopback ports (a port of tests/integration/harness.py's Daemon: temp
// data dir, known secret, `ready` on stderr, SIGTERM must exit 0 within
// 5 s), UserSigs from the engine's own liveroom-sig, a tiny static file
// server for tools/ (liveroomd serves no files), and bounded waits.
// Nothing here sleeps and hopes: every wait has a deadline and says what it
// waited for.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const SECRET = 'browser-test-secret-7f3a';
export const WAIT_MS = Number(process.env.LR_ITEST_WAIT || 10) * 1000;
const READY_MS = Number(process.env.LR_ITEST_READY_WAIT || 20) * 1000;

const here = path.dirname(new URL(import.meta.url).pathname);
export const SOURCE_DIR = process.env.LR_SOURCE_DIR || path.resolve(here, '..', '..');
export const LIVEROOMD = process.env.LIVEROOMD || path.join(SOURCE_DIR, 'build', 'liveroomd');
export const LIVEROOM_SIG = process.env.LIVEROOM_SIG || path.join(path.dirname(LIVEROOMD), 'liveroom-sig');
// Screenshots and other artefacts: the build dir, never the source tree.
export const OUT_DIR = process.env.LR_BROWSER_OUT || path.join(path.dirname(LIVEROOMD), 'browser-out');

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startOnce(extra) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'liveroom-browser-'));
  const port = await freePort();
  // --admin-port 0: these tests need no admin API, and one port fewer is
  // one race fewer.
  const argv = ['--port', String(port), '--admin-port', '0', '--data-dir', dataDir,
    '--secret', SECRET, '--shards', '2', ...extra];
  const proc = spawn(LIVEROOMD, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, sig) => resolve({ code, sig }));
    proc.on('error', (e) => {
      stderr += `\nspawn ${LIVEROOMD}: ${e.message}`;
      resolve({ code: -1, sig: null });
    });
  });
  const ready = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), READY_MS);
    proc.stderr.on('data', (chunk) => {
      stderr += chunk.toString();
      if (/ready/.test(stderr)) {
        clearTimeout(timer);
        resolve('ready');
      }
    });
    exited.then(() => {
      clearTimeout(timer);
      resolve('exited');
    });
  });
  if (ready !== 'ready') {
    proc.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    return { ok: false, why: ready, stderr, argv };
  }
  return {
    ok: true,
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    stderr: () => stderr,
    // The daemon's warnings and errors, which explain most failures.
    notable: () => stderr.split('\n').filter((l) => l && !/level=(info|debug)/.test(l)),
    // SIGTERM; the exit code must be 0 within 5 s (PROTOCOL.md §10).
    async stop() {
      proc.kill('SIGTERM');
      let t;
      const res = await Promise.race([exited,
        new Promise((resolve) => { t = setTimeout(() => resolve(null), 5000); })]);
      clearTimeout(t);
      rmSync(dataDir, { recursive: true, force: true });
      if (res === null) {
        proc.kill('SIGKILL');
        throw new Error(`liveroomd did not exit within 5 s of SIGTERM:\n${stderr}`);
      }
      if (res.code !== 0) throw new Error(`liveroomd exited with ${res.code} ${res.sig}:\n${stderr}`);
    },
  };
}

// Starts liveroomd; retries on fresh ports only when another process took
// the port between our probe and the daemon's bind.
export async function startDaemon(extra = []) {
  let last;
  for (let attempt = 0; attempt < 4; attempt++) {
    last = await startOnce(extra);
    if (last.ok) return last;
    if (!/in use|eaddrinuse/i.test(last.stderr)) break;
  }
  throw new Error(`liveroomd did not become ready (${last.why}); argv ${last.argv.join(' ')}\n${last.stderr}`);
}

// A UserSig made by the engine's own tool, as a real deployment would.
export function toolSig(user) {
  const out = execFileSync(LIVEROOM_SIG, ['--secret', SECRET, '--user', user],
    { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
  if (!out || out.includes('\n')) throw new Error(`liveroom-sig printed ${JSON.stringify(out)}`);
  return out;
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

// Serves the files under `root` on a free loopback port (GET only; no
// directory listings; nothing outside root). Resolves with
// { url(path), close() , requests } where requests lists the paths served.
export function serveStatic(root) {
  const base = path.resolve(root);
  const requests = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const file = path.resolve(base, '.' + decodeURIComponent(u.pathname));
    requests.push(u.pathname);
    if (req.method !== 'GET' || (file !== base && !file.startsWith(base + path.sep))) {
      res.writeHead(404).end();
      return;
    }
    let data;
    try {
      if (!statSync(file).isFile()) throw new Error('not a file');
      data = readFileSync(file);
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
      'Cache-Control': 'no-store',
    });
    res.end(data);
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        requests,
        url: (p) => `http://127.0.0.1:${port}${p}`,
        close: () => new Promise((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
      });
    });
  });
}

export function ensureOutDir() {
  mkdirSync(OUT_DIR, { recursive: true });
  return OUT_DIR;
}

// Resolves with the first value of `promise`, or rejects after `ms` saying
// what was awaited.
export async function within(promise, what, ms = WAIT_MS) {
  let t;
  const timeout = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(t);
  }
}

// Resolves with the next `event` a LiveroomClient emits that satisfies
// pred, within the bounded wait.
export function nextEvent(client, event, pred = () => true, ms = WAIT_MS) {
  let off;
  const p = new Promise((resolve) => {
    off = client.on(event, (v) => {
      if (pred(v)) {
        off();
        resolve(v);
      }
    });
  });
  return within(p, `${event} event`, ms).finally(() => off());
}

export function roomName(tag) {
  return `br-${tag}-${Math.random().toString(16).slice(2, 8)}`;
}
