// The game server on every backend: the same upload and the same dealt round get the answers the cpu reference
// backend gives, over a real socket (so `play --backend webgpu` serves what `play --backend cpu` does).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initEngine } from '../../src/engine/backend.js';
import { requireBackend, TEST_BACKENDS } from '../helpers/backends.js';
import { makeCheckpoint, makeDataset, photo, serveGame } from './helpers.js';
import { must } from '../../src/util/must.js';

interface Answers {
  upload: { model: string; class: string; probabilities: { class: string; probability: number }[] }[];
  round: { name: string; label: number }[];
}

const root = mkdtempSync(path.join(tmpdir(), 'geospike-serve-backends-'));
let data: string;
let checkpoints: string[];

before(async () => {
  await initEngine('cpu');
  data = await makeDataset(path.join(root, 'data'), { validation: 1 });
  // resnet18-w8 untrained already answers differently for different images; the Spikformer covers the LIF kernels.
  checkpoints = [
    await makeCheckpoint(root, { preset: 'spikformer-1-64', kind: 'snn', seed: 2 }),
    await makeCheckpoint(root, { preset: 'resnet18-w8', kind: 'ann', seed: 3 }),
  ];
});
after(() => rmSync(root, { recursive: true, force: true }));

/** Serves the game on the active backend, uploads one photo and plays one dealt round; returns what came back. */
async function serveAndAsk(): Promise<Answers> {
  const served = await serveGame(data, checkpoints, { defaultRounds: 1 });
  try {
    const base = served.base;
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(await photo(320, 240, 7))], { type: 'image/jpeg' }), 'street.jpg');
    const upload = await fetch(`${base}/api/predict`, { method: 'POST', body: form });
    assert.equal(upload.status, 200);
    const start = await fetch(`${base}/api/games`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rounds: 1 }),
    });
    const { game } = (await start.json()) as { game: string };
    assert.equal((await fetch(`${base}/api/games/${game}/round`)).status, 200); // deals the round: the models guess now
    const reveal = await fetch(`${base}/api/games/${game}/rounds/0/guess`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ guess: 0 }),
    });
    assert.equal(reveal.status, 200);
    return {
      upload: ((await upload.json()) as { predictions: Answers['upload'] }).predictions,
      round: ((await reveal.json()) as { models: Answers['round'] }).models.map(({ name, label }) => ({ name, label })),
    };
  } finally {
    await served.close();
  }
}

let reference: Answers;

for (const backend of TEST_BACKENDS) {
  test(`the game server on ${backend} answers an upload and a round as the cpu backend does`, async () => {
    if (!reference) {
      await requireBackend('cpu');
      reference = await serveAndAsk();
      const resnet = must(reference.upload[1], "resnet's answer").probabilities.map((c) => c.probability);
      assert.ok(
        Math.max(...resnet) - Math.min(...resnet) > 1e-3,
        'the reference answer depends on the image, not uniform',
      );
    }
    await requireBackend(backend);
    const got = await serveAndAsk();
    assert.deepEqual(got.round, reference.round, "the models' guesses in the round");
    assert.deepEqual(
      got.upload.map((p) => p.model),
      reference.upload.map((p) => p.model),
    );
    for (const [m, p] of got.upload.entries()) {
      const want = new Map(
        must(reference.upload[m], `model ${m} answered`).probabilities.map((c) => [c.class, c.probability]),
      );
      for (const c of p.probabilities) {
        assert.ok(
          Math.abs(c.probability - want.get(c.class)!) < 1e-4,
          `${p.model} ${c.class}: ${c.probability} vs ${want.get(c.class)}`,
        );
      }
    }
  });
}
