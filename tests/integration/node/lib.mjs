// lib.mjs: what the Node integration tests need besides npm's `ws`: start
// liveroomd on free ports, make UserSigs (ADMIN_API.md §4) with Node's own
// crypto and zlib, a small msgpack codec, and a client with bounded waits.
// Written from PROTOCOL.md alone.
import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import WebSocket from 'ws';

export const SECRET = 'node-itest-secret-42';
export const APP_ID = 1400000000;
export const WAIT_MS = Number(process.env.LR_ITEST_WAIT || 10) * 1000;

const here = path.dirname(new URL(import.meta.url).pathname);
const srcDir = process.env.LR_SOURCE_DIR || path.resolve(here, '..', '..', '..');
export const LIVEROOMD = process.env.LIVEROOMD || path.join(srcDir, 'build', 'liveroomd');
export const LIVEROOM_SIG = process.env.LIVEROOM_SIG || '';

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

// Start liveroomd; resolves once stderr has a line containing `ready`.
export async function startDaemon(extra = []) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'liveroom-node-'));
  const port = await freePort();
  const adminPort = await freePort();
  const argv = ['--port', String(port), '--admin-port', String(adminPort),
    '--data-dir', dataDir, '--secret', SECRET, ...extra];
  const proc = spawn(LIVEROOMD, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, sig) => resolve({ code, sig }));
    proc.on('error', (e) => { stderr += `\nspawn ${LIVEROOMD}: ${e.message}`; resolve({ code: -1, sig: null }); });
  });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line within 20 s:\n${stderr}`)), 20000);
    proc.stderr.on('data', (chunk) => {
      stderr += chunk.toString();
      if (/ready/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    exited.then(({ code, sig }) => {
      clearTimeout(timer);
      reject(new Error(`liveroomd exited (${code} ${sig}) before ready:\n${stderr}`));
    });
  });
  return {
    port,
    url: (query = '') => `ws://127.0.0.1:${port}/ws${query}`,
    stderr: () => stderr,
    // SIGTERM; the exit code must be 0 within 5 s.
    async stop() {
      proc.kill('SIGTERM');
      const res = await Promise.race([exited,
        new Promise((resolve) => setTimeout(() => resolve(null), 5000))]);
      rmSync(dataDir, { recursive: true, force: true });
      if (res === null) {
        proc.kill('SIGKILL');
        throw new Error(`liveroomd did not exit within 5 s of SIGTERM:\n${stderr}`);
      }
      if (res.code !== 0) throw new Error(`liveroomd exited with ${res.code} ${res.sig}:\n${stderr}`);
    },
  };
}

