// The statistics against textbook values (McNemar tables, binomial tails, t quantiles) and the bootstrap's coverage
// on synthetic data whose true accuracy is known.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  binomialTwoSided,
  bootstrapAccuracy,
  bootstrapDifference,
  mcnemar,
  mcnemarCounts,
  meanCI,
  perClassAccuracy,
  t975,
  verdict,
} from '../../src/eval/stats.js';
import { Rng } from '../../src/util/rng.js';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} is not within ${tol} of ${b}`);

test('McNemar: Agresti (2007) Table 8.1, presidential approval 794/150/86/570, chi-square with continuity', () => {
  const r = mcnemarCounts(150, 86, 794, 570);
  // (|150 - 86| - 1)^2 / 236 = 16.818; chi-square(1) upper tail 4.11e-5 (R: mcnemar.test(matrix(c(794,86,150,570),2))).
  close(r.statistic!, 16.8178, 1e-4, 'statistic');
  close(r.p, 4.1146e-5, 2e-8, 'p');
  assert.match(r.method, /chi-square with continuity correction/);
});

test('McNemar: the Wikipedia table (b = 121, c = 59) gives chi-square 20.67 corrected, p = 5.45e-6', () => {
  const r = mcnemarCounts(121, 59);
  close(r.statistic!, 20.6722, 1e-4, 'statistic');
  close(r.p, 5.4501e-6, 1e-9, 'p');
});

test('McNemar: few discordant pairs use the exact binomial test (R binom.test values)', () => {
  // binom.test(2, 12)$p.value = 0.03857; binom.test(1, 7) = 0.125; binom.test(0, 5) = 0.0625.
  close(mcnemarCounts(2, 10).p, 79 / 2048, 1e-12, 'b=2 c=10');
  close(mcnemarCounts(6, 1).p, 0.125, 1e-12, 'b=6 c=1');
  close(mcnemarCounts(0, 5).p, 0.0625, 1e-12, 'b=0 c=5');
  assert.equal(mcnemarCounts(0, 0).p, 1);
  assert.equal(mcnemarCounts(12, 13).statistic, null, '25 discordant pairs are still exact');
  assert.notEqual(mcnemarCounts(13, 13).statistic, null, '26 use chi-square');
  assert.equal(binomialTwoSided(5, 10), 1, 'a balanced split caps at 1');
});

test('McNemar from per-image correctness counts the discordant pairs', () => {
  const a = [1, 1, 1, 0, 0, 1, 0];
  const b = [1, 0, 0, 0, 1, 1, 0];
  const r = mcnemar(a, b);
  assert.deepEqual([r.onlyA, r.onlyB, r.both, r.neither], [2, 1, 2, 2]);
  assert.throws(() => mcnemar([1], [1, 0]), /same images/);
});

test('t interval over seeds matches the t table', () => {
  assert.equal(t975(2), 4.303);
  close(t975(60), 2.0003, 2e-3, 't(60)'); // table value 2.000
  const ci = meanCI([0.7, 0.8, 0.9]);
  // mean 0.8, sd 0.1, half-width 4.303 x 0.1 / sqrt(3) = 0.24844.
  close(ci.estimate, 0.8, 1e-12, 'mean');
  close(ci.hi - ci.estimate, 0.248434, 1e-5, 'half width');
  assert.throws(() => meanCI([0.5]), /at least 2/);
});

test('bootstrap interval covers the true accuracy about 95% of the time on synthetic data', () => {
  const rng = new Rng(7);
  const truth = 0.7;
  const trials = 300;
  let covered = 0;
  for (let t = 0; t < trials; t++) {
    const correct = Uint8Array.from({ length: 200 }, () => (rng.uniform() < truth ? 1 : 0));
    const ci = bootstrapAccuracy(correct, { resamples: 400, seed: t });
    if (ci.lo <= truth && truth <= ci.hi) covered++;
  }
  const coverage = covered / trials;
  // The binomial spread of 300 trials at 0.95 is +-0.013; the percentile bootstrap runs slightly under nominal.
  assert.ok(coverage >= 0.9 && coverage <= 0.98, `coverage ${coverage} is far from 0.95`);
});

test('paired bootstrap difference: identical models give an interval of exactly 0; a better one excludes 0', () => {
  const a = Array.from({ length: 100 }, (_, i) => (i % 3 ? 1 : 0));
  const same = bootstrapDifference(a, a, { resamples: 200 });
  assert.deepEqual([same.estimate, same.lo, same.hi], [0, 0, 0]);
  const b = a.map((x, i) => (i % 5 === 0 ? 0 : x));
  const d = bootstrapDifference(a, b, { resamples: 500 });
  assert.ok(d.estimate > 0 && d.lo > 0, `${JSON.stringify(d)}`);
});

test('verdict: names the leader with the interval and p, or says there is no significant difference', () => {
  const ahead = verdict('Spikformer', 'ResNet18', { estimate: 0.051, lo: 0.032, hi: 0.07, method: '' }, 0.0004);
  assert.equal(ahead, 'Spikformer ahead by 5.1 points, 95% CI 3.2 to 7.0, p < 0.001');
  const behind = verdict('Spikformer', 'ResNet18', { estimate: -0.051, lo: -0.07, hi: -0.032, method: '' }, 0.02);
  assert.equal(behind, 'ResNet18 ahead by 5.1 points, 95% CI 3.2 to 7.0, p = 0.02');
  const none = verdict('A', 'B', { estimate: 0.01, lo: -0.01, hi: 0.03, method: '' }, 0.3);
  assert.match(none, /^no significant difference at this size/);
});

test('per-class accuracy with Wilson intervals', () => {
  const r = perClassAccuracy([0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0], ['seoul', 'tokyo']);
  const [seoul, tokyo] = r;
  assert.ok(seoul && tokyo, 'one row per class');
  assert.equal(seoul.accuracy, 0.75);
  assert.equal(tokyo.accuracy, 0.5);
  assert.ok(seoul.lo < 0.75 && seoul.hi > 0.75 && seoul.lo > 0);
});
