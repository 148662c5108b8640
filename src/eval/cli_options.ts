// Flag parsing shared by eval, energy, compare and demo.
import { readCheckpoint } from '../train/checkpoint.js';
import type { SplitName } from './evaluate.js';

export function splitOption(value: string): SplitName {
  if (value !== 'validation' && value !== 'train') throw new Error(`--split must be 'validation' or 'train', got '${value}'`);
  return value;
}

export function positiveNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new Error(`${flag} must be a positive number, got '${value}'`);
  return n;
}

/** --data, or else the dataset the checkpoint was trained on (its train config names it). */
export function dataDirFor(checkpoint: string, data: string | undefined): string {
  if (data) return data;
  const trained = readCheckpoint(checkpoint).meta.train?.data;
  if (typeof trained !== 'string') throw new Error(`${checkpoint} does not say which dataset it was trained on; pass --data DIR`);
  return trained;
}
