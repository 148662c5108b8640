// The report page: one self-contained HTML file (inline CSS and SVG, no scripts, nothing fetched) that reads well
// in a browser and prints cleanly.
import { isSpiking } from '../../models/registry.js';
import { formatEnergy, formatOps } from '../energy.js';
import { STUDY_CLASSES } from './data.js';
import type { Report, ReportRun } from './data.js';
import { barChart, confusionHeatmap, esc, lineChart, paletteColor } from './svg.js';
import { runPaths } from '../../train/run_folder.js';
import { explainSection } from './explain_html.js';
import { memorySection } from './memory_html.js';
import { studySection } from './study_html.js';

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const secs = (s: number) => (s >= 100 ? `${s.toFixed(0)} s` : `${s.toFixed(1)} s`);
const count = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : String(n);

const CSS =
  `
:root { --fg:#111827; --muted:#6b7280; --line:#e5e7eb; --bg:#f8fafc; --card:#fff; --accent:#2563eb; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; ` +
  `color:var(--fg); background:var(--bg); }
main { max-width:1120px; margin:0 auto; padding:28px 24px 48px; }
h1 { font-size:26px; margin:0 0 4px; letter-spacing:-0.01em; }
h2 { font-size:18px; margin:36px 0 12px; padding-bottom:6px; border-bottom:1px solid var(--line); }
.sub { color:var(--muted); margin:0 0 20px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(200px,1fr)); gap:12px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:14px 16px; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:0.04em; }
.card .v { font-size:26px; font-weight:650; margin-top:2px; }
.card .d { color:var(--muted); font-size:12px; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(min(520px,100%),1fr)); gap:14px; }
.wide { overflow-x:auto; }
.warn { background:#fff7ed; border:1px solid #fed7aa; border-radius:8px; padding:8px 12px; }
figure { margin:0; background:var(--card); border:1px solid var(--line); border-radius:10px; padding:10px 10px 6px; ` +
  `overflow-x:auto; }
figcaption { color:var(--muted); font-size:12px; padding:2px 6px 4px; }
table { border-collapse:collapse; width:100%; background:var(--card); border:1px solid var(--line); ` +
  `border-radius:10px; overflow:hidden; }
th, td { padding:7px 10px; border-bottom:1px solid var(--line); text-align:right; white-space:nowrap; }
th:first-child, td:first-child { text-align:left; }
thead th { background:#f1f5f9; font-weight:600; font-size:13px; }
td.na { color:var(--muted); }
tr:last-child td { border-bottom:none; }
.swatch { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:6px; vertical-align:baseline; }
.note { color:var(--muted); font-size:13px; }
code { background:#eef2f7; padding:1px 5px; border-radius:4px; font-size:12.5px; }
svg.chart { display:block; max-width:100%; height:auto; font-family:inherit; }
svg .ct { font-size:14px; font-weight:600; fill:var(--fg); }
svg .tick { font-size:11px; fill:#374151; }
svg .label { font-size:11px; fill:var(--muted); }
svg .cellv { font-size:10px; }
svg .grid { stroke:var(--line); stroke-width:1; }
svg .axis { stroke:#9ca3af; stroke-width:1; }

@media (max-width:600px) { main { padding:18px 10px 36px; } th, td { padding:6px 7px; } }
@media print { body { background:#fff; } figure, table, .card { break-inside:avoid; } }
`;

function table(head: string[], rows: string[][], klass = ''): string {
  return (
    `<table class="${klass}"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>` +
    rows
      .map((r) => `<tr>${r.map((c) => (c === '' ? '<td class="na">–</td>' : `<td>${c}</td>`)).join('')}</tr>`)
      .join('') +
    '</tbody></table>'
  );
}

const swatch = (color: string) => `<span class="swatch" style="background:${color}"></span>`;
const figure = (svg: string, caption = '') =>
  `<figure>${svg}${caption ? `<figcaption>${caption}</figcaption>` : ''}</figure>`;
const missing = (what: string, cmd: string) =>
  `<figure><p class="note">No ${what} yet: run <code>${esc(cmd)}</code>, then compare again.</p></figure>`;

