// A run shorter than the default warm-up gets a shortened warm-up and one line saying so; a warm-up the user set
// (flag or config file) is kept, and refused when it is not shorter than the run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, resolveTrainConfig } from '../../src/train/config.js';

const base = { data: 'd', out: 'o', model: 'spikformer-2-128' };

test('--epochs 5 without --warmup-epochs trains, with a shorter warm-up and one line of notice', () => {
  const lines: string[] = [];
  const c = resolveTrainConfig({}, { ...base, epochs: 5 }, (l) => lines.push(l));
  assert.ok(c.warmupEpochs > 0 && c.warmupEpochs < 5, `warm-up ${c.warmupEpochs}`);
  assert.equal(c.warmupEpochs, 0.33); // the recipe's share: 20 of 300 epochs
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? '', /warm-up shortened to 0\.33 epochs for a 5-epoch run/);
});

test('long runs keep the default warm-up and print nothing', () => {
  const lines: string[] = [];
  assert.equal(
    resolveTrainConfig({}, { ...base, epochs: 21 }, (l) => lines.push(l)).warmupEpochs,
    DEFAULTS.warmupEpochs,
  );
  assert.deepEqual(lines, []);
});

test('a warm-up the user set is never changed: refused when too long, from a flag or the config file', () => {
  assert.throws(
    () => resolveTrainConfig({}, { ...base, epochs: 5, warmupEpochs: 20 }),
    /warmupEpochs \(--warmup-epochs\): must be less than epochs/,
  );
  assert.throws(
    () => resolveTrainConfig({ warmupEpochs: 5 }, { ...base, epochs: 5 }),
    /warmupEpochs \(--warmup-epochs\): must be less than epochs/,
  );
  assert.equal(resolveTrainConfig({ warmupEpochs: 2 }, { ...base, epochs: 5 }).warmupEpochs, 2);
});
