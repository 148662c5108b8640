// `geospike bench --epoch --engine torch`: the same epochs (model, data, recipe: src/bench/epoch.ts's epochConfig)
// trained by the TypeScript loop on its backend and by the torch engine, compared on training throughput: images
// per second over the training steps and their data (validation and checkpoints excluded on both sides).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainWithTorch } from '../torch/train_torch.js';
import { runPaths } from '../train/run_folder.js';
import { benchEpoch, epochConfig, type EpochBenchOptions } from './epoch.js';
import { median } from './model.js';
import { must } from '../util/must.js';

export interface EngineBench {
  runner: string;
  /** Median over epochs of the training images per second (steps and data only). */
  trainImagesPerSec: number;
  perEpoch: number[];
}

export async function benchTsEngine(o: EpochBenchOptions): Promise<EngineBench> {
  const r = await benchEpoch(o);
  const perEpoch = r.epochs.map((e) => e.images / (e.step + e.data));
  return { runner: `${r.runner} (ts engine)`, trainImagesPerSec: median(perEpoch), perEpoch };
}

export async function benchTorchEngine(o: EpochBenchOptions, device: 'auto' | 'cpu' | 'cuda'): Promise<EngineBench> {
  const out = mkdtempSync(join(tmpdir(), 'geospike-bench-torch-'));
  try {
    const cfg = epochConfig(o, join(out, 'run'));
    await trainWithTorch(cfg, { resume: false, device, gpus: 1, nnodes: 1, syncBn: false }, () => {});
    const rows = readFileSync(runPaths(cfg.out).metrics, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { images_per_s: number; backend: string });
    const perEpoch = rows.map((r) => r.images_per_s);
    const backend = must(rows[0], 'the torch engine logs a metrics row per epoch').backend;
    return { runner: `torch engine (${backend})`, trainImagesPerSec: median(perEpoch), perEpoch };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export function compareEngines(a: EngineBench, b: EngineBench): string {
  const [fast, slow] = a.trainImagesPerSec >= b.trainImagesPerSec ? [a, b] : [b, a];
  return `${fast.runner} is ${(fast.trainImagesPerSec / slow.trainImagesPerSec).toFixed(2)}x as fast as ${slow.runner}`;
}
