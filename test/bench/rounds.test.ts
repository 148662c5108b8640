// Interleaved rounds against the PyTorch peer: every round kept, alternating fresh processes, the peer's environment
// without the machine's BLAS kernel pins, its kernel reported (or "unknown"). The peer here is a test double of our
// own: a Node script that answers as bench/peer/step.py does and echoes the environment it was given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from '../../src/bench/model.js';
import { interleave, peerEnv } from '../../src/bench/rounds.js';
import { tempDir } from '../data/helpers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

const FAKE_PEER =
  `
const pick = (k) => process.env[k] ?? null;
console.log('some log line first');
console.log(JSON.stringify({
  peer: 'fake-peer', blas_core: 'FakeCoreX', sgemm_gflops: 321.5, sec_per_batch: 0.25,
  argv: process.argv.slice(2), pid: process.pid,
  env: { OPENBLAS_CORETYPE: pick('OPENBLAS_CORETYPE'), OPENBLAS_L2_SIZE: pick('OPENBLAS_L2_SIZE'), OMP_NUM_THREADS: ` +
  `pick('OMP_NUM_THREADS'), KEEP_ME: pick('KEEP_ME') },
}));
`;

test('bench --vs-pytorch alternates fresh processes, keeps every round, and unpins the peer BLAS kernel', (t) => {
  const dir = tempDir(t, 'geospike-rounds-');
  const fake = join(dir, 'fake_peer.mjs');
  writeFileSync(fake, FAKE_PEER);
  const run = spawnSync(
    process.execPath,
    [
      MAIN,
      'bench',
      '--vs-pytorch',
      '--rounds',
      '3',
      '--model',
      'resnet18-w8',
      '--batch',
      '2',
      '--steps',
      '1',
      '--warmup',
      '0',
      '--backend',
      'native',
      '--threads',
      '2',
      '--python',
      process.execPath,
      '--torch-script',
      fake,
      '--json',
    ],
    {
      encoding: 'utf8',
      env: { ...process.env, OPENBLAS_CORETYPE: 'Haswell', OPENBLAS_L2_SIZE: '512', KEEP_ME: 'yes' },
    },
  );
  assert.equal(run.status, 0, run.stderr);
  const r = JSON.parse(run.stdout);
  assert.deepEqual(
    r.rounds.map((x: { runner: string; round: number }) => `${x.round}:${x.runner}`),
    ['1:geospike', '1:pytorch', '2:geospike', '2:pytorch', '3:geospike', '3:pytorch'],
  );
  const ours = r.rounds.filter((x: { runner: string }) => x.runner === 'geospike');
  const peer = r.rounds.filter((x: { runner: string }) => x.runner === 'pytorch');
  // Each geospike round is its own process, timed its own steps.
  const pids = new Set(ours.map((x: { result: { pid: number } }) => x.result.pid));
  assert.equal(pids.size, 3);
  assert.ok(!pids.has(run.pid));
  for (const x of ours) {
    assert.equal(x.result.geospike.model, 'resnet18-w8');
    assert.equal(x.result.geospike.times.length, 1);
    assert.equal(x.seconds, x.result.geospike.secPerBatch);
  }
  for (const x of peer) {
    assert.deepEqual(x.result.env, {
      OPENBLAS_CORETYPE: null,
      OPENBLAS_L2_SIZE: null,
      OMP_NUM_THREADS: '2',
      KEEP_ME: 'yes',
    });
    assert.deepEqual(x.result.argv, [
      'resnet18',
      '--width',
      '8',
      '--batch',
      '2',
      '--iters',
      '1',
      '--threads',
      '2',
      '--classes',
      '5',
    ]);
    assert.equal(x.seconds, 0.25);
  }
  assert.deepEqual(r.peer, { version: 'fake-peer', blasCore: 'FakeCoreX', sgemmGflops: 321.5 });
  const ratios = ours.map((x: { seconds: number }, i: number) => x.seconds / peer[i].seconds);
  assert.deepEqual(r.ratio, { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) });
  assert.equal(r.kind, 'train');
  assert.ok(typeof r.machine.cpu === 'string' && r.machine.cores >= 1);
});

test('interleave pairs rounds in order and says "unknown" for a peer that does not name its BLAS kernel', () => {
  const order: string[] = [];
  let g = 0;
  let p = 0;
  const report = interleave(
    4,
    () => {
      order.push('g');
      return { s: [2, 4, 3, 10][g++] };
    },
    () => {
      order.push('p');
      return { peer: 'old-peer', s: [1, 2, 2, 4][p++] };
    },
    (_runner, r) => r.s as number,
  );
  assert.equal(order.join(''), 'gpgpgpgp');
  assert.deepEqual(report.ratio, { median: 2, min: 1.5, max: 2.5 });
  assert.deepEqual(report.geospike, { median: 3.5, min: 2, max: 10 });
  assert.deepEqual(report.peer, { version: 'old-peer', blasCore: 'unknown', sgemmGflops: null });
  assert.equal(report.rounds.length, 8);
});

test('peerEnv drops only the BLAS pins and sets the thread count', () => {
  const env = peerEnv(
    { OPENBLAS_CORETYPE: 'Haswell', OPENBLAS_L2_SIZE: '512', OPENBLAS_NUM_THREADS: '1', PATH: '/bin' },
    3,
  );
  assert.deepEqual(env, { OPENBLAS_NUM_THREADS: '1', PATH: '/bin', OMP_NUM_THREADS: '3' });
});
