// The operation counter and energy estimate of the Spikformer papers (Zhou et al. 2023, and the counter published
// with Spikingformer): a layer fed analog values (the first conv, the head, every ResNet layer) costs its dense
// multiply-accumulates (MAC, E_MAC each); a layer fed spikes costs synaptic operations, SOP = input firing rate x T x
// FLOPs (accumulates, E_AC each), FLOPs being its dense MACs at one time step. Inputs that are sums of spike maps
// (the residual stream) count one accumulate per spike: their "rate" is their mean, which is the sum of the parts'.
import type { ComputeLayer, SpikeSource } from '../models/layer_graph.js';
import { isSpiking, layerGraph, timeStepsOf, type ModelConfig } from '../models/registry.js';
import { own } from '../util/own.js';
import { must } from '../util/must.js';

export interface EnergyCosts {
  /** Energy of one multiply-accumulate, picojoules. */
  eMac: number;
  /** Energy of one accumulate, picojoules. */
  eAc: number;
  about: string;
}

// Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm: MAC = multiply + add, AC = add.
export const ENERGY_PRESETS: Record<string, EnergyCosts> = {
  '45nm-fp32': { eMac: 4.6, eAc: 0.9, about: '45 nm, 32-bit float (3.7 + 0.9 pJ; the Spikformer papers)' },
  '45nm-fp16': { eMac: 1.5, eAc: 0.4, about: '45 nm, 16-bit float (1.1 + 0.4 pJ)' },
  '45nm-int32': { eMac: 3.2, eAc: 0.1, about: '45 nm, 32-bit integer (3.1 + 0.1 pJ)' },
  '45nm-int8': { eMac: 0.23, eAc: 0.03, about: '45 nm, 8-bit integer (0.2 + 0.03 pJ)' },
};
export const DEFAULT_ENERGY_PRESET = '45nm-fp32';
const DEFAULT_ENERGY_COSTS = must(ENERGY_PRESETS[DEFAULT_ENERGY_PRESET], 'the default is in the table');

export interface LayerEnergy {
  name: string;
  kind: ComputeLayer['kind'];
  /** What feeds the layer, in words (see ComputeLayer.input). */
  input: string;
  /** Mean spikes per input element per step; null for analog input. */
  inputRate: number | null;
  /** True when the rate is a stand-in (a max-pool's rate taken from the LIF before it, which undercounts). */
  estimated: boolean;
  /** Dense MACs at one time step (what the papers call the layer's FLOPs). */
  flops: number;
  /** Dense MACs over the whole image: FLOPs x T (x 1 for layers that run once). */
  denseMacs: number;
  /** Operations counted as multiply-accumulates (analog input). */
  macs: number;
  /** Synaptic operations (spike input): rate x T x FLOPs. */
  sops: number;
  /** Picojoules per image. */
  energy: number;
}

export interface EnergyReport {
  arch: ModelConfig['arch'];
  timeSteps: number;
  costs: EnergyCosts;
  layers: LayerEnergy[];
  /** Per image. */
  total: { denseMacs: number; macs: number; sops: number; energy: number };
}

export interface MeasuredRates {
  /** Mean firing rate of each LIF layer, by official name. */
  rates: Record<string, number>;
  /** Means of non-LIF spike maps that feed layers (patch_embed.maxpool2/3), when measured. */
  inputRates?: Record<string, number>;
}

/** The firing rate of a layer's input spikes (see SpikeSource) from the measured LIF (and recorded map) rates. */
export function sourceRate(source: SpikeSource, m: MeasuredRates): { rate: number; estimated: boolean } {
  if ('lif' in source) {
    const rate = m.rates[source.lif];
    if (rate !== undefined) return { rate, estimated: false };
    throw new Error(
      `no firing rate measured for '${source.lif}'; measured layers: ${Object.keys(m.rates).join(', ') || 'none'}`,
    );
  }
  if ('recorded' in source) {
    const recorded = m.inputRates?.[source.recorded];
    if (recorded !== undefined) return { rate: recorded, estimated: false };
    const stand = sourceRate(source.otherwise, m);
    return { rate: stand.rate, estimated: stand.estimated || source.estimated };
  }
  // A product of spike maps fires only where all do: bound it by the sparser one (Spikingformer's rule).
  const parts = ('sum' in source ? source.sum : source.min).map((p) => sourceRate(p, m));
  const rates = parts.map((p) => p.rate);
  const rate = 'sum' in source ? rates.reduce((a, b) => a + b, 0) : Math.min(...rates);
  return { rate, estimated: parts.some((p) => p.estimated) };
}

