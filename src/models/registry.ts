// The table of model families (as timm's registry): each family's entry lives in its own model file, and every
// generic path asks this table rather than branching on a family's name. Named presets come with the entries.
import { own } from '../util/own.js';
import type { ArchitectureSpec, ModelConfig, Preset, SpikingModelConfig } from './architecture.js';
import { macsOfGraph, type ComputeLayer } from './layer_graph.js';
import type { Model } from './model.js';
import { RESNET18 } from './resnet18.js';
import { SDT } from './sdt.js';
import { SPIKFORMER } from './spikformer.js';

export type { ModelConfig, SpikingModelConfig } from './architecture.js';

const ARCHITECTURES = new Map<string, ArchitectureSpec>();

/** Every preset of every registered family, by name. */
export const PRESETS: Record<string, Preset> = {};

/** Adds a family and its presets to the table; a family or preset name already there is refused. */
export function registerArchitecture<C extends ModelConfig>(spec: ArchitectureSpec<C>): void {
  if (ARCHITECTURES.has(spec.arch)) throw new Error(`architecture '${spec.arch}' is already registered`);
  for (const [name, preset] of Object.entries(spec.presets)) {
    if (Object.hasOwn(PRESETS, name)) throw new Error(`preset '${name}' of ${spec.arch} is already registered`);
    if (preset.config.arch !== spec.arch)
      throw new Error(`preset '${name}' has arch '${preset.config.arch}', but is listed under '${spec.arch}'`);
  }
  ARCHITECTURES.set(spec.arch, spec as unknown as ArchitectureSpec);
  Object.assign(PRESETS, spec.presets);
}

registerArchitecture(SPIKFORMER);
registerArchitecture(SDT);
registerArchitecture(RESNET18);

/** The registered families, in registration order. */
export function architectures(): ArchitectureSpec[] {
  return [...ARCHITECTURES.values()];
}

/** The table entry of a config's family. */
export function architectureOf(c: { arch: string }): ArchitectureSpec {
  const spec = ARCHITECTURES.get(c.arch);
  if (!spec) throw new Error(`unknown model architecture '${c.arch}'; known: ${[...ARCHITECTURES.keys()].join(', ')}`);
  return spec;
}

export const DEFAULT_PRESET = 'spikformer-4-384';

/** The models that run over time steps and fire spikes. */
export function isSpiking(c: { arch: string }): c is SpikingModelConfig {
  return architectureOf(c).spiking;
}

/** Time steps a forward pass runs: the config's for a spiking model, 1 otherwise. */
export function timeStepsOf(c: ModelConfig): number {
  return isSpiking(c) ? c.timeSteps : 1;
}

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
  return architectureOf(config).create(config, seed);
}

/** The model's compute layers, from its config alone (no weights, no data). */
export function layerGraph(config: ModelConfig): ComputeLayer[] {
  return architectureOf(config).layers(config);
}

/** Dense MACs per image per time step (a head that runs once per image included); `info` prints them. */
export function macsPerStep(config: ModelConfig): number {
  return macsOfGraph(layerGraph(config));
}

/** The presets of the family that fills a demo slot. */
export function presetsOfRole(role: ArchitectureSpec['demoRole']): { spec: ArchitectureSpec; presets: string[] } {
  const spec = architectures().find((a) => a.demoRole === role);
  if (!spec) throw new Error(`no registered architecture fills the demo's '${role}' slot`);
  return { spec, presets: Object.keys(spec.presets) };
}