export function userSig(user, { secret = SECRET, appId = APP_ID, expire = 86400 } = {}) {
  const t = Math.floor(Date.now() / 1000);
  const content = `TLS.identifier:${user}\nTLS.sdkappid:${appId}\nTLS.time:${t}\nTLS.expire:${expire}\n`;
  const sig = createHmac('sha256', secret).update(content).digest('base64');
  const doc = JSON.stringify({
    'TLS.ver': '2.0', 'TLS.identifier': user, 'TLS.sdkappid': appId,
    'TLS.time': t, 'TLS.expire': expire, 'TLS.sig': sig,
  });
  return deflateSync(Buffer.from(doc)).toString('base64')
    .replace(/\+/g, '*').replace(/\//g, '-').replace(/=/g, '_');
}

export function toolSig(user) {
  return execFileSync(LIVEROOM_SIG, ['--secret', SECRET, '--user', user]).toString().trim();
}

// ---- msgpack (the subset the protocol uses)

export function mpEncode(v) {
  const out = [];
  const u8 = (...b) => out.push(Buffer.from(b));
  const enc = (x) => {
    if (x === null || x === undefined) u8(0xc0);
    else if (x === true) u8(0xc3);
    else if (x === false) u8(0xc2);
    else if (typeof x === 'number' && Number.isInteger(x) && x >= 0) {
      if (x < 0x80) u8(x);
      else if (x < 0x100) u8(0xcc, x);
      else if (x < 0x10000) u8(0xcd, x >> 8, x & 0xff);
      else if (x < 0x100000000) { const b = Buffer.alloc(5); b[0] = 0xce; b.writeUInt32BE(x, 1); out.push(b); }
      else { const b = Buffer.alloc(9); b[0] = 0xcf; b.writeBigUInt64BE(BigInt(x), 1); out.push(b); }
    } else if (typeof x === 'number' && Number.isInteger(x)) {
      const b = Buffer.alloc(9); b[0] = 0xd3; b.writeBigInt64BE(BigInt(x), 1); out.push(b);
    } else if (typeof x === 'number') {
      const b = Buffer.alloc(9); b[0] = 0xcb; b.writeDoubleBE(x, 1); out.push(b);
    } else if (typeof x === 'string') {
      const s = Buffer.from(x, 'utf8');
      if (s.length < 32) u8(0xa0 | s.length);
      else if (s.length < 0x100) u8(0xd9, s.length);
      else if (s.length < 0x10000) u8(0xda, s.length >> 8, s.length & 0xff);
      else { const b = Buffer.alloc(5); b[0] = 0xdb; b.writeUInt32BE(s.length, 1); out.push(b); }
      out.push(s);
    } else if (Buffer.isBuffer(x)) {
      if (x.length < 0x100) u8(0xc4, x.length);
      else if (x.length < 0x10000) u8(0xc5, x.length >> 8, x.length & 0xff);
      else { const b = Buffer.alloc(5); b[0] = 0xc6; b.writeUInt32BE(x.length, 1); out.push(b); }
      out.push(x);
    } else if (Array.isArray(x)) {
      if (x.length < 16) u8(0x90 | x.length); else u8(0xdc, x.length >> 8, x.length & 0xff);
      x.forEach(enc);
    } else {
      const keys = Object.keys(x);
      if (keys.length < 16) u8(0x80 | keys.length); else u8(0xde, keys.length >> 8, keys.length & 0xff);
      for (const k of keys) { enc(k); enc(x[k]); }
    }
  };
  enc(v);
  return Buffer.concat(out);
}

export function mpDecode(buf) {
  let p = 0;
  const need = (n) => { if (p + n > buf.length) throw new Error('truncated msgpack'); };
  const str = (n) => { need(n); const s = buf.toString('utf8', p, p + n); p += n; return s; };
  const bin = (n) => { need(n); const b = buf.subarray(p, p + n); p += n; return Buffer.from(b); };
  const arr = (n) => { const a = []; for (let i = 0; i < n; i++) a.push(dec()); return a; };
  const map = (n) => { const m = {}; for (let i = 0; i < n; i++) { const k = dec(); m[k] = dec(); } return m; };
  const rd = (n, f) => { need(n); const v = f(p); p += n; return v; };
  function dec() {
    need(1);
    const b = buf[p++];
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xf0) === 0x80) return map(b & 0x0f);
    if ((b & 0xf0) === 0x90) return arr(b & 0x0f);
    if ((b & 0xe0) === 0xa0) return str(b & 0x1f);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return bin(rd(1, (q) => buf.readUInt8(q)));
      case 0xc5: return bin(rd(2, (q) => buf.readUInt16BE(q)));
      case 0xc6: return bin(rd(4, (q) => buf.readUInt32BE(q)));
      case 0xca: return rd(4, (q) => buf.readFloatBE(q));
      case 0xcb: return rd(8, (q) => buf.readDoubleBE(q));
      case 0xcc: return rd(1, (q) => buf.readUInt8(q));
      case 0xcd: return rd(2, (q) => buf.readUInt16BE(q));
      case 0xce: return rd(4, (q) => buf.readUInt32BE(q));
      case 0xcf: return Number(rd(8, (q) => buf.readBigUInt64BE(q)));
      case 0xd0: return rd(1, (q) => buf.readInt8(q));
      case 0xd1: return rd(2, (q) => buf.readInt16BE(q));
      case 0xd2: return rd(4, (q) => buf.readInt32BE(q));
      case 0xd3: return Number(rd(8, (q) => buf.readBigInt64BE(q)));
      case 0xd9: return str(rd(1, (q) => buf.readUInt8(q)));
      case 0xda: return str(rd(2, (q) => buf.readUInt16BE(q)));
      case 0xdb: return str(rd(4, (q) => buf.readUInt32BE(q)));
      case 0xdc: return arr(rd(2, (q) => buf.readUInt16BE(q)));
      case 0xdd: return arr(rd(4, (q) => buf.readUInt32BE(q)));
      case 0xde: return map(rd(2, (q) => buf.readUInt16BE(q)));
      case 0xdf: return map(rd(4, (q) => buf.readUInt32BE(q)));
      default: throw new Error(`unsupported msgpack byte 0x${b.toString(16)}`);
    }
  }
  const v = dec();
  if (p !== buf.length) throw new Error('trailing bytes after msgpack value');
  return v;
}

