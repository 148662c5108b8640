// `geospike study` end to end on a tiny Fashion-MNIST subset: two models, two seeds, one epoch; a second run skips
// every finished seed and prints the same verdict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { importFashionMnist } from '../../src/data/importers/fashion_mnist.js';
import { tempRoot } from '../eval/run_fixtures.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const geospike = (...args: string[]) =>
  promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, GEOSPIKE_BACKEND: 'cpu' } });

test('study: trains each model per seed, prints intervals, McNemar and the verdict; a re-run resumes', async (t) => {
  const root = tempRoot(t);
  const data = join(root, 'data');
  await importFashionMnist({ out: data, perClass: 1, valPerClass: 2, log: () => {} });
  const config = join(root, 'fast.json');
  writeFileSync(config, JSON.stringify({ timeSteps: 2 }));
  const out = join(root, 'study');
  const args = ['study', '--data', data, '--models', 'spikformer-1-64,resnet18-w8', '--seeds', '2', '--epochs', '1'];
  const first = await geospike(...args, '--batch', '10', '--config', config, '--out', out);
  assert.match(first.stdout, /spikformer-1-64: accuracy \d+\.\d% \(95% CI .* t interval over 2 seeds\)/);
  assert.match(first.stdout, /seed 1: McNemar \d+ right only by spikformer-1-64, \d+ only by resnet18-w8, p [=<] /);
  assert.match(first.stdout, /^verdict: (spikformer-1-64 ahead|resnet18-w8 ahead|no significant difference)/m);
  for (const m of ['spikformer-1-64', 'resnet18-w8'])
    for (const s of [0, 1]) assert.ok(existsSync(join(out, 'runs', m, `seed-${s}`, 'eval.json')), `${m} seed ${s}`);
  const summary = JSON.parse(readFileSync(join(out, 'study.json'), 'utf8'));
  assert.equal(summary.images, 20);
  assert.equal(summary.models[1].accuracies.length, 2);
  assert.match(readFileSync(join(out, 'study.html'), 'utf8'), /Accuracy per city/);

  const again = await geospike(...args, '--batch', '10', '--config', config, '--out', out);
  assert.match(again.stderr, /spikformer-1-64 seed 1: trained \(1 epochs\)/);
  assert.doesNotMatch(again.stderr, /training 1 epochs/);
  const verdictOf = (s: string) => s.split('\n').find((l) => l.startsWith('verdict:'));
  assert.equal(verdictOf(again.stdout), verdictOf(first.stdout));

  await assert.rejects(
    geospike('study', '--data', data, '--models', 'nope', '--epochs', '1', '--out', out),
    /unknown preset 'nope'/,
  );
});
