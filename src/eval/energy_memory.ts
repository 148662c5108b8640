// Memory accesses and their energy, by the method of Lemaire et al., "An Analytical Estimation of Spiking Neural
// Networks Energy Efficiency" (ICONIP 2022), as Qualia's SpikingJelly plugin implements it: per layer, reads and
// writes by data kind (weights and biases, membrane potentials, input and output activations or spikes), each costing
// one access to an SRAM sized for what it holds. The compute-only estimate (energy.ts) leaves all of this out, and for
// spiking networks it is often the larger part.
//
// Counts per image (T time steps; s = T, or 1 for a layer that runs once; θ = input events = rate x inputs x s, with
// rate 1 for analog input; fan-out = MACs / inputs, so θ x fan-out is the layer's SOPs):
//   ANN layer (ResNet18):  weights MACs (Eq. 6), biases outputs, inputs MACs for a conv (Eq. 3) and inputs for a
//                          linear layer (Eq. 4), outputs written once (Eq. 11-12); no potentials.
//   spiking network layer: inputs read θ (Eq. 5), weights θ x fan-out (Eq. 7-8), biases outputs (Eq. 7s),
//                          potentials written θ x fan-out + outputs (Eq. 14-15) when an LIF follows, outputs written
//                          as spikes (rate x outputs x s, Eq. 13) when an LIF follows, else as values (outputs x s).
//   products of two activations (q kᵀ, (q kᵀ) v, SDT's token sum) hold no weights: the second operand is read once
//                          per operation instead.
// Energy per access: 45 nm SRAM, E = 1.09e-5 pJ x (elements held x bits) + 13.2 pJ (Qualia's fit to Horowitz 2014:
// 10 pJ for 8 KB, 20 pJ for 32 KB, 100 pJ for 1 MB, 64-bit access), with the memory sized for the tensor accessed.
import type { ComputeLayer } from '../models/layer_graph.js';
import { isSpiking, layerGraph, timeStepsOf, type ModelConfig } from '../models/registry.js';
import { formatEnergy, formatOps, sourceRate, type MeasuredRates } from './energy.js';

export type DataKind = 'weights' | 'potentials' | 'activations';

export interface MemoryLevel {
  name: string;
  /** Picojoules for one read or write of one word in a memory holding `elements` words of `bits` bits. */
  perAccess(elements: number, bits: number): number;
  about: string;
}

export const SRAM_45NM: MemoryLevel = {
  name: 'sram-45nm',
  perAccess: (elements, bits) => 1.09e-5 * elements * bits + 13.2,
  about:
    '45 nm SRAM sized for each tensor: 1.09e-5 pJ per bit held + 13.2 pJ per access (Lemaire et al. 2022, fit to ' +
    'Horowitz 2014; extrapolated linearly past 1 MB)',
};

export interface LayerMemory {
  name: string;
  /** Accesses per image by data kind; reads and writes together. */
  reads: Record<DataKind, number>;
  writes: Record<DataKind, number>;
  /** Picojoules per image, by data kind. */
  energy: Record<DataKind, number>;
  total: number;
}

export interface MemoryReport {
  level: string;
  about: string;
  bits: number;
  layers: LayerMemory[];
  total: { reads: number; writes: number; energy: Record<DataKind, number>; pJ: number };
}

const zero = (): Record<DataKind, number> => ({ weights: 0, potentials: 0, activations: 0 });

