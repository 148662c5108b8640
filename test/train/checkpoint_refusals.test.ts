// A checkpoint whose optimizer file is missing, or whose counters are malformed, is refused with the file named,
// before any training (or any change to the run folder) happens.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine } from '../../src/engine/backend.js';
import { importFashionMnist } from '../../src/data/importers/fashion_mnist.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { train } from '../../src/train/loop.js';
import { Progress } from '../../src/train/progress.js';

const root = mkdtempSync(join(tmpdir(), 'geospike-ckrefuse-'));
const data = join(root, 'data');
const opts = () => ({ progress: new Progress({ write: () => true }), log: () => {} });
const config = (out: string, epochs = 1) =>
  resolveTrainConfig(
    {},
    {
      data,
      out: join(root, out),
      model: 'resnet18-w8',
      epochs,
      warmupEpochs: 0,
      batch: 8,
      mixup: 0,
      seed: 1,
    },
  );

before(async () => {
  await initEngine('native'); // named, so a machine with a GPU runs what CI runs
  await importFashionMnist({ out: data, perClass: 2, valPerClass: 1 });
  await train(config('base'), opts());
});

/**
 * A copy of the base run with its last.json edited; resuming it must fail naming `named`, leaving last.json as it was.
 */
async function refused(
  name: string,
  edit: (sidecar: Record<string, any>, dir: string) => void | Promise<void>,
  why: RegExp,
) {
  cpSync(join(root, 'base'), join(root, name), { recursive: true });
  const dir = join(root, name, 'checkpoints');
  const sidecar = JSON.parse(readFileSync(join(dir, 'last.json'), 'utf8'));
  await edit(sidecar, dir);
  writeFileSync(join(dir, 'last.json'), JSON.stringify(sidecar));
  const before = readFileSync(join(dir, 'last.json'));
  await assert.rejects(train(config(name, 2), { ...opts(), resume: true }), why);
  assert.ok(readFileSync(join(dir, 'last.json')).equals(before));
}

test('a missing optimizer file is refused, naming it', async () => {
  await refused(
    'noopt',
    (s, dir) => unlinkSync(join(dir, s.files.optimizer)),
    /last\.json names last-\d+\.optim\.safetensors, which is missing/,
  );
});

test('a last checkpoint without an optimizer file is refused', async () => {
  await refused(
    'nulloptim',
    (s) => {
      s.files.optimizer = null;
    },
    /last\.json names no optimizer file/,
  );
});

for (const [what, edit] of [
  [
    'a negative step',
    (s: any) => {
      s.step = -1;
    },
  ],
  [
    'a fractional epoch',
    (s: any) => {
      s.epoch = 0.5;
    },
  ],
  [
    'a string cursor',
    (s: any) => {
      s.cursor = { epoch: '1', batch: 0 };
    },
  ],
  [
    'a missing cursor',
    (s: any) => {
      delete s.cursor;
    },
  ],
  [
    'a cursor behind the epoch',
    (s: any) => {
      s.cursor = { epoch: 0, batch: 0 };
    },
  ],
  [
    'a NaN-like partial sum',
    (s: any) => {
      s.partial = { loss: 'NaN', correct: 0, seen: 0, seconds: 0 };
    },
  ],
  [
    'a best accuracy above 1',
    (s: any) => {
      s.best = { valAcc: 7, epoch: 1 };
    },
  ],
] as const) {
  test(`${what} is refused, naming the sidecar`, async () => {
    await refused(what.replace(/\W+/g, '-'), edit, /last\.json: malformed counters/);
  });
}

test("an optimizer file whose step is not the checkpoint's is refused, naming it", async () => {
  await refused(
    'optstep',
    async (s, dir) => {
      const f = readSafetensors(join(dir, s.files.optimizer));
      await writeSafetensors(join(dir, s.files.optimizer), f.tensors, { step: 'lots' });
    },
    /optim\.safetensors: step 'lots' is not a step count/,
  );
});

test('cleanup', () => rmSync(root, { recursive: true, force: true }));
