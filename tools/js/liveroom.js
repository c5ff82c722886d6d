// liveroom.js: a small, dependency-free JavaScript client for the liveroom
// client protocol (/work/shared/PROTOCOL.md, version 1). It owns one
// WebSocket connection: request ids and the promises that wait for their
// replies, the push handlers (msg, count, event, broadcast, bye), and seq-gap
// detection per joined room. It never retries, reconnects or resends on its
// own: what to do after a close or a gap is the application's decision.
//
// Encoding: JSON only (subprotocol `liveroom.v1.json`, text frames). The
// msgpack encoding (`liveroom.v1.msgpack`, and the raw TCP transport) exists
// for native clients and gateways that care about bytes and CPU; a browser
// already has a fast JSON parser and nothing to gain from carrying a msgpack
// codec in a page.
//
// Runs unchanged in browsers and in Node 20: pass a WebSocket class as
// `WebSocket` (e.g. npm's `ws`) or rely on globalThis.WebSocket. Only the
// standard WHATWG surface is used (constructor(url, protocols), onopen,
// onmessage, onclose, onerror, send, close, readyState).
//
//   import { connect } from './liveroom.js';
//   const lr = await connect('ws://127.0.0.1:7070/ws', { user, sig, room: 'lobby' });
//   lr.on('msg', (m) => console.log(m.from, m.body));
//   lr.on('gap', (g) => console.warn(`missed ${g.missed} messages in ${g.room}`));
//   await lr.send('lobby', 'hello');

export const SUBPROTOCOL = 'liveroom.v1.json';

// Error codes of PROTOCOL.md §5, by name, so callers can compare with
// `err.code === ERR.MUTED` instead of magic numbers.
export const ERR = Object.freeze({
  INTERNAL: 10002,
  UNKNOWN_OP: 10003,
  INVALID_PARAM: 10004,
  TOO_FAST: 10006,
  NO_PERMISSION: 10007,
  NO_ROOM: 10010,
  MALFORMED: 10011,
  BAD_ROOM_ID: 10015,
  CALLBACK_REJECTED: 10016,
  MUTED: 10017,
  BODY_TOO_LARGE: 10018,
  ROOM_ID_IN_USE: 10021,
  ROOM_LIMITED: 10023,
  KICKED_OFFLINE: 6208,
  SIG_EXPIRED: 70001,
  SIG_MALFORMED: 70003,
  SIG_VERIFY: 70009,
  SIG_USER_MISMATCH: 70013,
});

// Codes this client gives failures that never reached the engine; strings,
// so they can never collide with a protocol code.
export const CLIENT_ERR = Object.freeze({
  TIMEOUT: 'timeout', // no reply within the request timeout
  CLOSED: 'closed', // the connection closed before the reply came
  NOT_OPEN: 'not_open', // request made on a connection that is not open
  CONNECT: 'connect', // the WebSocket could not be opened
  BAD_FRAME: 'bad_frame', // the engine sent a frame this client cannot read
});

const OPEN = 1; // WebSocket.OPEN, spelled out: not every implementation has the static
const DEFAULT_TIMEOUT_MS = 10000;
// Request ids are unsigned integers 1..2^53 (PROTOCOL.md §2); a client that
// sends that many requests has other problems, but wrap rather than break.
const MAX_ID = 2 ** 53;

// A rejected request or a failed connect. `code` is the protocol code
// (number) from an `err` reply, or one of CLIENT_ERR (string).
export class LiveroomError extends Error {
  constructor(code, message, { op, reply, closeCode } = {}) {
    super(message);
    this.name = 'LiveroomError';
    this.code = code;
    this.op = op; // the request that failed, when there was one
    this.reply = reply; // the engine's `err` reply, when there was one
    this.closeCode = closeCode; // WebSocket close code, for CLOSED
  }
}

