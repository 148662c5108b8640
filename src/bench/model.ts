// Whole-step timing of a model preset: training steps (forward, backward, AdamW) or inference batches, after
// warm-up, as `geospike bench` reports them; and the PyTorch peer (bench/peer/step.py) on the same model.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../engine/backend.js';
import { macsPerStep } from '../models/macs.js';
import { createModel, resolveConfig, type ModelConfig } from '../models/registry.js';
import { AdamW } from '../train/adamw.js';
import { lossAndGrads } from '../train/grads.js';
import { crossEntropy } from '../train/loss.js';
import { packageRoot } from '../util/package_root.js';

export type BenchMode = 'train' | 'infer';

export interface BenchOptions {
  preset: string;
  batch: number;
  steps: number;
  warmup: number;
  mode: BenchMode;
  backend?: string;
  /** Overrides of the preset, e.g. timeSteps. */
  overrides?: Record<string, number>;
}

export interface BenchResult {
  runner: string;
  model: string;
  mode: BenchMode;
  batch: number;
  params: number;
  secPerBatch: number;
  imagesPerSec: number;
  peakRssMB: number;
  /** Every timed step, seconds. */
  times?: number[];
  /** 1-minute load average before and after: other processes on the machine skew the times. */
  load?: [number, number];
  /** Achieved GFLOP/s from the model's dense MAC count (2 FLOPs a MAC; a training step counted as 3 forwards). */
  gflops?: number;
  /** On webgpu: the adapter, and the most GPU memory the backend held (its buffer pool included). */
  gpu?: { adapter: string; peakMB: number };
  extra?: Record<string, unknown>;
}

// The peer's settings, so both sides do the same work: AdamW (lr 5e-4, wd 6e-2), cross-entropy with label smoothing.
const LR = 5e-4, WEIGHT_DECAY = 6e-2, LABEL_SMOOTHING = 0.1;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Times `steps` batches after `warmup` untimed ones, on the active backend of initEngine(opts.backend). */
export async function benchModel(opts: BenchOptions): Promise<BenchResult> {
  const backend = await initEngine(opts.backend);
  const config = resolveConfig(opts.preset, opts.overrides);
  const model = createModel(config, 0);
  const { imageSize: S, inChannels: C, classes: K } = config;
  const x = tf.randomUniform([opts.batch, S, S, C], -1, 1, 'float32', 7) as tf.Tensor4D;
  const labels = Int32Array.from({ length: opts.batch }, (_, i) => i % K);
  const opt = new AdamW({ lr: LR, weightDecay: WEIGHT_DECAY });
  const step = () => {
    if (opts.mode === 'infer') {
      const logits = tf.tidy(() => model.forward(x, { training: false }));
      logits.dataSync();
      logits.dispose();
      return;
    }
    const { loss, grads } = lossAndGrads(model.store, () => crossEntropy(model.forward(x, { training: true }), labels, LABEL_SMOOTHING));
    loss.dataSync();
    opt.apply(model.store.params, grads);
    tf.dispose([loss, ...grads.values()]);
  };
  // The webgpu backend's memory() reports GPU bytes allocated (in use and pooled); other backends have none.
  const gpuBytes = () => (tf.backend().memory() as { numBytesAllocatedInGPU?: number }).numBytesAllocatedInGPU;
  let gpuPeak = 0;
  for (let i = 0; i < opts.warmup; i++) step();
  const load0 = loadavg()[0];
  const times: number[] = [];
  for (let i = 0; i < opts.steps; i++) {
    const t0 = performance.now();
    step();
    times.push((performance.now() - t0) / 1000);
    gpuPeak = Math.max(gpuPeak, gpuBytes() ?? 0);
  }
  const adapter = (tf.backend() as { label?: string }).label;
  const params = model.store.counts().params;
  tf.dispose(x);
  model.store.dispose();
  const sec = median(times);
  return {
    runner: `geospike-${backend}`, model: opts.preset, mode: opts.mode, batch: opts.batch, params,
    secPerBatch: sec, imagesPerSec: opts.batch / sec, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024), times,
    load: [load0, loadavg()[0]], gflops: (flopsPerImage(config, opts.mode) * opts.batch) / sec / 1e9,
    gpu: gpuBytes() === undefined ? undefined : { adapter: adapter ?? backend, peakMB: Math.round((gpuPeak / 2 ** 20) * 10) / 10 },
  };
}

