// Where a step's time goes, per tfjs kernel: every kernel of a backend is re-registered wrapped in a timer while a
// profile runs (`geospike bench --profile`). Kernels that call others directly (a native kernel's JS fallback) count
// once, under the outer name. The event-driven spike kernels are told apart from the dense ones by sparseStats.
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { sparseStats } from '../engine/native/density.js';

export interface KernelTime {
  /** The kernel name (and its input shapes, when asked), with " (event-driven)" for calls that took a spike kernel. */
  name: string;
  family: string;
  ms: number;
  calls: number;
}

/** The op family of a kernel name, for the summary table. */
export function kernelFamily(name: string): string {
  if (/MatMul/.test(name)) return 'matmul';
  if (/Conv2D/.test(name)) return 'conv';
  if (/LIF/.test(name)) return 'lif';
  if (/BatchNorm/.test(name)) return 'batchnorm';
  if (/Pool/.test(name)) return 'pool';
  if (/AdamW/.test(name)) return 'optimizer';
  if (/Transpose|Reshape|Concat|Slice|Tile|Pad|Cast|Identity/.test(name)) return 'layout';
  return 'elementwise';
}

/** Starts timing every kernel of `backendName`; stop() restores the kernels and returns the times, slowest first. */
export function profileKernels(backendName: string, byShape = false): { stop(): KernelTime[] } {
  const times = new Map<string, KernelTime>();
  const originals: KernelConfig[] = tf.getKernelsForBackend(backendName);
  const timed =
    (name: string, f: KernelFunc): KernelFunc =>
    (args) => {
      const sparse0 = sparseStats.sparse;
      const t0 = performance.now();
      const result = f(args);
      const ms = performance.now() - t0;
      const shapes = byShape
        ? ` ${Object.values(args.inputs)
            .map((t) => (t ? `[${t.shape}]` : '-'))
            .join('')}`
        : '';
      const key = `${name}${shapes}${sparseStats.sparse > sparse0 ? ' (event-driven)' : ''}`;
      const t = times.get(key) ?? { name: key, family: kernelFamily(name), ms: 0, calls: 0 };
      t.ms += ms;
      t.calls++;
      times.set(key, t);
      return result;
    };
  const swap = (configs: KernelConfig[], wrap: boolean) => {
    for (const k of configs) {
      tf.unregisterKernel(k.kernelName, backendName);
      tf.registerKernel(wrap ? { ...k, kernelFunc: timed(k.kernelName, k.kernelFunc) } : k);
    }
  };
  swap(originals, true);
  return {
    stop() {
      swap(originals, false);
      return [...times.values()].sort((a, b) => b.ms - a.ms);
    },
  };
}

/** The profile as text: per op family, then per kernel, each with its share of the total kernel time. */
export function describeProfile(times: KernelTime[], steps: number, top = 25): string[] {
  const total = times.reduce((s, t) => s + t.ms, 0);
  const families = new Map<string, number>();
  for (const t of times) families.set(t.family, (families.get(t.family) ?? 0) + t.ms);
  const row = (name: string, ms: number, calls?: number) =>
    `  ${name.padEnd(60)} ${(ms / steps / 1000).toFixed(3).padStart(8)} ` +
    `s/step ${((100 * ms) / total).toFixed(1).padStart(5)}%` +
    (calls === undefined ? '' : `  ${Math.round(calls / steps)} calls`);
  return [
    `kernel time per step, ${(total / steps / 1000).toFixed(3)} s in all; by op family:`,
    ...[...families.entries()].sort((a, b) => b[1] - a[1]).map(([f, ms]) => row(f, ms)),
    'by kernel:',
    ...times.slice(0, top).map((t) => row(t.name, t.ms, t.calls)),
  ];
}
