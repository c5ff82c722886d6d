// client.test.mjs: tools/js/liveroom.js in Node with npm's `ws` as the
// WebSocket implementation, against a real liveroomd: login, join, send
// and receive, error replies as rejected promises carrying the protocol
// code, upgrade login, close handling, and seq-gap detection (its rules
// driven exactly through a scripted WebSocket, then checked for false
// alarms under real interleaved traffic).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import {
  CLIENT_ERR, ERR, LiveroomClient, LiveroomError, connect,
} from '../../tools/js/liveroom.js';
import {
  WAIT_MS, nextEvent, roomName, startDaemon, toolSig, within,
} from './lib.mjs';

let d;
const clients = [];

async function open(opts) {
  const c = await connect(d.url, { WebSocket, ...opts });
  clients.push(c);
  return c;
}

async function user(name, room, extra = {}) {
  return open({ user: name, sig: toolSig(name), room, ...extra });
}

// Rejects unless `promise` rejects with a LiveroomError of `code`.
async function rejectsWith(promise, code, op) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof LiveroomError, `not a LiveroomError: ${e}`);
    assert.equal(e.code, code, e.message);
    if (op) assert.equal(e.op, op);
    return true;
  });
}

before(async () => {
  // High per-user and room rates so the interleaving test measures the
  // client's gap logic, not frequency control.
  d = await startDaemon(['--user-rate', '1000', '--rate', '10000']);
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  if (!d) return;
  const notable = d.notable();
  if (notable.length) console.error(`liveroomd stderr:\n${notable.join('\n')}`);
  await d.stop();
});

describe('against liveroomd', () => {
  test('two users join, send and receive; count, members and ping answer', async () => {
    const room = roomName('pair');
    const a = await user('js-alice', room);
    assert.equal(a.user, 'js-alice');
    assert.equal(a.status, 'open');
    // b rides login and join on the upgrade's query string
    const b = await user('js-bob', room, { upgrade: true, nick: 'Bob' });
    assert.equal(b.user, 'js-bob');
    assert.ok(b.rooms.get(room).join, 'join reply kept for the room');

    const got = nextEvent(b, 'msg', (m) => m.room === room);
    const r1 = await a.send(room, 'hello from liveroom.js', { random: 42 });
    assert.ok(r1.seq > 0, JSON.stringify(r1));
    assert.notEqual(r1.limited, true);
    const m1 = await got;
    assert.equal(m1.seq, r1.seq);
    assert.equal(m1.from, 'js-alice');
    assert.equal(m1.body, 'hello from liveroom.js');
    assert.equal(m1.random, 42);

    const got2 = nextEvent(a, 'msg', (m) => m.room === room);
    const r2 = await b.send(room, { gift: 'rocket', n: 2 }, { type: 'gift', pri: 'high' });
    assert.equal(r2.seq, r1.seq + 1);
    const m2 = await got2;
    assert.deepEqual(m2.body, { gift: 'rocket', n: 2 });
    assert.equal(m2.type, 'gift');
    assert.equal(m2.nick, 'Bob');

    assert.equal(await a.count(room), 2);
    const mem = await b.members(room, 10);
    assert.deepEqual(mem.members.map((x) => x.user).sort(), ['js-alice', 'js-bob']);
    assert.equal((await a.ping()).op, 'pong');

    // a third member's join reply carries both messages as history
    const c = await user('js-carol', room);
    const hist = c.rooms.get(room).join.history.map((h) => h.seq);
    assert.deepEqual(hist.slice(-2), [r1.seq, r2.seq]);

    await a.leave(room);
    assert.equal(a.rooms.has(room), false);
  });

  test('guests receive but get 10007 when they send', async () => {
    const room = roomName('guest');
    const a = await user('js-speaker', room);
    const g = await open({ guest: true, room });
    assert.match(g.user, /^guest-/);
    const got = nextEvent(g, 'msg');
    await a.send(room, 'to the guests');
    assert.equal((await got).body, 'to the guests');
    await rejectsWith(g.send(room, 'may I?'), ERR.NO_PERMISSION, 'send');
    // a connection that only joined is a guest too
    const g2 = await open({ room });
    await rejectsWith(g2.send(room, 'me neither'), ERR.NO_PERMISSION, 'send');
  });

  test('err replies reject with the protocol code; the connection stays usable', async () => {
    const c = await open({});
    await rejectsWith(c.request('no_such_op'), ERR.UNKNOWN_OP, 'no_such_op');
    await rejectsWith(c.login({ user: 'js-dave', sig: 'not-a-usersig' }), ERR.SIG_MALFORMED, 'login');
    await rejectsWith(c.login({ user: 'js-dave', sig: toolSig('js-mallory') }), ERR.SIG_USER_MISMATCH, 'login');
    await c.login({ user: 'js-dave', sig: toolSig('js-dave') });
    await rejectsWith(c.join('x'.repeat(49)), ERR.BAD_ROOM_ID, 'join');
    // a room that exists but that this connection is not in: 10007 (one that
    // does not exist at all is 10010, docs/PROTOCOL-NOTES.md)
    const left = roomName('notin');
    await c.join(left);
    await c.leave(left);
    await rejectsWith(c.send(left, 'hi'), ERR.NO_PERMISSION, 'send');
    await rejectsWith(c.request('send', { room: roomName('nobody') }), ERR.INVALID_PARAM, 'send');
    assert.equal((await c.ping()).op, 'pong');
  });

  test('connect rejects with the code of a failed login, over ops and over the upgrade', async () => {
    await rejectsWith(connect(d.url, { WebSocket, user: 'js-eve', sig: toolSig('js-bob') }),
      ERR.SIG_USER_MISMATCH);
    await rejectsWith(connect(d.url, { WebSocket, user: 'js-eve', sig: 'garbage', room: 'r', upgrade: true }),
      ERR.SIG_MALFORMED);
  });

  test('a frame the engine cannot read is reported as an error event with 10011', async () => {
    const c = await open({});
    const err = nextEvent(c, 'error');
    c.ws.send('{not json');
    const e = await err;
    assert.equal(e.code, ERR.MALFORMED);
    assert.equal((await c.ping()).op, 'pong');
  });

  test('interleaved sends from two users raise no false gap and account for every seq', async () => {
    const room = roomName('busy');
    const a = await user('js-fast-a', room);
    const b = await user('js-fast-b', room);
    const gaps = [];
    a.on('gap', (g) => gaps.push(['a', g]));
    b.on('gap', (g) => gaps.push(['b', g]));
    const N = 40;
    const seen = { a: new Set(), b: new Set() };
    const allIn = (who, other) => new Promise((resolve) => {
      const c = who === 'a' ? a : b;
      c.on('msg', (m) => {
        if (m.from === other) seen[who].add(m.seq);
        if (seen[who].size === N) resolve();
      });
    });
    const doneA = allIn('a', 'js-fast-b');
    const doneB = allIn('b', 'js-fast-a');
    // fire without awaiting each: oks and pushes interleave on both sockets
    const sends = [];
    for (let i = 0; i < N; i++) {
      sends.push(a.send(room, `a${i}`));
      sends.push(b.send(room, `b${i}`));
    }
    const replies = await within(Promise.all(sends), 'all send oks');
    await within(Promise.all([doneA, doneB]), 'all pushes');
    const own = { a: new Set(), b: new Set() };
    replies.forEach((r, i) => own[i % 2 === 0 ? 'a' : 'b'].add(r.seq));
    for (const who of ['a', 'b']) {
      const all = new Set([...own[who], ...seen[who]]);
      assert.equal(all.size, 2 * N, `${who} accounts for every seq`);
      assert.equal(Math.min(...all), 1);
      assert.equal(Math.max(...all), 2 * N);
    }
    assert.deepEqual(gaps, []);
  });
});

