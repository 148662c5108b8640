// The torch engine's flags are refused with a sentence where they cannot apply, before anything trains or is written:
// torch-only flags without --engine torch, --amp on the CPU, an unknown engine, and a batch that does not split over
// the processes. Also the engine report of `geospike info --engines`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { torchMissing } from '../helpers/torch.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const geospike = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const train = (...extra: string[]) =>
  geospike(
    'train',
    '--data',
    'nowhere',
    '--out',
    join(tmpdir(), 'geospike-flags-never'),
    '--epochs',
    '2',
    '--warmup-epochs',
    '1',
    ...extra,
  );

test('torch-only flags, --amp on the CPU and unknown engines are refused with a sentence', () => {
  const cases: [string[], RegExp][] = [
    [['--gpus', '2'], /--gpus is for --engine torch only; add --engine torch or drop it/],
    [['--amp', 'bf16', '--sync-bn'], /--amp, --sync-bn are for --engine torch only/],
    [['--engine', 'jax'], /--engine must be ts or torch, got 'jax'/],
    [
      ['--engine', 'torch', '--amp', 'fp16', '--device', 'cpu'],
      /--amp fp16 runs on CUDA only; drop --amp or use --device cuda/,
    ],
    [['--engine', 'torch', '--device', 'tpu'], /--device must be auto, cpu or cuda, got 'tpu'/],
    [['--engine', 'torch', '--gpus', 'two'], /--gpus must be a whole number of at least 1, got 'two'/],
  ];
  for (const [extra, message] of cases) {
    const r = train(...extra);
    assert.equal(r.status, 1, extra.join(' '));
    assert.match(r.stderr, message);
  }
  assert.equal(existsSync(join(tmpdir(), 'geospike-flags-never')), false, 'nothing was written');
});

test('a batch that does not split over the processes is refused before training', { skip: torchMissing() }, () => {
  const r = train('--engine', 'torch', '--device', 'cpu', '--gpus', '3', '--batch', '16');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--batch 16 does not split evenly over 3 processes; choose a multiple of 3/);
  assert.equal(existsSync(join(tmpdir(), 'geospike-flags-never')), false, 'nothing was written');
});

test('info --engines says what torch can do here, or why it cannot run', () => {
  const r = geospike('info', '--engines', '--json');
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.ts.available, true);
  if (report.torch.available) {
    assert.match(report.torch.torch, /^\d+\.\d+/);
    assert.ok(Array.isArray(report.torch.cudaDevices));
    if (report.torch.cudaDevices.length === 0) assert.match(report.torch.cuda, /sees no CUDA device/);
  } else assert.match(report.torch.problem, /torch|python/i);
  const missing = spawnSync(process.execPath, [cli, 'info', '--engines'], {
    encoding: 'utf8',
    env: { ...process.env, GEOSPIKE_PYTHON: '/nonexistent/python3' },
  });
  assert.match(missing.stdout, /torch {3}cannot run: cannot run \/nonexistent\/python3 .*set GEOSPIKE_PYTHON/);
});
