// Checkpoints: `<kind>.json` (the sidecar and commit point) names `<kind>-<step>.safetensors` (weights and BN stats
// under the official PyTorch names, loadable by PyTorch) and `<kind>-<step>.optim.safetensors` (AdamW moments).
// Files of a new save get new names and the sidecar is renamed over the old one last, so a kill -9 at any moment
// leaves either the old or the new checkpoint whole; files no sidecar names are swept afterwards.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import type { BatchCursor } from '../data/dataset.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readSafetensors, toFloat32, writeSafetensors, type SafeTensor } from '../io/safetensors.js';
import type { Model } from '../models/model.js';
import { createModel, type ModelConfig } from '../models/registry.js';
import { fileClasses, labelMetadata, reorderHead } from '../models/label_order.js';
import { loadStateDict, toStateDict } from '../models/state_dict.js';
import type { AdamW, AdamWState } from './adamw.js';
import type { TrainConfig } from './config.js';
import { lastSidecarUnder, sidecarIn } from './run_folder.js';
import { assertAllFinite, refuseNonFinite } from './finite.js';

export const CHECKPOINT_FORMAT = 'geospike-checkpoint/1';

/** Running sums of an epoch's training steps. */
export interface EpochSums {
  loss: number;
  correct: number;
  seen: number;
  seconds: number;
}

/** Everything besides tensors that a run needs to continue, or that a user of the model needs to read images. */
export interface CheckpointMeta {
  /** Model preset name and resolved architecture. */
  preset: string;
  model: ModelConfig;
  /** Class names in label order. */
  classes: string[];
  /** Per-channel normalisation of the training data (pixel/255 - mean) / std. */
  mean: number[];
  std: number[];
  /** Completed epochs, and the optimizer steps taken. */
  epoch: number;
  step: number;
  /** Where the batch iterator stands (mid-epoch after an interrupt). */
  cursor: BatchCursor;
  /** Best validation accuracy so far and its epoch. */
  best: { valAcc: number; epoch: number } | null;
  /** The resolved training config (see src/train/config.ts); empty for weights not made by `geospike train`. */
  train: Partial<TrainConfig>;
  /** Running sums of the epoch in progress, so an interrupted epoch reports the same numbers when resumed. */
  partial?: EpochSums;
  /** Changes made on resume (epochs, lr, ...), oldest first. */
  history?: { atStep: number; changed: Record<string, [unknown, unknown]> }[];
}

/** The sidecar of weights no training made (an import, a bench, a test fixture): epoch 0, no best, no settings. */
export function untrainedMeta(
  preset: string,
  model: ModelConfig,
  classes: string[],
  norm: { mean: number[]; std: number[] },
): CheckpointMeta {
  return { preset, model, classes, ...norm, epoch: 0, step: 0, cursor: { epoch: 0, batch: 0 }, best: null, train: {} };
}

interface Sidecar extends CheckpointMeta {
  format: string;
  savedAt: string;
  files: { weights: string; optimizer: string | null };
}

export interface LoadedCheckpoint {
  meta: CheckpointMeta;
  weightsPath: string;
  optimizerPath: string | null;
}

/** Writes `<dir>/<kind>.json` and the files it names. */
export async function saveCheckpoint(
  dir: string,
  kind: string,
  model: Model,
  optimizer: AdamW | null,
  meta: CheckpointMeta,
): Promise<string> {
  const stem = `${kind}-${String(meta.step).padStart(8, '0')}`;
  const weights = `${stem}.safetensors`;
  const optim = optimizer ? `${stem}.optim.safetensors` : null;
  // Checked before anything is written: a checkpoint with a NaN in it would be resumed from and served.
  const stateDict = toStateDict(model.store);
  const moments = optimizer ? optimizerTensors(optimizer.state()) : null;
  const values = (m: Map<string, SafeTensor>) => [...m].map(([k, t]) => [k, t.data] as [string, SafeTensor['data']]);
  assertAllFinite([...values(stateDict), ...(moments ? values(moments) : [])], `checkpoint ${kind} refused`);
  // The head's outputs are in the dataset's class order, and the file says so for whoever loads it in PyTorch.
  await writeSafetensors(join(dir, weights), stateDict, {
    format: CHECKPOINT_FORMAT,
    preset: meta.preset,
    ...labelMetadata(meta.classes, 'dataset'),
  });
  if (moments && optim) await writeSafetensors(join(dir, optim), moments, { step: String(optimizer!.step) });
  const sidecar: Sidecar = {
    format: CHECKPOINT_FORMAT,
    savedAt: new Date().toISOString(),
    ...meta,
    files: { weights, optimizer: optim },
  };
  const json = sidecarIn(dir, kind);
  await writeFileAtomic(json, JSON.stringify(sidecar, null, 1));
  await sweep(dir, kind, sidecar.files);
  return json;
}

// Old generations of this kind that the sidecar no longer names (and temp files of an interrupted save).
async function sweep(dir: string, kind: string, keep: Sidecar['files']): Promise<void> {
  const keepSet = new Set([keep.weights, keep.optimizer]);
  const mine = new RegExp(`^(${kind}-\\d+(\\.optim)?\\.safetensors|\\.${kind}[-.].*\\.tmp)$`);
  for (const f of readdirSync(dir)) {
    if (mine.test(f) && !keepSet.has(f)) await unlink(join(dir, f)).catch(() => {});
  }
}

