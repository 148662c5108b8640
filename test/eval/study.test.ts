// The study's summary from hand-built per-image results: intervals over seeds, McNemar per seed, the verdict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { singleRunStatistics, summariseStudy, type StudyRun } from '../../src/eval/study.js';

const classes = ['a', 'b'];
const labels = Array.from({ length: 100 }, (_, i) => i % 2);
// A model right on the first `right` images, wrong (the other class) on the rest.
const run = (model: string, seed: number, right: number): StudyRun => ({
  model,
  seed,
  dir: `${model}/${seed}`,
  classes,
  labels,
  predicted: labels.map((l, i) => (i < right ? l : 1 - l)),
});

test('study: every seed shows A ahead on the same images, so the verdict names A with the interval over seeds', () => {
  const s = summariseStudy([
    run('A', 0, 90),
    run('B', 0, 60),
    run('A', 1, 92),
    run('B', 1, 58),
    run('A', 2, 88),
    run('B', 2, 62),
  ]);
  const [a] = s.models;
  const [c] = s.comparisons;
  assert.ok(a && c, 'a model and a comparison');
  assert.deepEqual(a.accuracies, [0.9, 0.92, 0.88]);
  assert.match(a.accuracy.method, /t interval over 3 seeds/);
  // Seed 0: A alone right on images 60..89 (30), B alone on none: chi-square (30 - 1)^2 / 30 = 28.03.
  const [seed0] = c.mcnemar;
  assert.ok(seed0, 'a McNemar test per seed');
  assert.equal(seed0.test.onlyA, 30);
  assert.equal(seed0.test.onlyB, 0);
  assert.ok(Math.abs(seed0.test.statistic! - 841 / 30) < 1e-9);
  assert.ok(Math.abs(c.difference.estimate - 0.3) < 1e-12);
  assert.match(c.verdict, /^A ahead by 30\.0 points, 95% CI \d+\.\d to \d+\.\d, p < 0\.001$/);
});

test('study: equal models give no significant difference; runs on other images are refused', () => {
  const s = summariseStudy([run('A', 0, 70), run('B', 0, 70)]);
  assert.match(s.comparisons[0]?.verdict ?? '', /^no significant difference at this size/);
  assert.match(s.models[0]?.accuracy.method ?? '', /bootstrap over 100 images/);
  const other = { ...run('B', 1, 50), labels: labels.slice(0, 50), predicted: labels.slice(0, 50) };
  assert.throws(() => summariseStudy([run('A', 0, 70), other]), /other images/);
});

test('compare statistics: single runs with predictions get bootstrap intervals; runs without are left out', () => {
  const ev = (r: StudyRun) => ({ classes, labels: r.labels, predicted: r.predicted });
  const s = singleRunStatistics([
    { name: 'snn', dir: 'x', eval: ev(run('snn', 0, 80)) },
    { name: 'old', dir: 'y', eval: { classes } },
    { name: 'ann', dir: 'z', eval: ev(run('ann', 0, 75)) },
  ]);
  assert.deepEqual(
    s!.models.map((m) => m.model),
    ['snn', 'ann'],
  );
  assert.equal(singleRunStatistics([{ name: 'old', dir: 'y', eval: null }]), null);
});

test('compare statistics: runs of one preset with distinct seeds are that model over seeds', () => {
  const ev = (r: StudyRun) => ({ classes, labels: r.labels, predicted: r.predicted });
  const s = singleRunStatistics([
    { name: 'snn-s0', dir: 'a', preset: 'spikformer', seed: 0, eval: ev(run('x', 0, 90)) },
    { name: 'snn-s1', dir: 'b', preset: 'spikformer', seed: 1, eval: ev(run('x', 1, 92)) },
    { name: 'ann-s0', dir: 'c', preset: 'resnet', seed: 0, eval: ev(run('y', 0, 60)) },
    { name: 'ann-s1', dir: 'd', preset: 'resnet', seed: 1, eval: ev(run('y', 1, 58)) },
  ])!;
  assert.deepEqual(
    s.models.map((m) => [m.model, m.seeds]),
    [
      ['spikformer', [0, 1]],
      ['resnet', [0, 1]],
    ],
  );
  assert.match(s.models[0]?.accuracy.method ?? '', /t interval over 2 seeds/);
  assert.match(s.comparisons[0]?.verdict ?? '', /^spikformer ahead by 32\.0 points/);
  // The same preset twice with the same seed is two runs, not two seeds.
  const same = singleRunStatistics([
    { name: 'r1', dir: 'a', preset: 'resnet', seed: 0, eval: ev(run('y', 0, 60)) },
    { name: 'r2', dir: 'b', preset: 'resnet', seed: 0, eval: ev(run('y', 0, 62)) },
  ])!;
  assert.deepEqual(
    same.models.map((m) => m.model),
    ['r1', 'r2'],
  );
});
