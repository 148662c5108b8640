// The report's additions for issue 27: the energy table with memory access (compute only beside compute + memory for
// all three models) and the statistics section (bootstrap intervals, McNemar, verdict) for single runs.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'node-html-parser';
import { initEngine } from '../../src/engine/backend.js';
import { buildReport } from '../../src/eval/report/data.js';
import { renderReport } from '../../src/eval/report/html.js';
import { tempRoot, writeRun } from './run_fixtures.js';

before(async () => {
  await initEngine('cpu');
});

test('report: compute-only and compute + memory side by side for Spikformer, SDT and ResNet18', (t) => {
  const root = tempRoot(t);
  const runs = [
    writeRun(root, 'spikformer', 'spikformer-1-64', { epochs: 1, accs: [0.5], seconds: 40 }),
    writeRun(root, 'sdt', 'sdt-2-128', { epochs: 1, accs: [0.5], seconds: 30 }),
    writeRun(root, 'resnet', 'resnet18-w8', { epochs: 1, accs: [0.5], seconds: 20 }),
  ];
  const report = buildReport(runs.map((r) => r.dir));
  for (const run of report.runs) {
    const m = run.energy!.memory!;
    assert.ok(m.pJ > 0 && Number.isFinite(m.pJ), `${run.name} memory ${m.pJ}`);
    assert.ok(Math.abs(m.byKind.weights + m.byKind.potentials + m.byKind.activations - m.pJ) < 1e-6 * m.pJ);
  }
  const [spikformer, , resnet] = report.runs;
  assert.ok(spikformer && resnet, 'three runs');
  assert.equal(resnet.energy!.memory!.byKind.potentials, 0, 'an ANN has no membrane potentials');
  assert.ok(spikformer.energy!.memory!.byKind.potentials > 0);
  const doc = parse(renderReport(report));
  const h2 = doc.querySelectorAll('h2').find((h) => h.text === 'Energy with memory access');
  assert.ok(h2, 'memory section missing');
  const table = h2.nextElementSibling!;
  const head = table.querySelectorAll('th').map((th) => th.text);
  assert.deepEqual([head[1], head[6]], ['compute only', 'compute + memory']);
  const names = table.querySelectorAll('tbody tr').map((tr) => tr.querySelector('td')!.text);
  assert.deepEqual(names.slice(0, 3), ['spikformer', 'sdt', 'resnet']);
  assert.match(names[3] ?? '', /^resnet18/, 'the full-width baseline on the same assumptions');
});

test('report: statistics for single runs from per-image predictions (bootstrap, McNemar, verdict)', (t) => {
  const root = tempRoot(t);
  const a = writeRun(root, 'spikformer', 'spikformer-1-64', { epochs: 1, accs: [0.5], seconds: 40 });
  const b = writeRun(root, 'resnet', 'resnet18-w8', { epochs: 1, accs: [0.5], seconds: 20 });
  const report = buildReport([a.dir, b.dir]);
  const s = report.statistics!;
  const [model] = s.models;
  assert.ok(model, 'a model');
  assert.equal(model.accuracy.estimate, 0.7);
  assert.match(model.accuracy.method, /bootstrap over 10 images/);
  // Same predictions in both fixtures: no discordant images, p = 1.
  assert.equal(s.comparisons[0]?.mcnemar[0]?.test.p, 1);
  const doc = parse(renderReport(report));
  assert.ok(doc.querySelectorAll('h2').some((h) => h.text === 'Statistics'));
  assert.match(doc.querySelector('.verdict')!.text, /^no significant difference at this size/);
});