/** Memory accesses and their energy for a list of layers (see the header for the counts). */
export function countMemoryOfLayers(
  layers: readonly ComputeLayer[],
  spiking: boolean,
  T: number,
  measured: MeasuredRates | null,
  bits = 32,
  level: MemoryLevel = SRAM_45NM,
): MemoryReport {
  const out = layers.map((l): LayerMemory => {
    const reads = zero();
    const writes = zero();
    const energy = zero();
    const add = (kind: DataKind, rw: 'r' | 'w', n: number, held: number) => {
      (rw === 'r' ? reads : writes)[kind] += n;
      energy[kind] += n * level.perAccess(held, bits);
    };
    const hasWeights = l.weights > 0;
    if (!spiking) {
      if (hasWeights) {
        add('weights', 'r', l.macs, l.weights);
        add('weights', 'r', l.outputs, l.outputs); // biases (BatchNorm folded in)
        add('activations', 'r', l.kind === 'conv' ? l.macs : l.inputs, l.inputs);
      } else add('activations', 'r', l.inputs + l.macs, l.inputs);
      add('activations', 'w', l.outputs, l.outputs);
    } else {
      const s = l.once ? 1 : T;
      const rate = l.spikes === null ? 1 : sourceRate(l.spikes, measured!).rate;
      const events = rate * l.inputs * s;
      const ops = rate * l.macs * s;
      add('activations', 'r', events, l.inputs);
      if (hasWeights) {
        add('weights', 'r', ops, l.weights);
        add('weights', 'r', l.outputs, l.outputs);
      } else add('activations', 'r', ops, l.inputs);
      const lifRate = l.feeds === undefined ? undefined : measured?.rates[l.feeds];
      if (lifRate !== undefined) {
        add('potentials', 'w', ops + l.outputs, l.outputs);
        add('activations', 'w', lifRate * l.outputs * s, l.outputs);
      } else add('activations', 'w', l.outputs * s, l.outputs);
    }
    const total = energy.weights + energy.potentials + energy.activations;
    return { name: l.name, reads, writes, energy, total };
  });
  const sum = (f: (l: LayerMemory) => number) => out.reduce((a, l) => a + f(l), 0);
  const kinds: DataKind[] = ['weights', 'potentials', 'activations'];
  return {
    level: level.name,
    about: level.about,
    bits,
    layers: out,
    total: {
      reads: sum((l) => kinds.reduce((a, k) => a + l.reads[k], 0)),
      writes: sum((l) => kinds.reduce((a, k) => a + l.writes[k], 0)),
      energy: Object.fromEntries(kinds.map((k) => [k, sum((l) => l.energy[k])])) as Record<DataKind, number>,
      pJ: sum((l) => l.total),
    },
  };
}

/** Memory accesses for a model: spiking models need measured rates, as for the compute estimate. */
export function countMemory(config: ModelConfig, measured: MeasuredRates | null, bits = 32): MemoryReport {
  const spiking = isSpiking(config);
  if (spiking && !measured)
    throw new Error("a spiking model's memory traffic depends on its firing rates; measure them on images first");
  return countMemoryOfLayers(layerGraph(config), spiking, timeStepsOf(config), measured, bits);
}

/** Word width for a compute-cost preset's number format (the memory holds the same numbers the arithmetic uses). */
export function bitsOfCosts(about: string): number {
  const m = /(\d+)-bit/.exec(about);
  return m ? Number(m[1]) : 32;
}

/** The memory estimate for the terminal: accesses and energy by data kind, and compute-only beside compute + memory. */
export function formatMemoryLines(
  m: MemoryReport,
  computePj: number,
  baselineName?: string,
  baselineMemoryPj?: number | null,
): string[] {
  const fmt = (pJ: number) => formatEnergy(pJ);
  const kinds: DataKind[] = ['weights', 'potentials', 'activations'];
  const lines = [
    `  memory access (Lemaire et al. 2022; ${m.bits}-bit words; ${m.about})`,
    ...kinds.map((k) => {
      const reads = m.layers.reduce((a, l) => a + l.reads[k], 0);
      const writes = m.layers.reduce((a, l) => a + l.writes[k], 0);
      return (
        `    ${k.padEnd(12)} ${formatOps(reads).padStart(9)} reads ${formatOps(writes).padStart(9)} writes ` +
        ` ${fmt(m.total.energy[k]).padStart(9)}`
      );
    }),
    `  energy per image: compute only ${fmt(computePj)}; memory ${fmt(m.total.pJ)}; compute + ` +
      `memory ${fmt(computePj + m.total.pJ)}`,
  ];
  if (baselineName && baselineMemoryPj != null)
    lines.push(`  ${baselineName}'s memory on the same assumptions: ${fmt(baselineMemoryPj)} per image`);
  return lines;
}
