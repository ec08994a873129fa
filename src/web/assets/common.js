// helpline: helpers shared by every page (DOM building, formatting, JSON API calls, toasts and a
// WebSocket that reconnects with backoff). Exposes one global: window.H.
'use strict';
(function () {
  const H = (window.H = {});

  // el('div', {class: 'x', text: 'hi', 'data-testid': 't', on: {click: fn}}, child, [children], ...)
  // Text always goes in through textContent, never innerHTML: CRM data is untrusted.
  H.el = function (tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') e.textContent = String(v);
      else if (k === 'class') e.className = v;
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      else if (k === 'value') e.value = v;
      else if (k === 'style') e.style.cssText = v; // CSSOM: allowed under a strict CSP
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    H.append(e, kids);
    return e;
  };
  H.append = function (parent, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === null || k === undefined || k === false) continue;
      parent.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return parent;
  };
  H.clear = function (node) { while (node.firstChild) node.removeChild(node.firstChild); return node; };
  H.$ = (sel, root) => (root || document).querySelector(sel);
  H.$$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  H.setText = function (node, text) { const t = String(text); if (node.textContent !== t) node.textContent = t; };

  // 75 -> "1:15", 3725 -> "1:02:05"; null -> a dash.
  H.dur = function (secs) {
    if (secs === null || secs === undefined || !isFinite(secs)) return '\u2014';
    secs = Math.max(0, Math.round(secs));
    const h = Math.floor(secs / 3600), m = Math.floor((secs % 3600) / 60), s = secs % 60;
    const ss = String(s).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
  };
  H.pct = function (x, digits) {
    if (x === null || x === undefined || !isFinite(x)) return '\u2014';
    return (x * 100).toFixed(digits === undefined ? 0 : digits) + '%';
  };
  H.clock = function (ms) {
    if (!ms) return '\u2014';
    return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  };
  H.dateTime = function (ms) {
    if (!ms) return '\u2014';
    const d = new Date(ms);
    return d.toLocaleDateString([], { day: 'numeric', month: 'short' }) + ' ' + H.clock(ms);
  };
  H.ago = function (ms) {
    if (!ms) return '\u2014';
    const s = Math.max(0, (Date.now() - ms) / 1000);
    if (s < 90) return 'just now';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400 * 2) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' days ago';
  };
  H.stateLabel = function (state, reason) {
    const names = { available: 'Available', 'not-ready': 'Not ready', ringing: 'Ringing', 'on-call': 'On call',
      'wrap-up': 'Wrap-up', reserved: 'Reserved', 'logged-out': 'Logged out', on_call: 'On call', wrap_up: 'Wrap-up',
      not_ready: 'Not ready', logged_out: 'Logged out' };
    const n = names[state] || state || 'Unknown';
    return reason ? `${n} \u00b7 ${reason}` : n;
  };
  H.stateClass = (state) => 'st-' + String(state || 'logged-out').replace(/_/g, '-');

  // JSON API call. Resolves to the parsed body (or null); rejects with an Error carrying .status.
  H.api = async function (method, path, body) {
    const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (body !== undefined) { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body); }
    const r = await fetch(path, opts);
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = { raw: text }; }
    if (!r.ok) {
      const msg = (data && (data.error || data.message)) || `${r.status} ${r.statusText}`;
      const err = new Error(msg); err.status = r.status; err.data = data; throw err;
    }
    return data;
  };
  // Who is logged in; sends the browser to the login page when nobody is (401 only). When the
  // server cannot tell (503: its database is not answering; or no answer at all) the session is
  // kept and the question asked again, 1 s, 2 s, 4 s ... 10 s apart.
  H.requireLogin = async function () {
    let wait = 1000, told = false;
    for (;;) {
      try { return await H.api('GET', '/api/me'); } catch (e) {
        if (e.status === 401) { location.href = '/'; return new Promise(() => {}); }
        if (e.status !== undefined && e.status !== 503 && e.status !== 502 && e.status !== 504) throw e;
        if (!told) { told = true; H.toast('The server is not answering; retrying\u2026', 'bad'); }
      }
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 10000);
    }
  };
  H.logout = async function () {
    try { await H.api('POST', '/api/logout'); } catch (_) { /* going anyway */ }
    location.href = '/';
  };

  H.toast = function (msg, kind, ms) {
    let box = document.getElementById('toasts');
    if (!box) { box = H.el('div', { id: 'toasts', 'aria-live': 'polite' }); document.body.appendChild(box); }
    const t = H.el('div', { class: 'toast ' + (kind || ''), role: kind === 'bad' ? 'alert' : 'status', text: msg });
    box.appendChild(t);
    setTimeout(() => t.remove(), ms || (kind === 'bad' ? 8000 : 4000));
  };

  // A JSON WebSocket to `path` on this host that reconnects after a close with backoff
  // 0.5 s, 1 s, 2 s, 4 s, 5 s, 5 s ... (reset once a connection has delivered a message).
  // Pings every 25 s and drops a connection that has said nothing for 60 s.
  H.Socket = class {
    constructor(path, handlers) {
      this.path = path; this.h = handlers; this.delay = 500; this.ws = null; this.lastRx = 0;
      this.connect();
      setInterval(() => this.keepalive(), 25000);
    }
    url() { return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + this.path; }
    connect() {
      let opened = false, got = false;
      const ws = (this.ws = new WebSocket(this.url()));
      ws.onopen = () => { opened = true; this.lastRx = Date.now(); };
      ws.onmessage = (ev) => {
        this.lastRx = Date.now();
        if (!got) { got = true; this.delay = 500; }
        let msg; try { msg = JSON.parse(ev.data); } catch (_) { return; }
        if (msg.type === 'pong') return;
        try { this.h.onMessage(msg); } catch (e) { console.error('handler failed for', msg.type, e); }
      };
      ws.onclose = async () => {
        if (this.ws !== ws) return;
        this.ws = null;
        if (this.h.onDown) this.h.onDown();
        if (!opened) {
          // The upgrade was refused: maybe the session is gone.
          try { await H.api('GET', '/api/me'); } catch (e) { if (e.status === 401) { location.href = '/'; return; } }
        }
        const wait = this.delay;
        this.delay = Math.min(this.delay * 2, 5000);
        setTimeout(() => this.connect(), wait);
      };
    }
    keepalive() {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      if (Date.now() - this.lastRx > 60000) { ws.close(); return; }
      this.send({ type: 'ping' });
    }
    send(obj) {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
      this.ws.send(JSON.stringify(obj));
      return true;
    }
  };
})();
