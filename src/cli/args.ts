// Command-line arguments shared by several commands, declared once: citty hands every value over as a string, and
// these parse it with an error that names the flag and the allowed values.
import { backendNames, BACKEND_ENV } from '../engine/backend.js';
import type { SplitName } from '../eval/evaluate.js';
import { readCheckpoint } from '../train/checkpoint.js';
import { readClasses } from '../data/dataset.js';

/** `--backend NAME`, for every command that computes. */
export const backendArg = {
  type: 'string',
  description: `Compute backend: auto, ${backendNames().join(', ')} (default $${BACKEND_ENV} or auto)`,
} as const;

/**
 * `--backend`'s value checked against the known backends (as initEngine would check it, or $GEOSPIKE_BACKEND's when
 * the flag is not given), for a command that does other work before it starts the engine.
 */
export function backendOption(value: string | undefined): string | undefined {
  const choice = value || process.env[BACKEND_ENV] || 'auto';
  if (choice !== 'auto' && !backendNames().includes(choice))
    throw new Error(`unknown backend '${choice}'; choose one of: auto, ${backendNames().join(', ')}`);
  return value;
}

/** `--checkpoint`, for every command that reads a trained model; `detail` says what this command does with it. */
export function checkpointArg(detail?: string) {
  const what = "Checkpoint: a .json sidecar (RUN/checkpoints/best.json or last.json) or a run's checkpoints folder";
  return { type: 'string', required: true, description: detail ? `${what}; ${detail}` : what } as const;
}

/** `--data` beside --checkpoint: the dataset, by default the one the checkpoint was trained on (dataDirFor). */
export function trainedDataArg(detail?: string) {
  return {
    type: 'string',
    description: `Dataset folder${detail ? ` ${detail}` : ''} (default: the one the checkpoint was trained on)`,
  } as const;
}

/** `--json`: the result as JSON on stdout instead of text; `detail` says what the JSON holds, where that helps. */
export function jsonArg(detail?: string) {
  return {
    type: 'boolean',
    default: false,
    description: `Print the result as JSON${detail ? ` (${detail})` : ''}`,
  } as const;
}

/** `--split`, for the commands that read one split of a dataset (parsed by splitOption). */
export const splitArg = {
  type: 'string',
  default: 'validation',
  description: 'Split the images come from: validation or train',
} as const;

/** `--save`, for the commands whose result `geospike compare` reads from the run folder. */
export function saveArg(file: string) {
  return {
    type: 'boolean',
    default: true,
    description: `Save the result as RUN/${file} for \`geospike compare\` (--no-save to skip)`,
  } as const;
}

/** `--port` and `--host`, for the commands that serve (parsed by portOption). */
export const portArg = {
  type: 'string',
  default: '8080',
  description: 'Port to listen on (0 picks a free one)',
} as const;
export const hostArg = {
  type: 'string',
  default: '127.0.0.1',
  description: 'Address to listen on; loopback unless you mean to share it',
} as const;

/** A TCP port, 0 (any free one) to 65535. */
export function portOption(value: string): number {
  const port = intOption('--port', value, 0)!;
  if (port > 65535) throw new Error(`--port must be at most 65535, got ${port}`);
  return port;
}

/**
 * The checkpoint at `path`, its .json sidecar read (no engine needed): a wrong path or a file that is not a checkpoint
 * fails before anything heavy starts.
 */
export function checkedCheckpoint(path: string): string {
  readCheckpoint(path);
  return path;
}

/** The dataset folder `dir`, its class list read: a wrong path fails before anything heavy starts. */
export async function checkedDataset(dir: string): Promise<string> {
  await readClasses(dir);
  return dir;
}

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
