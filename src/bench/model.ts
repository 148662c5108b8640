// Whole-step timing of a model preset: training steps (forward, backward, AdamW) or inference batches, after
// warm-up, as `geospike bench` reports them; and the PyTorch peer's (bench/peer/step.py) arguments for the same model.
import { loadAverage } from './load.js';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../engine/backend.js';
import {
  architectureOf,
  createModel,
  macsPerStep,
  resolveConfig,
  timeStepsOf,
  type ModelConfig,
} from '../models/registry.js';
import { AdamW } from '../train/adamw.js';
import { noDecayNames, WEIGHT_DECAY_RULE } from '../train/param_groups.js';
import { lossAndGrads } from '../train/grads.js';
import { crossEntropy } from '../train/loss.js';
import { must } from '../util/must.js';
import { packageRoot } from '../util/package_root.js';
import { profileKernels, type KernelTime } from './kernel_profile.js';

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
  /** Time every kernel of the timed steps ('kernel': per kernel name, 'shape': per kernel and input shapes). */
  profile?: 'kernel' | 'shape';
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
  /** CPU seconds (all threads) per timed batch: steadier than the wall time on a shared machine. */
  cpuSecPerBatch?: number;
  /** Every timed step, seconds. */
  times?: number[];
  /** 1-minute load average before and after: other processes on the machine skew the times. */
  load?: [number, number];
  /** Achieved GFLOP/s from the model's dense MAC count (2 FLOPs a MAC; a training step counted as 3 forwards). */
  gflops?: number;
  /** On webgpu: the adapter, and the most GPU memory the backend held (its buffer pool included). */
  gpu?: { adapter: string; peakMB: number };
  extra?: Record<string, unknown>;
  /** With opts.profile: the timed steps' kernel times, slowest first. */
  profile?: KernelTime[];
}

// The peer's settings, so both sides do the same work: AdamW (lr 5e-4, wd 6e-2), cross-entropy with label smoothing.
const LR = 5e-4,
  WEIGHT_DECAY = 6e-2,
  LABEL_SMOOTHING = 0.1;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  const at = (i: number) => must(s[i], 'an index inside the list');
  return s.length % 2 ? at(m) : (at(m - 1) + at(m)) / 2;
}

/** Times `steps` batches after `warmup` untimed ones, on the active backend of initEngine(opts.backend). */
export async function benchModel(opts: BenchOptions): Promise<BenchResult> {
  const backend = await initEngine(opts.backend);
  const config = resolveConfig(opts.preset, opts.overrides);
  const model = createModel(config, 0);
  const { imageSize: S, inChannels: C, classes: K } = config;
  const x = tf.randomUniform([opts.batch, S, S, C], -1, 1, 'float32', 7) as tf.Tensor4D;
  const labels = Int32Array.from({ length: opts.batch }, (_, i) => i % K);
  // The grouping train uses (and the PyTorch peer, bench/peer/param_groups.py), so both sides do the same work.
  const opt = new AdamW({
    lr: LR,
    weightDecay: WEIGHT_DECAY,
    noDecay: noDecayNames(model.store, WEIGHT_DECAY_RULE),
  });
  const step = () => {
    if (opts.mode === 'infer') {
      const logits = tf.tidy(() => model.forward(x, { training: false }));
      logits.dataSync();
      logits.dispose();
      return;
    }
    const { loss, grads } = lossAndGrads(model.store, () =>
      crossEntropy(model.forward(x, { training: true }), labels, LABEL_SMOOTHING),
    );
    loss.dataSync();
    opt.apply(model.store.params, grads);
    tf.dispose([loss, ...grads.values()]);
  };
  // The webgpu backend's memory() reports GPU bytes allocated (in use and pooled); other backends have none.
  const gpuBytes = () => (tf.backend().memory() as { numBytesAllocatedInGPU?: number }).numBytesAllocatedInGPU;
  let gpuPeak = 0;
  for (let i = 0; i < opts.warmup; i++) step();
  const load0 = loadAverage();
  const times: number[] = [];
  const profiler = opts.profile ? profileKernels(tf.getBackend(), opts.profile === 'shape') : undefined;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < opts.steps; i++) {
    const t0 = performance.now();
    step();
    times.push((performance.now() - t0) / 1000);
    gpuPeak = Math.max(gpuPeak, gpuBytes() ?? 0);
  }
  const cpu = process.cpuUsage(cpu0);
  const profile = profiler?.stop();
  const adapter = (tf.backend() as { label?: string }).label;
  const params = model.store.counts().params;
  tf.dispose(x);
  model.store.dispose();
  const sec = median(times);
  return {
    runner: `geospike-${backend}`,
    model: opts.preset,
    mode: opts.mode,
    batch: opts.batch,
    params,
    secPerBatch: sec,
    imagesPerSec: opts.batch / sec,
    cpuSecPerBatch: (cpu.user + cpu.system) / 1e6 / opts.steps,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    times,
    load: [load0, loadAverage()],
    gflops: (flopsPerImage(config, opts.mode) * opts.batch) / sec / 1e9,
    gpu:
      gpuBytes() === undefined
        ? undefined
        : { adapter: adapter ?? backend, peakMB: Math.round((gpuPeak / 2 ** 20) * 10) / 10 },
    profile,
  };
}

/** Dense FLOPs of one image: 2 per MAC of the forward pass (over every time step), tripled for a training step. */
export function flopsPerImage(config: ModelConfig, mode: BenchMode): number {
  return 2 * macsPerStep(config) * timeStepsOf(config) * (mode === 'train' ? 3 : 1);
}

/** A script of the project's own PyTorch peer (bench/peer/README.md); `bench --torch-script` points elsewhere. */
export const peerScript = (name: 'step.py' | 'epoch.py') => join(packageRoot(), 'bench', 'peer', name);
export const DEFAULT_PEER_SCRIPT = peerScript('step.py');

/** The peer's model flags (torch_engine/geospike_torch/models.py build) for the same architecture. */
export function peerModelArgs(config: ModelConfig): string[] {
  const spec = architectureOf(config);
  if (!spec.peerArgs) throw new Error(`the PyTorch peer has no ${spec.title}; compare it without --vs-pytorch`);
  return spec.peerArgs(config);
}

/** bench/peer/step.py's arguments for the same model, batch, T and thread count. */
export function torchArgs(
  config: ModelConfig,
  batch: number,
  steps: number,
  mode: BenchMode,
  threads: number,
): string[] {
  const common = [
    '--batch',
    `${batch}`,
    '--iters',
    `${steps}`,
    '--threads',
    `${threads}`,
    '--classes',
    `${config.classes}`,
  ];
  if (mode === 'infer') common.push('--infer');
  return [...peerModelArgs(config), ...common];
}