/** Dense FLOPs of one image: 2 per MAC of the forward pass (over every time step), tripled for a training step. */
export function flopsPerImage(config: ModelConfig, mode: BenchMode): number {
  const steps = 'timeSteps' in config ? config.timeSteps : 1;
  return 2 * macsPerStep(config) * steps * (mode === 'train' ? 3 : 1);
}

/** The peer's arguments for the same model, batch, T and thread count. */
export function torchArgs(config: ModelConfig, batch: number, steps: number, mode: BenchMode, threads: number): string[] {
  const common = ['--batch', `${batch}`, '--iters', `${steps}`, '--threads', `${threads}`, '--classes', `${config.classes}`];
  if (mode === 'infer') common.push('--infer');
  if (config.arch === 'spikformer' || config.arch === 'sdt') {
    const name = config.arch === 'sdt' ? 'Spike-driven Transformers' : 'Spikformers';
    if (config.mlpRatio !== 4 || config.imageSize !== 32) {
      throw new Error(`the PyTorch peer only builds ${name} with mlpRatio 4 on 32x32 images`);
    }
    return [config.arch, '--dim', `${config.dim}`, '--depth', `${config.depth}`, '--heads', `${config.heads}`, '--T', `${config.timeSteps}`, ...common];
  }
  if (config.imageSize !== 32) throw new Error('the PyTorch peer only builds ResNet18 on 32x32 images');
  return ['resnet18', '--width', `${config.width}`, ...common];
}

export const PYTHON = '/usr/bin/python3';
/** The project's own PyTorch peer (bench/peer/README.md); `bench --torch-script` points elsewhere. */
export const DEFAULT_PEER_SCRIPT = join(packageRoot(), 'bench', 'peer', 'step.py');
export const PEER_SETUP = 'apt-get install python3-torch libopenblas0-pthread';

/** Why the PyTorch peer cannot run here, or null when it can. */
export function peerProblem(script: string): string | null {
  if (!existsSync(script)) return `the PyTorch reference script is missing: ${script} (pass --torch-script PATH)`;
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return `PyTorch is not installed for ${PYTHON}: ${PEER_SETUP}`;
  return null;
}

/** Runs the peer script and reads its one JSON line. */
export function benchTorch(script: string, opts: BenchOptions, threads: number, env: NodeJS.ProcessEnv): BenchResult {
  const config = resolveConfig(opts.preset, opts.overrides);
  const args = [script, ...torchArgs(config, opts.batch, opts.steps, opts.mode, threads)];
  const load0 = loadavg()[0];
  const run = spawnSync(PYTHON, args, { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`the PyTorch peer failed (${PYTHON} ${args.join(' ')}): ${(run.stderr || '').trim().split('\n').pop()}`);
  const line = run.stdout.trim().split('\n').pop() ?? '';
  let r: Record<string, number | string>;
  try {
    r = JSON.parse(line);
  } catch {
    throw new Error(`the PyTorch peer printed no JSON result: ${line.slice(0, 200)}`);
  }
  return {
    runner: String(r.peer), model: opts.preset, mode: opts.mode, batch: opts.batch, params: Number(r.params),
    secPerBatch: Number(r.sec_per_batch), imagesPerSec: Number(r.images_per_s), peakRssMB: Number(r.peak_rss_mb),
    extra: { sgemmGflops: Number(r.sgemm_gflops) }, load: [load0, loadavg()[0]],
    gflops: (flopsPerImage(config, opts.mode) * opts.batch) / Number(r.sec_per_batch) / 1e9,
  };
}
