// Inline SVG charts for the report: line charts (curves per epoch), bar charts, and confusion heatmaps. Each returns
// a self-contained <svg> string; fonts and colours come from the page's CSS variables so the charts match the page.

import { must } from '../../util/must.js';

const PALETTE = ['#2563eb', '#ea580c', '#16a34a', '#9333ea', '#db2777', '#0891b2', '#ca8a04', '#4b5563'];

/** The colour of series `i` (a run, a model); the palette repeats past its end. */
export function paletteColor(i: number): string {
  return must(PALETTE[i % PALETTE.length], `series ${i} has a palette index (it must be a whole number >= 0)`);
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const n2 = (x: number) => Number(x.toFixed(2));

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  const last = ticks.at(-1);
  if (last !== undefined && last < hi) ticks.push(Number((last + step).toPrecision(12)));
  return ticks;
}

/** Ticks for a log axis over the positive values: 1, 2 and 5 times powers of 10, one below and one above them. */
export function logTicks(values: number[]): number[] {
  const pos = values.filter((v) => v > 0 && Number.isFinite(v));
  const [lo, hi] = pos.length ? [Math.min(...pos), Math.max(...pos)] : [1, 10];
  const all: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
    for (const m of [1, 2, 5]) all.push(Number((m * 10 ** e).toPrecision(12)));
  const first = all.filter((v) => v <= lo).length - 1;
  const last = all.findIndex((v) => v >= hi);
  return all.slice(Math.max(0, first), last < 0 ? undefined : last + 1);
}

export interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  format?: (y: number) => string;
  /** Pin the y range (accuracy: 0..1); otherwise it fits the data. */
  yRange?: [number, number];
  /** A logarithmic y axis (values > 0), ticks at 1, 2 and 5 times powers of 10: for values spanning decades. */
  yLog?: boolean;
  /** The x axis's ticks (default: the whole numbers in range, as epochs are) and what a point's x is called. */
  xTicks?: number[];
  xName?: string;
  /** Dashed horizontal reference lines (the study's accuracy). */
  refs?: { y: number; label: string; color: string }[];
  width?: number;
  height?: number;
}

const M = { top: 36, right: 16, bottom: 44, left: 58 };
// Line charts keep a row under the title for the legend and room left for tick labels and the axis label.
const L = { ...M, top: 56, left: 72 };

function frame(w: number, h: number, title: string, body: string, kind: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${esc(kind)}" viewBox="0 0 ${w} ${h}" ` +
    `width="${w}" height="${h}" role="img" aria-label="${esc(title)}">` +
    `<title>${esc(title)}</title><text class="ct" x="${M.left}" y="20">${esc(title)}</text>${body}</svg>`
  );
}

