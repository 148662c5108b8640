import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULTS, readConfigFile, resolveTrainConfig } from '../../src/train/config.js';
import { numberOption } from '../../src/cli/args.js';

const base = { data: 'd', out: 'o' };

test("defaults are the study's recipe", () => {
  const c = resolveTrainConfig({}, base);
  assert.equal(c.model, 'spikformer-4-384');
  assert.equal(c.epochs, 300);
  assert.equal(c.batch, 64);
  assert.equal(c.lr, 5e-4);
  assert.equal(c.weightDecay, 0.06);
  assert.equal(c.warmupEpochs, 20);
  assert.equal(c.minLr, 1e-5);
  assert.equal(c.timeSteps, 4);
  assert.equal(c.labelSmoothing, 0.1);
  assert.equal(c.seed, 0);
  assert.deepEqual({ ...c, data: undefined, out: undefined }, { ...DEFAULTS, data: undefined, out: undefined });
});

test('precedence: defaults < config file < flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'geospike-cfg-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ epochs: 10, warmupEpochs: 2, lr: 1e-3, model: 'resnet18' }));
  const c = resolveTrainConfig(readConfigFile(file), { ...base, lr: 2e-3, epochs: undefined });
  assert.equal(c.epochs, 10); // file over default
  assert.equal(c.lr, 2e-3); // flag over file
  assert.equal(c.model, 'resnet18');
  assert.equal(c.batch, 64); // default
});

test('errors name the field and the allowed range', () => {
  assert.throws(
    () => resolveTrainConfig({}, { ...base, lr: -1 }),
    (e: Error) => e instanceof ConfigError && /lr \(--lr\): must be more than 0 \(got -1\)/.test(e.message),
  );
  assert.throws(
    () => resolveTrainConfig({}, { ...base, batch: 2.5 }),
    /batch \(--batch\): must be a whole number \(got 2\.5\)/,
  );
  assert.throws(
    () => resolveTrainConfig({}, { ...base, model: 'vgg' }),
    /model \(--model\): must be one of: spikformer-4-384/,
  );
  assert.throws(() => resolveTrainConfig({ epochz: 3 }, base), /epochz|unrecognized/i);
  assert.throws(() => resolveTrainConfig({}, { ...base, minLr: 1 }), /minLr \(--min-lr\): must not exceed lr/);
  assert.throws(() => resolveTrainConfig({}, { out: 'o' }), /data: missing; pass --data/);
  assert.throws(
    () => resolveTrainConfig({}, { ...base, epochs: 5, warmupEpochs: 20 }),
    /warmupEpochs \(--warmup-epochs\): must be less than epochs.*\(got 20\)/,
  );
  assert.throws(() => numberOption('--epochs', 'ten'), /--epochs must be a number, got 'ten'/);
  const dir = mkdtempSync(join(tmpdir(), 'geospike-cfg-'));
  writeFileSync(join(dir, 'bad.json'), '[1,2]');
  assert.throws(() => readConfigFile(join(dir, 'bad.json')), /must hold one JSON object/);
  assert.throws(() => readConfigFile(join(dir, 'missing.json')), /cannot read config file/);
});