/** Per-layer and total operations and energy per image. Spiking models need measured rates; ResNet18 does not. */
export function countEnergy(
  config: ModelConfig,
  measured: MeasuredRates | null,
  costs: EnergyCosts = DEFAULT_ENERGY_COSTS,
): EnergyReport {
  const spiking = isSpiking(config);
  if (spiking && !measured)
    throw new Error("a spiking model's energy depends on its firing rates; measure them on images first");
  const T = timeStepsOf(config);
  const layers = layerGraph(config).map((l): LayerEnergy => {
    const steps = l.once ? 1 : T;
    const dense = l.macs * steps;
    if (l.spikes === null) {
      return {
        name: l.name,
        kind: l.kind,
        input: l.input,
        inputRate: null,
        estimated: false,
        flops: l.macs,
        denseMacs: dense,
        macs: dense,
        sops: 0,
        energy: dense * costs.eMac,
      };
    }
    const { rate, estimated } = sourceRate(l.spikes, measured!);
    const sops = rate * T * l.macs;
    return {
      name: l.name,
      kind: l.kind,
      input: l.input,
      inputRate: rate,
      estimated,
      flops: l.macs,
      denseMacs: dense,
      macs: 0,
      sops,
      energy: sops * costs.eAc,
    };
  });
  const sum = (f: (l: LayerEnergy) => number) => layers.reduce((a, l) => a + f(l), 0);
  return {
    arch: config.arch,
    timeSteps: T,
    costs,
    layers,
    total: {
      denseMacs: sum((l) => l.denseMacs),
      macs: sum((l) => l.macs),
      sops: sum((l) => l.sops),
      energy: sum((l) => l.energy),
    },
  };
}

/** Costs from a preset name, with either number overridden. */
export function resolveCosts(preset = DEFAULT_ENERGY_PRESET, eMac?: number, eAc?: number): EnergyCosts {
  const base = own(ENERGY_PRESETS, preset);
  if (!base) throw new Error(`unknown energy preset '${preset}'; known: ${Object.keys(ENERGY_PRESETS).join(', ')}`);
  for (const [flag, v] of [
    ['--e-mac', eMac],
    ['--e-ac', eAc],
  ] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v > 0))
      throw new Error(`${flag} must be a positive number of picojoules, got ${v}`);
  }
  if (eMac === undefined && eAc === undefined) return base;
  return { eMac: eMac ?? base.eMac, eAc: eAc ?? base.eAc, about: `${base.about}, overridden` };
}

/** Human units for energy in picojoules. */
export function formatEnergy(pJ: number): string {
  if (pJ === 0) return '0';
  const units: [number, string][] = [
    [1e9, 'mJ'],
    [1e6, 'µJ'],
    [1e3, 'nJ'],
    [1, 'pJ'],
  ];
  // Below 1 pJ: still picojoules.
  const [scale, unit] = units.find(([s]) => Math.abs(pJ) >= s) ?? [1, 'pJ'];
  return `${(pJ / scale).toPrecision(3)} ${unit}`;
}

/** Human units for operation counts. */
export function formatOps(n: number): string {
  if (n === 0) return '0';
  const units: [number, string][] = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
    [1, ''],
  ];
  // Below 1: a plain count.
  const [scale, unit] = units.find(([s]) => Math.abs(n) >= s) ?? [1, ''];
  return `${(n / scale).toPrecision(3)} ${unit}`.trimEnd();
}
