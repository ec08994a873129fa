// helpline reports: a period form, GET /api/reports/<name>?from&to&interval, a table and SVG charts
// (chart.js). Report JSON: {columns:[name...], rows:[[...]...], chart:{kind, x, series:[name...]}|null}
// (see "Report JSON" in CONTRACTS.md). Column names ending in _secs are seconds, in _ratio
// fractions 0..1. The page state lives in the URL (?report=&from=&to=&interval=). With no
// interval the server reads the range in its own (hours for a day, days for a month). Runs of
// empty intervals are folded into one row (and one chart point) so the calls stand out.
'use strict';
(function () {
  const { el, $ } = H;
  const REPORTS = [
    ['volume', 'Call volume', 'Calls received, answered and abandoned per interval.', ['line', 'bar']],
    ['by_queue', 'By queue', 'Speed of answer (ASA) and average handle time (AHT) per queue.', ['bar']],
    ['by_call_type', 'By call type', 'Speed of answer and handle time per call type.', ['bar']],
    ['by_source', 'By source', 'Where calls came from.', ['pie']],
    ['service_level', 'Service level', 'Share of calls answered within the queue\u2019s threshold, per interval.', ['line']],
    ['agents', 'Agents', 'Answered calls, talk and handle time, occupancy and not-ready time per agent.', []],
    ['tickets', 'Tickets', 'First-contact resolution, time to resolve and survey scores.', []],
    ['ivr_dropout', 'IVR drop-out', 'Callers who hung up in the IVR, by menu node.', ['bar']],
  ];
  const ACRONYM = { asa: 'ASA', aht: 'AHT', fcr: 'FCR', sl: 'SL', ivr: 'IVR', id: 'ID' };
  let current = 'volume';
  let seq = 0;

  const isSecs = (c) => /_secs$/.test(c);
  const isRatio = (c) => /_ratio$/.test(c);
  function label(col) {
    const words = String(col).replace(/_(secs|ratio)$/, '').split('_');
    const text = words.map((w, i) => ACRONYM[w] || (i ? w : w.charAt(0).toUpperCase() + w.slice(1))).join(' ');
    return isRatio(col) && ['abandon', 'dropout'].includes(words.join('_')) ? text + ' rate' : text;
  }
  function fmtCell(col, v) {
    if (v === null || v === undefined || v === '') return '\u2014';
    if (typeof v !== 'number') return String(v);
    if (isSecs(col)) return H.dur(v);
    if (isRatio(col)) return H.pct(v, 1);
    return v.toLocaleString(undefined, { maximumFractionDigits: 2 });
  }
  function axisFormat(cols) {
    if (cols.length && cols.every(isSecs)) return (v) => H.dur(v);
    if (cols.length && cols.every(isRatio)) return (v) => H.pct(v);
    return (v) => (v === null || v === undefined ? '\u2014' : Number(v).toLocaleString(undefined, { maximumFractionDigits: 2 }));
  }

  function axisTitle(cols) {
    if (cols.every(isSecs)) return 'time (m:ss)';
    if (cols.every(isRatio)) return 'per cent';
    return 'calls';
  }

  const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  function setRange(daysBack) {
    const to = new Date();
    if (daysBack === 1) to.setDate(to.getDate() - 1);
    const from = new Date(to);
    if (daysBack > 1) from.setDate(from.getDate() - (daysBack - 1));
    $('#from').value = iso(from);
    $('#to').value = iso(to);
    $('#interval').value = ''; // by range: the server picks hours for a day, days for a month
  }

  function query() {
    const q = { from: $('#from').value, to: $('#to').value };
    if ($('#interval').value) q.interval = $('#interval').value;
    return new URLSearchParams(q).toString();
  }

  // In reports by interval, runs of two or more empty intervals (every number 0 or missing)
  // become one row labelled "first \u2013 last" with .folded = how many; the table and the charts
  // show the result. Other reports (by queue, agent...) are shown as they are.
  function fold(data) {
    const cols = data.columns || [];
    const xi = Math.max(0, cols.indexOf(data.chart ? data.chart.x : cols[0]));
    const rows = data.rows || [];
    if (cols[xi] !== 'interval') return Object.assign({}, data, { xi });
    const numeric = cols.map((_, i) => i !== xi && rows.some((r) => typeof r[i] === 'number'));
    const empty = (r) => numeric.every((isNum, i) => !isNum || r[i] === 0 || r[i] === null || r[i] === undefined);
    const out = [];
    for (let i = 0; i < rows.length;) {
      let j = i;
      while (j < rows.length && empty(rows[j])) j++;
      if (j - i >= 2) {
        // 0 where every folded row said 0 (no calls), so lines come down to it; else missing.
        const row = cols.map((_, c) => (numeric[c] && rows.slice(i, j).every((r) => r[c] === 0) ? 0 : null));
        row[xi] = `${rows[i][xi]} \u2013 ${rows[j - 1][xi]}`;
        row.folded = j - i;
        out.push(row);
        i = j;
      } else {
        out.push(rows[i]);
        i++;
      }
    }
    return Object.assign({}, data, { rows: out, xi });
  }

  function buildNav() {
    const nav = $('#report-nav');
    for (const [name, title] of REPORTS) {
      nav.appendChild(el('button', { type: 'button', 'data-report': name, 'data-testid': 'report-' + name, text: title,
        on: { click: () => { current = name; run(); } } }));
    }
  }

  async function run() {
    const [name, title, desc, extraKinds] = REPORTS.find((r) => r[0] === current) || REPORTS[0];
    for (const b of H.$$('#report-nav button')) b.setAttribute('aria-current', String(b.dataset.report === name));
    const err = $('#report-error');
    if (!$('#from').value || !$('#to').value) { err.textContent = 'Choose both dates'; return; }
    if ($('#from').value > $('#to').value) { err.textContent = '\u201cFrom\u201d is after \u201cTo\u201d'; return; }
    err.textContent = '';
    const q = query();
    history.replaceState(null, '', `/reports?report=${name}&${q}`);
    const url = `/api/reports/${name}?${q}`;
    H.setText($('#report-title'), title);
    H.setText($('#report-desc'), `${desc} ${$('#from').value} to ${$('#to').value}.`);
    const csv = $('#csv-link');
    csv.href = url + '&format=csv';
    csv.setAttribute('download', `${name}_${$('#from').value}_${$('#to').value}.csv`);
    const out = $('#report-out');
    out.classList.add('loading');
    out.setAttribute('aria-busy', 'true');
    const mine = ++seq;
    let data;
    try {
      data = await H.api('GET', url);
    } catch (e) {
      if (mine !== seq) return;
      if (e.status === 401) { location.href = '/'; return; }
      out.classList.remove('loading'); out.removeAttribute('aria-busy');
      H.clear($('#charts')); H.clear($('#report-table'));
      err.textContent = 'Could not load the report: ' + e.message;
      return;
    }
    if (mine !== seq) return; // a newer request is on its way
    out.classList.remove('loading'); out.removeAttribute('aria-busy');
    out.dataset.report = name;
    const shown = fold(data);
    renderTable(shown);
    renderCharts(shown, title, extraKinds);
    out.dataset.ready = String(mine);
  }

  function renderTable(data) {
    const cols = data.columns || [];
    const rows = data.rows || [];
    const numeric = cols.map((_, i) => rows.some((r) => typeof r[i] === 'number'));
    const t = H.clear($('#report-table'));
    t.appendChild(el('thead', {}, el('tr', {}, cols.map((c, i) => el('th', { scope: 'col', class: numeric[i] ? 'num' : null, text: label(c), title: c })))));
    const body = el('tbody', {});
    for (const r of rows) {
      if (r.folded) {
        body.appendChild(el('tr', { class: 'folded', 'data-testid': 'report-folded' },
          el('td', { text: r[data.xi] }),
          el('td', { colspan: Math.max(1, cols.length - 1), class: 'muted', text: `no calls (${r.folded} intervals folded)` })));
        continue;
      }
      body.appendChild(el('tr', { 'data-testid': 'report-row' }, cols.map((c, i) => el('td', { class: numeric[i] ? 'num' : null, text: fmtCell(c, r[i]) }))));
    }
    if (!rows.length) body.appendChild(el('tr', {}, el('td', { colspan: Math.max(1, cols.length), class: 'muted', text: 'No data for this period' })));
    t.appendChild(body);
  }

  function renderCharts(data, title, extraKinds) {
    const box = H.clear($('#charts'));
    const spec = data.chart;
    if (!spec || !spec.series || !spec.series.length) return;
    const cols = data.columns || [];
    const xi = cols.indexOf(spec.x);
    const rows = data.rows || [];
    let labels = rows.map((r) => String(xi >= 0 && r[xi] !== null ? r[xi] : ''));
    // "2025-01-06 09:00" ... on one day: label by time and put the day in the title.
    const first = labels.length && labels[0].includes(' ') ? labels[0].split(' ')[0] + ' ' : null;
    let day = '';
    if (first && labels.every((l) => l.startsWith(first))) {
      labels = labels.map((l) => l.split(first).join(''));
      day = ` (${first.trim()})`;
    }
    labels = labels.map((l, i) => (rows[i].folded ? l + ' (none)' : l));
    const series = spec.series.map((name) => {
      const i = cols.indexOf(name);
      return { name: label(name), values: rows.map((r) => (i >= 0 && typeof r[i] === 'number' ? r[i] : null)) };
    });
    const kinds = [...new Set([spec.kind, ...extraKinds.filter((k) => k !== 'pie' || spec.kind === 'pie')])].filter((k) => Chart[k]);
    const names = { line: 'trend', bar: 'comparison', pie: 'share' };
    for (const kind of kinds) {
      Chart[kind](box, { title: `${title}: ${names[kind]}${day}`, labels, series, format: axisFormat(spec.series),
        unit: spec.series.every(isSecs) ? 'secs' : null, yTitle: axisTitle(spec.series) });
    }
  }

  function init() {
    buildNav();
    const p = new URLSearchParams(location.search);
    if (p.get('report') && REPORTS.some((r) => r[0] === p.get('report'))) current = p.get('report');
    setRange(0);
    if (p.get('from')) $('#from').value = p.get('from');
    if (p.get('to')) $('#to').value = p.get('to');
    if (p.get('interval')) $('#interval').value = p.get('interval');
    $('#report-form').addEventListener('submit', (e) => { e.preventDefault(); run(); });
    // A new range is read in its own interval until one is chosen again.
    for (const id of ['#from', '#to']) $(id).addEventListener('change', () => { $('#interval').value = ''; });
    for (const b of H.$$('[data-range]')) b.addEventListener('click', () => { setRange(Number(b.dataset.range)); run(); });
    $('#logout').addEventListener('click', H.logout);
    H.requireLogin().then((me) => { $('#who').textContent = me.display_name || me.username; run(); });
  }
  init();
})();
