// The training config: defaults (the study's and the official Spikformer CIFAR recipe), overridden by a JSON config
// file, overridden by flags; validated with zod so an error names the field and its allowed range.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_PRESET, PRESETS } from '../models/registry.js';

export const trainConfigSchema = z
  .object({
    /** Dataset folder (collect/import output). */
    data: z.string().min(1),
    /** Model preset (see `geospike info --list`). */
    model: z
      .string()
      .refine((p) => Object.hasOwn(PRESETS, p), { message: `must be one of: ${Object.keys(PRESETS).join(', ')}` }),
    /** Run folder: config.json, summary.csv, metrics.jsonl, checkpoints/. */
    out: z.string().min(1),
    epochs: z.number().int().min(1).max(100_000),
    batch: z.number().int().min(1).max(4096),
    /** Peak learning rate of AdamW, reached after warm-up. */
    lr: z.number().gt(0).max(1),
    weightDecay: z.number().min(0).max(1),
    /** Epochs of linear warm-up from minLr to lr. */
    warmupEpochs: z.number().min(0).max(100_000),
    /** Floor of the cosine schedule. */
    minLr: z.number().min(0).max(1),
    /** Spikformer time steps T (ignored by ResNet18). */
    timeSteps: z.number().int().min(1).max(64),
    labelSmoothing: z.number().min(0).lt(1),
    /** Mixup Beta(alpha, alpha); 0 turns it off. */
    mixup: z.number().min(0).max(10),
    /** Epoch from which mixup stops (the official recipe stops it for the last epochs). */
    mixupOffEpoch: z.number().int().min(0),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1),
    /** Compute backend (auto, cpu, native, webgpu); not part of what makes runs comparable. */
    backend: z.string().default('auto'),
  })
  .strict()
  .refine((c) => c.minLr <= c.lr, { message: 'must not exceed lr', path: ['minLr'] })
  .refine((c) => c.warmupEpochs < c.epochs, {
    message:
      'must be less than epochs, or the learning rate never reaches its peak; for short runs pass --warmup-epochs too',
    path: ['warmupEpochs'],
  });

export type TrainConfig = z.infer<typeof trainConfigSchema>;

/** Defaults for everything but where the data is, which model, and where the run goes. */
export const DEFAULTS = {
  model: DEFAULT_PRESET,
  epochs: 300,
  batch: 64,
  lr: 5e-4,
  weightDecay: 0.06,
  warmupEpochs: 20,
  minLr: 1e-5,
  timeSteps: 4,
  labelSmoothing: 0.1,
  mixup: 0.5,
  mixupOffEpoch: 200,
  seed: 0,
  backend: 'auto',
} satisfies Partial<TrainConfig>;

export class ConfigError extends Error {}

/** Settings that define the model: changing them on --resume is refused. */
export const ARCHITECTURE_KEYS = ['model', 'timeSteps'] as const;

export function readConfigFile(path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`config file ${path} must hold one JSON object of settings`);
  }
  return value as Record<string, unknown>;
}

/**
 * defaults < file < flags, then validated. Each error line names the field. A run too short for the default warm-up
 * gets a shorter one (the recipe's share of the epochs) and `notice` says so; a warm-up the user set is never changed.
 */
export function resolveTrainConfig(
  file: Record<string, unknown>,
  flags: Record<string, unknown>,
  notice: (line: string) => void = () => {},
): TrainConfig {
  const defined = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const merged = { ...DEFAULTS, ...defined(file), ...defined(flags) };
  const warmupSet = defined(file).warmupEpochs !== undefined || defined(flags).warmupEpochs !== undefined;
  if (!warmupSet && typeof merged.epochs === 'number' && merged.epochs >= 1 && merged.epochs <= DEFAULTS.warmupEpochs) {
    merged.warmupEpochs = Number(((merged.epochs * DEFAULTS.warmupEpochs) / DEFAULTS.epochs).toFixed(2));
    notice(
      `warm-up shortened to ${merged.warmupEpochs} epochs for a ${merged.epochs}-epoch run (pass --warmup-epochs to ` +
        `choose)`,
    );
  }
  const result = trainConfigSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const field = i.path.join('.') || '(config)';
      const value = i.path.length ? (merged as Record<string, unknown>)[String(i.path[0])] : undefined;
      if (i.path.length && value === undefined) return `  ${field}: missing; pass ${flagOf(field)}`;
      const got = i.path.length ? ` (got ${JSON.stringify(value)})` : '';
      return `  ${field} (${flagOf(field)}): ${plainIssue(i)}${got}`;
    });
    throw new ConfigError(`invalid training config:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** The command-line flag of a config field: timeSteps -> --time-steps. */
const flagOf = (field: string) => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** zod's issue in words for people ("expected int, received number" -> "must be a whole number"). */
function plainIssue(i: z.core.$ZodIssue): string {
  if (i.code === 'invalid_type') {
    const what = i.expected === 'int' ? 'a whole number' : i.expected === 'number' ? 'a number' : `a ${i.expected}`;
    return `must be ${what}`;
  }
  if (i.code === 'too_small') return `must be ${i.inclusive ? 'at least' : 'more than'} ${i.minimum}`;
  if (i.code === 'too_big') return `must be ${i.inclusive ? 'at most' : 'less than'} ${i.maximum}`;
  if (i.code === 'unrecognized_keys') return `unknown setting(s) ${i.keys.join(', ')}`;
  return i.message;
}