function headline(r: Report, color: (run: number) => string): string {
  const S = r.study;
  const head = [
    '',
    `Study: ${esc(S.spikformer.model)}`,
    `Study: ${esc(S.resnet18.model)}`,
    ...r.runs.map(
      (run, i) =>
        `${swatch(color(i))}${esc(run.name)}${
          run.preset !== run.name ? `<br><span class="note">${esc(run.preset)}</span>` : ''
        }`,
    ),
  ];
  const row = (label: string, study: [string, string], f: (x: ReportRun) => string) => [
    label,
    ...study,
    ...r.runs.map(f),
  ];
  const rows = [
    row('best validation accuracy', [pct(S.spikformer.valAcc), pct(S.resnet18.valAcc)], (x) =>
      x.best ? `${pct(x.best.valAcc)} <span class="note">(ep ${x.best.epoch})</span>` : '',
    ),
    row('checkpoint accuracy (eval)', ['', ''], (x) => (x.eval ? pct(x.eval.accuracy) : '')),
    row('top-2 accuracy', ['', ''], (x) => (x.eval ? pct(x.eval.top2) : '')),
    row('macro F1', ['', ''], (x) => (x.eval ? x.eval.macroF1.toFixed(3) : '')),
    row('epochs trained', ['300', '300'], (x) => String(x.epochs.length)),
    row('time per epoch', [`${S.spikformer.epochSeconds} s (T4)`, `${S.resnet18.epochSeconds} s (T4)`], (x) =>
      x.meanEpochSeconds !== null ? secs(x.meanEpochSeconds) : '',
    ),
    row('training images / s', ['', ''], (x) =>
      x.trainImagesPerSecond !== null ? x.trainImagesPerSecond.toFixed(1) : '',
    ),
    row('parameters', ['', ''], (x) => count(x.params)),
    row('energy per image', ['not measured', 'not measured'], (x) => (x.energy ? formatEnergy(x.energy.perImage) : '')),
    row('MAC / SOP per image', ['', ''], (x) =>
      x.energy ? `${formatOps(x.energy.macs)} / ${formatOps(x.energy.sops)}` : '',
    ),
    row("an ANN's energy / this one's", ['', ''], (x) =>
      x.energy?.baseline
        ? `${x.energy.baseline.ratio.toFixed(1)}× <span ` +
          `class="note">(${esc(x.energy.baseline.name)}, ${formatEnergy(x.energy.baseline.energy)})</span>`
        : '',
    ),
  ];
  return table(head, rows, 'headline');
}

/** A warning above the study's columns when the runs are not on the study's five cities (Fashion-MNIST in the demo). */
function otherData(r: Report): string {
  const classes = r.runs[0]?.classes ?? [];
  if (classes.join() === STUDY_CLASSES.join()) return '';
  return (
    `<p class="note warn">These runs were trained on ${classes.length} other classes ` +
    `(${esc(classes.slice(0, 5).join(', '))}${classes.length > 5 ? ', ...' : ''}), not the study's 5 cities: the ` +
    `study's columns are there for scale, not as a like-for-like comparison.</p>`
  );
}

function cards(r: Report, color: (run: number) => string): string {
  const c = r.runs.map(
    (run, i) =>
      `<div class="card"><div class="k">${swatch(color(i))}${esc(run.name)}</div>` +
      `<div class="v">${run.best ? pct(run.best.valAcc) : '–'}</div><div class="d">best validation accuracy ` +
      `· ${esc(run.preset)}` +
      `${run.energy ? ` · ${formatEnergy(run.energy.perImage)}/image` : ''}</div></div>`,
  );
  for (const run of r.runs) {
    const b = run.energy?.baseline;
    if (!b) continue;
    c.push(
      `<div class="card"><div class="k">energy vs ${esc(b.name)}</div><div class="v">${b.ratio.toFixed(1)}×</div>` +
        `<div class="d">${esc(b.name)} (${formatEnergy(b.energy)}/image, from its architecture) ` +
        `uses ${b.ratio.toFixed(1)}× the energy of ${esc(run.name)}</div></div>`,
    );
  }
  for (const e of r.energyRatios) {
    c.push(
      `<div class="card"><div class="k">energy, ${esc(e.ann)} / ${esc(e.snn)}</div><div ` +
        `class="v">${e.ratio.toFixed(1)}×</div>` +
        `<div class="d">${esc(e.ann)} uses ${e.ratio.toFixed(1)}× the energy of ${esc(e.snn)} per image, both ` +
        `measured here</div></div>`,
    );
  }
  // Two kinds of energy card, two baselines: say which is which, or 214x beside 3.4x reads as a contradiction.
  const vsArchitecture = r.runs.some((run) => run.energy?.baseline);
  const why =
    vsArchitecture && r.energyRatios.length
      ? `<p class="note">Two energy comparisons, two baselines: <b>energy ` +
        `vs ${esc(r.runs.find((run) => run.energy?.baseline)!.energy!.baseline!.name)}</b> prices the study's ` +
        `full-width ResNet18 from its architecture alone (not trained here), while <b>energy, ANN / SNN</b> compares ` +
        `the runs in this report, whose ResNet18 may be narrower; so the two ratios differ.</p>`
      : '';
  return `<div class="cards">${c.join('')}</div>${why}`;
}

