#!/usr/bin/env node
// Headless-Chromium driver for the end-to-end tests of the helpline web pages (agent softphone,
// supervisor wallboard, reports). Driven line by line: one JSON command per stdin line, one JSON
// reply per stdout line, always with "ok". The first line printed is {"ok":true,"ready":true,...}
// once the browser is up. Console errors and uncaught page errors are collected: each reply carries
// the new ones as "console_errors" (when there are any); {"cmd":"console_errors"} returns all.
//
// Finding playwright-core (pinned in tests/e2e/package.json, 1.65.1): first a plain
// `import('playwright-core')`, which finds tests/e2e/node_modules after
//     npm install --prefix tests/e2e            (CI, from tests/e2e/package.json)
// then CommonJS resolution, which also honours NODE_PATH, e.g.
//     NODE_PATH=/some/dir/node_modules node tests/e2e/agent_browser.mjs
// (ESM imports ignore NODE_PATH, hence the fallback.)
//
// Environment: CHROMIUM (default /usr/bin/chromium), FAKE_AUDIO (a WAV the fake microphone plays;
// default: Chromium's own beeps), HEADLESS=0 to watch, DRIVER_TIMEOUT_MS (default 10000).
//
// Commands (besides "cmd", all fields optional unless shown):
//   login {base, user, password}          -> {url, page: "agent"|"supervisor"}  (waits for the socket)
//   goto {url | path}                      open a page (path is relative to the last base)
//   set_state {state: "available"|"not-ready", reason} -> {state}
//   wait_state {state}                     -> {state}
//   wait_ringing                           -> {call_id, caller, caller_name, tickets: [number...], pop_status, webrtc}
//   answer / reject / hangup               -> {state}
//   hold {on} / mute {on}                  -> {held|muted}
//   dtmf {digits}                          clicks the keypad
//   transfer {kind: "queue"|"agent"|"number", to}
//   tone_level {hz, window_ms}             -> {db} (max over window_ms, null before remote audio)
//   wrapup {disposition, notes, ticket: {"link": n} | {"create": {subject, category, priority}}}
//                                          -> {interaction_id, ticket}   (waits for wrapup_saved; the
//                                          outcome says what happens to the ticket: there is one control)
//   stats                                  -> {answered, aht}
//   press {key} (keyboard, e.g. "Enter", "Escape"); click {testid | selector}; fill {testid | selector, value}; text {testid | selector} -> {text}
//   screenshot {path, full_page}; viewport {width, height}; reload; eval {js} -> {value}
//   console_errors -> {console_errors}; quit
// Every command takes timeout_ms (default DRIVER_TIMEOUT_MS).
import { createRequire } from 'node:module';
import readline from 'node:readline';

const DEFAULT_TIMEOUT = Number(process.env.DRIVER_TIMEOUT_MS || 10000);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

async function loadPlaywright() {
  try {
    return await import('playwright-core');
  } catch (first) {
    try {
      const require = createRequire(import.meta.url);
      return require('playwright-core');
    } catch (_) {
      throw new Error('playwright-core not found (npm install --prefix tests/e2e, or set NODE_PATH): ' + first.message);
    }
  }
}

const allErrors = [];
let fresh = [];
function noteError(text) { allErrors.push(text); fresh.push(text); }

let browser, context, page, base = '';

async function launch() {
  const { chromium } = await loadPlaywright();
  const args = [
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
    '--no-sandbox',
  ];
  if (process.env.FAKE_AUDIO) args.push('--use-file-for-fake-audio-capture=' + process.env.FAKE_AUDIO);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: process.env.HEADLESS !== '0',
    args,
  });
  context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(DEFAULT_TIMEOUT);
  page.on('console', (m) => { if (m.type() === 'error') noteError('console: ' + m.text()); });
  page.on('pageerror', (e) => noteError('pageerror: ' + (e.stack || e.message)));
  page.on('dialog', (d) => d.accept().catch(() => {}));
}

const tid = (id) => `[data-testid="${id}"]`;
const sel = (c) => c.selector || tid(c.testid);

