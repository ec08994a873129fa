// helpline supervisor wallboard: renders `snapshot` messages from /ws/supervisor (see CONTRACTS.md)
// as queue tiles, totals, an agent table and the waiting callers, with the supervisor actions.
// Rows and tiles are keyed and updated in place (snapshots come up to 4x a second), so an open
// dropdown or a half-typed priority survives the next snapshot. Test hook: window.helplineBoard.
'use strict';
(function () {
  const { el, $ } = H;
  const board = (window.helplineBoard = { last: null, count: 0, connected: false });
  let rxAt = Date.now(); // when the last snapshot arrived (our clock)
  let offset = 0; // server clock minus ours, from snapshot.at_ms
  const serverNow = () => Date.now() + offset;
  const sinceRx = () => (Date.now() - rxAt) / 1000;
  const frac = (x) => (x === null || x === undefined ? null : x > 1 ? x / 100 : x); // 0.8 or 80 -> 0.8
  const STATE_KEYS = [['available', 'Available'], ['ringing', 'Ringing'], ['on_call', 'On call'], ['wrap_up', 'Wrap-up'], ['not_ready', 'Not ready']];

  async function act(path, body, done) {
    try {
      await H.api('POST', path, body);
      H.toast(done, 'ok');
    } catch (e) {
      H.toast(`${done.replace(/\.$/, '')} failed: ${e.message}`, 'bad');
    }
  }

  // Keeps tbody/container children in the order of `items`, creating and updating by key.
  function reconcile(parent, items, key, create, update) {
    const have = new Map();
    for (const c of Array.from(parent.children)) have.set(c.dataset.key, c);
    items.forEach((item, i) => {
      const k = String(key(item));
      let node = have.get(k);
      if (!node) { node = create(item); node.dataset.key = k; }
      have.delete(k);
      update(node, item);
      if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] || null);
    });
    for (const stale of have.values()) stale.remove();
  }

  // ---- queue tiles ----
  function queueLevel(q) {
    const t = q.thresholds || {};
    const wait = q.waiting ? q.longest_wait_secs + sinceRx() : 0;
    const sl = frac(q.service_level);
    let waitLvl = 'ok', slLvl = 'ok';
    if (t.alert_wait_secs && wait >= t.alert_wait_secs) waitLvl = 'alert';
    else if (t.warn_wait_secs && wait >= t.warn_wait_secs) waitLvl = 'warn';
    if (sl !== null && t.sl_alert !== undefined && sl < frac(t.sl_alert)) slLvl = 'alert';
    else if (sl !== null && t.sl_warn !== undefined && sl < frac(t.sl_warn)) slLvl = 'warn';
    const rank = { ok: 0, warn: 1, alert: 2 };
    return { wait, waitLvl, slLvl, level: rank[waitLvl] >= rank[slLvl] ? waitLvl : slLvl };
  }

  function metric(label, cls) {
    return el('div', { class: 'metric' }, el('div', { class: 'm-val num ' + cls }), el('div', { class: 'm-label', text: label }));
  }
  function createTile(q) {
    return el('article', { class: 'tile', 'data-testid': 'queue-tile', 'data-queue': q.name, 'aria-label': 'Queue ' + q.name },
      el('div', { class: 'tile-head' }, el('div', { class: 'tile-name', text: q.name }), el('div', { class: 'tile-status' })),
      el('div', { class: 'tile-main' },
        el('div', {}, el('div', { class: 'tile-waiting num', 'data-testid': 'queue-waiting' }), el('div', { class: 'tile-sub', text: 'waiting' })),
        el('div', { class: 'tile-sub' }, el('strong', { class: 'num q-longest', 'data-testid': 'queue-longest' }), 'longest wait')),
      el('div', { class: 'metrics' },
        metric('Service level', 'q-sl'), metric('ASA', 'q-asa'), metric('AHT', 'q-aht'),
        metric('Abandoned', 'q-abandon'), metric('Offered', 'q-offered'), metric('Answered', 'q-answered')),
      el('div', { class: 'statebar', 'aria-hidden': 'true' }),
      el('div', { class: 'statelegend' }));
  }
  function updateTile(node, q) {
    const lv = queueLevel(q);
    node.className = 'tile ' + lv.level;
    const status = { ok: 'OK', warn: 'Warning', alert: 'Alert' }[lv.level];
    H.setText(node.querySelector('.tile-status'), status);
    H.setText(node.querySelector('.tile-waiting'), q.waiting);
    H.setText(node.querySelector('.q-longest'), q.waiting ? H.dur(lv.wait) : '\u2014');
    const sl = node.querySelector('.q-sl');
    H.setText(sl, H.pct(frac(q.service_level)));
    sl.className = 'm-val num q-sl ' + lv.slLvl;
    H.setText(node.querySelector('.q-asa'), H.dur(q.asa_secs));
    H.setText(node.querySelector('.q-aht'), H.dur(q.aht_secs));
    H.setText(node.querySelector('.q-abandon'), H.pct(frac(q.abandon_rate), 1));
    H.setText(node.querySelector('.q-abandon').nextSibling, `Abandoned (${q.abandoned || 0})`);
    H.setText(node.querySelector('.q-offered'), q.offered || 0);
    H.setText(node.querySelector('.q-answered'), q.answered || 0);
    const a = q.agents || {};
    const staffed = STATE_KEYS.reduce((n, [k]) => n + (a[k] || 0), 0);
    const key = JSON.stringify(a);
    if (node.dataset.agents !== key) {
      node.dataset.agents = key;
      const bar = H.clear(node.querySelector('.statebar'));
      const legend = H.clear(node.querySelector('.statelegend'));
      for (const [k, label] of STATE_KEYS) {
        const n = a[k] || 0;
        if (staffed && n) bar.appendChild(el('span', { class: 'sb-' + k, style: `width:${(100 * n) / staffed}%` }));
        legend.appendChild(el('span', { 'data-state': k }, el('span', { class: 'dot sb-' + k }), label + ' ', el('b', { class: 'num', text: n })));
      }
      if (!staffed) legend.appendChild(el('span', { text: 'No agents logged in' }));
    }
  }

  // ---- totals ----
  function renderTotals(s) {
    const sum = (f) => s.queues.reduce((n, q) => n + (f(q) || 0), 0);
    const count = (st) => s.agents.filter((a) => String(a.state).replace(/_/g, '-') === st).length;
    H.setText($('#total-waiting'), sum((q) => q.waiting));
    const longest = Math.max(0, ...s.queues.filter((q) => q.waiting).map((q) => q.longest_wait_secs + sinceRx()));
    H.setText($('#total-longest'), longest ? H.dur(longest) : '\u2014');
    H.setText($('#total-available'), count('available'));
    H.setText($('#total-on-call'), count('on-call') + count('ringing'));
    H.setText($('#total-wrap-up'), count('wrap-up'));
    H.setText($('#total-not-ready'), count('not-ready'));
    H.setText($('#total-answered'), sum((q) => q.answered));
    H.setText($('#total-abandoned'), sum((q) => q.abandoned));
    // Overall SL weighted by answered calls where a queue reports one.
    let w = 0, v = 0;
    for (const q of s.queues) if (q.service_level !== null && q.service_level !== undefined) { const n = (q.answered || 0) + (q.abandoned || 0) || 1; w += n; v += n * frac(q.service_level); }
    H.setText($('#total-sl'), w ? H.pct(v / w) : '\u2014');
  }

  // ---- agents ----
  function createAgentRow(a) {
    const id = a.agent;
    const force = el('select', { 'aria-label': `Set state of ${a.name || id}`, 'data-testid': 'force-state' },
      el('option', { value: '', text: 'Set state\u2026' }),
      el('option', { value: 'available', text: 'Available' }),
      el('option', { value: 'not-ready', text: 'Not ready' }));
    force.addEventListener('change', () => {
      const st = force.value;
      force.value = '';
      if (!st) return;
      act(`/api/supervisor/agents/${encodeURIComponent(id)}/state`, st === 'not-ready' ? { state: st, reason: 'Set by supervisor' } : { state: st },
        `${a.name || id} set to ${H.stateLabel(st)}.`);
    });
    const logout = el('button', { type: 'button', class: 'btn-sm', 'data-testid': 'logout-agent', text: 'Log out' });
    let armed = null; // two clicks: the first arms the button for 4 s
    logout.addEventListener('click', () => {
      if (!armed) {
        logout.textContent = 'Confirm';
        logout.classList.add('confirm');
        armed = setTimeout(() => { armed = null; logout.textContent = 'Log out'; logout.classList.remove('confirm'); }, 4000);
        return;
      }
      clearTimeout(armed); armed = null;
      logout.textContent = 'Log out'; logout.classList.remove('confirm');
      act(`/api/supervisor/agents/${encodeURIComponent(id)}/logout`, {}, `${a.name || id} logged out.`);
    });
    const mon = ['listen', 'whisper', 'barge', 'stop'].map((mode) => {
      const b = el('button', { type: 'button', class: 'btn-sm', 'data-testid': mode, 'data-mode': mode, text: mode[0].toUpperCase() + mode.slice(1) });
      b.addEventListener('click', () => {
        const call = b.closest('tr').dataset.call;
        if (call) act(`/api/supervisor/calls/${encodeURIComponent(call)}/monitor`, { mode }, `${b.textContent} on ${a.name || id}'s call requested.`);
      });
      return b;
    });
    return el('tr', { 'data-testid': 'agent-row', 'data-agent': id },
      el('td', {}, el('div', { class: 'a-name' }), el('div', { class: 'a-id', text: id })),
      el('td', {}, el('span', { class: 'state-pill a-state' })),
      el('td', { class: 'num a-time' }),
      el('td', { class: 'a-reason' }),
      el('td', { class: 'a-call' }),
      el('td', { class: 'num a-answered' }),
      el('td', { class: 'num a-aht' }),
      el('td', { class: 'act' }, el('span', { class: 'group' }, force, logout), el('span', { class: 'group' }, mon)));
  }
  function updateAgentRow(tr, a) {
    H.setText(tr.querySelector('.a-name'), a.name || a.agent);
    const pill = tr.querySelector('.a-state');
    pill.className = 'state-pill a-state ' + H.stateClass(a.state);
    H.setText(pill, H.stateLabel(a.state));
    tr.className = String(a.state).replace(/_/g, '-');
    tr.dataset.state = a.state;
    tr.dataset.since = a.since_ms;
    tr.dataset.call = a.call_id || '';
    H.setText(tr.querySelector('.a-reason'), a.reason || '');
    H.setText(tr.querySelector('.a-call'), a.call_id ? (a.queue || 'call') : '');
    H.setText(tr.querySelector('.a-answered'), a.answered || 0);
    H.setText(tr.querySelector('.a-aht'), H.dur(a.aht_secs));
    for (const b of tr.querySelectorAll('[data-mode]')) b.disabled = !a.call_id;
    tr.querySelector('[data-testid="logout-agent"]').disabled = a.state === 'logged-out' || a.state === 'logged_out';
  }

  // ---- waiting callers ----
  function createCallerRow(c) {
    const prio = el('input', { type: 'number', min: 0, max: 100, 'aria-label': 'New priority', 'data-testid': 'priority-input' });
    const setPrio = el('button', { type: 'button', class: 'btn-sm', 'data-testid': 'set-priority', text: 'Set',
      on: { click: () => {
        if (prio.value === '') return prio.focus();
        act(`/api/supervisor/calls/${encodeURIComponent(c.call_id)}/priority`, { priority: Number(prio.value) }, 'Priority changed.');
        prio.value = '';
      } } });
    const move = el('select', { 'aria-label': 'Move to queue', 'data-testid': 'move-queue' });
    const doMove = el('button', { type: 'button', class: 'btn-sm', 'data-testid': 'move', text: 'Move',
      on: { click: () => {
        if (!move.value) return move.focus();
        act(`/api/supervisor/calls/${encodeURIComponent(c.call_id)}/move`, { queue: move.value }, `Caller moved to ${move.value}.`);
      } } });
    return el('tr', { 'data-testid': 'caller-row', 'data-call': c.call_id },
      el('td', { class: 'c-queue' }),
      el('td', { class: 'num waited' }),
      el('td', { class: 'num c-prio' }),
      el('td', { class: 'act' }, el('span', { class: 'group' }, prio, setPrio), el('span', { class: 'group' }, move, doMove)));
  }
  function updateCallerRow(tr, c, queues) {
    H.setText(tr.querySelector('.c-queue'), c.queue);
    H.setText(tr.querySelector('.c-prio'), c.priority);
    tr.dataset.waited = c.waited_secs;
    tr.dataset.queue = c.queue;
    const move = tr.querySelector('select');
    const names = queues.map((q) => q.name).filter((n) => n !== c.queue);
    if (move.dataset.names !== names.join('\n')) {
      const keep = move.value;
      move.dataset.names = names.join('\n');
      H.clear(move).appendChild(el('option', { value: '', text: 'Queue\u2026' }));
      for (const n of names) move.appendChild(el('option', { value: n, text: n }));
      move.value = names.includes(keep) ? keep : '';
    }
  }

  function render(s) {
    reconcile($('#tiles'), s.queues, (q) => q.name, createTile, updateTile);
    renderTotals(s);
    const order = (a) => (a.state === 'logged-out' || a.state === 'logged_out' ? 1 : 0);
    const agents = s.agents.slice().sort((a, b) => order(a) - order(b) || String(a.name || a.agent).localeCompare(String(b.name || b.agent)));
    reconcile($('#agents-body'), agents, (a) => a.agent, createAgentRow, updateAgentRow);
    const active = s.agents.filter((a) => order(a) === 0).length;
    H.setText($('#agents-count'), `${active} logged in \u00b7 ${s.agents.length} total`);
    const callers = s.callers.slice().sort((a, b) => b.waited_secs - a.waited_secs);
    reconcile($('#callers-body'), callers, (c) => c.call_id, createCallerRow, (tr, c) => updateCallerRow(tr, c, s.queues));
    $('#callers-empty').hidden = callers.length > 0;
    H.setText($('#callers-count'), callers.length ? `${callers.length} waiting` : '');
    tick();
  }

  // Local ticking between snapshots: time in state, waited, clocks, staleness.
  function tick() {
    const s = board.last;
    $('#clock').textContent = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    const up = $('#updated');
    if (s) {
      const age = sinceRx();
      up.textContent = age > 5 ? `No update for ${H.dur(age)}` : 'Live';
      up.classList.toggle('late', age > 5);
    }
    for (const tr of document.querySelectorAll('#agents-body tr')) {
      const since = Number(tr.dataset.since);
      H.setText(tr.querySelector('.a-time'), since ? H.dur((serverNow() - since) / 1000) : '\u2014');
    }
    const th = new Map((s ? s.queues : []).map((q) => [q.name, q.thresholds || {}]));
    for (const tr of document.querySelectorAll('#callers-body tr')) {
      const w = Number(tr.dataset.waited) + sinceRx();
      const cell = tr.querySelector('.waited');
      H.setText(cell, H.dur(w));
      const t = th.get(tr.dataset.queue) || {};
      cell.className = 'num waited ' + (t.alert_wait_secs && w >= t.alert_wait_secs ? 'alert' : t.warn_wait_secs && w >= t.warn_wait_secs ? 'warn' : '');
    }
    if (s) for (const tile of document.querySelectorAll('#tiles .tile')) {
      const q = s.queues.find((x) => x.name === tile.dataset.key);
      if (q) updateTile(tile, q);
    }
  }

  function setWall(on) {
    document.body.classList.toggle('wall', on);
    $('#wall-toggle').setAttribute('aria-pressed', String(on));
    try { localStorage.setItem('helpline-wall', on ? '1' : '0'); } catch (_) { /* private mode */ }
  }

  let wall = new URLSearchParams(location.search).get('wall') === '1';
  try { wall = wall || localStorage.getItem('helpline-wall') === '1'; } catch (_) { /* private mode */ }
  setWall(wall);
  $('#wall-toggle').addEventListener('click', () => setWall(!document.body.classList.contains('wall')));
  $('#logout').addEventListener('click', H.logout);
  setInterval(tick, 1000);
  tick();

  H.requireLogin().then((me) => {
    $('#who').textContent = me.display_name || me.username;
    if (me.role !== 'supervisor' && me.role !== 'admin') {
      const b = $('#connection-banner');
      b.className = 'banner bad';
      H.clear(b).append('The wallboard needs a supervisor account. ', H.el('a', { href: '/agent', text: 'Go to the agent page' }));
      b.hidden = false;
      return;
    }
    new H.Socket('/ws/supervisor', {
      onMessage(m) {
        if (m.type !== 'snapshot') return;
        rxAt = Date.now();
        if (m.at_ms) offset = m.at_ms - rxAt;
        m.queues = m.queues || []; m.agents = m.agents || []; m.callers = m.callers || [];
        board.last = m; board.count++; board.connected = true;
        $('#connection-banner').hidden = true;
        render(m);
      },
      onDown() { board.connected = false; $('#connection-banner').hidden = false; },
    });
  });
})();
