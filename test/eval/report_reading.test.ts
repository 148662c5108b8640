// The report as a reader meets it: one class set per report, the study's columns labelled when the runs are on other
// data, the two energy cards told apart, and the study's reference labels drawn on top of the curves.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'node-html-parser';
import { FASHION_MNIST_CLASSES } from '../../src/data/importers/fashion_mnist.js';
import { initEngine } from '../../src/engine/backend.js';
import { buildReport } from '../../src/eval/report/data.js';
import { renderReport } from '../../src/eval/report/html.js';
import { tempRoot, writeRun } from './run_fixtures.js';

before(async () => {
  await initEngine('cpu');
});

/** Rewrites a fixture run's classes, as if it had been trained on another dataset. */
function setClasses(dir: string, classes: string[]) {
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), classes }));
}

test('runs trained on different class sets are refused in one report, naming both sets', (t) => {
  const root = tempRoot(t);
  const a = writeRun(root, 'fashion', 'spikformer-1-64', { epochs: 2, accs: [0.5, 0.6], seconds: 10 });
  const b = writeRun(root, 'cities', 'resnet18-w8', { epochs: 2, accs: [0.5, 0.6], seconds: 10 });
  setClasses(a.dir, FASHION_MNIST_CLASSES);
  setClasses(b.dir, ['seoul', 'tokyo', 'newyork', 'london', 'paris']);
  assert.throws(
    () => buildReport([a.dir, b.dir]),
    new RegExp(
      /fashion and cities were trained on different classes: 10 classes \(t-shirt_top, .*\) /.source +
        /and 5 classes \(seoul, .*run compare once per dataset/.source,
    ),
  );
});

test("the study's columns are labelled when the runs are not on its five cities, and absent otherwise", (t) => {
  const root = tempRoot(t);
  const a = writeRun(root, 'snn', 'spikformer-1-64', { epochs: 2, accs: [0.5, 0.6], seconds: 10 });
  const b = writeRun(root, 'ann', 'resnet18-w8', { epochs: 2, accs: [0.5, 0.7], seconds: 10 });
  for (const d of [a.dir, b.dir]) setClasses(d, ['t-shirt_top', 'trouser', 'pullover', 'dress', 'coat']);
  const warn = () => parse(renderReport(buildReport([a.dir, b.dir]))).querySelector('.warn')?.text ?? '';
  assert.match(warn(), /trained on 5 other classes \(t-shirt_top, trouser, .*\), not the study's 5 cities/);
  for (const d of [a.dir, b.dir]) setClasses(d, ['seoul', 'tokyo', 'newyork', 'london', 'paris']);
  assert.equal(warn(), '');
});

test('the two energy cards say which baseline each is, and a note tells them apart', (t) => {
  const root = tempRoot(t);
  const a = writeRun(root, 'snn', 'spikformer-1-64', { epochs: 2, accs: [0.5, 0.6], seconds: 10 });
  const b = writeRun(root, 'ann', 'resnet18-w8', { epochs: 2, accs: [0.5, 0.7], seconds: 10 });
  const doc = parse(renderReport(buildReport([a.dir, b.dir])));
  const cards = doc.querySelectorAll('.card .d').map((d) => d.text);
  assert.ok(
    cards.some((c) => /from its architecture/.test(c)),
    cards.join(' | '),
  );
  assert.ok(
    cards.some((c) => /both measured here/.test(c)),
    cards.join(' | '),
  );
  assert.match(doc.querySelector('.cards + .note')!.text, /Two energy comparisons, two baselines/);
});

test("the study's reference labels are drawn after the curves, on a halo", (t) => {
  const root = tempRoot(t);
  // Accuracies right on the study's lines (78% and 73%): the curves cross the labels' row.
  const a = writeRun(root, 'snn', 'spikformer-1-64', { epochs: 3, accs: [0.7, 0.78, 0.79], seconds: 10 });
  const doc = parse(renderReport(buildReport([a.dir])));
  const chart = doc
    .querySelectorAll('svg.chart')
    .find((c) => c.querySelector('title')!.text === 'Validation accuracy per epoch')!;
  const svg = chart.toString();
  const lastCurve = svg.lastIndexOf('class="series"');
  const labels = [...svg.matchAll(/class="tick ref"[^>]*>study [^<]+</g)];
  assert.equal(labels.length, 2);
  for (const l of labels) {
    assert.ok(l.index! > lastCurve, 'label drawn after (on top of) the curves');
    assert.match(l[0], /paint-order="stroke"/);
  }
});
