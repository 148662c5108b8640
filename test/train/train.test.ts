// Training: exact resume (stopped mid-epoch, resumed, same bytes as a straight run), NaN stops, refused resumes.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine } from '../../src/engine/backend.js';
import { importFashionMnist } from '../../src/data/importers/fashion_mnist.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { readCheckpoint } from '../../src/train/checkpoint.js';
import { resolveTrainConfig, type TrainConfig } from '../../src/train/config.js';
import { train, TrainingError } from '../../src/train/loop.js';
import { Progress } from '../../src/train/progress.js';
import { requireBackend, TEST_BACKENDS } from '../helpers/backends.js';

const root = mkdtempSync(join(tmpdir(), 'geospike-train-'));
const data = join(root, 'data');
const quiet = { write: () => true };
const opts = () => ({ progress: new Progress(quiet), log: () => {} });

function config(out: string, extra: Partial<TrainConfig> = {}): TrainConfig {
  return resolveTrainConfig(
    {},
    {
      data,
      out: join(root, out),
      model: 'spikformer-1-64',
      epochs: 2,
      warmupEpochs: 1,
      batch: 8,
      timeSteps: 2,
      mixup: 0.5,
      mixupOffEpoch: 1,
      seed: 3,
      ...extra,
    },
  );
}

/** Stops the run (as Ctrl-C does) once `steps` steps of the current invocation are done. */
function stopAfter(steps: number) {
  const control = { stop: false };
  let n = 0;
  const progress = new Progress(quiet);
  const update = progress.update.bind(progress);
  progress.update = (...args) => {
    update(...args);
    if (++n === steps) control.stop = true;
  };
  return { control, progress, log: () => {} };
}

const weightsOf = (run: string) =>
  readFileSync(readCheckpoint(join(root, run, 'checkpoints', 'last.json')).weightsPath);
const optimOf = (run: string) =>
  readFileSync(readCheckpoint(join(root, run, 'checkpoints', 'last.json')).optimizerPath!);
/** summary.csv without the timing columns, which differ run to run. */
const summaryOf = (run: string) =>
  readFileSync(join(root, run, 'summary.csv'), 'utf8')
    .trim()
    .split('\n')
    .map((l) =>
      l
        .split(',')
        .filter((_, i) => i !== 6 && i !== 7)
        .join(','),
    );

// The run the later tests copy and resume is a native one; each test starts on native (a resume test may switch).
before(async () => {
  await initEngine('native');
  await importFashionMnist({ out: data, perClass: 4, valPerClass: 1 });
  const straight = await train(config('straight'), opts());
  assert.equal(straight.status, 'finished');
});
beforeEach(() => initEngine('native'));

// Exact resume on every backend that trains (cpu, the pure-JS reference, takes minutes for these 20 steps): the
// kernels are deterministic, webgpu's included, so a resumed run is byte for byte a straight one.
for (const backend of TEST_BACKENDS.filter((b) => b !== 'cpu')) {
  test(
    `on ${backend}, a run stopped mid-epoch and resumed ends with the same weights, moments and log as a straight ` +
      `run`,
    async () => {
      await requireBackend(backend);
      const straightRun = `straight-${backend}`;
      const resumed = `resumed-${backend}`;
      assert.equal((await train(config(straightRun), opts())).status, 'finished');
      const first = await train(config(resumed), stopAfter(3));
      assert.equal(first.status, 'interrupted');
      const ck = readCheckpoint(join(root, resumed, 'checkpoints', 'last.json'));
      assert.deepEqual(ck.meta.cursor, { epoch: 0, batch: 3 });
      assert.equal(ck.meta.step, 3);
      // Second interruption lands in the second epoch.
      const second = await train(config(resumed), { ...stopAfter(4), resume: true });
      assert.equal(second.status, 'interrupted');
      assert.deepEqual(readCheckpoint(join(root, resumed, 'checkpoints', 'last.json')).meta.cursor, {
        epoch: 1,
        batch: 2,
      });
      const done = await train(config(resumed), { ...opts(), resume: true });
      assert.equal(done.status, 'finished');
      assert.ok(weightsOf(resumed).equals(weightsOf(straightRun)), 'weights differ from the uninterrupted run');
      assert.ok(optimOf(resumed).equals(optimOf(straightRun)), 'AdamW moments differ from the uninterrupted run');
      assert.deepEqual(summaryOf(resumed), summaryOf(straightRun));
      assert.equal(summaryOf(straightRun).length, 3); // header + one row per epoch
    },
  );
}

test('changing epochs and lr on resume is allowed and recorded; the architecture is not', async () => {
  cpSync(join(root, 'straight'), join(root, 'longer'), { recursive: true });
  await assert.rejects(
    train(config('longer', { model: 'spikformer-2-128', epochs: 3 }), { ...opts(), resume: true }),
    /cannot resume with model "spikformer-2-128": the run was started with model "spikformer-1-64"/,
  );
  await assert.rejects(
    train(config('longer', { timeSteps: 4, epochs: 3 }), { ...opts(), resume: true }),
    /cannot resume with timeSteps 4/,
  );
  await assert.rejects(
    train(config('longer', { seed: 4, epochs: 3 }), { ...opts(), resume: true }),
    /cannot resume with seed 4/,
  );
  const r = await train(config('longer', { epochs: 3, lr: 1e-3 }), { ...opts(), resume: true });
  assert.equal(r.epochsDone, 3);
  const meta = readCheckpoint(join(root, 'longer', 'checkpoints', 'last.json')).meta;
  assert.deepEqual(meta.history, [
    {
      atStep: 10,
      // the folder was copied
      changed: { epochs: [2, 3], lr: [5e-4, 1e-3], out: [join(root, 'straight'), join(root, 'longer')] },
    },
  ]);
  assert.equal(summaryOf('longer').length, 4);
});

test('a run folder that holds a run is not started over; nothing to resume is said plainly', async () => {
  await assert.rejects(train(config('straight'), opts()), /already holds a run .* add --resume to continue it/);
  await assert.rejects(
    train(config('fresh'), { ...opts(), resume: true }),
    /nothing to resume: .*last\.json does not exist/,
  );
});

test('a NaN loss stops the run and overwrites no checkpoint', async () => {
  cpSync(join(root, 'straight'), join(root, 'nan'), { recursive: true });
  const ckDir = join(root, 'nan', 'checkpoints');
  const ck = readCheckpoint(join(ckDir, 'last.json'));
  const file = readSafetensors(ck.weightsPath);
  (file.tensors.get('head.weight')!.data as Float32Array)[0] = NaN;
  await writeSafetensors(ck.weightsPath, file.tensors, file.metadata);
  const lastBefore = readFileSync(join(ckDir, 'last.json'));
  const bestBefore = readFileSync(join(ckDir, 'best.json'));
  const weightsBefore = readFileSync(ck.weightsPath);
  await assert.rejects(
    train(config('nan', { epochs: 3 }), { ...opts(), resume: true }),
    (e: Error) =>
      e instanceof TrainingError &&
      /the loss became NaN at epoch 3, step 11 .* no checkpoint was overwritten/.test(e.message),
  );
  assert.ok(readFileSync(join(ckDir, 'last.json')).equals(lastBefore));
  assert.ok(readFileSync(join(ckDir, 'best.json')).equals(bestBefore));
  assert.ok(readFileSync(ck.weightsPath).equals(weightsBefore));
});

// A hook, not a test: it asserts nothing, so it must not count as a passing test.
after(() => rmSync(root, { recursive: true, force: true }));
