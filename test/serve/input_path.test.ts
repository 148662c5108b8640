// One input path (src/data/model_input.ts): a validation PNG reaches the model as the same bits through `geospike eval`
// (its batches), `geospike predict --json` and POST /api/predict, so all three give identical logits, bit for bit, on
// the cpu and native backends.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BatchIterator } from '../../src/data/dataset.js';
import { initEngine } from '../../src/engine/backend.js';
import { isSpiking, resolveConfig } from '../../src/models/registry.js';
import { Predictor } from '../../src/serve/predictor.js';
import { requireBackend, TEST_BACKENDS } from '../helpers/backends.js';
import { makeCheckpoint, makeDataset, serveGame } from './helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const BACKENDS = TEST_BACKENDS.filter((b) => b === 'cpu' || b === 'native');
const PRESETS = ['resnet18-w8', 'spikformer-1-64'];

async function geospikeJson(backend: string, ...args: string[]): Promise<any> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args, '--backend', backend], {
    env: { ...process.env, GEOSPIKE_BACKEND: backend },
  });
  return JSON.parse(stdout);
}

const root = mkdtempSync(path.join(tmpdir(), 'geospike-input-path-'));
const data = path.join(root, 'data');
const checkpoints = new Map<string, string>();
before(async () => {
  await makeDataset(data, { train: 1, validation: 2 });
  for (const [i, preset] of PRESETS.entries()) {
    checkpoints.set(preset, await makeCheckpoint(root, { preset, seed: 5 + i, kind: preset }));
  }
});
after(() => rmSync(root, { recursive: true, force: true }));

// The inputs themselves, for every 8-bit level of every channel: the logits test above can pass by luck when a model
// rounds away a one-ulp difference in its input (an untrained ResNet18 does), this cannot.
test("predict's model input is eval's, bit for bit, for every 8-bit level of every channel", async () => {
  await initEngine('cpu');
  const predictor = Predictor.load(checkpoints.get('resnet18-w8')!);
  try {
    // 1,024 pixels: pixel i holds level i % 256 in red, (i + 85) % 256 in green, (i + 170) % 256 in blue.
    const img = Uint8Array.from({ length: 32 * 32 * 3 }, (_, j) => (Math.floor(j / 3) + 85 * (j % 3)) % 256);
    const { mean, std } = predictor.meta;
    const it = new BatchIterator(
      { images: img, labels: Int32Array.of(0), ids: ['levels'], n: 1 },
      { batchSize: 1, seed: 0, mean, std, shuffle: false },
    );
    assert.deepEqual(predictor.modelInput([img]), it.batch(0, 0).x);
  } finally {
    predictor.dispose();
  }
});

for (const backend of BACKENDS) {
  describe(`on the ${backend} backend`, () => {
    before(() => requireBackend(backend));

    for (const preset of PRESETS) {
      const name = `${preset}: eval, predict --json and POST /api/predict give identical logits for a validation image`;
      test(name, async () => {
        const ckpt = checkpoints.get(preset)!;
        const evOut = await geospikeJson(
          backend,
          'eval',
          '--checkpoint',
          ckpt,
          '--data',
          data,
          '--images',
          '1',
          '--json',
          '--per-image',
          '--no-save',
        );
        assert.equal(evOut.perImage.length, 1);
        const { id, label, logits: evalLogits } = evOut.perImage[0];
        const png = path.join(data, 'validation', evOut.classes[label], `${id}.png`);
        assert.equal(evalLogits.length, evOut.classes.length);

        const [predicted] = await geospikeJson(backend, 'predict', '--checkpoint', ckpt, '--json', png);

        await initEngine(backend);
        const served = await serveGame(data, [ckpt]);
        let apiLogits: number[];
        try {
          const r = await served.app.inject({
            method: 'POST',
            url: '/api/predict',
            payload: readFileSync(png),
            headers: { 'content-type': 'image/png' },
          });
          assert.equal(r.statusCode, 200, r.body);
          apiLogits = r.json().predictions[0].logits;
        } finally {
          await served.close();
        }
        // Bit for bit: JSON carries a float32 exactly, so equal numbers are equal bits.
        assert.deepEqual(predicted.logits, evalLogits, 'predict --json differs from eval');
        assert.deepEqual(apiLogits, evalLogits, 'POST /api/predict differs from eval');
        // An untrained ANN's logits differ by class; an untrained spiking model's may all be equal (no spikes yet).
        if (!isSpiking(resolveConfig(preset))) {
          assert.ok(new Set(evalLogits).size > 1, 'the logits tell classes apart (a test of something)');
        }
      });
    }
  });
}
