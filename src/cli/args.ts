// Command-line arguments shared by several commands, declared once: citty hands every value over as a string, and
// these parse it with an error that names the flag and the allowed values.
import { backendNames, BACKEND_ENV } from '../engine/backend.js';
import type { SplitName } from '../eval/evaluate.js';
import { readCheckpoint } from '../train/checkpoint.js';

/** `--backend NAME`, for every command that computes. */
export const backendArg = {
  type: 'string',
  description: `Compute backend: auto, ${backendNames().join(', ')} (default $${BACKEND_ENV} or auto)`,
} as const;

/** A whole number >= min, or undefined when the flag was not given. */
export function intOption(flag: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`${flag} must be a whole number of at least ${min}, got '${value}'`);
  return n;
}

/** A finite number in [min, maxExclusive), or undefined when the flag was not given. */
export function numberOption(
  flag: string,
  value: string | undefined,
  min = -Infinity,
  maxExclusive = Infinity,
): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n >= maxExclusive) {
    const range = min === -Infinity && maxExclusive === Infinity ? 'a number' : `a number in [${min}, ${maxExclusive})`;
    throw new Error(`${flag} must be ${range}, got '${value}'`);
  }
  return n;
}

/** A number > 0, or undefined when the flag was not given. */
export function positiveNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new Error(`${flag} must be a positive number, got '${value}'`);
  return n;
}

export function splitOption(value: string): SplitName {
  if (value !== 'validation' && value !== 'train')
    throw new Error(`--split must be 'validation' or 'train', got '${value}'`);
  return value;
}

/** --data, or else the dataset the checkpoint was trained on (its train config names it). */
export function dataDirFor(checkpoint: string, data: string | undefined): string {
  if (data) return data;
  const trained = readCheckpoint(checkpoint).meta.train?.data;
  if (typeof trained !== 'string')
    throw new Error(`${checkpoint} does not say which dataset it was trained on; pass --data DIR`);
  return trained;
}

/** The command that continues an interrupted run in `out` with its own settings (npx: `geospike` is not on PATH). */
export function resumeCommand(out: string, engine?: 'torch'): string {
  return `npx geospike train${engine ? ` --engine ${engine}` : ''} --out ${shellQuote(out)} --resume`;
}

const shellQuote = (s: string) => (/^[\w./,:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