// Per-room seq bookkeeping for gap detection.
//
// The engine numbers a room's delivered messages 1, 2, 3, ... and each
// connection receives them in seq order, except its own: those are answered
// by the `send` ok (which carries the seq) on a different path, so an ok may
// arrive before or after the pushes around it. The tracker therefore counts
// a seq as accounted for when either a push or an own ok brings it, and it
// only declares the holes below the newest push missing when no send to the
// room is waiting for its ok (that ok may still fill a hole).
class SeqTracker {
  constructor(latest) {
    this.base = latest; // every seq <= base is accounted for
    this.ahead = new Set(); // accounted seqs > base (out of order)
    this.top = latest; // highest seq a push has brought
  }

  // Records seq s; false when it was already accounted for (a duplicate).
  account(s) {
    if (s <= this.base || this.ahead.has(s)) return false;
    this.ahead.add(s);
    while (this.ahead.has(this.base + 1)) {
      this.ahead.delete(this.base + 1);
      this.base++;
    }
    return true;
  }

  // The missing ranges below `top`, [{from, to}], and forgets them: pushes
  // come in seq order, so nothing below the newest push arrives later.
  takeHoles() {
    const holes = [];
    if (this.top <= this.base) return holes;
    const above = [...this.ahead].filter((s) => s <= this.top).sort((a, b) => a - b);
    let next = this.base + 1;
    for (const s of above) {
      if (s > next) holes.push({ from: next, to: s - 1 });
      next = s + 1;
      this.ahead.delete(s);
    }
    if (next <= this.top) holes.push({ from: next, to: this.top });
    this.base = this.top;
    while (this.ahead.has(this.base + 1)) {
      this.ahead.delete(this.base + 1);
      this.base++;
    }
    return holes;
  }
}

export class LiveroomClient {
  // Use connect() rather than the constructor: it also waits for the socket
  // to open and for the login/join the options ask for.
  constructor(url, opts = {}) {
    const WS = opts.WebSocket || globalThis.WebSocket;
    if (typeof WS !== 'function') {
      throw new LiveroomError(CLIENT_ERR.CONNECT,
        'no WebSocket implementation: pass { WebSocket } (e.g. npm ws) or run where globalThis.WebSocket exists');
    }
    this.url = url;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.user = null; // set by a successful login (a `guest-…` id for guests)
    // room id -> { seq: SeqTracker, count (latest known), join (the join
    // reply), sending (sends waiting for their ok) }
    this.rooms = new Map();
    this.status = 'connecting'; // connecting | open | closed
    this.closeInfo = null; // { code, reason, bye } once closed
    this._handlers = new Map(); // event name -> Set of functions
    this._pending = new Map(); // request id -> { op, room, resolve, reject, timer }
    this._nextId = 1;
    this._bye = null;
    this._upgradeWanted = false; // connect() put a login/join on the upgrade
    this._upgradeReply = null; // the id-0 reply of that login/join

    this.ws = new WS(url, [SUBPROTOCOL]);
    this.opened = new Promise((resolve, reject) => {
      this._openResolve = resolve;
      this._openReject = reject;
    });
    // Awaiting `opened` is optional: without this, a failed connect nobody
    // awaited would be an unhandled rejection (fatal in Node).
    this.opened.catch(() => {});
    // The id-0 reply can arrive in the same tick as `open`; keep a promise
    // for it from the start so it is never missed.
    this._upgradeDone = new Promise((resolve) => {
      this._upgradeResolve = resolve;
    });
    this.closed = new Promise((resolve) => {
      this._closedResolve = resolve;
    });
    this.ws.onopen = () => this._onOpen();
    this.ws.onmessage = (ev) => this._onMessage(ev.data);
    this.ws.onclose = (ev) => this._onClose(ev.code, ev.reason);
    // `error` is always followed by `close`, which does the cleanup; before
    // `open` it means the connection failed.
    this.ws.onerror = () => {
      if (this.status === 'connecting') {
        this._openReject(new LiveroomError(CLIENT_ERR.CONNECT, `cannot connect to ${url}`));
      }
    };
  }