function curves(r: Report, color: (run: number) => string): string {
  const series = (f: (e: ReportRun['epochs'][number]) => number) =>
    r.runs.map((run, i) => ({
      name: run.name,
      color: color(i),
      points: run.epochs.map((e) => [e.epoch, f(e)] as [number, number]),
    }));
  const accs = r.runs.flatMap((x) => x.epochs.map((e) => e.val_acc));
  const lo = Math.min(0.5, ...accs);
  const acc = lineChart({
    title: 'Validation accuracy per epoch',
    xLabel: 'epoch',
    yLabel: 'accuracy',
    series: series((e) => e.val_acc),
    format: (y) => `${Math.round(y * 100)}%`,
    yRange: [Math.floor(lo * 10) / 10, 1],
    refs: [
      { y: r.study.spikformer.valAcc, label: `study Spikformer ${pct(r.study.spikformer.valAcc)}`, color: '#64748b' },
      { y: r.study.resnet18.valAcc, label: `study ResNet18 ${pct(r.study.resnet18.valAcc)}`, color: '#94a3b8' },
    ],
  });
  const loss = lineChart({
    title: 'Validation loss per epoch',
    xLabel: 'epoch',
    yLabel: 'cross-entropy',
    series: series((e) => e.val_loss),
  });
  const slowest = Math.max(1, ...r.runs.flatMap((x) => x.epochs.map((e) => e.epoch_seconds)));
  const time = lineChart({
    title: 'Time per epoch',
    xLabel: 'epoch',
    yLabel: 'seconds (training)',
    series: series((e) => e.epoch_seconds),
    yRange: [0, slowest],
  });
  const params = barChart({
    title: 'Parameters',
    bars: r.runs.map((run, i) => ({ label: run.name, value: run.params, color: color(i), note: count(run.params) })),
  });
  return (
    `<div class="grid">${figure(
      acc,
      "Dashed: the original study's final accuracy " + 'on its 5-city data (300 epochs).',
    )}${figure(loss)}` +
    `${figure(
      time,
      `The study: ${r.study.spikformer.epochSeconds} s (Spikformer) ` +
        `and ${r.study.resnet18.epochSeconds} s (ResNet18) per epoch on a T4 GPU, 40,000 images.`,
    )}${figure(params)}</div>`
  );
}

function confusions(r: Report, color: (run: number) => string): string {
  const figs = r.runs.map((run, i) =>
    run.eval
      ? figure(
          confusionHeatmap({
            title: `${run.name}: confusion`,
            classes: run.classes,
            matrix: run.eval.confusion,
            color: color(i),
          }),
          `${run.eval.n} validation images, accuracy ${pct(run.eval.accuracy)}.`,
        )
      : missing(`confusion matrix for ${run.name}`, `geospike eval --checkpoint ${runPaths(run.dir).best}`),
  );
  return `<div class="grid">${figs.join('')}</div>`;
}

function perClass(r: Report, color: (run: number) => string): string {
  const withEval = r.runs.filter((x) => x.eval);
  const [first] = withEval;
  if (!first) return '';
  const classes = first.classes;
  const head = [
    'class',
    ...withEval.map(
      (x) => `${swatch(color(r.runs.indexOf(x)))}${esc(x.name)}<br><span class="note">precision · recall · F1</span>`,
    ),
  ];
  const rows = classes.map((c, k) => [
    esc(c),
    ...withEval.map((x) => {
      const m = x.eval!.perClass[k];
      return m ? `${m.precision.toFixed(2)} · ${m.recall.toFixed(2)} · <b>${m.f1.toFixed(2)}</b>` : '';
    }),
  ]);
  return table(head, rows, 'perclass');
}

