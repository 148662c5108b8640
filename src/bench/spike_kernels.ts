// Each spike kernel against the dense kernel it replaces, over firing rates 0..1, at spikformer-4-384's layer shapes
// (T 4, 64 tokens, so a batch of B images is 256 B token rows): where event-driven beats dense, for the density
// thresholds and for docs/benchmarks.md's plot of images/s against firing rate. Sparse and dense runs alternate.
//
//   npm run bench:spikes -- [--batch 64] [--reps 3] [--rates 0,0.01,...] [--only conv] [--json F] [--csv F] [--svg F]
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import { initEngine } from '../engine/backend.js';
import { addon } from '../engine/native/kernel_util.js';
import { convParams } from '../ops/conv2d/native.js';
import { sparseBelow, sparseIsa, type SparseKernel } from '../ops/sparse_thresholds/native.js';
import { composedAttention } from '../ops/spike_attention/op.js';
import { must } from '../util/must.js';
import { median } from './model.js';
import { spikePlotSvg } from './spike_plot.js';

export const DEFAULT_RATES = [0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1];
const T = 4,
  TOKENS = 64,
  D = 384,
  HEADS = 12;

/** One kernel pair at one firing rate: each run writes its result into its own output. */
interface Runs {
  sparse(): void;
  dense(): void;
  /** The two results, to check they agree (max |difference| relative to the largest value). */
  outputs(): [Float32Array, Float32Array];
}

export interface SpikeCase {
  name: string;
  make(rate: number): Runs;
}

export interface SpikeRow {
  kernel: string;
  rate: number;
  sparseMs: number;
  denseMs: number;
  /** CPU time (all threads) of the same runs: steadier than wall time on a shared machine. */
  sparseCpuMs: number;
  denseCpuMs: number;
  /** Images a second each would sustain if the whole step were this kernel (batch / time). */
  sparseImagesPerSec: number;
  denseImagesPerSec: number;
  /** Largest |sparse - dense| over the largest |dense|: rounding only. */
  relDiff: number;
}

let seed = 12345;
function random(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 4294967296;
}
const spikes = (n: number, rate: number) => Float32Array.from({ length: n }, () => (random() < rate ? 1 : 0));
const dense = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);

function matmulCase(name: string, K: number, N: number, weightGrad: boolean, batch: number): SpikeCase {
  const R = T * batch * TOKENS;
  return {
    name,
    make(rate) {
      const x = spikes(R * K, rate);
      if (!weightGrad) {
        // y [R, N] = x [R, K] W^T, W stored [N, K] as Linear keeps it
        const w = dense(N * K);
        const [ys, yd] = [new Float32Array(R * N), new Float32Array(R * N)];
        const params = Int32Array.from([1, 1, R, N, K, 0, 1, 0, 0]);
        return {
          sparse: () => addon().sparseMatMul(x, w, ys, R, K, N, true),
          dense: () => addon().batchMatMul(x, w, yd, params),
          outputs: () => [ys, yd],
        };
      }
      // dW [N, K] = dY [R, N]^T x [R, K]
      const dy = dense(R * N);
      const [ws, wd] = [new Float32Array(N * K), new Float32Array(N * K)];
      const params = Int32Array.from([1, 1, N, K, R, 1, 0, 0, 0]);
      return {
        sparse: () => addon().sparseMatMulTA(dy, x, ws, R, N, K),
        dense: () => addon().batchMatMul(dy, x, wd, params),
        outputs: () => [ws, wd],
      };
    },
  };
}

function convCase(name: string, size: number, C: number, O: number, filterGrad: boolean, batch: number): SpikeCase {
  const n = T * batch;
  const info = backend_util.computeConv2DInfo([n, size, size, C], [3, 3, C, O], 1, 1, [
    [0, 0],
    [1, 1],
    [1, 1],
    [0, 0],
  ] as unknown as 'same');
  const params = must(convParams(info) ?? undefined, 'oneDNN expresses a 3x3 same-padded convolution');
  return {
    name,
    make(rate) {
      const x = spikes(n * size * size * C, rate);
      if (!filterGrad) {
        const w = dense(9 * C * O);
        const [ys, yd] = [new Float32Array(n * size * size * O), new Float32Array(n * size * size * O)];
        return {
          sparse: () => addon().sparseConv2d(x, w, ys, params),
          dense: () => addon().conv2d(x, w, yd, params),
          outputs: () => [ys, yd],
        };
      }
      const dy = dense(n * size * size * O);
      const [ws, wd] = [new Float32Array(9 * C * O), new Float32Array(9 * C * O)];
      return {
        sparse: () => addon().sparseConv2dBackpropFilter(x, dy, ws, params),
        dense: () => addon().conv2dBackpropFilter(x, dy, wd, params),
        outputs: () => [ws, wd],
      };
    },
  };
}