export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 520;
  const H = o.height ?? 300;
  const pts = o.series.flatMap((s) => s.points);
  const xs = pts.map((p) => p[0]);
  const ys = [...pts.map((p) => p[1]), ...(o.refs ?? []).map((r) => r.y)];
  const [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  const yt = o.yLog
    ? logTicks(ys)
    : o.yRange
      ? niceTicks(o.yRange[0], o.yRange[1])
      : niceTicks(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1);
  // No ticks (NaN values, a diverged run) draw NaN coordinates rather than fail.
  const [y0 = NaN, second = NaN] = yt;
  const y1 = yt.at(-1) ?? NaN;
  const decimals = Math.max(0, -Math.floor(Math.log10(second - y0 || 1) + 1e-9));
  const fmt = o.format ?? ((y: number) => y.toFixed(decimals));
  const pw = W - L.left - L.right;
  const ph = H - L.top - L.bottom;
  const sx = (x: number) => n2(L.left + (x1 === x0 ? pw / 2 : ((x - x0) / (x1 - x0)) * pw));
  const scale = o.yLog ? Math.log10 : (y: number) => y;
  const sy = (y: number) => n2(L.top + ph - ((scale(y) - scale(y0)) / (scale(y1) - scale(y0))) * ph);
  const xt =
    o.xTicks?.filter((t) => t >= x0 && t <= x1) ??
    niceTicks(x0, Math.max(x1, x0 + 1), Math.min(8, Math.max(1, x1 - x0))).filter(
      (t) => t >= x0 && t <= x1 && Number.isInteger(t),
    );
  let body = '';
  for (const t of yt)
    body +=
      `<line class="grid" x1="${L.left}" x2="${W - L.right}" y1="${sy(t)}" y2="${sy(t)}"/><text class="tick" ` +
      `x="${L.left - 6}" y="${sy(t) + 4}" text-anchor="end">${esc(fmt(t))}</text>`;
  for (const t of xt)
    body += `<text class="tick" x="${sx(t)}" y="${H - L.bottom + 16}" text-anchor="middle">${t}</text>`;
  body += `<line class="axis" x1="${L.left}" x2="${W - L.right}" y1="${L.top + ph}" y2="${L.top + ph}"/>`;
  body += `<text class="label" x="${L.left + pw / 2}" y="${H - 8}" text-anchor="middle">${esc(o.xLabel)}</text>`;
  body +=
    `<text class="label" transform="translate(14 ${L.top + ph / 2}) rotate(-90)" ` +
    `text-anchor="middle">${esc(o.yLabel)}</text>`;
  let refLabels = '';
  for (const [i, r] of (o.refs ?? []).entries()) {
    const dy = i % 2 ? 12 : -4; // alternate above and below the line so close references stay readable
    body +=
      `<line x1="${L.left}" x2="${W - L.right}" y1="${sy(r.y)}" y2="${sy(r.y)}" stroke="${r.color}" ` +
      `stroke-dasharray="5 4" stroke-width="1.2" opacity="0.8"/>`;
    // Drawn after the curves, on a white halo, so a curve passing by never strikes the label through.
    refLabels +=
      `<text class="tick ref" x="${W - L.right - 4}" y="${sy(r.y) + dy}" text-anchor="end" ` +
      `fill="${r.color}" stroke="#fff" stroke-width="4" paint-order="stroke">${esc(r.label)}</text>`;
  }
  for (const s of o.series) {
    if (!s.points.length) continue;
    const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${sx(p[0])} ${sy(p[1])}`).join(' ');
    body +=
      `<path class="series" data-series="${esc(s.name)}" d="${d}" fill="none" stroke="${s.color}" ` +
      `stroke-width="2.2" stroke-linejoin="round"/>`;
    for (const p of s.points)
      body += `<circle cx="${sx(p[0])}" cy="${sy(p[1])}" r="3" fill="${s.color}"><title>${esc(
        `${s.name}, ${o.xName ?? 'epoch'} ${p[0]}: ${fmt(p[1])}`,
      )}</title></circle>`;
  }
  body += refLabels;
  body += legend(
    o.series.map((s) => ({ name: s.name, color: s.color })),
    M.left,
    38,
  );
  return frame(W, H, o.title, body, 'line');
}

/** A one-line legend starting at x, on baseline y. */
function legend(items: { name: string; color: string }[], left: number, y: number): string {
  let x = left;
  let s = '';
  for (const it of items) {
    s +=
      `<rect x="${n2(x)}" y="${y - 9}" width="10" height="10" rx="2" fill="${it.color}"/><text class="tick" ` +
      `x="${n2(x + 15)}" y="${y}">${esc(it.name)}</text>`;
    x += it.name.length * 6.2 + 32;
  }
  return s;
}

export interface Bar {
  label: string;
  value: number;
  color: string;
  /** Text after the bar; defaults to the formatted value. */
  note?: string;
}

/** Horizontal bars, one per row: readable with long labels (layer names, run names). */
export function barChart(o: {
  title: string;
  bars: Bar[];
  format?: (v: number) => string;
  width?: number;
  unit?: string;
  log?: boolean;
}): string {
  const W = o.width ?? 520;
  const fmt = o.format ?? ((v: number) => String(n2(v)));
  const row = o.bars.length > 12 ? 16 : 26;
  const labelW = Math.min(220, Math.max(60, ...o.bars.map((b) => b.label.length * 6.4 + 10)));
  const noteW = 86;
  const H = M.top + row * o.bars.length + 12 + (o.unit ? 14 : 0);
  const pw = W - labelW - noteW - 10;
  const values = o.bars.map((b) => b.value);
  const positive = values.filter((v) => v > 0);
  const max = Math.max(0, ...values);
  const minLog = positive.length ? Math.log10(Math.min(...positive)) - 0.3 : 0;
  const len = (v: number) => {
    if (!(v > 0) || !(max > 0)) return 0;
    if (!o.log) return (v / max) * pw;
    const span = Math.log10(max) - minLog;
    return span > 0 ? ((Math.log10(v) - minLog) / span) * pw : pw;
  };
  let body = '';
  o.bars.forEach((b, i) => {
    const y = M.top + i * row;
    const bh = row - (row > 20 ? 8 : 4);
    body +=
      `<text class="tick" x="${labelW - 6}" y="${y + bh / 2 + 4}" text-anchor="end">${esc(b.label)}</text>` +
      `<rect class="bar" data-value="${b.value}" x="${labelW}" y="${y}" ` +
      `width="${n2(Math.max(len(b.value), b.value > 0 ? 1 : 0))}" height="${bh}" rx="2" ` +
      `fill="${b.color}"><title>${esc(`${b.label}: ${fmt(b.value)}`)}</title></rect>` +
      `<text class="tick value" x="${n2(labelW + len(b.value) + 5)}" ` +
      `y="${y + bh / 2 + 4}">${esc(b.note ?? fmt(b.value))}</text>`;
  });
  if (o.unit)
    body += `<text class="label" x="${labelW}" y="${H - 6}">${esc(o.unit)}${o.log ? ' (log scale)' : ''}</text>`;
  return frame(W, H, o.title, body, 'bar');
}

/** A confusion matrix as a heatmap: rows true class, columns predicted; cells shaded by share of the row. */
export function confusionHeatmap(o: {
  title: string;
  classes: string[];
  matrix: number[][];
  color: string;
  width?: number;
}): string {
  const K = o.classes.length;
  const labelW = Math.min(110, Math.max(...o.classes.map((c) => c.length)) * 6.4 + 10);
  const W = o.width ?? 500;
  const cell = Math.max(12, Math.floor((W - labelW - 12) / K));
  const top = M.top + 6;
  const H = top + cell * K + labelW + 6;
  let body = '';
  o.matrix.forEach((row, t) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((v, p) => {
      const share = v / total;
      const x = labelW + p * cell;
      const y = top + t * cell;
      body +=
        `<rect class="cell" data-count="${v}" x="${x}" y="${y}" width="${cell - 1}" height="${cell - 1}" ` +
        `fill="${o.color}" fill-opacity="${n2(0.06 + 0.94 * share)}"><title>${esc(
          `true ${o.classes[t]}, predicted ${o.classes[p]}: ${v} (${(100 * share).toFixed(1)}%)`,
        )}</title></rect>`;
      if (cell >= 22)
        body +=
          `<text class="cellv" x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" ` +
          `fill="${share > 0.5 ? '#fff' : '#1f2937'}">${v}</text>`;
    });
    body +=
      `<text class="tick" x="${labelW - 5}" y="${top + t * cell + cell / 2 + 4}" ` +
      `text-anchor="end">${esc(must(o.classes[t], 'one class name per matrix row'))}</text>`;
  });
  o.classes.forEach((c, p) => {
    const x = labelW + p * cell + cell / 2 + 4;
    body +=
      `<text class="tick" transform="translate(${x} ${top + K * cell + 6}) rotate(-60)" ` +
      `text-anchor="end">${esc(c)}</text>`;
  });
  body += `<text class="label" x="${W - 4}" y="${top - 6}" text-anchor="end">rows: true · columns: predicted</text>`;
  return frame(W, H, o.title, body, 'confusion');
}