describe('close', () => {
  test('engine shutdown: bye push, close event, pending and later requests rejected', async () => {
    const d2 = await startDaemon();
    let c;
    try {
      c = await connect(d2.url, { WebSocket, guest: true, room: 'bye-room' });
      const bye = nextEvent(c, 'bye');
      const closed = nextEvent(c, 'close');
      await d2.stop();
      const b = await bye;
      assert.equal(b.code, 1001);
      const info = await closed;
      assert.equal(info.code, 1001);
      assert.equal(info.bye.code, 1001);
      assert.equal(c.status, 'closed');
      await rejectsWith(c.ping(), CLIENT_ERR.NOT_OPEN, 'ping');
    } finally {
      if (c) await c.close();
    }
  });

  test('connect to a port nobody listens on rejects with CLIENT_ERR.CONNECT', async () => {
    const d3 = await startDaemon();
    const url = d3.url;
    await d3.stop();
    await rejectsWith(connect(url, { WebSocket, timeoutMs: WAIT_MS }), CLIENT_ERR.CONNECT);
  });
});

// A WebSocket double the test scripts frame by frame, so the gap rules can
// be checked in every order the engine may legally produce.
class ScriptedWS {
  static last = null;

  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.readyState = 0;
    this.sent = [];
    ScriptedWS.last = this;
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.({});
    }, 0);
  }

  send(s) {
    this.sent.push(JSON.parse(s));
  }

  close(code = 1000, reason = '') {
    this.readyState = 3;
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }

  push(obj) {
    this.onmessage({ data: JSON.stringify(obj) });
  }

  // Answers the latest request with `ok` and these fields.
  ok(fields = {}) {
    const req = this.sent.at(-1);
    this.push({ op: 'ok', id: req.id, ...fields });
    return req;
  }
}

