// demo.test.mjs: the demo room page (tools/demo) in Debian's Chromium,
// driven by playwright-core, against a real liveroomd. A logged-in user and
// a guest open the page in separate browser contexts; the user's message
// must show on the guest's page, both must show 2 online, the guest's
// member list must show the user, and the guest's send box must be off.
// Screenshots go to the build dir for a human to look at.
//
// Chromium is installed by tools/setup.sh, so a missing browser is a
// failure here, never a skip. No browser is ever downloaded.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import {
  SOURCE_DIR, WAIT_MS, ensureOutDir, roomName, serveStatic, startDaemon, toolSig,
} from './lib.mjs';

const CHROMIUM = process.env.LR_CHROMIUM || '/usr/bin/chromium';
// Chromium's own switches: no GPU, nothing phoning home, no first-run UI.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];

let d;
let web;
let browser;
let profileDir;
const pageErrors = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM),
    `${CHROMIUM} not found: run tools/setup.sh (it installs Debian's chromium)`);
  d = await startDaemon();
  web = await serveStatic(path.join(SOURCE_DIR, 'tools'));
  // launch() gives Chromium a fresh temporary --user-data-dir of its own
  // and removes it on close; HOME and the XDG dirs point at a throwaway
  // dir too, so nothing from another run or the user's home leaks in.
  profileDir = mkdtempSync(path.join(os.tmpdir(), 'liveroom-chromium-'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    env: { ...process.env, HOME: profileDir, XDG_CONFIG_HOME: profileDir, XDG_CACHE_HOME: profileDir },
    timeout: 30000,
  });
});

after(async () => {
  if (browser) await browser.close();
  if (web) await web.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  if (d) {
    const notable = d.notable();
    if (notable.length) console.error(`liveroomd stderr:\n${notable.join('\n')}`);
    await d.stop();
  }
});

async function openPage(name) {
  // one context per visitor: separate storage, like two people
  const ctx = await browser.newContext({ viewport: { width: 980, height: 620 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`${name} console: ${m.text()}`);
  });
  const url = web.url(`/demo/index.html?ws=${encodeURIComponent(d.url)}`);
  const resp = await page.goto(url);
  assert.equal(resp.status(), 200);
  return page;
}

async function joinAs(page, room, user, sig) {
  await page.fill('#room', room);
  if (user) {
    await page.fill('#user', user);
    await page.fill('#sig', sig);
  }
  await page.click('#join');
  await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'open');
}

function textOf(page, sel) {
  return page.$eval(sel, (el) => el.textContent);
}

async function waitText(page, sel, want) {
  try {
    await page.waitForFunction(([s, w]) => {
      const el = document.querySelector(s);
      return el && el.textContent.trim() === w;
    }, [sel, want]);
  } catch (e) {
    throw new Error(`${sel} never read ${JSON.stringify(want)}; it reads ${JSON.stringify(await textOf(page, sel))} (${e.message})`);
  }
}

test('a user and a guest in one room: message, online count, members, guest send box', async () => {
  const room = roomName('demo');
  const alice = 'alice';
  const a = await openPage('A');
  const b = await openPage('B');

  await joinAs(a, room, alice, toolSig(alice));
  assert.equal(await textOf(a, '#status'), `connected as ${alice}`);
  assert.equal(await a.isDisabled('#body'), false, 'a logged-in user may type');

  await joinAs(b, room);
  assert.match(await textOf(b, '#status'), /^connected as guest-/);
  assert.equal(await b.isDisabled('#body'), true, 'guest send box is disabled');
  assert.equal(await b.isDisabled('#send'), true, 'guest send button is disabled');
  assert.match(await textOf(b, '#send-hint'), /Guests can watch but not send/);

  const text = `hello from alice ${Math.random().toString(16).slice(2, 8)}`;
  await a.fill('#body', text);
  await a.press('#body', 'Enter');
  // B's page shows the message, from alice, as the newest line
  const line = b.locator('#messages li.msg', { hasText: text });
  await line.waitFor({ state: 'visible' });
  assert.equal(await line.locator('.from').textContent(), alice);
  assert.equal(await b.$eval('#messages', (ol) => ol.lastElementChild.querySelector('.body')?.textContent), text);
  // and A's own page shows it too (the sender gets an ok, not a push)
  await a.locator('#messages li.own', { hasText: text }).waitFor({ state: 'visible' });

  // both count 2 online: B from its join reply, A from the count push
  await waitText(b, '#count', '2');
  await waitText(a, '#count', '2');

  // B's member list, refreshed by the button, shows alice
  await b.click('#refresh-members');
  await b.locator('#members li', { hasText: alice }).waitFor({ state: 'visible' });
  // A sees itself marked
  await a.click('#refresh-members');
  await a.locator('#members li', { hasText: '(you)' }).waitFor({ state: 'visible' });

  const out = ensureOutDir();
  await b.screenshot({ path: path.join(out, 'demo-guest.png') });
  await a.screenshot({ path: path.join(out, 'demo-user.png') });
  console.log(`screenshots: ${out}/demo-guest.png, ${out}/demo-user.png`);

  assert.deepEqual(pageErrors, [], 'no script errors on either page');
});
