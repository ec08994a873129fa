// helpline agent softphone: state, ringing, in-call controls, wrap-up, stats and queues, driven by
// the /ws/agent socket (see CONTRACTS.md). Every `hello` rebuilds the page from scratch.
// Test hooks: window.helpline = {state, lastOffer, pc, remoteStream, lastSaved}.
'use strict';
(function () {
  const { el, $ } = H;
  const hl = (window.helpline = window.helpline || {});
  const IDLE = new Set(['available', 'not-ready', 'logged-out']);
  const S = (hl.state = {
    connected: false, agent: null, display_name: '', state: 'logged-out', reason: null, since_ms: Date.now(),
    offer: null, call: null, wrapup: null, dispositions: [], reasons: [], stats: null, device: 'browser',
    queues: [], chosen: {}, lastSaved: null, lastError: null,
    notice: '', // why the last request or offer came to nothing, shown on the idle card
  });
  hl.lastOffer = null;
  hl.lastSaved = null;
  let sock = null;
  let answering = false, ringCallId = null, formCallId = null, savingCallId = null;

  const draftKey = (id) => 'helpline-notes:' + id;
  const getDraft = (id) => { try { return sessionStorage.getItem(draftKey(id)) || ''; } catch (_) { return ''; } };
  const setDraft = (id, v) => { try { sessionStorage.setItem(draftKey(id), v); } catch (_) { /* private mode */ } };
  const dropDraft = (id) => { try { sessionStorage.removeItem(draftKey(id)); } catch (_) { /* private mode */ } };
  const send = (msg) => {
    if (sock && sock.send(msg)) return true;
    H.toast('Not connected: try again in a moment', 'bad');
    return false;
  };

  // A call whose server offer this page is not running yet (a new audio leg after a reload):
  // answer it at once — the agent already answered the call.
  function reattach(c) {
    if (!c || !c.webrtc || !c.webrtc.sdp || RTC.hasSdp(c.call_id, c.webrtc.sdp)) return;
    RTC.prepare(c);
    RTC.answerSdp(c.call_id).then(
      (sdp) => send({ type: 'answer', call_id: c.call_id, sdp }),
      (e) => console.warn('audio re-attach failed:', e.message));
  }

  // ---- messages from the server ----
  const on = {
    hello(m) {
      Object.assign(S, {
        connected: true, agent: m.agent, display_name: m.display_name || m.agent, state: m.state, reason: m.reason || null,
        since_ms: m.since_ms || Date.now(), offer: m.offer || null, call: m.call || null, wrapup: m.wrapup || null,
        dispositions: m.dispositions || [], reasons: m.not_ready_reasons || [], stats: m.stats || null,
        device: m.device || 'browser',
      });
      if (S.offer) { S.offer._rx = Date.now(); hl.lastOffer = S.offer; RTC.prepare(S.offer); }
      else if (!S.call) RTC.close();
      else if (S.device === 'browser' && !RTC.has(S.call.call_id)) {
        // Reloaded mid-call: the call goes on at the server; ask for a new audio leg.
        send({ type: 'reoffer', call_id: S.call.call_id });
      }
      savingCallId = null;
      formCallId = null;
      shownPop = null;
      buildStateSelect();
      render();
    },
    state(m) {
      Object.assign(S, { state: m.state, reason: m.reason || null, since_ms: m.since_ms || Date.now() });
      if (IDLE.has(m.state)) { S.offer = null; S.call = null; S.wrapup = null; }
      render();
    },
    offer(m) {
      m._rx = Date.now();
      S.notice = '';
      S.offer = m; S.call = null; S.wrapup = null;
      hl.lastOffer = m;
      RTC.prepare(m);
      render();
    },
    offer_withdrawn(m) {
      if (!S.offer || S.offer.call_id !== m.call_id) return;
      S.offer = null;
      RTC.close(m.call_id);
      // The server says why in words (`text`); `reason` is its code.
      S.notice = 'Call withdrawn: ' + (m.text || m.reason || 'no reason given');
      H.toast(S.notice);
      render();
    },
    call(m) {
      if (S.offer && S.offer.call_id === m.call_id) S.offer = null;
      if (S.wrapup && S.wrapup.call_id === m.call_id) S.wrapup = null;
      S.call = m;
      reattach(m);
      RTC.setMuted(!!m.muted);
      render();
    },
    call_ended(m) {
      if (S.call && S.call.call_id === m.call_id) S.call = null;
      if (S.offer && S.offer.call_id === m.call_id) S.offer = null;
      RTC.close(m.call_id);
      H.toast(m.by === 'caller' ? `The caller hung up (${H.dur(m.talk_secs)})` : `Call ended (${H.dur(m.talk_secs)})`);
      render();
    },
    wrapup(m) {
      if (S.call && S.call.call_id === m.call_id) S.call = null;
      S.wrapup = m;
      render();
    },
    wrapup_saved(m) {
      S.lastSaved = hl.lastSaved = m;
      if (S.wrapup && S.wrapup.call_id === m.call_id) S.wrapup = null;
      if (savingCallId === m.call_id) savingCallId = null;
      dropDraft(m.call_id);
      H.toast('Wrap-up saved' + (m.ticket ? ` \u00b7 ticket ${m.ticket.number}` : ''), 'ok');
      render();
    },
    queues(m) { S.queues = m.queues || []; renderQueues(); },
    stats(m) { S.stats = m; renderStats(); },
    error(m) {
      S.lastError = m;
      if (m.request === 'set_state') S.notice = m.message;
      H.toast(m.message || 'The server refused that', 'bad');
      if (m.request === 'wrapup') { savingCallId = null; $('#wrapup-error').textContent = m.message; }
      if (m.request === 'answer') answering = false;
      render();
    },
  };

  // ---- header and state selector ----
  function buildStateSelect() {
    const sel = $('#state-select');
    H.clear(sel);
    sel.appendChild(el('option', { value: '', disabled: true, text: 'Logged out' }));
    sel.appendChild(el('option', { value: 'available', text: 'Available' }));
    if (S.reasons.length) for (const r of S.reasons) sel.appendChild(el('option', { value: 'not-ready:' + r, text: 'Not ready \u2014 ' + r }));
    else sel.appendChild(el('option', { value: 'not-ready', text: 'Not ready' }));
    sel.appendChild(el('option', { value: 'busy', disabled: true, text: 'Busy' }));
  }
  function syncStateSelect() {
    const sel = $('#state-select');
    let v = 'busy';
    if (S.state === 'available') v = 'available';
    else if (S.state === 'logged-out') v = '';
    else if (S.state === 'not-ready') {
      v = S.reason ? 'not-ready:' + S.reason : (S.reasons.length ? 'not-ready:' + S.reasons[0] : 'not-ready');
      if (!Array.from(sel.options).some((o) => o.value === v)) sel.insertBefore(el('option', { value: v, text: H.stateLabel('not-ready', S.reason) }), sel.lastChild);
    }
    const busy = sel.querySelector('option[value="busy"]');
    if (busy) busy.textContent = H.stateLabel(S.state);
    sel.value = v;
    sel.disabled = !S.connected || !IDLE.has(S.state);
  }
  function renderHeader() {
    H.setText($('#agent-name'), S.display_name || '');
    const pill = $('#state-pill');
    pill.className = 'state-pill ' + H.stateClass(S.state);
    H.setText(pill, S.connected ? H.stateLabel(S.state, S.reason) : 'Offline');
    pill.setAttribute('data-state', S.state);
    syncStateSelect();
    H.setText($('#device-note'), S.device === 'phone' ? 'Audio: desk phone' : 'Audio: this browser');
    $('#connection-banner').hidden = S.connected;
  }

  // ---- left column panels ----
  function render() {
    renderHeader();
    const mode = S.offer ? 'ringing' : S.call ? 'call' : S.wrapup ? 'wrapup' : 'idle';
    $('#idle-panel').hidden = mode !== 'idle';
    $('#ringing-panel').hidden = mode !== 'ringing';
    $('#call-panel').hidden = mode !== 'call';
    $('#wrapup-panel').hidden = mode !== 'wrapup';
    if (mode === 'idle') renderIdle();
    if (mode === 'ringing') renderRinging();
    if (mode === 'call') renderCall();
    if (mode === 'wrapup') renderWrapup();
    if (mode !== 'ringing') ringCallId = null;
    RTC.ring(mode === 'ringing' && !answering && $('#ring-sound').checked);
    renderPop();
    renderStats();
    renderQueues();
    tick();
  }

  function renderIdle() {
    const p = $('#idle-panel');
    p.className = 'card idle-card is-' + S.state;
    const t = {
      available: ['Waiting for calls', 'You are available. Calls will ring here.'],
      'not-ready': ['Not ready', (S.reason ? S.reason + '. ' : '') + 'Choose Available when you are ready to take calls.'],
      'logged-out': ['Logged out', 'Choose Available to start taking calls.'],
      reserved: ['Reserved', 'A call is being prepared for you.'],
    }[S.state] || [H.stateLabel(S.state), ''];
    if (!S.connected) { t[0] = 'Connecting\u2026'; t[1] = ''; }
    H.setText($('#idle-title'), t[0]);
    H.setText($('#idle-text'), t[1]);
    H.setText($('#idle-note'), S.notice || '');
  }

  function renderRinging() {
    const o = S.offer;
    if (ringCallId !== o.call_id) {
      ringCallId = o.call_id;
      answering = false;
      $('#ring-warn').textContent = '';
      setTimeout(() => { if (!$('#ringing-panel').hidden) $('#answer').focus(); }, 0);
    }
    H.setText($('#ring-queue'), o.queue ? '\u00b7 ' + o.queue : '');
    H.setText($('#ring-caller-name'), Pop.displayName(o.pop, S.chosen[o.call_id]));
    Pop.showNumber($('#ring-caller-number'), o.pop, o.caller);
    $('#answer').disabled = answering;
    $('#reject').disabled = answering;
    H.setText($('#answer'), answering ? 'Answering\u2026' : 'Answer ');
    if (!answering) $('#answer').appendChild(el('kbd', { text: 'Enter' }));
  }

  function renderCall() {
    const c = S.call;
    H.setText($('#call-title'), 'On call' + (c.queue ? ' \u00b7 ' + c.queue : ''));
    H.setText($('#call-caller-name'), Pop.displayName(c.pop, S.chosen[c.call_id]));
    Pop.showNumber($('#call-caller-number'), c.pop, c.caller);
    $('#held-flag').hidden = !c.held;
    $('#muted-flag').hidden = !c.muted;
    $('#hold').setAttribute('aria-pressed', String(!!c.held));
    H.setText($('#hold'), c.held ? 'Resume' : 'Hold');
    $('#mute').setAttribute('aria-pressed', String(!!c.muted));
    H.setText($('#mute'), c.muted ? 'Unmute' : 'Mute');
    let note = '';
    if (S.device === 'browser' && !RTC.has(c.call_id)) note = 'No audio in this tab (page reloaded during the call)';
    H.setText($('#audio-note'), note);
    const notes = $('#call-notes');
    if (notes.dataset.call !== c.call_id) { notes.dataset.call = c.call_id; notes.value = getDraft(c.call_id); }
    const dl = $('#queue-names');
    const names = S.queues.map((q) => q.name).join('\n');
    if (dl.dataset.names !== names) {
      dl.dataset.names = names;
      H.clear(dl);
      for (const q of S.queues) dl.appendChild(el('option', { value: q.name }));
    }
  }

  function renderWrapup() {
    const w = S.wrapup;
    H.setText($('#wrapup-title'), w.required ? 'Wrap-up (required)' : 'Wrap-up');
    if (formCallId !== w.call_id) {
      formCallId = w.call_id;
      const form = $('#wrapup-form');
      form.reset();
      const disp = H.clear($('#disposition'));
      disp.appendChild(el('option', { value: '', text: 'Choose an outcome\u2026' }));
      for (const d of S.dispositions) disp.appendChild(el('option', { value: d.code, text: d.label || d.code }));
      $('#notes').value = getDraft(w.call_id);
      const tickets = Pop.sortTickets((w.pop && w.pop.tickets) || []);
      const link = H.clear($('#ticket-link-select'));
      for (const t of tickets) link.appendChild(el('option', { value: t.number, text: `${t.number} \u2014 ${t.subject} (${t.status})` }));
      $('[data-testid="ticket-link"]').disabled = !tickets.length;
      const cats = H.clear($('#ticket-categories'));
      for (const c of new Set(tickets.map((t) => t.category).filter(Boolean))) cats.appendChild(el('option', { value: c }));
      $('#wrapup-error').textContent = '';
      syncTicketMode();
    }
    const saving = savingCallId === w.call_id;
    $('#submit-wrapup').disabled = saving;
    $('#submit-wrapup').firstChild.textContent = saving ? 'Saving\u2026 ' : 'Save wrap-up ';
  }

  // What the chosen outcome does to a linked or created ticket.
  const FATE = { resolved: 'resolved', escalated: 'escalated' };
  const ticketFate = (disposition) => FATE[disposition] || 'open';
  const FATE_WORDS = {
    resolved: 'The ticket will be resolved (closed).',
    escalated: 'The ticket will be escalated to the next tier and stay open.',
    open: 'The ticket stays open. Choose the outcome \u201cResolved\u201d to close it.',
  };

  function syncTicketMode() {
    const mode = ($('input[name="ticket-mode"]:checked') || {}).value || 'none';
    $('#ticket-link-box').hidden = mode !== 'link';
    $('#ticket-create-box').hidden = mode !== 'create';
    const fate = $('#ticket-fate');
    fate.hidden = mode === 'none';
    H.setText(fate, FATE_WORDS[ticketFate($('#disposition').value)]);
  }

  // ---- screen-pop (right column) ----
  let shownPop = null;
  function renderPop() {
    const ctx = S.offer || S.call || S.wrapup;
    const root = $('#pop');
    if (!ctx) { root.classList.toggle('stale', !!shownPop); return; }
    root.classList.remove('stale');
    const chosen = S.chosen[ctx.call_id] || null;
    const key = JSON.stringify([ctx.call_id, ctx.pop, chosen && chosen.id]);
    if (key === shownPop) return;
    shownPop = key;
    Pop.render(root, ctx.pop, {
      chosen,
      onChoose: (c) => { if (c) S.chosen[ctx.call_id] = c; else delete S.chosen[ctx.call_id]; render(); },
    });
  }

  function renderStats() {
    const st = S.stats || {};
    H.setText($('#stat-answered'), st.answered_today || 0);
    H.setText($('#stat-aht'), H.dur(st.aht_secs));
    H.setText($('#stat-talk'), H.dur(st.talk_secs_today || 0));
  }

  function renderQueues() {
    const ul = $('#queue-list');
    const key = JSON.stringify(S.queues);
    if (ul.dataset.key === key) return;
    ul.dataset.key = key;
    H.clear(ul);
    if (!S.queues.length) { ul.appendChild(el('li', { class: 'muted small', text: 'No queue data yet' })); return; }
    for (const q of S.queues) {
      ul.appendChild(el('li', { 'data-testid': 'queue-row', 'data-queue': q.name },
        el('span', {}, el('strong', { text: q.name }),
          q.waiting ? el('span', { class: 'small muted', text: ` \u00b7 longest ${H.dur(q.longest_wait_secs)}` }) : null),
        el('span', { class: 'q-wait num' + (q.waiting ? ' has-waiting' : ''), 'data-testid': 'queue-waiting',
          'aria-label': `${q.waiting} waiting`, text: q.waiting })));
    }
  }

  // ---- clocks ----
  function tick() {
    const now = Date.now();
    H.setText($('#state-timer'), H.dur((now - S.since_ms) / 1000));
    const waited = waitedSecs(now);
    const chip = $('#pop [data-testid="pop-wait"]');
    if (chip && waited !== null) H.setText(chip, H.dur(waited));
    if (S.offer) {
      const el2 = (now - S.offer._rx) / 1000;
      H.setText($('#ring-wait'), 'Waited ' + H.dur(waited));
      H.setText($('#ring-count'), S.offer.ring_secs ? 'Rings ' + H.dur(Math.max(0, S.offer.ring_secs - el2)) + ' more' : '');
      document.title = 'Ringing: ' + Pop.displayName(S.offer.pop, S.chosen[S.offer.call_id]) + ' \u00b7 helpline';
    } else {
      document.title = H.stateLabel(S.state) + ' \u00b7 helpline';
    }
    if (S.call) H.setText($('#call-timer'), H.dur((now - (S.call.answered_ms || now)) / 1000));
    if (S.wrapup) {
      const t = $('#wrapup-timer');
      if (S.wrapup.until_ms) {
        const left = (S.wrapup.until_ms - now) / 1000;
        const what = S.wrapup.required ? 'Wrap-up time left ' : 'Next call in ';
        H.setText(t, left > 0 ? what + H.dur(left) : (S.wrapup.required ? 'Wrap-up time is up: save to take calls' : 'Wrap-up time is up'));
        t.classList.toggle('urgent', left < 15);
      } else H.setText(t, S.wrapup.required ? 'Save the wrap-up to take calls' : '');
    }
  }

  // How long the caller has waited since the call arrived (IVR and queue included): counting
  // while the call rings, fixed once answered; null when no call is shown.
  function waitedSecs(now) {
    if (S.offer) return (S.offer.wait_secs || 0) + (now - S.offer._rx) / 1000;
    if (S.call && S.call.arrived_ms) return (S.call.answered_ms - S.call.arrived_ms) / 1000;
    return null;
  }

  // ---- actions ----
  async function onAnswer() {
    const o = S.offer;
    if (!o || answering) return;
    answering = true;
    render();
    const msg = { type: 'answer', call_id: o.call_id };
    if (o.webrtc && o.webrtc.sdp) {
      try {
        msg.sdp = await RTC.answerSdp(o.call_id);
      } catch (e) {
        answering = false;
        render();
        $('#ring-warn').textContent = 'Cannot answer: audio setup failed (' + (e.message || e.name) + '). Check the microphone.';
        return;
      }
    }
    if (!S.offer || S.offer.call_id !== o.call_id) { answering = false; return; } // withdrawn meanwhile
    if (!send(msg)) { answering = false; render(); }
  }
  function onReject() {
    const o = S.offer;
    if (!o || answering) return;
    if (send({ type: 'reject', call_id: o.call_id })) { answering = true; RTC.close(o.call_id); render(); }
  }

  function onWrapupSubmit(ev) {
    ev.preventDefault();
    const w = S.wrapup;
    if (!w || savingCallId === w.call_id) return;
    const err = $('#wrapup-error');
    const disposition = $('#disposition').value;
    if (!disposition) { err.textContent = 'Choose an outcome'; $('#disposition').focus(); return; }
    const mode = ($('input[name="ticket-mode"]:checked') || {}).value || 'none';
    let ticket = null;
    if (mode === 'link') {
      const n = $('#ticket-link-select').value;
      if (!n) { err.textContent = 'Choose a ticket to link'; return; }
      ticket = { link: n };
    } else if (mode === 'create') {
      const subject = $('#ticket-subject').value.trim();
      if (!subject) { err.textContent = 'Enter a subject for the new ticket'; $('#ticket-subject').focus(); return; }
      ticket = { create: { subject, category: $('#ticket-category').value.trim() || null, priority: $('#ticket-priority').value } };
    }
    err.textContent = '';
    // One control: the outcome also says what happens to the ticket (resolved, escalated;
    // any other outcome leaves it open).
    const msg = {
      type: 'wrapup', call_id: w.call_id, disposition, notes: $('#notes').value, ticket,
      resolution: ticketFate(disposition),
    };
    const chosen = S.chosen[w.call_id];
    if (chosen) msg.contact_id = chosen.id;
    if (send(msg)) { savingCallId = w.call_id; render(); }
  }

  function buildKeypad() {
    const pad = $('#keypad');
    for (const d of '123456789*0#') {
      pad.appendChild(el('button', { type: 'button', 'data-digit': d, 'data-testid': 'dtmf-' + d, 'aria-label': 'Tone ' + d, text: d,
        on: { click: () => { if (S.call) send({ type: 'dtmf', call_id: S.call.call_id, digits: d }); } } }));
    }
    pad.addEventListener('keydown', (e) => {
      if (!/^[0-9*#]$/.test(e.key)) return;
      e.preventDefault();
      const b = pad.querySelector(`[data-digit="${e.key}"]`);
      b.focus();
      b.click();
    });
  }

  function wire() {
    $('#answer').addEventListener('click', onAnswer);
    $('#reject').addEventListener('click', onReject);
    $('#hangup').addEventListener('click', () => { if (S.call) send({ type: 'hangup', call_id: S.call.call_id }); });
    $('#hold').addEventListener('click', () => { if (S.call) send({ type: 'hold', call_id: S.call.call_id, on: !S.call.held }); });
    $('#mute').addEventListener('click', () => {
      if (!S.call) return;
      const want = !S.call.muted;
      RTC.setMuted(want);
      send({ type: 'mute', call_id: S.call.call_id, on: want });
    });
    $('#keypad-toggle').addEventListener('click', () => {
      const pad = $('#keypad');
      pad.hidden = !pad.hidden;
      $('#keypad-toggle').setAttribute('aria-expanded', String(!pad.hidden));
      if (!pad.hidden) pad.querySelector('button').focus();
    });
    $('#transfer-form').addEventListener('submit', (e) => {
      e.preventDefault();
      if (!S.call) return;
      const kind = $('#transfer-kind').value;
      let to = $('#transfer-to').value.trim();
      if (kind === 'number') to = to.replace(/[\s().-]/g, '');
      if (!to || (kind === 'number' && !/^\+?[0-9]{3,}$/.test(to))) { H.toast('Enter a valid destination', 'bad'); $('#transfer-to').focus(); return; }
      if (send({ type: 'transfer', call_id: S.call.call_id, to: { [kind]: to } })) H.toast(`Transferring to ${kind} ${to}\u2026`);
    });
    $('#transfer-kind').addEventListener('change', () => {
      $('#transfer-to').setAttribute('list', $('#transfer-kind').value === 'queue' ? 'queue-names' : '');
      $('#transfer-to').setAttribute('type', $('#transfer-kind').value === 'number' ? 'tel' : 'text');
    });
    $('#call-notes').addEventListener('input', (e) => { if (S.call) setDraft(S.call.call_id, e.target.value); });
    $('#notes').addEventListener('input', (e) => { if (S.wrapup) setDraft(S.wrapup.call_id, e.target.value); });
    $('#wrapup-form').addEventListener('submit', onWrapupSubmit);
    $('#wrapup-form').addEventListener('change', (e) => { if (e.target.name === 'ticket-mode' || e.target.id === 'disposition') syncTicketMode(); });
    $('#wrapup-form').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); $('#wrapup-form').requestSubmit(); }
    });
    $('#state-select').addEventListener('change', (e) => {
      const v = e.target.value;
      const msg = v.startsWith('not-ready') ? { type: 'set_state', state: 'not-ready', reason: v.split(':').slice(1).join(':') || undefined }
        : { type: 'set_state', state: 'available' };
      send(msg);
      syncStateSelect(); // shows the real state until the server confirms
    });
    const ring = $('#ring-sound');
    try { ring.checked = localStorage.getItem('helpline-ring') !== 'off'; } catch (_) { /* private mode */ }
    ring.addEventListener('change', () => {
      try { localStorage.setItem('helpline-ring', ring.checked ? 'on' : 'off'); } catch (_) { /* private mode */ }
      render();
    });
    $('#logout').addEventListener('click', H.logout);
    // Enter answers and Escape rejects while ringing, unless the agent is typing somewhere.
    document.addEventListener('keydown', (e) => {
      if (!S.offer || e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
      const tag = (e.target && e.target.tagName) || '';
      if (['INPUT', 'TEXTAREA', 'SELECT'].includes(tag) || (e.target && e.target.isContentEditable)) return;
      if (e.key === 'Enter' && tag !== 'BUTTON' && tag !== 'A') { e.preventDefault(); onAnswer(); }
      else if (e.key === 'Escape') { e.preventDefault(); onReject(); }
    });
    buildKeypad();
    setInterval(tick, 500);
  }

  wire();
  buildStateSelect();
  render();
  H.requireLogin().then((me) => {
    if (me && !S.display_name) { S.display_name = me.display_name || me.username; renderHeader(); }
    sock = new H.Socket('/ws/agent', {
      onMessage: (m) => { const f = on[m.type]; if (f) f(m); },
      onDown: () => { S.connected = false; render(); },
    });
  });
})();