async function scripted(joinSeq) {
  const c = new LiveroomClient('ws://scripted/ws', { WebSocket: ScriptedWS });
  await c.opened;
  const ws = ScriptedWS.last;
  const j = c.join('r');
  assert.equal(ws.sent.at(-1).op, 'join');
  ws.ok({ room: 'r', seq: joinSeq, count: 1, history: [] });
  await j;
  const gaps = [];
  c.on('gap', (g) => gaps.push(g));
  const msg = (seq) => ws.push({ op: 'msg', room: 'r', seq, from: 'x', body: String(seq) });
  return { c, ws, gaps, msg };
}

describe('seq gap detection', () => {
  test('a jump in pushed seqs reports the missing range once', async () => {
    const { gaps, msg } = await scripted(10);
    msg(11);
    msg(12);
    assert.deepEqual(gaps, []);
    msg(15);
    assert.deepEqual(gaps, [{ room: 'r', from: 13, to: 14, missed: 2 }]);
    msg(16);
    assert.equal(gaps.length, 1);
  });

  test('the first push after join is checked against the join seq', async () => {
    const { gaps, msg } = await scripted(5);
    msg(8);
    assert.deepEqual(gaps, [{ room: 'r', from: 6, to: 7, missed: 2 }]);
  });

  test('an own ok arriving before the pushes below it fills its seq', async () => {
    const { c, ws, gaps, msg } = await scripted(1);
    const s = c.send('r', 'mine');
    ws.ok({ seq: 3 });
    await s;
    msg(2);
    msg(4);
    assert.deepEqual(gaps, []);
  });

  test('a push overtaking an own ok in flight is no gap when the ok fills it', async () => {
    const { c, ws, gaps, msg } = await scripted(0);
    const s = c.send('r', 'mine');
    const req = ws.sent.at(-1);
    msg(2);
    assert.deepEqual(gaps, [], 'undecided while the send waits for its seq');
    ws.push({ op: 'ok', id: req.id, seq: 1 });
    await s;
    msg(3);
    assert.deepEqual(gaps, []);
  });

  test('a hole left after the send in flight is answered is reported then', async () => {
    const { c, ws, gaps, msg } = await scripted(0);
    const s = c.send('r', 'mine');
    const req = ws.sent.at(-1);
    msg(3);
    assert.deepEqual(gaps, []);
    ws.push({ op: 'ok', id: req.id, seq: 1 });
    await s;
    assert.deepEqual(gaps, [{ room: 'r', from: 2, to: 2, missed: 1 }]);
  });

  test('a send dropped by frequency control (seq 0) fills nothing', async () => {
    const { c, ws, gaps, msg } = await scripted(0);
    const s = c.send('r', 'mine');
    const req = ws.sent.at(-1);
    msg(2);
    ws.push({ op: 'ok', id: req.id, seq: 0, limited: true });
    assert.equal((await s).limited, true);
    assert.deepEqual(gaps, [{ room: 'r', from: 1, to: 1, missed: 1 }]);
  });

  test('several holes in one jump are reported as separate ranges', async () => {
    const { c, ws, gaps, msg } = await scripted(0);
    const s = c.send('r', 'mine');
    const req = ws.sent.at(-1);
    msg(6);
    ws.push({ op: 'ok', id: req.id, seq: 3 });
    await s;
    assert.deepEqual(gaps, [
      { room: 'r', from: 1, to: 2, missed: 2 },
      { room: 'r', from: 4, to: 5, missed: 2 },
    ]);
  });

  test('duplicates and older seqs raise nothing; a rejoin starts a fresh range', async () => {
    const { c, ws, gaps, msg } = await scripted(3);
    msg(4);
    msg(4);
    msg(2);
    assert.deepEqual(gaps, []);
    const j = c.join('r');
    ws.ok({ room: 'r', seq: 100, count: 1, history: [] });
    await j;
    msg(101);
    assert.deepEqual(gaps, []);
  });

  test('an err reply rejects with its code and does not block gap reports', async () => {
    const { c, ws, gaps, msg } = await scripted(0);
    const s = c.send('r', 'mine');
    const req = ws.sent.at(-1);
    msg(2);
    ws.push({ op: 'err', id: req.id, code: ERR.MUTED, msg: 'muted until 1' });
    await rejectsWith(s, ERR.MUTED, 'send');
    assert.deepEqual(gaps, [{ room: 'r', from: 1, to: 1, missed: 1 }]);
  });

  test('a request without a reply rejects with CLIENT_ERR.TIMEOUT', async () => {
    const c = new LiveroomClient('ws://scripted/ws', { WebSocket: ScriptedWS, timeoutMs: 50 });
    await c.opened;
    await rejectsWith(c.ping(), CLIENT_ERR.TIMEOUT, 'ping');
    assert.equal(c._pending.size, 0);
  });
});
