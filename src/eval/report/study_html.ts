// The statistics as HTML: a section the compare report includes (single runs: bootstrap intervals, McNemar) and the
// page `geospike study` writes (intervals over seeds). Tables only, no scripts, like the rest of the report.
import { formatP } from '../stats.js';
import type { StudySummary } from '../study.js';
import { esc } from './svg.js';
import { must } from '../../util/must.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const ci = (lo: number, hi: number) => `${pct(lo)} – ${pct(hi)}`;

function tableHtml(head: string[], rows: string[][]): string {
  return (
    // In a .wide box, as every table of the report: a wide table scrolls in place, never the page.
    `<div class="wide"><table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('') +
    '</tbody></table></div>'
  );
}

/** Verdicts first, then accuracy with intervals, the McNemar tables, per-city accuracy, and the method notes. */
export function studySection(s: StudySummary): string {
  const parts: string[] = [];
  for (const c of s.comparisons) parts.push(`<p class="verdict"><strong>${esc(c.verdict)}</strong></p>`);
  parts.push(
    tableHtml(
      ['model', 'accuracy', '95% interval', 'how', 'runs'],
      s.models.map((m) => [
        esc(m.model),
        pct(m.accuracy.estimate),
        ci(m.accuracy.lo, m.accuracy.hi),
        esc(m.accuracy.method),
        m.perRun
          .map((r) => `seed ${r.seed}: ${pct(r.accuracy.estimate)} [${ci(r.accuracy.lo, r.accuracy.hi)}]`)
          .join('<br>'),
      ]),
    ),
  );
  for (const c of s.comparisons) {
    parts.push(
      `<h3>${esc(c.a)} against ${esc(c.b)}, image by image</h3>`,
      tableHtml(
        ['seed', 'both right', `only ${esc(c.a)}`, `only ${esc(c.b)}`, 'both wrong', 'McNemar', 'test'],
        c.mcnemar.map((t) => [
          String(t.seed),
          String(t.test.both),
          String(t.test.onlyA),
          String(t.test.onlyB),
          String(t.test.neither),
          formatP(t.test.p),
          esc(t.test.method),
        ]),
      ),
      `<p class="note">Difference in accuracy (${esc(c.a)} ` +
        `− ${esc(c.b)}): ${(100 * c.difference.estimate).toFixed(1)} points, 95% ` +
        `CI ${(100 * c.difference.lo).toFixed(1)} to ${(100 * c.difference.hi).toFixed(1)} ` +
        `(${esc(c.difference.method)}).</p>`,
    );
  }
  const cities = s.classes;
  parts.push(
    '<h3>Accuracy per city (class), with 95% intervals</h3>',
    tableHtml(
      ['class', ...s.models.map((m) => esc(m.model))],
      cities.map((name, c) => [
        esc(name),
        ...s.models.map((m) => {
          const city = must(m.perCity[c], 'a study model has one entry per city');
          return `${pct(city.accuracy)} [${ci(city.lo, city.hi)}]`;
        }),
      ]),
    ),
    `<p class="note">${esc(s.models[0]?.perCity[0]?.method ?? '')}. ${s.notes.map(esc).join(' ')}</p>`,
  );
  return parts.join('\n');
}

const CSS = `body{margin:0;font:14px/1.5 system-ui,sans-serif;color:#111827;background:#f8fafc}
main{max-width:1120px;margin:0 auto;padding:24px}table{border-collapse:collapse;width:100%;background:#fff;margin:8px 0}
th,td{padding:6px 10px;border-bottom:1px solid #e5e7eb;text-align:right}th:first-child,td:first-child{text-align:left}
.note{color:#6b7280;font-size:13px}.verdict{font-size:16px}`;

/** The whole page `geospike study` writes beside study.json. */
export function renderStudyPage(title: string, s: StudySummary): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><main><h1>${esc(title)}</h1>
<p class="note">${s.images} validation images, the same for every run.</p>
${studySection(s)}
</main></body></html>
`;
}
