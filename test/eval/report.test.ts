// The report renders from run folders: parse the HTML, check every chart and headline number is there and finite.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type HTMLElement, parse } from 'node-html-parser';
import { initEngine } from '../../src/engine/backend.js';
import { buildReport, STUDY } from '../../src/eval/report/data.js';
import { renderReport } from '../../src/eval/report/html.js';
import { niceTicks } from '../../src/eval/report/svg.js';
import { parseSummaryCsv, readRun } from '../../src/eval/runs.js';
import { CLASSES, tempRoot, writeRun } from './run_fixtures.js';

before(async () => {
  await initEngine('cpu');
});

/** The report's charts by their title; a missing one fails, listing those there are. */
function chartsByTitle(doc: HTMLElement): (title: string) => HTMLElement {
  const charts = doc.querySelectorAll('svg.chart');
  const titles = charts.map((c) => c.querySelector('title')!.text);
  return (title) => {
    const found = charts[titles.indexOf(title)];
    assert.ok(found, `chart '${title}' missing; have ${titles.join(' | ')}`);
    return found;
  };
}

test('summary.csv parses; a bad cell names the file, line and column', () => {
  const rows = parseSummaryCsv(
    'epoch,train_loss,train_acc,val_loss,val_acc,lr,epoch_seconds,images_per_s,firing_rate\n' +
      '1,2,0.1,2,0.2,0.001,10,5,\n',
    's.csv',
  );
  const [row] = rows;
  assert.ok(row, 'one row');
  assert.equal(row.val_acc, 0.2);
  assert.equal(row.firing_rate, null);
  assert.throws(
    () =>
      parseSummaryCsv(
        'epoch,train_loss,train_acc,val_loss,val_acc,lr,epoch_seconds,images_per_s,firing_rate\n' +
          '1,x,0.1,2,0.2,0.001,10,5,\n',
        's.csv',
      ),
    /s\.csv line 2: 'train_loss' is 'x'/,
  );
  assert.throws(() => parseSummaryCsv('epoch,loss\n1,2\n', 's.csv'), /no 'train_loss' column/);
});

test('readRun refuses a folder that is not a run, and skips a torn metrics line', (t) => {
  const root = tempRoot(t);
  assert.throws(() => readRun(root), /not a run folder: config\.json is missing/);
  const { dir } = writeRun(root, 'snn', 'spikformer-1-64', { epochs: 2, accs: [0.4, 0.5], seconds: 30 });
  const run = readRun(dir);
  assert.equal(run.epochs.length, 2);
  assert.ok((run.lastRates?.['block.0.attn.q_lif'] ?? 0) > 0);
});

test('ticks are round and cover the range', () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  const t = niceTicks(Math.LN10, 2.3134);
  const [first, last] = [t.at(0), t.at(-1)];
  assert.ok(first !== undefined && last !== undefined, 'some ticks');
  assert.ok(first <= Math.LN10 && last >= 2.3134 && t.length >= 3);
});

