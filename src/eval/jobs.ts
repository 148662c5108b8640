// What `eval` and `energy` do to a checkpoint, shared with `compare` and `demo`: load it, run it over a split,
// and save the result beside the run (RUN/eval.json, RUN/energy.json) so the report can pick it up.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { writeFileAtomic } from '../io/atomic.js';
import { architectureOf, isSpiking, presetsOfRole, resolveConfig, type ModelConfig } from '../models/registry.js';
import { loadModelFromCheckpoint, readCheckpoint, resolveCheckpointPath } from '../train/checkpoint.js';
import { countEnergy, resolveCosts, type EnergyCosts, type EnergyReport } from './energy.js';
import { measureEnergy, nvmlCounter, raplCounter, type Measurement } from './energy_measure.js';
import { bitsOfCosts, countMemory, type MemoryReport } from './energy_memory.js';
import { evaluate, type EvalOptions, type EvalResult, type SplitName } from './evaluate.js';
import { runDirOf, type ResultFile } from '../train/run_folder.js';

export interface EvalJobResult extends EvalResult {
  checkpoint: string;
  preset: string;
  epoch: number;
}

/** Loads `checkpoint` and evaluates it on `split` of `ds`. */
export function evalCheckpoint(checkpoint: string, ds: Dataset, opts: EvalOptions = {}): EvalJobResult {
  const json = resolveCheckpointPath(checkpoint);
  const { model, meta } = loadModelFromCheckpoint(json);
  try {
    const r = evaluate(model, meta, ds, opts);
    return { checkpoint: json, preset: meta.preset, epoch: meta.epoch, ...r };
  } finally {
    model.store.dispose();
  }
}

export interface EnergyResult {
  checkpoint: string;
  preset: string;
  /** Images the firing rates were measured on (0 for ResNet18, whose cost does not depend on the data). */
  images: number;
  split: SplitName;
  rates: Record<string, number> | null;
  inputRates: Record<string, number> | null;
  report: EnergyReport;
  /** The ANN it is compared with: a preset or a checkpoint, costed on the same data with the same E_MAC. */
  baseline: { name: string; arch: string; energy: number; macs: number } | null;
  /** baseline energy / this model's energy. */
  ratio: number | null;
  /**
   * Memory accesses and their energy (Lemaire et al. 2022), beside the compute-only `report`; absent in older files.
   */
  memory?: MemoryReport;
  /** The baseline's memory energy, pJ per image, on the same assumptions. */
  baselineMemory?: number | null;
  /** `energy --measure`: a measured counter over a timed inference run, or null joules with the reason. */
  measured?: Measurement;
}

export interface EnergyOptions {
  images?: number;
  split?: SplitName;
  costs?: EnergyCosts;
  /**
   * A preset name or a checkpoint path; null for none. Default for a spiking model: the first preset of the family
   * that fills the demo's ANN slot (resnet18), at the checkpoint's class count.
   */
  baseline?: string | null;
  progress?: (done: number, total: number) => void;
}

/** The study's ANN baseline: the first preset of the family that fills the demo's ANN slot. */
const defaultBaseline = () => presetsOfRole('ann').presets[0];

function baselineConfig(baseline: string, classes: number): { name: string; config: ModelConfig } {
  if (existsSync(baseline) || baseline.endsWith('.json')) {
    const meta = readCheckpoint(baseline).meta;
    return { name: meta.preset, config: meta.model };
  }
  return { name: baseline, config: resolveConfig(baseline, { classes }) };
}

/** Firing rates on real images (spiking models), operations and energy per layer, and the ratio to an ANN baseline. */
export function energyOfCheckpoint(checkpoint: string, ds: Dataset | null, opts: EnergyOptions = {}): EnergyResult {
  const json = resolveCheckpointPath(checkpoint);
  const costs = opts.costs ?? resolveCosts();
  const split = opts.split ?? 'validation';
  const meta = readCheckpoint(json).meta;
  let rates: Record<string, number> | null = null;
  let inputRates: Record<string, number> | null = null;
  let images = 0;
  if (isSpiking(meta.model)) {
    if (!ds) throw new Error("measuring a spiking model's energy needs images: pass --data");
    const { model } = loadModelFromCheckpoint(json);
    try {
      const r = evaluate(model, meta, ds, {
        split,
        maxImages: opts.images ?? 256,
        rates: true,
        progress: opts.progress,
      });
      rates = r.rates ?? null;
      inputRates = r.inputRates ?? null;
      images = r.n;
    } finally {
      model.store.dispose();
    }
  }
  const report = countEnergy(meta.model, rates ? { rates, inputRates: inputRates ?? undefined } : null, costs);
  const measuredRates = rates ? { rates, inputRates: inputRates ?? undefined } : null;
  const memory = countMemory(meta.model, measuredRates, bitsOfCosts(costs.about));
  let baselineMemory: number | null = null;
  let baseline: EnergyResult['baseline'] = null;
  const base = opts.baseline === undefined ? (isSpiking(meta.model) ? defaultBaseline() : null) : opts.baseline;
  if (base) {
    const b = baselineConfig(base, meta.classes.length);
    if (isSpiking(b.config))
      throw new Error(
        `the baseline must be an ANN (${presetsOfRole('ann').spec.title}), but ${base} is a spiking model ` +
          `(${architectureOf(b.config).title})`,
      );
    const e = countEnergy(b.config, null, costs);
    baseline = { name: b.name, arch: b.config.arch, energy: e.total.energy, macs: e.total.macs };
    baselineMemory = countMemory(b.config, null, bitsOfCosts(costs.about)).total.pJ;
  }
  return {
    checkpoint: json,
    preset: meta.preset,
    images,
    split,
    rates,
    inputRates,
    report,
    baseline,
    ratio: baseline ? baseline.energy / report.total.energy : null,
    memory,
    baselineMemory,
  };
}

/**
 * Classifies `images` images of the split between two readings of the machine's energy counter (RAPL for the CPU
 * backends, NVML for WebGPU on an NVIDIA GPU): joules per image, or null with the reason where there is no counter.
 * The model is loaded before the first reading, so only inference is measured.
 */
export function measureCheckpoint(
  checkpoint: string,
  ds: Dataset,
  images: number,
  split: SplitName,
  backend: string,
): Measurement {
  const { model, meta } = loadModelFromCheckpoint(resolveCheckpointPath(checkpoint));
  try {
    const counter = backend === 'webgpu' ? nvmlCounter() : raplCounter();
    return measureEnergy(counter, () => evaluate(model, meta, ds, { split, maxImages: images }).n);
  } finally {
    model.store.dispose();
  }
}

/**
 * Writes `result` as `file` in the run folder that holds the checkpoint; returns the path, or null if there is none.
 */
export async function saveBesideRun(checkpointJson: string, file: ResultFile, result: unknown): Promise<string | null> {
  const dir = runDirOf(checkpointJson);
  if (!dir) return null;
  const path = join(dir, file);
  await writeFileAtomic(path, `${JSON.stringify(result, null, 1)}\n`);
  return path;
}
