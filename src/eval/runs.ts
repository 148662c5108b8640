// Reads a run folder written by `geospike train` (config.json, summary.csv, metrics.jsonl, checkpoints/) and the
// results `geospike eval` and `geospike energy` save beside them (eval.json, energy.json).
import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { ModelConfig } from '../models/registry.js';
import type { EnergyResult } from './jobs.js';
import type { EvalResult } from './evaluate.js';
import type { ExplainResult } from './explain_job.js';
import { SUMMARY_COLUMNS, type EpochRecord } from '../train/run_log.js';
import { runPaths } from '../train/run_folder.js';

/** One row of summary.csv, as the training loop writes it; firing_rate is null for ResNet18. */
export type EpochRow = EpochRecord;

const NUMERIC = SUMMARY_COLUMNS.filter((c) => c !== 'firing_rate');

export interface RunData {
  dir: string;
  /** The folder's name: how the report labels the run. */
  name: string;
  preset: string;
  /** The training seed (config.json), when recorded. */
  seed: number | null;
  modelConfig: ModelConfig;
  classes: string[];
  epochs: EpochRow[];
  /** Per-layer firing rates on validation images after the last epoch (spiking models). */
  lastRates: Record<string, number> | null;
  eval: EvalResult | null;
  energy: EnergyResult | null;
  /** `geospike explain`'s result (explain.json), when it was run. */
  explain: ExplainResult | null;
}

export function parseSummaryCsv(text: string, file: string): EpochRow[] {
  const [headerLine, ...rows] = text.split('\n').filter((l) => l.trim());
  if (headerLine === undefined) return [];
  const header = headerLine.split(',');
  for (const c of [...NUMERIC, 'firing_rate']) {
    if (!header.includes(c))
      throw new Error(`${file} has no '${c}' column; is it a summary.csv written by \`geospike train\`?`);
  }
  return rows.map((line, i) => {
    const cells = line.split(',');
    const get = (c: string) => cells[header.indexOf(c)] ?? '';
    const row = { firing_rate: get('firing_rate') === '' ? null : Number(get('firing_rate')) } as EpochRow;
    for (const c of NUMERIC) {
      const v = Number(get(c));
      if (get(c) === '' || !Number.isFinite(v))
        throw new Error(`${file} line ${i + 2}: '${c}' is '${get(c)}', not a number`);
      (row as unknown as Record<string, number>)[c] = v;
    }
    if (row.firing_rate !== null && !Number.isFinite(row.firing_rate))
      throw new Error(`${file} line ${i + 2}: firing_rate is not a number`);
    return row;
  });
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new Error(`${file} is not readable JSON: ${(err as Error).message}`);
  }
}

// The last complete line of metrics.jsonl that carries rates (a kill mid-append can tear the final line).
function lastRates(file: string): Record<string, number> | null {
  if (!existsSync(file)) return null;
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).reverse();
  for (const l of lines) {
    try {
      const o = JSON.parse(l) as { rates?: Record<string, number> };
      if (o.rates) return o.rates;
    } catch {}
  }
  return null;
}

export function readRun(dir: string): RunData {
  const paths = runPaths(dir);
  const configFile = paths.config;
  if (!existsSync(configFile))
    throw new Error(
      `${dir} is not a run folder: config.json is missing (runs are written by \`geospike train --out DIR\`)`,
    );
  const config = readJson<{ model?: string; modelConfig?: ModelConfig; classes?: string[]; seed?: unknown }>(
    configFile,
  );
  if (!config.modelConfig || !config.classes)
    throw new Error(`${configFile} lacks modelConfig or classes; was it written by \`geospike train\`?`);
  const summary = paths.summary;
  const epochs = existsSync(summary) ? parseSummaryCsv(readFileSync(summary, 'utf8'), summary) : [];
  const opt = <T>(f: string): T | null => (existsSync(f) ? readJson<T>(f) : null);
  return {
    dir,
    name: basename(resolve(dir)),
    preset: config.model ?? config.modelConfig.arch,
    seed: typeof config.seed === 'number' ? config.seed : null,
    modelConfig: config.modelConfig,
    classes: config.classes,
    epochs,
    lastRates: lastRates(paths.metrics),
    eval: opt<EvalResult>(paths.eval),
    energy: opt<EnergyResult>(paths.energy),
    explain: opt<ExplainResult>(paths.explain),
  };
}