  // ---- events

  // Handlers: 'msg', 'count', 'event', 'broadcast', 'bye' (the pushes of
  // PROTOCOL.md §4, with the push object as argument), 'gap'
  // ({room, from, to, missed}), 'status' (status string), 'close'
  // ({code, reason, bye}), 'error' (an `err` with id 0, e.g. 10011, or a
  // frame this client could not parse). Returns a function that removes it.
  on(event, fn) {
    if (!this._handlers.has(event)) this._handlers.set(event, new Set());
    this._handlers.get(event).add(fn);
    return () => this.off(event, fn);
  }

  off(event, fn) {
    this._handlers.get(event)?.delete(fn);
  }

  _emit(event, arg) {
    for (const fn of [...(this._handlers.get(event) || [])]) {
      // A throwing handler must not break the dispatch of the frame to the
      // others or kill the socket's message loop.
      try {
        fn(arg);
      } catch (e) {
        if (event !== 'error') this._emit('error', e);
      }
    }
  }

  _setStatus(s) {
    this.status = s;
    this._emit('status', s);
  }

  // ---- requests

  // Sends one request and resolves with the engine's reply (`ok`, or `pong`
  // for ping); an `err` reply rejects with a LiveroomError carrying `code`.
  request(op, fields = {}) {
    if (this.status !== 'open' || this.ws.readyState !== OPEN) {
      return Promise.reject(new LiveroomError(CLIENT_ERR.NOT_OPEN,
        `${op}: connection is ${this.status}`, { op }));
    }
    const id = this._nextId;
    this._nextId = this._nextId >= MAX_ID ? 1 : this._nextId + 1;
    return new Promise((resolve, reject) => {
      const p = { op, room: fields.room, resolve, reject, timer: null };
      p.timer = setTimeout(() => {
        this._pending.delete(id);
        this._requestDone(p);
        reject(new LiveroomError(CLIENT_ERR.TIMEOUT, `${op}: no reply within ${this.timeoutMs} ms`, { op }));
      }, this.timeoutMs);
      this._pending.set(id, p);
      if (op === 'send' && p.room !== undefined) this._room(p.room).sending++;
      this.ws.send(JSON.stringify({ ...fields, op, id }));
    });
  }

  login({ user, sig, nick, avatar } = {}) {
    const f = { user, sig };
    if (nick !== undefined) f.nick = nick;
    if (avatar !== undefined) f.avatar = avatar;
    return this.request('login', f).then((r) => {
      this.user = r.user;
      return r;
    });
  }

  loginGuest() {
    return this.request('login', { guest: true }).then((r) => {
      this.user = r.user;
      return r;
    });
  }

  // Resolves with the join reply (room, seq, count, profile, history,
  // muted_until, mute_all); gap detection for the room starts at its seq.
  join(room) {
    return this.request('join', { room }).then((r) => {
      this._joined(r);
      return r;
    });
  }

  leave(room) {
    return this.request('leave', { room }).then((r) => {
      this.rooms.delete(room);
      return r;
    });
  }

  // body: a string or a plain object. opts: type (text|custom|like|gift),
  // pri (high|normal|low|lowest), random (u32 dedupe key). Resolves with
  // {seq, limited}: seq 0 and limited true when frequency control dropped
  // the message, which PROTOCOL.md §6 counts as a success.
  send(room, body, { type, pri, random } = {}) {
    const f = { room, body };
    if (type !== undefined) f.type = type;
    if (pri !== undefined) f.pri = pri;
    if (random !== undefined) f.random = random;
    return this.request('send', f);
  }

  count(room) {
    return this.request('count', { room }).then((r) => {
      const st = this.rooms.get(room);
      if (st) st.count = r.count;
      return r.count;
    });
  }

  // Resolves with the reply: { members: [{user, nick, avatar, joined}], count }.
  members(room, limit) {
    const f = { room };
    if (limit !== undefined) f.limit = limit;
    return this.request('members', f);
  }

