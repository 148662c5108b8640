// What the spiking models share: their LIF settings and the per-forward context that runs every LIF layer under
// its official name and records firing rates when asked.
import * as tf from '@tensorflow/tfjs-core';
import { lif } from '../snn/lif.js';
import { must } from '../util/must.js';
import { surrogate, type SurrogateName } from '../snn/surrogate.js';
import type { Preset } from './architecture.js';
import { BNFold, convNorm } from './bn_fold.js';
import { BatchNorm, Conv2d } from './layers.js';
import type { Step } from './last_use.js';
import { convLayer, lifSpikes, type ComputeLayer, type LayerWiring, type SpikeSource } from './layer_graph.js';
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

/** A conv and the batch norm after it, with the norm's eval-mode fold into the conv. */
export interface ConvBNLayers {
  conv: Conv2d;
  bn: BatchNorm;
  fold: BNFold;
}

/** The layers of the spiking patch splitting (SPS) both transformers start with, under their official names. */
export interface SpsLayers {
  /** Four 3x3 convs widening to D/8, D/4, D/2, D, each with its BN and the name of the LIF that may follow. */
  stages: (ConvBNLayers & { lif: string })[];
  /** The relative position embedding: a 3x3 conv and BN at D. */
  rpe: ConvBNLayers;
}

/** The official names of the SPS stages' layers: stage i is proj_conv{s}, proj_bn{s}, proj_lif{s}, s = '', 1, 2, 3. */
const spsName = (layer: 'conv' | 'bn' | 'lif', stage: number) => `patch_embed.proj_${layer}${stage === 0 ? '' : stage}`;
/** The spike map the SPS max-pool after stage i (2 or 3) makes, as the forward pass records it. */
export const spsPoolId = (stage: number) => `patch_embed.maxpool${stage}`;

/**
 * A pooled stage's spikes: the recorded pool when measured, else its LIF's rate (which undercounts: pooling raises it).
 */
export const spsPooled = (stage: number): SpikeSource => ({
  recorded: spsPoolId(stage),
  otherwise: { lif: spsName('lif', stage) },
  estimated: true,
});

/** The SPS's channels: the image's, then after each of its four convs. */
function spsChannels(c: SpikingConfig) {
  const D = c.dim;
  return [c.inChannels, D / 8, D / 4, D / 2, D] as const;
}

export function spsLayers(store: ParamStore, c: SpikingConfig, init: 'torch' | 'trunc_normal'): SpsLayers {
  const D = c.dim;
  const [c0, c1, c2, c3, c4] = spsChannels(c);
  const convs = [
    [c0, c1],
    [c1, c2],
    [c2, c3],
    [c3, c4],
  ] as const;
  const convBN = (conv: Conv2d, bn: BatchNorm): ConvBNLayers => ({
    conv,
    bn,
    fold: new BNFold(store, conv.weight, 'last', bn),
  });
  const stages = convs.map(([cin, cout], i) => ({
    ...convBN(
      new Conv2d(store, spsName('conv', i), cin, cout, 3, 1, 1, init),
      new BatchNorm(store, spsName('bn', i), cout),
    ),
    lif: spsName('lif', i),
  }));
  const rpe = convBN(
    new Conv2d(store, 'patch_embed.rpe_conv', D, D, 3, 1, 1, init),
    new BatchNorm(store, 'patch_embed.rpe_bn', D),
  );
  return { stages, rpe };
}

/**
 * The compute layers of the SPS: four 3x3 convs (the fourth reads the pool after the third), then the rpe conv,
 * fed as `rpe` says (a Spikformer's rpe reads the pooled spikes and feeds its LIF; the SDT's reads proj_lif3).
 */
