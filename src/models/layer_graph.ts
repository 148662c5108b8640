// A model's compute layers as a typed list, declared by each model file from its config: what every layer computes
// (kind, MACs, weights, values read and written) and where its input spikes come from, by the id of the LIF (or
// recorded map) whose rate the forward pass reports. The operation counter, the energy estimate and the memory
// estimate read this list; none of them looks at a layer's name, so renaming a layer changes no number.

/** Where a layer's input spikes come from, for its firing rate. Ids are the keys the forward pass records under. */
export type SpikeSource =
  /** A LIF's spikes: its measured firing rate. */
  | { lif: string }
  /**
   * A spike map that is not a LIF output (a max-pool, a mask product) whose mean the forward pass records under
   * `recorded` when asked; when it was not, `otherwise` stands in, and `estimated` says whether that undercounts.
   */
  | { recorded: string; otherwise: SpikeSource; estimated: boolean }
  /** A sum of spike maps (a residual stream of spikes): one accumulate per spike of each part, so rates add. */
  | { sum: [SpikeSource, SpikeSource] }
  /** A product of spike maps, or of spikes and analog values: it fires only where all of them do (the sparser). */
  | { min: SpikeSource[] };

export interface ComputeLayer {
  /** The layer's official name, for people and reports; nothing computes with it. */
  name: string;
  /** 'sum': the SDT's token sum of a spike mask, additions only (its count is in `macs`, and costs accumulates). */
  kind: 'conv' | 'linear' | 'matmul' | 'sum';
  /** Multiply-accumulates for one image at one time step (the whole pass for a model without time steps). */
  macs: number;
  /** What feeds it, in words (reports print it); the counters read `spikes`. */
  input: string;
  /** Where its input spikes come from; null when it reads analog values (the image, pooled features, an ANN). */
  spikes: SpikeSource | null;
  /** The LIF its output goes to (after its BN), whose rate says how many spikes it writes; absent when none. */
  feeds?: string;
  /** True for a head that runs once per image on time-averaged features rather than at every step. */
  once?: boolean;
  /** Per image and time step, for the memory-access estimate (energy_memory.ts): weights held, input values read
   * (dense), output values made. Products of two activations (matmul, sum) hold no weights. */
  weights: number;
  inputs: number;
  outputs: number;
}

/** What feeds a layer, for a layer constructor: a label for people, the spike source, the LIF its output feeds. */
export interface LayerWiring {
  input: string;
  spikes: SpikeSource | null;
  feeds?: string;
}

/** A k x k convolution whose output is hw x hw (its input is stride times larger). */
export function convLayer(
  name: string,
  hw: number,
  k: number,
  inC: number,
  outC: number,
  wiring: LayerWiring,
  stride = 1,
): ComputeLayer {
  return {
    name,
    kind: 'conv',
    macs: hw * hw * k * k * inC * outC,
    ...wiring,
    weights: k * k * inC * outC,
    inputs: (hw * stride) ** 2 * inC,
    outputs: hw * hw * outC,
  };
}

/** A linear layer (or 1x1 convolution) applied to each of `tokens` tokens. */
export function linearLayer(
  name: string,
  tokens: number,
  inF: number,
  outF: number,
  wiring: LayerWiring,
): ComputeLayer {
  return {
    name,
    kind: 'linear',
    macs: tokens * inF * outF,
    ...wiring,
    weights: inF * outF,
    inputs: tokens * inF,
    outputs: tokens * outF,
  };
}

/** The wiring of a layer that reads spikes. */
export type SpikeWiring = LayerWiring & { spikes: SpikeSource };

/** The spikes of a LIF, fed to the next layer. */
export const lifSpikes = (lif: string): SpikeWiring => ({ input: lif, spikes: { lif } });

/** Dense MACs of a graph per image per time step (a head that runs once included). */
export function macsOfGraph(layers: readonly ComputeLayer[]): number {
  return layers.reduce((sum, l) => sum + l.macs, 0);
}
