// What `geospike explain` does to a checkpoint: evidence maps on validation images, each class's average map over the
// images it got right, and (asked for) the deletion test; saved as RUN/explain.json for the report.
import { normalisationTable, writeModelInput } from '../data/model_input.js';
import type { Dataset } from '../data/dataset.js';
import { loadModelFromCheckpoint, resolveCheckpointPath } from '../train/checkpoint.js';
import { argmaxRows } from '../util/argmax.js';
import { checkClasses, spreadSubset, type SplitName } from './evaluate.js';
import { deletionTest, evidenceMaps, perClassMaps, probabilities, type Deletion } from './explain.js';

export interface ExplainResult {
  checkpoint: string;
  preset: string;
  method: string;
  grid: number;
  images: number;
  split: SplitName;
  perClass: { class: string; images: number; map: number[] }[];
  deletion: Deletion | null;
}

export interface ExplainOptions {
  images?: number;
  split?: SplitName;
  deletion?: boolean;
  progress?: (what: string, done: number, total: number) => void;
}

/** Maps are computed this many images at a time (a backward pass holds every activation). */
const MAP_BATCH = 16;

export function explainCheckpoint(checkpoint: string, ds: Dataset, opts: ExplainOptions = {}): ExplainResult {
  const json = resolveCheckpointPath(checkpoint);
  const { model, meta } = loadModelFromCheckpoint(json);
  try {
    checkClasses(meta, ds);
    const split = opts.split ?? 'validation';
    const full = ds[split];
    if (full.n === 0) throw new Error(`${ds.dir} has no ${split} images to explain`);
    const n = Math.min(full.n, opts.images ?? 64);
    const data = n === full.n ? full : spreadSubset(full, n);
    const x = new Float32Array(data.images.length);
    writeModelInput(data.images, normalisationTable(meta.mean, meta.std), x); // the one input path
    const per = x.length / n;
    const K = meta.classes.length;
    const predicted = new Int32Array(n);
    const maps: Float32Array[] = [];
    let method = '';
    let grid = 0;
    for (let i = 0; i < n; i += MAP_BATCH) {
      const b = Math.min(MAP_BATCH, n - i);
      const xb = x.subarray(i * per, (i + b) * per);
      predicted.set(argmaxRows(probabilities(model, xb, b), K), i);
      const m = evidenceMaps(model, xb, b, predicted.subarray(i, i + b));
      maps.push(...m.maps);
      method = m.method;
      grid = m.grid;
      opts.progress?.('maps', i + b, n);
    }
    const deletion = opts.deletion
      ? deletionTest(model, x, n, maps, predicted, { progress: (d, t) => opts.progress?.('deletion test', d, t) })
      : null;
    return {
      checkpoint: json,
      preset: meta.preset,
      method,
      grid,
      images: n,
      split,
      perClass: perClassMaps(maps, data.labels, predicted, meta.classes),
      deletion,
    };
  } finally {
    model.store.dispose();
  }
}