/** The fused attention against the tfjs-ops product the model ran before (transposes and [N, N] matrix included). */
function attentionCase(name: string, withGrad: boolean, batch: number): SpikeCase {
  const G = T * batch,
    n = G * TOKENS * D;
  const params = Int32Array.from([G, TOKENS, D, HEADS]);
  return {
    name,
    make(rate) {
      const [q, k, v] = [spikes(n, rate), spikes(n, rate), spikes(n, rate)];
      const dy = dense(n);
      const [ys, yd] = [new Float32Array(n), new Float32Array(n)];
      const grads: [Float32Array, Float32Array, Float32Array] = [
        new Float32Array(n),
        new Float32Array(n),
        new Float32Array(n),
      ];
      const shape = [T, batch, TOKENS, D];
      return {
        sparse() {
          addon().spikeAttention(q, k, v, ys, params, 0.125);
          if (withGrad) addon().spikeAttentionGrad(dy, q, k, v, grads[0], grads[1], grads[2], params, 0.125);
        },
        dense() {
          tf.tidy(() => {
            const [tq, tk, tv] = [tf.tensor(q, shape), tf.tensor(k, shape), tf.tensor(v, shape)];
            if (!withGrad) return void yd.set(composedAttention(tq, tk, tv, HEADS, 0.125).dataSync());
            const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => composedAttention(a, b, c, HEADS, 0.125);
            const { value, grads: g } = tf.valueAndGrads((a, b, c) => tf.sum(tf.mul(f(a, b, c), tf.tensor(dy, shape))))(
              [tq, tk, tv],
            );
            value.dataSync();
            yd.set(must(g[0], 'a gradient per input').dataSync());
          });
        },
        outputs: () => (withGrad ? [grads[0], yd] : [ys, yd]),
      };
    },
  };
}

/** Every case at `batch` images (T 4): the spike-input products of spikformer-4-384. */
export function spikeCases(batch: number): SpikeCase[] {
  return [
    matmulCase('fc2 X W^T [256B x 1536] x [1536 x 384]', 4 * D, D, false, batch),
    matmulCase('proj X W^T [256B x 384] x [384 x 384]', D, D, false, batch),
    matmulCase('fc2 dW = dY^T X, X [256B x 1536]', 4 * D, D, true, batch),
    convCase('conv 96->192 at 32x32, forward', 32, 96, 192, false, batch),
    convCase('conv 96->192 at 32x32, filter gradient', 32, 96, 192, true, batch),
    convCase('conv 192->384 at 16x16, forward', 16, 192, 384, false, batch),
    convCase('conv 192->384 at 16x16, filter gradient', 16, 192, 384, true, batch),
    attentionCase('attention 12 heads [4B, 64, 384], forward', false, batch),
    attentionCase('attention 12 heads [4B, 64, 384], forward + backward', true, batch),
  ];
}

function relDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0,
    scale = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return scale ? worst / scale : worst;
}

/** Times each case at each rate: one untimed run of each, then `reps` alternating pairs; medians. */
export function timeSpikeKernels(cases: SpikeCase[], rates: number[], batch: number, reps: number): SpikeRow[] {
  const rows: SpikeRow[] = [];
  const time = (f: () => void): [number, number] => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    f();
    const c = process.cpuUsage(c0);
    return [performance.now() - t0, (c.user + c.system) / 1000];
  };
  for (const c of cases) {
    for (const rate of rates) {
      const runs = c.make(rate);
      runs.sparse();
      runs.dense();
      const s: [number, number][] = [],
        d: [number, number][] = [];
      for (let r = 0; r < reps; r++) {
        s.push(time(runs.sparse));
        d.push(time(runs.dense));
      }
      const [sparseMs, denseMs] = [median(s.map((t) => t[0])), median(d.map((t) => t[0]))];
      rows.push({
        kernel: c.name,
        rate,
        sparseMs,
        denseMs,
        sparseCpuMs: median(s.map((t) => t[1])),
        denseCpuMs: median(d.map((t) => t[1])),
        sparseImagesPerSec: (1000 * batch) / sparseMs,
        denseImagesPerSec: (1000 * batch) / denseMs,
        relDiff: relDiff(...runs.outputs()),
      });
    }
  }
  return rows;
}

/** The threshold that decides between a case's two kernels, by the case's name (none for the fused attention). */
export function thresholdOf(kernel: string): SparseKernel | null {
  if (kernel.includes('dW')) return 'matmulTA';
  if (kernel.includes('X W^T')) return 'matmul';
  if (!kernel.startsWith('conv')) return null;
  return kernel.includes('filter gradient') ? 'convFilter' : 'conv';
}