function energy(r: Report, color: (run: number) => string): string {
  const withEnergy = r.runs.filter((x) => x.energy);
  const parts: string[] = [];
  const [firstEnergy] = withEnergy;
  if (firstEnergy) {
    const bars = withEnergy.map((x) => ({
      label: x.name,
      value: x.energy!.perImage,
      color: color(r.runs.indexOf(x)),
      note: formatEnergy(x.energy!.perImage),
    }));
    // The ANN a spiking model was costed against (the study's full-width ResNet18 by default), if no run is that model.
    const baseline = withEnergy
      .map((x) => x.energy!.baseline)
      .find((b) => b && !r.runs.some((x) => x.preset === b.name));
    if (baseline)
      bars.push({
        label: `${baseline.name} (from architecture)`,
        value: baseline.energy,
        color: '#94a3b8',
        note: formatEnergy(baseline.energy),
      });
    const values = bars.map((b) => b.value);
    const log = Math.max(...values) / Math.min(...values) > 30;
    parts.push(
      figure(
        barChart({ title: 'Energy per image (inference)', log, unit: 'picojoules per image', bars }),
        `E_MAC ${firstEnergy.energy!.costs.eMac} pJ, E_AC ${firstEnergy.energy!.costs.eAc} ` +
          `pJ: ${esc(firstEnergy.energy!.costs.about)}.` +
          (baseline
            ? ` Grey: ${esc(baseline.name)} costed from its architecture alone (an ANN's cost does not depend on its ` +
              `weights).`
            : ''),
      ),
    );
  }
  for (const run of r.runs) {
    const i = r.runs.indexOf(run);
    if (isSpiking(run)) {
      if (run.rates) {
        parts.push(
          figure(
            barChart({
              title: `${run.name}: firing rate per LIF layer`,
              format: pct,
              bars: Object.entries(run.rates).map(([n, rate]) => ({ label: n, value: rate, color: color(i) })),
            }),
            run.energy
              ? `Mean spikes per neuron per time step on ${run.energy.images} validation images.`
              : "From the last epoch's validation pass.",
          ),
        );
      } else {
        parts.push(missing(`firing rates for ${run.name}`, `geospike energy --checkpoint ${runPaths(run.dir).best}`));
      }
    }
    if (run.energy && isSpiking(run)) {
      parts.push(
        figure(
          barChart({
            title: `${run.name}: energy per layer`,
            log: true,
            unit: 'picojoules per image',
            bars: run.energy.layers.map((l) => ({
              label: l.name,
              value: l.energy,
              color: l.inputRate === null ? '#64748b' : color(i),
              note: formatEnergy(l.energy),
            })),
          }),
          "Grey: analog input, costed as MACs (the first conv; Spikformer's head). Coloured: spike input, costed as " +
            'SOPs = rate × T × FLOPs.',
        ),
      );
    } else if (!run.energy) {
      parts.push(missing(`energy for ${run.name}`, `geospike energy --checkpoint ${runPaths(run.dir).best}`));
    }
  }
  return `<div class="grid">${parts.join('')}</div>`;
}

// Photos under CC BY(-SA) are credited: source, licence, and their authors (the most frequent ones; every photo's
// author is in the dataset's manifest).
function credits(r: Report): string {
  if (r.credits.length === 0) return '';
  const items = r.credits.flatMap((d) =>
    d.groups.map((g) => {
      const shown = g.topAuthors.map(([a, n]) => `${esc(a)} (${n})`).join(', ');
      const more = g.authors - g.topAuthors.length;
      return (
        `<li>${count(g.photos)} photos from ${esc(g.provider)} in ${esc(d.data)}, licensed ${esc(g.licence)}, ` +
        `by ${count(g.authors)} author${g.authors === 1 ? '' : 's'}: ${shown}${
          more > 0 ? ` and ${count(more)} more` : ''
        }. Each photo's author is in ${esc(d.data)}/manifest.jsonl.</li>`
      );
    }),
  );
  return `<h2>Photo credits</h2>\n<ul class="credits">${items.join('')}</ul>`;
}

export function renderReport(r: Report): string {
  const color = paletteColor; // run i has the same colour in every figure
  const when = r.generatedAt.replace('T', ' ').slice(0, 16);
  return (
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(r.title)}</title><style>${CSS}</style></head>
<body><main>
<h1>${esc(r.title)}</h1>
<p class="sub">${r.runs.length} run${r.runs.length === 1 ? '' : 's'}: ${r.runs
      .map(
        (x) =>
          `${esc(x.name)} ` +
          `(${x.preset !== x.name ? `${esc(x.preset)}, ` : ''}${count(x.params)} parameters, ${x.classes.length} ` +
          `classes)`,
      )
      .join(', ')} · generated ${esc(when)} UTC</p>
${cards(r, color)}
<h2>Headline numbers, next to the original study</h2>
${otherData(r)}<div class="wide">${headline(r, color)}</div>
<p class="note">${esc(r.study.about)}. The study could not measure energy. Runs here may use other data, fewer ` +
    `epochs and a CPU, so compare shapes, not absolute numbers.</p>
${r.statistics ? `<h2>Statistics</h2>\n${studySection(r.statistics)}` : ''}
<h2>Training</h2>
${curves(r, color)}
<h2>Where the models go wrong</h2>
${confusions(r, color)}
<div class="wide">${perClass(r, color)}</div>
<h2>Spikes and energy</h2>
${energy(r, color)}
${memorySection(r)}
${explainSection(r, color)}
<p class="note">Method (Spikformer papers; Spikingformer's counter): E = E_MAC × MAC + E_AC × SOP. The first ` +
    `convolution and the head see analog values and cost MACs; every later layer sees spikes and costs SOP = input ` +
    `firing rate × T × FLOPs; q·kᵀ is gated by the sparser of q and k, (q·kᵀ)·v by v. The Spike-driven Transformer's ` +
    `attention has no products: k∘v and q∘kv are masks (free), the token sum of k∘v one accumulate per spike, and ` +
    `its head is fed the head LIF's spikes. ResNet18 costs all its MACs. Rates were measured on real validation ` +
    `images.</p>
${credits(r)}
</main></body></html>
`
  );
}
