// The run estimate's arithmetic and wording, and the whole-run ETA on each epoch line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeEstimate, scaleEstimate } from '../../src/train/estimate.js';
import { runEta } from '../../src/train/loop.js';
import { DEFAULTS, resolveTrainConfig } from '../../src/train/config.js';
import type { EpochTiming } from '../../src/train/timing.js';
import { plural } from '../../src/util/plural.js';

test(
  'one measured step scales to the run: steps per epoch, ' + 'a third of a step per validation batch, epochs left',
  () => {
    // 40,000 training and 10,000 validation images at batch 64: 625 steps and 157 validation batches an epoch.
    const perEpoch = (625 + 157 / 3) * 2;
    assert.equal(scaleEstimate(2, { batch: 64, epochs: 300 }, 40_000, 10_000), 300 * perEpoch);
    assert.equal(scaleEstimate(2, { batch: 64, epochs: 300 }, 40_000, 10_000, 100), 200 * perEpoch);
    // A dataset smaller than a batch still trains one step an epoch.
    assert.equal(scaleEstimate(1, { batch: 64, epochs: 1 }, 10, 0), 1);
  },
);

test('the estimate line: the default recipe reads as days, with memory, and "1 epoch" in the singular', () => {
  const cfg = resolveTrainConfig({}, { data: 'd', out: 'o' });
  assert.equal(cfg.epochs, DEFAULTS.epochs);
  const line = describeEstimate(
    { secPerStep: 2.5, stepsPerEpoch: 625, totalSeconds: 216_000, peakRssMB: 9300 },
    cfg,
    'native',
  );
  assert.match(
    line,
    new RegExp(
      /^estimate on this machine \(native backend\): 2\.50 s per step of 64, 300 epochs of 625 steps -> /.source +
        /about 60h00m; peak memory about 9\.1 GB\./.source,
    ),
  );
  const one = describeEstimate(
    { secPerStep: 1, stepsPerEpoch: 1, totalSeconds: 1, peakRssMB: 300 },
    { ...cfg, epochs: 1 },
    'cpu',
  );
  assert.match(one, /1 epoch of 1 step -> about 1s; peak memory about 300 MB/);
  assert.equal(plural(1, 'epoch'), '1 epoch');
  assert.equal(plural(0, 'epoch'), '0 epochs');
});

test('the whole-run ETA: epochs left at the mean pace so far, nothing after the last epoch', () => {
  const t = (seconds: number) => ({ seconds }) as EpochTiming;
  assert.equal(runEta([t(100), t(140)], 120, 10), '  run eta 20m00s');
  assert.equal(runEta([], 3600, 59), '  run eta 59h00m');
  assert.equal(runEta([t(5)], 5, 0), '');
});