/**
 * Where the event-driven kernel stops beating the dense one: the rate at which the CPU-time ratio reaches 1, linearly
 * between the measured rates around it; null when it never does in the range (or is already slower at the lowest).
 */
export function crossover(rows: SpikeRow[]): number | null {
  const ratio = (r: SpikeRow) => r.sparseCpuMs / r.denseCpuMs;
  const sorted = [...rows].sort((a, b) => a.rate - b.rate);
  for (const [i, r] of sorted.entries()) {
    if (ratio(r) < 1) continue;
    const prev = sorted[i - 1];
    if (!prev) return null;
    const [r0, r1] = [ratio(prev), ratio(r)];
    return prev.rate + ((1 - r0) / (r1 - r0)) * (r.rate - prev.rate);
  }
  return null;
}

export function describeSpikeRows(rows: SpikeRow[]): string[] {
  const lines: string[] = [];
  for (const kernel of [...new Set(rows.map((r) => r.kernel))]) {
    lines.push(kernel, '  rate    sparse ms    dense ms   sparse/dense   (CPU time)   max rel diff');
    for (const r of rows.filter((r) => r.kernel === kernel)) {
      lines.push(
        `  ${r.rate.toFixed(2).padStart(4)} ${r.sparseMs.toFixed(1).padStart(11)}` +
          ` ${r.denseMs.toFixed(1).padStart(11)}` +
          ` ${(r.sparseMs / r.denseMs).toFixed(2).padStart(14)}` +
          ` ${(r.sparseCpuMs / r.denseCpuMs).toFixed(2).padStart(12)}` +
          ` ${r.relDiff.toExponential(1).padStart(14)}`,
      );
    }
    const use = thresholdOf(kernel);
    const at = crossover(rows.filter((r) => r.kernel === kernel));
    if (use)
      lines.push(
        `  crossover (CPU time) ${at === null ? 'not in the measured range' : `~${at.toFixed(3)}`}; ` +
          `threshold ${sparseBelow(use)} (${sparseIsa()})`,
      );
  }
  return lines;
}

const USAGE = `usage: npm run bench:spikes -- [--batch 64] [--reps 3] [--rates 0,0.01,...,1] [--only NAME] [--json F]
                            [--csv F] [--svg F]
Times each event-driven kernel against the dense one it replaces over firing rates, at spikformer-4-384's shapes
(--only keeps the kernels whose name contains NAME, e.g. conv), and prints where they cross beside this CPU's
thresholds; --json, --csv and --svg also write the rows, and the plot of images/s against firing rate.`;

async function main(): Promise<void> {
  const { values: opt } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h', default: false },
      batch: { type: 'string', default: '64' },
      reps: { type: 'string', default: '3' },
      rates: { type: 'string', default: DEFAULT_RATES.join(',') },
      only: { type: 'string', default: '' },
      json: { type: 'string' },
      csv: { type: 'string' },
      svg: { type: 'string' },
    },
  });
  if (opt.help) return void console.log(USAGE);
  const batch = Number(opt.batch),
    reps = Number(opt.reps);
  const rates = opt.rates.split(',').map(Number);
  if (!(batch >= 1) || !(reps >= 1) || rates.some((r) => !(r >= 0 && r <= 1)))
    throw new Error('--batch and --reps take whole numbers >= 1, --rates numbers between 0 and 1 (comma-separated)');
  await initEngine('native');
  const all = spikeCases(batch);
  const cases = all.filter((c) => c.name.includes(opt.only));
  if (cases.length === 0)
    throw new Error(`--only ${opt.only} matches none of the kernels: ${all.map((c) => c.name).join('; ')}`);
  const threads = addon().info().threads;
  console.log(`spike kernels against dense, batch ${batch} (T 4), ${threads} threads, ${cpus()[0]?.model}:`);
  const rows = timeSpikeKernels(cases, rates, batch, reps);
  for (const l of describeSpikeRows(rows)) console.log(l);
  const meta = { batch, reps, threads, cpu: cpus()[0]?.model, date: new Date().toISOString() };
  if (opt.json) writeFileSync(opt.json, `${JSON.stringify({ ...meta, rows }, null, 2)}\n`);
  if (opt.csv) {
    const keys = Object.keys(rows[0] ?? {}) as (keyof SpikeRow)[];
    const csv = [keys.join(','), ...rows.map((r) => keys.map((k) => JSON.stringify(r[k])).join(','))];
    writeFileSync(opt.csv, `${csv.join('\n')}\n`);
  }
  if (opt.svg) writeFileSync(opt.svg, spikePlotSvg(rows, meta, thresholdOf));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await main();
  } catch (err) {
    // a mistyped option or value: say what was wrong and how to call it, not a stack trace
    console.error(`bench:spikes: ${(err as Error).message}\n${USAGE}`);
    process.exitCode = 2;
  }
}
