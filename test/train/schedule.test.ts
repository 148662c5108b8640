import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRate } from '../../src/train/schedule.js';

const o = { lr: 5e-4, minLr: 1e-5, warmupEpochs: 20, epochs: 300, stepsPerEpoch: 10 };
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

test('warm-up rises linearly from minLr to lr', () => {
  close(learningRate(0, o), 1e-5);
  close(learningRate(50, o), 1e-5 + 4.9e-4 * 0.25); // epoch 5 of 20
  close(learningRate(100, o), 1e-5 + 4.9e-4 * 0.5);
  close(learningRate(199, o), 1e-5 + (4.9e-4 * 19.9) / 20);
});

test('cosine falls from lr at the end of warm-up to minLr at the last epoch', () => {
  close(learningRate(200, o), 5e-4);
  close(learningRate(1600, o), 1e-5 + 4.9e-4 * 0.5); // halfway through 280 cosine epochs
  close(learningRate(900, o), 1e-5 + (4.9e-4 * (1 + Math.cos(Math.PI * 0.25))) / 2); // 70 of 280
  close(learningRate(3000, o), 1e-5);
  close(learningRate(5000, o), 1e-5); // past the end it stays at the floor
  assert.ok(learningRate(2999, o) > 1e-5 && learningRate(2999, o) < 1.01e-5);
});

test('no warm-up starts at the peak', () => {
  close(learningRate(0, { ...o, warmupEpochs: 0 }), 5e-4);
});