// ---- client

export class Client {
  // enc: 'json' | 'msgpack' | null (offer no subprotocol)
  static async open(url, enc) {
    const protos = enc === 'json' ? ['liveroom.v1.json']
      : enc === 'msgpack' ? ['liveroom.v1.msgpack'] : [];
    const ws = new WebSocket(url, protos);
    const c = new Client(ws);
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('connect timeout')), WAIT_MS);
      ws.once('open', () => { clearTimeout(t); resolve(); });
      ws.once('error', (e) => { clearTimeout(t); reject(e); });
    });
    return c;
  }

  constructor(ws) {
    this.ws = ws;
    this.inbox = [];
    this.log = [];
    this.errors = [];
    this.nextId = 1;
    this.closeCode = null;
    this.waiters = new Set();
    // Set on 'open' itself: the first frame (a query login reply) may be
    // emitted in the same tick, before any awaiting code resumes.
    ws.once('open', () => {
      this.encoding = ws.protocol === 'liveroom.v1.msgpack' ? 'msgpack' : 'json';
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.notify();
        resolve(code);
      });
    });
    ws.on('error', (e) => { this.errors.push(String(e)); });
    ws.on('message', (data, isBinary) => {
      let m;
      try {
        if (isBinary) {
          if (this.encoding !== 'msgpack') this.errors.push('binary frame on a JSON connection');
          m = mpDecode(Buffer.from(data));
        } else {
          if (this.encoding !== 'json') this.errors.push('text frame on a msgpack connection');
          m = JSON.parse(data.toString());
        }
      } catch (e) {
        this.errors.push(`undecodable frame: ${e}`);
        return;
      }
      this.inbox.push(m);
      this.log.push(m);
      this.notify();
    });
  }

  notify() { for (const w of this.waiters) w(); }

  send(obj) {
    this.ws.send(this.encoding === 'msgpack' ? mpEncode(obj) : JSON.stringify(obj));
  }

  // Wait (bounded) for the first message matching pred; removes it.
  waitFor(pred, what = 'message', timeoutMs = WAIT_MS) {
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        if (this.errors.length) {
          finish(); reject(new Error(`protocol violation: ${this.errors.join('; ')}`)); return;
        }
        const i = this.inbox.findIndex(pred);
        if (i >= 0) {
          const [m] = this.inbox.splice(i, 1);
          finish(); resolve(m); return;
        }
        if (this.closeCode !== null) {
          finish(); reject(new Error(`closed (${this.closeCode}) while waiting for ${what}`));
        }
      };
      const finish = () => { clearTimeout(timer); this.waiters.delete(check); };
      timer = setTimeout(() => {
        finish();
        reject(new Error(`no ${what} within ${timeoutMs} ms; inbox ${JSON.stringify(this.inbox.slice(-5))}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  async request(op, fields = {}) {
    const id = this.nextId++;
    this.send({ op, id, ...fields });
    return this.waitFor((m) => m.id === id && ['ok', 'err', 'pong'].includes(m.op), `reply to ${op}`);
  }

  async ok(op, fields = {}) {
    const r = await this.request(op, fields);
    if (r.op !== 'ok') throw new Error(`${op}: expected ok, got ${JSON.stringify(r)}`);
    return r;
  }

  push(op, match = {}) {
    return this.waitFor((m) => m.op === op && m.id === undefined
      && Object.entries(match).every(([k, v]) => m[k] === v), `push ${op}`);
  }

  async waitClosed(timeoutMs = WAIT_MS) {
    let t;
    const to = new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error('still open')), timeoutMs);
    });
    try { return await Promise.race([this.closed, to]); } finally { clearTimeout(t); }
  }

  async close() {
    if (this.closeCode !== null) return;
    this.ws.close(1000);
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, 2000))]);
    if (this.closeCode === null) this.ws.terminate();
  }
}

export function bodyText(b) {
  return Buffer.isBuffer(b) ? b.toString('utf8') : b;
}
