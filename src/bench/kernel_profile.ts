// Where a training step's time goes, kernel by kernel: wraps every kernel of the active backend with a timer and
// runs a few steps of a preset. `node dist/src/bench/kernel_profile.js [preset] [batch] [steps] [by]`, by = 'name'
// (default) or 'shape' (name and input shapes). Kernels nest (a fallback runs another kernel), so the inner ones
// are counted in both; the "outside kernels" line is the step's time no kernel accounts for (tape, JS glue).
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { initEngine } from '../engine/backend.js';
import { createModel, resolveConfig } from '../models/registry.js';
import { AdamW } from '../train/adamw.js';
import { lossAndGrads } from '../train/grads.js';
import { crossEntropy } from '../train/loss.js';

export interface KernelTimes {
  key: string;
  calls: number;
  ms: number;
}

/** Wraps each kernel of `backendName` with a timer; returns the table and an undo. */
export function timeKernels(backendName: string, by: 'name' | 'shape' = 'name') {
  const table = new Map<string, KernelTimes>();
  let depth = 0;
  let outerMs = 0;
  const undo: (() => void)[] = [];
  for (const k of tf.getKernelsForBackend(backendName)) {
    const inner: KernelFunc = k.kernelFunc;
    const timed: KernelFunc = (args) => {
      const key =
        by === 'name'
          ? k.kernelName
          : `${k.kernelName} ${Object.values(args.inputs)
              .map((t) => `[${(t as TensorInfo | null)?.shape ?? ''}]`)
              .join(' ')}`;
      const t0 = performance.now();
      depth++;
      try {
        return inner(args);
      } finally {
        depth--;
        const ms = performance.now() - t0;
        if (depth === 0) outerMs += ms;
        const row = table.get(key) ?? { key, calls: 0, ms: 0 };
        row.calls++;
        row.ms += ms;
        table.set(key, row);
      }
    };
    // The registry hands out its own config object: swapping kernelFunc in place changes what the engine runs.
    (k as { kernelFunc: KernelFunc }).kernelFunc = timed;
    undo.push(() => {
      (k as { kernelFunc: KernelFunc }).kernelFunc = inner;
    });
  }
  return {
    table,
    kernelMs: () => outerMs,
    reset: () => {
      table.clear();
      outerMs = 0;
    },
    undo: () => {
      for (const f of undo) f();
    },
  };
}

async function main(): Promise<void> {
  const [preset = 'resnet18', batchArg = '64', stepsArg = '2', by = 'name'] = process.argv.slice(2);
  const batch = Number(batchArg),
    steps = Number(stepsArg);
  const backend = await initEngine(process.env.GEOSPIKE_BACKEND ?? 'native');
  const config = resolveConfig(preset);
  const model = createModel(config, 0);
  const x = tf.randomUniform([batch, config.imageSize, config.imageSize, config.inChannels], -1, 1, 'float32', 7);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % config.classes);
  const opt = new AdamW({ lr: 5e-4, weightDecay: 6e-2 });
  const step = () => {
    const { loss, grads } = lossAndGrads(model.store, () =>
      crossEntropy(model.forward(x as tf.Tensor4D, { training: true }), labels, 0.1),
    );
    loss.dataSync();
    opt.apply(model.store.params, grads);
    tf.dispose([loss, ...grads.values()]);
  };
  step(); // warm-up: primitives created, pool filled
  const prof = timeKernels(backend, by === 'shape' ? 'shape' : 'name');
  const t0 = performance.now(),
    cpu0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) step();
  const total = (performance.now() - t0) / steps;
  const cpu = process.cpuUsage(cpu0);
  prof.undo();
  const rows = [...prof.table.values()].sort((a, b) => b.ms - a.ms);
  console.log(
    `${preset} batch ${batch} on ${backend}: ${total.toFixed(0)} ms a step (${steps} steps), CPU ${((cpu.user + cpu.system) / 1000 / steps).toFixed(0)} ms`,
  );
  console.log(`outside kernels: ${(total - prof.kernelMs() / steps).toFixed(0)} ms`);
  for (const r of rows.slice(0, 40)) {
    console.log(`${(r.ms / steps).toFixed(1).padStart(8)} ms ${String(r.calls / steps).padStart(5)}x  ${r.key}`);
  }
  console.log(`peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
