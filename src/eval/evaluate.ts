// Runs a trained model over one split of a dataset: logits, loss, metrics, speed, and (for spiking models) the
// mean firing rate of every LIF layer and of the pooled maps that feed convolutions, averaged over images.
import { BatchIterator, type Dataset, type SplitData } from '../data/dataset.js';
import { sameClasses } from '../data/manifest.js';
import type { Model } from '../models/model.js';
import type { CheckpointMeta } from '../train/checkpoint.js';
import { runSplit } from '../train/validate.js';
import { argmaxRows } from '../util/argmax.js';
import { classificationMetrics, type ClassificationMetrics } from './metrics.js';
import { must } from '../util/must.js';

export type SplitName = 'train' | 'validation';

export interface EvalOptions {
  split?: SplitName;
  batchSize?: number;
  /** Evaluate only N images, spread evenly over the split. */
  maxImages?: number;
  /** Record firing rates (a sync read per LIF layer per batch; a little slower). */
  rates?: boolean;
  /** Keep every image's id, label and logits (`perImage`). */
  perImage?: boolean;
  /** Called after each batch with images done and the total. */
  progress?: (done: number, total: number) => void;
}

export interface EvalResult extends ClassificationMetrics {
  split: SplitName;
  classes: string[];
  /** Mean cross-entropy (no label smoothing). */
  loss: number;
  imagesPerSecond: number;
  seconds: number;
  /** Mean firing rate per LIF layer (spiking models, when asked for). */
  rates?: Record<string, number>;
  /** Mean of the non-LIF tensors that feed weight layers (SPS max-pools). */
  inputRates?: Record<string, number>;
  /** Every image's raw model outputs (float32 values) in the checkpoint's class order, when asked for. */
  perImage?: ImageLogits[];
  /** Per image, in split order: the true class and the predicted one (for paired tests and per-city intervals). */
  labels?: number[];
  predicted?: number[];
}

export interface ImageLogits {
  id: string;
  label: number;
  logits: number[];
}

/** n images spread evenly over the split (files are grouped by class, so the first n would miss classes). */
export function spreadSubset(full: SplitData, n: number): SplitData {
  const size = full.images.length / full.n;
  const pick = Array.from({ length: n }, (_, k) => Math.floor((k * full.n) / n));
  const images = new Uint8Array(n * size);
  pick.forEach((i, k) => {
    images.set(full.images.subarray(i * size, (i + 1) * size), k * size);
  });
  const below = 'picked indices are below full.n';
  const labels = Int32Array.from(pick, (i) => must(full.labels[i], below));
  return { images, labels, ids: pick.map((i) => must(full.ids[i], below)), n };
}

/** The checkpoint and the dataset must name the same classes in the same order, or labels mean different things. */
export function checkClasses(meta: Pick<CheckpointMeta, 'classes'>, ds: Pick<Dataset, 'classes' | 'dir'>): void {
  if (!sameClasses(meta.classes, ds.classes)) {
    throw new Error(
      `the checkpoint was trained on classes [${meta.classes.join(', ')}] but ${ds.dir} has ` +
        `[${ds.classes.join(', ')}]; ` +
        'evaluate on the dataset the model was trained on',
    );
  }
}

export function evaluate(model: Model, meta: CheckpointMeta, ds: Dataset, opts: EvalOptions = {}): EvalResult {
  checkClasses(meta, ds);
  const split = opts.split ?? 'validation';
  const full = ds[split];
  if (full.n === 0) throw new Error(`${ds.dir} has no ${split} images to evaluate`);
  const n = Math.min(full.n, opts.maxImages ?? full.n);
  const data = n === full.n ? full : spreadSubset(full, n);
  const it = new BatchIterator(data, {
    batchSize: opts.batchSize ?? 64,
    seed: 0,
    mean: meta.mean,
    std: meta.std,
    shuffle: false,
  });
  const pass = runSplit(model, it, { rates: opts.rates, inputRates: opts.rates, progress: opts.progress });
  return {
    split,
    classes: meta.classes,
    ...classificationMetrics(pass.logits, pass.labels, meta.classes),
    loss: pass.loss,
    imagesPerSecond: n / pass.seconds,
    seconds: pass.seconds,
    rates: pass.rates,
    inputRates: pass.inputRates,
    ...(opts.perImage ? { perImage: perImageLogits(data, pass.logits, meta.classes.length) } : {}),
    labels: Array.from(pass.labels),
    predicted: Array.from(argmaxRows(pass.logits, meta.classes.length)),
  };
}

function perImageLogits(data: SplitData, logits: Float32Array, k: number): ImageLogits[] {
  return data.ids.map((id, i) => ({
    id,
    label: must(data.labels[i], 'a split has one label per id'),
    logits: Array.from(logits.subarray(i * k, (i + 1) * k)),
  }));
}
