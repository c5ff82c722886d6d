// ws.test.mjs: liveroomd driven by npm's `ws`, a client that shares nothing
// with the engine. Written from PROTOCOL.md alone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  Client, LIVEROOM_SIG, bodyText, startDaemon, toolSig, userSig,
} from './lib.mjs';

let d;
const clients = [];

async function open(query, enc) {
  const c = await Client.open(d.url(query), enc);
  clients.push(c);
  return c;
}

async function user(name, enc, room) {
  const c = await open('', enc);
  const r = await c.ok('login', { user: name, sig: userSig(name) });
  assert.equal(r.user, name);
  if (room) await c.ok('join', { room });
  return c;
}

function roomName(tag) {
  return `node-${tag}-${Math.random().toString(16).slice(2, 8)}`;
}

before(async () => {
  d = await startDaemon();
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  if (!d) return;
  // The daemon's warnings and errors help explain a failure; info is noise.
  const notable = d.stderr().split('\n').filter((l) => l && !/level=(info|debug)/.test(l));
  if (notable.length) console.error(`liveroomd stderr:\n${notable.join('\n')}`);
  await d.stop();
});

test('subprotocols: json, msgpack, and json when none is offered', async () => {
  const j = await open('', 'json');
  assert.equal(j.ws.protocol, 'liveroom.v1.json');
  const m = await open('', 'msgpack');
  assert.equal(m.ws.protocol, 'liveroom.v1.msgpack');
  const n = await open('', null);
  assert.equal(n.ws.protocol, '');
  for (const c of [j, m, n]) {
    const r = await c.request('ping');
    assert.equal(r.op, 'pong');
  }
});

test('two clients in a room exchange messages across json and msgpack', async () => {
  const room = roomName('pair');
  const a = await user('node-alice', 'json', room);
  const b = await user('node-bob', 'msgpack', room);

  const s1 = await a.ok('send', { room, body: 'hello from json', random: 7 });
  assert.ok(s1.seq > 0);
  const m1 = await b.push('msg', { room, seq: s1.seq });
  assert.equal(m1.from, 'node-alice');
  assert.equal(bodyText(m1.body), 'hello from json');
  assert.equal(m1.type, 'text');
  assert.equal(m1.pri, 'normal');
  assert.equal(m1.random, 7);
  assert.equal(typeof m1.time, 'number');

  const s2 = await b.ok('send', { room, body: Buffer.from('bin from msgpack'), type: 'like', pri: 'high' });
  assert.equal(s2.seq, s1.seq + 1);
  const m2 = await a.push('msg', { room, seq: s2.seq });
  assert.equal(m2.from, 'node-bob');
  assert.equal(m2.body, 'bin from msgpack');
  assert.equal(m2.type, 'like');
  assert.equal(m2.pri, 'high');

  const obj = { gift: 'rocket', n: 3 };
  const s3 = await a.ok('send', { room, body: obj, type: 'gift' });
  const c = await user('node-carol', 'json', null);
  const j = await c.ok('join', { room });
  assert.equal(j.seq, s3.seq);
  assert.equal(j.count, 3);
  assert.deepEqual(j.history.map((h) => h.seq), [s1.seq, s2.seq, s3.seq]);
  assert.deepEqual(j.history[2].body, obj);
});

test('query login and join answer with id 0', async () => {
  const room = roomName('query');
  const c = await open(`?user=node-dave&sig=${encodeURIComponent(userSig('node-dave'))}&room=${encodeURIComponent(room)}`, 'msgpack');
  const r = await c.waitFor(() => true, 'first frame');
  assert.equal(r.op, 'ok');
  assert.equal(r.id, 0);
  assert.equal(r.user, 'node-dave');
  assert.equal(r.room, room);
  for (const f of ['seq', 'count', 'profile', 'history', 'muted_until', 'mute_all']) {
    assert.ok(f in r, `join field ${f}`);
  }
});

test('errors are replies with the request id and a code', async () => {
  const c = await open('', 'json');
  const r = await c.request('teleport');
  assert.equal(r.op, 'err');
  assert.equal(r.code, 10003);
  assert.equal(typeof r.msg, 'string');
  const g = await c.request('send', { room: roomName('x'), body: 'x' });
  assert.equal(g.op, 'err');
  assert.equal(g.code, 10007);
  c.ws.send('{not json');
  const bad = await c.waitFor((m) => m.op === 'err' && m.id === 0, 'err id 0');
  assert.equal(bad.code, 10011);
  assert.equal((await c.request('ping')).op, 'pong');
});

test('a bad signature in the query gets err id 0 and close 1008', async () => {
  const c = await open('?user=node-eve&sig=garbage', 'json');
  const r = await c.waitFor(() => true, 'first frame');
  assert.equal(r.op, 'err');
  assert.equal(r.id, 0);
  assert.equal(r.code, 70003);
  assert.equal(await c.waitClosed(), 1008);

  const w = await open(`?user=node-eve&sig=${userSig('node-eve', { secret: 'wrong' })}`, 'msgpack');
  const r2 = await w.waitFor(() => true, 'first frame');
  assert.equal(r2.code, 70009);
  assert.equal(await w.waitClosed(), 1008);
});

test('a UserSig from liveroom-sig logs in', { skip: !LIVEROOM_SIG && 'liveroom-sig not built' }, async () => {
  const c = await open('', 'json');
  const r = await c.ok('login', { user: 'node-frank', sig: toolSig('node-frank') });
  assert.equal(r.user, 'node-frank');
});
