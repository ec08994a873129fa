// helpline charts: a small SVG helper (no library). Exposes window.Chart with
//   Chart.line(container, spec), Chart.bar(container, spec)   grouped bars
//   Chart.pie(container, spec)
// spec: {title, labels: [x...], series: [{name, values: [number|null...]}], format: (v) => string,
//        unit: "secs" (axis steps in whole seconds/minutes/hours) | other, yTitle: "calls"}
// Each chart is a <figure> with an accessible <svg role="img"> (<title> + <desc>), a <title> on
// every point, bar and slice (hover text), axes with ticks and a title, and an HTML legend whose
// every entry is drawn like its series (colour, dash, marker). Lines that coincide stay visible:
// each series has its own dash and marker, and later ones are drawn narrower on top. Bars and
// each line's highest point carry their value, so the chart reads without the table.
'use strict';
(function () {
  const NS = 'http://www.w3.org/2000/svg';
  const PALETTE = ['#1f6fd1', '#e8833a', '#2ca58d', '#c0392b', '#8e6bd1', '#b8860b', '#5d6d7e', '#d6589b'];
  const W = 760, HGT = 320;
  // Per series: a dash pattern, a marker and a stroke width (narrower on top).
  const DASH = ['', '7 4', '2 3', '10 3 2 3'];
  const MARK = ['circle', 'square', 'triangle', 'diamond'];
  const WIDTH = [4, 2.5, 2, 1.6];
  const styleOf = (i) => ({ color: PALETTE[i % PALETTE.length], dash: DASH[i % DASH.length], mark: MARK[i % MARK.length], width: WIDTH[Math.min(i, WIDTH.length - 1)] });
  let uid = 0;

  function s(tag, attrs, ...kids) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) e.setAttribute(k, String(v));
    for (const k of kids.flat()) if (k !== null && k !== undefined) e.appendChild(typeof k === 'string' ? document.createTextNode(k) : k);
    return e;
  }
  const title = (text) => s('title', {}, String(text));
  const fmtDefault = (v) => (v === null || v === undefined ? '\u2014' : Number(v).toLocaleString(undefined, { maximumFractionDigits: 2 }));

  // Round axis from 0 (or the minimum) covering max, about 5 ticks: 1/2/2.5/5 x 10^k steps, or
  // whole seconds/minutes/hours when unit is "secs".
  const TIME_STEPS = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  function niceTicks(min, max, unit) {
    if (!(max > min)) max = min + 1;
    const raw = (max - min) / 5;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw);
    if (unit === 'secs') step = TIME_STEPS.find((st) => st >= raw) || Math.ceil(raw / 86400) * 86400;
    const lo = Math.floor(min / step) * step, hi = Math.ceil(max / step) * step;
    const ticks = [];
    for (let v = lo; v <= hi + step / 2; v += step) ticks.push(Math.round(v * 1e9) / 1e9);
    return ticks;
  }

  function frame(container, spec, kind) {
    const id = 'chart' + ++uid;
    const fig = document.createElement('figure');
    fig.className = 'chart chart-' + kind;
    fig.setAttribute('data-testid', 'chart-' + kind);
    const svg = s('svg', { viewBox: `0 0 ${W} ${HGT}`, role: 'img', 'aria-labelledby': `${id}-t ${id}-d`, preserveAspectRatio: 'xMidYMid meet' });
    const t = title(spec.title || 'Chart'); t.id = id + '-t';
    const d = s('desc', { id: id + '-d' }, describe(spec, kind));
    svg.appendChild(t); svg.appendChild(d);
    if (spec.title) {
      const cap = document.createElement('figcaption');
      cap.className = 'chart-title';
      cap.textContent = spec.title;
      fig.appendChild(cap);
    }
    fig.appendChild(svg);
    container.appendChild(fig);
    return { fig, svg };
  }

  function describe(spec, kind) {
    const f = spec.format || fmtDefault;
    const parts = (spec.series || []).map((se) => {
      const vals = se.values.filter((v) => v !== null && v !== undefined);
      if (!vals.length) return `${se.name}: no data`;
      return `${se.name}: from ${f(Math.min(...vals))} to ${f(Math.max(...vals))}`;
    });
    return `${kind} chart over ${(spec.labels || []).length} ${kind === 'pie' ? 'slices' : 'points'}. ${parts.join('; ')}.`;
  }

  function marker(shape, x, y, r, color, extra) {
    const a = Object.assign({ fill: color, stroke: '#fff', 'stroke-width': 1 }, extra || {});
    if (shape === 'square') return s('rect', Object.assign({ x: x - r, y: y - r, width: 2 * r, height: 2 * r }, a));
    if (shape === 'triangle') return s('path', Object.assign({ d: `M ${x} ${y - r * 1.2} L ${x + r * 1.1} ${y + r * 0.8} L ${x - r * 1.1} ${y + r * 0.8} Z` }, a));
    if (shape === 'diamond') return s('path', Object.assign({ d: `M ${x} ${y - r * 1.3} L ${x + r * 1.3} ${y} L ${x} ${y + r * 1.3} L ${x - r * 1.3} ${y} Z` }, a));
    return s('circle', Object.assign({ cx: x, cy: y, r }, a));
  }

  // kind "line": each entry is a short line with the series' dash and marker; else a square.
  function legend(fig, items, kind) {
    const ul = document.createElement('ul');
    ul.className = 'chart-legend';
    ul.setAttribute('data-testid', 'chart-legend');
    items.forEach((it, i) => {
      const li = document.createElement('li');
      li.setAttribute('data-series', it);
      const st = styleOf(i);
      if (kind === 'line') {
        li.appendChild(s('svg', { width: 30, height: 12, class: 'swatch-line', 'aria-hidden': 'true' },
          s('line', { x1: 1, x2: 29, y1: 6, y2: 6, stroke: st.color, 'stroke-width': Math.min(st.width, 3), 'stroke-dasharray': st.dash || null }),
          marker(st.mark, 15, 6, 3.5, st.color)));
      } else {
        const sw = document.createElement('span');
        sw.className = 'swatch';
        sw.style.background = st.color;
        li.appendChild(sw);
      }
      li.appendChild(document.createTextNode(it));
      ul.appendChild(li);
    });
    fig.appendChild(ul);
  }

  // Axes and grid shared by line and bar; returns scales. Long x labels are thinned and rotated.
  function axes(svg, spec, band) {
    const n = spec.labels.length;
    const maxLen = Math.max(1, ...spec.labels.map((l) => String(l).length));
    const every = Math.max(1, Math.ceil(n / 14));
    const m = { l: 70, r: 14, t: 22, b: 40 };
    const slot = (W - m.l - m.r) / Math.ceil(n / every);
    const rotate = maxLen * 7.5 > slot;
    if (rotate) { m.b = Math.min(120, 26 + maxLen * 4.6); m.l = Math.max(70, maxLen * 6.2 * 0.82 - 20); }
    const pw = W - m.l - m.r, ph = HGT - m.t - m.b;
    const all = spec.series.flatMap((se) => se.values).filter((v) => v !== null && v !== undefined && isFinite(v));
    const ticks = niceTicks(Math.min(0, ...all), Math.max(0, ...all), spec.unit);
    const y0 = ticks[0], y1 = ticks[ticks.length - 1];
    const y = (v) => m.t + ph - ((v - y0) / (y1 - y0)) * ph;
    const inset = 12;
    const x = band ? (i) => m.l + (pw * (i + 0.5)) / n : (i) => m.l + inset + (n > 1 ? ((pw - 2 * inset) * i) / (n - 1) : pw / 2 - inset);
    const f = spec.format || fmtDefault;
    const g = s('g', { class: 'axes' });
    for (const tv of ticks) {
      g.appendChild(s('line', { x1: m.l, x2: W - m.r, y1: y(tv), y2: y(tv), class: tv === 0 ? 'zero' : 'grid' }));
      g.appendChild(s('text', { x: m.l - 8, y: y(tv) + 4, 'text-anchor': 'end', class: 'tick' }, f(tv)));
    }
    spec.labels.forEach((lab, i) => {
      if (i % every) return;
      const tx = x(i), ty = HGT - m.b + 18;
      // On a line chart the end labels sit at the plot's edges: anchor them inwards.
      const anchor = band || n < 2 ? 'middle' : i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle';
      g.appendChild(s('text', rotate ? { x: tx, y: ty, 'text-anchor': 'end', transform: `rotate(-35 ${tx} ${ty})`, class: 'tick' }
        : { x: tx, y: ty, 'text-anchor': anchor, class: 'tick' }, String(lab)));
    });
    if (spec.yTitle) {
      const tx = 12, ty = m.t + ph / 2;
      g.appendChild(s('text', { x: tx, y: ty, 'text-anchor': 'middle', transform: `rotate(-90 ${tx} ${ty})`, class: 'axis-title' }, spec.yTitle));
    }
    g.appendChild(s('line', { x1: m.l, x2: m.l, y1: m.t, y2: m.t + ph, class: 'axis' }));
    g.appendChild(s('line', { x1: m.l, x2: W - m.r, y1: m.t + ph, y2: m.t + ph, class: 'axis' }));
    svg.appendChild(g);
    return { m, pw, ph, x, y, y0: Math.max(y0, Math.min(0, y1)), f };
  }

  function empty(svg) {
    svg.appendChild(s('text', { x: W / 2, y: HGT / 2, 'text-anchor': 'middle', class: 'empty' }, 'No data for this period'));
  }
  const hasData = (spec) => spec.labels.length && spec.series.some((se) => se.values.some((v) => v !== null && v !== undefined));

  const Chart = (window.Chart = { palette: PALETTE });

  Chart.line = function (container, spec) {
    const { fig, svg } = frame(container, spec, 'line');
    legend(fig, spec.series.map((se) => se.name), 'line');
    if (!hasData(spec)) return empty(svg), fig;
    const ax = axes(svg, spec, false);
    const peaks = [];
    spec.series.forEach((se, si) => {
      const st = styleOf(si);
      const g = s('g', { class: 'series', 'data-series': se.name });
      let seg = [];
      const flush = () => {
        if (seg.length > 1) g.appendChild(s('polyline', { points: seg.join(' '), fill: 'none', stroke: st.color, 'stroke-width': st.width, 'stroke-dasharray': st.dash || null, 'stroke-linejoin': 'round' }));
        seg = [];
      };
      se.values.forEach((v, i) => {
        if (v === null || v === undefined) return flush();
        seg.push(`${ax.x(i).toFixed(1)},${ax.y(v).toFixed(1)}`);
      });
      flush();
      const dots = spec.labels.length <= 60;
      let peak = -1;
      se.values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        if (peak < 0 || v > se.values[peak]) peak = i;
        const mk = marker(st.mark, ax.x(i), ax.y(v), dots ? 4 : 3, st.color);
        mk.appendChild(title(`${spec.labels[i]} \u00b7 ${se.name}: ${ax.f(v)}`));
        g.appendChild(mk);
      });
      svg.appendChild(g);
      if (peak >= 0) peaks.push({ x: ax.x(peak), y: ax.y(se.values[peak]), text: ax.f(se.values[peak]), color: st.color });
    });
    // Each line's highest value, written next to it (moved apart where they would overlap).
    peaks.sort((a, b) => a.y - b.y);
    let lastY = -Infinity;
    for (const p of peaks) {
      const y = Math.max(p.y - 9, lastY + 14);
      lastY = y;
      const anchor = p.x > W - 60 ? 'end' : 'start';
      const label = s('text', { x: p.x + (anchor === 'end' ? -8 : 8), y, 'text-anchor': anchor, class: 'value-label' }, p.text);
      label.style.fill = p.color; // CSSOM, allowed by the page's CSP; beats the class's colour
      svg.appendChild(label);
    }
    return fig;
  };

  Chart.bar = function (container, spec) {
    const { fig, svg } = frame(container, spec, 'bar');
    legend(fig, spec.series.map((se) => se.name), 'bar');
    if (!hasData(spec)) return empty(svg), fig;
    const ax = axes(svg, spec, true);
    const n = spec.labels.length, k = spec.series.length;
    const band = ax.pw / n, inner = band * 0.78, bw = inner / k;
    spec.series.forEach((se, si) => {
      const color = PALETTE[si % PALETTE.length];
      const g = s('g', { class: 'series', 'data-series': se.name });
      se.values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        const x0 = ax.x(i) - inner / 2 + si * bw;
        const ya = ax.y(Math.max(v, ax.y0)), yb = ax.y(Math.min(v, ax.y0));
        g.appendChild(s('rect', { x: x0 + 1, y: ya, width: Math.max(1, bw - 2), height: Math.max(0.5, yb - ya), fill: color, rx: 2 },
          title(`${spec.labels[i]} \u00b7 ${se.name}: ${ax.f(v)}`)));
        // The value on the bar, where there is room for it.
        if (bw >= 26) g.appendChild(s('text', { x: x0 + bw / 2, y: ya - 5, 'text-anchor': 'middle', class: 'value-label' }, ax.f(v)));
      });
      svg.appendChild(g);
    });
    return fig;
  };

  Chart.pie = function (container, spec) {
    const { fig, svg } = frame(container, spec, 'pie');
    const vals = (spec.series[0] ? spec.series[0].values : []).map((v) => Math.max(0, Number(v) || 0));
    const total = vals.reduce((a, b) => a + b, 0);
    const f = spec.format || fmtDefault;
    legend(fig, spec.labels.map((l, i) => `${l}: ${f(vals[i])} (${total ? ((100 * vals[i]) / total).toFixed(1) : 0}%)`));
    if (!total) return empty(svg), fig;
    const cx = W / 2, cy = HGT / 2, r = HGT / 2 - 18, ri = r * 0.55;
    let a0 = -Math.PI / 2;
    const pt = (a, rad) => `${(cx + rad * Math.cos(a)).toFixed(2)} ${(cy + rad * Math.sin(a)).toFixed(2)}`;
    vals.forEach((v, i) => {
      if (!v) return;
      const frac = v / total;
      const a1 = a0 + frac * 2 * Math.PI - (frac === 1 ? 1e-4 : 0);
      const big = a1 - a0 > Math.PI ? 1 : 0;
      const d = `M ${pt(a0, r)} A ${r} ${r} 0 ${big} 1 ${pt(a1, r)} L ${pt(a1, ri)} A ${ri} ${ri} 0 ${big} 0 ${pt(a0, ri)} Z`;
      svg.appendChild(s('path', { d, fill: PALETTE[i % PALETTE.length], stroke: '#fff', 'stroke-width': 2, class: 'slice' },
        title(`${spec.labels[i]}: ${f(v)} (${(100 * frac).toFixed(1)}%)`)));
      if (frac >= 0.06) {
        const mid = (a0 + a1) / 2, lr = (r + ri) / 2;
        svg.appendChild(s('text', { x: cx + lr * Math.cos(mid), y: cy + lr * Math.sin(mid) + 5, 'text-anchor': 'middle', class: 'slice-label' },
          `${Math.round(frac * 100)}%`));
      }
      a0 = a1;
    });
    svg.appendChild(s('text', { x: cx, y: cy - 2, 'text-anchor': 'middle', class: 'pie-total' }, f(total)));
    svg.appendChild(s('text', { x: cx, y: cy + 20, 'text-anchor': 'middle', class: 'tick' }, 'total'));
    return fig;
  };
})();