const count = z.number().int().min(0);
const countersSchema = z
  .object({
    epoch: count,
    step: count,
    cursor: z.object({ epoch: count, batch: count }),
    best: z.object({ valAcc: z.number().min(0).max(1), epoch: count }).nullable(),
    partial: z.record(z.string(), z.number().refine(Number.isFinite)).optional(),
    files: z.object({ weights: z.string().min(1), optimizer: z.string().min(1).nullable() }),
  })
  .refine((c) => c.cursor.epoch === c.epoch, { message: 'must equal epoch', path: ['cursor', 'epoch'] });

/** The counters a resume continues from: a damaged or hand-edited sidecar is refused here, not mid-run. */
function checkCounters(json: string, sidecar: unknown): void {
  const r = countersSchema.safeParse(sidecar);
  if (!r.success) {
    const why = r.error.issues.map((i) => `${i.path.join('.') || '(sidecar)'} ${i.message}`).join('; ');
    throw new Error(`${json}: malformed counters (${why}); restore the file or start a new run`);
  }
}

function optimizerTensors(s: AdamWState): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const [prefix, moments] of [
    ['m', s.m],
    ['v', s.v],
  ] as const) {
    for (const [name, data] of moments) out.set(`${prefix}.${name}`, { dtype: 'F32', shape: [data.length], data });
  }
  return out;
}

/** Accepts the sidecar (`best.json`), its stem (`best`), or a checkpoints folder (its `last.json`). */
export function resolveCheckpointPath(path: string): string {
  if (existsSync(path) && statSync(path).isDirectory()) {
    const inner = lastSidecarUnder(path);
    if (!inner) throw new Error(`${path} holds no checkpoint (no last.json); pass a checkpoint's .json file`);
    return inner;
  }
  if (path.endsWith('.json')) return path;
  if (existsSync(`${path}.json`)) return `${path}.json`;
  throw new Error(`no checkpoint at ${path}: expected a .json sidecar written by \`geospike train\``);
}

export function readCheckpoint(path: string): LoadedCheckpoint {
  const json = resolveCheckpointPath(path);
  let sidecar: Sidecar;
  try {
    sidecar = JSON.parse(readFileSync(json, 'utf8')) as Sidecar;
  } catch (err) {
    throw new Error(`${json} is not a readable checkpoint sidecar: ${(err as Error).message}`);
  }
  if (sidecar.format !== CHECKPOINT_FORMAT) {
    throw new Error(
      `${json} is not a geospike checkpoint (format '${sidecar.format}', expected '${CHECKPOINT_FORMAT}')`,
    );
  }
  checkCounters(json, sidecar);
  const dir = dirname(json);
  const { format: _f, savedAt: _s, files, ...meta } = sidecar;
  const weightsPath = join(dir, basename(files.weights));
  if (!existsSync(weightsPath)) throw new Error(`${json} names ${files.weights}, which is missing from ${dir}`);
  const optimizerPath = files.optimizer ? join(dir, basename(files.optimizer)) : null;
  if (optimizerPath && !existsSync(optimizerPath))
    throw new Error(`${json} names ${files.optimizer}, which is missing from ${dir}`);
  return { meta, weightsPath, optimizerPath };
}

/**
 * A checkpoint's state dict with its head's outputs in the sidecar's class order. A weights file that names its own
 * class order (every one geospike writes; one exported from PyTorch in ImageFolder's sorted order) is mapped by name.
 */
export function readCheckpointWeights(ck: LoadedCheckpoint): Map<string, SafeTensor> {
  const file = readSafetensors(ck.weightsPath);
  const listed = fileClasses(file.metadata, ck.weightsPath);
  if (!listed) return file.tensors; // written before files named their order: geospike's own, the sidecar's
  return reorderHead(file.tensors, ck.meta.model.arch, listed, ck.meta.classes, ck.weightsPath);
}

/** The model of a checkpoint, ready for inference (or to continue training). */
export function loadModelFromCheckpoint(path: string): { model: Model; meta: CheckpointMeta } {
  const ck = readCheckpoint(path);
  const tensors = readCheckpointWeights(ck);
  // A NaN or Inf in the weights would be used silently: every answer of eval, predict and play would be garbage.
  refuseNonFinite(
    [...tensors].map(([k, t]) => [k, t.dtype === 'F16' || t.dtype === 'BF16' ? toFloat32(t) : t.data]),
    ck.weightsPath,
  );
  const model = createModel(ck.meta.model);
  try {
    loadStateDict(model.store, tensors, ck.weightsPath);
  } catch (err) {
    model.store.dispose();
    throw err;
  }
  return { model, meta: ck.meta };
}

/**
 * The AdamW state of an optimizer file; its step count (steps
 * whose update was skipped don't count) is at most `maxStep`.
 */
export function readOptimizerState(path: string, maxStep: number): AdamWState {
  const file = readSafetensors(path);
  const raw = file.metadata.step;
  const step = /^\d{1,15}$/.test(raw ?? '') ? Number(raw) : NaN;
  if (!(step <= maxStep)) {
    throw new Error(
      `${path}: step '${raw}' is not a step count of at most ${maxStep} (the checkpoint's); the optimizer file is ` +
        `damaged`,
    );
  }
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [k, t] of file.tensors) {
    const target = k.startsWith('m.') ? m : k.startsWith('v.') ? v : null;
    if (!target) throw new Error(`${path}: unexpected optimizer entry '${k}'`);
    target.set(k.slice(2), toFloat32(t));
  }
  return { step, m, v };
}