// Waits until `fn(arg)` in the page is truthy; returns its value.
async function until(fn, arg, timeout) {
  const h = await page.waitForFunction(fn, arg, { timeout, polling: 50 });
  return h.jsonValue();
}

function agentState(timeout, want) {
  return until((w) => window.helpline && window.helpline.state.connected && (!w || window.helpline.state.state === w)
    && window.helpline.state.state, want || null, timeout);
}

const commands = {
  async login(c, t) {
    if (c.base) base = c.base.replace(/\/$/, '');
    await page.goto(base + '/');
    await page.fill('#username', c.user);
    await page.fill('#password', c.password);
    await page.click(tid('login-submit'));
    const which = await Promise.race([
      page.waitForURL(/\/(agent|supervisor)(\?|$)/, { timeout: t }).then(() => 'page'),
      page.waitForFunction(() => { const e = document.getElementById('login-error'); return e && e.textContent.trim(); },
        null, { timeout: t }).then(() => 'error'),
    ]);
    if (which === 'error' && !/\/(agent|supervisor)/.test(page.url())) {
      return { ok: false, error: (await page.textContent(tid('login-error'))).trim() };
    }
    const kind = /\/supervisor/.test(page.url()) ? 'supervisor' : 'agent';
    if (kind === 'agent') await agentState(t);
    else await until(() => window.helplineBoard && window.helplineBoard.connected, null, t);
    return { url: page.url(), page: kind };
  },
  async goto(c) {
    const url = c.url || base + (c.path || '/');
    if (c.url) base = new URL(c.url).origin;
    await page.goto(url);
    return { url: page.url() };
  },
  async set_state(c, t) {
    let value = 'available';
    if (c.state !== 'available') {
      value = c.reason ? 'not-ready:' + c.reason : await page.$eval(tid('state-select'),
        (s) => (Array.from(s.options).find((o) => o.value.startsWith('not-ready')) || {}).value);
    }
    await agentState(t);
    await page.selectOption(tid('state-select'), value);
    return { state: await agentState(t, c.state) };
  },
  async wait_state(c, t) { return { state: await agentState(t, c.state) }; },
  async wait_ringing(c, t) {
    await page.waitForSelector(tid('ringing'), { state: 'visible', timeout: t });
    return page.evaluate(() => {
      const o = window.helpline.state.offer || {};
      return {
        call_id: o.call_id, caller: o.caller, queue: o.queue,
        caller_name: document.querySelector('[data-testid="caller-name"]').textContent.trim(),
        tickets: Array.from(document.querySelectorAll('[data-testid="ticket-row"]')).map((r) => r.dataset.ticket),
        pop_status: o.pop ? o.pop.status : null,
        webrtc: !!(o.webrtc && o.webrtc.sdp),
      };
    });
  },
  async answer(c, t) {
    await page.click(tid('answer'));
    await until(() => window.helpline.state.call, null, t);
    return page.evaluate(() => ({
      state: window.helpline.state.state, call_id: window.helpline.state.call.call_id,
      ice: window.helpline.pc ? window.helpline.pc.iceConnectionState : null,
    }));
  },
  async reject(c, t) {
    await page.click(tid('reject'));
    await until(() => !window.helpline.state.offer, null, t);
    return { state: await agentState(t) };
  },
  async hangup(c, t) {
    await page.click(tid('hangup'));
    await until(() => !window.helpline.state.call, null, t);
    return { state: await agentState(t) };
  },
  async hold(c, t) {
    const want = c.on === undefined ? !(await page.evaluate(() => window.helpline.state.call.held)) : !!c.on;
    await page.click(tid('hold'));
    await until((w) => window.helpline.state.call && window.helpline.state.call.held === w, want, t);
    return { held: want };
  },
  async mute(c, t) {
    const want = c.on === undefined ? !(await page.evaluate(() => window.helpline.state.call.muted)) : !!c.on;
    await page.click(tid('mute'));
    await until((w) => window.helpline.state.call && window.helpline.state.call.muted === w, want, t);
    return { muted: want };
  },
  async dtmf(c) {
    if (await page.isHidden(tid('keypad'))) await page.click('#keypad-toggle');
    for (const d of String(c.digits)) await page.click(tid('dtmf-' + d));
    return {};
  },
  async transfer(c) {
    await page.selectOption(tid('transfer-kind'), c.kind || 'queue');
    await page.fill(tid('transfer-to'), String(c.to));
    await page.click(tid('transfer'));
    return {};
  },
  async tone_level(c, t) {
    await until(() => window.helplineToneLevel && window.helplineToneLevel(1000) !== null, null, t);
    const end = Date.now() + (c.window_ms || 0);
    let best = -Infinity;
    do {
      const db = await page.evaluate((hz) => window.helplineToneLevel(hz), c.hz);
      if (db !== null && db > best) best = db;
      if (Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    } while (Date.now() < end);
    return { db: isFinite(best) ? best : null };
  },
  async wrapup(c, t) {
    await page.waitForSelector(tid('wrapup-form'), { state: 'visible', timeout: t });
    const callId = await page.evaluate(() => window.helpline.state.wrapup.call_id);
    if (c.disposition) await page.selectOption(tid('disposition'), c.disposition);
    if (c.notes !== undefined) await page.fill(tid('notes'), c.notes);
    if (c.ticket && c.ticket.link) {
      await page.check(tid('ticket-link'));
      await page.selectOption(tid('ticket-link-select'), c.ticket.link);
    } else if (c.ticket && c.ticket.create) {
      const k = c.ticket.create;
      await page.check(tid('ticket-create'));
      await page.fill(tid('ticket-subject'), k.subject || '');
      if (k.category) await page.fill(tid('ticket-category'), k.category);
      if (k.priority) await page.selectOption(tid('ticket-priority'), k.priority);
    }
    await page.click(tid('submit-wrapup'));
    const saved = await until((id) => {
      const h = window.helpline;
      if (h.lastSaved && h.lastSaved.call_id === id) return h.lastSaved;
      const err = document.getElementById('wrapup-error').textContent.trim();
      return err ? { error: err } : null;
    }, callId, t);
    if (saved.error) return { ok: false, error: saved.error };
    return { interaction_id: saved.interaction_id, ticket: saved.ticket };
  },
  async stats() {
    return {
      answered: Number(await page.textContent(tid('stats-answered'))),
      aht: (await page.textContent(tid('stats-aht'))).trim(),
    };
  },
  async click(c) { await page.click(sel(c)); return {}; },
  async press(c) { await page.keyboard.press(c.key); return {}; },
  async fill(c) { await page.fill(sel(c), String(c.value)); return {}; },
  async text(c) { return { text: (await page.textContent(sel(c))).trim() }; },
  async screenshot(c) { await page.screenshot({ path: c.path, fullPage: !!c.full_page }); return { path: c.path }; },
  async viewport(c) { await page.setViewportSize({ width: c.width, height: c.height }); return {}; },
  async reload(c, t) {
    await page.reload();
    if (/\/agent/.test(page.url())) return { state: await agentState(t) };
    return { url: page.url() };
  },
  async eval(c) { return { value: await page.evaluate(c.js) }; },
  async console_errors() { return { console_errors: allErrors.slice() }; },
};

async function handle(line) {
  let c;
  try { c = JSON.parse(line); } catch (e) { return { ok: false, error: 'bad JSON: ' + e.message }; }
  if (c.cmd === 'quit') return null;
  const f = commands[c.cmd];
  if (!f) return { ok: false, error: 'unknown cmd ' + c.cmd };
  try {
    const r = await f(c, c.timeout_ms || DEFAULT_TIMEOUT);
    return { ok: true, ...r };
  } catch (e) {
    return { ok: false, error: String(e && e.message ? e.message.split('\n')[0] : e) };
  }
}

async function main() {
  try {
    await launch();
  } catch (e) {
    out({ ok: false, error: 'launch failed: ' + e.message });
    process.exit(1);
  }
  out({ ok: true, ready: true, browser: browser.version() });
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    if (!line.trim()) continue;
    const reply = await handle(line);
    if (reply === null) break;
    if (fresh.length && !reply.console_errors) reply.console_errors = fresh;
    fresh = [];
    out(reply);
  }
  await browser.close().catch(() => {});
  out({ ok: true, bye: true });
  process.exit(0);
}

main();
