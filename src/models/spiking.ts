// What the spiking models share: their LIF settings and the per-forward context that runs every LIF layer under
// its official name and records firing rates when asked.
import * as tf from '@tensorflow/tfjs-core';
import { lif } from '../snn/lif.js';
import { surrogate, type SurrogateName } from '../snn/surrogate.js';
import { BatchNorm, Conv2d } from './layers.js';
import type { Step } from './last_use.js';
import type { ForwardOptions } from './model.js';
import type { ParamStore } from './params.js';

/** The settings every spiking transformer here has (Spikformer, the Spike-driven Transformer). */
export interface SpikingConfig {
  /** Embedding dimension D (384 in Spikformer's CIFAR model, 512 in the SDT's). */
  dim: number;
  /** Number of encoder blocks. */
  depth: number;
  /** Attention heads; D must divide by it. */
  heads: number;
  /** Simulation time steps T; the image is repeated T times. */
  timeSteps: number;
  classes: number;
  /** Square input size; SPS pools twice, so 32 gives 8x8 = 64 tokens. */
  imageSize: number;
  inChannels: number;
  /** MLP hidden size = dim * mlpRatio. */
  mlpRatio: number;
  /** LIF membrane time constant. */
  tau: number;
  surrogate: SurrogateName;
  /** Surrogate sharpness (sigmoid 4, atan 2 by default). */
  alpha: number;
}

/** The shape checks both spiking transformers make. */
export function checkSpikingConfig(name: string, c: SpikingConfig): void {
  if (c.dim % 8 !== 0) throw new Error(`${name} dim must be a multiple of 8, got ${c.dim}`);
  if (c.dim % c.heads !== 0) throw new Error(`${name} dim ${c.dim} must divide by heads ${c.heads}`);
  if (c.imageSize % 4 !== 0) throw new Error(`image size must be a multiple of 4, got ${c.imageSize}`);
}

/** The layers of the spiking patch splitting (SPS) both transformers start with, under their official names. */
export interface SpsLayers {
  /** Four 3x3 convs widening to D/8, D/4, D/2, D, each with its BN and the name of the LIF that may follow. */
  stages: { conv: Conv2d; bn: BatchNorm; lif: string }[];
  /** The relative position embedding: a 3x3 conv and BN at D. */
  rpe: { conv: Conv2d; bn: BatchNorm };
}

export function spsLayers(store: ParamStore, c: SpikingConfig, init: 'torch' | 'trunc_normal'): SpsLayers {
  const D = c.dim;
  const ch = [c.inChannels, D / 8, D / 4, D / 2, D];
  const stages = ['', '1', '2', '3'].map((s, i) => ({
    conv: new Conv2d(store, `patch_embed.proj_conv${s}`, ch[i], ch[i + 1], 3, 1, 1, init),
    bn: new BatchNorm(store, `patch_embed.proj_bn${s}`, ch[i + 1]),
    lif: `patch_embed.proj_lif${s}`,
  }));
  const rpe = {
    conv: new Conv2d(store, 'patch_embed.rpe_conv', D, D, 3, 1, 1, init),
    bn: new BatchNorm(store, 'patch_embed.rpe_bn', D),
  };
  return { stages, rpe };
}

/** The input repeated over the T time steps, time-major: [B, H, W, C] -> [T*B, H, W, C]. */
export function repeatOverTime(images: tf.Tensor4D, T: number): tf.Tensor4D {
  // T copies one after another (step-major, as tiling [T, B, ...] gives); concat rather than a rank-5 tile, whose
  // gradient tfjs lacks, so an explanation can take the gradient with respect to the image.
  return tf.tidy(() => (T === 1 ? tf.clone(images) : tf.concat(new Array<tf.Tensor4D>(T).fill(images), 0)));
}

/** The steps of a conv, its BN and the LIF after them, for chain(): each map freed once the next step has read it. */
export function convBnLif(layers: { conv: Conv2d; bn: BatchNorm; lif: string }, ctx: SpikingForward): Step[] {
  return [
    (x) => layers.conv.apply(x as tf.Tensor4D),
    (x) => layers.bn.apply(x, ctx.training),
    (x) => ctx.lif(layers.lif, x),
  ];
}

/** One forward pass of a spiking model: its mode, the LIF settings, and the optional firing-rate probes. */
export class SpikingForward {
  private readonly sg;
  constructor(
    private config: SpikingConfig,
    readonly opts: ForwardOptions,
  ) {
    this.sg = surrogate(config.surrogate, config.alpha);
  }
  get training(): boolean {
    return this.opts.training;
  }
  /** x is [T*B, ...] or [T, B, ...]; the LIF runs over the leading time axis and returns x's shape. */
  lif(name: string, x: tf.Tensor, vThreshold = 1): tf.Tensor {
    const T = this.config.timeSteps;
    const s = lif(tf.reshape(x, [T, -1]), { tau: this.config.tau, vThreshold, surrogate: this.sg });
    if (this.opts.rates)
      this.opts.rates.set(
        name,
        tf.tidy(() => tf.mean(s).dataSync()[0]),
      );
    return tf.reshape(s, x.shape);
  }
  /** Records the mean of a spike map that feeds a layer but is not a LIF output (a max-pool, a mask product). */
  recordInput(name: string, x: tf.Tensor): void {
    if (this.opts.inputRates)
      this.opts.inputRates.set(
        name,
        tf.tidy(() => tf.mean(x).dataSync()[0]),
      );
  }
}
