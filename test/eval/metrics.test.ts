// Metrics on hand-built predictions, worked out on paper.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classificationMetrics, confusionMatrix, perClassMetrics, topKAccuracy } from '../../src/eval/metrics.js';
import { argmaxRows } from '../../src/util/argmax.js';

// Three classes, six images. Scores per row; the argmax is marked.
const names = ['a', 'b', 'c'];
const labels = [0, 0, 1, 1, 2, 2];
const scores = [
  0.9,
  0.1,
  0.0, // -> a (right)
  0.2,
  0.5,
  0.3, // -> b (wrong; a is third)
  0.1,
  0.8,
  0.1, // -> b (right)
  0.6,
  0.3,
  0.1, // -> a (wrong; b second)
  0.1,
  0.2,
  0.7, // -> c (right)
  0.3,
  0.4,
  0.3, // -> b (wrong; c ties a for second, a ranks first by index)
];

test('argmax and the confusion matrix, rows = true class', () => {
  assert.deepEqual([...argmaxRows(scores, 3)], [0, 1, 1, 0, 2, 1]);
  const m = confusionMatrix(labels, argmaxRows(scores, 3), 3);
  assert.deepEqual(m, [
    [1, 1, 0],
    [1, 1, 0],
    [0, 1, 1],
  ]);
  // Every image lands in exactly one cell; each row sums to its class's support.
  assert.equal(
    m.flat().reduce((a, b) => a + b, 0),
    labels.length,
  );
  assert.deepEqual(
    m.map((r) => r.reduce((a, b) => a + b, 0)),
    [2, 2, 2],
  );
});

test('top-1 equals accuracy; top-2 by hand; ties rank the lower index first', () => {
  assert.equal(topKAccuracy(scores, labels, 3, 1), 3 / 6);
  // Row 2: a is third -> miss. Row 4: b second -> hit. Row 6: c ties a at 0.3, a wins the tie -> c third -> miss.
  assert.equal(topKAccuracy(scores, labels, 3, 2), 4 / 6);
  assert.equal(topKAccuracy(scores, labels, 3, 3), 1);
});

test('precision, recall, F1 per class by hand', () => {
  const pc = perClassMetrics(
    [
      [1, 1, 0],
      [1, 1, 0],
      [0, 1, 1],
    ],
    names,
  );
  // a: tp 1, predicted 2, support 2. b: tp 1, predicted 3, support 2. c: tp 1, predicted 1, support 2.
  assert.deepEqual(
    pc.map((c) => c.precision),
    [1 / 2, 1 / 3, 1],
  );
  assert.deepEqual(
    pc.map((c) => c.recall),
    [1 / 2, 1 / 2, 1 / 2],
  );
  assert.ok(Math.abs((pc[1]?.f1 ?? NaN) - 0.4) < 1e-12); // 2 * (1/3)(1/2) / (5/6)
  assert.ok(Math.abs((pc[2]?.f1 ?? NaN) - 2 / 3) < 1e-12);
  assert.deepEqual(
    pc.map((c) => c.support),
    [2, 2, 2],
  );
});

test('a class never predicted and never present scores 0, not NaN', () => {
  const pc = perClassMetrics(
    [
      [2, 0, 0],
      [0, 1, 0],
      [0, 0, 0],
    ],
    names,
  );
  assert.deepEqual([pc[2]?.precision, pc[2]?.recall, pc[2]?.f1], [0, 0, 0]);
});

test('per-class metrics refuse a confusion matrix that is not one row and column per class', () => {
  assert.throws(
    () =>
      perClassMetrics(
        [
          [1, 0],
          [0, 1],
        ],
        names,
      ),
    /must be 3 x 3/,
  );
  assert.throws(
    () =>
      perClassMetrics(
        [
          [1, 0, 0],
          [0, 1],
          [0, 0, 1],
        ],
        names,
      ),
    /must be 3 x 3/,
  );
});

test('classificationMetrics puts it together', () => {
  const m = classificationMetrics(scores, labels, names);
  assert.equal(m.n, 6);
  assert.equal(m.accuracy, 0.5);
  assert.equal(m.top2, 4 / 6);
  const f1 = [0.5, 0.4, 2 / 3];
  assert.ok(Math.abs(m.macroF1 - f1.reduce((a, b) => a + b) / 3) < 1e-12);
});

test('bad input is refused with a clear message', () => {
  assert.throws(() => confusionMatrix([0, 1], [0], 2), /2 labels but 1 predictions/);
  assert.throws(() => confusionMatrix([0, 3], [0, 0], 2), /outside 0\.\.1/);
  assert.throws(() => classificationMetrics([1, 2, 3], [0, 1], ['x', 'y']), /expected 2 x 2/);
});
