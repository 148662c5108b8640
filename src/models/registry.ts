// Named presets and the one function that turns a preset (plus overrides) into a model.
import { own } from '../util/own.js';
import type { Model } from './model.js';
import { ResNet18, type ResNet18Config } from './resnet18.js';
import { SpikeDrivenTransformer, type SDTConfig } from './sdt.js';
import { Spikformer, type SpikformerConfig } from './spikformer.js';

export type ModelConfig = SpikformerConfig | SDTConfig | ResNet18Config;
/** The models that run over time steps and fire spikes (everything but ResNet18). */
export type SpikingModelConfig = SpikformerConfig | SDTConfig;

export function isSpiking(c: { arch: string }): c is SpikingModelConfig {
  return c.arch === 'spikformer' || c.arch === 'sdt';
}

const spikformer = (depth: number, dim: number, about: string) => ({
  about,
  config: {
    arch: 'spikformer',
    dim,
    depth,
    heads: dim / 32,
    timeSteps: 4,
    classes: 5,
    imageSize: 32,
    inChannels: 3,
    mlpRatio: 4,
    tau: 2,
    surrogate: 'sigmoid',
    alpha: 4,
  } satisfies SpikformerConfig as ModelConfig,
});
const sdt = (depth: number, dim: number, about: string) => ({
  about,
  config: {
    arch: 'sdt',
    dim,
    depth,
    heads: 8,
    timeSteps: 4,
    classes: 5,
    imageSize: 32,
    inChannels: 3,
    mlpRatio: 4,
    tau: 2,
    surrogate: 'sigmoid',
    alpha: 4,
  } satisfies SDTConfig as ModelConfig,
});
const resnet18 = (width: number, about: string) => ({
  about,
  config: { arch: 'resnet18', width, classes: 5, imageSize: 32, inChannels: 3 } satisfies ResNet18Config as ModelConfig,
});

export const PRESETS: Record<string, { about: string; config: ModelConfig }> = {
  'spikformer-4-384': spikformer(4, 384, "the paper's CIFAR model; geospike's default"),
  'spikformer-4-256': spikformer(4, 256, "the paper's smaller CIFAR model"),
  'spikformer-2-384': spikformer(2, 384, "the paper's shallower CIFAR model"),
  'spikformer-2-128': spikformer(2, 128, 'small: trains on a 2-core CPU'),
  'spikformer-1-64': spikformer(1, 64, 'tiny: smoke tests and quick demos'),
  'sdt-2-512': sdt(2, 512, "Spike-driven Transformer, the paper's CIFAR model"),
  'sdt-4-384': sdt(4, 384, "Spike-driven Transformer in spikformer-4-384's shape"),
  'sdt-2-256': sdt(2, 256, 'Spike-driven Transformer, smaller'),
  'sdt-2-128': sdt(2, 128, 'Spike-driven Transformer, small: trains on a 2-core CPU'),
  resnet18: resnet18(64, "CIFAR ResNet18, the study's baseline"),
  'resnet18-w16': resnet18(16, 'CIFAR ResNet18 at a quarter width: trains on a 2-core CPU'),
  'resnet18-w8': resnet18(8, "CIFAR ResNet18 at an eighth width (the golden tests' size)"),
};

export const DEFAULT_PRESET = 'spikformer-4-384';

/** The preset's config with overrides applied, checked. Unknown presets list the known ones. */
export function resolveConfig(preset: string, overrides: Partial<Record<string, number | string>> = {}): ModelConfig {
  const p = own(PRESETS, preset);
  if (!p) throw new Error(`unknown model preset '${preset}'; known presets: ${Object.keys(PRESETS).join(', ')}`);
  const config = { ...p.config } as Record<string, unknown>;
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    if (!Object.hasOwn(config, k))
      throw new Error(`'${k}' is not a setting of ${p.config.arch}; settings: ${Object.keys(config).join(', ')}`);
    if (typeof config[k] === 'number' && !(typeof v === 'number' && v > 0)) {
      throw new Error(`${k} must be a positive number, got ${v}`);
    }
    config[k] = v;
  }
  return config as unknown as ModelConfig;
}

export function createModel(config: ModelConfig, seed = 0): Model {
  if (config.arch === 'spikformer') return new Spikformer(config, seed);
  return config.arch === 'sdt' ? new SpikeDrivenTransformer(config, seed) : new ResNet18(config, seed);
}
