// demo.js: the behaviour of the demo room page (index.html). It owns the
// page's state (one connection at a time) and turns liveroom.js events into
// DOM updates. It never talks the wire protocol itself and never puts
// engine-supplied text into the page as HTML (textContent only: messages
// come from strangers).
import { connect, ERR } from '../js/liveroom.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

// The engine's WebSocket endpoint: ?ws=... when the page is served from
// somewhere else (liveroomd serves no files), else /ws on the page's host.
const wsUrl = params.get('ws') ||
  `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;

const MAX_SHOWN = 500; // messages kept in the list; older ones are dropped from the DOM

let lr = null; // the current LiveroomClient
let room = null; // the room it joined
let guest = true;

function setStatus(state, text) {
  const el = $('status');
  el.dataset.state = state;
  el.textContent = text;
}

function fmtTime(ms) {
  const d = new Date(typeof ms === 'number' ? ms : Date.now());
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function bodyText(body) {
  if (typeof body === 'string') return body;
  return JSON.stringify(body);
}

// Appends one line, keeping the view pinned to the newest message when the
// reader was already at the bottom (and leaving it alone when scrolled up).
function addLine(li) {
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(li);
  while (list.childElementCount > MAX_SHOWN) list.firstElementChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function addMessage(m, { own = false, limited = false } = {}) {
  const li = document.createElement('li');
  li.className = 'msg' + (own ? ' own' : '') + (limited ? ' limited' : '');
  if (m.seq) li.dataset.seq = String(m.seq);
  const from = document.createElement('span');
  from.className = 'from';
  from.textContent = m.nick || m.from;
  const body = document.createElement('span');
  body.className = 'body';
  body.textContent = m.type && m.type !== 'text' ? `[${m.type}] ${bodyText(m.body)}` : bodyText(m.body);
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = fmtTime(m.time) + (limited ? ' · not delivered (room busy)' : '');
  li.append(from, body, meta);
  addLine(li);
}

function addSystem(text) {
  const li = document.createElement('li');
  li.className = 'system';
  li.textContent = text;
  addLine(li);
}

function setCount(n) {
  $('count').textContent = typeof n === 'number' ? String(n) : '–';
}

function renderMembers(list) {
  const ul = $('members');
  ul.replaceChildren();
  for (const mb of list) {
    const li = document.createElement('li');
    li.textContent = mb.nick || mb.user;
    li.title = mb.user;
    if (lr && mb.user === lr.user) {
      const you = document.createElement('span');
      you.className = 'you';
      you.textContent = '(you)';
      li.append(you);
    }
    ul.append(li);
  }
}

function setJoined(on) {
  $('join').disabled = on;
  $('leave').disabled = !on;
  $('refresh-members').disabled = !on;
  const canSend = on && !guest;
  $('body').disabled = !canSend;
  $('send').disabled = !canSend;
  if (!on) $('send-hint').textContent = 'Join a room to chat.';
  else if (guest) $('send-hint').textContent = 'Guests can watch but not send: enter a user id and its UserSig to chat.';
  else $('send-hint').textContent = '';
}

async function refreshMembers() {
  if (!lr || !room) return;
  try {
    const r = await lr.members(room, 100);
    renderMembers(r.members || []);
    setCount(r.count);
  } catch (e) {
    addSystem(`members failed: ${e.message}`);
  }
}

async function join(ev) {
  ev.preventDefault();
  const roomId = $('room').value.trim();
  const user = $('user').value.trim();
  const sig = $('sig').value.trim();
  if (!roomId) return;
  if (lr) await lr.close();
  guest = !(user && sig);
  setStatus('connecting', 'connecting…');
  $('join').disabled = true;
  $('messages').replaceChildren();
  $('members').replaceChildren();
  setCount(undefined);
  const opts = guest ? { guest: true, room: roomId } : { user, sig, room: roomId };
  let c;
  try {
    c = await connect(wsUrl, opts);
  } catch (e) {
    setStatus('closed', `failed: ${e.code ?? ''} ${e.message}`.trim());
    $('join').disabled = false;
    return;
  }
  lr = c;
  room = roomId;
  wire(c);
  setStatus('open', `connected as ${c.user || 'guest'}`);
  setJoined(true);
  const st = c.rooms.get(roomId);
  setCount(st && st.count);
  // join returned the room's recent history: show it first, oldest first
  addSystem(`joined ${roomId}`);
  const hist = st && st.join && st.join.history;
  if (Array.isArray(hist)) for (const m of hist) addMessage(m, { own: m.from === c.user });
  refreshMembers();
}

function wire(c) {
  c.on('msg', (m) => {
    if (m.room === room) addMessage(m);
  });
  c.on('count', (m) => {
    if (m.room === room) setCount(m.count);
  });
  c.on('gap', (g) => addSystem(`missed ${g.missed} message${g.missed === 1 ? '' : 's'} (seq ${g.from}–${g.to})`));
  c.on('broadcast', (m) => addSystem(`broadcast from ${m.from}: ${bodyText(m.body)}`));
  c.on('event', (e) => {
    if (e.room !== room) return;
    switch (e.kind) {
      case 'muted': addSystem(`${e.user} is muted until ${fmtTime(e.until)}`); break;
      case 'unmuted': addSystem(`${e.user} can speak again`); break;
      case 'mute_all': addSystem(e.on ? 'the room is muted' : 'the room is open again'); break;
      case 'kicked':
      case 'banned':
        addSystem(`${e.user} was ${e.kind}`);
        if (e.user === c.user) setJoined(false);
        break;
      case 'destroyed': addSystem('the room was closed'); setJoined(false); break;
      case 'system': addSystem(e.content); break;
      case 'join': addSystem(`${e.user} joined`); break;
      case 'leave': addSystem(`${e.user} left`); break;
      default: break;
    }
  });
  c.on('bye', (b) => addSystem(`server says bye: ${b.msg} (${b.code})`));
  c.on('close', (info) => {
    if (c !== lr) return; // an older connection the user replaced
    setStatus('closed', `closed (${info.code}${info.reason ? ': ' + info.reason : ''})`);
    setJoined(false);
    $('join').disabled = false;
  });
}

async function sendMessage(ev) {
  ev.preventDefault();
  const input = $('body');
  const text = input.value;
  if (!text.trim() || !lr || !room) return;
  input.value = '';
  try {
    const r = await lr.send(room, text);
    // The sender gets no push of its own message (its ok stands for it);
    // PROTOCOL.md §6: show it even when frequency control dropped it.
    addMessage({ from: lr.user, body: text, seq: r.seq, time: Date.now() }, { own: true, limited: !!r.limited });
  } catch (e) {
    const why = e.code === ERR.MUTED ? 'you are muted'
      : e.code === ERR.TOO_FAST ? 'you are sending too fast'
        : e.code === ERR.NO_PERMISSION ? 'not allowed' : e.message;
    addSystem(`not sent: ${why}`);
    input.value = text;
  }
}

async function leave() {
  if (!lr) return;
  const c = lr;
  try {
    await c.leave(room);
  } catch {
    // closing anyway
  }
  await c.close();
  lr = null;
  room = null;
  setStatus('idle', 'not connected');
  setJoined(false);
  $('join').disabled = false;
}

$('endpoint').textContent = wsUrl;
$('join-form').addEventListener('submit', join);
$('send-form').addEventListener('submit', sendMessage);
$('refresh-members').addEventListener('click', refreshMembers);
$('leave').addEventListener('click', leave);
for (const k of ['room', 'user', 'sig']) if (params.has(k)) $(k).value = params.get(k);
if (params.get('autojoin') === '1' && $('room').value) $('join-form').requestSubmit();