  ping() {
    return this.request('ping');
  }

  mute(room, user, secs) {
    return this.request('mute', { room, user, secs });
  }

  kick(room, user) {
    return this.request('kick', { room, user });
  }

  muteAll(room, on) {
    return this.request('mute_all', { room, on });
  }

  // Starts the close handshake; resolves once the socket is closed.
  close(code = 1000, reason = '') {
    if (this.status !== 'closed') {
      try {
        this.ws.close(code, reason);
      } catch {
        // already closing: `close` still follows
      }
    }
    return this.closed;
  }

  // ---- internals

  _room(room) {
    let st = this.rooms.get(room);
    if (!st) {
      st = { seq: null, count: undefined, join: null, sending: 0 };
      this.rooms.set(room, st);
    }
    return st;
  }

  _joined(r) {
    const st = this._room(r.room);
    st.seq = new SeqTracker(typeof r.seq === 'number' ? r.seq : 0);
    st.count = r.count;
    st.join = r; // history, profile, muted_until, mute_all as the join returned them
  }

  _requestDone(p) {
    clearTimeout(p.timer);
    if (p.op === 'send' && p.room !== undefined) {
      const st = this.rooms.get(p.room);
      if (st && st.sending > 0) {
        st.sending--;
        this._checkGaps(p.room, st);
      }
    }
  }

  _onOpen() {
    this._setStatus('open');
    this._openResolve();
  }

  _onMessage(data) {
    if (typeof data !== 'string') {
      this._emit('error', new LiveroomError(CLIENT_ERR.BAD_FRAME,
        'binary frame on a JSON connection (this client speaks liveroom.v1.json only)'));
      return;
    }
    let m;
    try {
      m = JSON.parse(data);
    } catch (e) {
      this._emit('error', new LiveroomError(CLIENT_ERR.BAD_FRAME, `unparsable frame: ${e.message}`));
      return;
    }
    if (m === null || typeof m !== 'object') return;
    if (m.id !== undefined && m.id !== 0) {
      this._reply(m);
      return;
    }
    if (m.id === 0) {
      // id 0 is the engine's: the login/join that rode on the upgrade, or a
      // complaint about a frame it could not read (10011).
      if (this._upgradeReply === null && this._upgradeWanted) {
        this._upgradeReply = m;
        this._upgradeResolve(m);
      } else if (m.op === 'err') {
        this._emit('error', new LiveroomError(m.code, m.msg || `error ${m.code}`, { reply: m }));
      }
      return;
    }
    switch (m.op) {
      case 'msg':
        this._onMsg(m);
        break;
      case 'count': {
        const st = this.rooms.get(m.room);
        if (st) st.count = m.count;
        this._emit('count', m);
        break;
      }
      case 'event':
        // The engine has taken the connection out of the room: a later
        // rejoin starts a fresh seq range.
        if (m.kind === 'destroyed' || ((m.kind === 'kicked' || m.kind === 'banned') && m.user === this.user)) {
          this.rooms.delete(m.room);
        }
        this._emit('event', m);
        break;
      case 'broadcast':
        this._emit('broadcast', m);
        break;
      case 'bye':
        this._bye = m;
        this._emit('bye', m);
        break;
      default:
        // Unknown pushes are ignored, as the protocol may add ops.
        break;
    }
  }

  _reply(m) {
    const p = this._pending.get(m.id);
    if (!p) return; // timed out already
    this._pending.delete(m.id);
    if (m.op === 'err') {
      this._requestDone(p);
      p.reject(new LiveroomError(m.code, `${p.op}: ${m.msg || 'error'} (${m.code})`, { op: p.op, reply: m }));
      return;
    }
    // An own message's seq is accounted before the send is marked done,
    // so the gap check that follows sees it.
    if (p.op === 'send' && m.seq > 0) {
      const st = this.rooms.get(p.room);
      if (st && st.seq) st.seq.account(m.seq);
    }
    this._requestDone(p);
    p.resolve(m);
  }

