// The spike-kernel benchmark (npm run bench:spikes) at a tiny batch: every case runs both kernels, and the two agree
// (the benchmark also reports it, so a wrong kernel shows in its table); and the per-kernel profile of
// `bench --profile`.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { benchModel } from '../../src/bench/model.js';
import { describeProfile, kernelFamily } from '../../src/bench/kernel_profile.js';
import {
  crossover,
  describeSpikeRows,
  spikeCases,
  thresholdOf,
  timeSpikeKernels,
  type SpikeRow,
} from '../../src/bench/spike_kernels.js';
import { initEngine } from '../../src/engine/backend.js';
import { sparseBelow, sparseIsa } from '../../src/ops/sparse_thresholds/native.js';
import { SPIKE_ATTENTION_GRAD } from '../../src/ops/spike_attention/cpu.js';
import { must } from '../../src/util/must.js';

test('bench:spikes times every spike kernel against its dense one, with results that agree', async () => {
  assert.equal(await initEngine('native'), 'native');
  const rates = [0, 0.1, 1];
  const rows = timeSpikeKernels(spikeCases(1), rates, 1, 1);
  assert.equal(rows.length, spikeCases(1).length * rates.length);
  for (const r of rows) {
    assert.ok(r.sparseMs > 0 && r.denseMs > 0 && r.sparseCpuMs >= 0, `${r.kernel} at ${r.rate}: times`);
    assert.ok(r.relDiff < 1e-5, `${r.kernel} at ${r.rate}: sparse and dense differ by ${r.relDiff} of the scale`);
  }
  const attention = rows.filter((r) => r.kernel.startsWith('attention') && r.kernel.endsWith('forward'));
  assert.ok(
    attention.every((r) => r.relDiff === 0),
    'the fused attention forward is exact on spikes',
  );
  // a header and a column line per case, a row per rate, and the crossover line of each case with a threshold
  const withThreshold = spikeCases(1).filter((c) => thresholdOf(c.name) !== null).length;
  assert.equal(withThreshold, 7, 'every product and conv case has its threshold; the attention none');
  assert.equal(describeSpikeRows(rows).length, spikeCases(1).length * (rates.length + 2) + withThreshold);
});

test('bench:spikes finds where event-driven stops paying, between the measured rates', () => {
  const row = (rate: number, ratio: number): SpikeRow => ({
    kernel: 'k',
    rate,
    sparseMs: ratio,
    denseMs: 1,
    sparseCpuMs: ratio,
    denseCpuMs: 1,
    sparseImagesPerSec: 1,
    denseImagesPerSec: 1,
    relDiff: 0,
  });
  // CPU ratio 0.6 at 0.1 and 1.4 at 0.2: 1 is reached half way, at 0.15 (rows in any order)
  const at = crossover([row(0.2, 1.4), row(0.05, 0.3), row(0.1, 0.6)]);
  assert.ok(at !== null && Math.abs(at - 0.15) < 1e-12, `crossover ${at}`);
  assert.equal(crossover([row(0.1, 0.5), row(0.3, 0.9)]), null, 'never slower in the range');
  assert.equal(crossover([row(0.1, 1.2), row(0.3, 2)]), null, 'slower already at the lowest rate');
  assert.equal(thresholdOf('fc2 dW = dY^T X, X [256B x 1536]'), 'matmulTA');
  assert.equal(thresholdOf('proj X W^T [256B x 384] x [384 x 384]'), 'matmul');
  assert.equal(thresholdOf('conv 96->192 at 32x32, filter gradient'), 'convFilter');
  assert.equal(thresholdOf('conv 96->192 at 32x32, forward'), 'conv');
});

test("the addon's density thresholds come from the row of this CPU's vector ISA", async () => {
  assert.equal(await initEngine('native'), 'native');
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const avx512 = /\bavx512f\b/.test(cpuinfo);
  const amd = /^vendor_id\s*:\s*AuthenticAMD/m.test(cpuinfo);
  assert.equal(sparseIsa(), !avx512 ? 'avx2' : amd ? 'avx512-amd' : 'avx512');
  for (const k of ['matmul', 'matmulTA', 'conv', 'convFilter'] as const) {
    const t = sparseBelow(k);
    assert.ok(t > 0 && t < 0.5, `${k}: threshold ${t}`);
  }
  // AVX2's narrower vectors leave the dense conv slower for longer: its row's conv threshold is the higher one
  if (!avx512) assert.ok(sparseBelow('conv') > 0.09, `conv threshold ${sparseBelow('conv')} on AVX2`);
});

test('bench --profile times the kernels of the timed steps, by family, and restores them afterwards', async () => {
  assert.equal(await initEngine('native'), 'native');
  const original = tf.getKernel('BatchMatMul', 'native')?.kernelFunc;
  const run = () =>
    benchModel({ preset: 'spikformer-2-128', batch: 2, steps: 1, warmup: 0, mode: 'train', backend: 'native' });
  const profiled = await benchModel({
    preset: 'spikformer-2-128',
    batch: 2,
    steps: 1,
    warmup: 0,
    mode: 'train',
    backend: 'native',
    profile: 'shape',
  });
  const profile = must(profiled.profile, 'a profile was asked for');
  const names = profile.map((t) => t.name);
  assert.ok(
    names.some((n) => n.startsWith(`${SPIKE_ATTENTION_GRAD} [`)),
    `the fused attention's gradient, with shapes: ${names}`,
  );
  const times = profile.map((t) => t.ms);
  assert.deepEqual(
    times,
    [...times].sort((a, b) => b - a),
    'slowest first',
  );
  assert.equal(kernelFamily('BatchMatMul'), 'matmul');
  assert.equal(kernelFamily('Conv2DBackpropFilter'), 'conv');
  const [first] = describeProfile(profile, 1);
  assert.match(must(first, 'a first line'), /^kernel time per step, [\d.]+ s in all/);
  assert.equal(tf.getKernel('BatchMatMul', 'native')?.kernelFunc, original, 'the timed kernels are unwrapped again');
  assert.equal((await run()).profile, undefined, 'no profile unless asked');
});

test('bench:spikes answers --help, and a wrong option or value with what was wrong and its usage, not a trace', () => {
  const script = fileURLToPath(new URL('../../src/bench/spike_kernels.js', import.meta.url));
  const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
  const help = run('--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: npm run bench:spikes -- .*--only NAME/s);
  for (const [args, says] of [
    [['--bogus'], /Unknown option '--bogus'/],
    [['--rates', '0.1,2'], /--rates numbers between 0 and 1/],
    [['--only', 'nothing-like-this'], /--only nothing-like-this matches none of the kernels: fc2 X W\^T/],
  ] as const) {
    const r = run(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: exit status`);
    assert.match(r.stderr, says);
    assert.match(r.stderr, /\nusage: npm run bench:spikes/);
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  }
});
