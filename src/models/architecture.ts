// What a model family declares once, in its own model file, for every generic path (train, eval, energy, bench,
// info, demo, export) to ask instead of branching on its name: the table of them is src/models/registry.ts.
import type { ComputeLayer } from './layer_graph.js';
import type { Model } from './model.js';

/** The settings every model has; a family's config adds its own (numbers and strings, overridable by name). */
export interface ModelConfig {
  /** The family: the key of its entry in the architecture table. */
  arch: string;
  classes: number;
  imageSize: number;
  inChannels: number;
}

/** A spiking model runs over time steps: the image is presented timeSteps times. */
export interface SpikingModelConfig extends ModelConfig {
  timeSteps: number;
}

export interface Preset<C extends ModelConfig = ModelConfig> {
  about: string;
  config: C;
}

/** The slot a family fills in `geospike demo` (the spiking model, the Spike-driven Transformer, the ANN baseline). */
export type DemoRole = 'snn' | 'sdt' | 'ann';

export interface ArchitectureSpec<C extends ModelConfig = ModelConfig> {
  /** The family's name, as configs carry it in `arch`. */
  arch: C['arch'];
  /** Its name for people ('Spikformer'). */
  title: string;
  /** Runs over time steps and fires spikes: its config has timeSteps, and its energy needs firing rates. */
  spiking: boolean;
  /** Named configurations, by preset name (unique across the table). */
  presets: Record<string, Preset<C>>;
  /** Builds the model, parameters under their official PyTorch state-dict names, initialised from the seed. */
  create(config: C, seed: number): Model;
  /** Its compute layers (src/models/layer_graph.ts): MACs, energy and memory estimates read them. */
  layers(config: C): ComputeLayer[];
  /** The official state-dict prefix of the classification layer ('head' gives head.weight and head.bias). */
  head: string;
  /** The PyTorch peer's model flags for the same model (bench/peer); throws when the peer cannot build it. */
  peerArgs?(config: C): string[];
  /** Its slot in `geospike demo`, if it has one. */
  demoRole?: DemoRole;
  /**
   * Evidence maps by Grad-CAM on this feature map (the name the model passes to ForwardOptions.tap, and its shape
   * [h, w, channels] at one image); families without it get gradient x input over patches.
   */
  gradCam?: { tap: string; shape(config: C): [number, number, number] };
}