test('the report: every chart, the headline table next to the study, all numbers finite', (t) => {
  const root = tempRoot(t);
  const snn = writeRun(root, 'spikformer', 'spikformer-1-64', { epochs: 3, accs: [0.4, 0.55, 0.62], seconds: 40 });
  const ann = writeRun(root, 'resnet', 'resnet18-w8', { epochs: 3, accs: [0.45, 0.5, 0.6], seconds: 20 });
  const report = buildReport([snn.dir, ann.dir]);
  const html = renderReport(report);
  const doc = parse(html);

  // Self-contained: no scripts, no external resources.
  assert.equal(doc.querySelectorAll('script').length, 0);
  assert.ok(!/(src|href)\s*=\s*"(https?:)?\/\//.test(html), 'nothing fetched from the network');

  const chart = chartsByTitle(doc);
  for (const want of [
    'Validation accuracy per epoch',
    'Validation loss per epoch',
    'Time per epoch',
    'Parameters',
    'spikformer: confusion',
    'resnet: confusion',
    'Energy per image (inference)',
    'spikformer: firing rate per LIF layer',
    'spikformer: energy per layer',
  ])
    chart(want);
  // Curves: one path per run, one point per epoch.
  const acc = chart('Validation accuracy per epoch');
  assert.equal(acc.querySelectorAll('path.series').length, 2);
  assert.equal(acc.querySelectorAll('circle').length, 6);
  // Confusion heatmaps: K x K cells whose counts sum to the images evaluated.
  const conf = chart('spikformer: confusion');
  const cells = conf.querySelectorAll('rect.cell').map((c) => Number(c.getAttribute('data-count')));
  assert.equal(cells.length, CLASSES.length ** 2);
  assert.equal(
    cells.reduce((a, b) => a + b, 0),
    10,
  );
  // Firing-rate bars: one per LIF layer of spikformer-1-64 (5 SPS + 7 per block).
  assert.equal(chart('spikformer: firing rate per LIF layer').querySelectorAll('rect.bar').length, 12);
  // Every coordinate and bar value is a finite number.
  for (const el of doc.querySelectorAll('svg.chart *')) {
    for (const a of ['x', 'y', 'x1', 'x2', 'y1', 'y2', 'width', 'height', 'cx', 'cy', 'data-value']) {
      const v = el.getAttribute(a);
      if (v !== undefined) assert.ok(Number.isFinite(Number(v)), `${el.tagName} ${a}="${v}"`);
    }
    const d = el.getAttribute('d');
    if (d) assert.ok(!/NaN|Infinity/.test(d), d);
  }
  assert.ok(!/NaN|Infinity|undefined|null/.test(doc.text), 'no broken numbers in the text');

  // Headline table: the study's numbers and each run's best accuracy, time per epoch and energy.
  const table = doc.querySelector('table.headline')!;
  const text = table.text;
  for (const s of ['78.24%', '73.16%', '187.92 s', '364.18 s', '62.00%', '60.00%', '42.0 s', '22.0 s'])
    assert.ok(text.includes(s), `headline lacks ${s}`);
  const energyRow = table.querySelectorAll('tr').find((r) => r.text.startsWith('energy per image'))!;
  assert.match(energyRow.text, /not measured.*not measured.*[µn]J.*[µn]J/s);
  const ratioRow = table.querySelectorAll('tr').find((r) => r.text.startsWith('an ANN'))!;
  const [snnRun, annRun] = report.runs;
  assert.ok(snnRun && annRun, 'two runs');
  const ratio = snnRun.energy!.baseline!.ratio;
  assert.ok(ratio > 1 && ratioRow.text.includes(`${ratio.toFixed(1)}× (resnet18, `), ratioRow.text);

  // report.json carries the same numbers.
  assert.equal(report.study, STUDY);
  assert.equal(snnRun.best!.valAcc, 0.62);
  assert.equal(annRun.meanEpochSeconds, 22);
  assert.equal(snnRun.eval!.accuracy, 0.7);
  const [energyRatio, ...otherRatios] = report.energyRatios;
  assert.ok(energyRatio && otherRatios.length === 0, 'one energy ratio');
  assert.ok(energyRatio.ratio > 1, 'the ANN costs more per image');
  assert.ok(Math.abs(energyRatio.ratio - annRun.energy!.perImage / snnRun.energy!.perImage) < 1e-12);
  assert.ok(snnRun.params > 0 && annRun.params > snnRun.params);
});

test(
  'three models: Spikformer, SDT and ResNet18 side by side, ' + 'an energy ratio and per-layer charts for each SNN',
  (t) => {
    const root = tempRoot(t);
    const snn = writeRun(root, 'spikformer', 'spikformer-1-64', { epochs: 2, accs: [0.4, 0.55], seconds: 40 });
    const sdt = writeRun(root, 'sdt', 'sdt-2-128', { epochs: 2, accs: [0.45, 0.6], seconds: 30 });
    const ann = writeRun(root, 'resnet', 'resnet18-w8', { epochs: 2, accs: [0.45, 0.5], seconds: 20 });
    const report = buildReport([snn.dir, sdt.dir, ann.dir]);
    assert.deepEqual(
      report.runs.map((r) => [r.arch, r.timeSteps]),
      [
        ['spikformer', 4],
        ['sdt', 4],
        ['resnet18', null],
      ],
    );
    assert.deepEqual(
      report.energyRatios.map((e) => [e.ann, e.snn]),
      [
        ['resnet', 'spikformer'],
        ['resnet', 'sdt'],
      ],
    );
    const [, sdtRun, annRun] = report.runs;
    const sdtRatio = report.energyRatios[1];
    assert.ok(sdtRun && annRun && sdtRatio, 'three runs, two ratios');
    assert.ok(Math.abs(sdtRatio.ratio - annRun.energy!.perImage / sdtRun.energy!.perImage) < 1e-12);
    const doc = parse(renderReport(report));
    const chart = chartsByTitle(doc);
    for (const want of [
      'sdt: firing rate per LIF layer',
      'sdt: energy per layer',
      'sdt: confusion',
      'spikformer: energy per layer',
    ])
      chart(want);
    // sdt-2-128: 4 SPS LIFs, 7 per block, the head LIF; its energy
    // bars: 5 SPS convs, 7 per block (token sum included), the head.
    assert.equal(chart('sdt: firing rate per LIF layer').querySelectorAll('rect.bar').length, 4 + 2 * 7 + 1);
    assert.equal(chart('sdt: energy per layer').querySelectorAll('rect.bar').length, 5 + 2 * 7 + 1);
    assert.equal(chart('Energy per image (inference)').querySelectorAll('rect.bar').length >= 3, true);
    assert.equal(doc.querySelectorAll('.card').filter((c) => c.text.startsWith('energy, resnet / ')).length, 2);
  },
);

test('runs without eval or energy still render, with the command that adds them', (t) => {
  const root = tempRoot(t);
  const snn = writeRun(root, 'bare', 'spikformer-1-64', { epochs: 1, accs: [0.3], seconds: 10, bare: true });
  const doc = parse(renderReport(buildReport([snn.dir])));
  assert.ok(doc.text.includes('geospike eval --checkpoint'));
  assert.ok(doc.text.includes('geospike energy --checkpoint'));
  assert.equal(doc.querySelectorAll('rect.cell').length, 0);
});

test(
  'the report credits the authors and licence of CC BY(-SA) ' + 'training photos, and has no credits section otherwise',
  (t) => {
    const root = tempRoot(t);
    const snn = writeRun(root, 'spikformer', 'spikformer-1-64', { epochs: 1, accs: [0.3], seconds: 10, bare: true });
    const data = join(root, 'data');
    mkdirSync(data);
    const line = (i: number, author: string, licence?: string) =>
      `${JSON.stringify({
        id: `osv5m-${i}`,
        class: CLASSES[i % CLASSES.length],
        split: 'train',
        provider: 'osv5m',
        sourceId: String(i),
        lat: 48.86,
        lng: 2.34,
        heading: null,
        captureDate: null,
        sha256: '0'.repeat(64),
        ...(licence && { licence, author }),
      })}\n`;
    const config = join(snn.dir, 'config.json');
    writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(config, 'utf8')), data }));

    writeFileSync(join(data, 'manifest.jsonl'), [0, 1, 2].map((i) => line(i, 'x')).join(''));
    let doc = parse(renderReport(buildReport([snn.dir])));
    assert.ok(!doc.text.includes('Photo credits'), 'no licence asks for credit');

    writeFileSync(
      join(data, 'manifest.jsonl'),
      [
        line(0, 'alice', 'CC-BY-SA-4.0'),
        line(1, 'bob', 'CC-BY-SA-4.0'),
        line(2, 'alice', 'CC-BY-SA-4.0'),
        line(3, 'z'),
      ].join(''),
    );
    const report = buildReport([snn.dir]);
    assert.deepEqual(report.credits, [
      {
        data,
        groups: [
          {
            provider: 'osv5m',
            licence: 'CC-BY-SA-4.0',
            photos: 3,
            authors: 2,
            topAuthors: [
              ['alice', 2],
              ['bob', 1],
            ],
          },
        ],
      },
    ]);
    doc = parse(renderReport(report));
    const credits = doc.querySelector('ul.credits')!.text;
    assert.match(credits, /3 photos from osv5m in .*, licensed CC-BY-SA-4\.0, by 2 authors: alice \(2\), bob \(1\)\./);
  },
);