export function spsGraph(c: SpikingConfig, rpe: LayerWiring): ComputeLayer[] {
  const D = c.dim;
  const S = c.imageSize;
  const ch = spsChannels(c);
  const feeds = (i: number) => spsName('lif', i);
  return [
    convLayer(spsName('conv', 0), S, 3, ch[0], ch[1], { input: 'image', spikes: null, feeds: feeds(0) }),
    convLayer(spsName('conv', 1), S, 3, ch[1], ch[2], { ...lifSpikes(spsName('lif', 0)), feeds: feeds(1) }),
    convLayer(spsName('conv', 2), S, 3, ch[2], ch[3], { ...lifSpikes(spsName('lif', 1)), feeds: feeds(2) }),
    convLayer(spsName('conv', 3), S / 2, 3, ch[3], ch[4], {
      input: spsPoolId(2),
      spikes: spsPooled(2),
      feeds: feeds(3),
    }),
    convLayer('patch_embed.rpe_conv', S / 4, 3, D, D, rpe),
  ];
}

/** A preset of a spiking transformer: the CIFAR settings of the papers at the given size. */
export function spikingPreset<A extends string>(
  arch: A,
  depth: number,
  dim: number,
  heads: number,
  about: string,
): Preset<SpikingConfig & { arch: A }> {
  const config = { arch, dim, depth, heads, timeSteps: 4, classes: 5, imageSize: 32, inChannels: 3, mlpRatio: 4 };
  return { about, config: { ...config, tau: 2, surrogate: 'sigmoid', alpha: 4 } };
}

/** The PyTorch peer's flags for a spiking transformer (bench/peer: models.py build). */
export function spikingPeerArgs(c: SpikingConfig & { arch: string }, title: string): string[] {
  if (c.mlpRatio !== 4 || c.imageSize !== 32) {
    throw new Error(`the PyTorch peer only builds ${title}s with mlpRatio 4 on 32x32 images`);
  }
  return [c.arch, '--dim', `${c.dim}`, '--depth', `${c.depth}`, '--heads', `${c.heads}`, '--T', `${c.timeSteps}`];
}

/** The input repeated over the T time steps, time-major: [B, H, W, C] -> [T*B, H, W, C]. */
export function repeatOverTime(images: tf.Tensor4D, T: number): tf.Tensor4D {
  // T copies one after another (step-major, as tiling [T, B, ...] gives); concat rather than a rank-5 tile, whose
  // gradient tfjs lacks, so an explanation can take the gradient with respect to the image.
  return tf.tidy(() => (T === 1 ? tf.clone(images) : tf.concat(new Array<tf.Tensor4D>(T).fill(images), 0)));
}

/** A conv and its BN as one step: with batch statistics when training, in eval mode as one folded convolution. */
export function convBn({ conv, bn, fold }: ConvBNLayers, ctx: SpikingForward): Step {
  return (x) => convNorm(conv, bn, fold, x as tf.Tensor4D, ctx.training);
}

/** The steps of a conv and its BN, then the LIF after them, for chain(): each map freed once the next has read it. */
export function convBnLif(layers: ConvBNLayers & { lif: string }, ctx: SpikingForward): [Step, Step] {
  return [convBn(layers, ctx), (x) => ctx.lif(layers.lif, x, 1, true)];
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
  /**
   * x is [T*B, ...] or [T, B, ...]; the LIF runs over the leading time axis and returns x's shape. lastUse: x is
   * disposed here, and in eval mode its array may become the spikes (LIFOptions.lastUse).
   */
  lif(name: string, x: tf.Tensor, vThreshold = 1, lastUse = false): tf.Tensor {
    const T = this.config.timeSteps;
    const shape = x.shape;
    const flat = tf.reshape(x, [T, -1]);
    if (lastUse) x.dispose();
    const opts = { tau: this.config.tau, vThreshold, surrogate: this.sg, lastUse };
    const s = lif(flat, opts);
    if (this.opts.rates)
      this.opts.rates.set(
        name,
        tf.tidy(() => must(tf.mean(s).dataSync()[0], 'a mean is one value')),
      );
    return tf.reshape(s, shape);
  }
  /** Records the mean of a spike map that feeds a layer but is not a LIF output (a max-pool, a mask product). */
  recordInput(name: string, x: tf.Tensor): void {
    if (this.opts.inputRates)
      this.opts.inputRates.set(
        name,
        tf.tidy(() => must(tf.mean(x).dataSync()[0], 'a mean is one value')),
      );
  }
}