  _onMsg(m) {
    const st = this.rooms.get(m.room);
    if (st && typeof m.seq === 'number') {
      if (!st.seq) st.seq = new SeqTracker(m.seq - 1);
      st.seq.account(m.seq);
      if (m.seq > st.seq.top) st.seq.top = m.seq;
      this._checkGaps(m.room, st);
    }
    this._emit('msg', m);
  }

  _checkGaps(room, st) {
    if (!st.seq || st.sending > 0) return;
    for (const h of st.seq.takeHoles()) {
      this._emit('gap', { room, from: h.from, to: h.to, missed: h.to - h.from + 1 });
    }
  }

  _onClose(code, reason) {
    const wasConnecting = this.status === 'connecting';
    this.closeInfo = { code, reason: reason || '', bye: this._bye };
    this.status = 'closed';
    for (const [id, p] of this._pending) {
      this._pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new LiveroomError(CLIENT_ERR.CLOSED, `${p.op}: connection closed (${code})`,
        { op: p.op, closeCode: code }));
    }
    if (wasConnecting) {
      this._openReject(new LiveroomError(CLIENT_ERR.CONNECT, `cannot connect to ${this.url} (${code})`,
        { closeCode: code }));
    }
    if (this._upgradeWanted && this._upgradeReply === null) this._upgradeResolve(null);
    this._emit('status', 'closed');
    this._emit('close', this.closeInfo);
    this._closedResolve(this.closeInfo);
  }
}

// Opens a connection and logs in / joins as asked:
//   connect(url, { user, sig, nick?, avatar?, room? })  a user
//   connect(url, { guest: true, room? })                a guest
//   connect(url, { room })                              a guest too (join logs in as one)
//   connect(url)                                        not logged in yet
// Other options: WebSocket (the implementation), timeoutMs (per request and
// for the connect), upgrade: true to carry login/join on the upgrade's query
// string (one round trip less; PROTOCOL.md §1). Resolves with the client;
// a failed login or join rejects with its LiveroomError and closes the
// connection.
export async function connect(url, opts = {}) {
  const { user, sig, nick, avatar, room, guest, upgrade } = opts;
  const wantsLogin = user !== undefined || sig !== undefined;
  let target = url;
  if (upgrade && (wantsLogin || room !== undefined)) {
    const q = new URLSearchParams();
    if (wantsLogin) {
      q.set('user', user ?? '');
      q.set('sig', sig ?? '');
      if (nick !== undefined) q.set('nick', nick);
      if (avatar !== undefined) q.set('avatar', avatar);
    }
    if (room !== undefined) q.set('room', room);
    target = url + (url.includes('?') ? '&' : '?') + q.toString();
  }
  const c = new LiveroomClient(target, opts);
  // Set before any socket event can run (they are all asynchronous).
  c._upgradeWanted = target !== url;
  const timeoutMs = c.timeoutMs;
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new LiveroomError(CLIENT_ERR.TIMEOUT,
      `connect to ${url}: not done within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([c.opened, deadline]);
    if (c._upgradeWanted) {
      const r = await Promise.race([c._upgradeDone, deadline]);
      if (r === null) {
        throw new LiveroomError(CLIENT_ERR.CLOSED, `connect to ${url}: closed before the upgrade reply`,
          { closeCode: c.closeInfo?.code });
      }
      if (r.op === 'err') {
        throw new LiveroomError(r.code, `connect: ${r.msg || 'error'} (${r.code})`, { op: 'login', reply: r });
      }
      c.user = r.user ?? null;
      if (room !== undefined) c._joined(r);
      return c;
    }
    if (wantsLogin) await c.login({ user, sig, nick, avatar });
    else if (guest) await c.loginGuest();
    // A join without a login makes the connection a guest; the join reply
    // does not say which guest id, so `user` stays null then.
    if (room !== undefined) await c.join(room);
    return c;
  } catch (e) {
    c.close();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
